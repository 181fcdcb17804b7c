package browsertest

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
)

// BlankPage serves an empty HTML page: a document for Fetch to run in, on
// whatever origin the test needs one.
var BlankPage http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte("<!doctype html><html><head><meta charset=utf-8><title>browsertest</title></head><body></body></html>"))
})

// FetchResult is what a page's fetch came back with (chromium.FetchResult).
type FetchResult = chromium.FetchResult

// Fetch runs fetch(url, init) in the page ctx shows (chromium.Fetch) with
// Timeout; init is a JavaScript object literal ("{credentials: 'include'}";
// "" for none). A fetch that fails (CORS, network) is a result with Error
// set, not a test failure; a page that cannot run it fails the test.
func Fetch(t testing.TB, ctx context.Context, url, init string) FetchResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	r, err := chromium.Fetch(ctx, url, init)
	if err != nil {
		t.Fatalf("browser: fetch %s: %v", url, err)
	}
	return r
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

// The cookie reports of chromium.Watch.
type (
	CookieWatch      = chromium.CookieWatch
	SetCookieOutcome = chromium.SetCookieOutcome
	SentCookie       = chromium.SentCookie
)

// WatchCookies starts recording ctx's cookie traffic (chromium.Watch):
// what Chromium stored, refused or withheld, with its own reasons.
func WatchCookies(t testing.TB, ctx context.Context) *CookieWatch {
	t.Helper()
	w, err := chromium.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return w
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

// WaitCookies waits, up to Timeout, until w holds Chromium's cookie report
// for a request with method to a URL containing urlPart (its reports come
// as events, possibly after the page has the response); read w after it.
func WaitCookies(t testing.TB, w *CookieWatch, method, urlPart string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := w.Wait(ctx, method, urlPart); err != nil {
		t.Fatal(err)
	}
}
