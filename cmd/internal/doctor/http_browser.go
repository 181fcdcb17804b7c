package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
)

// The values of HTTPOptions.Browser (doctor http --browser).
const (
	// BrowserOff: the doctor's model of a browser judges every cookie.
	BrowserOff = "off"
	// BrowserAuto: real Chromium when one is installed, else the model.
	BrowserAuto = "auto"
	// BrowserChromium: real Chromium, an error when none is installed.
	BrowserChromium = "chromium"
)

// secBrowser is the section of the findings headless Chromium made.
const secBrowser = "In Chromium"

// doctorPagePath is the path of the page Chromium runs the log-in from: the
// doctor answers it itself, so it never reaches the app.
const doctorPagePath = "/.sessionkit-doctor"

// ErrNoChromium is returned by CheckHTTP for Browser "chromium" when no
// Chromium or Chrome is installed.
var ErrNoChromium = errors.New("doctor: --browser chromium: no chromium, chromium-browser or google-chrome on $PATH " +
	"(Debian: apt-get install -y chromium)")

// inChromium plays the log-in and the follow-up requests in real headless
// Chromium: a blank page the doctor answers itself on the front end's
// origin (Origin, else the API's) fetches the login and then the protected path with credentials:
// 'include', as a front end does. Chromium's own verdicts (was the cookie
// stored, was it sent, and its reasons) become the findings of
// "In Chromium", and replace the model's "Staying logged in": when the
// browser is on, the report's verdicts are the browser's.
func (c *httpCheck) inChromium(ctx context.Context) error {
	tab, stop, err := c.startChromium(ctx)
	if err != nil {
		return err
	}
	defer stop()
	version, err := chromedp.CallBrowser(tab, browser.GetVersion, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("doctor: ask Chromium its version: %w", err)
	}
	c.rep.Browser = "headless Chromium (" + version.Product + ")"

	step := func(what string, f func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(tab, c.o.Timeout)
		defer cancel()
		if err := f(sctx); err != nil {
			return fmt.Errorf("doctor: Chromium: %s: %w", what, err)
		}
		return nil
	}
	// The page is the doctor's own, answered by Chromium's request
	// interception at the front end's origin: the app's pages, CSP and 404s
	// play no part, as a front end's own page would have its own.
	org := originOf(c.base)
	if c.origin != nil {
		org = originOf(c.origin)
	}
	page := org + doctorPagePath
	watch, err := chromium.Watch(tab)
	if err != nil {
		return err
	}
	if err := step("open "+page, func(ctx context.Context) error { return chromium.OpenPage(ctx, page) }); err != nil {
		return err
	}
	fetch := func(u, init string) (chromium.FetchResult, error) {
		var r chromium.FetchResult
		err := step("fetch "+u, func(ctx context.Context) (err error) {
			r, err = chromium.Fetch(ctx, u, init)
			return err
		})
		return r, err
	}
	login, err := fetch(c.login.String(), fmt.Sprintf("{method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json'}, body: %q}", c.o.LoginBody))
	if err != nil {
		return err
	}
	ev := []string{fmt.Sprintf("a page on %s (the doctor's own) fetched POST %s with credentials: 'include'", org, c.login.Path)}
	if login.Error != "" {
		c.add(secBrowser, "browser.login", Fail, "Chromium's log-in fetch failed: "+login.Error, ev,
			"A fetch that fails without a status is a CORS refusal or a network error: see Cross-origin front end.")
		return nil
	}
	ev = append(ev, fmt.Sprintf("→ %d %s", login.Status, bodySnippet([]byte(login.Body))))
	if !ok2xx(login.Status) {
		c.add(secBrowser, "browser.login", Fail, fmt.Sprintf("Chromium's log-in answered %d", login.Status), ev, "")
		return nil
	}

	if err := step("read the log-in's cookie report", func(ctx context.Context) error { return watch.Wait(ctx, "POST", c.login.String()) }); err != nil {
		return err
	}
	// The session cookie: the one the model picked, else the first one the
	// login set that looks like a session's.
	name := c.session
	outcomes := watch.SetCookies(c.login.String())
	var got *chromium.SetCookieOutcome
	for i, o := range outcomes {
		n, _, _ := strings.Cut(o.Line, "=")
		if n == name || name == "" && looksLikeSession(n) {
			got = &outcomes[i]
			name = n
		}
	}
	switch {
	case got == nil:
		c.add(secBrowser, "browser.cookie", Fail, "Chromium received no session cookie from the log-in", ev, "")
		return nil
	case len(got.Reasons) > 0:
		title := fmt.Sprintf("Chromium refused the session cookie %q: %s", name, explainAll(got.Reasons))
		if slices.Contains(got.Reasons, "SecureOnly") && c.login.Scheme == "http" {
			title = "this request was plain HTTP: " + title
		}
		c.add(secBrowser, "browser.cookie", Fail, title,
			append(ev, "Set-Cookie: "+redactSetCookie(got.Line)), "Fix the cookie's attributes (see Session cookie).")
	default:
		c.add(secBrowser, "browser.cookie", Pass, fmt.Sprintf("Chromium stored the session cookie %q", name),
			append(ev, "Set-Cookie: "+redactSetCookie(got.Line)), "")
	}
	c.compareModel("stored", c.sessionVerdict != nil && c.sessionVerdict.Stored, len(got.Reasons) == 0)

	// The follow-up requests, as the front end makes them.
	ok, seq := 0, make([]string, 0, c.o.Repeat)
	for i := 0; i < c.o.Repeat; i++ {
		r, err := fetch(c.protected.String(), "{credentials: 'include'}")
		if err != nil {
			return err
		}
		if ok2xx(r.Status) {
			ok++
			seq = append(seq, "ok")
		} else if r.Error != "" {
			seq = append(seq, "failed")
		} else {
			seq = append(seq, fmt.Sprint(r.Status))
		}
	}
	if err := step("read the cookie report", func(ctx context.Context) error { return watch.Wait(ctx, "GET", c.protected.String()) }); err != nil {
		return err
	}
	sent, why := true, ""
	for _, s := range watch.SentCookies(c.protected.String()) {
		if s.Name == name && len(s.Reasons) > 0 {
			sent, why = false, explainAll(s.Reasons)
		}
	}
	if !slicesContainsName(watch.SentCookies(c.protected.String()), name) {
		sent, why = false, "Chromium did not consider it (no stored cookie for this host, or a fetch without credentials)"
	}
	if sent {
		c.add(secBrowser, "browser.sent", Pass, fmt.Sprintf("Chromium sends the cookie with GET %s", c.protected.Path), nil, "")
	} else {
		c.add(secBrowser, "browser.sent", Fail, fmt.Sprintf("Chromium does not send the cookie with GET %s: %s", c.protected.Path, why), nil,
			"Make the cookie reach the API (see Session cookie and Cross-origin front end).")
	}
	c.compareModel("sent", c.modelSent, sent)

	// Chromium's follow-up requests replace the model's.
	kept := c.rep.Findings[:0]
	for _, f := range c.rep.Findings {
		if f.Section != secThrash {
			kept = append(kept, f)
		}
	}
	c.rep.Findings = kept
	pev := []string{fmt.Sprintf("%d fetches of %s with credentials: 'include' in Chromium: %d ok, %d refused", c.o.Repeat, c.protected.Path, ok, c.o.Repeat-ok),
		"sequence: " + strings.Join(seq, " ")}
	switch ok {
	case c.o.Repeat:
		c.add(secThrash, "persist.thrash", Pass, fmt.Sprintf("all %d requests kept the session in Chromium", c.o.Repeat), pev, "")
	case 0:
		title, fix := c.neverRecognised()
		c.add(secThrash, "persist.thrash", Fail, title+" (in Chromium)", pev, fix)
	default:
		c.add(secThrash, "persist.thrash", Fail, fmt.Sprintf("%d of %d requests lost the session in Chromium", c.o.Repeat-ok, c.o.Repeat), pev,
			"Sessions that come and go mean instances that do not share the session secret or store: "+
				"give every instance the same secret and the same shared store.")
	}
	return nil
}

// startChromium returns a tab of a fresh profile: in the running Chromium
// of HTTPOptions.Chromium, else in a headless Chromium of its own, started
// with ChromiumFlags (and Insecure's flag). stop closes what it opened.
func (c *httpCheck) startChromium(ctx context.Context) (tab context.Context, stop func(), err error) {
	if c.o.Chromium != nil {
		tab, cancel := chromedp.NewContext(c.o.Chromium, chromedp.WithNewBrowserContext())
		if err := chromedp.Do(tab); err != nil {
			cancel()
			return nil, nil, fmt.Errorf("doctor: open a browser context in Chromium: %w", err)
		}
		return tab, cancel, nil
	}
	dir, err := os.MkdirTemp("", "sessionkit-doctor-chromium-")
	if err != nil {
		return nil, nil, err
	}
	flags := append(append(chromium.PageFlags(), chromiumResolve(c.resolve)...), c.o.ChromiumFlags...)
	if c.o.Insecure {
		// As for the model's requests: a self-signed development certificate.
		flags = append([]chromedp.ExecAllocatorOption{chromedp.Flag("ignore-certificate-errors", true)}, flags...)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromium.Flags(dir, flags...)...)
	tab, cancelTab := chromedp.NewContext(alloc)
	stop = func() {
		cancelTab()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(tab); err != nil {
		stop()
		return nil, nil, fmt.Errorf("doctor: start headless Chromium: %w", err)
	}
	return tab, stop, nil
}

// compareModel adds a warning when the doctor's model said otherwise than
// Chromium did: the report follows Chromium, and the model has a bug.
func (c *httpCheck) compareModel(what string, model, chromium bool) {
	if model == chromium {
		return
	}
	c.add(secBrowser, "browser.model", Warn, fmt.Sprintf("the doctor's model of a browser says the cookie is %s: %v; Chromium: %v. The report follows Chromium", what, model, chromium), nil,
		"Report it to sessionkit with this output: the model is held to Chromium by tests, and this case is missing.")
}

func slicesContainsName(cs []chromium.SentCookie, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// explainAll puts Chromium's reasons in words.
func explainAll(reasons []string) string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		out = append(out, chromium.Explain(r))
	}
	return strings.Join(out, "; ")
}
