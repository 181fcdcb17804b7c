// Package browsertest runs tests in a real browser: Debian's headless
// Chromium, driven through chromedp. New starts one browser for a test;
// Profile opens an isolated browser context in it (its own cookies and
// storage), so that one test can play two devices of one user, or two
// users.
//
// A test that needs the browser fails, never skips, when Chromium cannot
// start: install it with `apt-get install -y chromium` (scripts/test does
// when it is missing).
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds each browser step a test runs with Step; the browser itself
// lives as long as the test.
const Timeout = 30 * time.Second

// New starts headless Chromium for t and returns the browser's context. The
// browser stops when the test ends. Run steps in a Profile, not in this
// context: each Profile is a fresh browser context.
func New(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox on (containers, CI).
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
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
	return browser
}

// Profile returns a context for a new tab in a new browser context of the
// browser that New started: nothing (cookies, storage, cache) is shared
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
