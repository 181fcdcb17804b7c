package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"github.com/sessionkit/sessionkit/redisstore"
)

// Config configures the reference server. LoadConfig fills it from
// environment variables and flags; tests and other programs may build one
// directly. Every field documents its zero value.
type Config struct {
	// Addr is the TCP address Run listens on (ADDR). Zero: "127.0.0.1:8080".
	// A port of 0 picks a free port; Run logs the address it got.
	Addr string
	// DatabaseURL is a PostgreSQL URL (DATABASE_URL). Zero: the embedded
	// SQLite database DataDir/sessionkit.db.
	DatabaseURL string
	// SessionTable names the PostgreSQL sessions table, "name" or
	// "schema.name" (SESSION_TABLE). A table connect-pg-simple made is used
	// as it is, and the sessions then carry express-session's cookie object
	// (sessionkit.Config.ExpressSessionCookie), so an express-session app on
	// the same table, secret and cookie name shares them. Zero: "sessions".
	SessionTable string
	// RedisURL, when set, keeps the sessions in Redis while users stay in
	// the database (REDIS_URL): redis://[user:password@]host:port[/db],
	// rediss:// for TLS, or a Redis Cluster by its seed nodes,
	// redis+cluster://[user:password@]host1:port1,host2:port2 (rediss+cluster://
	// for TLS), or a primary found through its Sentinels,
	// redis+sentinel://[user:password@]s1:26379,s2:26379/<master>[/db]
	// (docs/redis-failover.md). Zero: sessions live in the database.
	RedisURL string
	// RedisPrefix starts every session key in Redis (REDIS_PREFIX), so one
	// Redis can serve several applications. Zero: "sessionkit:", or
	// connect-redis's "sess:" with RedisLayout LayoutConnectRedis; it must
	// not contain '{' or '}'.
	RedisPrefix string
	// RedisLayout is the sessions' layout in Redis (REDIS_LAYOUT: native or
	// connect-redis). LayoutConnectRedis keeps them as connect-redis does and
	// turns on express-session's cookie object, so an express-session app on
	// connect-redis with the same Redis, prefix, SESSION_SECRET and
	// COOKIE_NAME shares them. Zero: LayoutNative.
	RedisLayout redisstore.Layout
	// RedisWaitReplicas, when positive, makes every log-in, log-out,
	// revocation and password change wait until that many replicas have
	// the write (REDIS_WAIT_REPLICAS; redisstore.Config.Replicas), so that
	// a failover cannot undo it; a write they do not acknowledge within
	// RedisWaitTimeout answers 503. Zero: Redis's asynchronous default.
	RedisWaitReplicas int
	// RedisWaitTimeout bounds that wait (REDIS_WAIT_TIMEOUT). Zero: 1 s.
	RedisWaitTimeout time.Duration
	// RedisNoAnnounce stops announcing session changes on Redis
	// (REDIS_ANNOUNCE=off; redisstore.Config.NoAnnounce): for fleets where
	// no instance runs the session cache, it saves a PUBLISH per write,
	// copied to every node of a Cluster. Refused with SessionCache.
	RedisNoAnnounce bool
	// DataDir holds the SQLite database and the generated development secret
	// (DATA_DIR). Zero: "data", relative to the working directory.
	DataDir string
	// Production (APP_ENV=production) makes cookies Secure, requires Secrets
	// and turns the debug endpoint off unless Debug is set. Zero: development.
	Production bool
	// Secrets sign session cookies; the first signs, all verify
	// (SESSION_SECRET, comma-separated). Each must be at least 32 bytes and
	// every instance must hold the same list. Zero: in production New fails
	// with ErrNoSecret; in development a random secret is generated once and
	// kept in DataDir/session-secret.
	Secrets []string
	// CookieName is the session cookie's name (COOKIE_NAME; LoadConfig's
	// default is DefaultProductionCookieName in production without a
	// CookieDomain). Zero: "sessionkit.sid".
	CookieName string
	// CookieDomain is the cookie's Domain (COOKIE_DOMAIN). Zero: host-only.
	CookieDomain string
	// SameSite is the cookie's SameSite (COOKIE_SAMESITE). Zero: Lax.
	SameSite http.SameSite
	// SessionTTL is a session's absolute lifetime (SESSION_TTL). Zero: 7 days.
	SessionTTL time.Duration
	// IdleTimeout ends sessions unused for this long (SESSION_IDLE_TIMEOUT;
	// LoadConfig's default is 30 minutes in production, none otherwise).
	// Zero: no idle timeout.
	IdleTimeout time.Duration
	// IdleTimeoutIsDefault says IdleTimeout is LoadConfig's production
	// default, not a setting. On a store shared with express-session (a
	// connect-pg-simple table, the connect-redis layout) New then drops it:
	// Node with rolling: false never re-sends the cookie, so an idle
	// deadline in the cookie would log out active users (see
	// sharedLifetimes). Zero: IdleTimeout is as set.
	IdleTimeoutIsDefault bool
	// SessionUserKey is the session key holding the logged-in user's id
	// (SESSION_USER_KEY): a key, or key.key for one inside an object. Set it
	// to PassportUserKey ("passport.user") to share sessions with an
	// express-session app that logs in with passport: a log-in here writes
	// {"passport":{"user":id}}, which passport's deserializeUser reads, and
	// a passport log-in is a logged-in user here. Zero: "userId".
	SessionUserKey string
	// TrustedProxies are the reverse proxies whose X-Forwarded-Proto and
	// X-Forwarded-For are believed (TRUSTED_PROXIES). Zero: none.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the exact origins (scheme://host[:port]) allowed to call
	// the API with credentials from a browser (CORS_ORIGINS); they are also
	// trusted by the cross-origin (CSRF) protection. New checks and
	// normalizes them as ParseOrigins does ("*" and "null" are errors).
	// Zero: same-origin only.
	CORSOrigins []string
	// AutoMigrate creates missing tables at start on PostgreSQL
	// (AUTO_MIGRATE). The SQLite file is always given its schema, since the
	// server owns it. Zero: no DDL; New fails if the tables are missing.
	// LoadConfig defaults it to true outside production.
	AutoMigrate bool
	// Debug serves GET /api/_debug/session. Zero: 404. LoadConfig turns it on
	// outside production, and in production only for SESSION_DEBUG=1.
	Debug bool
	// BcryptCost is the cost of the dummy hash compared against for unknown
	// emails, so that they take as long as known ones; set it to the cost
	// `users add` uses (BCRYPT_COST). Zero: 12.
	BcryptCost int
	// LoginWindow is the sliding window for counting failed log-ins
	// (LOGIN_WINDOW). Zero: 15 minutes; negative is an error. On
	// PostgreSQL or Redis the counts are shared by every instance
	// (docs/login-limits.md), so give all of them the same log-in limits.
	LoginWindow time.Duration
	// LoginMaxFailures is how many failed log-ins one email may have in
	// LoginWindow before further attempts get 429 (LOGIN_MAX_FAILURES).
	// Zero: 5; negative is an error.
	LoginMaxFailures int
	// LoginMaxFailuresPerAddr is the same for one client address, IPv6 by
	// /64 (LOGIN_MAX_FAILURES_PER_ADDR). Zero: 20; negative is an error.
	LoginMaxFailuresPerAddr int
	// ReauthWindow is how long after a full log-in a session may end the
	// user's other sessions without sending the password (REAUTH_WINDOW);
	// later, DELETE /api/sessions/{handle} and revoke-others need it (ASVS
	// 7.5.3). Zero: 10 minutes; negative is an error.
	ReauthWindow time.Duration
	// MaxSessionsPerUser is how many live sessions one user may have
	// (MAX_SESSIONS_PER_USER, ASVS 7.1.2); a log-in beyond it ends the
	// user's oldest session. Zero: 10; negative: no limit.
	MaxSessionsPerUser int
	// SessionCache is how many sessions the instance-local session cache
	// holds (SESSION_CACHE: off, on for DefaultSessionCache, or a number):
	// a logged-in read of a cached session makes no database round trip,
	// and changes are announced to every instance (PostgreSQL NOTIFY;
	// Redis PUBLISH/SUBSCRIBE; SQLite in process). Zero: off.
	SessionCache int
	// SessionCacheMaxAge bounds how long a cached session is served without
	// reading the database (SESSION_CACHE_MAX_AGE): the staleness bound
	// should an announcement be lost, or come from a process that sends
	// none (express-session on connect-pg-simple or connect-redis). Zero:
	// one minute.
	SessionCacheMaxAge time.Duration
	// DBSC turns on device-bound sessions (DBSC, --dbsc): browsers that
	// support Device Bound Session Credentials bind their session to a key
	// at log-in, and a copied session cookie stops working within
	// minutes. See docs/dbsc.md. Zero: off.
	DBSC bool
	// PruneInterval is how often expired sessions are deleted in the
	// background (PRUNE_INTERVAL). Zero: one hour; negative: never (run
	// `sessionkit prune` from cron instead).
	PruneInterval time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests on
	// shutdown (SHUTDOWN_TIMEOUT). Zero: 10 seconds; negative is an error.
	ShutdownTimeout time.Duration
	// MetricsToken is the bearer token GET /metrics requires (METRICS_TOKEN):
	// Prometheus sends it with authorization.credentials(_file). The figures
	// (log-in counts, store errors, process details) are not for the public
	// the API port faces. Zero: /metrics answers 404.
	MetricsToken string
	// Logger receives the server's and the library's logs. Zero: discarded.
	Logger *slog.Logger
	// WrapStore, when set, wraps the session store before the manager uses
	// it: a hook for tests (counting calls, injecting faults). Zero: the
	// store is used as is.
	WrapStore func(sessionkit.Store) sessionkit.Store
}

// Defaults.
const (
	DefaultAddr                    = "127.0.0.1:8080"
	DefaultLoginWindow             = 15 * time.Minute
	DefaultLoginMaxFailures        = 5
	DefaultLoginMaxFailuresPerAddr = 20
	DefaultShutdownTimeout         = 10 * time.Second
	DefaultReauthWindow            = 10 * time.Minute
	DefaultMaxSessionsPerUser      = 10
	// DefaultSessionCache is the cache size SESSION_CACHE=on means.
	DefaultSessionCache = 10000
	// SecretFile is the generated development secret's file name in the data
	// directory.
	SecretFile = "session-secret"
)

// ErrNoSecret is returned when production has no SESSION_SECRET.
var ErrNoSecret = errors.New("SESSION_SECRET is not set and APP_ENV=production: refusing to start, " +
	"because every instance would sign cookies with a different secret and reject the others' (random logouts, " +
	"a new session row per request). Set SESSION_SECRET to one random value of at least 32 bytes, " +
	"e.g. from `openssl rand -base64 48`, identical on every instance")

// setting is one configuration knob: a flag and the environment variable
// that gives its default.
type setting struct {
	flag, env, def, usage string
	isBool                bool
}

// settings lists every knob of `sessionkit serve`, in docs/configuration.md's order.
var settings = []setting{
	{flag: "addr", env: "ADDR", def: DefaultAddr, usage: "address to listen on; :8080 for all interfaces, port 0 for any free port"},
	{flag: "database-url", env: "DATABASE_URL", usage: "PostgreSQL URL; empty: the embedded SQLite database in the data directory"},
	{flag: "session-table", env: "SESSION_TABLE", def: admin.SessionsTable, usage: "PostgreSQL sessions table, name or schema.name; a connect-pg-simple table is used as it is, shared with express-session"},
	{flag: "redis-url", env: "REDIS_URL", usage: "keep sessions in Redis: redis://host:6379/0, rediss:// (TLS), " +
		"redis+cluster://host1:6379,host2:6379 (a Redis Cluster) " +
		"or redis+sentinel://s1:26379,s2:26379/mymaster (Sentinel); empty: in the database"},
	{flag: "redis-prefix", env: "REDIS_PREFIX", usage: "prefix of the session keys in Redis; empty: sessionkit:, or sess: in the connect-redis layout"},
	{flag: "redis-layout", env: "REDIS_LAYOUT", def: "native", usage: "native, or connect-redis to share sessions with an express-session app on connect-redis"},
	{flag: "redis-announce", env: "REDIS_ANNOUNCE", def: "on", usage: "announce session changes on Redis for the instances' session caches (PUBLISH); " +
		"off only when no instance runs SESSION_CACHE"},
	{flag: "redis-wait-replicas", env: "REDIS_WAIT_REPLICAS", def: "0", usage: "replicas that must acknowledge each log-in, log-out and revocation before it is answered (WAIT); 0: none"},
	{flag: "redis-wait-timeout", env: "REDIS_WAIT_TIMEOUT", def: "1s", usage: "how long a write waits for REDIS_WAIT_REPLICAS before it answers 503"},
	{flag: "data-dir", env: "DATA_DIR", def: admin.DefaultDataDir, usage: "directory for the SQLite database and the generated development secret"},
	{flag: "app-env", env: "APP_ENV", def: "development", usage: "development or production (Secure cookies, secret required, debug endpoint off)"},
	{flag: "session-secret", env: "SESSION_SECRET", usage: "comma-separated secrets, each >= 32 bytes; the first signs, " +
		"all verify (prefer the environment variable: flags show in ps)"},
	{flag: "cookie-name", env: "COOKIE_NAME", usage: "session cookie name; default sessionkit.sid, __Host-sessionkit.sid in production without COOKIE_DOMAIN"},
	{flag: "cookie-domain", env: "COOKIE_DOMAIN", usage: "cookie Domain, e.g. example.com to share with subdomains; empty: host-only"},
	{flag: "cookie-samesite", env: "COOKIE_SAMESITE", def: "lax", usage: "lax, strict or none (none needs APP_ENV=production, i.e. Secure)"},
	{flag: "session-ttl", env: "SESSION_TTL", def: "7d", usage: "absolute session lifetime: a Go duration (12h, 90m) or days (7d, 1d12h)"},
	{flag: "session-idle-timeout", env: "SESSION_IDLE_TIMEOUT", usage: "end sessions unused for this long; 0: never; default 0, 30m in production"},
	{flag: "session-user-key", env: "SESSION_USER_KEY", def: admin.SessionUserIDKey, usage: "session key holding the user id: userId, or passport.user to share sessions with a passport app"},
	{flag: "trusted-proxies", env: "TRUSTED_PROXIES", usage: "comma-separated CIDRs or IPs of reverse proxies whose X-Forwarded-Proto/-For are believed"},
	{flag: "cors-origins", env: "CORS_ORIGINS", usage: "comma-separated exact origins (https://app.example.com) allowed to call the API with credentials"},
	{flag: "auto-migrate", env: "AUTO_MIGRATE", usage: "create missing tables on PostgreSQL at start; default true, false in production", isBool: true},
	{flag: "session-debug", env: "SESSION_DEBUG", usage: "serve /api/_debug/session; default on, off in production unless 1", isBool: true},
	{flag: "bcrypt-cost", env: "BCRYPT_COST", def: strconv.Itoa(admin.DefaultBcryptCost), usage: "bcrypt cost for password hashes (users add) and the dummy hash"},
	{flag: "login-window", env: "LOGIN_WINDOW", def: "15m", usage: "sliding window for counting failed log-ins"},
	{flag: "login-max-failures", env: "LOGIN_MAX_FAILURES", def: strconv.Itoa(DefaultLoginMaxFailures), usage: "failed log-ins per email per window before 429"},
	{flag: "login-max-failures-per-addr", env: "LOGIN_MAX_FAILURES_PER_ADDR", def: strconv.Itoa(DefaultLoginMaxFailuresPerAddr), usage: "failed log-ins per client address per window before 429"},
	{flag: "reauth-window", env: "REAUTH_WINDOW", def: "10m", usage: "how long after a log-in other sessions may be ended without the password"},
	{flag: "max-sessions-per-user", env: "MAX_SESSIONS_PER_USER", def: strconv.Itoa(DefaultMaxSessionsPerUser), usage: "live sessions per user; a log-in beyond it ends the oldest; 0: no limit"},
	{flag: "session-cache", env: "SESSION_CACHE", def: "off", usage: "instance-local session cache: off, on (10000 sessions) or a number of sessions; " +
		"changes are announced to every instance (PostgreSQL NOTIFY, Redis PUBLISH)"},
	{flag: "session-cache-max-age", env: "SESSION_CACHE_MAX_AGE", def: "1m", usage: "longest a cached session is served without reading the database"},
	{flag: "dbsc", env: "DBSC", def: "off", usage: "device-bound sessions: on to let browsers with DBSC bind their session to a key, " +
		"so a copied cookie stops working; see docs/dbsc.md", isBool: true},
	{flag: "prune-interval", env: "PRUNE_INTERVAL", def: "1h", usage: "how often expired sessions are deleted in the background; off: never"},
	{flag: "shutdown-timeout", env: "SHUTDOWN_TIMEOUT", def: "10s", usage: "how long shutdown waits for in-flight requests"},
	{flag: "metrics-token", env: "METRICS_TOKEN", usage: "bearer token GET /metrics requires; empty: /metrics answers 404 (prefer the environment variable: flags show in ps)"},
	{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
}

// kind names the type of value the setting takes, for the usage.
func (s setting) kind() string {
	switch {
	case strings.HasSuffix(s.flag, "-ttl"), strings.HasSuffix(s.flag, "-timeout"), strings.HasSuffix(s.flag, "-window"),
		strings.HasSuffix(s.flag, "-interval"), strings.HasSuffix(s.flag, "-max-age"):
		return "duration"
	case s.flag == "bcrypt-cost" || strings.HasPrefix(s.flag, "login-max-") || s.flag == "max-sessions-per-user":
		return "int"
	case s.flag == "session-secret" || s.flag == "trusted-proxies" || s.flag == "cors-origins":
		return "list"
	}
	return "string"
}

// stringFlag is a string flag that may also be given bare (--session-debug)
// when it is boolean.
type stringFlag struct {
	v      *string
	isBool bool
}

// String implements flag.Value; the flag package calls it on a zero
// stringFlag to learn the default, hence the nil check.
func (f stringFlag) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}

// Set implements flag.Value: every value is kept as given, to be parsed
// once flags and environment are merged.
func (f stringFlag) Set(s string) error { *f.v = s; return nil }

// IsBoolFlag lets a boolean setting be given bare (--session-debug).
func (f stringFlag) IsBoolFlag() bool { return f.isBool }

// Loaded is what LoadConfig read: the server's Config and the log level the
// caller's logger should use.
type Loaded struct {
	Config
	// LogLevel is the level the caller's logger should use.
	LogLevel slog.Level
}

// LoadConfig reads the server's configuration from the environment (through
// getenv; nil means os.Getenv) and from args, flags overriding the
// environment. Usage goes to output. It returns flag.ErrHelp for -h. A value
// it cannot parse, and production without a secret (ErrNoSecret), are
// errors naming the variable and its flag. Logger and WrapStore are left
// zero.
func LoadConfig(args []string, getenv func(string) string, output io.Writer) (Loaded, error) {
	vals, err := readSettings(args, getenv, output)
	if err != nil {
		return Loaded{}, err
	}
	return parseSettings(vals)
}

// readSettings returns the raw value of every setting, by flag name: the
// flag when args give it, else the environment variable, else the default.
func readSettings(args []string, getenv func(string) string, output io.Writer) (map[string]string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fs := flag.NewFlagSet("sessionkit serve", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: "+
			"sessionkit serve [flags]\n\nEvery flag can also be set by the environment variable in brackets; "+
			"a flag wins over the variable.\n\n")
		for _, s := range settings {
			fmt.Fprintf(fs.Output(), "  --%s", s.flag)
			if !s.isBool {
				fmt.Fprintf(fs.Output(), " %s", s.kind())
			}
			fmt.Fprintf(fs.Output(), "\n    \t%s [%s]", s.usage, s.env)
			if s.def != "" {
				fmt.Fprintf(fs.Output(), " (default %s)", s.def)
			}
			fmt.Fprintln(fs.Output())
		}
	}
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		v := s.def
		vals[s.flag] = &v
		fs.Var(stringFlag{v: &v, isBool: s.isBool}, s.flag, s.usage+" ["+s.env+"]")
	}
	// A bad flag's error is returned, and printed by the caller; -h's usage
	// goes to output.
	if err := cli.Parse(fs, args, output, io.Discard); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q (settings are flags such as --addr, or environment variables)", fs.Arg(0))
	}
	// The environment fills in what the flags did not set.
	vars := make(map[string]string, len(settings))
	for _, s := range settings {
		vars[s.flag] = s.env
	}
	if err := cli.FromEnv(fs, getenv, vars); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(settings))
	for _, s := range settings {
		out[s.flag] = *vals[s.flag]
	}
	return out, nil
}

// badSetting is the error for a value that setting flag cannot take,
// naming its variable and its flag.
func badSetting(flag string, format string, a ...any) error {
	for _, s := range settings {
		if s.flag == flag {
			return fmt.Errorf("%s (--%s): %s", s.env, s.flag, fmt.Sprintf(format, a...))
		}
	}
	return fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, a...))
}

// parseSettings turns the raw values of readSettings into a Loaded.
func parseSettings(vals map[string]string) (Loaded, error) {
	get := func(name string) string { return strings.TrimSpace(vals[name]) }

	var l Loaded
	c := &l.Config
	c.Addr = get("addr")
	c.MetricsToken = get("metrics-token")
	c.DatabaseURL = get("database-url")
	c.RedisURL = get("redis-url")
	c.RedisPrefix = get("redis-prefix")
	switch layout := get("redis-layout"); layout {
	case "", "native":
	case "connect-redis":
		c.RedisLayout = redisstore.LayoutConnectRedis
	default:
		return l, badSetting("redis-layout", "%q is neither native nor connect-redis", layout)
	}
	if n, err := strconv.Atoi(get("redis-wait-replicas")); err != nil || n < 0 {
		return l, badSetting("redis-wait-replicas", "%q is not a whole number (0: do not wait)", get("redis-wait-replicas"))
	} else {
		c.RedisWaitReplicas = n
	}
	if d, err := ParseDuration(get("redis-wait-timeout")); err != nil || d <= 0 {
		return l, badSetting("redis-wait-timeout", "%q is not a positive duration", get("redis-wait-timeout"))
	} else {
		c.RedisWaitTimeout = d
	}
	c.DataDir = get("data-dir")
	c.SessionUserKey = get("session-user-key")
	if _, err := parseUserKey(c.SessionUserKey); err != nil {
		return l, badSetting("session-user-key", "%v", err)
	}
	c.SessionTable = get("session-table")
	if _, _, err := admin.ParseTable(c.SessionTable); err != nil {
		return l, badSetting("session-table", "%q is not name or schema.name made of letters, digits and _", c.SessionTable)
	}
	switch env := strings.ToLower(get("app-env")); env {
	case "production":
		c.Production = true
	case "development", "":
	default:
		// A typo must not quietly leave Secure cookies off.
		return l, badSetting("app-env", "%q is neither production nor development", env)
	}
	c.Secrets = splitList(vals["session-secret"])
	c.CookieName = get("cookie-name")
	c.CookieDomain = get("cookie-domain")
	if c.CookieName == "" {
		// In production the default is a __Host- name, which no other host
		// of the site can set, so no sibling subdomain can plant a
		// same-name cookie; it cannot carry a Domain.
		c.CookieName = sessionkit.DefaultCookieName
		if c.Production && c.CookieDomain == "" {
			c.CookieName = DefaultProductionCookieName
		}
	}
	switch v := strings.ToLower(get("cookie-samesite")); v {
	case "lax", "":
		c.SameSite = http.SameSiteLaxMode
	case "strict":
		c.SameSite = http.SameSiteStrictMode
	case "none":
		c.SameSite = http.SameSiteNoneMode
	default:
		return l, badSetting("cookie-samesite", "%q is not lax, strict or none", v)
	}
	if get("session-idle-timeout") == "" {
		vals["session-idle-timeout"] = "0"
		if c.Production {
			vals["session-idle-timeout"] = DefaultProductionIdleTimeout.String()
			c.IdleTimeoutIsDefault = true
		}
	}
	var err error
	// Slices, not maps, so that of two bad values the first in
	// docs/configuration.md's order is the one reported, every time.
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"session-ttl", &c.SessionTTL}, {"session-idle-timeout", &c.IdleTimeout},
		{"login-window", &c.LoginWindow}, {"shutdown-timeout", &c.ShutdownTimeout},
		{"reauth-window", &c.ReauthWindow}, {"session-cache-max-age", &c.SessionCacheMaxAge},
	} {
		if *d.dst, err = ParseDuration(get(d.name)); err != nil || *d.dst < 0 {
			return l, badSetting(d.name, "%q is not a duration: use Go syntax (90m, 12h) or whole days (7d, 1d12h)", get(d.name))
		}
	}
	switch v := strings.ToLower(get("session-cache")); v {
	case "off", "0", "false":
		c.SessionCache = 0
	case "on", "true":
		c.SessionCache = DefaultSessionCache
	default:
		if c.SessionCache, err = strconv.Atoi(v); err != nil || c.SessionCache < 1 {
			return l, badSetting("session-cache", "%q is not on, off or a number of sessions", v)
		}
	}
	switch v := strings.ToLower(get("redis-announce")); v {
	case "on", "true", "1":
	case "off", "false", "0":
		if c.SessionCache > 0 {
			return l, badSetting("redis-announce", "off with SESSION_CACHE on: this instance's cache would not hear the other instances' changes, "+
				"and theirs would not hear its own")
		}
		c.RedisNoAnnounce = true
	default:
		return l, badSetting("redis-announce", "%q is neither on nor off", v)
	}
	if c.DBSC, err = parseDBSC(get("dbsc")); err != nil {
		return l, badSetting("dbsc", "%v", err)
	}
	switch v := strings.ToLower(get("prune-interval")); v {
	case "off", "never", "-1":
		c.PruneInterval = -1
	default:
		if c.PruneInterval, err = ParseDuration(v); err != nil || c.PruneInterval <= 0 {
			return l, badSetting("prune-interval", "%q is not a positive duration or off", v)
		}
	}
	if c.TrustedProxies, err = ParseTrustedProxies(get("trusted-proxies")); err != nil {
		return l, badSetting("trusted-proxies", "%v", err)
	}
	if c.CORSOrigins, err = ParseOrigins(get("cors-origins")); err != nil {
		return l, badSetting("cors-origins", "%v", err)
	}
	c.AutoMigrate = !c.Production
	if v := get("auto-migrate"); v != "" {
		if c.AutoMigrate, err = strconv.ParseBool(v); err != nil {
			return l, badSetting("auto-migrate", "%q is not true or false", v)
		}
	}
	c.Debug = !c.Production
	if v := get("session-debug"); v != "" {
		if c.Debug, err = strconv.ParseBool(v); err != nil {
			return l, badSetting("session-debug", "%q is not 1 or 0", v)
		}
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{
		{"bcrypt-cost", &c.BcryptCost}, {"login-max-failures", &c.LoginMaxFailures},
		{"login-max-failures-per-addr", &c.LoginMaxFailuresPerAddr},
	} {
		if *n.dst, err = strconv.Atoi(get(n.name)); err != nil || *n.dst < 1 {
			return l, badSetting(n.name, "%q is not a positive whole number", get(n.name))
		}
	}
	switch c.MaxSessionsPerUser, err = strconv.Atoi(get("max-sessions-per-user")); {
	case err != nil || c.MaxSessionsPerUser < 0:
		return l, badSetting("max-sessions-per-user", "%q is not a whole number (0: no limit)", get("max-sessions-per-user"))
	case c.MaxSessionsPerUser == 0:
		c.MaxSessionsPerUser = -1 // the Config's "no limit"
	}
	if err := l.LogLevel.UnmarshalText([]byte(get("log-level"))); err != nil {
		return l, badSetting("log-level", "%q is not debug, info, warn or error", get("log-level"))
	}
	if err := checkSessionSettings(*c); err != nil {
		return l, err
	}
	return l, nil
}

// splitList splits a comma-separated list, dropping empty items and spaces.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

var daysRE = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseDuration parses a Go duration ("90m", "12h"), whole days with an
// optional Go-duration rest ("7d", "1d12h"), or "0".
func ParseDuration(s string) (time.Duration, error) {
	if m := daysRE.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100*365 {
			return 0, fmt.Errorf("bad day count in %q", s)
		}
		d := time.Duration(days) * 24 * time.Hour
		if m[2] != "" {
			rest, err := time.ParseDuration(m[2])
			if err != nil {
				return 0, err
			}
			d += rest
		}
		return d, nil
	}
	return time.ParseDuration(s)
}

// ParseTrustedProxies parses comma-separated CIDRs ("10.0.0.0/8") and bare
// addresses ("10.1.2.3", a single-host prefix).
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range splitList(s) {
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseOrigins parses comma-separated origins, each scheme://host[:port]
// with scheme http or https, into the form browsers send in Origin
// (lower-case, no trailing slash, no default port: a browser never sends
// https://app.example.com:443, so such an entry would never match). "*" and
// "null" are refused: credentials must never be offered to any origin, nor
// to sandboxed documents.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for _, item := range splitList(s) {
		if item == "*" || strings.EqualFold(item, "null") {
			return nil, fmt.Errorf("%q is not allowed: list exact origins such as https://app.example.com", item)
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin: use scheme://host[:port], e.g. https://app.example.com", item)
		}
		host := u.Host
		if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
			host = strings.TrimSuffix(host, ":"+p)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+host))
	}
	return out, nil
}

// checkSessionSettings refuses, in the words of the settings serve reads,
// what the library would refuse in its own (Config.Cookie.Secure, Config.Secrets):
// production without a secret, a short secret, cookie attributes that need
// Secure outside production, a malformed cookie name or domain; and the
// production settings checkProduction refuses.
func checkSessionSettings(c Config) error {
	if c.Production && len(c.Secrets) == 0 {
		return ErrNoSecret
	}
	for i, s := range c.Secrets {
		if len(s) < sessionkit.MinSecretLength {
			return badSetting("session-secret", "secret %d of %d is %d bytes: each needs at least %d random bytes, e.g. from `openssl rand -base64 48`",
				i+1, len(c.Secrets), len(s), sessionkit.MinSecretLength)
		}
	}
	// The library refuses these too, in its own words (Config.Cookie.Secure);
	// serve makes cookies Secure only in production.
	if c.SameSite == http.SameSiteNoneMode && !c.Production {
		return badSetting("cookie-samesite", "none needs Secure cookies, "+
			"which sessionkit serve sets only with APP_ENV=production (served over HTTPS; "+
			"behind a TLS-terminating proxy, also TRUSTED_PROXIES): use lax outside production")
	}
	if err := (&http.Cookie{Name: c.CookieName, Value: "v"}).Valid(); c.CookieName != "" && err != nil {
		return badSetting("cookie-name", "%q is not a valid cookie name: use letters, digits and !#$%%&'*+-.^_`|~", c.CookieName)
	}
	if c.CookieDomain != "" {
		if err := (&http.Cookie{Name: "n", Value: "v", Domain: c.CookieDomain}).Valid(); err != nil {
			return badSetting("cookie-domain", "%q is not a host name: give a bare domain such as example.com", c.CookieDomain)
		}
	}
	if (strings.HasPrefix(c.CookieName, "__Host-") || strings.HasPrefix(c.CookieName, "__Secure-")) && !c.Production {
		return badSetting("cookie-name", "%q needs Secure cookies, which sessionkit serve sets only with APP_ENV=production: drop the prefix outside production", c.CookieName)
	}
	return checkProduction(c)
}
