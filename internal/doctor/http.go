package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/doctor/browser"
)

// HTTPOptions configures CheckHTTP. The zero value of every field but URL is
// usable.
type HTTPOptions struct {
	// URL is the server under test, http or https; anonymous visits go to it
	// as given and the paths below are resolved against it. Required.
	URL string
	// LoginPath is where the login is POSTed. Empty means "/api/login".
	LoginPath string
	// LoginBody is the JSON login request. Nil means do not log in: only the
	// anonymous checks (and CORS, debug) run.
	LoginBody []byte
	// ProtectedPath needs a session: it answers 2xx when logged in and 401
	// otherwise. Empty means "/api/user".
	ProtectedPath string
	// LogoutPath is POSTed to log out. Empty means "/api/logout".
	LogoutPath string
	// NoLogout skips the logout checks.
	NoLogout bool
	// DebugPath, when set, is an endpoint answering JSON about the session
	// the server saw (cookiesHeader, id, hasSession, userId). Empty skips it.
	DebugPath string
	// Origin, when set, is the front end's origin ("https://app.example.com"):
	// the doctor then sends it, checks CORS and plays a page on that origin
	// calling the API with credentials. Empty means a same-origin front end.
	Origin string
	// Repeat is how many requests to ProtectedPath follow the login. Zero
	// means 20.
	Repeat int
	// CookieName names the session cookie. Empty means detect it: the cookie
	// the login sets, preferring names that look like a session's.
	CookieName string
	// Timeout bounds each request. Zero means 10 seconds.
	Timeout time.Duration
	// Insecure skips TLS certificate verification (self-signed development
	// certificates). Ignored when Transport is set.
	Insecure bool
	// Transport carries the requests. Nil means a fresh http.Transport
	// honouring the proxy environment; tests use it to reach a local server
	// under another host name.
	Transport http.RoundTripper
}

// Section names of doctor http, in report order.
const (
	secAnon    = "Anonymous requests"
	secLogin   = "Login"
	secCookie  = "Session cookie"
	secPersist = "Staying logged in"
	secCORS    = "Cross-origin front end"
	secDebug   = "Debug endpoint"
	secLogout  = "Logout"
)

var httpSections = []string{secAnon, secLogin, secCookie, secPersist, secCORS, secDebug, secLogout}

// anonHits is how many cookieless requests go to each of / and the
// protected path.
const anonHits = 3

// Cookie names that look like a session's, strongly (connect.sid,
// PHPSESSID, laravel_session) or weakly (auth_token, jwt), and the CSRF
// tokens that are never one (XSRF-TOKEN, csrftoken), though they match.
var (
	sessionNameRE     = regexp.MustCompile(`(?i)sid|sess`)
	weakSessionNameRE = regexp.MustCompile(`(?i)auth|token|jwt|remember|login`)
	csrfNameRE        = regexp.MustCompile(`(?i)csrf|xsrf`)
)

// sessionNameScore ranks how much a cookie's name looks like a session
// cookie's: 2 strongly, 1 weakly, 0 not at all, -1 a CSRF token.
func sessionNameScore(name string) int {
	switch {
	case csrfNameRE.MatchString(name):
		return -1
	case sessionNameRE.MatchString(name):
		return 2
	case weakSessionNameRE.MatchString(name):
		return 1
	}
	return 0
}

func looksLikeSession(name string) bool { return sessionNameScore(name) > 0 }

// ErrUsage is wrapped by the errors CheckHTTP and CheckDB return for options
// that cannot work; Run turns every error into exit status 2.
var ErrUsage = errors.New("doctor: usage")

// exchange is one request and its response, with the browser's verdict on
// each Set-Cookie.
type exchange struct {
	url      *url.URL
	sent     string // the Cookie header sent
	status   int
	header   http.Header
	body     []byte
	verdicts []browser.Verdict
}

type httpCheck struct {
	o                                     HTTPOptions
	base, login, protected, logout, debug *url.URL
	origin                                *url.URL
	crossOrigin, crossSite                bool
	client                                *http.Client
	jar                                   *browser.Jar
	rep                                   *Report
	now                                   func() time.Time
	anon                                  []*exchange
	loginEx                               *exchange
	session                               string // session cookie name, "" unknown
	sessionConfirmed                      bool   // the name comes from the login or the options
	sessionVerdict                        *browser.Verdict
	loggedIn                              bool
	firstAuthed                           *exchange // first protected response after login
}

// CheckHTTP plays a browser against the server at o.URL and reports what
// would happen to its session. It returns an error wrapping ErrUsage for bad
// options, and another error when the server cannot be reached; everything
// the server does wrong is a finding.
func CheckHTTP(ctx context.Context, o HTTPOptions) (*Report, error) {
	c, err := newHTTPCheck(o)
	if err != nil {
		return nil, err
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	// Present findings in section order, keeping the order within each.
	rank := map[string]int{}
	for i, s := range httpSections {
		rank[s] = i
	}
	sort.SliceStable(c.rep.Findings, func(a, b int) bool {
		return rank[c.rep.Findings[a].Section] < rank[c.rep.Findings[b].Section]
	})
	c.rep.finish()
	return c.rep, nil
}

func newHTTPCheck(o HTTPOptions) (*httpCheck, error) {
	if o.LoginPath == "" {
		o.LoginPath = "/api/login"
	}
	if o.ProtectedPath == "" {
		o.ProtectedPath = "/api/user"
	}
	if o.LogoutPath == "" {
		o.LogoutPath = "/api/logout"
	}
	if o.Repeat <= 0 {
		o.Repeat = 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	base, err := url.Parse(o.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http or https URL", ErrUsage, o.URL)
	}
	if base.Path == "" {
		base.Path = "/"
	}
	if o.LoginBody != nil && !json.Valid(o.LoginBody) {
		return nil, fmt.Errorf("%w: the login body is not valid JSON", ErrUsage)
	}
	c := &httpCheck{o: o, base: base, now: time.Now}
	resolve := func(p string) (*url.URL, error) {
		ref, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("%w: bad path %q: %v", ErrUsage, p, err)
		}
		return base.ResolveReference(ref), nil
	}
	if c.login, err = resolve(o.LoginPath); err != nil {
		return nil, err
	}
	if c.protected, err = resolve(o.ProtectedPath); err != nil {
		return nil, err
	}
	if c.logout, err = resolve(o.LogoutPath); err != nil {
		return nil, err
	}
	if o.DebugPath != "" {
		if c.debug, err = resolve(o.DebugPath); err != nil {
			return nil, err
		}
	}
	if o.Origin != "" {
		org, err := url.Parse(o.Origin)
		if err != nil || (org.Scheme != "http" && org.Scheme != "https") || org.Host == "" || (org.Path != "" && org.Path != "/") {
			return nil, fmt.Errorf("%w: --origin %q must be a scheme://host[:port] origin", ErrUsage, o.Origin)
		}
		org.Path = ""
		c.origin = org
		c.crossOrigin = originOf(org) != originOf(base)
		c.crossSite = !browser.SameSite(org, base)
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		tr = t
	}
	c.client = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// A browser's fetch follows redirects, but the doctor judges every
		// response's Set-Cookie itself, so it stops at the first.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.jar = browser.NewJar(c.now)
	c.rep = &Report{Kind: "http", Target: base.String()}
	return c, nil
}

func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// do sends one request. With a jar it sends the jar's cookies and stores
// what comes back; fromPage marks a request made by the front end's page
// (Origin header, and cross-site cookie rules when the origin is another
// site). cookie, when not nil, is sent as the Cookie header instead of the
// jar's; the response still goes to the jar.
func (c *httpCheck) do(ctx context.Context, method string, u *url.URL, jar *browser.Jar, fromPage bool, body []byte, hdr map[string]string, cookie *string) (*exchange, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("doctor: %s %s: %w", method, u, err)
	}
	req.Header.Set("User-Agent", "sessionkit-doctor/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/html;q=0.9, */*;q=0.8")
	if fromPage && c.origin != nil && c.crossOrigin {
		req.Header.Set("Origin", originOf(c.origin))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	ex := &exchange{url: u}
	switch {
	case cookie != nil:
		ex.sent = *cookie
	case jar != nil:
		ex.sent = jar.Header(u, fromPage && c.crossSite)
	}
	if ex.sent != "" {
		req.Header.Set("Cookie", ex.sent)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("doctor: cannot reach %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	ex.body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ex.status, ex.header = resp.StatusCode, resp.Header
	if jar != nil {
		ex.verdicts = jar.SetFromResponse(u, resp.Header, fromPage && c.crossSite)
	} else {
		for _, raw := range resp.Header.Values("Set-Cookie") {
			ex.verdicts = append(ex.verdicts, browser.Parse(raw, u, c.now()))
		}
	}
	return ex, nil
}

func (c *httpCheck) add(section, id string, st Status, title string, evidence []string, fix string) {
	if st == Pass || st == Info {
		fix = ""
	}
	c.rep.add(Finding{ID: id, Section: section, Status: st, Title: title, Evidence: evidence, Fix: fix})
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

func (c *httpCheck) run(ctx context.Context) error {
	if err := c.anonymous(ctx); err != nil {
		return err
	}
	if c.o.LoginBody != nil {
		if err := c.doLogin(ctx); err != nil {
			return err
		}
	} else {
		c.add(secLogin, "login.skipped", Info, "no login performed: pass --email (password on standard input) or --body to check the login, persistence and logout", nil, "")
	}
	if c.o.CookieName != "" {
		c.session, c.sessionConfirmed = c.o.CookieName, true
	}
	c.judgeAnonymous()
	if c.loggedIn {
		if err := c.persistence(ctx); err != nil {
			return err
		}
	}
	if c.origin != nil {
		if err := c.cors(ctx); err != nil {
			return err
		}
	}
	if c.debug != nil {
		if err := c.debugEndpoint(ctx); err != nil {
			return err
		}
	}
	if c.loggedIn && !c.o.NoLogout {
		if err := c.logoutCheck(ctx); err != nil {
			return err
		}
	}
	return nil
}

// anonymous makes cookieless requests to / and to the protected path, as
// bots, health checks and first visits do. The first one uses the main jar,
// so that a cookie it gets is sent with the login, like a browser would.
func (c *httpCheck) anonymous(ctx context.Context) error {
	for _, u := range []*url.URL{c.base, c.protected} {
		for i := 0; i < anonHits; i++ {
			jar := browser.NewJar(c.now)
			if len(c.anon) == 0 {
				jar = c.jar
			}
			ex, err := c.do(ctx, http.MethodGet, u, jar, false, nil, nil, nil)
			if err != nil {
				return err
			}
			c.anon = append(c.anon, ex)
		}
	}
	return nil
}

// pickSession chooses the session cookie among Set-Cookie verdicts.
func pickSession(vs []browser.Verdict, name string) (browser.Verdict, bool) {
	var cands []browser.Verdict
	for _, v := range vs {
		if name != "" {
			if v.Cookie.Name == name {
				cands = append(cands, v)
			}
			continue
		}
		if !v.Deletion && sessionNameScore(v.Cookie.Name) >= 0 {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return browser.Verdict{}, false
	}
	if name != "" {
		return cands[len(cands)-1], true
	}
	// The most session-like name, then HttpOnly, then the first set.
	rank := func(v browser.Verdict) int {
		r := 2 * sessionNameScore(v.Cookie.Name)
		if v.Cookie.HTTPOnly {
			r++
		}
		return r
	}
	best := cands[0]
	for _, v := range cands[1:] {
		if rank(v) > rank(best) {
			best = v
		}
	}
	return best, true
}

// postLogin POSTs the login with jar's cookies, or with the Cookie header
// cookie when it is not nil.
func (c *httpCheck) postLogin(ctx context.Context, jar *browser.Jar, cookie *string) (*exchange, error) {
	return c.do(ctx, http.MethodPost, c.login, jar, true, c.o.LoginBody, nil, cookie)
}

func bodySnippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

func (c *httpCheck) doLogin(ctx context.Context) error {
	pre := c.jar.All()
	ex, err := c.postLogin(ctx, c.jar, nil)
	if err != nil {
		return err
	}
	c.loginEx = ex
	ev := []string{fmt.Sprintf("POST %s → %d %s", c.login.Path, ex.status, bodySnippet(ex.body))}
	if ex.sent != "" {
		ev = append(ev, "sent Cookie: "+redactCookieHeader(ex.sent))
	}
	if !ok2xx(ex.status) {
		title, fix := c.loginFailure(ex.status)
		c.add(secLogin, "login.status", Fail, title+": nothing after it can be checked", ev, fix)
		return nil
	}
	c.add(secLogin, "login.status", Pass, fmt.Sprintf("login answered %d", ex.status), ev, "")

	v, found := pickSession(ex.verdicts, c.o.CookieName)
	var preV *browser.Verdict
	if !found {
		// No cookie from the login: did the anonymous session get upgraded?
		for _, pc := range pre {
			if c.o.CookieName == pc.Name || c.o.CookieName == "" && looksLikeSession(pc.Name) {
				for _, av := range c.anon[0].verdicts {
					if av.Cookie.Name == pc.Name {
						av := av
						preV = &av
					}
				}
			}
		}
		if preV == nil {
			name := "a session cookie"
			if c.o.CookieName != "" {
				name = fmt.Sprintf("the cookie %q", c.o.CookieName)
			}
			c.add(secCookie, "cookie.set", Fail, "the login response sets no cookie", append(ev, "no Set-Cookie for "+name),
				"Save the session at login so that the response carries Set-Cookie (express-session: set req.session.userId inside req.session.regenerate; sessionkit: Put then the response commits it). Behind a TLS-terminating proxy, express-session with cookie.secure: true sends no cookie at all unless app.set('trust proxy', 1). If the login returns a token in the body, this is not a cookie session and the doctor does not apply.")
			return nil
		}
		v = *preV
	}
	c.session, c.sessionConfirmed = v.Cookie.Name, true
	c.sessionVerdict = &v
	c.loggedIn = true
	c.judgeCookie(v, preV != nil)
	return c.fixation(ctx, pre, v, preV != nil)
}

// loginFailure names the likely cause of a login answered with status, and
// its fix.
func (c *httpCheck) loginFailure(status int) (title, fix string) {
	switch {
	case status == http.StatusForbidden && c.origin != nil && c.crossOrigin:
		org := originOf(c.origin)
		return fmt.Sprintf("the login from the front end's origin %s was refused (403)", org),
			fmt.Sprintf("Allow the origin on the server, exactly: in its CORS allow-list and in its cross-origin (CSRF) protection (sessionkit serve: CORS_ORIGINS=%s). If this origin is not meant to call the API, drop --origin.", org)
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return fmt.Sprintf("no login at POST %s (status %d)", c.login.Path, status),
			"Pass --login with the path the login POSTs to."
	case status == http.StatusTooManyRequests:
		return "the login was rate-limited (429)",
			"Wait for the server's failed-login window to pass (earlier attempts with a wrong password count), then run the doctor again."
	case status >= 500:
		return fmt.Sprintf("the login failed with a server error (%d)", status),
			"Check the server's logs: a store or database that cannot be reached fails every login."
	case status == http.StatusForbidden:
		return "the login was refused (403)",
			"Check the credentials, and whether the server wants something a plain JSON POST lacks (a CSRF token: pass it with --body; an Origin check behind a proxy that rewrites Host)."
	default:
		return fmt.Sprintf("login failed with status %d", status),
			"Check the credentials (--email with the password on standard input, or --body) and --login; the doctor POSTs JSON with Content-Type: application/json."
	}
}

// judgeCookie reports on the session cookie the login set.
func (c *httpCheck) judgeCookie(v browser.Verdict, fromAnon bool) {
	ck := v.Cookie
	now := c.now()
	set := "Set-Cookie: " + redactSetCookie(ck.Raw)
	first := true
	// After the first finding, a PASS does not repeat the Set-Cookie line.
	add := func(section, id string, st Status, title string, ev []string, fix string) {
		if !first && st == Pass && len(ev) == 1 && ev[0] == set {
			ev = nil
		}
		first = false
		c.add(section, id, st, title, ev, fix)
	}
	if fromAnon {
		add(secCookie, "cookie.set", Pass, fmt.Sprintf("session cookie %q (set before login; the login response set none)", ck.Name), []string{set}, "")
	} else {
		add(secCookie, "cookie.set", Pass, fmt.Sprintf("the login sets the session cookie %q", ck.Name), []string{set, "as a browser sees it: " + ck.Describe(now)}, "")
	}
	host := c.base.Hostname()
	https := c.base.Scheme == "https"

	// Secure.
	switch {
	case v.Has("secure-over-http"):
		add(secCookie, "cookie.secure", Fail, "Secure cookie over plain http: browsers drop it, so the login never sticks",
			[]string{set, fmt.Sprintf("the site is http://%s, not https; only localhost and loopback addresses are exempt (Chrome and Firefox treat them as secure contexts over http)", host)},
			"Serve the site over https, or set Secure only where it is https (express-session: cookie.secure: 'auto' with app.set('trust proxy', 1) behind a TLS proxy; sessionkit: Config.Secure from the environment). A TLS-terminating proxy must send X-Forwarded-Proto: https and the app must trust it.")
	case v.Has("secure-localhost"):
		add(secCookie, "cookie.secure", Warn, fmt.Sprintf("Secure cookie over http://%s: Chrome and Firefox keep it (localhost and loopback addresses are secure contexts), Safari drops it", host),
			[]string{set}, "Fine in production over https. To develop with Safari, leave Secure off over plain http or use https locally.")
	case ck.Secure:
		add(secCookie, "cookie.secure", Pass, "Secure over https", []string{set}, "")
	case https:
		add(secCookie, "cookie.secure", Warn, "the cookie lacks Secure on an https site: it would also be sent over plain http",
			[]string{set}, "Add Secure (express-session: cookie.secure: true; sessionkit: Config.Secure).")
	case browser.IsLocalhost(host):
		add(secCookie, "cookie.secure", Pass, fmt.Sprintf("not Secure, as http://%s development needs (make it Secure in production)", host), []string{set}, "")
	default:
		add(secCookie, "cookie.secure", Warn, fmt.Sprintf("the site is plain http on %s: the session cookie travels unencrypted", host),
			[]string{set}, "Serve the site over https and mark the cookie Secure.")
	}

	// SameSite.
	switch {
	case v.Has("samesite-none-insecure"):
		add(secCookie, "cookie.samesite", Fail, "SameSite=None without Secure: Chrome and Edge reject the cookie",
			[]string{set}, "Add Secure (which needs https) to a SameSite=None cookie, or use SameSite=Lax when the front end is on the same site.")
	case ck.SameSite == "":
		add(secCookie, "cookie.samesite", Pass, "no SameSite attribute: Chrome treats it as Lax", []string{set, "set SameSite=Lax explicitly so every browser behaves alike"}, "")
	default:
		add(secCookie, "cookie.samesite", Pass, "SameSite="+ck.SameSite, []string{set}, "")
	}

	// Domain.
	switch {
	case v.Has("domain-mismatch"), v.Has("domain-public-suffix"), v.Has("domain-ip"):
		var msg string
		for _, p := range v.Problems {
			if strings.HasPrefix(p.Code, "domain-") {
				msg = p.Message
				break
			}
		}
		add(secCookie, "cookie.domain", Fail, fmt.Sprintf("Domain=%s does not cover the host %s: browsers drop the cookie", ck.DomainAttr, host),
			[]string{set, msg}, fmt.Sprintf("Leave Domain unset (a host-only cookie for %s), or set it to %s or a parent domain of it that is not a public suffix; with several environments take it from configuration.", host, host))
	case ck.HostOnly:
		add(secCookie, "cookie.domain", Pass, "host-only cookie for "+ck.Domain, []string{set}, "")
	default:
		add(secCookie, "cookie.domain", Pass, "Domain="+ck.Domain+" covers "+host, []string{set}, "")
	}
	if c.origin != nil && c.crossOrigin && !v.Has("domain-mismatch") {
		oh := strings.ToLower(c.origin.Hostname())
		if ck.DomainAttr != "" && !browser.DomainMatch(oh, ck.Domain) {
			add(secCookie, "cookie.domain-origin", Warn, fmt.Sprintf("Domain=%s does not cover the front end's host %s", ck.DomainAttr, oh),
				[]string{set, "requests from the page to the API still carry it; only the front end's own server never sees it"},
				"If the front end's server (SSR, middleware) must read the session, set Domain to the registrable domain both hosts share ("+browser.Site(host)+"); otherwise drop the Domain attribute.")
		}
	}

	// Path.
	if !browser.PathMatch(c.protected.Path, ck.Path) {
		add(secCookie, "cookie.path", Fail, fmt.Sprintf("Path=%s does not cover %s: the cookie is never sent there", ck.Path, c.protected.Path),
			[]string{set}, "Set Path=/ (or a prefix of every path that needs the session).")
	} else {
		add(secCookie, "cookie.path", Pass, "Path="+ck.Path+" covers "+c.protected.Path, []string{set}, "")
	}

	// HttpOnly.
	if ck.HTTPOnly {
		add(secCookie, "cookie.httponly", Pass, "HttpOnly: page scripts cannot read it", []string{set}, "")
	} else {
		add(secCookie, "cookie.httponly", Fail, "HttpOnly is off: any script on the page (an XSS, a compromised dependency) can read and steal the session",
			[]string{set}, "Set HttpOnly on the session cookie (express-session: cookie.httpOnly: true, its default; sessionkit does always).")
	}

	// Expiry.
	switch {
	case v.Has("expiry-capped"):
		add(secCookie, "cookie.expiry", Warn, "the cookie asks to live over 400 days; Chrome caps it at 400", []string{set}, "Use a lifetime of at most 400 days.")
	case !ck.Persistent():
		add(secCookie, "cookie.expiry", Warn, "no Expires or Max-Age: the cookie dies when the browser closes, while the server keeps the session until its own expiry",
			[]string{set}, "Give the cookie the session's lifetime (express-session: cookie.maxAge; sessionkit: Config.Lifetime), unless logging out on browser close is intended.")
	default:
		add(secCookie, "cookie.expiry", Pass, "expires in "+ck.Expires.Sub(now).Round(time.Second).String(), []string{set}, "")
	}

	// Size.
	size := len(ck.Name) + len(ck.Value)
	if v.Has("too-large") {
		add(secCookie, "cookie.size", Fail, fmt.Sprintf("the cookie is %d bytes: browsers drop cookies over %d", size, browser.MaxSize),
			[]string{set}, "Keep the session data in the store and only an id in the cookie.")
	} else {
		add(secCookie, "cookie.size", Pass, fmt.Sprintf("%d bytes (limit %d)", size, browser.MaxSize), nil, "")
	}

	// Prefixes and anything else browsers reject.
	lname := strings.ToLower(ck.Name)
	if strings.HasPrefix(lname, "__host-") || strings.HasPrefix(lname, "__secure-") {
		if p, ok := firstCode(v, "prefix-"); ok {
			add(secCookie, "cookie.prefix", Fail, "the cookie breaks its name prefix's rules: browsers drop it", []string{set, p.Message},
				"__Secure- needs Secure; __Host- needs Secure, Path=/ and no Domain.")
		} else {
			add(secCookie, "cookie.prefix", Pass, "the name prefix's rules hold", []string{set}, "")
		}
	}
	for _, p := range v.Problems {
		if p.Rejected && (p.Code == "no-name" || p.Code == "bad-char") {
			add(secCookie, "cookie.rejected", Fail, "browsers drop the cookie: "+p.Message, []string{set}, "Send a well-formed name=value pair.")
		}
	}
}

func firstCode(v browser.Verdict, prefix string) (browser.Problem, bool) {
	for _, p := range v.Problems {
		if strings.HasPrefix(p.Code, prefix) {
			return p, true
		}
	}
	return browser.Problem{}, false
}

// fixation checks that logging in gives a new session id. When the server
// handed out a cookie before the login, the login must replace it;
// otherwise a second login, sent with the first login's cookie, must.
func (c *httpCheck) fixation(ctx context.Context, pre []browser.Cookie, v browser.Verdict, fromAnon bool) error {
	const fix = "Give the session a new id at login (express-session: req.session.regenerate before setting userId; sessionkit: Session.Regenerate; any framework: rotate the id on privilege change)."
	name := v.Cookie.Name
	var before *browser.Cookie
	for i := range pre {
		if pre[i].Name == name {
			before = &pre[i]
		}
	}
	if fromAnon {
		c.add(secCookie, "cookie.fixation", Fail, "session fixation: the login kept the anonymous session's id",
			[]string{fmt.Sprintf("before login the server set %s=%s; the login response set no new cookie", name, Redact(before.Value))}, fix)
		return nil
	}
	if before != nil {
		oldID, _ := sessionID(before.Value)
		newID, _ := sessionID(v.Cookie.Value)
		ev := []string{fmt.Sprintf("sent %s=%s with the login; got %s=%s", name, Redact(before.Value), name, Redact(v.Cookie.Value))}
		if oldID == newID {
			c.add(secCookie, "cookie.fixation", Fail, "session fixation: the login kept the session id the browser already had", ev, fix)
		} else {
			c.add(secCookie, "cookie.fixation", Pass, "the login replaces the session id the browser had", ev, "")
		}
		return nil
	}
	// Log in again holding the first login's cookie. When the browser does
	// not send it (dropped, or its Path misses the login), send it by hand:
	// whether a login keeps the id it is given is the server's doing.
	jar := c.jar.Clone()
	var byHand *string
	sent := jar.Header(c.login, c.crossSite)
	if val, ok := cookieValue(sent, name); !ok || val != v.Cookie.Value {
		h := withCookie(sent, name, v.Cookie.Value)
		byHand = &h
	}
	ex, err := c.postLogin(ctx, jar, byHand)
	if err != nil {
		return err
	}
	ev := []string{fmt.Sprintf("a second login sent %s=%s → %d", name, Redact(v.Cookie.Value), ex.status)}
	if byHand != nil {
		ev[0] += fmt.Sprintf(" (sent by hand: the browser does not send the login's cookie to %s)", c.login.Path)
	}
	if !ok2xx(ex.status) {
		c.add(secCookie, "cookie.fixation", Info, "not checked: a second login was refused", ev, "")
		return nil
	}
	v2, found := pickSession(ex.verdicts, name)
	oldID, _ := sessionID(v.Cookie.Value)
	switch {
	case !found:
		c.add(secCookie, "cookie.fixation", Fail, "session fixation: logging in while holding a session keeps its id (no new cookie)", append(ev, "the response set no session cookie"), fix)
	default:
		newID, _ := sessionID(v2.Cookie.Value)
		ev = append(ev, fmt.Sprintf("got %s=%s", name, Redact(v2.Cookie.Value)))
		if newID == oldID {
			c.add(secCookie, "cookie.fixation", Fail, "session fixation: logging in while holding a session keeps its id", ev, fix)
		} else {
			c.add(secCookie, "cookie.fixation", Pass, "each login issues a new session id", ev, "")
		}
	}
	// Continue with the newest login, as the browser would: regenerating may
	// have destroyed the first session.
	c.jar = jar
	if found {
		c.sessionVerdict = &v2
	}
	return nil
}

// judgeAnonymous reports on the cookies anonymous requests received.
func (c *httpCheck) judgeAnonymous() {
	name := c.session
	if name == "" {
		// No login to learn the name from: take a session-looking one.
		for _, ex := range c.anon {
			for _, v := range ex.verdicts {
				if name == "" && looksLikeSession(v.Cookie.Name) && !v.Deletion {
					name = v.Cookie.Name
				}
			}
		}
	}
	var (
		got     int
		ids     = map[string]bool{}
		sample  string
		others  = map[string]bool{}
		perPath = map[string]int{}
	)
	for _, ex := range c.anon {
		hit := false
		for _, v := range ex.verdicts {
			if v.Deletion {
				continue
			}
			if name != "" && v.Cookie.Name == name {
				hit = true
				id, _ := sessionID(v.Cookie.Value)
				ids[id] = true
				if sample == "" {
					sample = "Set-Cookie: " + redactSetCookie(v.Cookie.Raw)
				}
			} else {
				others[v.Cookie.Name] = true
			}
		}
		if hit {
			got++
			perPath[ex.url.Path]++
		}
	}
	desc := fmt.Sprintf("%d requests without a cookie: %d to %s, %d to %s", len(c.anon), anonHits, c.base.Path, anonHits, c.protected.Path)
	var otherNames []string
	for n := range others {
		otherNames = append(otherNames, n)
	}
	sort.Strings(otherNames)
	switch {
	case got > 0:
		ev := []string{desc, fmt.Sprintf("%d of them got a %q cookie with %d different session ids: each is a session saved for nobody (a new store row per bot, health check and first visit)", got, name, len(ids)), sample}
		for p, n := range perPath {
			ev = append(ev, fmt.Sprintf("%s: %d of %d", p, n, anonHits))
		}
		sort.Strings(ev[3:])
		if !c.sessionConfirmed {
			ev = append(ev, fmt.Sprintf("%q is taken for the session cookie by its name; log in (--email/--body) or pass --cookie to confirm", name))
		}
		c.add(secAnon, "anonymous.session", Fail, "anonymous requests get a session cookie: the server saves sessions nobody wrote to (saveUninitialized)", ev,
			"Create a session only when something is stored in it: express-session saveUninitialized: false (and don't touch req.session in middleware that runs on every request); sessionkit does this by default. Keep health checks and static files out of the session middleware.")
	default:
		ev := []string{desc, "none got a session cookie"}
		if len(otherNames) > 0 {
			ev = append(ev, "other cookies set anonymously (not the session cookie): "+strings.Join(otherNames, ", "))
		}
		c.add(secAnon, "anonymous.session", Pass, "anonymous requests get no session cookie", ev, "")
	}
	// The protected path must refuse anonymous requests, or the persistence
	// check below cannot see a lost session.
	var okAnon, refused int
	statuses := map[int]int{}
	for _, ex := range c.anon {
		if ex.url.Path != c.protected.Path {
			continue
		}
		statuses[ex.status]++
		switch {
		case ok2xx(ex.status):
			okAnon++
		case ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden:
			refused++
		}
	}
	last := c.anon[len(c.anon)-1].status
	ev := []string{fmt.Sprintf("%d anonymous requests to %s: %s", anonHits, c.protected.Path, statusCounts(statuses))}
	const fix = "Pass --protected with a path that answers 401 without a login and 2xx with one (ours: /api/user)."
	switch {
	case okAnon > 0:
		c.add(secAnon, "anonymous.protected", Warn, fmt.Sprintf("%s answers %d without a session: it cannot show whether the session is kept", c.protected.Path, last), ev, fix)
	case refused < anonHits:
		// Not found, a redirect to a login page, a server error: the
		// persistence check cannot tell a lost session from these.
		c.add(secAnon, "anonymous.protected", Warn, fmt.Sprintf("%s answers %d without a session, not 401: it may not be a path that needs a session", c.protected.Path, last), ev, fix)
	default:
		c.add(secAnon, "anonymous.protected", Pass, fmt.Sprintf("%s refuses anonymous requests (%d)", c.protected.Path, last), nil, "")
	}
}

// statusCounts renders HTTP statuses and how often each came: "3×401".
func statusCounts(m map[int]int) string {
	var s []string
	for st, n := range m {
		s = append(s, fmt.Sprintf("%d×%d", n, st))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// persistence makes Repeat requests to the protected path after the login,
// as the browser would: each response's Set-Cookie replaces the jar's.
// When some are refused it also replays the login's own cookie unchanged,
// which tells instances that disagree (some accept it, some do not) from a
// server that never accepts it.
func (c *httpCheck) persistence(ctx context.Context) error {
	name := c.session
	current := ""
	if cur := c.sessionCookie(c.protected); cur != nil {
		current = cur.Value
	}
	loginHeader := c.jar.Header(c.protected, c.crossSite)
	var (
		seq        []string
		ok, bad    int
		other      = map[int]int{}
		newIDs     int
		sameResent int
		opaqueNew  bool
		newOnBad   int
	)
	for i := 0; i < c.o.Repeat; i++ {
		ex, err := c.do(ctx, http.MethodGet, c.protected, c.jar, true, nil, nil, nil)
		if err != nil {
			return err
		}
		if c.firstAuthed == nil {
			c.firstAuthed = ex
		}
		switch {
		case ok2xx(ex.status):
			ok++
			seq = append(seq, "ok")
		case ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden:
			bad++
			seq = append(seq, fmt.Sprint(ex.status))
		default:
			other[ex.status]++
			seq = append(seq, fmt.Sprint(ex.status))
		}
		for _, v := range ex.verdicts {
			if v.Cookie.Name != name || !v.Stored {
				continue
			}
			oldID, signed := sessionID(current)
			newID, _ := sessionID(v.Cookie.Value)
			switch {
			case v.Cookie.Value == current:
				sameResent++
			case signed && oldID == newID:
				sameResent++
			default:
				newIDs++
				if !signed {
					opaqueNew = true
				}
				if !ok2xx(ex.status) {
					newOnBad++
				}
				seq[len(seq)-1] += "+new-cookie"
			}
			current = v.Cookie.Value
		}
	}
	n := c.o.Repeat
	ev := []string{fmt.Sprintf("%d requests to %s after login, as a browser (keeping any new cookie): %d ok, %d refused", n, c.protected.Path, ok, bad)}
	if len(other) > 0 {
		ev[0] += ", other: " + statusCounts(other)
	}
	ev = append(ev, "sequence: "+strings.Join(seq, " "))
	if newIDs > 0 {
		ev = append(ev, fmt.Sprintf("%d responses set a new %q session cookie (%d of them on refused requests)", newIDs, name, newOnBad))
	}
	if sameResent > 0 {
		ev = append(ev, fmt.Sprintf("%d responses re-sent the same session id (rolling expiry)", sameResent))
	}

	// Replay the login's cookie unchanged.
	var fixedOK, fixedBad int
	if (bad > 0 || len(other) > 0) && loginHeader != "" {
		probes := min(n, 10)
		var fseq []string
		for i := 0; i < probes; i++ {
			ex, err := c.do(ctx, http.MethodGet, c.protected, nil, true, nil, nil, &loginHeader)
			if err != nil {
				return err
			}
			switch {
			case ok2xx(ex.status):
				fixedOK++
				fseq = append(fseq, "ok")
			default:
				fixedBad++
				fseq = append(fseq, fmt.Sprint(ex.status))
			}
		}
		ev = append(ev, fmt.Sprintf("the login's own cookie replayed unchanged %d times: %d ok, %d refused (%s)", probes, fixedOK, fixedBad, strings.Join(fseq, " ")))
	}

	const thrashFix = "Give every instance the same session secret (the same first secret in the list; old ones only for verification during a rotation) and the same shared store (one PostgreSQL table, never an in-memory store per instance). Sticky load balancing only hides this."
	intermittent := fmt.Sprintf("the session comes and goes (%d of %d requests refused): instances with different secrets or not sharing a store", bad, n)
	switch {
	case bad > 0 && newIDs > 0 && fixedOK > 0 && fixedBad == 0:
		// The login's cookie always works when replayed: what broke the
		// session is the new cookie a response handed out, not the
		// instances disagreeing about the login's.
		c.add(secPersist, "persist.thrash", Fail, "session thrash: the server replaces the login's cookie with a new session it then refuses", ev,
			"The login's cookie works, but a response after it set a new session cookie: the server does not recognise the session on that request (a secret or store differing between instances, or between routes) and starts a new one. "+thrashFix)
	case ok > 0 && bad > 0:
		c.add(secPersist, "persist.thrash", Fail, intermittent, ev, thrashFix)
	case bad > 0 && fixedOK > 0 && fixedBad > 0:
		if newOnBad > 0 {
			ev = append(ev, "every refusal also handed the browser a new session cookie, so once refused it stays logged out")
		}
		c.add(secPersist, "persist.thrash", Fail,
			fmt.Sprintf("session thrash: the login's cookie is accepted by some requests and refused by others (%d of %d): instances with different secrets or not sharing a store", fixedBad, fixedOK+fixedBad), ev, thrashFix)
	case bad+len(other) == n && bad > 0:
		title, fix := c.neverRecognised()
		c.add(secPersist, "persist.thrash", Fail, title, ev, fix)
	case ok == n && newIDs > 0 && opaqueNew:
		c.add(secPersist, "persist.thrash", Warn, fmt.Sprintf("the server replaces the session cookie on %d of %d requests", newIDs, n), ev,
			"If this is a rotating token, fine; if it is a session id, each replacement is a new session (thrash): check secrets and the store.")
	case ok == n && newIDs > 0:
		c.add(secPersist, "persist.thrash", Fail, fmt.Sprintf("session thrash: %d of %d requests got a new session id", newIDs, n), ev, thrashFix)
	case len(other) > 0:
		c.add(secPersist, "persist.thrash", Fail, fmt.Sprintf("%s answered neither 2xx nor 401 after login", c.protected.Path), ev,
			"Check --protected and the server's logs for these statuses.")
	default:
		c.add(secPersist, "persist.thrash", Pass, fmt.Sprintf("all %d requests kept the session", n), ev, "")
	}
	return nil
}

// neverRecognised explains why every request after the login was refused.
func (c *httpCheck) neverRecognised() (title, fix string) {
	if c.sessionVerdict != nil {
		if p, rejected := c.sessionVerdict.Rejection(); rejected {
			return "the session is never recognised: the browser dropped the login cookie (" + p.Message + ")",
				"Fix the cookie's attributes (see Session cookie above)."
		}
	}
	if c.sessionCookie(c.protected) == nil {
		why := "its Path, Domain or Secure flag"
		if c.crossSite {
			why = "SameSite: the front end is on another site"
		}
		return fmt.Sprintf("the session is never recognised: the browser does not send the cookie to %s (%s)", c.protected.Path, why),
			"Make the cookie reach the API (see Session cookie and Cross-origin above)."
	}
	return "the session is never recognised after login: the server does not accept the cookie it just set",
		"Check that the login saves the session (a store error, or saveUninitialized:false with nothing stored), that the session middleware is mounted on " + c.protected.Path +
			" with the same cookie name and secret as on the login route, and that every instance shares secret and store."
}

// sessionCookie returns the session cookie the jar sends to u (as the
// front end's page would), or nil.
func (c *httpCheck) sessionCookie(u *url.URL) *browser.Cookie {
	for _, ck := range c.jar.Cookies(u, c.crossSite) {
		if ck.Name == c.session {
			return &ck
		}
	}
	return nil
}

// cors checks the preflight and the credentialed responses, and whether the
// cookie goes cross-site at all.
func (c *httpCheck) cors(ctx context.Context) error {
	org := originOf(c.origin)
	if !c.crossOrigin {
		c.add(secCORS, "cors.same-origin", Info, "the front end's origin is the API's own: CORS does not apply", []string{"origin " + org}, "")
		return nil
	}
	const corsFix = "Answer with Access-Control-Allow-Origin set to the request's exact origin (from an allow-list, never * and never null), Access-Control-Allow-Credentials: true and Vary: Origin, on the preflight and on every response; the page must fetch with credentials: 'include'."
	// Preflight.
	pre, err := c.do(ctx, http.MethodOptions, c.login, nil, false, nil, map[string]string{
		"Origin":                         org,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type",
	}, nil)
	if err != nil {
		return err
	}
	var probs []string
	if !ok2xx(pre.status) {
		probs = append(probs, fmt.Sprintf("status %d (a preflight needs 2xx)", pre.status))
	}
	probs = append(probs, acaoProblems(pre.header, org)...)
	if ah := pre.header.Get("Access-Control-Allow-Headers"); !listHas(ah, "content-type") {
		probs = append(probs, fmt.Sprintf("Access-Control-Allow-Headers is %q: content-type is not allowed (and * does not count with credentials)", ah))
	}
	ev := []string{fmt.Sprintf("OPTIONS %s with Origin: %s, Access-Control-Request-Method: POST, Access-Control-Request-Headers: content-type → %d", c.login.Path, org, pre.status)}
	ev = append(ev, corsHeaders(pre.header)...)
	if len(probs) > 0 {
		c.add(secCORS, "cors.preflight", Fail, "the preflight fails: the browser never sends the login ("+probs[0]+")", append(ev, probs...), corsFix)
	} else {
		c.add(secCORS, "cors.preflight", Pass, "the preflight allows a credentialed JSON POST from "+org, ev, "")
	}

	// Credentialed responses.
	type resp struct {
		what string
		ex   *exchange
	}
	var rs []resp
	if c.loginEx != nil {
		rs = append(rs, resp{"POST " + c.login.Path, c.loginEx})
	}
	if c.firstAuthed != nil {
		rs = append(rs, resp{"GET " + c.protected.Path, c.firstAuthed})
	}
	if len(rs) == 0 {
		ex, err := c.do(ctx, http.MethodGet, c.protected, nil, true, nil, nil, nil)
		if err != nil {
			return err
		}
		rs = append(rs, resp{"GET " + c.protected.Path, ex})
	}
	probs, ev = nil, nil
	varyMissing := []string{}
	for _, r := range rs {
		ev = append(ev, fmt.Sprintf("%s with Origin: %s → %d; %s", r.what, org, r.ex.status, strings.Join(corsHeaders(r.ex.header), "; ")))
		for _, p := range acaoProblems(r.ex.header, org) {
			probs = append(probs, r.what+": "+p)
		}
		if !listHas(strings.Join(r.ex.header.Values("Vary"), ","), "origin") {
			varyMissing = append(varyMissing, r.what)
		}
	}
	title := "credentialed responses allow " + org
	if len(probs) > 0 {
		title = "the browser blocks the API's responses: " + probs[0]
		if strings.Contains(probs[0], "*") {
			title = "Access-Control-Allow-Origin: * with credentials: browsers block every credentialed response"
		}
		c.add(secCORS, "cors.credentials", Fail, title, append(ev, probs...), corsFix)
	} else {
		c.add(secCORS, "cors.credentials", Pass, title, ev, "")
	}
	if len(varyMissing) > 0 {
		c.add(secCORS, "cors.vary", Warn, "no Vary: Origin on responses that echo the origin: a cache can serve one origin's response to another",
			[]string{"missing on: " + strings.Join(varyMissing, ", ")}, "Add Vary: Origin to every response whose Access-Control-Allow-Origin depends on the request.")
	} else {
		c.add(secCORS, "cors.vary", Pass, "Vary: Origin is set", nil, "")
	}

	// Will the cookie go cross-site?
	site, apiSite := browser.Site(c.origin.Hostname()), browser.Site(c.base.Hostname())
	if !c.crossSite {
		c.add(secCORS, "cors.cookie-site", Pass, fmt.Sprintf("same site (%s): the browser sends the session cookie with credentialed fetches", site),
			[]string{fmt.Sprintf("front end %s, API %s", org, originOf(c.base))}, "")
		return nil
	}
	ev = []string{fmt.Sprintf("front end site %s, API site %s: cross-site", site, apiSite)}
	if c.sessionVerdict == nil {
		c.add(secCORS, "cors.cookie-site", Info, "cross-site front end; no session cookie to judge (log in to check it)", ev, "")
		return nil
	}
	ck := c.sessionVerdict.Cookie
	sameSiteFix := fmt.Sprintf("Best: serve the API under the front end's site (e.g. api.%s) so the cookie is first-party with SameSite=Lax. Otherwise SameSite=None; Secure over https, and accept that third-party cookie blocking will still lose it for some users.", site)
	if ck.SameSite != "None" {
		ss := ck.SameSite
		if ss == "" {
			ss = "unset (Lax)"
		}
		c.add(secCORS, "cors.cookie-site", Fail, fmt.Sprintf("the browser will not send the session cookie cross-site: SameSite=%s", ss),
			append(ev, "SameSite Lax and Strict cookies are neither stored from nor sent with cross-site fetch/XHR, so every API call from the front end is anonymous"), sameSiteFix)
		return nil
	}
	c.add(secCORS, "cors.cookie-site", Warn, "the session cookie is a third-party cookie: Safari, Firefox's strict mode and Chrome users who block third-party cookies drop it",
		append(ev, "SameSite=None; Secure: sent cross-site where third-party cookies are allowed"), sameSiteFix)
	return nil
}

// acaoProblems checks a credentialed CORS response's headers for origin org.
func acaoProblems(h http.Header, org string) []string {
	var p []string
	switch acao := h.Get("Access-Control-Allow-Origin"); {
	case acao == "":
		p = append(p, "no Access-Control-Allow-Origin")
	case acao == "*":
		p = append(p, "Access-Control-Allow-Origin: * is refused for credentialed requests")
	case acao == "null":
		p = append(p, "Access-Control-Allow-Origin: null (any sandboxed page would match)")
	case acao != org:
		p = append(p, fmt.Sprintf("Access-Control-Allow-Origin %q is not the origin %q", acao, org))
	}
	if acac := h.Get("Access-Control-Allow-Credentials"); acac != "true" {
		if acac == "" {
			acac = "absent"
		}
		p = append(p, "Access-Control-Allow-Credentials is "+acac+", not true")
	}
	return p
}

func corsHeaders(h http.Header) []string {
	var out []string
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Vary"} {
		if vs := h.Values(k); len(vs) > 0 {
			out = append(out, k+": "+strings.Join(vs, ", "))
		}
	}
	if len(out) == 0 {
		out = append(out, "no CORS headers")
	}
	return out
}

// listHas reports whether a comma-separated header list names v
// (case-insensitively).
func listHas(list, v string) bool {
	for _, item := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(item), v) {
			return true
		}
	}
	return false
}

// debugEndpoint compares what the server says it received with what was
// sent.
func (c *httpCheck) debugEndpoint(ctx context.Context) error {
	const hits = 3
	var (
		ev                                []string
		notFound, notJSON, noHeader       int
		headerMissing, headerDiff, idDiff int
		noUser, badSig                    int
		fields                            bool
	)
	for i := 0; i < hits; i++ {
		ex, err := c.do(ctx, http.MethodGet, c.debug, c.jar, true, nil, nil, nil)
		if err != nil {
			return err
		}
		if ex.status == http.StatusNotFound {
			notFound++
			continue
		}
		var d map[string]any
		if json.Unmarshal(ex.body, &d) != nil {
			notJSON++
			ev = append(ev, fmt.Sprintf("GET %s → %d, not JSON: %s", c.debug.Path, ex.status, bodySnippet(ex.body)))
			continue
		}
		line := fmt.Sprintf("sent Cookie: %s; server saw", redactCookieHeader(ex.sent))
		hv, hasHeader := firstKey(d, "cookiesHeader", "cookieHeader", "cookies", "cookie")
		if !hasHeader {
			noHeader++
		} else {
			got, _ := hv.(string)
			line += " cookiesHeader: " + redactCookieHeader(got)
			same, masked := sameCookieHeader(ex.sent, got)
			switch {
			case ex.sent != "" && got == "":
				headerMissing++
			case !same:
				headerDiff++
			case masked:
				line += " (values redacted by the server: names compared)"
			}
		}
		if sig, ok := d["signature"].(string); ok {
			line += ", signature " + sig
			// "unknown" is ours; "bad-signature" is the library's name for it.
			if sig == "unknown" || sig == "bad-signature" {
				badSig++
			}
		}
		lost := false
		if idv, ok := d["id"].(string); ok {
			fields = true
			line += ", id " + Redact(idv)
			// Compare with the cookie sent, not the jar: the response may
			// already have replaced it.
			if v, ok := cookieValue(ex.sent, c.session); ok {
				if cid, signed := sessionID(v); signed && !sameID(cid, idv) {
					idDiff++
				}
			}
		}
		if hs, ok := d["hasSession"]; ok {
			fields = true
			line += ", hasSession " + jsonText(hs)
			if c.loggedIn && hs == false {
				lost = true
			}
		}
		if uv, ok := d["userId"]; ok {
			fields = true
			line += ", userId " + jsonText(uv)
			if c.loggedIn && (uv == nil || uv == "") {
				lost = true
			}
		}
		if lost {
			noUser++
		}
		ev = append(ev, line)
	}
	ev = dedupe(ev)
	switch {
	case notFound == hits:
		c.add(secDebug, "debug.cookies", Warn, fmt.Sprintf("%s answered 404 (disabled, as it should be in production?)", c.debug.Path), nil,
			"Pass --debug with the path of an endpoint that reports the Cookie header and session it received, or drop --debug.")
		return nil
	case notJSON > 0:
		c.add(secDebug, "debug.cookies", Warn, "the debug endpoint does not answer JSON", ev, "It should answer {\"id\",\"hasSession\",\"userId\",\"cookiesHeader\"}.")
		return nil
	}
	switch {
	case headerMissing > 0:
		c.add(secDebug, "debug.cookies", Fail, fmt.Sprintf("the server received no Cookie header on %d of %d requests that carried one: something in between strips it", headerMissing, hits), ev,
			"Find what drops the Cookie header between the browser and the app: a CDN or cache rule, a proxy, a serverless rewrite to another service, or a route served by another app.")
	case headerDiff > 0:
		c.add(secDebug, "debug.cookies", Warn, fmt.Sprintf("the server received a different Cookie header than was sent (%d of %d)", headerDiff, hits), ev,
			"Something between the browser and the app rewrites cookies (a proxy adding or removing some); make sure the session cookie passes unchanged.")
	case noHeader == hits:
		c.add(secDebug, "debug.cookies", Info, "the debug endpoint does not report the Cookie header it received (cookiesHeader)", ev, "")
	default:
		c.add(secDebug, "debug.cookies", Pass, "the server receives exactly the Cookie header the browser sends", ev, "")
	}
	if !fields {
		return nil
	}
	switch {
	case badSig > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server rejected the cookie's signature on %d of %d requests: an instance with a different secret", badSig, hits), ev,
			"Use one secret on every instance (the same first secret in the list; old ones only for verification during a rotation).")
	case idDiff > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server sees another session than the cookie names (%d of %d): it rejected the cookie's signature (a different secret) or could not load the session", idDiff, hits), ev,
			"Use one secret on every instance and one shared store; check the store is reachable from every instance.")
	case noUser > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server does not see the login on %d of %d requests", noUser, hits), ev,
			"The login's session is not the one this route loads: check secret, cookie name and store are the same for the login route and this one.")
	default:
		c.add(secDebug, "debug.session", Pass, "the server sees the session the cookie names", ev, "")
	}
	return nil
}

// sameCookieHeader compares the Cookie header sent with the one a debug
// endpoint reports having received. The endpoint may redact values
// ("[redacted]", "abc…"): then names and order are compared, and masked says
// so.
func sameCookieHeader(sent, got string) (same, masked bool) {
	if sent == got {
		return true, false
	}
	split := func(h string) [][2]string {
		var out [][2]string
		for _, p := range strings.Split(h, ";") {
			if p = strings.TrimSpace(p); p != "" {
				n, v, _ := strings.Cut(p, "=")
				out = append(out, [2]string{n, v})
			}
		}
		return out
	}
	a, b := split(sent), split(got)
	if len(a) != len(b) {
		return false, false
	}
	for i := range a {
		if a[i][0] != b[i][0] {
			return false, false
		}
		if a[i][1] == b[i][1] {
			continue
		}
		if !looksRedacted(a[i][1], b[i][1]) {
			return false, false
		}
		masked = true
	}
	return true, masked
}

// looksRedacted reports whether shown is a redaction of value.
func looksRedacted(value, shown string) bool {
	l := strings.ToLower(shown)
	if strings.Contains(l, "redacted") || strings.Contains(l, "***") {
		return true
	}
	if p, ok := truncated(shown); ok {
		return strings.HasPrefix(value, p)
	}
	return false
}

// truncated strips a trailing ellipsis ("…" or "...").
func truncated(s string) (string, bool) {
	for _, e := range []string{"…", "..."} {
		if p, ok := strings.CutSuffix(s, e); ok {
			return p, true
		}
	}
	return s, false
}

// sameID compares a session id with one a debug endpoint reports, which may
// be a prefix ending in an ellipsis.
func sameID(id, shown string) bool {
	if p, ok := truncated(shown); ok {
		return p != "" && strings.HasPrefix(id, p)
	}
	return id == shown
}

// withCookie returns the Cookie header h with the cookie name set to value,
// replacing any it had.
func withCookie(h, name, value string) string {
	var parts []string
	for _, p := range strings.Split(h, ";") {
		if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, name+"=") {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, name+"="+value), "; ")
}

// cookieValue returns the value of the cookie name in a Cookie header.
func cookieValue(header, name string) (string, bool) {
	for _, p := range strings.Split(header, ";") {
		if n, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && n == name {
			return v, true
		}
	}
	return "", false
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// dedupe collapses runs of identical lines into one with a count.
func dedupe(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s (×%d)", lines[i], j-i))
		} else {
			out = append(out, lines[i])
		}
		i = j
	}
	return out
}

func firstKey(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	return nil, false
}

// logoutCheck logs out and replays the old cookie.
func (c *httpCheck) logoutCheck(ctx context.Context) error {
	old := c.sessionCookie(c.protected)
	if old == nil {
		c.add(secLogout, "logout.cleared", Info, "not checked: the browser holds no session cookie for "+c.protected.Path, nil, "")
		return nil
	}
	oldHeader := c.jar.Header(c.protected, c.crossSite)
	ex, err := c.do(ctx, http.MethodPost, c.logout, c.jar, true, nil, nil, nil)
	if err != nil {
		return err
	}
	ev := []string{fmt.Sprintf("POST %s → %d", c.logout.Path, ex.status)}
	for _, v := range ex.verdicts {
		if v.Cookie.Name == c.session {
			ev = append(ev, "Set-Cookie: "+redactSetCookie(v.Cookie.Raw))
		}
	}
	if ex.status == http.StatusNotFound {
		c.add(secLogout, "logout.cleared", Warn, fmt.Sprintf("no logout endpoint at %s", c.logout.Path), ev, "Pass --logout with the logout path (POST), or --logout '' to skip.")
		return nil
	}
	if !ok2xx(ex.status) {
		c.add(secLogout, "logout.cleared", Fail, fmt.Sprintf("logout failed with status %d", ex.status), ev, "Logout must answer 2xx, destroy the session and clear the cookie.")
		return nil
	}
	after := c.sessionCookie(c.protected)
	switch {
	case after == nil:
		c.add(secLogout, "logout.cleared", Pass, "logout clears the cookie", ev, "")
	case after.Value != old.Value:
		c.add(secLogout, "logout.cleared", Pass, "logout replaces the cookie with a new session's", ev, "")
	default:
		ev = append(ev, "the browser still holds and sends the old "+c.session+" cookie")
		c.add(secLogout, "logout.cleared", Warn, "logout leaves the session cookie in the browser", ev,
			"Clear the cookie with the same Name, Path and Domain it was set with (express-session: res.clearCookie(name, {path, domain}) after req.session.destroy; sessionkit: Destroy does both).")
	}
	// Replay the old cookie, as someone who had copied it would.
	rex, err := c.do(ctx, http.MethodGet, c.protected, nil, true, nil, nil, &oldHeader)
	if err != nil {
		return err
	}
	ev = []string{fmt.Sprintf("GET %s with the pre-logout cookie %s=%s → %d", c.protected.Path, c.session, Redact(old.Value), rex.status)}
	switch {
	case ok2xx(rex.status):
		c.add(secLogout, "logout.replay", Fail, "the old cookie still works after logout: the session was not destroyed on the server", ev,
			"Delete the session from the store on logout (express-session: req.session.destroy; sessionkit: Session.Destroy), not only the cookie: a copied cookie must die with the logout.")
	case rex.status == http.StatusUnauthorized || rex.status == http.StatusForbidden:
		c.add(secLogout, "logout.replay", Pass, "the old cookie is refused after logout", ev, "")
	default:
		c.add(secLogout, "logout.replay", Warn, fmt.Sprintf("replaying the old cookie got status %d (expected 401)", rex.status), ev, "")
	}
	return nil
}
