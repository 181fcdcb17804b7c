package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
)

// screenshotDirEnv names a directory to write the account page's screenshot
// into; docs/account-page.png was made with
//
//	SESSIONKIT_SCREENSHOT_DIR=$PWD/docs go test ./cmd/internal/server -run TestAccountPageInChromium
const screenshotDirEnv = "SESSIONKIT_SCREENSHOT_DIR"

// until waits for the JavaScript expression js to be true in the page.
func until(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](js)(ctx, t)
		return err
	})
}

// sessionCount waits for the page to list n sessions.
func sessionCount(n int) chromedp.Action[chromedp.Void] {
	return until(`document.querySelectorAll('#sessions li').length === ` + strconv.Itoa(n))
}

// logInWithForm opens the page at url and logs in with the form, by mouse.
func logInWithForm(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("account")),
	)
}

// TestAccountPageInChromium: in real headless Chromium, under the page's
// Content-Security-Policy, a user logs in from two browser contexts (one by
// keyboard alone), sees both sessions with this device marked, logs the other
// one out, and the other context is logged out on its next request
// (ASVS 7.5.2). The page fits a phone's width.
func TestAccountPageInChromium(t *testing.T) {
	browser := browsertest.New(t)
	h := start(t, baseConfig(t))
	h.addUser(testEmail, testPassword)

	r := h.do("GET", "/", "", nil)
	if csp := r.Header.Get("Content-Security-Policy"); r.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("GET / = %d, CSP %q", r.StatusCode, csp)
	}
	if r.cookie() != nil {
		t.Fatal("the page set a session cookie")
	}

	laptop := browsertest.Profile(t, browser)
	browsertest.Step(t, laptop, "log in with the form",
		logInWithForm(h.url),
		sessionCount(1),
	)
	who := browsertest.Value(t, laptop, "read the user", chromedp.Text(chromedp.ID("who")))
	if who != testEmail {
		t.Fatalf("account page shows %q, want %q", who, testEmail)
	}
	if c := browsertest.Value(t, laptop, "read document.cookie", chromedp.Evaluate[string](`document.cookie`)); c != "" {
		t.Fatalf("page scripts can read the session cookie: %q", c)
	}

	// The second device logs in by keyboard alone: type, Tab, type, Enter.
	phone := browsertest.Profile(t, browser)
	browsertest.Step(t, phone, "log in by keyboard",
		chromedp.Navigate(h.url+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.Focus(chromedp.ID("email")),
		chromedp.KeyEvent(testEmail+"\t"+testPassword+"\r"),
		chromedp.WaitVisible(chromedp.ID("account")),
		sessionCount(2),
	)

	browsertest.Step(t, laptop, "see both sessions", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("account")), sessionCount(2))
	marked := browsertest.Value(t, laptop, "read the current session", chromedp.Text(chromedp.CSS("#sessions li.current")))
	if n := browsertest.Value(t, laptop, "count current sessions", chromedp.Evaluate[int](`document.querySelectorAll('#sessions li.current').length`)); n != 1 || !strings.Contains(marked, "This device") {
		t.Fatalf("%d sessions marked current (%q), want this one", n, marked)
	}

	// On a phone's width nothing is wider than the screen.
	browsertest.Step(t, laptop, "narrow the window to a phone's", chromedp.EmulateViewport(390, 844))
	if fits := browsertest.Value(t, laptop, "measure the page", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); !fits {
		t.Fatal("the account page is wider than a phone's screen")
	}
	browsertest.Step(t, laptop, "widen the window", chromedp.EmulateViewport(820, 1000))
	shot := browsertest.Value(t, laptop, "screenshot", chromedp.FullScreenshot(100))
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, "account-page.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	browsertest.Step(t, laptop, "log the other session out",
		chromedp.Click(chromedp.CSS("#sessions li:not(.current) button")),
		sessionCount(1),
	)
	status := browsertest.Value(t, laptop, "read the status", chromedp.Text(chromedp.ID("sessions-status")))
	if status != "That session is logged out." {
		t.Fatalf("status %q", status)
	}

	// The phone still shows its stale page; its next request finds it
	// logged out and the page shows the log-in form.
	browsertest.Step(t, phone, "use the phone again",
		chromedp.Click(chromedp.ID("revoke-others")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	expectStatus(t, h.do("GET", "/api/sessions", "", nil), 401, "")
	browsertest.Step(t, laptop, "the laptop is still logged in", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("account")), sessionCount(1))
}

// TestAccountPageReauthAndPasswordChange: in Chromium, once the log-in is
// no longer recent, "log out everywhere else" asks for the password and
// works with it (ASVS 7.5.3); the password change form works and keeps this
// browser logged in on its regenerated session.
func TestAccountPageReauthAndPasswordChange(t *testing.T) {
	browser := browsertest.New(t)
	cfg := baseConfig(t)
	cfg.ReauthWindow = time.Nanosecond // every log-in is already too old
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	other := h.login(testEmail, testPassword, nil)

	laptop := browsertest.Profile(t, browser)
	browsertest.Step(t, laptop, "log in",
		logInWithForm(h.url),
		sessionCount(2),
		chromedp.WaitVisible(chromedp.ID("reauth-field")),
		chromedp.Click(chromedp.ID("revoke-others")),
		until(`document.getElementById('sessions-status').textContent.startsWith('recent log-in required')`),
	)
	expectStatus(t, h.do("GET", "/api/user", "", other), 200, "")
	browsertest.Step(t, laptop, "confirm with the password",
		chromedp.SendKeys(chromedp.ID("reauth-password"), testPassword),
		chromedp.Click(chromedp.ID("revoke-others")),
		sessionCount(1),
	)
	if s := browsertest.Value(t, laptop, "read the status", chromedp.Text(chromedp.ID("sessions-status"))); s != "1 other session logged out." {
		t.Fatalf("status %q", s)
	}
	expectStatus(t, h.do("GET", "/api/user", "", other), 401, "")

	const newPassword = "a much better passphrase"
	browsertest.Step(t, laptop, "change the password",
		chromedp.SendKeys(chromedp.ID("current-password"), testPassword),
		chromedp.SendKeys(chromedp.ID("new-password"), newPassword),
		chromedp.Click(chromedp.CSS(`#password-form button[type=submit]`)),
		until(`document.getElementById('password-status').textContent.startsWith('Password changed')`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("account")),
		sessionCount(1),
	)
	expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil), 401, "")
	h.login(testEmail, newPassword, nil)
}
