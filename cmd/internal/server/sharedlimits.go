package server

import (
	"context"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// limitsTimeout bounds each call to the store of the shared log-in limits:
// past it the instance counts alone (see loginCount) rather than keep a
// log-in waiting.
const limitsTimeout = 2 * time.Second

// eventLimitsUnavailable is logged, through the log throttle (at most once a
// minute), when the store of the shared limits fails a call.
const eventLimitsUnavailable = "login_limits_unavailable"

// loginCount is one count of the log-in limits (per email, per address,
// per (email, address) pair, the fresh addresses' budget, the known
// addresses). With a shared store (admin.DB.LoginLimits: PostgreSQL or
// Redis) every instance counts in it, so n instances give an attacker the
// guesses of one; without one (SQLite) it is local alone.
//
// local mirrors what this instance recorded in the store. When the store
// fails a call, the count falls back to local for that call, and the
// failure is logged through the throttle: an outage of the store neither
// lets guesses through unlimited (each instance still holds its own
// attempts to the limits) nor refuses every log-in. During it an attacker
// spread over n instances gets at most n times the guesses, as before the
// limits were shared.
type loginCount struct {
	local  *limiter
	shared admin.LimitCounts // nil: local only
	failed func(error)
}

// storeCtx bounds a store call and keeps it from failing because the client
// hung up: a count half-written then is worse than one finished.
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), limitsTimeout)
}

// wait is limiter.wait on the shared count.
func (c *loginCount) wait(ctx context.Context, key limitKey) time.Duration {
	if c.shared != nil {
		ctx, cancel := storeCtx(ctx)
		defer cancel()
		now := c.local.now()
		until, err := c.shared.Until(ctx, key[:], now, c.local.window, c.local.max)
		if err == nil {
			return blockedFor(until, now)
		}
		c.failed(err)
	}
	return c.local.wait(key)
}

// blockedFor is how long until, a time the store returned, is from now;
// zero for the zero time (not blocked), and at least a millisecond
// otherwise, so that a refusal never reads as a pass.
func blockedFor(until, now time.Time) time.Duration {
	if until.IsZero() {
		return 0
	}
	return max(until.Sub(now), time.Millisecond)
}

// acquire is limiter.acquire on the shared count. The attempt is mirrored
// in local, and release takes it back from both.
func (c *loginCount) acquire(ctx context.Context, key limitKey) (release func(), wait time.Duration) {
	if c.shared == nil {
		return c.local.acquire(key)
	}
	sctx, cancel := storeCtx(ctx)
	defer cancel()
	now := c.local.now()
	token, until, err := c.shared.Take(sctx, key[:], now, c.local.window, c.local.max, true)
	if err != nil {
		c.failed(err)
		return c.local.acquire(key)
	}
	if wait := blockedFor(until, now); wait > 0 {
		return nil, wait
	}
	releaseLocal := c.local.take(key, now)
	var once sync.Once
	return func() {
		once.Do(func() {
			releaseLocal()
			ctx, cancel := storeCtx(ctx)
			defer cancel()
			if err := c.shared.Release(ctx, key[:], token); err != nil {
				c.failed(err)
			}
		})
	}, 0
}

// note is limiter.note on the shared count.
func (c *loginCount) note(ctx context.Context, key limitKey) {
	if c.shared != nil {
		ctx, cancel := storeCtx(ctx)
		defer cancel()
		if _, _, err := c.shared.Take(ctx, key[:], c.local.now(), c.local.window, c.local.max, false); err != nil {
			c.failed(err)
		}
	}
	c.local.note(key)
}

// reset is limiter.reset on the shared count.
func (c *loginCount) reset(ctx context.Context, key limitKey) {
	if c.shared != nil {
		ctx, cancel := storeCtx(ctx)
		defer cancel()
		if err := c.shared.Reset(ctx, key[:]); err != nil {
			c.failed(err)
		}
	}
	c.local.reset(key)
}

// loginCounts makes the server's log-in counts, shared through the store
// when it has one (PostgreSQL or Redis). A store that cannot keep them (on
// PostgreSQL, a schema migrated by an older version, without the
// login_limits table) is reported at start, with the fix, rather than at
// the first log-in; the counts then fall back as in an outage.
func (s *Server) loginCounts(ctx context.Context) {
	shared := s.db.LoginLimits()
	if shared != nil {
		if _, err := shared.Until(ctx, make([]byte, len(limitKey{})), time.Now(), time.Minute, 1); err != nil {
			s.log.Warn("log-in limits: the store cannot keep them; each instance counts alone until it can", "err", err)
		}
	}
	count := func(window time.Duration, max int) *loginCount {
		return &loginCount{local: newLimiter(window, max), shared: shared, failed: s.limitsFailed}
	}
	cfg := s.cfg
	s.byEmail = count(cfg.LoginWindow, cfg.LoginMaxFailures)
	s.byAddr = count(cfg.LoginWindow, cfg.LoginMaxFailuresPerAddr)
	s.byPair = count(cfg.LoginWindow, 1)
	s.byFresh = count(cfg.LoginWindow, cfg.LoginMaxFailures)
	// A known address is one with a log-in in the last knownFor: a count
	// of one, noted at each log-in.
	s.known = count(knownFor, 1)
}

// limitsFailed reports a failed call to the shared limits' store, at most
// once a minute (the log throttle), with how many were held back.
func (s *Server) limitsFailed(err error) {
	ok, held := s.logs.allow(eventLimitsUnavailable, "store", refusalBudget)
	if !ok {
		return
	}
	s.log.Warn("log-in limits: the store did not answer; this instance counts alone until it does",
		"event", eventLimitsUnavailable, "suppressed_since_last", held, "err", err)
}
