package reliability

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newClient returns an HTTP client for many browsers: a pooled transport
// (keep-alive, so thousands of requests do not exhaust loopback ports), no
// cookie jar (each browser keeps its own cookie), no proxy, no redirects.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// browser is one simulated browser: its own cookie jar, reduced to what a
// browser keeps for this site. It is deliberately not net/http/cookiejar,
// which drops Secure cookies received over http://, and the balancer is
// plain HTTP playing a TLS terminator. A browser is used by one goroutine
// at a time.
type browser struct {
	n      int
	email  string
	base   string
	client *http.Client
	// cookie is the session cookie's value; "" when the browser has none.
	cookie string
}

// exchange is one request and what came back.
type exchange struct {
	status int
	body   []byte
	// setCookie is the session cookie value the response set, "" if none;
	// cleared reports a Set-Cookie that deletes it.
	setCookie string
	cleared   bool
	// backend names the instance that answered through the balancer.
	backend string
	err     error
	start   time.Time
	dur     time.Duration
}

// do sends one request with the browser's cookie and keeps the cookie the
// response sets, as a browser would.
func (b *browser) do(ctx context.Context, method, path string, body []byte) exchange {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return exchange{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+b.cookie)
	}
	ex := exchange{start: time.Now()}
	resp, err := b.client.Do(req)
	if err != nil {
		ex.err, ex.dur = err, time.Since(ex.start)
		return ex
	}
	ex.body, ex.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	ex.dur = time.Since(ex.start)
	ex.status = resp.StatusCode
	ex.backend = resp.Header.Get(backendHeader)
	for _, c := range resp.Cookies() {
		if c.Name != cookieName {
			continue
		}
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			ex.cleared, ex.setCookie = true, ""
			b.cookie = ""
			continue
		}
		ex.setCookie, ex.cleared = c.Value, false
		b.cookie = c.Value
	}
	if ex.err == nil && resp.StatusCode == http.StatusBadGateway && len(ex.body) == 0 {
		// The balancer could not reach the instance: the request failed in
		// flight, which is not an answer from sessionkit.
		ex.err = errBadGateway
	}
	return ex
}

var errBadGateway = fmt.Errorf("502 from the balancer: instance unreachable")

func loginBody(email, pw string) []byte {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return b
}

// login posts the browser's credentials.
func (b *browser) login(ctx context.Context) exchange {
	return b.do(ctx, http.MethodPost, "/api/login", loginBody(b.email, password))
}

// user gets /api/user.
func (b *browser) user(ctx context.Context) exchange {
	return b.do(ctx, http.MethodGet, "/api/user", nil)
}

// logout posts /api/logout.
func (b *browser) logout(ctx context.Context) exchange {
	return b.do(ctx, http.MethodPost, "/api/logout", nil)
}

// userEmail returns the email of a 200 /api/user body.
func userEmail(body []byte) string {
	var u struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	}
	if json.Unmarshal(body, &u) != nil {
		return ""
	}
	return u.Email
}

// splitSigned splits a signed cookie value, "s:" + id + "." + signature
// URL-encoded, into its id and signature; ok is false for any other format.
func splitSigned(value string) (id, sig string, ok bool) {
	dec, err := url.PathUnescape(value)
	if err != nil {
		return "", "", false
	}
	body, ok := strings.CutPrefix(dec, "s:")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(body, '.')
	if i < 1 {
		return "", "", false
	}
	return body[:i], body[i+1:], true
}

// sessionID returns the session id a signed cookie value names, "" if it is
// not in the signed format (see splitSigned).
func sessionID(value string) string {
	id, _, _ := splitSigned(value)
	return id
}

// signedWith reports whether a cookie value's signature is secret's, by the
// express-session format (HMAC-SHA256, unpadded standard base64).
func signedWith(value, secret string) bool {
	id, s, ok := splitSigned(value)
	if !ok {
		return false
	}
	sig, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	return hmac.Equal(sig, m.Sum(nil))
}

// sign returns a cookie value for id signed with secret, in the format the
// instances use, for crafting cookies.
func sign(id, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	sig := base64.RawStdEncoding.EncodeToString(m.Sum(nil))
	return "s%3A" + id + "." + strings.NewReplacer("+", "%2B", "/", "%2F").Replace(sig)
}

// newBrowsers returns n browsers on base for emails[0:n].
func newBrowsers(client *http.Client, base string, emails []string) []*browser {
	bs := make([]*browser, len(emails))
	for i, e := range emails {
		bs[i] = &browser{n: i, email: e, base: base, client: client}
	}
	return bs
}

// parallel runs f(i) for i in [0, n) on workers goroutines and waits.
func parallel(workers, n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// untilStopped runs f(worker, i) for i in [0, n) over and over on workers
// goroutines, worker k owning every workers-th i from k (so per-index state
// needs no lock), until stop is closed or rounds passes are made, and waits.
func untilStopped(stop <-chan struct{}, workers, n, rounds int, f func(worker, i int)) {
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for i := k; i < n; i += workers {
					select {
					case <-stop:
						return
					default:
					}
					f(k, i)
				}
			}
		}()
	}
	wg.Wait()
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// summary returns "n=… p50=… p99=… max=…".
func (l *latencies) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "n=0"
	}
	d := append([]time.Duration(nil), l.d...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	r := func(x time.Duration) string { return x.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(d), r(pct(0.50)), r(pct(0.99)), r(d[len(d)-1]))
}

// tally counts outcomes by name, safely from many goroutines.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) inc(key string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[key]++
	t.mu.Unlock()
}

func (t *tally) get(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[key]
}

// String lists the counts in key order.
func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t.m[k]))
	}
	return strings.Join(parts, " ")
}

// outcome names an exchange for a tally: its status, or "error".
func outcome(ex exchange) string {
	if ex.err != nil {
		return "error"
	}
	return fmt.Sprint(ex.status)
}

// discardLogger is for the balancer's internal errors, which its
// ErrorHandler already counts.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// errorf collects failures from worker goroutines (t.Fatal must not be
// called there) and reports the first few.
type errorf struct {
	mu   sync.Mutex
	n    int
	msgs []string
}

func (e *errorf) add(format string, a ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.msgs) < 10 {
		e.msgs = append(e.msgs, fmt.Sprintf(format, a...))
	}
}

// check fails t with the collected errors.
func (e *errorf) check(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n > 0 {
		t.Errorf("%d failures; first %d:\n  %s", e.n, len(e.msgs), strings.Join(e.msgs, "\n  "))
	}
}
