package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// TestUserKeyRead: the user id is read from an integer or a string of one,
// at the top level or one key down, and anything else is no user.
func TestUserKeyRead(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() { store.Close() })
	m, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{"userkey-test-secret-userkey-test-secret-0123"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, c := range []struct {
		key, stored string // stored: the JSON kept under the key's outer name
		id          int64
		found       bool
	}{
		{"userId", `42`, 42, true},
		{"userId", `-7`, -7, true},
		{"userId", `"42"`, 42, true},
		{"userId", `9223372036854775807`, 9223372036854775807, true},
		{"userId", `9223372036854775808`, 0, false},
		{"userId", `4.2`, 0, false},
		{"userId", `1e3`, 0, false},
		{"userId", `true`, 0, false},
		{"userId", `"ada"`, 0, false},
		{"userId", `null`, 0, false},
		{"userId", `0`, 0, true},
		{"userId", `"0"`, 0, true},
		{"userId", `{"user":42}`, 0, false},
		{"passport.user", `{"user":42}`, 42, true},
		{"passport.user", `{"user":"42"}`, 42, true},
		{"passport.user", `{"other":42}`, 0, false},
		{"passport.user", `42`, 0, false},
	} {
		k, err := parseUserKey(c.key)
		if err != nil {
			t.Fatal(err)
		}
		var cookie *http.Cookie
		w := httptest.NewRecorder()
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, _ := sessionkit.From(r)
			if err := sess.Put(k.outer, json.RawMessage(c.stored)); err != nil {
				t.Fatal(err)
			}
		})).ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
		if cookies := w.Result().Cookies(); len(cookies) > 0 {
			cookie = cookies[0]
		} else {
			t.Fatalf("%s=%s: no cookie", c.key, c.stored)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookie)
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, _ := sessionkit.From(r)
			id, found, err := k.read(sess)
			if err != nil || id != c.id || found != c.found {
				t.Errorf("%s=%s: read = %d, %v, %v; want %d, %v", c.key, c.stored, id, found, err, c.id, c.found)
			}
		})).ServeHTTP(httptest.NewRecorder(), r)
	}
}
