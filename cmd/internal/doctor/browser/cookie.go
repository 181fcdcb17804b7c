// Package browser judges raw Set-Cookie headers the way current browsers do
// and keeps the cookies they would keep. Go's net/http/cookiejar applies none
// of the Secure, SameSite or prefix rules, so it cannot tell a doctor whether
// a browser would have dropped a cookie; this package can.
//
// The model is Chrome and Firefox following RFC 6265bis: http://localhost is
// a secure context (Secure cookies are kept and sent there; Safari differs and
// the problems say so), SameSite=None requires Secure, a cookie without
// SameSite is treated as Lax, and the "registrable domain" of a host is
// approximated by a small built-in list of public suffixes (see Site).
package browser

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxSize is the largest name+value length, in bytes, browsers accept.
const MaxSize = 4096

// maxAttrValue is the longest attribute value browsers honour; longer ones
// are ignored (RFC 6265bis 5.6).
const maxAttrValue = 1024

// maxAge is Chrome's cap on a cookie's lifetime (RFC 6265bis: 400 days).
const maxAge = 400 * 24 * time.Hour

// Cookie is a cookie as a browser stores it.
type Cookie struct {
	Name  string
	Value string
	// Domain is the host the cookie belongs to (HostOnly) or the Domain
	// attribute without its leading dot, lower case.
	Domain string
	// HostOnly is true when the Set-Cookie had no Domain attribute: the cookie
	// is sent to exactly that host, not its subdomains.
	HostOnly bool
	// DomainAttr is the Domain attribute as sent ("" when absent).
	DomainAttr string
	// Path is the cookie's path (the default path when none was given).
	Path string
	// PathAttr reports whether a valid Path attribute was given.
	PathAttr bool
	Secure   bool
	HTTPOnly bool
	// SameSite is "Strict", "Lax" or "None" as given, or "" when the attribute
	// was absent or unrecognised (browsers then behave as Lax).
	SameSite string
	// Expires is when the cookie dies; zero for a session cookie (no Expires
	// or Max-Age), which lives until the browser closes.
	Expires time.Time
	// Raw is the Set-Cookie header value the cookie came from.
	Raw string

	seq int // creation order, for the order cookies are sent in
}

// Persistent reports whether the cookie has an expiry.
func (c Cookie) Persistent() bool { return !c.Expires.IsZero() }

// Code names one kind of Problem; it is stable, for programs.
type Code string

// The problems a browser objects to. Each comment says what the browser does.
const (
	SecureOverHTTP       Code = "secure-over-http"       // rejected: Secure set over plain http on a non-local host
	SecureLocalhost      Code = "secure-localhost"       // kept by Chrome and Firefox, dropped by Safari
	SameSiteNoneInsecure Code = "samesite-none-insecure" // rejected: SameSite=None without Secure
	DomainMismatch       Code = "domain-mismatch"        // rejected: Domain does not cover the host
	DomainPublicSuffix   Code = "domain-public-suffix"   // rejected: Domain is a public suffix
	DomainIP             Code = "domain-ip"              // rejected: Domain on a response from an IP address
	PrefixSecure         Code = "prefix-secure"          // rejected: a __Secure- cookie without Secure
	PrefixHost           Code = "prefix-host"            // rejected: a __Host- cookie breaking its rules
	TooLarge             Code = "too-large"              // rejected: name and value over MaxSize
	NoName               Code = "no-name"                // rejected: neither name nor value
	BadChar              Code = "bad-char"               // rejected: a control character
	BadExpires           Code = "bad-expires"            // the Expires or Max-Age attribute is ignored
	ExpiryCapped         Code = "expiry-capped"          // the lifetime is capped at 400 days
	AttrTooLong          Code = "attr-too-long"          // the attribute is ignored
	SameSiteCrossSite    Code = "samesite-cross-site"    // rejected by Jar.Set: not SameSite=None on a cross-site response
	ThirdParty           Code = "third-party"            // rejected by Jar.Set: Chromium blocks third-party cookies by default
)

// domainCodes are the codes of a Domain attribute browsers refuse.
var domainCodes = []Code{DomainMismatch, DomainPublicSuffix, DomainIP}

// Problem is one thing a browser objects to in a Set-Cookie header.
type Problem struct {
	// Code says which problem it is.
	Code Code
	// Rejected is true when browsers drop the cookie because of it.
	Rejected bool
	// Message explains it in one sentence.
	Message string
}

// Verdict is what a browser makes of one Set-Cookie header.
type Verdict struct {
	Cookie Cookie
	// Stored reports whether a browser keeps the cookie.
	Stored bool
	// Deletion reports whether the header expires the cookie (Max-Age<=0 or
	// an Expires in the past): browsers remove a matching cookie and store
	// nothing.
	Deletion bool
	// Problems lists everything browsers object to, rejections first.
	Problems []Problem
}

// Rejection returns the first problem that makes browsers drop the cookie.
func (v Verdict) Rejection() (Problem, bool) {
	for _, p := range v.Problems {
		if p.Rejected {
			return p, true
		}
	}
	return Problem{}, false
}

// Has reports whether the verdict lists a problem with any of these codes.
func (v Verdict) Has(codes ...Code) bool {
	_, ok := v.First(codes...)
	return ok
}

// First returns the first problem with any of these codes.
func (v Verdict) First(codes ...Code) (Problem, bool) {
	for _, p := range v.Problems {
		for _, c := range codes {
			if p.Code == c {
				return p, true
			}
		}
	}
	return Problem{}, false
}

// DomainProblem returns the problem that makes browsers refuse the cookie's
// Domain attribute, if any.
func (v Verdict) DomainProblem() (Problem, bool) { return v.First(domainCodes...) }

// SecureContext reports whether browsers treat u as a secure context: https,
// or http on localhost, *.localhost or a loopback address (Chrome, Firefox).
func SecureContext(u *url.URL) bool {
	if strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "wss") {
		return true
	}
	return IsLocalhost(u.Hostname())
}

// IsLocalhost reports whether host is localhost, a *.localhost name or a
// loopback IP address.
func IsLocalhost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Parse judges one Set-Cookie header value received in a response to u at
// time now.
func Parse(raw string, u *url.URL, now time.Time) Verdict {
	v := Verdict{Cookie: Cookie{Raw: raw}}
	c := &v.Cookie
	reject := func(code Code, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{Code: code, Rejected: true, Message: fmt.Sprintf(format, args...)})
	}
	warn := func(code Code, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{Code: code, Message: fmt.Sprintf(format, args...)})
	}

	parts := strings.Split(raw, ";")
	pair := parts[0]
	if name, value, ok := strings.Cut(pair, "="); ok {
		c.Name, c.Value = strings.TrimSpace(name), strings.TrimSpace(value)
	} else {
		// RFC 6265bis: a pair without "=" is a value with an empty name.
		c.Value = strings.TrimSpace(pair)
	}
	if c.Name == "" && c.Value == "" {
		reject(NoName, "the cookie has neither a name nor a value")
	}
	if strings.ContainsFunc(c.Name+c.Value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		reject(BadChar, "the cookie's name or value contains a control character")
	}
	if n := len(c.Name) + len(c.Value); n > MaxSize {
		reject(TooLarge, "name and value are %d bytes; browsers drop cookies over %d", n, MaxSize)
	}

	var (
		hasMaxAge, hasExpires bool
		maxAgeSecs            int64
		expires               time.Time
		domainAttr            string
		pathAttr              string
	)
	for _, attr := range parts[1:] {
		key, val, _ := strings.Cut(attr, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if len(val) > maxAttrValue {
			warn(AttrTooLong, "the %s attribute is over %d bytes; browsers ignore it", key, maxAttrValue)
			continue
		}
		switch strings.ToLower(key) {
		case "expires":
			t, ok := parseCookieDate(val)
			if !ok {
				warn(BadExpires, "Expires=%q is not a date browsers understand; it is ignored", val)
				continue
			}
			hasExpires, expires = true, t
		case "max-age":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || val == "" || !(val[0] == '-' || val[0] >= '0' && val[0] <= '9') {
				warn(BadExpires, "Max-Age=%q is not an integer; it is ignored", val)
				continue
			}
			hasMaxAge, maxAgeSecs = true, n
		case "domain":
			if val == "" {
				continue // browsers ignore an empty Domain attribute
			}
			domainAttr = val
		case "path":
			pathAttr = val
		case "secure":
			c.Secure = true
		case "httponly":
			c.HTTPOnly = true
		case "samesite":
			switch strings.ToLower(val) {
			case "strict":
				c.SameSite = "Strict"
			case "lax":
				c.SameSite = "Lax"
			case "none":
				c.SameSite = "None"
			default:
				c.SameSite = "" // unknown values mean "not given"
			}
		}
	}

	// Expiry: Max-Age wins over Expires.
	switch {
	case hasMaxAge && maxAgeSecs <= 0:
		v.Deletion = true
	case hasMaxAge:
		d := time.Duration(maxAgeSecs) * time.Second
		if maxAgeSecs > int64(maxAge/time.Second) {
			warn(ExpiryCapped, "Max-Age is over 400 days; Chrome caps cookie lifetimes at 400 days")
			d = maxAge
		}
		c.Expires = now.Add(d)
	case hasExpires && !expires.After(now):
		v.Deletion = true
	case hasExpires:
		if expires.Sub(now) > maxAge {
			warn(ExpiryCapped, "Expires is over 400 days away; Chrome caps cookie lifetimes at 400 days")
			expires = now.Add(maxAge)
		}
		c.Expires = expires
	}
	if v.Deletion {
		c.Expires = now.Add(-time.Second)
	}

	// Domain.
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if domainAttr != "" {
		c.DomainAttr = domainAttr
		d := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(domainAttr, "."), "."))
		switch {
		case net.ParseIP(host) != nil && d != host:
			reject(DomainIP, "Domain=%s is set on a response from the IP address %s; browsers accept only Domain equal to the address", domainAttr, host)
		case host != d && !strings.HasSuffix(host, "."+d):
			reject(DomainMismatch, "Domain=%s does not cover the host %s that set it; browsers drop the cookie", domainAttr, host)
		case d != host && PublicSuffix(d) == d:
			reject(DomainPublicSuffix, "Domain=%s is a public suffix; browsers refuse cookies for a whole public suffix", domainAttr)
		}
		if d == host && PublicSuffix(d) == d {
			c.HostOnly, c.Domain = true, host
		} else {
			c.Domain = d
		}
	} else {
		c.HostOnly, c.Domain = true, host
	}

	// Path.
	if strings.HasPrefix(pathAttr, "/") {
		c.Path, c.PathAttr = pathAttr, true
	} else {
		c.Path = defaultPath(u.Path)
	}

	// Secure.
	if c.Secure && !strings.EqualFold(u.Scheme, "https") {
		if IsLocalhost(host) {
			warn(SecureLocalhost, "Secure cookie over http://%s: Chrome and Firefox keep it (localhost is a secure context) but Safari drops it", host)
		} else {
			reject(SecureOverHTTP, "Secure cookie set over plain http by %s: browsers drop it", host)
		}
	}
	if c.SameSite == "None" && !c.Secure {
		reject(SameSiteNoneInsecure, "SameSite=None without Secure: Chrome and Edge reject the cookie")
	}

	// Prefixes (RFC 6265bis matches them case-insensitively).
	lname := strings.ToLower(c.Name)
	if strings.HasPrefix(lname, "__secure-") && !c.Secure {
		reject(PrefixSecure, "a __Secure- cookie must have the Secure attribute")
	}
	if strings.HasPrefix(lname, "__host-") {
		switch {
		case !c.Secure:
			reject(PrefixHost, "a __Host- cookie must have the Secure attribute")
		case domainAttr != "":
			reject(PrefixHost, "a __Host- cookie must not have a Domain attribute")
		case !c.PathAttr || c.Path != "/":
			reject(PrefixHost, "a __Host- cookie must have Path=/")
		}
	}

	// Rejections first, so Rejection and readers see the decisive one.
	sortProblems(v.Problems)
	_, rejected := v.Rejection()
	v.Stored = !rejected && !v.Deletion
	return v
}

func sortProblems(ps []Problem) {
	// Stable partition: rejected problems first.
	out := make([]Problem, 0, len(ps))
	for _, p := range ps {
		if p.Rejected {
			out = append(out, p)
		}
	}
	for _, p := range ps {
		if !p.Rejected {
			out = append(out, p)
		}
	}
	copy(ps, out)
}

// defaultPath is RFC 6265 5.1.4's default-path of a request path.
func defaultPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	i := strings.LastIndex(p, "/")
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// cookieDateLayouts are the Expires formats seen in practice; browsers' own
// parser is more lenient still.
var cookieDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Mon, 02-Jan-2006 15:04:05 GMT",
	"Mon, 2 Jan 2006 15:04:05 GMT",
	"Mon, 2-Jan-2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Mon, 02 Jan 2006 15:04:05 MST",
}

func parseCookieDate(s string) (time.Time, bool) {
	for _, l := range cookieDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Describe renders the cookie's attributes as a browser sees them, without
// its value: "Path=/; Domain=example.com; Secure; HttpOnly; SameSite=Lax;
// expires in 24h0m0s".
func (c Cookie) Describe(now time.Time) string {
	var b []string
	b = append(b, "Path="+c.Path)
	if c.HostOnly {
		b = append(b, "host-only ("+c.Domain+")")
	} else {
		b = append(b, "Domain="+c.Domain)
	}
	if c.Secure {
		b = append(b, "Secure")
	}
	if c.HTTPOnly {
		b = append(b, "HttpOnly")
	}
	if c.SameSite != "" {
		b = append(b, "SameSite="+c.SameSite)
	} else {
		b = append(b, "no SameSite (Lax)")
	}
	if c.Persistent() {
		if d := c.Expires.Sub(now); d > 0 {
			b = append(b, "expires in "+d.Round(time.Second).String())
		} else {
			b = append(b, "expired")
		}
	} else {
		b = append(b, "session cookie (no Expires/Max-Age)")
	}
	return strings.Join(b, "; ")
}
