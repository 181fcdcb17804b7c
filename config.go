package sessionkit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Config configures a Manager. The zero value of every field but Store and
// Secrets is a sensible default; New fills the defaults in and rejects a
// configuration that browsers or the store could not work with.
type Config struct {
	// Store keeps the sessions. Required.
	Store Store

	// Secrets sign and verify session cookies. The first signs; every one
	// verifies, so a secret can be rotated without logging anyone out: roll
	// out [old, new] (every instance now accepts new), then [new, old] (new
	// signs), then, once Expiry.Lifetime (or the longest Session.SetLifetime your
	// application gives) has passed, [new]. Going straight from
	// [old] to [new, old] also works, but while the roll is under way a
	// cookie issued by an upgraded instance is refused by one still on
	// [old]. Cookies are re-signed only when issued (log-in, or a touch), so
	// dropping old logs out sessions that have had neither since. Each secret
	// must be at least 32 bytes, and every instance sharing the store must
	// hold the same list. Required.
	Secrets []string

	// Cookie configures the session cookie. Its zero value is a host-only,
	// HttpOnly, SameSite=Lax cookie named DefaultCookieName on Path "/",
	// persistent, and not Secure (so that http://localhost works): turn
	// Secure on in production.
	Cookie CookieConfig

	// Expiry says when sessions end. Its zero value is an absolute lifetime
	// of DefaultLifetime (7 days) and no idle timeout.
	Expiry ExpiryConfig

	// ExpressSessionCookie, when true, makes the sessions this manager
	// creates or re-issues readable by express-session (Node), for an
	// application that shares its store with one: every session it creates,
	// and every one whose cookie it re-issues (an IdleTimeout touch), gets the
	// "cookie" key (ExpressCookieKey) express-session writes and needs to
	// load a session: {"originalMaxAge", "expires" (ISO 8601, UTC,
	// milliseconds), "httpOnly", "path", and "domain", "secure", "sameSite",
	// "partitioned" when set}, matching the Set-Cookie sent and the stored
	// expiry (both cut to the millisecond). originalMaxAge and expires are
	// null for a Cookie.BrowserSession. Keys the manager did not write,
	// including a "cookie" key written by Node, are never dropped or
	// rewritten by other saves. Zero: no "cookie" key, as sessionkit itself
	// does not need one. `sessionkit serve` turns it on when its sessions
	// table is a connect-pg-simple one.
	ExpressSessionCookie bool

	// MaxSessionsPerUser, when positive, limits how many live sessions one
	// user may have: the save of a Session.Authenticate ends the user's
	// oldest sessions (by creation) beyond the limit, so a log-in never
	// fails for it, the sessions a user is least likely to be using go
	// first, and concurrent log-ins cannot pass it. It needs
	// a store implementing UserIndex (New refuses it otherwise). Zero: no
	// limit.
	MaxSessionsPerUser int

	// Cache configures the instance-local session cache. Its zero value is
	// no cache: every read is one store round trip.
	Cache CacheConfig

	// DeviceBound, when not nil, turns on Device Bound Session Credentials
	// (the W3C draft; see DeviceBoundConfig and docs/dbsc.md): a log-in
	// (Session.Authenticate) offers the browser to bind the session to a key
	// it keeps, and once it has, every request of the session needs a
	// short-lived bound cookie that only that key can renew, so a copied
	// session cookie stops working. Mount Manager.DeviceBoundRegistration
	// and Manager.DeviceBoundRefresh at its paths. Browsers without DBSC
	// keep working as before. It cannot be combined with Partitioned. Zero:
	// off.
	DeviceBound *DeviceBoundConfig

	// TrustedProxies lists the addresses of reverse proxies whose
	// X-Forwarded-Proto and X-Forwarded-For headers are believed. A request
	// counts as HTTPS when it arrived over TLS, or when its immediate peer is
	// in this list and says "https" (TrustedProxies.HTTPSVerdict); the
	// client address a log-in records and events carry is read by the same
	// rule (TrustedProxies.ClientAddr). Zero: no proxy is trusted and the
	// headers are ignored.
	TrustedProxies TrustedProxies

	// Logger receives warnings (unknown signatures, Secure cookies over plain
	// HTTP, changes made after the response started) and the signing secret's
	// fingerprint at start. Zero: slog.Default().
	Logger *slog.Logger

	// OnInsecureCookie is called, once per Manager, the first time a Secure
	// cookie is set on a request that did not arrive over HTTPS, with the
	// reason the request did not count as HTTPS ([TrustedProxies.HTTPSVerdict]). It
	// is the commonest reason a log-in does not stick: browsers do not send
	// the cookie back over plain HTTP. Zero: a warning on Logger that
	// names TrustedProxies; a program with its own settings (an environment
	// variable) says it in its own words here.
	OnInsecureCookie func(r *http.Request, reason string)

	// OnEvent, when set, receives every session event (see Event and
	// EventKind: created, authenticated, refreshed, rotated, ended, cookie
	// rejected), for an audit stream. It is called on a goroutine of the
	// Manager's, one event at a time in order, never on the request's: a
	// slow hook cannot delay a request. When EventQueue events are waiting,
	// new ones are dropped and counted in Stats.EventsDropped. With OnEvent
	// set, the library leaves rejected cookies and same-name conflicts to
	// the hook and does not log them itself. Manager.Close delivers what is
	// queued and stops it. Zero: no events.
	OnEvent func(Event)
	// EventQueue is how many events may wait for OnEvent. Zero means
	// DefaultEventQueue (1024). Unused without OnEvent.
	EventQueue int

	// ErrorHandler writes the response when the session cannot be saved (the
	// store failed). Zero: 503 Service Unavailable with a short text body.
	// It is never called after the response has started, and it sees the
	// response headers as they were before the handler ran: what the handler
	// set was meant for a success.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// CookieConfig configures the session cookie (Config.Cookie). The zero
// value of every field is a working default, said on the field.
type CookieConfig struct {
	// Name is the session cookie's name. Zero: DefaultCookieName
	// ("sessionkit.sid"). A "__Host-" name requires Secure, Path "/" and no
	// Domain; a "__Secure-" name requires Secure.
	Name string
	// Path is the cookie's Path. Zero: "/".
	Path string
	// Domain is the cookie's Domain. Zero: a host-only cookie, sent only to
	// the host that set it. Set it (e.g. "example.com") to share the
	// session with subdomains.
	Domain string
	// Secure marks the cookie Secure, so browsers send it only over HTTPS.
	// Zero: off, which keeps http://localhost working; turn it on in
	// production. Behind a TLS-terminating proxy, also set
	// Config.TrustedProxies.
	Secure bool
	// AllowScriptAccess, when true, omits HttpOnly so page scripts can read
	// the cookie. Zero: HttpOnly is set, which is what you want.
	AllowScriptAccess bool
	// SameSite is the cookie's SameSite attribute. Zero:
	// http.SameSiteLaxMode. http.SameSiteNoneMode (for a front end on
	// another site) requires Secure.
	SameSite http.SameSite
	// Partitioned adds the Partitioned attribute (CHIPS), which keys the
	// cookie to the top-level site it was set under, for a session used in
	// a third-party context (an embedded iframe). It requires Secure, and
	// cannot be combined with Config.DeviceBound. Zero: not partitioned.
	Partitioned bool
	// BrowserSession, when true, sets a cookie without Max-Age or Expires,
	// which the browser drops when it closes. Zero: a persistent cookie
	// whose Max-Age (and Expires, for old clients) matches the session's
	// expiry.
	BrowserSession bool
}

// ExpiryConfig says when sessions end (Config.Expiry).
type ExpiryConfig struct {
	// Lifetime is the absolute lifetime of a session, counted from its
	// creation; no activity extends it. Session.SetLifetime replaces it for
	// one session ("remember me"). Zero: DefaultLifetime (7 days). At most
	// MaxLifetime (400 days, what browsers keep a cookie) unless
	// CookieConfig.BrowserSession.
	Lifetime time.Duration
	// IdleTimeout, when positive, also ends a session that has not been used
	// for this long. Zero: no idle timeout.
	IdleTimeout time.Duration
	// TouchInterval is how stale the stored expiry of an idle-timeout
	// session may grow before a read refreshes it: a session in use is
	// written at most once per TouchInterval, never on every request. Zero:
	// a tenth of IdleTimeout, at most one minute. Unused without
	// IdleTimeout.
	TouchInterval time.Duration
}

// CacheConfig configures the instance-local session cache (Config.Cache).
type CacheConfig struct {
	// Entries, when positive, turns on the cache: a least-recently-used set
	// of at most this many loaded sessions, so that a read of a cached
	// session makes no store call. It needs a store implementing ChangeFeed
	// (pgstore, redisstore, sqlitestore, memstore; New refuses it
	// otherwise), which tells every instance of every change, so that a
	// log-out on one instance is refused by the others once the
	// notification arrives; while the feed is down the cache is bypassed.
	// Each entry costs the session's stored JSON plus about 600 bytes. Call
	// Manager.Close to stop the feed. Zero: no cache, every read is one
	// store round trip.
	Entries int
	// MaxAge is the longest a cached session is served without reading the
	// store: the bound on staleness should a change notification ever be
	// lost. A cached session is never served past its expiry either. Zero:
	// DefaultCacheMaxAge (one minute). Unused without Entries.
	MaxAge time.Duration
}

// Defaults.
const (
	DefaultCookieName = "sessionkit.sid"
	DefaultLifetime   = 7 * 24 * time.Hour
	// MinSecretLength is the fewest bytes a secret in Config.Secrets may
	// have.
	MinSecretLength  = 32
	maxTouchInterval = time.Minute
	// DefaultCacheMaxAge is Cache.MaxAge's default.
	DefaultCacheMaxAge = time.Minute
)

// Validate reports what New would refuse in cfg, apart from a missing Store,
// so that a program can check its cookie and secret settings before it
// opens the database its store needs.
func (cfg Config) Validate() error {
	_, err := cfg.withDefaults()
	return err
}

// ErrInvalidConfig is wrapped by every error New and Validate return for a
// Config that cannot work, so that a program can tell a configuration
// mistake (exit status 2, fix the settings) from a failure at run time.
var ErrInvalidConfig = errors.New("sessionkit: invalid configuration")

// configError is a configuration error: its message is its own, and
// errors.Is matches it against ErrInvalidConfig.
type configError struct{ error }

func (e configError) Is(target error) bool { return target == ErrInvalidConfig }
func (e configError) Unwrap() error        { return e.error }

// errNoStore is New's answer to a Config without a Store.
var errNoStore = errors.New("sessionkit: Config.Store is nil. Pass a store such as pgstore, sqlitestore or memstore")

// errNoSecrets is the answer to a Config without Secrets.
var errNoSecrets = errors.New("sessionkit: Config.Secrets is empty. " +
	"Set at least one secret of 32 bytes or more (e.g. from `openssl rand -base64 48`), identical on every instance")

// withDefaults returns cfg with every zero field that has a default filled in,
// or an error naming the fix for a configuration that cannot work. It does
// not look at Store.
func (cfg Config) withDefaults() (Config, error) {
	cfg, err := cfg.checked()
	if err != nil {
		return cfg, configError{err}
	}
	return cfg, nil
}

// checked is withDefaults before its errors are marked as configuration
// errors.
func (cfg Config) checked() (Config, error) {
	if len(cfg.Secrets) == 0 {
		return cfg, errNoSecrets
	}
	for i, s := range cfg.Secrets {
		if len(s) < MinSecretLength {
			return cfg, fmt.Errorf("sessionkit: Config.Secrets[%d] is %d bytes. "+
				"Use at least %d random bytes (e.g. `openssl rand -base64 48`)", i, len(s), MinSecretLength)
		}
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = DefaultCookieName
	}
	if !validCookieName(cfg.Cookie.Name) {
		return cfg, fmt.Errorf("sessionkit: Config.Cookie.Name %q is not a valid cookie name. "+
			"Use letters, digits and !#$%%&'*+-.^_`|~", cfg.Cookie.Name)
	}
	if cfg.Cookie.Path == "" {
		cfg.Cookie.Path = "/"
	}
	if !strings.HasPrefix(cfg.Cookie.Path, "/") || strings.ContainsAny(cfg.Cookie.Path, ";\r\n") {
		return cfg, fmt.Errorf("sessionkit: Config.Cookie.Path %q must start with / and hold no ';'", cfg.Cookie.Path)
	}
	if strings.ContainsAny(cfg.Cookie.Domain, " ;,:/\r\n") {
		return cfg, fmt.Errorf("sessionkit: Config.Cookie.Domain %q is not a host name. "+
			"Give a bare domain such as example.com", cfg.Cookie.Domain)
	}
	if cfg.Cookie.SameSite == 0 || cfg.Cookie.SameSite == http.SameSiteDefaultMode {
		cfg.Cookie.SameSite = http.SameSiteLaxMode
	}
	if cfg.Cookie.SameSite == http.SameSiteNoneMode && !cfg.Cookie.Secure {
		return cfg, errors.New("sessionkit: Config.Cookie has SameSite=None without Secure. " +
			"Browsers reject such a cookie, so every request would arrive without a session. " +
			"Set Secure (and serve over HTTPS, with TrustedProxies behind a proxy) or use SameSite Lax")
	}
	if cfg.Cookie.Partitioned && !cfg.Cookie.Secure {
		return cfg, errors.New("sessionkit: Config.Cookie has Partitioned without Secure. Browsers reject such a cookie; set Secure")
	}
	switch {
	case strings.HasPrefix(cfg.Cookie.Name, "__Host-"):
		if !cfg.Cookie.Secure || cfg.Cookie.Domain != "" || cfg.Cookie.Path != "/" {
			return cfg, fmt.Errorf("sessionkit: a __Host- cookie must be Secure, have Path / and no Domain, or browsers reject it. "+
				"Config.Cookie has Secure=%v, Path=%q, Domain=%q", cfg.Cookie.Secure, cfg.Cookie.Path, cfg.Cookie.Domain)
		}
	case strings.HasPrefix(cfg.Cookie.Name, "__Secure-"):
		if !cfg.Cookie.Secure {
			return cfg, errors.New("sessionkit: a __Secure- cookie must be Secure, or browsers reject it. " +
				"Set Config.Cookie.Secure or rename the cookie")
		}
	}
	if cfg.Expiry.Lifetime < 0 || cfg.Expiry.IdleTimeout < 0 || cfg.Expiry.TouchInterval < 0 {
		return cfg, errors.New("sessionkit: Config.Expiry's Lifetime, IdleTimeout and TouchInterval cannot be negative")
	}
	if cfg.Expiry.Lifetime == 0 {
		cfg.Expiry.Lifetime = DefaultLifetime
	}
	if cfg.Expiry.Lifetime > MaxLifetime && !cfg.Cookie.BrowserSession {
		// The cookie would end at 400 days while the row lived on: a
		// log-out nobody asked for, after the promise of a longer session.
		return cfg, fmt.Errorf("sessionkit: Config.Expiry.Lifetime %v is longer than the 400 days browsers keep a cookie (MaxLifetime). "+
			"Use at most MaxLifetime, or Config.Cookie.BrowserSession", cfg.Expiry.Lifetime)
	}
	if cfg.Expiry.IdleTimeout > 0 {
		if cfg.Expiry.TouchInterval == 0 {
			cfg.Expiry.TouchInterval = min(cfg.Expiry.IdleTimeout/10, maxTouchInterval)
		}
		if cfg.Expiry.TouchInterval >= cfg.Expiry.IdleTimeout {
			return cfg, fmt.Errorf("sessionkit: Config.Expiry.TouchInterval (%s) must be shorter than IdleTimeout (%s), "+
				"or active sessions would time out", cfg.Expiry.TouchInterval, cfg.Expiry.IdleTimeout)
		}
	}
	if cfg.Cache.Entries < 0 || cfg.Cache.MaxAge < 0 {
		return cfg, errors.New("sessionkit: Config.Cache's Entries and MaxAge cannot be negative")
	}
	if cfg.Cache.MaxAge == 0 {
		cfg.Cache.MaxAge = DefaultCacheMaxAge
	}
	if cfg.EventQueue < 0 {
		return cfg, fmt.Errorf("sessionkit: Config.EventQueue is %d: use a positive size, or 0 for the default", cfg.EventQueue)
	}
	if cfg.EventQueue == 0 {
		cfg.EventQueue = DefaultEventQueue
	}
	if cfg.MaxSessionsPerUser < 0 {
		return cfg, fmt.Errorf("sessionkit: Config.MaxSessionsPerUser is %d: use a positive limit, or 0 for none", cfg.MaxSessionsPerUser)
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return cfg, errors.New("sessionkit: Config.TrustedProxies holds an invalid prefix: build them with netip.ParsePrefix")
		}
	}
	if err := cfg.checkDeviceBound(); err != nil {
		return cfg, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
