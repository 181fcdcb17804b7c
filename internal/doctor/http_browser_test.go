package doctor

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestHTTPInChromium: doctor http --browser chromium plays the log-in and
// the requests after it in real headless Chromium, says so, and takes its
// verdicts from it: a healthy server passes; a Secure cookie over plain HTTP
// on a real host name is refused by Chromium (SecureOnly), so the session is
// never recognised there, and the model agrees.
func TestHTTPInChromium(t *testing.T) {
	t.Run("healthy, from the command line", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{}, "s3cret", newMemStore()), false)
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"http", ts.URL, "--body", loginBody, "--repeat", "5", "--browser", "chromium"}, nil, &out, &errb)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
		}
		for _, want := range []string{"browser: headless Chromium (Chrome/", "In Chromium", `Chromium stored the session cookie "sid"`,
			"Chromium sends the cookie with GET /api/user", "all 5 requests kept the session in Chromium"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("report lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("Secure over plain HTTP", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{Attrs: "; Path=/; HttpOnly; SameSite=Lax; Secure"}, "s3cret", newMemStore()), false)
		u, _ := url.Parse(ts.URL)
		r := checkHTTP(t, HTTPOptions{
			URL:           "http://api.example.test:" + u.Port() + "/",
			Repeat:        3,
			Browser:       BrowserChromium,
			ChromiumFlags: []chromedp.ExecAllocatorOption{chromedp.Flag("host-resolver-rules", "MAP *.example.test 127.0.0.1")},
			Transport:     dialTo(u.Host),
		})
		expect(t, r, "browser.cookie", Fail, "refused", "SecureOnly")
		expect(t, r, "browser.sent", Fail)
		expect(t, r, "persist.thrash", Fail, "in Chromium")
		for _, f := range r.Findings {
			if f.ID == "browser.model" {
				t.Fatalf("the model disagrees with Chromium: %s", f.Title)
			}
		}
		if !strings.HasPrefix(r.Browser, "headless Chromium (Chrome/") {
			t.Fatalf("Browser = %q", r.Browser)
		}
	})

	t.Run("--insecure: a self-signed certificate", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{Attrs: "; Path=/; HttpOnly; SameSite=Lax; Secure"}, "s3cret", newMemStore()), true)
		r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2, Browser: BrowserChromium, Insecure: true})
		expect(t, r, "browser.cookie", Pass)
		expect(t, r, "browser.sent", Pass)
		expect(t, r, "persist.thrash", Pass, "in Chromium")
	})

	t.Run("off and bad values", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{}, "s3cret", newMemStore()), false)
		r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2})
		if !strings.Contains(r.Browser, "model") {
			t.Fatalf("Browser = %q, want the model named", r.Browser)
		}
		for _, f := range r.Findings {
			if f.Section == secBrowser {
				t.Fatalf("Chromium findings without --browser: %+v", f)
			}
		}
		if _, err := CheckHTTP(context.Background(), HTTPOptions{URL: ts.URL, Browser: "firefox"}); !errors.Is(err, ErrUsage) {
			t.Fatalf("--browser firefox: %v, want ErrUsage", err)
		}
	})
}
