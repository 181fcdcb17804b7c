package chromium

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// FetchResult is what a page's fetch came back with.
type FetchResult struct {
	// Status is the HTTP status, 0 when the fetch failed (Error).
	Status int
	// Body is the response body as text.
	Body string
	// Error is the TypeError a failed fetch rejects with (a CORS refusal, a
	// network error), "" when a response came back.
	Error string
}

// Fetch runs fetch(url, init) in the page ctx shows and returns the
// outcome; init is a JavaScript object literal ("{credentials: 'include'}";
// "" for none). A fetch that fails (CORS, network) is a result with Error
// set, not an error; the error is for a page that cannot run it.
func Fetch(ctx context.Context, url, init string) (FetchResult, error) {
	if init == "" {
		init = "{}"
	}
	u, err := json.Marshal(url)
	if err != nil {
		return FetchResult{}, err
	}
	js := `fetch(` + string(u) + `, ` + init + `)
		.then(r => r.text().then(body => ({Status: r.status, Body: body})))
		.catch(e => ({Error: String(e)}))`
	return chromedp.Run(ctx, chromedp.Evaluate[FetchResult](js, chromedp.EvalAwaitPromise))
}

// SetCookieOutcome is what Chromium did with one Set-Cookie line of a
// response: stored it, or blocked it for Reasons.
type SetCookieOutcome struct {
	// URL is the request's URL.
	URL string
	// Line is the Set-Cookie line, as Chromium reports it.
	Line string
	// Reasons are Chromium's SetCookieBlockedReason values ("SecureOnly",
	// "SameSiteLax", "InvalidPrefix", …); empty when the cookie was stored.
	Reasons []string
}

// SentCookie is a cookie Chromium considered for a request: sent, or
// withheld for Reasons.
type SentCookie struct {
	// URL is the request's URL.
	URL string
	// Name is the cookie's name.
	Name string
	// Reasons are Chromium's CookieBlockedReason values ("SameSiteLax",
	// "SecureOnly", "DomainMismatch", …); empty when the cookie was sent.
	Reasons []string
}

// CookieWatch records, from the moment Watch returns, what Chromium
// did with the cookies of every request of one tab, with its own reasons.
type CookieWatch struct {
	mu   sync.Mutex
	urls map[network.RequestID]string
	// set and sent are kept by request id until the URL is known: the
	// extra-info events may come before the request's own event.
	set  map[network.RequestID][]SetCookieOutcome
	sent map[network.RequestID][]SentCookie
	all  []network.RequestID
	// methods, and which requests' extra-info events have come (bit 1 the
	// request's, bit 2 the response's), for Wait.
	methods map[network.RequestID]string
	extra   map[network.RequestID]int
	// changed is closed and replaced on every event.
	changed chan struct{}
}

// Watch starts recording ctx's cookie traffic. Chromium reports blocked
// Set-Cookie lines with their reasons; lines it stored come from the
// response headers (a stored line has no Reasons).
func Watch(ctx context.Context) (*CookieWatch, error) {
	w := &CookieWatch{
		urls:    map[network.RequestID]string{},
		set:     map[network.RequestID][]SetCookieOutcome{},
		sent:    map[network.RequestID][]SentCookie{},
		methods: map[network.RequestID]string{},
		extra:   map[network.RequestID]int{},
		changed: make(chan struct{}),
	}
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		defer func() {
			close(w.changed)
			w.changed = make(chan struct{})
		}()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if _, ok := w.urls[ev.RequestID]; !ok {
				w.all = append(w.all, ev.RequestID)
			}
			w.urls[ev.RequestID] = ev.Request.URL
			w.methods[ev.RequestID] = ev.Request.Method
		case *network.EventRequestWillBeSentExtraInfo:
			w.extra[ev.RequestID] |= 1
			for _, c := range ev.AssociatedCookies {
				if c.Cookie == nil {
					continue
				}
				sc := SentCookie{Name: c.Cookie.Name}
				for _, r := range c.BlockedReasons {
					sc.Reasons = append(sc.Reasons, string(r))
				}
				w.sent[ev.RequestID] = append(w.sent[ev.RequestID], sc)
			}
		case *network.EventResponseReceivedExtraInfo:
			w.extra[ev.RequestID] |= 2
			blocked := map[string]bool{}
			for _, b := range ev.BlockedCookies {
				o := SetCookieOutcome{Line: b.CookieLine}
				for _, r := range b.BlockedReasons {
					o.Reasons = append(o.Reasons, string(r))
				}
				blocked[b.CookieLine] = true
				w.set[ev.RequestID] = append(w.set[ev.RequestID], o)
			}
			for k, v := range ev.Headers {
				if !strings.EqualFold(k, "Set-Cookie") {
					continue
				}
				s, _ := v.(string)
				for _, line := range strings.Split(s, "\n") {
					if line != "" && !blocked[line] {
						w.set[ev.RequestID] = append(w.set[ev.RequestID], SetCookieOutcome{Line: line})
					}
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("chromium: watch cookies: %w", err)
	}
	return w, nil
}

// Wait blocks until Chromium has reported the cookies of a request with
// method to a URL containing urlPart, both ways (what it sent, what the
// response set), or ctx ends. Its reports come as events, after the page
// may already have the response: wait before reading them.
func (w *CookieWatch) Wait(ctx context.Context, method, urlPart string) error {
	for {
		w.mu.Lock()
		changed := w.changed
		done := false
		for _, id := range w.all {
			if w.methods[id] == method && strings.Contains(w.urls[id], urlPart) && w.extra[id] == 3 {
				done = true
			}
		}
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chromium: no cookie report for %s %s: %w", method, urlPart, ctx.Err())
		case <-changed:
		}
	}
}

// SetCookies returns the outcome of every Set-Cookie line of the responses
// to requests whose URL contains urlPart, in the order of the requests.
func (w *CookieWatch) SetCookies(urlPart string) []SetCookieOutcome {
	return matching(w, urlPart, w.set, func(o *SetCookieOutcome, u string) { o.URL = u })
}

// SentCookies returns the cookies Chromium considered for requests whose
// URL contains urlPart, sent or withheld, in the order of the requests.
func (w *CookieWatch) SentCookies(urlPart string) []SentCookie {
	return matching(w, urlPart, w.sent, func(c *SentCookie, u string) { c.URL = u })
}

// matching returns the records of by for the requests whose URL contains
// urlPart, in request order, each given its URL by setURL.
func matching[T any](w *CookieWatch, urlPart string, by map[network.RequestID][]T, setURL func(*T, string)) []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []T
	for _, id := range w.all {
		if u := w.urls[id]; strings.Contains(u, urlPart) {
			for _, r := range by[id] {
				setURL(&r, u)
				out = append(out, r)
			}
		}
	}
	return out
}
