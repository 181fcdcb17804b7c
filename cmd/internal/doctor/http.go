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
	"sort"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
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
	// Browser is BrowserOff (or empty: the model judges every cookie),
	// BrowserAuto (real headless Chromium when installed, else the model)
	// or BrowserChromium (real Chromium, ErrNoChromium when none is
	// installed). With Chromium, the log-in and the follow-up requests are
	// played in it too, and its verdicts replace the model's.
	Browser string
	// ChromiumFlags are extra command-line switches for Chromium (tests map
	// their host names to 127.0.0.1 with them). Nil means none.
	ChromiumFlags []chromedp.ExecAllocatorOption
	// Resolve sends the connections for HOST:PORT to ADDR, in curl's
	// --resolve form "HOST:PORT:ADDR", in the doctor's requests and in
	// Chromium's (unless Chromium is set), so that the report is about
	// http(s)://HOST:PORT as a browser there sees it, on the one instance at
	// ADDR. Nil means the names resolve as usual.
	Resolve []string
	// Chromium, when not nil, is a running Chromium's chromedp context (tests
	// share one), started with chromium.PageFlags: the check opens its own browser context in it, with
	// cookies of its own, instead of starting a browser, and ChromiumFlags
	// and Insecure do not apply to it. Nil starts one per check.
	Chromium context.Context
	// Transport carries the requests. Nil means a fresh http.Transport
	// honouring the proxy environment; tests use it to reach a local server
	// under another host name.
	Transport http.RoundTripper
}

// Section names of doctor http, in report order.
const (
	secAnon   = "Anonymous requests"
	secLogin  = "Login"
	secCookie = "Session cookie"
	secThrash = "Staying logged in"
	secCORS   = "Cross-origin front end"
	secDebug  = "Debug endpoint"
	secLogout = "Logout"
)

var httpSections = []string{secAnon, secLogin, secCookie, secBrowser, secThrash, secCORS, secDebug, secLogout}

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
	resolve                               []resolveRule
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
	// modelSent is the model's verdict, after the log-in and before the
	// log-out, on whether the browser sends the session cookie to the
	// protected path: what Chromium's follow-up requests are compared with.
	modelSent bool
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
	useChromium := false
	switch o.Browser {
	case "", BrowserOff:
	case BrowserAuto:
		useChromium = chromium.ExecPath() != ""
	case BrowserChromium:
		if chromium.ExecPath() == "" {
			return nil, ErrNoChromium
		}
		useChromium = true
	default:
		return nil, fmt.Errorf("%w: --browser %q: want auto, chromium or off", ErrUsage, o.Browser)
	}
	c.rep.Browser = "the doctor's model of Chrome (--browser off)"
	if o.Browser == BrowserAuto && !useChromium {
		c.rep.Browser = "the doctor's model of Chrome (--browser auto: no Chromium installed)"
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	switch {
	case useChromium && c.loggedIn:
		if err := c.inChromium(ctx); err != nil {
			return nil, err
		}
	case useChromium && c.o.LoginBody == nil:
		c.rep.Browser = "the doctor's model of Chrome (Chromium plays only a log-in: pass --email or --body)"
	case useChromium:
		c.rep.Browser = "the doctor's model of Chrome " +
			"(Chromium plays the log-in only once the model's log-in works: see Login and Session cookie)"
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
	if c.resolve, err = parseResolves(o.Resolve); err != nil {
		return nil, err
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		tr = t
	}
	tr = withResolve(tr, c.resolve)
	c.client = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// A browser's fetch follows redirects, but the doctor judges every
		// response's Set-Cookie itself, so it stops at the first.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.jar = browser.NewJar(c.now)
	c.rep = &Report{Kind: "http", Target: base.String()}
	for _, r := range c.resolve {
		c.rep.Target += fmt.Sprintf(" (--resolve %s:%s:%s)", r.host, r.port, r.addr)
	}
	return c, nil
}

func (c *httpCheck) run(ctx context.Context) error {
	if err := c.anonymous(ctx); err != nil {
		return err
	}
	if c.o.LoginBody != nil {
		if err := c.doLogin(ctx); err != nil {
			return err
		}
	} else {
		c.add(secLogin, "login.skipped", Info, "no login performed: pass --email "+
			"(password on standard input) or --body to check the login, whether the session sticks "+
			"(staying logged in) and the logout", nil, "")
	}
	if c.o.CookieName != "" {
		c.session, c.sessionConfirmed = c.o.CookieName, true
	}
	c.judgeAnonymous()
	if c.loggedIn {
		c.modelSent = c.sessionCookie(c.protected) != nil
		if err := c.thrash(ctx); err != nil {
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
	if c.loggedIn {
		if err := c.dbscCheck(ctx); err != nil {
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

func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// request is one request the doctor sends.
type request struct {
	method string
	url    *url.URL
	// jar, when not nil, supplies the Cookie header and stores what comes
	// back. Nil sends no cookies (but see cookie) and keeps none.
	jar *browser.Jar
	// fromPage marks a request made by the front end's page: it carries the
	// Origin header, and cross-site cookie rules apply when the front end is
	// on another site.
	fromPage bool
	// body, when not nil, is sent as JSON.
	body []byte
	// header holds extra request headers.
	header map[string]string
	// cookie, when not nil, is sent as the Cookie header instead of the
	// jar's; the response still goes to the jar.
	cookie *string
}

// do sends one request.
func (c *httpCheck) do(ctx context.Context, r request) (*exchange, error) {
	u, jar := r.url, r.jar
	// A page on another site sends and receives cookies under cross-site rules.
	crossSite := r.fromPage && c.crossSite
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("doctor: %s %s: %w", r.method, u, err)
	}
	req.Header.Set("User-Agent", "sessionkit-doctor/1")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/html;q=0.9, */*;q=0.8")
	if r.fromPage && c.origin != nil && c.crossOrigin {
		req.Header.Set("Origin", originOf(c.origin))
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	ex := &exchange{url: u}
	switch {
	case r.cookie != nil:
		ex.sent = *r.cookie
	case jar != nil:
		ex.sent = jar.Header(u, crossSite)
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
		ex.verdicts = jar.SetFromResponse(u, resp.Header, crossSite)
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

// statusCounts renders HTTP statuses and how often each came: "3×401".
func statusCounts(m map[int]int) string {
	var s []string
	for st, n := range m {
		s = append(s, fmt.Sprintf("%d×%d", n, st))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
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
