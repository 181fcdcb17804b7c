package browsertest_test

import (
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
)

// TestHarness: one browser serves HTTPS to mapped names under a test CA
// (a secure context, so Secure cookies stick), reports why it refused a
// cookie, keeps profiles apart, collects console errors and takes
// screenshots.
func TestHarness(t *testing.T) {
	b := browsertest.Start(t)
	mux := http.NewServeMux()
	mux.Handle("GET /", browsertest.BlankPage)
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "good=1; Path=/; Secure; HttpOnly; SameSite=Lax")
		w.Header().Add("Set-Cookie", "bad=1; Path=/; SameSite=None") // no Secure: refused
		w.Write([]byte("set"))
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Cookie")))
	})
	srv := b.ServeTLS(t, mux)
	app := browsertest.At(srv, "app.example.test")
	if !strings.HasPrefix(app, "https://app.example.test:") {
		t.Fatalf("At = %s", app)
	}

	one := b.Profile(t)
	cookies := browsertest.WatchCookies(t, one)
	console := browsertest.WatchConsole(t, one)
	browsertest.Step(t, one, "open the page", chromedp.Navigate(app+"/"))
	if secure := browsertest.Value(t, one, "isSecureContext", chromedp.Evaluate[bool](`window.isSecureContext`)); !secure {
		t.Fatal("the test CA's HTTPS page is not a secure context")
	}
	if r := browsertest.Fetch(t, one, app+"/set", ""); r.Status != 200 || r.Body != "set" {
		t.Fatalf("fetch /set = %+v", r)
	}
	if r := browsertest.Fetch(t, one, app+"/echo", ""); r.Body != "good=1" {
		t.Fatalf("the page's next request sent Cookie %q, want good=1", r.Body)
	}
	browsertest.WaitCookies(t, cookies, "GET", app+"/set")
	browsertest.WaitCookies(t, cookies, "GET", app+"/echo")
	var names []string
	for _, c := range browsertest.Cookies(t, one, app+"/") {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"good"}) {
		t.Fatalf("stored cookies %v, want [good]", names)
	}
	set := cookies.SetCookies("/set")
	if len(set) != 2 {
		t.Fatalf("recorded Set-Cookie outcomes %+v, want 2", set)
	}
	for _, o := range set {
		switch {
		case strings.HasPrefix(o.Line, "good="):
			if len(o.Reasons) != 0 {
				t.Errorf("good cookie blocked: %+v", o)
			}
		case strings.HasPrefix(o.Line, "bad="):
			if !slices.Contains(o.Reasons, "SameSiteNoneInsecure") {
				t.Errorf("bad cookie: %+v, want SameSiteNoneInsecure", o)
			}
		}
	}
	if sent := cookies.SentCookies("/echo"); len(sent) != 1 || sent[0].Name != "good" || len(sent[0].Reasons) != 0 {
		t.Fatalf("cookies considered for /echo: %+v", sent)
	}
	if r := browsertest.Fetch(t, one, "https://nowhere.invalid/", ""); r.Error == "" {
		t.Fatalf("a fetch to an unknown host succeeded: %+v", r)
	}

	browsertest.Step(t, one, "log an error", chromedp.Evaluate[chromedp.Void](`console.error("boom")`))
	waitFor(t, func() bool {
		return slices.ContainsFunc(console.Errors(), func(s string) bool { return strings.Contains(s, "boom") })
	})

	two := b.Profile(t)
	if c := browsertest.Cookies(t, two, app+"/"); len(c) != 0 {
		t.Fatalf("a new profile sees the other's cookies: %v", c)
	}

	path := filepath.Join(t.TempDir(), "shot.png")
	browsertest.Screenshot(t, one, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.DecodeConfig(f); err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after
// browsertest.Timeout: console events arrive after the step that caused them.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(browsertest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
