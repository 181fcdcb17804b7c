package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouterAgreesWithTheMux: the exact-route map sends a request where the
// mux would, with the same Pattern, and leaves everything else to the mux.
func TestRouterAgreesWithTheMux(t *testing.T) {
	rt := newRouter()
	var got string
	for _, p := range []string{"GET /api/user", "POST /api/login", "DELETE /api/sessions/{handle}", "/api/", "GET /{$}"} {
		rt.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = p + " | " + r.Pattern }))
	}
	if len(rt.exact) != 2 {
		t.Fatalf("exact routes %v, want GET /api/user and POST /api/login", rt.exact)
	}
	for key, route := range rt.exact {
		if _, pattern := rt.mux.Handler(httptest.NewRequest(key.method, key.path, nil)); pattern != route.pattern {
			t.Errorf("%v: the mux picks %q, the map %q", key, pattern, route.pattern)
		}
	}
	for _, tc := range []struct {
		method, target, want string
		status               int
	}{
		{"GET", "/api/user", "GET /api/user | GET /api/user", 200},
		{"POST", "/api/login", "POST /api/login | POST /api/login", 200},
		{"HEAD", "/api/user", "GET /api/user | GET /api/user", 200},
		{"DELETE", "/api/sessions/abc", "DELETE /api/sessions/{handle} | DELETE /api/sessions/{handle}", 200},
		{"PUT", "/api/user", "/api/ | /api/", 200},
		{"GET", "/api/%75ser", "GET /api/user | GET /api/user", 200},
		{"GET", "/api//user", "", http.StatusTemporaryRedirect},
	} {
		got = ""
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
		if got != tc.want || w.Code != tc.status {
			t.Errorf("%s %s: served by %q with %d, want %q with %d", tc.method, tc.target, got, w.Code, tc.want, tc.status)
		}
	}
}
