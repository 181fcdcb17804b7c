package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
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

// TestCeilingHeadersAreServes: the second ceiling answers with the headers
// and the body serve's logged-in GET /api/user answers with, so that the
// comparison with it leaves out the headers' cost and nothing else.
func TestCeilingHeadersAreServes(t *testing.T) {
	ctx := context.Background()
	_, url := pgtest.Schema(t)
	srv, err := server.New(ctx, server.Config{
		DataDir: t.TempDir(), DatabaseURL: url, Secrets: []string{secret}, AutoMigrate: true,
		BcryptCost: 4, PruneInterval: -1, Logger: slog.New(slog.DiscardHandler), SessionCache: server.DefaultSessionCache,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.DB().AddUser(ctx, email, password, 4); err != nil {
		t.Fatal(err)
	}
	login := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	login.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, login)
	if rec.Code != http.StatusOK || len(rec.Result().Cookies()) == 0 {
		t.Fatalf("log-in: %d %s", rec.Code, rec.Body)
	}
	read := func(h http.Handler) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/user", nil)
		req.AddCookie(rec.Result().Cookies()[0])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	served, ceiling := read(srv), read(ceilingWithHeaders())
	if served.Code != http.StatusOK || !reflect.DeepEqual(served.Header(), ceiling.Header()) {
		t.Errorf("serve answers %d with %v; the ceiling's headers are %v", served.Code, served.Header(), ceiling.Header())
	}
	var u benchUser
	if err := json.Unmarshal(served.Body.Bytes(), &u); err != nil {
		t.Fatal(err)
	}
	u.ID = 1 // the ceiling's, whatever id the user got here
	want, _ := json.Marshal(u)
	if got := ceiling.Body.String(); got != string(want)+"\n" || !strings.HasSuffix(served.Body.String(), "}\n") {
		t.Errorf("the ceiling writes %q, serve %q", got, served.Body)
	}
}
