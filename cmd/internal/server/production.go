package server

import (
	"fmt"
	"strings"
	"time"
)

// DefaultProductionIdleTimeout is SESSION_IDLE_TIMEOUT's default in
// production: ASVS 7.3.1 asks that sessions end after a period of
// inactivity, and 30 minutes is the upper end OWASP gives for low-risk
// applications. Development keeps no idle timeout.
const DefaultProductionIdleTimeout = 30 * time.Minute

// DefaultProductionCookieName is COOKIE_NAME's default in production
// without COOKIE_DOMAIN: browsers accept a __Host- cookie only from the host
// itself, Secure, on Path /, so no other host of the site can shadow it.
const DefaultProductionCookieName = "__Host-sessionkit.sid"

// Production limits.
const (
	// maxSessionTTL is the longest SESSION_TTL accepted: browsers cap a
	// cookie's lifetime at 400 days (RFC 6265bis), so a longer one is a
	// promise no browser keeps, and almost always a typo.
	maxSessionTTL = 400 * 24 * time.Hour
	// riskySessionTTL is where a lifetime earns a warning.
	riskySessionTTL = 30 * 24 * time.Hour
	// minSecretDistinctBytes: a random secret of 32 bytes or more has
	// dozens of distinct bytes; one with fewer than this was typed, not
	// generated ("aaaa…", "changeme" repeated).
	minSecretDistinctBytes = 8
)

// checkProduction refuses, in production, what cannot be safe: a secret
// that is not random, a secret listed twice, a proxy list that trusts every
// address, a session lifetime past what browsers keep. Development accepts
// them, so that tests and laptops need no real secret.
func checkProduction(c Config) error {
	if !c.Production {
		return nil
	}
	seen := map[string]int{}
	for i, s := range c.Secrets {
		distinct := map[byte]bool{}
		for j := 0; j < len(s); j++ {
			distinct[s[j]] = true
		}
		if len(distinct) < minSecretDistinctBytes {
			return fmt.Errorf("SESSION_SECRET: secret %d of %d has only %d distinct bytes: it was typed, not generated, "+
				"and can be guessed; use `openssl rand -base64 48`", i+1, len(c.Secrets), len(distinct))
		}
		if j, dup := seen[s]; dup {
			return fmt.Errorf("SESSION_SECRET: secrets %d and %d are the same: list each secret once (while rotating: old,new then new,old then new)", j+1, i+1)
		}
		seen[s] = i
	}
	for _, p := range c.TrustedProxies {
		if p.Bits() == 0 {
			return fmt.Errorf("TRUSTED_PROXIES: %s trusts every address, "+
				"so any client could claim HTTPS and any address (defeating the per-address log-in limit); "+
				"list your proxies' addresses or subnets", p)
		}
	}
	if c.SessionTTL > maxSessionTTL {
		return fmt.Errorf("SESSION_TTL: %s is longer than the 400 days browsers keep a cookie; use at most 400d (the default is 7d)", c.SessionTTL)
	}
	for _, o := range c.CORSOrigins {
		// A page served over plain HTTP can be rewritten by anyone on the
		// path, and it would be trusted with the user's cookies and past
		// the CSRF protection.
		if len(o) >= 7 && strings.EqualFold(o[:7], "http://") {
			return fmt.Errorf("CORS_ORIGINS: %s is served over plain HTTP, "+
				"and anyone on its network path could act as the user through it; list its https:// origin", o)
		}
	}
	return nil
}

// productionWarnings lists what is merely risky in a production
// configuration, for New to log.
func productionWarnings(c Config) []string {
	if !c.Production {
		return nil
	}
	var out []string
	if c.IdleTimeout == 0 {
		out = append(out, "SESSION_IDLE_TIMEOUT is 0: sessions never end for inactivity, "+
			"only after SESSION_TTL (ASVS 7.3.1 asks for an inactivity timeout; "+
			"the production default is 30m)")
	}
	if c.SessionTTL > riskySessionTTL {
		out = append(out, fmt.Sprintf("SESSION_TTL is %s: a stolen cookie stays good that long; consider 7d with SESSION_IDLE_TIMEOUT", c.SessionTTL))
	}
	for _, p := range c.TrustedProxies {
		if p.Bits() > 0 && ((p.Addr().Is4() && p.Bits() < 8) || (!p.Addr().Is4() && p.Bits() < 32)) {
			out = append(out, fmt.Sprintf("TRUSTED_PROXIES: %s is a very wide range: every address in it may set X-Forwarded-For and X-Forwarded-Proto", p))
		}
	}
	return out
}
