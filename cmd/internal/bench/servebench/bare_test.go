package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestRedisFloorReadsTheStoresSession: the Redis floor finds a session as
// redisstore wrote it, under the key the store names for it (hashed ids
// or not, through redisStoredID), and answers /api/user's JSON, so that a
// change of the store's layout fails here rather than as a slow floor.
func TestRedisFloorReadsTheStoresSession(t *testing.T) {
	ctx := context.Background()
	client, prefix := redistest.Client(t)
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	login := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err == nil {
			err = s.Authenticate("7") // as serve's log-in (cmd/internal/server/login.go)
		}
		if err == nil {
			err = s.Put("userId", 7)
		}
		if err == nil {
			err = s.Put("email", email)
		}
		if err != nil {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/api/login", nil))
	res := rec.Result()
	if len(res.Cookies()) != 1 {
		t.Fatalf("log-in set %d cookies", len(res.Cookies()))
	}
	stored, err := redisStoredID(ctx, redistest.URL(), prefix, cookieID(res.Cookies()[0].Value))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		code     int
		body     string
	}{
		{"the logged-in session", stored, http.StatusOK, `{"id":7,"email":"` + email + `"}`},
		{"no such session", "x" + stored, http.StatusUnauthorized, "not authenticated\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/user", nil)
			req.Header.Set("X-Session-Id", tc.id)
			rec := httptest.NewRecorder()
			redisFloor(client, store).ServeHTTP(rec, req)
			if rec.Code != tc.code || rec.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
}
