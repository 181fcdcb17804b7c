package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// BlankPage serves an empty HTML page: a document for Fetch to run in, on
// whatever origin the test needs one.
var BlankPage http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte("<!doctype html><html><head><meta charset=utf-8><title>browsertest</title></head><body></body></html>"))
})

// FetchResult is what a page's fetch came back with.
type FetchResult struct {
	// Status is the HTTP status, 0 when the fetch failed (Error).
	Status int
	// Body is the response body as text.
	Body string
	// Error is the TypeError a failed fetch rejects with (a CORS refusal, a
	// network error), "" when a response came back.
	Error string
}

// Fetch runs fetch(url, init) in the page ctx shows and returns the
// outcome; init is a JavaScript object literal ("{credentials: 'include'}";
// "" for none). A fetch that fails (CORS, network) is a result with Error
// set, not a test failure; a page that cannot run it fails the test.
func Fetch(t testing.TB, ctx context.Context, url, init string) FetchResult {
	t.Helper()
	if init == "" {
		init = "{}"
	}
	u, err := json.Marshal(url)
	if err != nil {
		t.Fatal(err)
	}
	js := `fetch(` + string(u) + `, ` + init + `)
		.then(r => r.text().then(body => ({Status: r.status, Body: body})))
		.catch(e => ({Error: String(e)}))`
	return Value(t, ctx, "fetch "+url, chromedp.Evaluate[FetchResult](js, chromedp.EvalAwaitPromise))
}

// Cookies returns the cookies Chromium keeps, in ctx's browser context, that
// apply to any of urls.
func Cookies(t testing.TB, ctx context.Context, urls ...string) []*network.Cookie {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	res, err := chromedp.Call(tctx, network.GetCookies, network.GetCookiesParams{URLs: urls})
	if err != nil {
		t.Fatalf("browser: read cookies for %v: %v", urls, err)
	}
	return res.Cookies
}

// SetCookieOutcome is what Chromium did with one Set-Cookie line of a
// response: stored it, or blocked it for Reasons.
type SetCookieOutcome struct {
	// URL is the request's URL.
	URL string
	// Line is the Set-Cookie line, as Chromium reports it.
	Line string
	// Reasons are Chromium's SetCookieBlockedReason values ("SecureOnly",
	// "SameSiteLax", "InvalidPrefix", …); empty when the cookie was stored.
	Reasons []string
}

// SentCookie is a cookie Chromium considered for a request: sent, or
// withheld for Reasons.
type SentCookie struct {
	// URL is the request's URL.
	URL string
	// Name is the cookie's name.
	Name string
	// Reasons are Chromium's CookieBlockedReason values ("SameSiteLax",
	// "SecureOnly", "DomainMismatch", …); empty when the cookie was sent.
	Reasons []string
}

// CookieWatch records, from the moment WatchCookies returns, what Chromium
// did with the cookies of every request of one tab, with its own reasons.
type CookieWatch struct {
	mu   sync.Mutex
	urls map[network.RequestID]string
	// set and sent are kept by request id until the URL is known: the
	// extra-info events may come before the request's own event.
	set  map[network.RequestID][]SetCookieOutcome
	sent map[network.RequestID][]SentCookie
	all  []network.RequestID
}

// WatchCookies starts recording ctx's cookie traffic. Chromium reports
// blocked Set-Cookie lines with their reasons; lines it stored come from the
// response headers (a stored line has no Reasons).
func WatchCookies(t testing.TB, ctx context.Context) *CookieWatch {
	t.Helper()
	w := &CookieWatch{
		urls: map[network.RequestID]string{},
		set:  map[network.RequestID][]SetCookieOutcome{},
		sent: map[network.RequestID][]SentCookie{},
	}
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if _, ok := w.urls[ev.RequestID]; !ok {
				w.all = append(w.all, ev.RequestID)
			}
			w.urls[ev.RequestID] = ev.Request.URL
		case *network.EventRequestWillBeSentExtraInfo:
			for _, c := range ev.AssociatedCookies {
				if c.Cookie == nil {
					continue
				}
				sc := SentCookie{Name: c.Cookie.Name}
				for _, r := range c.BlockedReasons {
					sc.Reasons = append(sc.Reasons, string(r))
				}
				w.sent[ev.RequestID] = append(w.sent[ev.RequestID], sc)
			}
		case *network.EventResponseReceivedExtraInfo:
			blocked := map[string]bool{}
			for _, b := range ev.BlockedCookies {
				o := SetCookieOutcome{Line: b.CookieLine}
				for _, r := range b.BlockedReasons {
					o.Reasons = append(o.Reasons, string(r))
				}
				blocked[b.CookieLine] = true
				w.set[ev.RequestID] = append(w.set[ev.RequestID], o)
			}
			for k, v := range ev.Headers {
				if !strings.EqualFold(k, "Set-Cookie") {
					continue
				}
				s, _ := v.(string)
				for _, line := range strings.Split(s, "\n") {
					if line != "" && !blocked[line] {
						w.set[ev.RequestID] = append(w.set[ev.RequestID], SetCookieOutcome{Line: line})
					}
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("browser: watch cookies: %v", err)
	}
	return w
}

// SetCookies returns the outcome of every Set-Cookie line of the responses
// to requests whose URL contains urlPart, in the order of the requests.
func (w *CookieWatch) SetCookies(urlPart string) []SetCookieOutcome {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []SetCookieOutcome
	for _, id := range w.all {
		if u := w.urls[id]; strings.Contains(u, urlPart) {
			for _, o := range w.set[id] {
				o.URL = u
				out = append(out, o)
			}
		}
	}
	return out
}

// SentCookies returns the cookies Chromium considered for requests whose
// URL contains urlPart, sent or withheld, in the order of the requests.
func (w *CookieWatch) SentCookies(urlPart string) []SentCookie {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []SentCookie
	for _, id := range w.all {
		if u := w.urls[id]; strings.Contains(u, urlPart) {
			for _, c := range w.sent[id] {
				c.URL = u
				out = append(out, c)
			}
		}
	}
	return out
}

// ConsoleWatch collects a tab's console messages from the moment
// WatchConsole returns.
type ConsoleWatch struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// WatchConsole starts collecting the console messages, uncaught exceptions
// and browser log entries (failed loads, CSP violations) of ctx's tab.
func WatchConsole(t testing.TB, ctx context.Context) *ConsoleWatch {
	t.Helper()
	w := &ConsoleWatch{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.messages = append(w.messages, m)
			w.mu.Unlock()
		}
	}()
	return w
}

// Errors returns the messages so far that are errors: uncaught exceptions,
// console.error and browser log entries of level error.
func (w *ConsoleWatch) Errors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.messages {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			out = append(out, m.String())
		}
	}
	return out
}

// Screenshot writes a PNG of the whole page ctx shows to path.
func Screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	png := Value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: write screenshot: %v", err)
	}
}
