package doctor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/cli"
)

// PairOptions configures CheckPair: a Node and a Go deployment that should
// share sessions (one store, secret and cookie).
type PairOptions struct {
	// NodeURL and GoURL are the two sides' base URLs.
	NodeURL, GoURL string
	// LoginBody is the JSON POSTed to LoginPath on each side.
	LoginBody []byte
	// LoginPath, ProtectedPath and LogoutPath are the API's routes, the
	// same on both sides. Zero: /api/login, /api/user, /api/logout.
	LoginPath, ProtectedPath, LogoutPath string
	// CookieName is the session cookie's name. Zero: the one the first
	// log-in sets.
	CookieName string
	// Timeout bounds each request. Zero: 10 seconds.
	Timeout time.Duration
}

// pairSlack is how far apart the two log-ins' cookie lifetimes may be: the
// time between the two log-ins, and Max-Age's whole seconds.
const pairSlack = 60 * time.Second

// CheckPair logs in on one side and reads on the other, both ways, logs
// out on each side and reads on the other, and compares the two log-ins'
// cookies: name, Path, Domain, Secure, HttpOnly, SameSite and lifetime.
// The error is for a side that could not be reached at all.
func CheckPair(ctx context.Context, o PairOptions) (*Report, error) {
	if o.LoginPath == "" {
		o.LoginPath = "/api/login"
	}
	if o.ProtectedPath == "" {
		o.ProtectedPath = "/api/user"
	}
	if o.LogoutPath == "" {
		o.LogoutPath = "/api/logout"
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	r := &Report{Kind: "pair", Target: o.NodeURL + " ↔ " + o.GoURL}
	var cookies [2]*http.Cookie
	sides := [2]struct{ name, url string }{{"Node", o.NodeURL}, {"Go", o.GoURL}}
	for i, from := range sides {
		to := sides[1-i]
		id := "pair." + strings.ToLower(from.name) + "-to-" + strings.ToLower(to.name)
		section := "Log in on " + from.name + ", read on " + to.name
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: o.Timeout}
		code, setCookie, err := pairDo(ctx, c, "POST", from.url+o.LoginPath, o.LoginBody, o.CookieName)
		if err != nil {
			return nil, fmt.Errorf("doctor pair: log in on %s: %w", from.name, err)
		}
		if code != http.StatusOK || setCookie == nil {
			r.add(Finding{ID: id + ".login", Section: section, Status: Fail, Title: fmt.Sprintf("log-in on %s answered %d without a session cookie", from.name, code),
				Fix: "check the credentials " +
					"(--email and the password on standard input) and that the user exists on both sides (sessionkit users import)"})
			continue
		}
		if o.CookieName == "" {
			o.CookieName = setCookie.Name
		}
		cookies[i] = setCookie
		code, _, err = pairDo(ctx, c, "GET", to.url+o.ProtectedPath, nil, "")
		switch {
		case err != nil:
			return nil, fmt.Errorf("doctor pair: read on %s: %w", to.name, err)
		case code == http.StatusOK:
			r.add(Finding{ID: id + ".read", Section: section, Status: Pass, Title: to.name + " reads the session " + from.name + " created",
				Evidence: []string{fmt.Sprintf("GET %s on %s: %d", o.ProtectedPath, to.name, code)}})
		default:
			r.add(Finding{ID: id + ".read", Section: section, Status: Fail, Title: fmt.Sprintf("%s answers %d for the session %s created", to.name, code, from.name),
				Evidence: []string{fmt.Sprintf("cookie %s from %s's log-in", Redact(setCookie.Value), from.name)},
				Fix: "give both sides the same store " +
					"(SESSION_TABLE or REDIS_LAYOUT=connect-redis and REDIS_PREFIX), SESSION_SECRET, " +
					"COOKIE_NAME and user key (SESSION_USER_KEY)"})
		}
		code, _, err = pairDo(ctx, c, "POST", to.url+o.LogoutPath, nil, "")
		if err == nil && code == http.StatusOK {
			code, _, err = pairDo(ctx, c, "GET", from.url+o.ProtectedPath, nil, "")
			st, title := Pass, "a log-out on "+to.name+" ends the session on "+from.name
			if err != nil || code != http.StatusUnauthorized {
				st, title = Fail, fmt.Sprintf("after a log-out on %s, %s still answers %d", to.name, from.name, code)
			}
			r.add(Finding{ID: id + ".logout", Section: section, Status: st, Title: title})
		}
	}
	if cookies[0] != nil && cookies[1] != nil {
		comparePairCookies(r, cookies[0], cookies[1])
	}
	r.finish()
	return r, nil
}

// comparePairCookies reports each attribute the two log-ins' cookies
// disagree on: a browser would keep two cookies, or drop one side's.
func comparePairCookies(r *Report, node, gc *http.Cookie) {
	const section = "Cookies of the two log-ins"
	attrs := []struct {
		name, node, gov, fix string
	}{
		{"name", node.Name, gc.Name, "COOKIE_NAME = express-session's name"},
		{"Path", node.Path, gc.Path, "cookie.path on Node; serve uses /"},
		{"Domain", strings.TrimPrefix(node.Domain, "."), strings.TrimPrefix(gc.Domain, "."), "COOKIE_DOMAIN = cookie.domain"},
		{"Secure", fmt.Sprint(node.Secure), fmt.Sprint(gc.Secure), "APP_ENV=production exactly where cookie.secure is true"},
		{"HttpOnly", fmt.Sprint(node.HttpOnly), fmt.Sprint(gc.HttpOnly), "cookie.httpOnly: true on Node"},
		{"SameSite", sameSiteName(node.SameSite), sameSiteName(gc.SameSite), "COOKIE_SAMESITE = cookie.sameSite"},
	}
	for _, a := range attrs {
		f := Finding{ID: "pair.cookie." + strings.ToLower(a.name), Section: section, Status: Pass, Title: a.name + " agrees: " + a.node}
		if a.node != a.gov {
			f.Status, f.Title, f.Fix = Fail, fmt.Sprintf("%s differs: Node %q, Go %q", a.name, a.node, a.gov), a.fix
		}
		r.add(f)
	}
	nl, gl := cookieLifetime(node), cookieLifetime(gc)
	f := Finding{ID: "pair.cookie.lifetime", Section: section, Status: Pass, Title: "the cookie lives as long on both sides: " + nl.String(),
		Evidence: []string{"Node: " + nl.String(), "Go: " + gl.String()}}
	if d := (nl - gl).Abs(); d > pairSlack {
		f.Status = Fail
		f.Title = fmt.Sprintf("a log-in's cookie lives %s on Node and %s on Go", nl, gl)
		f.Fix = fmt.Sprintf("SESSION_TTL=%s (Node's cookie.maxAge) and no SESSION_IDLE_TIMEOUT, unless Node has rolling: true", nl)
	}
	r.add(f)
}

// cookieLifetime is how long the browser keeps c: Max-Age, else Expires
// (express-session sends only Expires), else 0 (a browser-session
// cookie). Past ten minutes it is rounded to the minute, so that the
// second between a log-in and this reading does not show.
func cookieLifetime(c *http.Cookie) time.Duration {
	var d time.Duration
	switch {
	case c.MaxAge > 0:
		d = time.Duration(c.MaxAge) * time.Second
	case !c.Expires.IsZero():
		d = time.Until(c.Expires)
	}
	if d >= 10*time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return "unset"
}

// pairDo sends one request and returns the status and, when name is set
// (or "" on a log-in, the first cookie), the session cookie it set.
func pairDo(ctx context.Context, c *http.Client, method, url string, body []byte, name string) (int, *http.Cookie, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	for _, ck := range resp.Cookies() {
		if name == "" || ck.Name == name {
			return resp.StatusCode, ck, nil
		}
	}
	return resp.StatusCode, nil, nil
}

// runPair runs `sessionkit doctor pair`.
func runPair(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor pair", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o PairOptions
	var email string
	var asJSON bool
	fs.StringVar(&o.NodeURL, "node", "", "the Node app's base `URL`")
	fs.StringVar(&o.GoURL, "go", "", "the Go service's base `URL`")
	fs.StringVar(&email, "email", "", "log in as {\"email\": `E`, \"password\": <first line of standard input>}, a user both sides know")
	fs.StringVar(&o.LoginPath, "login", "/api/login", "login `path` (POST, JSON body)")
	fs.StringVar(&o.ProtectedPath, "protected", "/api/user", "a `path` that answers 200 with a session and 401 without")
	fs.StringVar(&o.LogoutPath, "logout", "/api/logout", "logout `path` (POST)")
	fs.StringVar(&o.CookieName, "cookie", "", "session cookie `name` (default: the one the log-in sets)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sessionkit doctor pair --node URL --go URL --email E [flags]\n\n"+
			"Logs in on each side and reads on the other, logs out on each and reads on the other,\n"+
			"and compares the two log-ins' cookies (attributes and lifetime).\n\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if o.NodeURL == "" || o.GoURL == "" || email == "" {
		fmt.Fprintln(stderr, "doctor pair: --node, --go and --email are required; the password is read from standard input")
		return ExitUsage
	}
	var ok bool
	if o.LoginBody, ok = passwordLogin("doctor pair", email, stdin, stderr); !ok {
		return ExitUsage
	}
	r, err := CheckPair(ctx, o)
	return finish("doctor pair", r, err, asJSON, "", stdout, stderr)
}
