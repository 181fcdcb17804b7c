package server

import (
	"net/http"
	"slices"
)

// cors lets the configured origins, and only them, call the API from a
// browser with credentials (cookies). The allowed origin is echoed, never
// "*" (which browsers refuse with credentials anyway) and never "null"
// (which any sandboxed document can send). Vary: Origin is set whenever
// origins are configured, so a cache never serves one origin's answer to
// another. With none configured no answer depends on Origin (and every
// API answer is no-store besides), so the header is left out.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if len(s.cfg.CORSOrigins) > 0 {
			h.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.cfg.CORSOrigins, origin)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			// Retry-After is not a CORS-safelisted response header: without
			// this, a front end on another origin cannot read how long a 429
			// asks it to wait.
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight: answer it here; the browser sends the real
			// request only if the headers below allow it.
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				// DELETE: a front end ends one session with
				// DELETE /api/sessions/{handle}.
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", "Content-Type")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
