package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStore wraps every failure of the session store, so handlers can answer
// 503 rather than treating the user as logged out:
//
//	if errors.Is(err, sessionkit.ErrStore) { ... 503 ... }
var ErrStore = errors.New("sessionkit: session store unavailable")

// badSignatureLogInterval bounds how often unknown signatures are logged.
const badSignatureLogInterval = time.Minute

// Manager holds the configuration shared by all requests. It is safe for
// concurrent use; create one per application with New.
type Manager struct {
	cfg    Config
	store  Store
	signer *signer
	log    *slog.Logger
	stats  counters
	// cache is nil without Config.Cache.Entries.
	cache *sessionCache
	// dbsc is nil without Config.DeviceBound.
	dbsc *deviceBound
	// events is nil without Config.OnEvent.
	events *events

	fingerprint      string
	lastBadSigLog    atomic.Int64 // unix nanoseconds
	lastMalformedLog atomic.Int64
	lastConflictLog  atomic.Int64
	insecureWarning  sync.Once
	closeOnce        sync.Once
}

// New validates cfg, fills in its defaults and returns a Manager. It logs the
// fingerprint of the signing secret (never the secret) so operators can check
// that every instance holds the same one.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, configError{errNoStore}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.Store.(UserIndex); cfg.MaxSessionsPerUser > 0 && !ok {
		return nil, fmt.Errorf("%w, which Config.MaxSessionsPerUser needs", ErrNoUserIndex)
	}
	feed, hasFeed := cfg.Store.(ChangeFeed)
	if cfg.Cache.Entries > 0 && !hasFeed {
		return nil, ErrNoChangeFeed
	}
	m := &Manager{cfg: cfg, store: cfg.Store, log: cfg.Logger, signer: newSigner(cfg.Secrets), dbsc: newDeviceBound(cfg)}
	if cfg.Cache.Entries > 0 {
		m.cache = newSessionCache(cfg.Cache.Entries, cfg.Cache.MaxAge)
		m.cache.watch(feed)
	}
	m.events = newEvents(cfg)
	m.fingerprint = Fingerprint(cfg.Secrets[0])
	verify := make([]string, len(cfg.Secrets))
	for i, s := range cfg.Secrets {
		verify[i] = Fingerprint(s)
	}
	m.log.Info("sessionkit: session cookies signed by secret "+m.fingerprint+"; every instance sharing the store must log the same fingerprint",
		"cookie", cfg.Cookie.Name, "signing_fingerprint", m.fingerprint, "verifying_fingerprints", strings.Join(verify, ","))
	return m, nil
}

// CookieName returns the configured session cookie name.
func (m *Manager) CookieName() string { return m.cfg.Cookie.Name }

// Stats returns a snapshot of the manager's counters.
func (m *Manager) Stats() Stats {
	st := m.stats.snapshot()
	if m.cache != nil {
		m.cache.stats(&st)
	}
	if m.events != nil {
		st.EventsDropped = m.events.dropped.Load()
	}
	return st
}

// Close stops the session cache's change feed (Config.Cache.Entries) and
// the event queue (Config.OnEvent, after the events already queued reach the
// hook), and waits for them. A Manager without either has nothing to stop.
// Close is idempotent; after it the cache is bypassed, events are no longer
// delivered, and the Manager keeps working on the store alone.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		if m.cache != nil {
			m.cache.close()
		}
		if m.events != nil {
			m.events.close()
		}
	})
}

// Middleware returns next wrapped so that every request carries a Session,
// which is saved, when it changed, before the response headers are written.
// It has the plain func(http.Handler) http.Handler shape of net/http and chi
// middleware.
//
//go:noinline
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{Context: r.Context()}
		st.sess.m = m
		st.sess.ctx = r.Context()
		st.sess.req = r
		st.rw.ResponseWriter = w
		if h := w.Header(); len(h) > 0 {
			st.rw.keepInitialHeader(h)
		}
		st.rw.sess = &st.sess
		// The request copy lives inside st: WithContext is inlined and its
		// result, which does not escape, copied, so a request costs one
		// allocation. (That holds while this closure is compiled here: the
		// noinline directive keeps callers from inlining Middleware and
		// compiling their own copy, in which the copy was seen to escape.)
		st.req = *r.WithContext(st)
		r = &st.req
		st.rw.req = r
		next.ServeHTTP(&st.rw, r)
		st.rw.finish()
	})
}

// requestState is the one allocation the middleware makes per request: the
// context that carries the session, the session, the response writer and
// the request handed to the next handler.
type requestState struct {
	context.Context
	sess Session
	rw   responseWriter
	req  http.Request
}

type contextKey struct{ name string }

var sessionContextKey = &contextKey{"sessionkit session"}

// Value returns the session for sessionContextKey and defers to the parent
// context otherwise.
func (s *requestState) Value(key any) any {
	if key == sessionContextKey {
		return &s.sess
	}
	return s.Context.Value(key)
}

// ErrNoMiddleware is returned by From for a request that did not pass through
// a Manager's Middleware.
var ErrNoMiddleware = errors.New("sessionkit: no session on this request. " +
	"The handler is not wrapped by Manager.Middleware: mount the middleware on this route " +
	"(or on the router that serves it)")

// From returns the request's session. It fails with ErrNoMiddleware when the
// request did not pass through Manager.Middleware: the misconfiguration is an
// error, not an anonymous user.
func From(r *http.Request) (*Session, error) {
	s, ok := r.Context().Value(sessionContextKey).(*Session)
	if !ok {
		return nil, ErrNoMiddleware
	}
	return s, nil
}

// store calls, timed and counted; failures wrapped in ErrStore.

func (m *Manager) storeCall(op string, id string, f func() error) error {
	return m.storeCalls(op, id, 1, f)
}

// storeCalls is storeCall for a call on n sessions, the first with this id.
func (m *Manager) storeCalls(op string, id string, n int, f func() error) error {
	start := time.Now()
	err := f()
	m.stats.observe(time.Since(start))
	if err != nil && !errors.Is(err, ErrExists) {
		m.stats.storeErrors.Add(1)
		what := "session " + shortID(id)
		if n > 1 {
			what = strconv.Itoa(n) + " sessions"
		}
		return fmt.Errorf("%w: %s %s: %w", ErrStore, op, what, err)
	}
	return err
}

// load reads the session from the cache, or else from the store (counted
// in Loads), caching what it found.
func (m *Manager) load(ctx context.Context, id string) (rec Record, found bool, err error) {
	var epoch uint64
	if m.cache != nil {
		if rec, ok := m.cache.get(id, time.Now()); ok {
			return rec, true, nil
		}
		epoch = m.cache.begin()
	}
	m.stats.loads.Add(1)
	err = m.storeCall("load", id, func() (err error) {
		rec, found, err = m.store.Load(ctx, id)
		return err
	})
	if found && m.cache != nil {
		m.cache.put(id, rec, epoch, time.Now())
	}
	return rec, found, err
}

// loadMany is load for several ids (at most maxLookups), returning the live
// ones by id: those the cache does not hold are read from the store in one
// LoadMany when it is a BatchStore, else with one Load each. Every id read
// from the store counts in Loads.
func (m *Manager) loadMany(ctx context.Context, ids []string) (map[string]Record, error) {
	out := make(map[string]Record, len(ids))
	miss := ids
	var epoch uint64
	if m.cache != nil {
		miss = nil
		now := time.Now()
		for _, id := range ids {
			if rec, ok := m.cache.get(id, now); ok {
				out[id] = rec
			} else {
				miss = append(miss, id)
			}
		}
		epoch = m.cache.begin()
	}
	if len(miss) == 0 {
		return out, nil
	}
	m.stats.loads.Add(uint64(len(miss)))
	err := m.storeCalls("load", miss[0], len(miss), func() error {
		if batch, ok := m.store.(BatchStore); ok {
			found, err := batch.LoadMany(ctx, miss)
			for _, id := range miss {
				if rec, ok := found[id]; ok {
					out[id] = rec
				}
			}
			return err
		}
		for _, id := range miss {
			rec, found, err := m.store.Load(ctx, id)
			if err != nil {
				return err
			}
			if found {
				out[id] = rec
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.cache != nil {
		now := time.Now()
		for _, id := range miss {
			if rec, ok := out[id]; ok {
				m.cache.put(id, rec, epoch, now)
			}
		}
	}
	return out, nil
}

// changed forgets the cached session with this id, which this instance is
// changing: its own next read must not wait for the announcement. It is
// called before and after the store call, so that a load crossing the
// change cannot cache the old record.
func (m *Manager) changed(id string) {
	if m.cache != nil {
		m.cache.drop(id)
	}
}

func (m *Manager) create(ctx context.Context, id string, rec Record) error {
	m.stats.creates.Add(1)
	return m.storeCall("create", id, func() error { return m.store.Create(ctx, id, rec) })
}

func (m *Manager) update(ctx context.Context, id string, p Patch) (found bool, err error) {
	if len(p.Set) == 0 && len(p.Delete) == 0 {
		m.stats.touches.Add(1)
	} else {
		m.stats.saves.Add(1)
	}
	if !p.Empty() {
		m.changed(id)
		defer m.changed(id)
	}
	err = m.storeCall("update", id, func() (err error) {
		found, err = m.store.Update(ctx, id, p)
		return err
	})
	return found, err
}

func (m *Manager) delete(ctx context.Context, id string) error {
	m.stats.destroys.Add(1)
	m.changed(id)
	defer m.changed(id)
	return m.storeCall("delete", id, func() error { return m.store.Delete(ctx, id) })
}

// deleteMany deletes the sessions with these ids: in one DeleteMany when
// the store is a BatchStore and there are several, else with one Delete
// each.
func (m *Manager) deleteMany(ctx context.Context, ids []string) error {
	batch, ok := m.store.(BatchStore)
	if !ok || len(ids) < 2 {
		for _, id := range ids {
			if err := m.delete(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}
	m.stats.destroys.Add(uint64(len(ids)))
	forget := func() {
		for _, id := range ids {
			m.changed(id)
		}
	}
	forget()
	defer forget()
	return m.storeCalls("delete", ids[0], len(ids), func() error { return batch.DeleteMany(ctx, ids) })
}

// shortID returns a prefix of id that is safe to log.
func shortID(id string) string {
	if len(id) > 6 {
		return id[:6] + "…"
	}
	return id
}

// noteCookie counts a cookie of request r that failed verification and
// reports it: as an EventCookieRejected with Config.OnEvent, else logged at
// most once a minute for each kind.
func (m *Manager) noteCookie(r *http.Request, status CookieStatus) {
	var last *atomic.Int64
	var msg string
	switch status {
	case CookieBadSignature:
		m.stats.badSignatures.Add(1)
		last = &m.lastBadSigLog
		msg = "sessionkit: session cookies signed by a secret this instance does not hold were treated as no session. " +
			"If instances share a store, they may hold different secrets: " +
			"compare the signing fingerprint each instance logs at start, and keep an old secret in Secrets while rotating."
	case CookieMalformed:
		m.stats.malformed.Add(1)
		last = &m.lastMalformedLog
		msg = "sessionkit: session cookies not in the signed s:<id>.<signature> format were treated as no session. " +
			"Another application on this domain may use the same cookie name, or a client is sending junk."
	default:
		return
	}
	if m.events != nil {
		m.requestEvent(r, Event{Kind: EventCookieRejected, Reason: status.String()})
		return
	}
	if !once(last) {
		return
	}
	st := m.stats.snapshot()
	m.log.Warn(msg, "cookie", m.cfg.Cookie.Name, "status", status.String(), "signing_fingerprint", m.fingerprint,
		"bad_signatures_total", st.BadSignatures, "malformed_total", st.MalformedCookies)
}

// sameNameConflict reports, as a security event, a request whose session
// cookies named more than one live session: one of them was likely planted
// (by a sibling subdomain, or with a longer Path). The request is treated
// as having no session; see Session.load for the rule. With Config.OnEvent
// it is an EventCookieRejected; else it is logged, at most once a minute,
// since the browser repeats it on every request.
func (m *Manager) sameNameConflict(r *http.Request, candidates int) {
	if m.events != nil {
		m.requestEvent(r, Event{Kind: EventCookieRejected, Reason: ReasonConflict})
		return
	}
	if !once(&m.lastConflictLog) {
		return
	}
	m.log.Warn("sessionkit: security: the request carried session cookies naming several live sessions. "+
		"They are treated as no session until the user logs in again (which ends them all). "+
		"A cookie may have been planted by a sibling subdomain or with a longer Path: use a __Host- cookie name.",
		"event", "session_cookie_conflict", "cookie", m.cfg.Cookie.Name, "candidates", candidates,
		"client", m.cfg.TrustedProxies.ClientNetwork(r), "method", r.Method, "path", r.URL.Path)
}

// once reports whether a line throttled by last (unix nanoseconds of its
// last one) may be logged now: at most once per badSignatureLogInterval.
func once(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(badSignatureLogInterval) && last.CompareAndSwap(prev, now)
}
