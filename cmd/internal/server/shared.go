package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sessionkit/sessionkit"
)

// sharedLifetimes makes the lifetimes of sessions on a store shared with
// express-session (sc.ExpressSessionCookie is set) agree with Node's: a
// session Go creates must live on Node as one Node created would.
//
// express-session with rolling: false (the usual setting, and the seed's)
// sends the cookie once, at log-in, with Max-Age = cookie.maxAge, and never
// again; its store.touch moves the row's expiry, not the browser's cookie.
// A cookie Go issues with an idle deadline (Max-Age = the idle timeout)
// would therefore end 30 minutes after a log-in on Go for a user whom Node
// keeps serving, however active. So on a shared store:
//   - the production default idle timeout is dropped (IdleTimeoutIsDefault):
//     SESSION_TTL, which should equal Node's cookie.maxAge, is then the
//     cookie's Max-Age and the session's cookie.expires;
//   - an idle timeout set on purpose is kept, with a warning naming the
//     Node settings it pairs with (rolling: true and cookie.maxAge equal to
//     it), since with those Node re-sends the cookie on every response.
//
// It returns the adjusted configuration.
func sharedLifetimes(cfg Config, sc sessionkit.Config, log *slog.Logger) (Config, sessionkit.Config) {
	if !sc.ExpressSessionCookie || cfg.IdleTimeout <= 0 {
		return cfg, sc
	}
	if cfg.IdleTimeoutIsDefault {
		log.Info("sessions are shared with express-session: no idle timeout (production's default 30m is dropped), "+
			"so a log-in's cookie lives SESSION_TTL, as Node's cookie.maxAge; set SESSION_IDLE_TIMEOUT only with Node's rolling: true",
			"session_ttl", cfg.SessionTTL.String())
		cfg.IdleTimeout, sc.Expiry.IdleTimeout = 0, 0
		return cfg, sc
	}
	log.Warn(nodeIdleWarning(cfg.IdleTimeout))
	return cfg, sc
}

// nodeIdleWarning is the start-up warning for an idle timeout on a store
// shared with express-session: it names the Node settings that honour it.
func nodeIdleWarning(idle time.Duration) string {
	return fmt.Sprintf("SESSION_IDLE_TIMEOUT=%s on sessions shared with express-session: the cookie Go sets lives %s, and Node re-sends it "+
		"only with rolling: true; set Node's session({rolling: true, cookie: {maxAge: %d}}), "+
		"or unset SESSION_IDLE_TIMEOUT and give SESSION_TTL Node's cookie.maxAge", idle, idle, idle.Milliseconds())
}
