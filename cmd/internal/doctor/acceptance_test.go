package doctor

// The acceptance test of issue 4: against our own `sessionkit serve` with a
// healthy configuration, no FAIL; against the field's broken set-up (two
// instances with different secrets), the FAIL that names it. This is the one
// place the doctor touches the reference server, and only from a test.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

const (
	serveEmail    = "ada@example.com"
	servePassword = "correct horse battery staple"
	serveSecret   = "acceptance-secret-acceptance-secret-0123456789"
)

// startServe starts the reference server in-process with cfg's defaults for
// a test and one user.
func startServe(t *testing.T, cfg server.Config) *httptest.Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Secrets == nil {
		cfg.Secrets = []string{serveSecret}
	}
	cfg.AutoMigrate = true
	cfg.BcryptCost = 4
	cfg.PruneInterval = -1
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(ctx, serveEmail, servePassword, 4); err != nil && !strings.Contains(err.Error(), "exist") && !strings.Contains(err.Error(), "taken") {
		t.Fatalf("AddUser: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func TestAcceptanceOurServeIsHealthy(t *testing.T) {
	backends := []struct {
		name string
		pg   bool
	}{{"sqlite", false}, {"postgres", true}}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := server.Config{Debug: true}
			var schema string
			if b.pg {
				schema, cfg.DatabaseURL = pgtest.Schema(t)
			}
			ts := startServe(t, cfg)

			// Through Run, as `sessionkit doctor http URL --email …` with the
			// password on standard input.
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"http", ts.URL, "--email", serveEmail, "--debug", "/api/_debug/session"},
				strings.NewReader(servePassword+"\n"), &out, &errb)
			if code != ExitOK {
				t.Fatalf("doctor http exit %d\n%s%s", code, out.String(), errb.String())
			}
			if strings.Contains(out.String(), "FAIL ") {
				t.Fatalf("FAIL against our healthy serve:\n%s", out.String())
			}
			t.Logf("doctor http against serve (%s):\n%s", b.name, out.String())

			r := checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session", LoginBody: []byte(`{"email":"` + serveEmail + `","password":"` + servePassword + `"}`)})
			noFail(t, r)
			for _, id := range []string{"anonymous.session", "anonymous.protected", "cookie.set", "cookie.httponly", "cookie.fixation",
				"persist.thrash", "debug.cookies", "debug.session", "logout.cleared", "logout.replay"} {
				expect(t, r, id, Pass)
			}

			if b.pg {
				// Leave logged-in sessions behind (no logout), then read the
				// table: ours, indexed, no anonymous rows.
				code := Run(context.Background(), []string{"http", ts.URL, "--email", serveEmail, "--logout", "", "--repeat", "2"},
					strings.NewReader(servePassword+"\n"), io.Discard, io.Discard)
				if code != ExitOK {
					t.Fatalf("doctor http --logout '' exit %d", code)
				}
				var out, errb bytes.Buffer
				code = Run(context.Background(), []string{"db", cfg.DatabaseURL, "--schema", schema}, nil, &out, &errb)
				if code != ExitOK {
					t.Fatalf("doctor db exit %d\n%s%s", code, out.String(), errb.String())
				}
				t.Logf("doctor db against serve's table:\n%s", out.String())
				r, err := CheckDB(context.Background(), DBOptions{URL: cfg.DatabaseURL, Schema: schema})
				if err != nil {
					t.Fatal(err)
				}
				noFail(t, r)
				expect(t, r, "db.expire-index", Pass)
				expect(t, r, "db.anonymous", Pass)
				if len(r.Tables) != 1 || r.Tables[0].Kind != "sessionkit" || r.Tables[0].Rows == 0 || r.Tables[0].Anonymous != 0 {
					t.Fatalf("our table: %+v", r.Tables)
				}
			}
		})
	}
}

func TestAcceptanceOurServeWithFrontEnd(t *testing.T) {
	// A front end on another port of the same site, allowed by CORS.
	ts := startServe(t, server.Config{CORSOrigins: []string{"http://localhost:5173"}})
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	r := checkHTTP(t, HTTPOptions{
		URL:       "http://localhost:" + port,
		Origin:    "http://localhost:5173",
		LoginBody: []byte(`{"email":"` + serveEmail + `","password":"` + servePassword + `"}`),
		Transport: dialTo(ts.Listener.Addr().String()),
	})
	noFail(t, r)
	expect(t, r, "cors.preflight", Pass)
	expect(t, r, "cors.credentials", Pass)
	expect(t, r, "cors.cookie-site", Pass, "same site")
	expect(t, r, "persist.thrash", Pass)

	// The same front end, not allowed: the server refuses its login and the
	// preflight names the missing header.
	ts = startServe(t, server.Config{})
	_, port, _ = net.SplitHostPort(ts.Listener.Addr().String())
	r = checkHTTP(t, HTTPOptions{
		URL:       "http://localhost:" + port,
		Origin:    "http://localhost:5173",
		LoginBody: []byte(`{"email":"` + serveEmail + `","password":"` + servePassword + `"}`),
		Transport: dialTo(ts.Listener.Addr().String()),
	})
	f := expect(t, r, "login.status", Fail, "origin http://localhost:5173 was refused")
	if !strings.Contains(f.Fix, "CORS_ORIGINS=http://localhost:5173") {
		t.Fatalf("fix should name the setting: %q", f.Fix)
	}
	expect(t, r, "cors.preflight", Fail, "no Access-Control-Allow-Origin")
}

func TestAcceptanceOurServeWithDifferentSecrets(t *testing.T) {
	// Two instances on one database, each with its own secret, behind a
	// round-robin balancer: the field's failure.
	_, url := pgtest.Schema(t)
	a := startServe(t, server.Config{DatabaseURL: url, Debug: true, Secrets: []string{"instance-A-secret-instance-A-secret-0123456789"}})
	b := startServe(t, server.Config{DatabaseURL: url, Debug: true, Secrets: []string{"instance-B-secret-instance-B-secret-0123456789"}})
	front := serve(t, roundRobin(proxyTo(t, a.URL), proxyTo(t, b.URL)), false)
	r := checkHTTP(t, HTTPOptions{URL: front.URL, DebugPath: "/api/_debug/session", Repeat: 8,
		LoginBody: []byte(`{"email":"` + serveEmail + `","password":"` + servePassword + `"}`)})
	expect(t, r, "persist.thrash", Fail, "different secrets")
	expect(t, r, "debug.session", Fail, "different secret")
}

// proxyTo forwards requests to a backend, headers and body as they are.
func proxyTo(t *testing.T, backend string) http.Handler {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}
