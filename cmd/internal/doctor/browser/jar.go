package browser

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Jar holds the cookies a browser would keep, applying the rules of Parse on
// the way in and Domain, Path, Secure, SameSite and expiry on the way out.
// It is safe for concurrent use.
type Jar struct {
	now func() time.Time

	mu      sync.Mutex
	cookies []Cookie
	seq     int
}

// NewJar returns an empty jar reading the time from now (nil: time.Now).
func NewJar(now func() time.Time) *Jar {
	if now == nil {
		now = time.Now
	}
	return &Jar{now: now}
}

// Clone returns an independent copy of the jar.
func (j *Jar) Clone() *Jar {
	j.mu.Lock()
	defer j.mu.Unlock()
	return &Jar{now: j.now, cookies: append([]Cookie(nil), j.cookies...), seq: j.seq}
}

// SetFromResponse applies every Set-Cookie header of a response to a request
// for u and returns the verdict on each, in order. crossSite says the request
// was a cross-site fetch (see Set).
func (j *Jar) SetFromResponse(u *url.URL, h http.Header, crossSite bool) []Verdict {
	raws := h.Values("Set-Cookie")
	out := make([]Verdict, 0, len(raws))
	for _, raw := range raws {
		out = append(out, j.Set(u, raw, crossSite))
	}
	return out
}

// Set applies one Set-Cookie header value received from u and returns the
// verdict. A stored cookie replaces one with the same name, domain and path;
// a deletion removes it.
//
// The response to a cross-site fetch (crossSite: a page on another site
// called u) sets third-party cookies, and Chromium with its default
// settings blocks them all, SameSite=None; Secure included ("third-party",
// tested in real Chromium); cookies that are not SameSite=None are ignored
// there by every browser besides ("samesite-cross-site", RFC 6265bis 5.7).
func (j *Jar) Set(u *url.URL, raw string, crossSite bool) Verdict {
	v := Parse(raw, u, j.now())
	if crossSite {
		var ps []Problem
		ps = append(ps, Problem{Code: ThirdParty, Rejected: true,
			Message: "third-party cookie (set by the response to a cross-site fetch): " +
				"Chromium with its default settings blocks it, as do Safari, Brave and Chrome's Incognito mode, " +
				"whatever its SameSite"})
		if v.Cookie.SameSite != "None" {
			ss := v.Cookie.SameSite
			if ss == "" {
				ss = "unset (Lax)"
			}
			ps = append(ps, Problem{Code: SameSiteCrossSite, Rejected: true,
				Message: "SameSite=" + ss + " cookie set by the response to a cross-site fetch: every browser ignores it"})
		}
		v.Problems = append(ps, v.Problems...)
		v.Stored = false
	}
	if _, rejected := v.Rejection(); rejected {
		return v
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	c := v.Cookie
	kept := j.cookies[:0]
	seq := -1
	for _, old := range j.cookies {
		if old.Name == c.Name && old.Domain == c.Domain && old.Path == c.Path {
			seq = old.seq // a replacement keeps the original creation time
			continue
		}
		kept = append(kept, old)
	}
	j.cookies = kept
	if v.Stored {
		if seq < 0 {
			j.seq++
			seq = j.seq
		}
		c.seq = seq
		v.Cookie.seq = seq
		j.cookies = append(j.cookies, c)
	}
	return v
}

// Why a stored cookie stays out of a request (Decision.Withheld).
const (
	// WithheldDomain: the request's host is not the cookie's host (host-only)
	// or under its Domain.
	WithheldDomain = "domain"
	// WithheldPath: the request's path is not under the cookie's Path.
	WithheldPath = "path"
	// WithheldSecure: a Secure cookie and a request that is not to a secure
	// context (https, or http on localhost).
	WithheldSecure = "secure"
	// WithheldSameSite: a cross-site fetch and a cookie that is not
	// SameSite=None, or a cross-site navigation and a cookie its SameSite
	// keeps out (Lax on a POST, Strict always).
	WithheldSameSite = "samesite"
	// WithheldThirdParty: a SameSite=None cookie and a cross-site fetch, in
	// which it is a third-party cookie: Chromium's default settings block
	// those (tested in real Chromium).
	WithheldThirdParty = "third-party"
)

// Decision is whether one stored cookie goes with a request, and if not why.
type Decision struct {
	Cookie Cookie
	// Withheld is "" when the cookie is sent, else the first rule that keeps
	// it out, in the order browsers check them: WithheldDomain,
	// WithheldPath, WithheldSecure, WithheldSameSite.
	Withheld string
}

// Decide returns, for every live cookie in the jar, whether a browser sends
// it with a fetch to u; crossSite says the fetch comes from a page on
// another site (the cookie is then a third-party cookie). Expired cookies
// are forgotten.
func (j *Jar) Decide(u *url.URL, crossSite bool) []Decision {
	return j.decide(u, func(c Cookie) string {
		switch {
		case crossSite && c.SameSite != "None":
			return WithheldSameSite
		case crossSite:
			return WithheldThirdParty
		}
		return ""
	})
}

// DecideNavigation is Decide for a top-level navigation to u with method (a
// link, a form submission) from a page on another site when crossSite: the
// cookies are first-party there, so SameSite=None ones go, Lax ones only
// with a GET, Strict ones never.
func (j *Jar) DecideNavigation(u *url.URL, crossSite bool, method string) []Decision {
	return j.decide(u, func(c Cookie) string {
		switch {
		case !crossSite || c.SameSite == "None":
			return ""
		case c.SameSite == "Strict" || method != http.MethodGet && method != http.MethodHead:
			return WithheldSameSite
		}
		return ""
	})
}

// decide applies the Domain, Path and Secure rules, then sameSite's.
func (j *Jar) decide(u *url.URL, sameSite func(Cookie) string) []Decision {
	now := j.now()
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	path := u.Path
	if path == "" {
		path = "/"
	}
	secure := SecureContext(u)
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Decision
	live := j.cookies[:0]
	for _, c := range j.cookies {
		if c.Persistent() && !c.Expires.After(now) {
			continue // expired: forget it
		}
		live = append(live, c)
		d := Decision{Cookie: c}
		switch {
		case c.HostOnly && host != c.Domain || !c.HostOnly && !DomainMatch(host, c.Domain):
			d.Withheld = WithheldDomain
		case !PathMatch(path, c.Path):
			d.Withheld = WithheldPath
		case c.Secure && !secure:
			d.Withheld = WithheldSecure
		default:
			d.Withheld = sameSite(c)
		}
		out = append(out, d)
	}
	j.cookies = live
	return out
}

// Cookies returns the cookies a browser sends with a request to u, most
// specific path first. crossSite says the request is a cross-site fetch (a
// page on another site calling u with credentials): then only SameSite=None
// cookies go.
func (j *Jar) Cookies(u *url.URL, crossSite bool) []Cookie {
	var out []Cookie
	for _, d := range j.Decide(u, crossSite) {
		if d.Withheld == "" {
			out = append(out, d.Cookie)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if len(out[a].Path) != len(out[b].Path) {
			return len(out[a].Path) > len(out[b].Path)
		}
		return out[a].seq < out[b].seq
	})
	return out
}

// Header returns the Cookie header value a browser sends to u ("" for none).
func (j *Jar) Header(u *url.URL, crossSite bool) string {
	return CookieHeader(j.Cookies(u, crossSite))
}

// All returns every live cookie in the jar, in creation order.
func (j *Jar) All() []Cookie {
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Cookie
	for _, c := range j.cookies {
		if !c.Persistent() || c.Expires.After(now) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].seq < out[b].seq })
	return out
}

// CookieHeader joins cookies into a Cookie header value.
func CookieHeader(cs []Cookie) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Name == "" {
			parts = append(parts, c.Value)
			continue
		}
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// DomainMatch reports whether host is domain or a subdomain of it. An IP
// address matches only itself.
func DomainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return !isIP(host) && strings.HasSuffix(host, "."+domain)
}

// PathMatch is RFC 6265 5.1.4's path-match.
func PathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}
