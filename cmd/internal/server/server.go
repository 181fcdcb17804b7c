// Package server is sessionkit's reference server: the log-in API of the
// express-session question that sessionkit exists to answer, done right and
// built only on sessionkit's public API, so that it doubles as the example to
// copy.
//
// Routes:
//
//	POST /api/login          {"email","password"} → {"ok":true} and the session cookie
//	GET  /api/user           → {"id","email"} or 401
//	POST /api/logout         → {"ok":true}; the row is deleted, the cookie cleared
//	GET  /api/sessions       → the caller's sessions, the current one marked
//	DELETE /api/sessions/{handle}       → ends one (another needs a recent log-in or the password)
//	POST /api/sessions/revoke-others    → ends all but the current one (same condition)
//	POST /api/password       {"current","new"} → changes it, ends the other sessions
//	GET  /api/_debug/session → what the server sees of the session (not in production)
//	GET  /                   → the log-in and account page (with /app.css and /app.js)
//	GET  /healthz            → {"status":"ok"}, or 503 naming the dependency that is down
//	GET  /metrics            → Prometheus text, with the METRICS_TOKEN bearer token
//
// Only /api/ routes pass through the session middleware, so health checks and
// scrapes never touch the session store.
//
// Start one in-process with New and serve it (it is an http.Handler), or with
// Run, which also listens and shuts down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/promcollector"
	"github.com/sessionkit/sessionkit/redisstore"
)

// startTimeout bounds New's database work.
const startTimeout = 30 * time.Second

// Server is a running reference server: an http.Handler with its database and
// session manager. Close it when done.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *admin.DB
	sessions *sessionkit.Manager
	handler  http.Handler
	// The log-in limits' counts (see admitPassword), shared by every
	// instance through PostgreSQL or Redis (loginCount).
	byEmail *loginCount
	byAddr  *loginCount
	// byPair marks, per email and client address, an address that has
	// failed on that email in the window: while the email is over its
	// limit, only such addresses are refused (see handleLogin).
	byPair *loginCount
	// byFresh is, per email, the budget shared by the addresses it never
	// logged in from while it is over its limit; known holds those it did.
	byFresh   *loginCount
	known     *loginCount
	dummyHash []byte
	// bcryptSlots bounds concurrent password checks: each costs tens of
	// milliseconds of CPU, and a flood of them must not starve other requests.
	bcryptSlots chan struct{}
	logins      loginResults
	// userKey is where sessions keep the user id (SESSION_USER_KEY).
	userKey userKey
	// logs throttles every security log line (securityEvent).
	logs *logThrottle
	// unmapped lets a session_unmapped line through once an hour per
	// session (a browser sends the same cookie on every request).
	unmapped *logThrottle
	// sessionEvents counts the library's session events (sessionEvent).
	sessionEvents sessionEventCounts
	// afterPasswordCheck, when set (by tests only), runs between a log-in's
	// password check and its session save: where a removal can race it.
	afterPasswordCheck func()
	// passwordChecked, when set (by tests only), hears of each password
	// check's outcome and bcrypt work.
	passwordChecked func(admin.PasswordCheck)
}

// settingError is a configuration error: its text names the setting, and
// errors.Is matches admin.ErrInvalidConfig, so that serve exits 2 for it.
type settingError struct{ error }

func (e settingError) Is(target error) bool { return target == admin.ErrInvalidConfig }
func (e settingError) Unwrap() error        { return e.error }

// New validates cfg, opens the database (creating the schema when
// cfg.AutoMigrate is set, or on SQLite), and returns a Server ready to serve.
// A configuration the library rejects is returned as the library's error.
// ctx bounds the start-up work only, which also gives up after 30 seconds.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, settingError{err}
	}
	log := cfg.Logger
	for _, w := range productionWarnings(cfg) {
		log.Warn("risky production setting: " + w)
	}
	// A database that does not answer (a black-holed host) must fail the
	// start, not hang it.
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	db, err := admin.Open(ctx, admin.Config{
		DatabaseURL:   cfg.DatabaseURL,
		RedisURL:      cfg.RedisURL,
		RedisPrefix:   cfg.RedisPrefix,
		RedisLayout:   cfg.RedisLayout,
		RedisReplicas: cfg.RedisWaitReplicas,
		RedisTimeout:  cfg.RedisWaitTimeout,
		RedisQuiet:    cfg.RedisNoAnnounce,
		DataDir:       cfg.DataDir,
		SessionTable:  cfg.SessionTable,
		PruneInterval: cfg.PruneInterval,
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	// The development secret is made once the database answered, so that
	// a start that fails leaves no file behind.
	if len(cfg.Secrets) == 0 {
		secret, err := developmentSecret(cfg.DataDir, log)
		if err != nil {
			db.Close()
			return nil, err
		}
		cfg.Secrets = []string{secret}
	}
	uk, _ := parseUserKey(cfg.SessionUserKey) // checked by withDefaults
	s := &Server{cfg: cfg, log: log, db: db, userKey: uk, logs: newLogThrottle(time.Minute), unmapped: newLogThrottle(time.Hour)}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	log.Info("sessionkit server configured", "database", db.String(), "redis", db.RedisString(), "production", cfg.Production,
		"secure_cookies", cfg.Production, "debug_endpoint", cfg.Debug, "cors_origins", len(cfg.CORSOrigins))
	return s, nil
}

// withDefaults returns cfg with every zero field that has a default filled
// in, or an error for a configuration that cannot work. It needs no
// database, so it runs before anything is opened.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.DataDir == "" {
		cfg.DataDir = admin.DefaultDataDir
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = admin.DefaultBcryptCost
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = DefaultLoginWindow
	}
	if cfg.LoginMaxFailures == 0 {
		cfg.LoginMaxFailures = DefaultLoginMaxFailures
	}
	if cfg.LoginMaxFailuresPerAddr == 0 {
		cfg.LoginMaxFailuresPerAddr = DefaultLoginMaxFailuresPerAddr
	}
	if cfg.ReauthWindow == 0 {
		cfg.ReauthWindow = DefaultReauthWindow
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if strings.ContainsAny(cfg.RedisPrefix, "{}") {
		return cfg, fmt.Errorf("REDIS_PREFIX %q must not contain '{' or '}'", cfg.RedisPrefix)
	}
	if _, err := parseUserKey(cfg.SessionUserKey); err != nil {
		return cfg, fmt.Errorf("SESSION_USER_KEY: %w", err)
	}
	if err := checkSessionSettings(cfg); err != nil {
		return cfg, err
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return cfg, fmt.Errorf("BCRYPT_COST %d is outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.LoginMaxFailures < 0 || cfg.LoginMaxFailuresPerAddr < 0 || cfg.LoginWindow < 0 || cfg.ShutdownTimeout < 0 || cfg.ReauthWindow < 0 {
		return cfg, errors.New("LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_ADDR, LOGIN_WINDOW, SHUTDOWN_TIMEOUT and REAUTH_WINDOW cannot be negative")
	}
	// A Config built directly, not by LoadConfig, gets the same checks, and
	// its origins the form browsers send in Origin, or an entry would never
	// match (and the CSRF protection would refuse it).
	origins, err := ParseOrigins(strings.Join(cfg.CORSOrigins, ","))
	if err != nil {
		return cfg, fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	cfg.CORSOrigins = origins
	// The cookie and secret settings the library would refuse stop the
	// start here, before a data directory is made or a database dialled.
	// Without secrets, development generates one at start: check the rest.
	sc := cfg.sessionConfig(nil, cfg.Logger, nil)
	if len(sc.Secrets) == 0 {
		sc.Secrets = []string{strings.Repeat("x", 32)}
	}
	if err := sc.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// sessionConfig is the library's configuration for cfg.
func (cfg Config) sessionConfig(store sessionkit.Store, log *slog.Logger, onEvent func(sessionkit.Event)) sessionkit.Config {
	return sessionkit.Config{
		Store:   store,
		Secrets: cfg.Secrets,
		Cookie: sessionkit.CookieConfig{
			Name:     cfg.CookieName,
			Domain:   cfg.CookieDomain,
			Secure:   cfg.Production,
			SameSite: cfg.SameSite,
		},
		Expiry: sessionkit.ExpiryConfig{Lifetime: cfg.SessionTTL, IdleTimeout: cfg.IdleTimeout},
		Cache:  sessionkit.CacheConfig{Entries: cfg.SessionCache, MaxAge: cfg.SessionCacheMaxAge},
		// Negative is "no limit" here; the library's is zero.
		MaxSessionsPerUser: max(cfg.MaxSessionsPerUser, 0),
		TrustedProxies:     cfg.TrustedProxies,
		DeviceBound:        deviceBoundConfig(cfg),
		Logger:             log,
		OnEvent:            onEvent,
		// The library's warning names its Config field; the server's user
		// changes environment variables.
		OnInsecureCookie: func(r *http.Request, reason string) {
			log.Warn("Secure session cookie (APP_ENV=production) set on a request that is not HTTPS. "+
				"Browsers will not send it back over plain HTTP, so users will seem logged out. "+
				"Serve over HTTPS; behind a TLS-terminating proxy, list its address in TRUSTED_PROXIES "+
				"and have it send X-Forwarded-Proto: https.",
				"reason", reason)
		},
		// A save that failed (the store is down) must not look like a
		// success, nor like a log-out: 503, in the API's JSON shape.
		// The library has already taken back the handler's headers (the
		// log-out's Clear-Site-Data among them).
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusServiceUnavailable, errStoreUnavailable)
		},
	}
}

// init does the start-up work that needs the database open.
func (s *Server) init(ctx context.Context) error {
	cfg := s.cfg
	// The manager comes first: it checks the cookie settings, and a
	// configuration it refuses must stop the start before AutoMigrate runs
	// DDL on a shared PostgreSQL database.
	store := s.db.Sessions()
	if cfg.WrapStore != nil {
		store = cfg.WrapStore(store)
	}
	s.sessionEvents = newSessionEvents()
	sc := cfg.sessionConfig(store, s.log, s.sessionEvent)
	if s.db.RedisLayout() == redisstore.LayoutConnectRedis {
		// express-session cannot load a session without its cookie object.
		sc.ExpressSessionCookie = true
		s.log.Info("sessions are in connect-redis's layout: sharing them with express-session (same Redis, "+
			"REDIS_PREFIX, SESSION_SECRET and COOKIE_NAME on the Node side)",
			"redis", s.db.RedisString())
	} else if l := s.db.SessionLayout(); l.Name == pgstore.LayoutConnectPgSimple && !s.db.UsesRedis() {
		// express-session cannot load a session without its cookie object.
		sc.ExpressSessionCookie = true
		s.log.Info("sessions table is connect-pg-simple's: "+
			"sharing sessions with express-session (same SESSION_SECRET, "+
			"COOKIE_NAME and table on the Node side)",
			"table", s.db.SessionTable(), "columns", l.Columns)
	}
	s.cfg, sc = sharedLifetimes(s.cfg, sc, s.log)
	var err error
	s.sessions, err = sessionkit.New(sc)
	if err != nil {
		return err
	}
	if cfg.AutoMigrate {
		if err := s.db.Migrate(ctx); err != nil {
			return err
		}
	} else if err := s.db.CheckSchema(ctx); err != nil {
		return err
	}

	// The dummy hash is what an unknown email's password is compared with,
	// so that "no such user" takes as long as "wrong password".
	var pw [16]byte
	s.dummyHash, err = bcrypt.GenerateFromPassword(pw[:], cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("bcrypt: %w", err)
	}
	s.bcryptSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	s.loginCounts(ctx)

	reg := prometheus.NewRegistry()
	s.logins = newLoginResults(reg)
	s.sessionEvents.register(reg, s.sessions)
	reg.MustRegister(
		promcollector.New(s.sessions),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	s.handler = s.routes(reg)
	return nil
}

// ServeHTTP serves the reference server's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Manager returns the session manager, e.g. for its Stats.
func (s *Server) Manager() *sessionkit.Manager { return s.sessions }

// DB returns the database the server uses, e.g. to add users in a test. It
// stays owned by the server.
func (s *Server) DB() *admin.DB { return s.db }

// Close stops the session store's background pruning and closes the
// database. Call it after the HTTP server has shut down. It is safe to call
// more than once (admin.DB.Close is), and later calls return the first
// call's result.
func (s *Server) Close() error {
	if s.sessions != nil {
		s.sessions.Close() // the session cache's listener, before its pool closes
	}
	return s.db.Close()
}
