package doctor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
)

// TestHTTPInChromium: doctor http --browser chromium plays the log-in and
// the requests after it in real headless Chromium, from a page the doctor
// answers itself at the front end's origin, says so, and takes its verdicts
// from it. The cases share one browser, each in a profile of its own;
// --resolve and --insecure start their own, since they are launch flags.
func TestHTTPInChromium(t *testing.T) {
	b := browsertest.NewWith(t, chromium.PageFlags()...)

	t.Run("healthy", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{}, "s3cret", newMemStore()), false)
		r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 5, Browser: BrowserChromium, Chromium: b})
		expect(t, r, "browser.cookie", Pass, `stored the session cookie "sid"`)
		expect(t, r, "browser.sent", Pass, "GET /api/user")
		expect(t, r, "persist.thrash", Pass, "all 5 requests kept the session in Chromium")
		noModelDisagreement(t, r)
		if !strings.HasPrefix(r.Browser, "headless Chromium (Chrome/") {
			t.Fatalf("Browser = %q", r.Browser)
		}
	})

	// Nothing listens at the front end's origin: the page there is the
	// doctor's own.
	t.Run("--origin: a front end on another origin of the site", func(t *testing.T) {
		front := "http://app.example.test:8080"
		ts := serve(t, newSessServer(srvConfig{CORS: "echo", AllowOrigin: front}, "s3cret", newMemStore()), false)
		u, _ := url.Parse(ts.URL)
		r := checkHTTP(t, HTTPOptions{URL: "http://api.example.test:" + u.Port() + "/", Origin: front, Repeat: 3,
			Browser: BrowserChromium, Chromium: b, Transport: dialTo(u.Host)})
		f := expect(t, r, "browser.cookie", Pass)
		if !strings.Contains(strings.Join(f.Evidence, "\n"), "a page on "+front) {
			t.Fatalf("the log-in was not fetched from %s: %q", front, f.Evidence)
		}
		expect(t, r, "browser.sent", Pass)
		expect(t, r, "persist.thrash", Pass, "in Chromium")
		noModelDisagreement(t, r)
	})

	// The cases where the model and Chromium disagreed on sessionkit
	// serve's defaults: the model read the cookie after its own log-out.
	for _, env := range []string{"development", "production"} {
		t.Run("serve's defaults, APP_ENV="+env, func(t *testing.T) {
			base := serveDefaults(t, env)
			r := checkHTTP(t, HTTPOptions{URL: base, Repeat: 3, Browser: BrowserChromium, Chromium: b})
			if r.Failed() {
				t.Fatalf("a FAIL:\n%s", reportText(r))
			}
			expect(t, r, "browser.sent", Pass)
			expect(t, r, "logout.cleared", Pass)
			noModelDisagreement(t, r)
		})
	}

	// A Secure cookie over plain HTTP on a host name that is not loopback,
	// reached with --resolve: the doctor's client and Chromium both connect
	// to 127.0.0.1 while every rule is the name's.
	t.Run("--resolve: Secure over plain HTTP", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{Attrs: "; Path=/; HttpOnly; SameSite=Lax; Secure"}, "s3cret", newMemStore()), false)
		u, _ := url.Parse(ts.URL)
		host := "staging.sessionkit-doctor.invalid:" + u.Port()
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"http", "http://" + host + "/", "--body", loginBody, "--repeat", "2",
			"--browser", "chromium", "--resolve", host + ":127.0.0.1"}, nil, &out, &errb)
		if code != ExitFail {
			t.Fatalf("exit %d, want %d\n%s%s", code, ExitFail, out.String(), errb.String())
		}
		for _, want := range []string{
			"FAIL  this request was plain HTTP (http://staging.sessionkit-doctor.invalid) and the session cookie is Secure",
			`FAIL  this request was plain HTTP: Chromium refused the session cookie "sid": SecureOnly`,
			"(in Chromium)", "--resolve " + host + ":127.0.0.1",
		} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("report lacks %q:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), "the doctor's model of a browser says") {
			t.Fatalf("the model disagrees with Chromium:\n%s", out.String())
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

	// A log-in the model sees fail is not played in Chromium, and the report
	// says why without asking for the --email that was given.
	t.Run("no cookie from the log-in", func(t *testing.T) {
		ts := serve(t, newSessServer(srvConfig{NoCookieOnLogin: true}, "s3cret", newMemStore()), false)
		r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2, Browser: BrowserChromium, Chromium: b})
		if strings.Contains(r.Browser, "--email") || !strings.Contains(r.Browser, "once the model's log-in works") {
			t.Fatalf("Browser = %q", r.Browser)
		}
		f := expect(t, r, "cookie.set", Fail)
		if !strings.HasPrefix(f.Fix, "This request was plain HTTP") {
			t.Fatalf("fix %q does not lead with the plain HTTP request", f.Fix)
		}
	})
}

// noModelDisagreement fails the test when the report has the model's
// loud warning that it disagrees with Chromium.
func noModelDisagreement(t *testing.T, r *Report) {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == "browser.model" {
			t.Fatalf("the model disagrees with Chromium: %s\n%s", f.Title, reportText(r))
		}
	}
}

// serveDefaults starts sessionkit serve's server as `APP_ENV=appEnv
// sessionkit serve` configures it (the embedded SQLite database in a
// temporary directory), with the user of loginBody, and returns its URL on
// 127.0.0.1.
func serveDefaults(t *testing.T, appEnv string) string {
	t.Helper()
	env := map[string]string{
		"APP_ENV":        appEnv,
		"DATA_DIR":       t.TempDir(),
		"SESSION_SECRET": "doctor-test-secret-0123456789abcdefghijklmnop",
		"BCRYPT_COST":    "4",
		"PRUNE_INTERVAL": "off",
	}
	loaded, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(t.Context(), loaded.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(t.Context(), "ann@example.com", "secret pw", 4); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}
