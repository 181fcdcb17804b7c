package storetest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// testDump creates sessions through a Manager (anonymous ones, and ones
// bound to a user, so that a user index holds them too), reads the ids
// their cookies carry, and checks the store's dump for them: absent, their
// hashes present, unless the layout keeps raw ids.
func testDump(t *testing.T, st sessionkit.Store, s Suite) {
	m, err := sessionkit.New(sessionkit.Config{Store: st, Secrets: []string{strings.Repeat("dump-test-secret.", 3)}})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		if err == nil && r.URL.Path == "/login" {
			err = sess.Authenticate("ada")
		}
		if err == nil {
			err = sess.Put("n", r.URL.Path)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	var ids []string
	for _, path := range []string{"/", "/login", "/", "/login"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, nil).WithContext(ctxT(t)))
		if w.Code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, w.Code, w.Body)
		}
		id := cookieID(t, w.Result().Cookies())
		if _, found, err := st.Load(ctxT(t), id); !found || err != nil {
			t.Fatalf("Load of the session POST %s made: found %v, %v", path, found, err)
		}
		ids = append(ids, id)
	}
	dump := s.Dump(t, st)
	for _, id := range ids {
		hasID, hasHash := strings.Contains(dump, id), strings.Contains(dump, sessionkit.HashID(id))
		switch {
		case s.RawIDs && !hasID:
			t.Errorf("a layout that keeps raw ids: the dump lacks session id %.6s…:\n%s", id, dump)
		case !s.RawIDs && (hasID || !hasHash):
			t.Errorf("the dump holds session id %.6s… (%v) or lacks its hash (%v):\n%s", id, hasID, !hasHash, dump)
		}
	}
}

// cookieID returns the session id the one Set-Cookie in cookies carries:
// its value is "s:<id>.<signature>", URL-escaped.
func cookieID(t *testing.T, cookies []*http.Cookie) string {
	t.Helper()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies set, want 1", len(cookies))
	}
	v, err := url.PathUnescape(cookies[0].Value)
	dot := strings.LastIndexByte(v, '.')
	if err != nil || !strings.HasPrefix(v, "s:") || dot < 2 {
		t.Fatalf("cookie value %q is not s:<id>.<signature>", cookies[0].Value)
	}
	return v[2:dot]
}
