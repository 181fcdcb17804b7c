package sessionkit

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Device Bound Session Credentials (DBSC): the session's own half. The
// protocol is the W3C draft of February 2026 (Secure-Session-* headers);
// docs/dbsc.md says what it protects against. The handlers the browser
// talks to are in dbsc_handler.go, the proof's checks in dbsc_jwt.go.

// DeviceBoundConfig configures Device Bound Session Credentials
// (Config.DeviceBound). Every field's zero value is a working default.
type DeviceBoundConfig struct {
	// RegistrationPath is where the browser sends its new public key after a
	// log-in: mount Manager.DeviceBoundRegistration there. It is sent to
	// the browser as is, so it may also be a full https URL of the same
	// site. Default "/dbsc/register".
	RegistrationPath string
	// RefreshPath is where the browser asks for a new bound cookie: mount
	// Manager.DeviceBoundRefresh there. Default "/dbsc/refresh".
	RefreshPath string
	// CookieName is the short-lived bound cookie's name. Its Path, Domain,
	// Secure, HttpOnly and SameSite are the session cookie's. Default
	// "sessionkit.bound", with the session cookie's __Host- or __Secure-
	// prefix if it has one; it must differ from Config.Cookie.Name.
	CookieName string
	// CookieLifetime is how long a bound cookie is accepted: how long a
	// copied session cookie stays usable, and how often a browser signs a
	// refresh. Default DefaultBoundCookieLifetime (five minutes).
	CookieLifetime time.Duration
	// ChallengeLifetime is how long a challenge the server issued may be
	// signed and sent back. Each is also accepted once only. Default
	// DefaultChallengeLifetime (ten minutes), so that the challenge sent
	// with a bound cookie still serves for the refresh that follows it.
	ChallengeLifetime time.Duration
}

// Device-bound defaults.
const (
	DefaultBoundCookieName     = "sessionkit.bound"
	DefaultBoundCookieLifetime = 5 * time.Minute
	DefaultChallengeLifetime   = 10 * time.Minute
)

// DeviceBoundKey is the session key under which a device-bound session keeps
// its binding: {"id": the DBSC session identifier, "alg", "jwk": the
// browser's public key, "at": when it registered, Unix seconds}. Its
// presence is what makes a session refuse requests without a bound cookie.
// Applications should not write it.
const DeviceBoundKey = "sessionkitBound"

// deviceBound is the Manager's DBSC state; nil when Config.DeviceBound is.
type deviceBound struct {
	cfg DeviceBoundConfig
	// attrs are the bound cookie's attributes as the session instructions
	// name them.
	attrs string
	// now is the clock; tests replace it.
	now func() time.Time
}

// binding is the DeviceBoundKey value.
type binding struct {
	ID  string          `json:"id"`
	Alg string          `json:"alg"`
	JWK json.RawMessage `json:"jwk"`
	At  int64           `json:"at"`
}

// checkDeviceBound validates cfg.DeviceBound and fills its defaults in.
func (cfg *Config) checkDeviceBound() error {
	d := cfg.DeviceBound
	if d == nil {
		return nil
	}
	c := *d
	if c.RegistrationPath == "" {
		c.RegistrationPath = "/dbsc/register"
	}
	if c.RefreshPath == "" {
		c.RefreshPath = "/dbsc/refresh"
	}
	for _, p := range []string{c.RegistrationPath, c.RefreshPath} {
		if strings.ContainsAny(p, "\"\\\r\n") || !(strings.HasPrefix(p, "/") || strings.HasPrefix(p, "https://")) {
			return fmt.Errorf("sessionkit: DeviceBound path %q must start with / (or https://) and hold no quote or backslash", p)
		}
	}
	if c.CookieName == "" {
		c.CookieName = DefaultBoundCookieName
		// The session cookie's prefix, which its attributes satisfy.
		for _, prefix := range []string{"__Host-", "__Secure-"} {
			if strings.HasPrefix(cfg.Cookie.Name, prefix) {
				c.CookieName = prefix + DefaultBoundCookieName
			}
		}
	}
	if !validCookieName(c.CookieName) || c.CookieName == cfg.Cookie.Name {
		return fmt.Errorf("sessionkit: DeviceBound.CookieName %q must be a valid cookie name other than the session cookie's", c.CookieName)
	}
	if c.CookieLifetime < 0 || c.ChallengeLifetime < 0 {
		return fmt.Errorf("sessionkit: DeviceBound lifetimes cannot be negative")
	}
	if c.CookieLifetime == 0 {
		c.CookieLifetime = DefaultBoundCookieLifetime
	}
	if c.ChallengeLifetime == 0 {
		c.ChallengeLifetime = DefaultChallengeLifetime
	}
	if cfg.Cookie.Partitioned {
		// The draft refuses a Partitioned credential.
		return fmt.Errorf("sessionkit: DeviceBound does not work with Partitioned cookies: browsers refuse to bind them")
	}
	cfg.DeviceBound = &c
	return nil
}

func newDeviceBound(cfg Config) *deviceBound {
	if cfg.DeviceBound == nil {
		return nil
	}
	attrs := []string{"Path=" + cfg.Cookie.Path}
	if cfg.Cookie.Domain != "" {
		attrs = append(attrs, "Domain="+cfg.Cookie.Domain)
	}
	if cfg.Cookie.Secure {
		attrs = append(attrs, "Secure")
	}
	if !cfg.Cookie.AllowScriptAccess {
		attrs = append(attrs, "HttpOnly")
	}
	switch cfg.Cookie.SameSite {
	case http.SameSiteStrictMode:
		attrs = append(attrs, "SameSite=Strict")
	case http.SameSiteNoneMode:
		attrs = append(attrs, "SameSite=None")
	default:
		attrs = append(attrs, "SameSite=Lax")
	}
	return &deviceBound{cfg: *cfg.DeviceBound, attrs: strings.Join(attrs, "; "), now: time.Now}
}

// The bound cookie's value is "<expiry, Unix seconds>.<MAC>", the MAC (the
// session secret's HMAC, cut to 128 bits) binding the expiry to the
// session id: any instance checks it without a store call, and after the
// expiry it is worthless even to someone who copied it.
const boundMACLen = 16

func boundInput(id string, exp int64) string {
	return "sessionkit bound cookie\x00" + id + "\x00" + strconv.FormatInt(exp, 10)
}

// boundCookie returns the bound cookie for session id, valid until exp.
func (m *Manager) boundCookie(id string, now time.Time) *http.Cookie {
	exp := now.Add(m.dbsc.cfg.CookieLifetime).Unix()
	mac := m.signer.sum(nil, 0, boundInput(id, exp))[:boundMACLen]
	c := m.baseCookie()
	c.Name = m.dbsc.cfg.CookieName
	c.Value = strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
	// Rounded down, so that the browser drops the cookie, and refreshes,
	// no later than the server stops taking it.
	c.MaxAge = max(1, int(time.Unix(exp, 0).Sub(now)/time.Second))
	c.Partitioned = false
	m.stats.boundCookies.Add(1)
	return c
}

// expiredBoundCookie makes the browser drop the bound cookie.
func (m *Manager) expiredBoundCookie() *http.Cookie {
	c := m.expiredCookie()
	c.Name = m.dbsc.cfg.CookieName
	c.Partitioned = false
	return c
}

// hasBoundCookie reports whether r carries a bound cookie for session id
// that has not expired.
func (m *Manager) hasBoundCookie(r *http.Request, id string) bool {
	now := m.dbsc.now().Unix()
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(part, "=")
			if !ok || textproto.TrimString(n) != m.dbsc.cfg.CookieName {
				continue
			}
			if m.validBoundValue(textproto.TrimString(v), id, now) {
				return true
			}
		}
	}
	return false
}

func (m *Manager) validBoundValue(v, id string, now int64) bool {
	expText, macText, ok := strings.Cut(v, ".")
	if !ok || len(expText) > 12 {
		return false
	}
	var exp int64
	for i := 0; i < len(expText); i++ {
		c := expText[i]
		if c < '0' || c > '9' {
			return false
		}
		exp = exp*10 + int64(c-'0')
	}
	if exp <= now {
		return false
	}
	var mac [boundMACLen]byte
	if n, err := base64.RawURLEncoding.Decode(mac[:], []byte(macText)); err != nil || n != boundMACLen ||
		base64.RawURLEncoding.EncodedLen(boundMACLen) != len(macText) {
		return false
	}
	input := boundInput(id, exp)
	var buf [32]byte
	for i := range m.signer.secrets {
		if hmac.Equal(m.signer.sum(buf[:0], i, input)[:boundMACLen], mac[:]) {
			return true
		}
	}
	return false
}

// isBound reports whether the session's values hold a binding.
func isBound(values map[string]json.RawMessage) bool {
	_, ok := values[DeviceBoundKey]
	return ok
}

// boundOf decodes the session's binding.
func boundOf(values map[string]json.RawMessage) (binding, bool) {
	raw, ok := values[DeviceBoundKey]
	if !ok {
		return binding{}, false
	}
	var b binding
	if json.Unmarshal(raw, &b) != nil || b.ID == "" {
		return binding{}, false
	}
	return b, true
}

// boundRefused reports whether a request must not see the stored session
// with this id and values: it is device-bound and the request carries no
// valid bound cookie for it. Such a request is treated as having no
// session, as a copied session cookie should be.
func (m *Manager) boundRefused(r *http.Request, id string, values map[string]json.RawMessage) bool {
	if m.dbsc == nil || !isBound(values) || m.hasBoundCookie(r, id) {
		return false
	}
	m.stats.boundRefused.Add(1)
	return true
}

// Challenges are stateless until used: "<nonce>.<expiry>.<MAC>", the MAC
// binding nonce and expiry to the session id, so a challenge issued for one
// session is worthless for another. Using one creates a marker record in
// the store (Store.Create, which refuses an existing id on every store and
// across instances), so each is accepted once; the marker expires with the
// challenge.
const challengeNonceLen = 16

var (
	errChallengeInvalid = errors.New("challenge not issued for this session")
	errChallengeExpired = errors.New("challenge expired")
	errChallengeUsed    = errors.New("challenge already used")
)

// A challenge's purpose is part of its MAC: a refresh challenge, which the
// refresh endpoint hands to whoever presents the session cookie, must never
// serve to register another key.
const (
	purposeRegister = "register"
	purposeRefresh  = "refresh"
)

func challengeInput(purpose, id, nonce string, exp int64) string {
	return "sessionkit dbsc " + purpose + " challenge\x00" + id + "\x00" + nonce + "\x00" + strconv.FormatInt(exp, 10)
}

// newChallenge returns a fresh challenge for session id.
func (m *Manager) newChallenge(purpose, id string) string {
	var b [challengeNonceLen]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	exp := m.dbsc.now().Add(m.dbsc.cfg.ChallengeLifetime).Unix()
	mac := m.signer.sum(nil, 0, challengeInput(purpose, id, nonce, exp))[:boundMACLen]
	return nonce + "." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// useChallenge checks that c was issued for purpose and session id and is
// unexpired, then marks it used; a second use, on any instance, fails.
func (m *Manager) useChallenge(r *http.Request, purpose, id, c string) error {
	nonce, rest, ok1 := strings.Cut(c, ".")
	expText, macText, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || len(nonce) != base64.RawURLEncoding.EncodedLen(challengeNonceLen) || len(expText) > 12 {
		return errChallengeInvalid
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != expText {
		return errChallengeInvalid
	}
	mac, err := base64.RawURLEncoding.DecodeString(macText)
	if err != nil || len(mac) != boundMACLen {
		return errChallengeInvalid
	}
	input := challengeInput(purpose, id, nonce, exp)
	valid := false
	for i := range m.signer.secrets {
		if hmac.Equal(m.signer.sum(nil, i, input)[:boundMACLen], mac) {
			valid = true
		}
	}
	if !valid {
		return errChallengeInvalid
	}
	now := m.dbsc.now()
	if exp <= now.Unix() {
		return errChallengeExpired
	}
	marker := "dbsc-used-" + nonce
	err = m.storeCall("mark challenge used", marker, func() error {
		return m.store.Create(r.Context(), marker, Record{Values: map[string]json.RawMessage{}, Created: now, Expiry: time.Unix(exp, 0)})
	})
	if errors.Is(err, ErrExists) {
		return errChallengeUsed
	}
	return err
}

// offerRegistration adds the Secure-Session-Registration header that asks
// a browser able to bind a session to register a key for session id.
// Browsers without DBSC ignore it.
func (m *Manager) offerRegistration(h http.Header, id string) {
	h.Add("Secure-Session-Registration", fmt.Sprintf(`(ES256 RS256);path="%s";challenge="%s"`,
		m.dbsc.cfg.RegistrationPath, m.newChallenge(purposeRegister, id)))
}

// boundSessionEnds is called by Authenticate: a new log-in ends the
// session's binding (a new key is registered for the new id), so that a
// password change or a log-in as someone else does not inherit the old
// device's key. s.mu is held and s regenerated.
func (s *Session) boundSessionEnds() {
	if s.m.dbsc == nil {
		return
	}
	delete(s.set, DeviceBoundKey)
	s.register = true
}

// boundUnverified reports whether commit must read the store before saving:
// a session with DBSC on, not read in this request, whose request carries
// no bound cookie may be device-bound, and a write to it must not pass
// where a read would not. s.mu is held.
func (s *Session) boundUnverified() bool {
	return s.m.dbsc != nil && !s.loaded && !s.isNew && s.id != "" &&
		(len(s.set) > 0 || len(s.del) > 0) && !s.m.hasBoundCookie(s.req, s.id)
}
