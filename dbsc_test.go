package sessionkit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/dbscclient"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/storetest"
)

// boundLifetime is the bound cookie's default lifetime, which the tests
// step over with the test clock.
const boundLifetime = sessionkit.DefaultBoundCookieLifetime

// dbscManager is a manager with device-bound sessions on, on the test clock.
func dbscManager(t testing.TB, store sessionkit.Store, clock *testClock, edit func(*sessionkit.Config)) *sessionkit.Manager {
	t.Helper()
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.DeviceBound = &sessionkit.DeviceBoundConfig{}
		if edit != nil {
			edit(c)
		}
	})
	t.Cleanup(m.Close)
	sessionkit.SetDeviceBoundClock(m, clock.Now)
	return m
}

// dbscApp is the test application of device-bound sessions: log-in with
// Authenticate, the user, log-out, a password change, a write-only and a
// read route, and the two DBSC endpoints at their default paths.
func dbscApp(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(s *sessionkit.Session, r *http.Request) (string, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s, err := sessionkit.From(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out, err := f(s, r)
			switch {
			case errors.Is(err, errUnauthenticated):
				http.Error(w, err.Error(), http.StatusUnauthorized)
			case err != nil:
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			default:
				fmt.Fprint(w, out)
			}
		})
	}
	handle("POST /login", func(s *sessionkit.Session, r *http.Request) (string, error) {
		return "ok", s.Authenticate(r.URL.Query().Get("user"))
	})
	handle("GET /user", func(s *sessionkit.Session, r *http.Request) (string, error) {
		u, err := s.User()
		if err == nil && u == "" {
			err = errUnauthenticated
		}
		return u, err
	})
	handle("POST /logout", func(s *sessionkit.Session, r *http.Request) (string, error) {
		return "bye", s.Destroy()
	})
	handle("POST /password", func(s *sessionkit.Session, r *http.Request) (string, error) {
		u, err := s.User()
		if err != nil || u == "" {
			return "", errors.Join(err, errUnauthenticated)
		}
		if _, err := m.EndOtherSessions(r.Context(), u, s.Handle()); err != nil {
			return "", err
		}
		return "changed", s.Authenticate(u)
	})
	handle("POST /regenerate", func(s *sessionkit.Session, r *http.Request) (string, error) {
		return "ok", s.Regenerate()
	})
	handle("POST /put", func(s *sessionkit.Session, r *http.Request) (string, error) {
		return "ok", s.Put(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
	})
	handle("GET /get", func(s *sessionkit.Session, r *http.Request) (string, error) {
		return s.GetString(r.URL.Query().Get("k"))
	})
	root := http.NewServeMux()
	root.Handle("/", m.Middleware(mux))
	root.Handle("/dbsc/register", m.DeviceBoundRegistration())
	root.Handle("/dbsc/refresh", m.DeviceBoundRefresh())
	return root
}

var errUnauthenticated = errors.New("not authenticated")

// dbscServer serves dbscApp of each manager in turn, as a load balancer in
// front of several instances would.
func dbscServer(t testing.TB, managers ...*sessionkit.Manager) *httptest.Server {
	t.Helper()
	apps := make([]http.Handler, len(managers))
	for i, m := range managers {
		apps[i] = dbscApp(m)
	}
	var next atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apps[(next.Add(1)-1)%uint64(len(apps))].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// mustDo sends a browser request and checks its status.
func mustDo(t testing.TB, b *dbscBrowser, method, path string, want int) string {
	t.Helper()
	code, body := b.Do(method, path)
	if code != want {
		t.Fatalf("%s %s: %d %q, want %d", method, path, code, body, want)
	}
	return body
}

func TestDeviceBoundSession(t *testing.T) {
	t.Parallel()
	// On memstore here; the stores' own encodings are the cross-store
	// suite's and the conformance suite's business.
	stores := map[string]func(testing.TB) *storetest.Counter{"memstore": memStore}
	for name, open := range stores {
		for _, alg := range []string{"ES256", "RS256"} {
			t.Run(name+"/"+alg, func(t *testing.T) {
				t.Parallel()
				clock := newTestClock()
				m := dbscManager(t, open(t), clock, nil)
				srv := dbscServer(t, m)
				b := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, alg))

				mustDo(t, b, "POST", "/login?user=ada", 200)
				if b.registrations != 1 || !b.bound() {
					t.Fatalf("after log-in: %d registrations, bound %v", b.registrations, b.bound())
				}
				if got := mustDo(t, b, "GET", "/user", 200); got != "ada" {
					t.Fatalf("user %q", got)
				}
				list, err := m.ListSessions(context.Background(), "ada")
				if err != nil || len(list) != 1 || !list[0].DeviceBound {
					t.Fatalf("ListSessions: %+v, %v", list, err)
				}

				// The bound cookie expires: the browser refreshes with the
				// challenge the registration sent, in one request.
				clock.Advance(boundLifetime + time.Second)
				if got := mustDo(t, b, "GET", "/user", 200); got != "ada" || b.refreshes != 1 || b.challenged != 0 {
					t.Fatalf("after expiry: user %q, %d refreshes, %d challenged", got, b.refreshes, b.challenged)
				}
				// Past the cached challenge's lifetime too: the refresh
				// endpoint answers 403 with a new one, which the browser signs.
				clock.Advance(sessionkit.DefaultChallengeLifetime + time.Second)
				if got := mustDo(t, b, "GET", "/user", 200); got != "ada" || b.refreshes != 2 || b.challenged != 1 {
					t.Fatalf("after the challenge expired: user %q, %d refreshes, %d challenged", got, b.refreshes, b.challenged)
				}
			})
		}
	}
}

func TestDeviceBoundCopiedCookieRefused(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	m := dbscManager(t, memstore.New(memstore.Config{}), clock, nil)
	srv := dbscServer(t, m)
	victim := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "ES256"))
	mustDo(t, victim, "POST", "/login?user=ada", 200)
	mustDo(t, victim, "POST", "/put?k=note&v=mine", 200)

	// Malware copies both cookies, and knows the DBSC session identifier.
	session := victim.cookie(sessionkit.DefaultCookieName)
	bound := victim.cookie(sessionkit.DefaultBoundCookieName)
	thief := func(method, path string, cookies ...*http.Cookie) (int, string) {
		req := httptest.NewRequest(method, path, nil)
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		w := httptest.NewRecorder()
		dbscApp(m).ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	if code, _ := thief("GET", "/user", session); code != 401 {
		t.Fatalf("the session cookie without the bound cookie: %d, want 401", code)
	}
	// Within the bound cookie's lifetime a copy of both works: that is the
	// window DBSC leaves, and CookieLifetime sets.
	if code, _ := thief("GET", "/user", session, bound); code != 200 {
		t.Fatalf("both cookies within the lifetime: %d, want 200", code)
	}
	clock.Advance(boundLifetime + time.Second)
	if code, _ := thief("GET", "/user", session, bound); code != 401 {
		t.Fatalf("both cookies after the lifetime: %d, want 401", code)
	}
	// A write that does not read is refused the session too: it starts an
	// anonymous one instead of changing the victim's.
	if code, _ := thief("POST", "/put?k=note&v=thief", session); code != 200 {
		t.Fatalf("thief's write: %d", code)
	}
	// The thief cannot refresh without the key: its own key is refused,
	// and no bound cookie is set.
	challenge := refreshChallenge(t, srv.URL, victim.sessionID, session)
	resp, _ := post(t, srv.URL+"/dbsc/refresh", http.Header{
		"Sec-Secure-Session-Id":   {`"` + victim.sessionID + `"`},
		"Secure-Session-Response": {newDBSCKey(t, "ES256").Proof(challenge, false)},
	}, session)
	if resp.StatusCode != 401 || boundCookieSet(resp) {
		t.Fatalf("refresh signed by the thief's key: %d, bound cookie set %v", resp.StatusCode, boundCookieSet(resp))
	}
	// Nor register its own key on the bound session.
	resp, _ = post(t, srv.URL+"/dbsc/register", http.Header{
		"Secure-Session-Response": {newDBSCKey(t, "ES256").Proof(challenge, true)},
	}, session)
	if resp.StatusCode != 403 || boundCookieSet(resp) {
		t.Fatalf("registration on a bound session: %d, bound cookie set %v", resp.StatusCode, boundCookieSet(resp))
	}
	// The victim refreshes and goes on, its data untouched.
	if got := mustDo(t, victim, "GET", "/get?k=note", 200); got != "mine" || victim.refreshes != 1 {
		t.Fatalf("victim's note %q after %d refreshes", got, victim.refreshes)
	}
	// The thief's attempts show in the counters: three requests refused
	// (the session cookie alone, both cookies expired, the blind write),
	// one proof refused (its own key; the registration on a bound session
	// is refused before its proof is read); a bound cookie at registration
	// and one at the victim's refresh.
	if st := m.Stats(); st.BoundRefused != 3 || st.BoundProofsRefused != 1 || st.BoundCookies != 2 {
		t.Fatalf("Stats: %d refused requests, %d refused proofs, %d bound cookies; want 3, 1, 2",
			st.BoundRefused, st.BoundProofsRefused, st.BoundCookies)
	}
}

// refreshChallenge asks the refresh endpoint for a challenge, as a browser
// without a cached one does.
func refreshChallenge(t testing.TB, base, sid string, session *http.Cookie) string {
	t.Helper()
	resp, body := post(t, base+"/dbsc/refresh", http.Header{"Sec-Secure-Session-Id": {`"` + sid + `"`}}, session)
	c, id, ok := dbscclient.ParseChallenge(resp.Header.Get("Secure-Session-Challenge"))
	if resp.StatusCode != 403 || !ok || id != sid {
		t.Fatalf("refresh without a proof: %d %q, challenge header %q", resp.StatusCode, body, resp.Header.Get("Secure-Session-Challenge"))
	}
	return c
}

func boundCookieSet(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.DefaultBoundCookieName && c.MaxAge > 0 {
			return true
		}
	}
	return false
}

func TestDeviceBoundProofsRefused(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		// proof returns the Secure-Session-Response to send, given the
		// session's key, a fresh challenge and the server.
		proof func(t *testing.T, env *proofEnv) string
		want  int
	}{
		{"accepted", func(t *testing.T, e *proofEnv) string { return e.key.Proof(e.challenge, false) }, 200},
		{"replayed proof", func(t *testing.T, e *proofEnv) string {
			p := e.key.Proof(e.challenge, false)
			e.send(t, p, 200)
			return p
		}, 403},
		{"reused challenge", func(t *testing.T, e *proofEnv) string {
			e.send(t, e.key.Proof(e.challenge, false), 200)
			return e.key.Proof(e.challenge, false)
		}, 403},
		{"replayed on another instance", func(t *testing.T, e *proofEnv) string {
			p := e.key.Proof(e.challenge, false)
			e.send(t, p, 200)
			e.other = true
			return p
		}, 403},
		{"wrong key", func(t *testing.T, e *proofEnv) string { return newDBSCKey(t, "ES256").Proof(e.challenge, false) }, 401},
		{"other algorithm", func(t *testing.T, e *proofEnv) string { return newDBSCKey(t, "RS256").Proof(e.challenge, false) }, 401},
		{"expired challenge", func(t *testing.T, e *proofEnv) string {
			e.clock.Advance(sessionkit.DefaultChallengeLifetime + time.Second)
			return e.key.Proof(e.challenge, false)
		}, 403},
		{"challenge of another session", func(t *testing.T, e *proofEnv) string {
			return e.key.Proof(e.otherChallenge, false)
		}, 403},
		{"made-up challenge", func(t *testing.T, e *proofEnv) string { return e.key.Proof("hello", false) }, 403},
		{"alg none", func(t *testing.T, e *proofEnv) string {
			h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "dbsc+jwt"})
			p, _ := json.Marshal(map[string]any{"jti": e.challenge})
			return b64(h) + "." + b64(p) + "."
		}, 400},
		{"typ JWT", func(t *testing.T, e *proofEnv) string {
			return e.key.Sign(map[string]any{"alg": "ES256", "typ": "JWT"}, map[string]any{"jti": e.challenge})
		}, 400},
		{"jwk in a refresh proof", func(t *testing.T, e *proofEnv) string { return e.key.Proof(e.challenge, true) }, 400},
		{"expired proof", func(t *testing.T, e *proofEnv) string {
			return e.key.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt"},
				map[string]any{"jti": e.challenge, "exp": e.clock.Now().Add(-time.Hour).Unix()})
		}, 400},
		{"issued in the future", func(t *testing.T, e *proofEnv) string {
			return e.key.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt"},
				map[string]any{"jti": e.challenge, "iat": e.clock.Now().Add(time.Hour).Unix()})
		}, 400},
		{"tampered payload", func(t *testing.T, e *proofEnv) string {
			p := strings.Split(e.key.Proof(e.challenge, false), ".")
			other, _ := json.Marshal(map[string]any{"jti": e.otherChallenge})
			return p[0] + "." + b64(other) + "." + p[2]
		}, 401},
		{"not a JWS", func(t *testing.T, e *proofEnv) string { return "garbage" }, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newProofEnv(t)
			env.send(t, tc.proof(t, env), tc.want)
		})
	}
}

// proofEnv is a device-bound session on two instances sharing a store,
// registered by hand, with a fresh refresh challenge.
type proofEnv struct {
	clock          *testClock
	srv, otherSrv  *httptest.Server
	key            *dbscclient.Key
	session        *http.Cookie
	sid            string
	challenge      string
	otherChallenge string
	// other sends the next proof to the second instance.
	other bool
}

func newProofEnv(t *testing.T) *proofEnv {
	t.Helper()
	clock := newTestClock()
	store := memstore.New(memstore.Config{})
	e := &proofEnv{clock: clock, key: newDBSCKey(t, "ES256")}
	e.srv = dbscServer(t, dbscManager(t, store, clock, nil))
	e.otherSrv = dbscServer(t, dbscManager(t, store, clock, nil))
	e.session, e.sid = e.register(t, e.key)
	e.challenge = refreshChallenge(t, e.srv.URL, e.sid, e.session)
	otherSession, otherSID := e.register(t, newDBSCKey(t, "ES256"))
	e.otherChallenge = refreshChallenge(t, e.srv.URL, otherSID, otherSession)
	return e
}

// register logs in and registers key by hand, returning the session cookie
// and the DBSC session identifier.
func (e *proofEnv) register(t *testing.T, key *dbscclient.Key) (*http.Cookie, string) {
	t.Helper()
	resp, _ := post(t, e.srv.URL+"/login?user=ada", nil)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.DefaultCookieName {
			session = c
		}
	}
	regs, _ := dbscclient.ParseRegistration(resp.Header.Get("Secure-Session-Registration"))
	if session == nil || len(regs) != 1 || strings.Join(regs[0].Algs, " ") != "ES256 RS256" || regs[0].Path != "/dbsc/register" || regs[0].Challenge == "" {
		t.Fatalf("log-in: cookie %v, registration %q", session, resp.Header.Get("Secure-Session-Registration"))
	}
	challenge := regs[0].Challenge
	resp, body := post(t, e.srv.URL+"/dbsc/register", http.Header{
		"Secure-Session-Response": {`"` + key.Proof(challenge, true) + `"`},
	}, session)
	in, err := dbscclient.ParseInstructions([]byte(body))
	if err != nil || resp.StatusCode != 200 || in.SessionIdentifier == "" || !boundCookieSet(resp) {
		t.Fatalf("registration: %d %q", resp.StatusCode, body)
	}
	// The same registration proof again is refused: its challenge is used.
	resp, _ = post(t, e.srv.URL+"/dbsc/register", http.Header{
		"Secure-Session-Response": {`"` + key.Proof(challenge, true) + `"`},
	}, session)
	if resp.StatusCode != 403 {
		t.Fatalf("second registration: %d, want 403", resp.StatusCode)
	}
	return session, in.SessionIdentifier
}

// send posts proof to the refresh endpoint and checks the status, and that
// a bound cookie is set exactly when it is 200.
func (e *proofEnv) send(t *testing.T, proof string, want int) {
	t.Helper()
	base := e.srv.URL
	if e.other {
		base = e.otherSrv.URL
	}
	resp, body := post(t, base+"/dbsc/refresh", http.Header{
		"Sec-Secure-Session-Id":   {`"` + e.sid + `"`},
		"Secure-Session-Response": {`"` + proof + `"`},
	}, e.session)
	if resp.StatusCode != want || boundCookieSet(resp) != (want == 200) {
		t.Fatalf("refresh: %d %q (bound cookie set %v), want %d", resp.StatusCode, body, boundCookieSet(resp), want)
	}
	if _, _, ok := dbscclient.ParseChallenge(resp.Header.Get("Secure-Session-Challenge")); want == 403 && !ok {
		t.Fatalf("403 without a Secure-Session-Challenge: %q", resp.Header.Get("Secure-Session-Challenge"))
	}
}

func TestDeviceBoundSessionEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(t *testing.T, m *sessionkit.Manager, victim, other *dbscBrowser)
	}{
		{"log-out", func(t *testing.T, m *sessionkit.Manager, victim, other *dbscBrowser) {
			mustDo(t, victim, "POST", "/logout", 200)
		}},
		{"revocation", func(t *testing.T, m *sessionkit.Manager, victim, other *dbscBrowser) {
			if n, err := m.EndAllSessions(context.Background(), "ada"); err != nil || n != 2 {
				t.Fatalf("EndAllSessions: %d, %v", n, err)
			}
		}},
		{"password change elsewhere", func(t *testing.T, m *sessionkit.Manager, victim, other *dbscBrowser) {
			mustDo(t, other, "POST", "/password", 200)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newTestClock()
			m := dbscManager(t, memstore.New(memstore.Config{}), clock, nil)
			srv := dbscServer(t, m)
			victim := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "ES256"))
			other := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "RS256"))
			mustDo(t, victim, "POST", "/login?user=ada", 200)
			mustDo(t, other, "POST", "/login?user=ada", 200)
			tc.end(t, m, victim, other)
			clock.Advance(boundLifetime + time.Second)
			// The refresh answers {"continue": false}, which ends the
			// browser's device-bound session: it stops deferring requests.
			mustDo(t, victim, "GET", "/user", 401)
			if victim.bound() || victim.lastRefresh == nil || victim.lastRefresh.StatusCode != 200 {
				t.Fatalf("after the refresh: bound %v, last refresh %v", victim.bound(), victim.lastRefresh)
			}
		})
	}

	t.Run("password change here", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		srv := dbscServer(t, dbscManager(t, memstore.New(memstore.Config{}), clock, nil))
		b := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "ES256"))
		mustDo(t, b, "POST", "/login?user=ada", 200)
		oldSID := b.sessionID
		// The new log-in ends the binding and registers a new key for the
		// new session id.
		mustDo(t, b, "POST", "/password", 200)
		if b.registrations != 2 || b.sessionID == oldSID {
			t.Fatalf("after the password change: %d registrations, same identifier %v", b.registrations, b.sessionID == oldSID)
		}
		resp, body := post(t, srv.URL+"/dbsc/refresh", http.Header{"Sec-Secure-Session-Id": {`"` + oldSID + `"`}}, b.cookie(sessionkit.DefaultCookieName))
		if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"continue":false}` {
			t.Fatalf("refresh of the old binding: %d %q", resp.StatusCode, body)
		}
		clock.Advance(boundLifetime + time.Second)
		mustDo(t, b, "GET", "/user", 200)
	})
}

// TestDeviceBoundRegenerate: Regenerate keeps a bound session's binding and
// moves its bound cookie to the new id, so the browser, whose bound cookie
// has not expired, goes on without a refresh.
func TestDeviceBoundRegenerate(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv := dbscServer(t, dbscManager(t, memstore.New(memstore.Config{}), clock, nil))
	b := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "ES256"))
	mustDo(t, b, "POST", "/login?user=ada", 200)
	before := b.cookie(sessionkit.DefaultCookieName).Value
	mustDo(t, b, "POST", "/regenerate", 200)
	if b.cookie(sessionkit.DefaultCookieName).Value == before {
		t.Fatal("Regenerate kept the session id")
	}
	if got := mustDo(t, b, "GET", "/user", 200); got != "ada" || b.refreshes != 0 {
		t.Fatalf("after Regenerate: user %q, %d refreshes", got, b.refreshes)
	}
	clock.Advance(boundLifetime + time.Second)
	if got := mustDo(t, b, "GET", "/user", 200); got != "ada" || b.refreshes != 1 {
		t.Fatalf("after expiry: user %q, %d refreshes", got, b.refreshes)
	}
}

func TestDeviceBoundBrowserWithoutDBSC(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	m := dbscManager(t, memstore.New(memstore.Config{}), clock, nil)
	srv := dbscServer(t, m)
	b := newDBSCBrowser(t, srv.URL, clock, nil)
	mustDo(t, b, "POST", "/login?user=ada", 200)
	clock.Advance(time.Hour)
	if got := mustDo(t, b, "GET", "/user", 200); got != "ada" || b.bound() {
		t.Fatalf("user %q, bound %v", got, b.bound())
	}
	list, err := m.ListSessions(context.Background(), "ada")
	if err != nil || len(list) != 1 || list[0].DeviceBound {
		t.Fatalf("ListSessions: %+v, %v", list, err)
	}
	// With DeviceBound off, no registration is offered.
	plain := dbscServer(t, func() *sessionkit.Manager { m, _ := newManager(t, memstore.New(memstore.Config{}), nil); return m }())
	resp, _ := post(t, plain.URL+"/login?user=ada", nil)
	if h := resp.Header.Get("Secure-Session-Registration"); h != "" || resp.StatusCode != 200 {
		t.Fatalf("without DeviceBound: %d, registration %q", resp.StatusCode, h)
	}
	resp, _ = post(t, plain.URL+"/dbsc/refresh", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("refresh endpoint without DeviceBound: %d, want 404", resp.StatusCode)
	}
}

func TestDeviceBoundInstancesShareTheStore(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	store := memStore(t)
	managers := []*sessionkit.Manager{
		dbscManager(t, store, clock, nil),
		dbscManager(t, store, clock, nil),
		dbscManager(t, store, clock, func(c *sessionkit.Config) { c.Cache.Entries = 100 }),
	}
	srv := dbscServer(t, managers...)
	b := newDBSCBrowser(t, srv.URL, clock, newDBSCKey(t, "ES256"))
	mustDo(t, b, "POST", "/login?user=ada", 200)
	for i := 0; i < 6; i++ {
		clock.Advance(boundLifetime + time.Second)
		if got := mustDo(t, b, "GET", "/user", 200); got != "ada" {
			t.Fatalf("round %d: user %q", i, got)
		}
	}
	if b.refreshes != 6 || !b.bound() {
		t.Fatalf("%d refreshes, bound %v", b.refreshes, b.bound())
	}
	// A copied session cookie is refused by every instance.
	session := b.cookie(sessionkit.DefaultCookieName)
	for i, m := range managers {
		w := do(dbscApp(m), "GET", "/user", session)
		if w.Code != 401 {
			t.Fatalf("instance %d: copied session cookie: %d, want 401", i, w.Code)
		}
	}
}

func TestDeviceBoundConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*sessionkit.Config)
		ok   bool
	}{
		{"defaults", func(c *sessionkit.Config) {}, true},
		{"Partitioned", func(c *sessionkit.Config) { c.Cookie.Secure, c.Cookie.Partitioned = true, true }, false},
		{"same cookie name", func(c *sessionkit.Config) { c.DeviceBound.CookieName = sessionkit.DefaultCookieName }, false},
		{"bad cookie name", func(c *sessionkit.Config) { c.DeviceBound.CookieName = "a;b" }, false},
		{"relative path", func(c *sessionkit.Config) { c.DeviceBound.RefreshPath = "refresh" }, false},
		{"quote in path", func(c *sessionkit.Config) { c.DeviceBound.RegistrationPath = `/a"b` }, false},
		{"negative lifetime", func(c *sessionkit.Config) { c.DeviceBound.CookieLifetime = -time.Second }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sessionkit.Config{Store: memstore.New(memstore.Config{}), Secrets: []string{secretA}, DeviceBound: &sessionkit.DeviceBoundConfig{}}
			tc.edit(&cfg)
			_, err := sessionkit.New(cfg)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, sessionkit.ErrInvalidConfig)) {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestDeviceBoundMessageFormats pins what the server sends, in the shapes
// the draft and the web-platform-tests' session_manager.py give: the
// registration header, the instructions (Content-Type application/json,
// Cache-Control no-store, the credential's attributes as a Set-Cookie
// attribute string) and the bound cookie, with the session cookie's
// prefix and attributes.
func TestDeviceBoundMessageFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(*sessionkit.Config)
		cookie    string
		attrs     string
		setCookie *regexp.Regexp
	}{
		{"defaults", nil, "sessionkit.bound", "Path=/; HttpOnly; SameSite=Lax",
			regexp.MustCompile(`^sessionkit\.bound=\d+\.[A-Za-z0-9_-]{22}; Path=/; Max-Age=(299|300); HttpOnly; SameSite=Lax$`)},
		{"__Host- and Strict", func(c *sessionkit.Config) {
			c.Cookie.Name, c.Cookie.Secure, c.Cookie.SameSite = "__Host-sid", true, http.SameSiteStrictMode
		}, "__Host-sessionkit.bound", "Path=/; Secure; HttpOnly; SameSite=Strict",
			regexp.MustCompile(`^__Host-sessionkit\.bound=\d+\.[A-Za-z0-9_-]{22}; Path=/; Max-Age=(299|300); HttpOnly; Secure; SameSite=Strict$`)},
		{"Domain and path", func(c *sessionkit.Config) { c.Cookie.Domain, c.Cookie.Path = "example.com", "/app" }, "sessionkit.bound",
			"Path=/app; Domain=example.com; HttpOnly; SameSite=Lax",
			regexp.MustCompile(`^sessionkit\.bound=\d+\.[A-Za-z0-9_-]{22}; Path=/app; Domain=example\.com; Max-Age=(299|300); HttpOnly; SameSite=Lax$`)},
	}
	registration := regexp.MustCompile(`^\(ES256 RS256\);path="/dbsc/register";challenge="[A-Za-z0-9_.-]+"$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := dbscManager(t, memstore.New(memstore.Config{}), newTestClock(), tc.edit)
			h := dbscApp(m)
			login := do(h, "POST", "https://example.com/login?user=ada")
			offer := login.Header().Get("Secure-Session-Registration")
			if !registration.MatchString(offer) {
				t.Fatalf("Secure-Session-Registration: %q", offer)
			}
			var session *http.Cookie
			for _, c := range login.Result().Cookies() {
				if strings.HasSuffix(c.Name, "sid") {
					session = c
				}
			}
			regs, _ := dbscclient.ParseRegistration(offer)
			r := httptest.NewRequest("POST", "https://example.com/dbsc/register", nil)
			r.AddCookie(session)
			r.Header.Set("Secure-Session-Response", `"`+newDBSCKey(t, "ES256").Proof(regs[0].Challenge, true)+`"`)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
				t.Fatalf("registration: %d %q", w.Code, w.Body.String())
			}
			sid, _ := body["session_identifier"].(string)
			want := map[string]any{
				"session_identifier": sid,
				"refresh_url":        "/dbsc/refresh",
				"scope":              map[string]any{"include_site": false},
				"credentials":        []any{map[string]any{"type": "cookie", "name": tc.cookie, "attributes": tc.attrs}},
			}
			if sid == "" || !reflect.DeepEqual(body, want) {
				t.Fatalf("instructions\n got %v\nwant %v", body, want)
			}
			if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			if got := w.Header().Values("Set-Cookie"); len(got) != 1 || !tc.setCookie.MatchString(got[0]) {
				t.Fatalf("Set-Cookie %q", got)
			}
			if c, id, ok := dbscclient.ParseChallenge(w.Header().Get("Secure-Session-Challenge")); !ok || id != sid || c == "" {
				t.Fatalf("Secure-Session-Challenge %q", w.Header().Get("Secure-Session-Challenge"))
			}
		})
	}
}
