package server

import (
	"net/http"
	"strings"
)

// router is an http.ServeMux with the exact routes (a method and a path
// without wildcards, such as GET /api/user) also in a map, looked up first:
// the API's hot routes skip the mux's pattern matching, about a microsecond
// of a logged-in read. Everything else, including a path the mux would
// clean or redirect and HEAD for a GET route, goes to the mux, which
// registered every route too and so decides exactly as before.
type router struct {
	mux   *http.ServeMux
	exact map[routeKey]exactRoute
}

type routeKey struct{ method, path string }

type exactRoute struct {
	pattern string
	h       http.Handler
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), exact: map[routeKey]exactRoute{}}
}

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (rt *router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
	method, path, ok := strings.Cut(pattern, " ")
	if ok && method != "" && strings.HasPrefix(path, "/") && !strings.ContainsAny(path, "{}") && !strings.HasSuffix(path, "/") {
		rt.exact[routeKey{method, path}] = exactRoute{pattern, h}
	}
}

// HandleFunc registers f for pattern.
func (rt *router) HandleFunc(pattern string, f http.HandlerFunc) { rt.Handle(pattern, f) }

// ServeHTTP serves an exact route directly, and anything else by the mux.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if route, ok := rt.exact[routeKey{r.Method, r.URL.Path}]; ok && r.URL.RawPath == "" {
		r.Pattern = route.pattern // as the mux sets it
		route.h.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}
