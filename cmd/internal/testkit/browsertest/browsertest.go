// Package browsertest runs tests in a real browser: Debian's headless
// Chromium, driven through chromedp.
//
// Start launches one browser for a test (share it across subtests: one
// browser process per test package keeps the suite fast). It runs with a
// fresh --user-data-dir, maps every name under example.test and other.test
// to 127.0.0.1 (so subdomains and other sites are real to the browser while
// every server is a local listener), and trusts a certificate authority of
// its own, made for the test, so that Browser.ServeTLS serves real HTTPS to
// those names. Profile opens an isolated browser context in it (its own
// cookies and storage), so that one test can play two devices or two users.
//
// The helpers of page.go run a fetch in a page (Fetch), read the cookies
// Chromium keeps (Cookies), record why it stored, refused or withheld each
// cookie (WatchCookies), collect console errors (WatchConsole) and take
// screenshots (Screenshot). The launch flags, Fetch and WatchCookies are
// package chromium's, which doctor http --browser shares.
//
// A test that needs the browser fails, never skips, when Chromium cannot
// start: install it with `apt-get install -y chromium` (scripts/test does
// when it is missing).
package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
)

// Timeout bounds each browser step a test runs with Step or Value; the
// browser itself lives as long as the test.
const Timeout = 30 * time.Second

// Sites are the registrable domains the browser resolves, with every name
// under them, to 127.0.0.1: app.example.test and api.example.test are one
// site, front.other.test another.
var Sites = []string{"example.test", "other.test"}

// Browser is one headless Chromium process and the certificate authority it
// trusts.
type Browser struct {
	// Context is the browser's chromedp context. Run steps in a Profile
	// derived from it, not in it.
	Context context.Context
	ca      *authority
}

// Flags returns the command-line switches the harness starts Chromium
// with: chromium.Flags in userDataDir, Sites mapped to 127.0.0.1, and the
// certificates whose public keys hash (SHA-256, base64) to spki trusted.
func Flags(userDataDir string, spki ...string) []chromedp.ExecAllocatorOption {
	var rules []string
	for _, s := range Sites {
		rules = append(rules, "MAP "+s+" 127.0.0.1", "MAP *."+s+" 127.0.0.1")
	}
	extra := []chromedp.ExecAllocatorOption{chromedp.Flag("host-resolver-rules", strings.Join(rules, ", "))}
	if len(spki) > 0 {
		// Trust exactly these keys, not every certificate: the pages stay
		// secure contexts and any other certificate error still fails.
		extra = append(extra, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spki, ",")))
	}
	return chromium.Flags(userDataDir, extra...)
}

// Start launches headless Chromium for t with Flags and a new certificate
// authority; the browser stops when the test ends. It fails the test when
// Chromium cannot start.
func Start(t testing.TB) *Browser {
	t.Helper()
	ca := newAuthority(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), Flags(t.TempDir(), ca.spki)...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first Do starts the browser; its context must not carry a timeout,
	// which would stop the whole browser when it fired.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("browsertest: cannot start headless Chromium (install it: apt-get install -y chromium): %v", err)
	}
	return &Browser{Context: browser, ca: ca}
}

// New starts headless Chromium for t and returns the browser's context:
// Start(t).Context, for tests that need no HTTPS server.
func New(t testing.TB) context.Context {
	t.Helper()
	return Start(t).Context
}

// NewWith is New with extra launch switches after Flags' (doctor http's
// browser needs chromium.PageFlags).
func NewWith(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(Flags(t.TempDir()), extra...)...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("browsertest: cannot start headless Chromium (install it: apt-get install -y chromium): %v", err)
	}
	return browser
}

// Profile returns a context for a new tab in a new browser context of the
// browser that Start started: nothing (cookies, storage, cache) is shared
// with other profiles, as on another device. It is closed when the test
// ends.
func Profile(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: open a browser context: %v", err)
	}
	return ctx
}

// Profile is Profile(t, b.Context).
func (b *Browser) Profile(t testing.TB) context.Context {
	t.Helper()
	return Profile(t, b.Context)
}

// Step runs steps in ctx (a Profile) with Timeout, failing the test with
// what, and the error, when one fails.
func Step(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// Value runs one action that returns a value in ctx with Timeout, failing
// the test with what when it fails.
func Value[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}
