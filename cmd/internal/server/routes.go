package server

import (
	"crypto/subtle"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes builds the handler tree. The session middleware wraps /api/ only.
func (s *Server) routes(reg *prometheus.Registry) http.Handler {
	// Cross-site request forgery: browsers mark cross-origin requests
	// (Sec-Fetch-Site, Origin), and state-changing ones are refused unless
	// they come from an origin we allow for CORS. Without that, a same-site
	// sibling (app.example.com calling api.example.com) would be refused too.
	csrf := http.NewCrossOriginProtection()
	for _, o := range s.cfg.CORSOrigins {
		if err := csrf.AddTrustedOrigin(o); err != nil {
			// New put every origin through ParseOrigins; a mismatch is a
			// bug here.
			panic("server: trusted origin " + o + ": " + err.Error())
		}
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: add its origin to CORS_ORIGINS if it is yours")
	}))

	// Every /api/ route goes through the same chain. noStore is
	// outermost so that every API answer, the CSRF refusal and CORS
	// preflights included, is uncacheable. The chain wraps each route
	// rather than a second mux behind "/api/", so that a request is
	// routed once.
	api := func(h http.HandlerFunc) http.Handler {
		return noStore(s.cors(csrf.Handler(s.sessions.Middleware(h))))
	}
	root := newRouter()
	root.Handle("POST /api/login", api(s.handleLogin))
	root.Handle("GET /api/user", api(s.handleUser))
	root.Handle("POST /api/logout", api(s.handleLogout))
	root.Handle("GET /api/sessions", api(s.handleSessions))
	root.Handle("DELETE /api/sessions/{handle}", api(s.handleEndSession))
	root.Handle("POST /api/sessions/revoke-others", api(s.handleRevokeOthers))
	root.Handle("POST /api/password", api(s.handlePassword))
	if s.cfg.Debug {
		root.Handle("GET /api/_debug/session", api(s.handleDebug))
	} else {
		root.Handle("GET /api/_debug/session", api(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "the debug endpoint is off (APP_ENV=production): set SESSION_DEBUG=1 to turn it on")
		}))
	}
	s.dbscRoutes(root)
	// Every other /api answer is JSON, and so is "no such route" (and a
	// known path with another method, which this pattern also catches).
	root.Handle("/api/", api(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	}))
	// The account page is static: it talks to the API like any client and
	// never touches the session itself.
	root.Handle("GET /{$}", page("index.html", "text/html; charset=utf-8"))
	root.Handle("GET /app.css", page("app.css", "text/css; charset=utf-8"))
	root.Handle("GET /app.js", page("app.js", "text/javascript; charset=utf-8"))
	root.HandleFunc("GET /healthz", s.handleHealth)
	root.Handle("GET /metrics", s.metricsAuth(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})))
	return root
}

// noStore marks every API response uncacheable: they carry a user's data or
// a session cookie, which no shared cache may keep. (The library already
// sets it on every response that sets a session cookie.)
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// metricsAuth serves next only to requests bearing Config.MetricsToken, and
// answers 404 when no token is configured: the figures are for the
// operator's scraper, not for the public the API port faces.
func (s *Server) metricsAuth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.cfg.MetricsToken == "" {
			writeError(w, http.StatusNotFound, "metrics are off: set METRICS_TOKEN and scrape with that bearer token")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeError(w, http.StatusUnauthorized, "metrics need the METRICS_TOKEN bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}
