package doctor

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
)

// cookieJudge reports on the session cookie the login set, one method per
// attribute, in the report's order.
type cookieJudge struct {
	c     *httpCheck
	v     browser.Verdict
	ck    browser.Cookie
	now   time.Time
	host  string // the API's host
	set   string // the redacted Set-Cookie line, the usual evidence
	first bool   // no finding added yet
}

// judgeCookie reports on the session cookie the login set; fromAnon says it
// was set by an anonymous request, not by the login.
func (c *httpCheck) judgeCookie(v browser.Verdict, fromAnon bool) {
	j := &cookieJudge{
		c: c, v: v, ck: v.Cookie, now: c.now(), host: c.base.Hostname(),
		set: "Set-Cookie: " + redactSetCookie(v.Cookie.Raw), first: true,
	}
	j.origin(fromAnon)
	j.secure()
	j.sameSite()
	j.domain()
	j.path()
	j.httpOnly()
	j.expiry()
	j.size()
	j.prefix()
	j.shadowing()
	j.rejected()
}

// add adds a Session cookie finding. After the first finding, a PASS does
// not repeat the Set-Cookie line.
func (j *cookieJudge) add(id string, st Status, title string, ev []string, fix string) {
	if !j.first && st == Pass && len(ev) == 1 && ev[0] == j.set {
		ev = nil
	}
	j.first = false
	j.c.add(secCookie, id, st, title, ev, fix)
}

// origin says which response set the cookie.
func (j *cookieJudge) origin(fromAnon bool) {
	if fromAnon {
		j.add("cookie.set", Pass, fmt.Sprintf("session cookie %q (set before login; the login response set none)", j.ck.Name), []string{j.set}, "")
		return
	}
	j.add("cookie.set", Pass, fmt.Sprintf("the login sets the session cookie %q", j.ck.Name), []string{j.set, "as a browser sees it: " + j.ck.Describe(j.now)}, "")
}

func (j *cookieJudge) secure() {
	host, set := j.host, j.set
	switch {
	case j.v.Has(browser.SecureOverHTTP):
		j.add("cookie.secure", Fail, fmt.Sprintf("this request was plain HTTP (http://%s) and the session cookie is Secure: browsers drop it, so the login never sticks", host),
			[]string{set, fmt.Sprintf("the site is http://%s, not https; "+
				"only localhost and loopback addresses are exempt (Chrome and Firefox treat them as secure contexts over http)", host)},
			"If users reach the site over https, run the doctor on the https:// URL "+
				"(to one instance: --resolve HOST:443:ADDR). "+
				"Otherwise serve the site over https, or set Secure only where it is https "+
				"(express-session: cookie.secure: 'auto' with app.set('trust proxy', 1) behind a TLS proxy; "+
				"sessionkit: Config.Cookie.Secure from the environment). "+
				"A TLS-terminating proxy must send X-Forwarded-Proto: https and the app must trust it.")
	case j.v.Has(browser.SecureLocalhost):
		j.add("cookie.secure", Warn, fmt.Sprintf("Secure cookie over http://%s: Chrome and Firefox keep it "+
			"(localhost and loopback addresses are secure contexts), Safari drops it", host),
			[]string{set}, "Fine in production over https. To develop with Safari, leave Secure off over plain http or use https locally.")
	case j.ck.Secure:
		j.add("cookie.secure", Pass, "Secure over https", []string{set}, "")
	case j.c.base.Scheme == "https":
		j.add("cookie.secure", Warn, "the cookie lacks Secure on an https site: it would also be sent over plain http",
			[]string{set}, "Add Secure (express-session: cookie.secure: true; sessionkit: Config.Cookie.Secure).")
	case browser.IsLocalhost(host):
		j.add("cookie.secure", Pass, fmt.Sprintf("not Secure, as http://%s development needs (make it Secure in production)", host), []string{set}, "")
	default:
		j.add("cookie.secure", Warn, fmt.Sprintf("the site is plain http on %s: the session cookie travels unencrypted", host),
			[]string{set}, "Serve the site over https and mark the cookie Secure.")
	}
}

func (j *cookieJudge) sameSite() {
	switch {
	case j.v.Has(browser.SameSiteNoneInsecure):
		j.add("cookie.samesite", Fail, "SameSite=None without Secure: Chrome and Edge reject the cookie",
			[]string{j.set}, "Add Secure (which needs https) to a SameSite=None cookie, or use SameSite=Lax when the front end is on the same site.")
	case j.ck.SameSite == "":
		j.add("cookie.samesite", Pass, "no SameSite attribute: Chrome treats it as Lax", []string{j.set, "set SameSite=Lax explicitly so every browser behaves alike"}, "")
	default:
		j.add("cookie.samesite", Pass, "SameSite="+j.ck.SameSite, []string{j.set}, "")
	}
}

// domain checks the Domain attribute against the API's host and, with a
// cross-origin front end, against the front end's host.
func (j *cookieJudge) domain() {
	ck, host, set := j.ck, j.host, j.set
	if p, bad := j.v.DomainProblem(); bad {
		j.add("cookie.domain", Fail, fmt.Sprintf("Domain=%s does not cover the host %s: browsers drop the cookie", ck.DomainAttr, host),
			[]string{set, p.Message}, fmt.Sprintf("Leave Domain unset (a host-only cookie for %s), "+
				"or set it to %s or a parent domain of it that is not a public suffix; "+
				"with several environments take it from configuration.", host, host))
	} else if ck.HostOnly {
		j.add("cookie.domain", Pass, "host-only cookie for "+ck.Domain, []string{set}, "")
	} else {
		j.add("cookie.domain", Pass, "Domain="+ck.Domain+" covers "+host, []string{set}, "")
	}
	c := j.c
	if c.origin == nil || !c.crossOrigin || j.v.Has(browser.DomainMismatch) {
		return
	}
	oh := strings.ToLower(c.origin.Hostname())
	if ck.DomainAttr != "" && !browser.DomainMatch(oh, ck.Domain) {
		j.add("cookie.domain-origin", Warn, fmt.Sprintf("Domain=%s does not cover the front end's host %s", ck.DomainAttr, oh),
			[]string{set, "requests from the page to the API still carry it; only the front end's own server never sees it"},
			"If the front end's server "+
				"(SSR, middleware) must read the session, set Domain to the registrable domain both hosts share ("+browser.Site(host)+"); otherwise drop the Domain attribute.")
	}
}

func (j *cookieJudge) path() {
	protected := j.c.protected.Path
	if !browser.PathMatch(protected, j.ck.Path) {
		j.add("cookie.path", Fail, fmt.Sprintf("Path=%s does not cover %s: the cookie is never sent there", j.ck.Path, protected),
			[]string{j.set}, "Set Path=/ (or a prefix of every path that needs the session).")
		return
	}
	j.add("cookie.path", Pass, "Path="+j.ck.Path+" covers "+protected, []string{j.set}, "")
}

func (j *cookieJudge) httpOnly() {
	if j.ck.HTTPOnly {
		j.add("cookie.httponly", Pass, "HttpOnly: page scripts cannot read it", []string{j.set}, "")
		return
	}
	j.add("cookie.httponly", Fail, "HttpOnly is off: any script on the page (an XSS, a compromised dependency) can read and steal the session",
		[]string{j.set}, "Set HttpOnly on the session cookie (express-session: cookie.httpOnly: true, its default; sessionkit does always).")
}

func (j *cookieJudge) expiry() {
	switch {
	case j.v.Has(browser.ExpiryCapped):
		j.add("cookie.expiry", Warn, "the cookie asks to live over 400 days; Chrome caps it at 400", []string{j.set}, "Use a lifetime of at most 400 days.")
	case !j.ck.Persistent():
		j.add("cookie.expiry", Warn, "no Expires or Max-Age: the cookie dies when the browser closes, while the server keeps the session until its own expiry",
			[]string{j.set}, "Give the cookie the session's lifetime (express-session: cookie.maxAge; "+
				"sessionkit: Config.Expiry.Lifetime), unless logging out on browser close is intended.")
	default:
		j.add("cookie.expiry", Pass, "expires in "+j.ck.Expires.Sub(j.now).Round(time.Second).String(), []string{j.set}, "")
	}
}

func (j *cookieJudge) size() {
	size := len(j.ck.Name) + len(j.ck.Value)
	if j.v.Has(browser.TooLarge) {
		j.add("cookie.size", Fail, fmt.Sprintf("the cookie is %d bytes: browsers drop cookies over %d", size, browser.MaxSize),
			[]string{j.set}, "Keep the session data in the store and only an id in the cookie.")
		return
	}
	j.add("cookie.size", Pass, fmt.Sprintf("%d bytes (limit %d)", size, browser.MaxSize), nil, "")
}

// prefix checks the rules of a __Host- or __Secure- name.
func (j *cookieJudge) prefix() {
	lname := strings.ToLower(j.ck.Name)
	if !strings.HasPrefix(lname, "__host-") && !strings.HasPrefix(lname, "__secure-") {
		return
	}
	if p, ok := j.v.First(browser.PrefixSecure, browser.PrefixHost); ok {
		j.add("cookie.prefix", Fail, "the cookie breaks its name prefix's rules: browsers drop it", []string{j.set, p.Message},
			"__Secure- needs Secure; __Host- needs Secure, Path=/ and no Domain.")
		return
	}
	j.add("cookie.prefix", Pass, "the name prefix's rules hold", []string{j.set}, "")
}

// rejected reports a malformed name=value pair, which no attribute explains.
func (j *cookieJudge) rejected() {
	for _, p := range j.v.Problems {
		if p.Rejected && (p.Code == browser.NoName || p.Code == browser.BadChar) {
			j.add("cookie.rejected", Fail, "browsers drop the cookie: "+p.Message, []string{j.set}, "Send a well-formed name=value pair.")
		}
	}
}

// shadowing warns when another host of the site could plant a cookie of
// the same name: browsers send every same-name cookie whose domain and path
// match (the longer Path first), so a sibling subdomain, or one an attacker
// controls, can set name=… with Domain=<site> and have it sent beside, or
// before, the real one: a swap into the attacker's account, or a log-out
// that misses the live session, depending on how the server picks among
// them. Only a __Host- name cannot be set by any other host. Nothing is
// said on localhost or an IP address, which have no sibling hosts.
func (j *cookieJudge) shadowing() {
	host := strings.ToLower(strings.TrimSuffix(j.host, "."))
	if browser.IsLocalhost(host) || net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return
	}
	site := browser.Site(host)
	if strings.HasPrefix(strings.ToLower(j.ck.Name), "__host-") {
		j.add("cookie.shadowing", Pass, "__Host- name: no other host can set a cookie of the same name", nil, "")
		return
	}
	ev := []string{fmt.Sprintf("any host under %s (a sibling subdomain, a preview deployment, "+
		"a hosted page) can send Set-Cookie: %s=…; Domain=%s; "+
		"Path=/api, which the browser then sends with, and before, this one", site, j.ck.Name, site)}
	fix := "Name the cookie __Host-" + j.ck.Name + " (it must be Secure, Path=/, without Domain; " +
		"sessionkit: COOKIE_NAME=__Host-sessionkit.sid in production). " +
		"sessionkit also picks among same-name cookies safely (the one live session; none when two are live; " +
		"log-out ends all); express-session takes the first that verifies."
	if !j.ck.HostOnly {
		fix = "The cookie is shared with subdomains (Domain=" + j.ck.Domain + "), which rules out __Host-: every host under " + site + " must be trusted. Prefer a host-only __Host- cookie on one API host; " +
			"sessionkit picks among same-name cookies safely (the one live session; none when two are live; " +
			"log-out ends all), express-session takes the first that verifies."
	}
	j.add("cookie.shadowing", Warn, "the cookie could be shadowed: another host of "+site+" can plant a cookie of the same name", ev, fix)
}
