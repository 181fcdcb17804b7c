package browser_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
)

// The scenarios of the seed's third step, played in real headless Chromium
// against the reference server, each also asked of the doctor's browser
// model (the code `doctor http` judges cookies with). Chromium is the truth:
// the model must agree on every scenario, stored or not, sent or not, and
// why. docs/browser-cookies.md's table of what Chromium did is rendered from
// these runs (updateDocsEnv rewrites it).

const (
	testSecret   = "test-secret-test-secret-test-secret-0123456789"
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery staple"
	// updateDocsEnv, set to 1, makes TestChromiumScenarios write its table
	// into docs/browser-cookies.md instead of failing when the page's differs.
	updateDocsEnv = "SESSIONKIT_UPDATE_DOCS"
)

// outcome is what happened to the session cookie in one scenario. The
// reasons are the model's codes; Chromium's are translated by setReason and
// sendReason.
type outcome struct {
	Stored      bool
	StoreReason string // why it was not stored ("" when stored)
	Sent        bool   // sent with GET /api/user
	SendReason  string // why it was not sent
	UserStatus  int    // GET /api/user's status
	// FrontSent reports whether the front end's own origin (a different
	// host only) received the cookie: "yes", "no (reason)" or "" (same
	// origin, not asked).
	FrontSent string
}

// scenario is one row of the table: a page on one origin logging in against
// the reference server on another (or the same) and then asking for the user.
type scenario struct {
	name string
	// page is the front end's host, "" for the API's own origin.
	page string
	// api is the API's host.
	api string
	// https serves both over HTTPS (under the test CA).
	https bool
	// config adjusts the reference server's configuration; pageOrigin is
	// the front end's origin, for CORS_ORIGINS.
	config func(cfg *server.Config, pageOrigin string)
	// loginFirstParty logs in on the API's own origin (a page there) before
	// the front end calls /api/user.
	loginFirstParty bool
	// login and user are the credentials modes of the two fetches ("" is
	// fetch's default, same-origin).
	login, user string
	// want is what the issue expects; nil where it asks only to record
	// what Chromium does.
	want *outcome
}

func TestChromiumScenarios(t *testing.T) {
	b := browsertest.Start(t)
	production := func(cfg *server.Config, _ string) { cfg.Production = true }
	cors := func(domain string, sameSite http.SameSite, prod bool) func(*server.Config, string) {
		return func(cfg *server.Config, origin string) {
			cfg.CORSOrigins = []string{origin}
			cfg.CookieDomain = domain
			cfg.SameSite = sameSite
			cfg.Production = prod
		}
	}
	scenarios := []scenario{
		{name: "1. same origin, HTTP", api: "app.example.test",
			want: &outcome{Stored: true, Sent: true, UserStatus: 200}},
		{name: "1. same origin, HTTPS (production: Secure)", api: "app.example.test", https: true, config: production,
			want: &outcome{Stored: true, Sent: true, UserStatus: 200}},
		{name: "2. app. → api., COOKIE_DOMAIN=example.test, credentials: 'include'", page: "app.example.test", api: "api.example.test",
			config: cors("example.test", 0, false), login: browser.CredentialsInclude, user: browser.CredentialsInclude,
			want: &outcome{Stored: true, Sent: true, UserStatus: 200, FrontSent: "yes"}},
		{name: "2. app. → api., COOKIE_DOMAIN=example.test, /api/user without credentials", page: "app.example.test", api: "api.example.test",
			config: cors("example.test", 0, false), login: browser.CredentialsInclude,
			want: &outcome{Stored: true, SendReason: browser.WithheldCredentials, UserStatus: 401, FrontSent: "yes"}},
		{name: "2. app. → api., host-only cookie, credentials: 'include'", page: "app.example.test", api: "api.example.test",
			config: cors("", 0, false), login: browser.CredentialsInclude, user: browser.CredentialsInclude,
			want: &outcome{Stored: true, Sent: true, UserStatus: 200, FrontSent: "no (" + browser.WithheldDomain + ")"}},
		{name: "3. front.other.test → api.example.test, SameSite=None; Secure", page: "front.other.test", api: "api.example.test", https: true,
			config: cors("", http.SameSiteNoneMode, true), login: browser.CredentialsInclude, user: browser.CredentialsInclude},
		{name: "3. the same, logged in on api.example.test itself first", page: "front.other.test", api: "api.example.test", https: true,
			config: cors("", http.SameSiteNoneMode, true), loginFirstParty: true, user: browser.CredentialsInclude},
		{name: "4. front.other.test → api.example.test, SameSite=Lax", page: "front.other.test", api: "api.example.test", https: true,
			config: cors("", http.SameSiteLaxMode, true), login: browser.CredentialsInclude, user: browser.CredentialsInclude,
			want: &outcome{StoreReason: "third-party", SendReason: "absent", UserStatus: 401, FrontSent: "no (absent)"}},
		{name: "5. Secure cookie over plain HTTP, api.example.test", api: "api.example.test", config: production,
			want: &outcome{StoreReason: "secure-over-http", SendReason: "absent", UserStatus: 401}},
		{name: "5. Secure cookie over http://localhost", api: "localhost", config: production,
			want: &outcome{Stored: true, Sent: true, UserStatus: 200}},
		{name: "6. __Host-sid over HTTPS", api: "app.example.test", https: true,
			config: func(cfg *server.Config, _ string) { cfg.Production, cfg.CookieName = true, "__Host-sid" },
			want:   &outcome{Stored: true, Sent: true, UserStatus: 200}},
	}
	var rows []string
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			chromium, model := play(t, b, sc)
			if chromium != model {
				t.Errorf("Chromium and the doctor's model disagree:\nChromium %+v\nmodel    %+v", chromium, model)
			}
			if sc.want != nil && chromium != *sc.want {
				t.Errorf("Chromium did %+v, the issue expects %+v", chromium, *sc.want)
			}
			rows = append(rows, tableRow(sc.name, chromium, chromium == model))
		})
	}
	csrf := playCSRF(t, b)
	if !t.Failed() {
		checkDocsTable(t, rows, csrf)
	}
}

// apiServer starts the reference server (embedded SQLite in a temporary
// directory) with one user, behind a mux that also serves a blank page at
// /blank for same-origin scenarios.
func apiServer(t *testing.T, cfg server.Config) http.Handler {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(ctx, testEmail, testPassword, 4); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /blank", browsertest.BlankPage)
	mux.Handle("/", srv)
	return mux
}

func baseConfig(t *testing.T) server.Config {
	return server.Config{
		DataDir:       t.TempDir(),
		Secrets:       []string{testSecret},
		AutoMigrate:   true,
		BcryptCost:    4,
		PruneInterval: -1,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// frontEnd serves the front end: a blank page at /blank and, at /echo, the
// front end's own server that a request to it reaches.
var frontEnd = func() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /blank", browsertest.BlankPage)
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}()

func serve(t *testing.T, b *browsertest.Browser, https bool, h http.Handler) string {
	if https {
		return b.ServeTLS(t, h).URL
	}
	return browsertest.Serve(t, h).URL
}

func on(t *testing.T, base, host string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host + ":" + u.Port()
	return u.String()
}

func fetchInit(method, credentials, body string) string {
	init := "{method: '" + method + "'"
	if credentials != "" {
		init += ", credentials: '" + credentials + "'"
	}
	if body != "" {
		init += ", headers: {'Content-Type': 'application/json'}, body: " + fmt.Sprintf("%q", body)
	}
	return init + "}"
}

// play runs sc in a fresh browser context and in the model, returning both
// outcomes.
func play(t *testing.T, b *browsertest.Browser, sc scenario) (chromium, model outcome) {
	pageOrigin := ""
	if sc.page != "" {
		pageOrigin = on(t, serve(t, b, sc.https, frontEnd), sc.page)
	}
	cfg := baseConfig(t)
	if sc.config != nil {
		sc.config(&cfg, pageOrigin)
	}
	cookieName := cfg.CookieName
	if cookieName == "" {
		cookieName = "sessionkit.sid"
	}
	api := on(t, serve(t, b, sc.https, apiServer(t, cfg)), sc.api)
	if pageOrigin == "" {
		pageOrigin = api
	}
	page, login, user, echo := pageOrigin+"/blank", api+"/api/login", api+"/api/user", pageOrigin+"/echo"

	// Chromium.
	ctx := b.Profile(t)
	watch := browsertest.WatchCookies(t, ctx)
	loginPage := page
	if sc.loginFirstParty {
		loginPage = api + "/blank"
	}
	browsertest.Step(t, ctx, "open the log-in page", chromedp.Navigate(loginPage))
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, testEmail, testPassword)
	if r := browsertest.Fetch(t, ctx, login, fetchInit("POST", sc.login, body)); r.Status != 200 {
		t.Fatalf("log-in fetch: %+v", r)
	}
	browsertest.Step(t, ctx, "open the front end", chromedp.Navigate(page))
	chromium.UserStatus = browsertest.Fetch(t, ctx, user, fetchInit("GET", sc.user, "")).Status
	if pageOrigin != api {
		browsertest.Fetch(t, ctx, echo, "")
		browsertest.WaitCookies(t, watch, "GET", echo)
	}
	browsertest.WaitCookies(t, watch, "POST", login)
	browsertest.WaitCookies(t, watch, "GET", user)
	var line string
	for _, o := range watch.SetCookies(login) {
		if strings.HasPrefix(o.Line, cookieName+"=") {
			line = o.Line
			chromium.Stored, chromium.StoreReason = len(o.Reasons) == 0, setReason(o.Reasons)
		}
	}
	if line == "" {
		t.Fatalf("Chromium reported no Set-Cookie %s on the log-in: %+v", cookieName, watch.SetCookies(login))
	}
	var stored *network.Cookie
	if i := slices.IndexFunc(browsertest.Cookies(t, ctx, login), func(c *network.Cookie) bool { return c.Name == cookieName }); i >= 0 {
		stored = browsertest.Cookies(t, ctx, login)[i]
	}
	if (stored != nil) != chromium.Stored {
		t.Fatalf("Chromium's jar holds the cookie: %v; its Set-Cookie report says stored: %v", stored != nil, chromium.Stored)
	}
	chromium.Sent, chromium.SendReason = sentTo(watch.SentCookies(user), cookieName, stored, sessiontest.MustURL(t, user))
	if pageOrigin != api {
		chromium.FrontSent = yesNo(sentTo(watch.SentCookies(echo), cookieName, stored, sessiontest.MustURL(t, echo)))
	}

	// The model, fed the Set-Cookie line Chromium received.
	jar := browser.NewJar(nil)
	pageURL, loginPageURL := sessiontest.MustURL(t, page), sessiontest.MustURL(t, loginPage)
	loginURL, userURL := sessiontest.MustURL(t, login), sessiontest.MustURL(t, user)
	if browser.CredentialsSent(sc.login, loginPageURL, loginURL) {
		v := jar.Set(loginURL, line, !browser.SameSite(loginPageURL, loginURL))
		model.Stored = v.Stored
		if p, rejected := v.Rejection(); rejected {
			model.StoreReason = string(p.Code)
		}
	} else {
		model.StoreReason = browser.WithheldCredentials
	}
	model.Sent, model.SendReason = decide(jar, sc.user, pageURL, userURL, cookieName)
	model.UserStatus = 401
	if model.Sent {
		model.UserStatus = 200
	}
	if pageOrigin != api {
		model.FrontSent = yesNo(decide(jar, "", pageURL, sessiontest.MustURL(t, echo), cookieName))
	}
	return chromium, model
}

// decide asks the model whether a fetch with credentials mode from page to u
// sends the cookie called name, and if not why ("absent": not in the jar).
func decide(jar *browser.Jar, credentials string, page, u *url.URL, name string) (bool, string) {
	if !browser.CredentialsSent(credentials, page, u) {
		if hasCookie(jar, name) {
			return false, browser.WithheldCredentials
		}
		return false, "absent"
	}
	for _, d := range jar.Decide(u, !browser.SameSite(page, u)) {
		if d.Cookie.Name == name {
			return d.Withheld == "", d.Withheld
		}
	}
	return false, "absent"
}

func hasCookie(jar *browser.Jar, name string) bool {
	return slices.ContainsFunc(jar.All(), func(c browser.Cookie) bool { return c.Name == name })
}

// sentTo reads Chromium's report for the requests to u: was the cookie
// sent, and if not why. Chromium lists every stored cookie of the request's
// site (registrable domain) with the reasons it withheld each, another
// host's host-only cookie included (DomainMismatch), and none for a fetch
// whose credentials mode sends no cookies. So a stored cookie of the same
// site that it does not list was kept out by the credentials mode; one of
// another site does not cover the host; one it does not hold is absent.
func sentTo(considered []browsertest.SentCookie, name string, stored *network.Cookie, u *url.URL) (bool, string) {
	for _, c := range considered {
		if c.Name == name {
			if len(c.Reasons) == 0 {
				return true, ""
			}
			return false, sendReason(c.Reasons)
		}
	}
	switch {
	case stored == nil:
		return false, "absent"
	case browser.Site(strings.TrimPrefix(stored.Domain, ".")) != browser.Site(u.Hostname()):
		return false, browser.WithheldDomain
	}
	return false, browser.WithheldCredentials
}

func yesNo(sent bool, reason string) string {
	if sent {
		return "yes"
	}
	return "no (" + reason + ")"
}

// setReason translates Chromium's SetCookieBlockedReason into the model's
// problem code.
func setReason(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	switch r := reasons[0]; r {
	case "SecureOnly":
		return "secure-over-http"
	case "SameSiteNoneInsecure":
		return "samesite-none-insecure"
	case "SameSiteLax", "SameSiteStrict", "SameSiteUnspecifiedTreatedAsLax",
		"SchemefulSameSiteLax", "SchemefulSameSiteStrict", "SchemefulSameSiteUnspecifiedTreatedAsLax":
		return "samesite-cross-site"
	case "InvalidPrefix":
		return "prefix"
	case "InvalidDomain":
		return "domain"
	case "NameValuePairExceedsMaxSize":
		return "too-large"
	case "UserPreferences", "ThirdPartyPhaseout":
		return "third-party"
	default:
		return "chromium:" + r
	}
}

// sendReason translates Chromium's CookieBlockedReason into the model's
// Withheld value.
func sendReason(reasons []string) string {
	switch r := reasons[0]; r {
	case "DomainMismatch":
		return browser.WithheldDomain
	case "NotOnPath":
		return browser.WithheldPath
	case "SecureOnly":
		return browser.WithheldSecure
	case "UserPreferences", "ThirdPartyPhaseout":
		return browser.WithheldThirdParty
	case "SameSiteLax", "SameSiteStrict", "SameSiteUnspecifiedTreatedAsLax",
		"SchemefulSameSiteLax", "SchemefulSameSiteStrict", "SchemefulSameSiteUnspecifiedTreatedAsLax":
		return browser.WithheldSameSite
	default:
		return "chromium:" + r
	}
}

// docs/browser-cookies.md's markers around the tables TestChromiumScenarios renders.
const (
	docsBegin = "<!-- chromium-scenarios: begin (rendered by TestChromiumScenarios in cmd/internal/doctor/browser) -->\n"
	docsEnd   = "<!-- chromium-scenarios: end -->\n"
)

func tableRow(name string, o outcome, agree bool) string {
	stored := "yes"
	if !o.Stored {
		stored = "no (" + o.StoreReason + ")"
	}
	front := o.FrontSent
	if front == "" {
		front = "same origin"
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %s | %s |", name, stored, yesNo(o.Sent, o.SendReason), o.UserStatus, front, agreeCell(agree))
}

func agreeCell(agree bool) string {
	if agree {
		return "yes"
	}
	return "**no**"
}

// checkDocsTable holds docs/browser-cookies.md's tables to what Chromium did
// in this run; with SESSIONKIT_UPDATE_DOCS=1 it rewrites them instead.
func checkDocsTable(t *testing.T, rows, csrfRows []string) {
	t.Helper()
	table := docsBegin +
		"| Scenario | Cookie stored | Sent with `GET /api/user` | `/api/user` | Sent to the front end's own origin | Model agrees |\n" +
		"|---|---|---|---|---|---|\n" +
		strings.Join(rows, "\n") + "\n\n" +
		"| Cross-site form (CSRF) | Cookie sent with the POST | Server's answer | Session survives | Model agrees |\n" +
		"|---|---|---|---|---|\n" +
		strings.Join(csrfRows, "\n") + "\n" +
		docsEnd
	const path = "../../../../docs/browser-cookies.md"
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	i, j := strings.Index(s, docsBegin), strings.Index(s, docsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q block; put one where the table belongs", path, docsBegin, docsEnd)
	}
	got := s[i : j+len(docsEnd)]
	if got == table {
		return
	}
	if os.Getenv(updateDocsEnv) == "1" {
		if err := os.WriteFile(path, []byte(s[:i]+table+s[j+len(docsEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's table differs from what Chromium did (rerun with %s=1 to rewrite it):\n%s", path, updateDocsEnv, table)
}
