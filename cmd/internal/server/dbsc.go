package server

import (
	"fmt"
	"strings"

	"github.com/sessionkit/sessionkit"
)

// Device-bound sessions (DBSC=on): the library does the protocol; serve
// mounts its two endpoints outside /api/, since the browser, not the page,
// calls them: no CORS, no CSRF check (a cross-site request cannot send
// their Sec-Secure-Session-Id header), and no session middleware, as the
// handlers read the session cookie themselves.

// dbscPaths are where serve mounts the DBSC endpoints.
const (
	dbscRegisterPath = "/dbsc/register"
	dbscRefreshPath  = "/dbsc/refresh"
)

// parseDBSC reads the DBSC setting: on or off (a bare --dbsc is on).
func parseDBSC(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on nor off", v)
}

// deviceBoundConfig is the library's setting for cfg: nil when DBSC is off.
func deviceBoundConfig(cfg Config) *sessionkit.DeviceBoundConfig {
	if !cfg.DBSC {
		return nil
	}
	return &sessionkit.DeviceBoundConfig{RegistrationPath: dbscRegisterPath, RefreshPath: dbscRefreshPath}
}

// dbscRoutes mounts the DBSC endpoints when DBSC is on.
func (s *Server) dbscRoutes(root *router) {
	if !s.cfg.DBSC {
		return
	}
	root.Handle("POST "+dbscRegisterPath, noStore(s.sessions.DeviceBoundRegistration()))
	root.Handle("POST "+dbscRefreshPath, noStore(s.sessions.DeviceBoundRefresh()))
}
