package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// ErrCommitted is returned by a change made after the response headers were
// written: the session was already saved, so the change cannot be. Make
// session changes before writing the response.
var ErrCommitted = errors.New("sessionkit: session changed after the response headers were written; the change is not saved")

// Session is one request's session, reached with From. It is lazy: nothing
// is read from the store until a method needs a value, and nothing is
// written unless a method marked the session changed. Its methods are safe
// for concurrent use by the request's goroutines, and use the request's
// context for store calls.
type Session struct {
	m   *Manager
	ctx context.Context
	req *http.Request

	mu sync.Mutex
	// resolved is set once the cookie has been read.
	resolved bool
	status   CookieStatus
	// candidates are the distinct ids that validly signed session cookies
	// of the request named (at most maxLookups), live or not, in header
	// order; candidateBuf holds the usual single one without an allocation.
	candidates   []string
	candidateBuf [1]string
	// live are the candidates load found; liveBuf holds the usual single
	// one without an allocation.
	live    []string
	liveBuf [1]string
	// storedMeta memoizes decodeStoredMeta.
	storedMeta metaMemo
	// id is the session's id: the live candidate, a new id, or "" for a
	// new session that has not been given one yet.
	id string
	// isNew means id has no row: saving creates one.
	isNew bool
	// loaded means values, created and expiry are known.
	loaded bool
	// existed means a Load in this request found the row for id.
	existed bool
	values  map[string]json.RawMessage
	created time.Time
	expiry  time.Time
	// set and del are this request's changes.
	set map[string]json.RawMessage
	del map[string]struct{}
	// obsolete ids are deleted when the session is saved.
	obsolete    []string
	clearCookie bool
	committed   bool
	// lifetimeSet means SetLifetime ran in this request: the stored expiry
	// follows the new lifetime even inside the touch interval.
	lifetimeSet bool
	// leaveAlone means LeaveAlone ran: the save writes nothing.
	leaveAlone bool
	// authUser is the user Authenticate bound the session to in this
	// request, whose oldest sessions the save ends beyond
	// Config.MaxSessionsPerUser.
	authUser string
	// register means Authenticate ran with Config.DeviceBound: the response
	// offers the browser to bind the new session to a key.
	register bool
	// ev is what Config.OnEvent hears of when the session is saved.
	ev sessionEvents
}

// resolve reads the session cookie, once.
func (s *Session) resolve() {
	if s.resolved {
		return
	}
	s.resolved = true
	s.candidates, s.status = s.m.signer.readSessionCookie(s.req, s.m.cfg.Cookie.Name, s.candidateBuf[:0])
	s.m.noteCookie(s.req, s.status)
	switch len(s.candidates) {
	case 0:
		s.isNew, s.loaded = true, true
	case 1:
		s.id = s.candidates[0]
	default:
		// Which one is the session is known only after load.
	}
}

// load reads the session from the store the first time a value is needed.
// A cookie naming a session that is gone (expired, destroyed) gives a new,
// empty session; its id is not reused, so a client cannot choose its id.
//
// When the request carries several validly signed session cookies (a
// browser sends every same-name cookie whose domain and path match, and a
// sibling subdomain or a longer Path can plant one), the rule is:
//   - the first maxLookups distinct candidates in header order are looked
//     up, in one store round trip where the store allows (BatchStore); the
//     rest are ignored, so that no request costs more than maxLookups reads;
//   - exactly one live: that is the session, wherever it stood among them,
//     so a dead or junk cookie placed first cannot log the user out;
//   - two or more live: the request has no session. The browser holds
//     another account's cookie beside its own, and acting as either could
//     put the user's actions in the attacker's account; the answer is "not
//     logged in", and a log-in (Regenerate) or log-out (Destroy) ends every
//     candidate, after which only the new session is live.
func (s *Session) load() error {
	s.resolve()
	if s.loaded {
		return nil
	}
	var rec Record
	if len(s.candidates) == 1 {
		// The usual request: one cookie, one read, no map.
		id := s.candidates[0]
		r, found, err := s.m.load(s.ctx, id)
		if err != nil {
			return err
		}
		if found {
			s.live, rec = append(s.liveBuf[:0], id), r
		}
	} else if len(s.candidates) > 1 {
		recs, err := s.m.loadMany(s.ctx, s.candidates)
		if err != nil {
			return err
		}
		for _, id := range s.candidates {
			if r, found := recs[id]; found {
				if len(s.live) == 0 {
					rec = r
				}
				s.live = append(s.live, id)
			}
		}
	}
	s.loaded = true
	switch len(s.live) {
	case 1:
		if s.m.boundRefused(s.req, s.live[0], rec.Values) {
			// A device-bound session without its bound cookie: a copied
			// session cookie, or a browser that has not refreshed yet.
			s.isNew, s.id = true, ""
			break
		}
		s.id, s.existed = s.live[0], true
		s.values, s.created, s.expiry = rec.Values, rec.Created, rec.Expiry
	case 0:
		s.isNew, s.id = true, ""
		s.reportGone()
	default:
		s.isNew, s.id = true, ""
		s.m.sameNameConflict(s.req, len(s.candidates))
	}
	return nil
}

// ended lists the candidates that Regenerate and Destroy end: every one that
// may be live, i.e. all of them unless load found which are. Deleting a
// missing id is a no-op, so an unchecked dead one costs a delete, not an
// error.
func (s *Session) ended() []string {
	if !s.loaded {
		return s.candidates
	}
	return s.live[:len(s.live):len(s.live)]
}

// Get decodes the value stored under key into dst, which must be a pointer,
// and reports whether the key was present. It reads the store on the
// session's first use in the request; it does not mark the session changed.
func (s *Session) Get(key string, dst any) (found bool, err error) {
	raw, found, err := s.lookup(key)
	if err != nil || !found {
		return false, err
	}
	return true, decodeKey(key, raw, dst)
}

// decodeKey decodes raw, the value stored under key, into dst.
func decodeKey(key string, raw json.RawMessage, dst any) error {
	if err := decodeValue(raw, dst); err != nil {
		return fmt.Errorf("sessionkit: decode session key %q: %w", key, err)
	}
	return nil
}

// GetString is Get for a string: it returns the string stored under key,
// or "" when the key is absent. A value that is not a string is an error,
// as it is for Get, so that a key written with another type is not read as
// "no value".
func (s *Session) GetString(key string) (string, error) {
	raw, found, err := s.lookup(key)
	if err != nil || !found {
		return "", err
	}
	// The usual value, a plain string, is made here: a v handed to
	// decodeKey escapes, an allocation on every read.
	if v, ok := plainString(raw); ok {
		return v, nil
	}
	var v string
	if err := decodeKey(key, raw, &v); err != nil {
		return "", err
	}
	return v, nil
}

// Pop is Get followed by Delete, under one lock: a value read once, such
// as a flash message. It decodes the value stored under key into dst and
// removes the key, reporting whether it was present; only a present key
// marks the session changed. A value that does not decode into dst is
// reported with an error and stays. After the response headers were written
// it returns ErrCommitted and removes nothing. Two requests of one session
// that run at once may both see the value: the lock is the request's.
func (s *Session) Pop(key string, dst any) (found bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, found, err := s.lookupLocked(key)
	if err != nil || !found {
		return false, err
	}
	if err := s.changeable(); err != nil {
		return true, err
	}
	if err := decodeKey(key, raw, dst); err != nil {
		return true, err
	}
	s.deleteLocked(key)
	return true, nil
}

func (s *Session) lookup(key string) (json.RawMessage, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(key)
}

// lookupLocked is lookup with s.mu held.
func (s *Session) lookupLocked(key string) (json.RawMessage, bool, error) {
	s.resolve()
	if v, ok := s.set[key]; ok {
		return v, true, nil
	}
	if _, ok := s.del[key]; ok {
		return nil, false, nil
	}
	if err := s.load(); err != nil {
		return nil, false, err
	}
	v, ok := s.values[key]
	return v, ok, nil
}

// Keys returns the session's keys, sorted. It reads the store like Get.
func (s *Session) Keys() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return nil, err
	}
	var keys []string
	for k := range s.values {
		if _, deleted := s.del[k]; !deleted {
			if _, set := s.set[k]; !set {
				keys = append(keys, k)
			}
		}
	}
	for k := range s.set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// Exists reports whether the request's cookie named a live stored session.
// It reads the store like Get. It is false for a new session, even after
// Put, until a later request.
func (s *Session) Exists() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return false, err
	}
	return s.existed, nil
}

// Put stores value, encoded as JSON, under key, and marks the session
// changed. It does not read the store: when the session is saved only the
// changed keys are written, so concurrent requests that change different
// keys both keep their change. Because it does not read, a request that
// only writes leaves an idle-timeout session's expiry as it was; reading
// refreshes it.
func (s *Session) Put(key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("sessionkit: encode session key %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeable(); err != nil {
		return err
	}
	if s.set == nil {
		s.set = make(map[string]json.RawMessage)
	}
	s.set[key] = raw
	delete(s.del, key)
	return nil
}

// Delete removes key and marks the session changed. Like Put, it does not
// read the store.
func (s *Session) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeable(); err != nil {
		return err
	}
	s.deleteLocked(key)
	return nil
}

// deleteLocked records the removal of key. s.mu is held.
func (s *Session) deleteLocked(key string) {
	if s.del == nil {
		s.del = make(map[string]struct{})
	}
	s.del[key] = struct{}{}
	delete(s.set, key)
}

// Regenerate gives the session a new id, keeping its data, and ends the old
// id when the session is saved: call it when the user's privilege changes
// (log-in), so an id planted in the browser before log-in is worthless. It
// reads the store like Get and marks the session changed.
func (s *Session) Regenerate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLoaded(); err != nil {
		return err
	}
	s.noteNewID(EventRotated)
	s.regenerate()
	return nil
}

// changeLoaded starts a change that needs the stored values: ErrCommitted
// after the save, else the session loaded. s.mu is held.
func (s *Session) changeLoaded() error {
	if err := s.changeable(); err != nil {
		return err
	}
	return s.load()
}

// regenerate moves the loaded session to a new id, its values pending as
// changes, and marks for deletion the old id and every other candidate the
// browser presented, so that after a log-in the new session is the only
// live one. s.mu is held and s loaded.
func (s *Session) regenerate() {
	s.obsolete = append(s.obsolete, s.ended()...)
	merged := make(map[string]json.RawMessage, len(s.values)+len(s.set))
	for k, v := range s.values {
		if _, deleted := s.del[k]; !deleted {
			merged[k] = v
		}
	}
	for k, v := range s.set {
		merged[k] = v
	}
	s.values, s.del, s.set = nil, nil, merged
	s.isNew, s.existed, s.id = true, false, newID()
}

// LeaveAlone makes this request save nothing of the session: no change made
// in the request, no idle or express touch, no last-seen time and no
// cookie, set or cleared. It is for a session the application must not
// alter, such as another application's on a shared store: sessionkit serve
// calls it for a Node session it cannot map to one of its users, whose
// expiry and cookie belong to Node. After the response headers were written
// it returns ErrCommitted, like every change.
func (s *Session) LeaveAlone() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeable(); err != nil {
		return err
	}
	s.leaveAlone = true
	return nil
}

// Destroy deletes the session from the store when it is saved and clears the
// cookie (same name, path and domain). When the request carried several
// validly signed session cookies, it deletes the session of every one of
// them: a log-out must end whichever session the browser sends next time,
// whatever else its Cookie header holds. It does not read the store. A Put
// after Destroy starts a new session with a new id.
func (s *Session) Destroy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeable(); err != nil {
		return err
	}
	s.noteDestroy(s.ended())
	s.obsolete = append(s.obsolete, s.ended()...)
	s.values, s.set, s.del, s.authUser = nil, nil, nil, ""
	s.isNew, s.loaded, s.existed, s.id = true, true, false, ""
	s.clearCookie = s.status != CookieAbsent
	return nil
}

// ID returns the session's id, or "" for a new session that has not been
// given one. The id is the secret the cookie carries: whoever holds it
// holds the session. It is for code that works on the store itself (a
// Store's keys, HashID); to show, log or revoke a session use Handle, and
// a store's change feed uses ChangeKey. It reads the cookie, not the
// store, so it may name a session that has expired; with several validly
// signed session cookies, it is "" until a read has chosen among them (see
// Get). Never log it whole.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	return s.id
}

// CookieStatus reports what the request's session cookie was: absent, valid,
// signed by an unknown secret, or malformed.
func (s *Session) CookieStatus() CookieStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	return s.status
}

// changeable reports ErrCommitted, loudly, for a change after the save.
func (s *Session) changeable() error {
	if s.committed {
		s.m.log.Warn("sessionkit: session changed after the response headers were written, so the change is lost. "+
			"Change the session before writing the response.",
			"method", s.req.Method, "path", s.req.URL.Path)
		return ErrCommitted
	}
	s.resolve()
	return nil
}

// commit saves the session's changes and sets or clears the cookie. It runs
// once, before the response headers are written.
func (s *Session) commit(h http.Header) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = true
	if !s.resolved || s.leaveAlone {
		return nil // the handler never touched its session, or asked so
	}
	if s.boundUnverified() {
		if err := s.load(); err != nil {
			return err
		}
	}
	now := s.m.expressInstant(time.Now())
	var cookie *http.Cookie
	loggedIn := false
	if s.isNew {
		if len(s.set) > 0 {
			if err := s.create(now); err != nil {
				return err
			}
			loggedIn = s.authUser != ""
			cookie = s.m.cookie(s.id, s.expiry, now)
			if s.register {
				s.m.offerRegistration(h, s.id)
			} else if s.m.dbsc != nil && isBound(s.set) {
				// Regenerate kept the binding: the bound cookie follows
				// the new id, or the browser, whose cookie has not
				// expired, would not refresh it.
				s.m.writeCookie(h, s.req, s.m.boundCookie(s.id, s.m.dbsc.now()))
			}
		} else if s.clearCookie {
			cookie = s.m.expiredCookie()
			if s.m.dbsc != nil {
				s.m.writeCookie(h, s.req, s.m.expiredBoundCookie())
			}
		}
	} else {
		p := Patch{Set: s.set}
		for k := range s.del {
			p.Delete = append(p.Delete, k)
		}
		if s.existed {
			if target, ok := s.touchExpiry(now); ok {
				p.Expiry = target
			}
		}
		if s.existed {
			if seen := s.seenPatch(now); seen != nil {
				p.Set = make(map[string]json.RawMessage, len(s.set)+1)
				for k, v := range s.set {
					p.Set[k] = v
				}
				p.Set[seenKey] = seen
			}
		}
		if !p.Expiry.IsZero() {
			// The cookie is re-issued below with the new expiry.
			p.Set = s.m.withExpressCookie(p.Set, p.Expiry, now)
		}
		if !p.Empty() {
			found, err := s.m.update(s.ctx, s.id, p)
			switch {
			case err != nil:
				return err
			case found && !p.Expiry.IsZero():
				s.expiry = p.Expiry
				cookie = s.m.cookie(s.id, s.expiry, now)
				s.reportRefreshed()
			case !found && s.existed:
				// Another request destroyed or regenerated this session
				// after this one read it. That request's decision wins: a
				// slow request must not undo a logout, nor overwrite the
				// cookie a log-in just set.
				s.m.stats.dropped.Add(1)
			case !found && len(s.set) > 0:
				// The cookie named a session that is gone, and this request
				// wrote without reading: its changes start a new session,
				// under a new id, so a destroyed id never comes back.
				s.id = ""
				if err := s.create(now); err != nil {
					return err
				}
				cookie = s.m.cookie(s.id, s.expiry, now)
			}
		}
	}
	if len(s.obsolete) > 0 {
		// Regenerate and Destroy may both have listed an id.
		slices.Sort(s.obsolete)
		if err := s.m.deleteMany(s.ctx, slices.Compact(s.obsolete)); err != nil {
			return err
		}
	}
	if loggedIn && s.m.cfg.MaxSessionsPerUser > 0 {
		if err := s.m.endOldest(s.ctx, s.req, s.authUser); err != nil {
			return err
		}
	}
	s.reportEnded()
	if cookie != nil {
		s.m.writeCookie(h, s.req, cookie)
	}
	return nil
}

// create saves the pending values as a new session.
func (s *Session) create(now time.Time) error {
	expiry := now.Add(s.lifetime())
	if s.m.cfg.Expiry.IdleTimeout > 0 {
		expiry = earliest(expiry, now.Add(s.m.cfg.Expiry.IdleTimeout))
	}
	expiry = s.m.expressInstant(expiry)
	values := s.m.withExpressCookie(s.set, expiry, now)
	for attempt := 0; ; attempt++ {
		if s.id == "" || attempt > 0 {
			s.id = newID()
		}
		err := s.m.create(s.ctx, s.id, Record{Values: values, Created: now, Expiry: expiry})
		if errors.Is(err, ErrExists) && attempt < 2 {
			continue // 256-bit ids do not collide; retry rather than share
		}
		if err != nil {
			return err
		}
		s.created, s.expiry, s.isNew = now, expiry, false
		s.reportCreated()
		return nil
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
