package admin

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// LimitCounts keeps counts of attempts per key over a sliding window where
// every instance of the server sees them: serve's log-in limits, shared
// through PostgreSQL or Redis so that n instances give an attacker the
// guesses of one. Keys are fixed-size hashes chosen by the caller (never an
// email or an address in clear). Each method is one atomic step on the
// store; times come from the caller's clock, so that tests can move it.
// DB.LoginLimits returns the database's, or nil on SQLite.
type LimitCounts interface {
	// Take records an attempt under key at now, counted for window, and
	// returns its token for Release. With check, it records it only when
	// fewer than max attempts of key lie in the window ending at now;
	// otherwise it records nothing and returns the time at which key will
	// be under max again (the oldest of its last max attempts leaving the
	// window). Without check, it always records. At most the last max
	// attempts of a key are kept.
	Take(ctx context.Context, key []byte, now time.Time, window time.Duration, max int, check bool) (token int64, blockedUntil time.Time, err error)
	// Until returns the time at which key will be under max attempts in
	// the window ending at now, or the zero time when it is already.
	Until(ctx context.Context, key []byte, now time.Time, window time.Duration, max int) (time.Time, error)
	// Release takes back the attempt of key that Take returned token for,
	// if it is still counted.
	Release(ctx context.Context, key []byte, token int64) error
	// Reset forgets every attempt of key.
	Reset(ctx context.Context, key []byte) error
}

// LoginLimits returns where serve's log-in limits are shared: Redis when
// the sessions live there, otherwise PostgreSQL; nil on SQLite, which one
// machine serves, so that the limits stay in its memory.
func (db *DB) LoginLimits() LimitCounts {
	switch {
	case db.redis != nil:
		return &redisLimits{client: db.redis.client, prefix: db.redis.limitPrefix}
	case db.pool != nil:
		return &pgLimits{pool: db.pool}
	}
	return nil
}

// LoginLimitsTable is the PostgreSQL table of the shared log-in limits,
// found through the search_path like UsersTable.
const LoginLimitsTable = "login_limits"

// pgLoginLimitsSQL: one row per key, its attempts as tokens (see
// newToken) newest first, so that one upsert can check and record
// atomically: ON CONFLICT DO UPDATE locks the row and reads its latest
// version. admitted says whether the last upsert recorded its attempt.
const pgLoginLimitsSQL = `CREATE TABLE IF NOT EXISTS "login_limits" (
	key        bytea PRIMARY KEY,
	attempts   bigint[] NOT NULL,
	admitted   boolean NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "login_limits_expires_at" ON "login_limits" (expires_at);
`

// Attempt tokens are the attempt's Unix milliseconds shifted left by
// tokenBits, with random low bits, so that two attempts in the same
// millisecond release each its own and a token orders by time.
const tokenBits = 20

func newToken(now time.Time) int64 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return now.UnixMilli()<<tokenBits | int64(binary.LittleEndian.Uint32(b[:])&(1<<tokenBits-1))
}

func tokenTime(token int64) time.Time { return time.UnixMilli(token >> tokenBits) }

// cutoff is the smallest token of an attempt still in the window ending at
// now: an attempt counts while now - its time < window.
func cutoff(now time.Time, window time.Duration) int64 {
	return (now.Add(-window).UnixMilli() + 1) << tokenBits
}

type pgLimits struct {
	pool *pgxpool.Pool
	// nextPrune is when, in Unix milliseconds, expired rows are deleted next.
	nextPrune atomic.Int64
}

// pgTakeSQL: $1 key, $2 token, $3 expiry if recorded, $4 cutoff, $5 max,
// $6 check. The attempts kept are those in the window, plus the new one
// when it is recorded, the newest max of them.
const pgTakeSQL = `INSERT INTO "login_limits" AS l (key, attempts, admitted, expires_at)
VALUES ($1, ARRAY[$2::bigint], true, $3)
ON CONFLICT (key) DO UPDATE SET
	admitted = NOT $6 OR (SELECT count(*) FROM unnest(l.attempts) a WHERE a >= $4) < $5,
	attempts = ARRAY(SELECT a FROM unnest(l.attempts || CASE
		WHEN NOT $6 OR (SELECT count(*) FROM unnest(l.attempts) a WHERE a >= $4) < $5 THEN ARRAY[$2::bigint]
		ELSE '{}'::bigint[] END) a WHERE a >= $4 ORDER BY a DESC LIMIT $5),
	expires_at = CASE
		WHEN NOT $6 OR (SELECT count(*) FROM unnest(l.attempts) a WHERE a >= $4) < $5 THEN greatest(l.expires_at, $3)
		ELSE l.expires_at END
RETURNING admitted, attempts`

// pruneEvery is how often expired rows are deleted, pruneBatch at most a
// time (a full batch brings the next one forward).
const (
	pruneEvery = time.Minute
	pruneBatch = 5000
)

func (p *pgLimits) Take(ctx context.Context, key []byte, now time.Time, window time.Duration, max int, check bool) (int64, time.Time, error) {
	p.prune(ctx, now)
	token := newToken(now)
	var admitted bool
	var attempts []int64
	err := p.pool.QueryRow(ctx, pgTakeSQL, key, token, now.Add(window), cutoff(now, window), max, check).Scan(&admitted, &attempts)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("log-in limits: record an attempt: %w", hint(err))
	}
	if admitted {
		return token, time.Time{}, nil
	}
	return 0, until(attempts, window, max), nil
}

// until returns when the oldest of the newest max attempts leaves the
// window, given those in the window newest first; zero if fewer than max.
func until(attempts []int64, window time.Duration, max int) time.Time {
	if len(attempts) < max || max < 1 {
		return time.Time{}
	}
	return tokenTime(attempts[max-1]).Add(window)
}

func (p *pgLimits) Until(ctx context.Context, key []byte, now time.Time, window time.Duration, max int) (time.Time, error) {
	var attempts []int64
	err := p.pool.QueryRow(ctx, `SELECT ARRAY(SELECT a FROM unnest(attempts) a WHERE a >= $2 ORDER BY a DESC)
		FROM "login_limits" WHERE key = $1`, key, cutoff(now, window)).Scan(&attempts)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("log-in limits: read a count: %w", hint(err))
	}
	return until(attempts, window, max), nil
}

func (p *pgLimits) Release(ctx context.Context, key []byte, token int64) error {
	_, err := p.pool.Exec(ctx, `UPDATE "login_limits" SET attempts = array_remove(attempts, $2) WHERE key = $1`, key, token)
	if err != nil {
		return fmt.Errorf("log-in limits: take back an attempt: %w", hint(err))
	}
	return nil
}

func (p *pgLimits) Reset(ctx context.Context, key []byte) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM "login_limits" WHERE key = $1`, key); err != nil {
		return fmt.Errorf("log-in limits: reset a count: %w", hint(err))
	}
	return nil
}

// prune deletes expired rows, at most pruneBatch, once per pruneEvery
// across this process's calls. A failure waits for the next turn: the
// rows are dead weight, not wrong counts (Take ignores what left the
// window).
func (p *pgLimits) prune(ctx context.Context, now time.Time) {
	next := p.nextPrune.Load()
	if now.UnixMilli() < next || !p.nextPrune.CompareAndSwap(next, now.Add(pruneEvery).UnixMilli()) {
		return
	}
	// expires_at is checked again outside the subquery, on the row as it
	// is when locked: a row that a Take refreshed meanwhile is kept.
	tag, err := p.pool.Exec(ctx, `DELETE FROM "login_limits" WHERE key IN
		(SELECT key FROM "login_limits" WHERE expires_at < $1 LIMIT $2) AND expires_at < $1`, now, pruneBatch)
	if err == nil && tag.RowsAffected() == pruneBatch {
		p.nextPrune.Store(0)
	}
}

// redisLimits keeps each key's attempts in a sorted set, scored by time,
// its members the tokens. Each call touches one key, so any key is
// Cluster-safe; the keys sit outside the session keys' patterns (see
// limitPrefix).
type redisLimits struct {
	client redis.UniversalClient
	prefix string
}

// redisLimitPrefix starts the limits' keys: next to the per-user sets in
// the native layout (prefix + "limit:", which no session key pattern,
// prefix + "{*", matches), and outside connect-redis's prefix in its
// layout, where connect-redis takes every key under the prefix for a
// session.
func redisLimitPrefix(prefix string, connectRedis bool) string {
	if connectRedis {
		return "sessionkit-limits:" + prefix
	}
	return prefix + "limit:"
}

func (r *redisLimits) key(k []byte) string { return r.prefix + hex.EncodeToString(k) }

// takeScript: ARGV now (ms), window (ms), max, token, mode ("check",
// "record" or "peek"). Returns {1, 0} when recorded (or, peeking, when
// under max), else {0, the oldest counted attempt's time in ms}.
var takeScript = redis.NewScript(`
local key = KEYS[1]
local now, window, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if ARGV[5] ~= 'record' and n >= max then
	local oldest = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
	return {0, tonumber(oldest[2])}
end
if ARGV[5] == 'peek' then
	return {1, 0}
end
redis.call('ZADD', key, now, ARGV[4])
if n + 1 > max then
	redis.call('ZREMRANGEBYRANK', key, 0, n - max)
end
if redis.call('PTTL', key) < window then
	redis.call('PEXPIRE', key, window)
end
return {1, 0}
`)

func (r *redisLimits) run(ctx context.Context, key []byte, now time.Time, window time.Duration, max int, token int64, mode string) (time.Time, error) {
	res, err := takeScript.Run(ctx, r.client, []string{r.key(key)},
		now.UnixMilli(), window.Milliseconds(), max, token, mode).Int64Slice()
	if err != nil {
		return time.Time{}, fmt.Errorf("log-in limits: %s a count in Redis: %w", mode, err)
	}
	if len(res) != 2 || res[0] == 1 {
		return time.Time{}, nil
	}
	return time.UnixMilli(res[1]).Add(window), nil
}

func (r *redisLimits) Take(ctx context.Context, key []byte, now time.Time, window time.Duration, max int, check bool) (int64, time.Time, error) {
	token, mode := newToken(now), "record"
	if check {
		mode = "check"
	}
	blocked, err := r.run(ctx, key, now, window, max, token, mode)
	if err != nil || !blocked.IsZero() {
		return 0, blocked, err
	}
	return token, time.Time{}, nil
}

func (r *redisLimits) Until(ctx context.Context, key []byte, now time.Time, window time.Duration, max int) (time.Time, error) {
	return r.run(ctx, key, now, window, max, 0, "peek")
}

func (r *redisLimits) Release(ctx context.Context, key []byte, token int64) error {
	if err := r.client.ZRem(ctx, r.key(key), token).Err(); err != nil {
		return fmt.Errorf("log-in limits: take back an attempt in Redis: %w", err)
	}
	return nil
}

func (r *redisLimits) Reset(ctx context.Context, key []byte) error {
	if err := r.client.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("log-in limits: reset a count in Redis: %w", err)
	}
	return nil
}
