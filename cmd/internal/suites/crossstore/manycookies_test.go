package crossstore_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/storetest"
)

// deadCookies returns n validly signed session cookies (sessiontest.SecretA) of
// sessions that no store under test holds: an attacker's collection of
// cookies of its own ended sessions, whose signatures never expire.
func deadCookies(t testing.TB, n int) []string {
	t.Helper()
	m, _ := newManager(t, sessiontest.MemStore(t), nil)
	h := app(m)
	out := make([]string, n)
	for i := range out {
		out[i] = sessiontest.Pair(login(t, h, "attacker"))
	}
	return out
}

// TestManySignedCookiesCostFourLoads sends 200 validly signed session
// cookies on one request, the live one among or after 199 dead ones: the
// request reads at most four sessions, in one store call, and a log-out
// deletes at most four, in one store call.
func TestManySignedCookiesCostFourLoads(t *testing.T) {
	t.Parallel()
	dead := deadCookies(t, 199)
	stores := realStores()
	stores["redisstore"] = func(t *testing.T) *storetest.Counter {
		st, _ := redisStore(t, false, "manycookies")
		return &storetest.Counter{Store: st}
	}
	// header puts the live cookie at index at among the dead ones.
	header := func(live *http.Cookie, at int) string {
		parts := append(append(append([]string{}, dead[:at]...), sessiontest.Pair(live)), dead[at:]...)
		return strings.Join(parts, "; ")
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			m, _ := newManager(t, st, nil)
			h := app(m)
			cases := []struct {
				name     string
				method   string
				at       int // the live cookie's place among the 200
				wantCode int
				wantBody string
				wantDels int64 // at most
				// wantBatches counts LoadMany and DeleteMany calls: a
				// log-out deletes without reading.
				wantBatches int64
			}{
				{"a read, the live cookie last", "GET /user", 199, http.StatusUnauthorized, "not authenticated\n", 0, 1},
				{"a read, the live cookie fourth", "GET /user", 3, http.StatusOK, "victim", 0, 1},
				{"a log-out, the live cookie second", "POST /logout", 1, http.StatusOK, "bye", 4, 1},
				// A log-in reads first, so it deletes only the live candidate.
				{"a log-in, the live cookie first", "POST /login?user=victim", 0, http.StatusOK, "ok", 1, 1},
			}
			for _, c := range cases {
				victim := login(t, h, "victim")
				loads, dels, batches := st.Loads.Load(), st.Deletes.Load(), st.Batches.Load()
				method, target, _ := strings.Cut(c.method, " ")
				w := sessiontest.SendHeader(h, method, target, header(victim, c.at))
				if w.Code != c.wantCode || w.Body.String() != c.wantBody {
					t.Fatalf("%s: %d %q, want %d %q", c.name, w.Code, w.Body.String(), c.wantCode, c.wantBody)
				}
				gotLoads, gotDels := st.Loads.Load()-loads, st.Deletes.Load()-dels
				if gotLoads > 4 || gotDels > c.wantDels {
					t.Fatalf("%s: %d session loads and %d deletes, want at most 4 and %d", c.name, gotLoads, gotDels, c.wantDels)
				}
				if got := st.Batches.Load() - batches; got != c.wantBatches {
					t.Fatalf("%s: %d batched store calls, want %d", c.name, got, c.wantBatches)
				}
				if c.method == "POST /logout" {
					if w := do(h, "GET", "/user", victim); w.Code != http.StatusUnauthorized {
						t.Fatalf("the live session survived the log-out: %d", w.Code)
					}
				}
			}
		})
	}
}

// TestFourthCandidateIsTheLast checks the bound itself: of five validly
// signed cookies, the fifth is not looked up, so a live session there is
// not the request's.
func TestFourthCandidateIsTheLast(t *testing.T) {
	t.Parallel()
	dead := deadCookies(t, 4)
	st := sessiontest.MemStore(t)
	m, _ := newManager(t, st, nil)
	h := app(m)
	victim := login(t, h, "victim")
	for _, c := range []struct {
		header string
		want   int
	}{
		{strings.Join(append(dead[:3:3], sessiontest.Pair(victim)), "; "), http.StatusOK},
		{strings.Join(append(dead[:4:4], sessiontest.Pair(victim)), "; "), http.StatusUnauthorized},
		// The same dead cookie four times is one candidate.
		{strings.Join([]string{dead[0], dead[0], dead[0], dead[0], dead[1], sessiontest.Pair(victim)}, "; "), http.StatusOK},
	} {
		if w := sessiontest.SendHeader(h, "GET", "/user", c.header); w.Code != c.want {
			t.Fatalf("%d cookies: %d, want %d", strings.Count(c.header, ";")+1, w.Code, c.want)
		}
	}
}
