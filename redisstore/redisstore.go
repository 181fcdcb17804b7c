// Package redisstore is sessionkit's Redis store, on go-redis v9. It takes
// the application's redis.UniversalClient, so one code path serves a single
// server, Sentinel and Redis Cluster.
//
// Each session is one Redis hash, <prefix>{<hash>}, named by the hash of its
// id (sessionkit.HashID), never the id, so that a dump of the Redis names no
// session a cookie could carry: the field "e" holds the expiry and "c" the
// creation time (Unix milliseconds), and each session key k is the field
// "v." + k holding k's JSON value. The braces make the hash the key's hash
// tag, so everything of one session sits in one hash slot and every step
// below works on a cluster. A session an earlier version stored under
// <prefix>{<id>} is still found there until it expires, or until
// HashStoredIDs moves it (see hashids.go).
//
// Every write is one server-side step. Create, Update with changes, and the
// expiry rewrite run as Lua scripts (EVALSHA, one round trip): "create unless
// the key exists" and "patch only if the session still lives" are checks and
// writes that no other client can come between. A MULTI guarded by WATCH
// would do the same in three or more round trips and, worse, fail and retry
// whenever another request patches the same session meanwhile, which is
// exactly the case (concurrent requests of one visitor) the patch exists for.
// Load is one HGETALL (a second one, at the raw key, only when the first
// finds nothing and a raw key may be left, see rawPossible), an existence
// check one EXISTS, Delete one pipeline of scripts (DEL at both keys while
// a raw key may be left, and the announcement below). A
// session bound to a user (sessionkit.Session.Authenticate) also has its id
// in the user's set for sessionkit.UserIndex, which on a cluster sits in the
// user's slot: creating such a session, or moving its expiry, costs one more
// round trip (see users.go). LayoutConnectRedis keeps connect-redis's layout
// instead (see connectredis.go).
//
// Redis itself enforces the expiry: every write sets the key's expiry time
// (PEXPIREAT) to the session's, so an expired session is gone at that
// millisecond, on every node, with nothing to prune. Prune is a no-op.
//
// Every Update and Delete also announces its change by PUBLISH, for
// sessionkit's session cache (see changes.go).
package redisstore

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
)

// DefaultPrefix starts every key when Config.Prefix is zero.
const DefaultPrefix = "sessionkit:"

// Hash fields of a session. Value fields carry valuePrefix, so a session key
// can never collide with the two metadata fields.
const (
	fieldExpiry  = "e"
	fieldCreated = "c"
	valuePrefix  = "v."
)

// ErrInvalidPrefix is returned by New for a prefix holding '{' or '}', which
// would take the hash tag away from the session id and put every session in
// one cluster slot.
var ErrInvalidPrefix = errors.New("redisstore: Prefix must not contain '{' or '}'")

// Layout is how sessions are laid out in Redis.
type Layout int

const (
	// LayoutNative is the store's own layout: one hash per session,
	// <prefix>{<hash of the id>}, one field per session key, so a patch writes only the
	// keys it changes, in one Lua script.
	LayoutNative Layout = iota
	// LayoutConnectRedis is connect-redis's layout, so that an
	// express-session app on connect-redis and a Go service share sessions:
	// the string key <prefix><id> holding the session as one JSON object,
	// expiring with the session. Give the Manager
	// sessionkit.Config.ExpressSessionCookie, so that the sessions it creates
	// carry the "cookie" object express-session needs. See connectredis.go.
	LayoutConnectRedis
)

// Config configures a Store. The zero value is usable: the native layout,
// keys starting with "sessionkit:".
type Config struct {
	// Layout selects the key layout. Zero: LayoutNative.
	Layout Layout
	// Prefix starts every session key the store writes, so that one Redis
	// can hold several applications' sessions. Zero means "sessionkit:"
	// (DefaultPrefix) in the native layout and connect-redis's "sess:"
	// (DefaultConnectRedisPrefix) in LayoutConnectRedis. It must not contain
	// '{' or '}' (ErrInvalidPrefix). The store announces its changes on the
	// channel Prefix + "changes" (Store.Channel).
	Prefix string
	// Logger receives the change watcher's reports (WatchChanges): at Warn
	// when its connection fails, at Info when it is subscribed again. Zero
	// discards them.
	Logger *slog.Logger
	// Replicas, when positive, makes Create, Delete and an Update that
	// changes values (a log-in, a log-out, a revocation) return only once
	// that many replicas acknowledged the write (WAIT, in the same round
	// trip), so that a failover cannot undo it; otherwise they fail with
	// ErrNotReplicated (see ack.go). Zero: writes return once the master
	// has them, as Redis does by default. It must not exceed the replicas
	// each master has, or every such write fails.
	Replicas int
	// NoAnnounce stops the store announcing its changes (no PUBLISH; see
	// changes.go), which on a Cluster saves a message to every node per
	// write. Set it only when no process that shares the sessions runs a
	// session cache (sessionkit.Config.Cache.Entries): a cache would then
	// keep serving sessions that were logged out elsewhere until its
	// Cache.MaxAge passed. Zero: announce.
	NoAnnounce bool
	// RevocationWindow is how long, after a Delete that Replicas did not
	// acknowledge (ErrNotReplicated: a log-out a failover could undo), the
	// store treats that session as gone in its own Load, LoadMany and
	// Update and deletes it again every quarter second until a delete is
	// acknowledged (see revoke.go). Zero: DefaultRevocationWindow (1 min),
	// longer than a failover; negative: off.
	RevocationWindow time.Duration
	// ReplicaTimeout bounds the wait for Replicas; keep it below the
	// client's ReadTimeout (go-redis's default: 3 s), which bounds the
	// read of WAIT's answer. Zero: DefaultReplicaTimeout (1 s).
	ReplicaTimeout time.Duration
}

// Store is a sessionkit.Store on Redis. It is safe for concurrent use by many
// goroutines and many processes sharing the Redis.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	layout  Layout
	channel string
	logger  *slog.Logger
	// announce is the channel changes are announced on, "" with
	// Config.NoAnnounce (the scripts then publish nothing).
	announce string
	// revs are the deletes not acknowledged yet, remembered for
	// revocationWindow (see revoke.go).
	revs             revocations
	revocationWindow time.Duration
	// replicas and replicaTimeout are Config's (see ack.go).
	replicas       int
	replicaTimeout time.Duration
	// rawGone is set once no session is left under a raw key (see
	// rawPossible).
	rawGone atomic.Bool
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.BatchStore = (*Store)(nil)
	_ sessionkit.ChangeFeed = (*Store)(nil)
)

var (
	//go:embed create.lua
	createLua    string
	createScript = redis.NewScript(createLua)
	//go:embed update.lua
	updateLua    string
	updateScript = redis.NewScript(updateLua)
	//go:embed delete.lua
	deleteLua    string
	deleteScript = redis.NewScript(deleteLua)
)

// New returns a store on client, which the application keeps owning: the
// store never closes it. It talks to no server, so a Redis that is down is
// noticed by the first store call; it returns an error only for a
// configuration that cannot work.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New: nil client")
	}
	prefix := cfg.Prefix
	switch {
	case cfg.Layout != LayoutNative && cfg.Layout != LayoutConnectRedis:
		return nil, fmt.Errorf("redisstore: New: unknown Layout %d", cfg.Layout)
	case prefix == "" && cfg.Layout == LayoutConnectRedis:
		prefix = DefaultConnectRedisPrefix
	case prefix == "":
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("%w, got %q", ErrInvalidPrefix, prefix)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Replicas < 0 || cfg.ReplicaTimeout < 0 {
		return nil, fmt.Errorf("redisstore: New: negative Replicas (%d) or ReplicaTimeout (%s)", cfg.Replicas, cfg.ReplicaTimeout)
	}
	timeout := cfg.ReplicaTimeout
	if timeout == 0 {
		timeout = DefaultReplicaTimeout
	}
	s := &Store{client: client, prefix: prefix, layout: cfg.Layout, channel: prefix + channelSuffix, logger: logger,
		replicas: cfg.Replicas, replicaTimeout: timeout, revocationWindow: cfg.RevocationWindow}
	if s.revocationWindow == 0 {
		s.revocationWindow = DefaultRevocationWindow
	}
	if !cfg.NoAnnounce {
		s.announce = s.channel
	}
	return s, nil
}

// Key returns the Redis key under which Create stores the session with
// this id: in the native layout <prefix>{<hash>}, with the hash of the id
// (sessionkit.HashID), never the id, so that a dump of the Redis names no
// session a cookie could carry; in LayoutConnectRedis <prefix><id>, since
// connect-redis looks sessions up by the id itself.
func (s *Store) Key(id string) string {
	if s.layout == LayoutConnectRedis {
		return s.prefix + id
	}
	return s.nativeKey(sessionkit.HashID(id))
}

// nativeKey is the native layout's key for what a session is stored under
// (its hash, or the id itself before ids were hashed): <prefix>{<name>},
// the braces making the whole name the Cluster hash tag.
func (s *Store) nativeKey(name string) string { return s.prefix + "{" + name + "}" }

// rawKey returns the native key a session had before the store hashed ids,
// <prefix>{<id>}, where such a session stays until it expires or
// HashStoredIDs moves it; "" when there is no other key to look at: in
// connect-redis's layout, or for an id that is a hash already (a
// StoredSession.ID), whose only key is Key's.
func (s *Store) rawKey(id string) string {
	if s.layout == LayoutConnectRedis || sessionkit.HashID(id) == id {
		return ""
	}
	return s.nativeKey(id)
}

// place is where a session may be stored: its key, and the member that
// names it in its user's index.
type place struct{ key, member string }

// places returns where the session with this id may be: Key (with the
// hash as member in the native layout), then the raw key, if any, unless
// no session is left under one (rawPossible).
func (s *Store) places(id string) []place {
	if s.layout == LayoutConnectRedis {
		return []place{{s.prefix + id, id}}
	}
	// One hash for Key's, rawKey's and the member's: each would hash the id
	// again, on every load and write.
	h := sessionkit.HashID(id)
	hashed := place{s.nativeKey(h), h}
	if h != id && !s.rawGone.Load() {
		return []place{hashed, {s.nativeKey(id), id}}
	}
	return []place{hashed}
}

// member returns the id Create keeps in the user's index for this id.
func (s *Store) member(id string) string {
	if s.layout == LayoutConnectRedis {
		return id
	}
	return sessionkit.HashID(id)
}

// Ping asks Redis whether it answers, for health checks: on a Cluster,
// every master the slot map names (read afresh), so that a master that died
// and has not been replaced yet fails the check whichever node would have
// answered a plain PING.
func (s *Store) Ping(ctx context.Context) error {
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			if err := c.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("master %s: %w", c.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// Load returns the live session with this id. A missing or expired one is
// reported with found == false and a nil error.
func (s *Store) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	if s.replicas > 0 && s.revoked(id) {
		return sessionkit.Record{}, false, nil
	}
	if s.layout == LayoutConnectRedis {
		return s.crLoad(ctx, id)
	}
	fields, err := s.client.HGetAll(ctx, s.Key(id)).Result()
	if raw := s.rawKey(id); err == nil && len(fields) == 0 && raw != "" { // created before ids were hashed?
		var maybe bool
		if maybe, err = s.rawPossible(ctx); maybe && err == nil {
			fields, err = s.client.HGetAll(ctx, raw).Result()
			if err == nil && len(fields) == 0 { // moved by HashStoredIDs meanwhile?
				fields, err = s.client.HGetAll(ctx, s.Key(id)).Result()
			}
		}
	}
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("redisstore: load: %w", err)
	}
	rec, found, err := recordOf(fields)
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("redisstore: load: %w", err)
	}
	return rec, found, nil
}

// LoadMany returns the live sessions among ids, by id, in one pipelined
// round trip (per node of a cluster).
func (s *Store) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	recs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("redisstore: load many: %w", err)
	}
	out := make(map[string]sessionkit.Record, len(ids))
	for i, r := range recs {
		if r.err != nil {
			return nil, fmt.Errorf("redisstore: load many: %w", r.err)
		}
		if r.found && !(s.replicas > 0 && s.revoked(ids[i])) {
			out[ids[i]] = r.rec
		}
	}
	return out, nil
}

// recordOf turns a session's hash into its record; an empty hash is a
// missing session.
func recordOf(fields map[string]string) (sessionkit.Record, bool, error) {
	if len(fields) == 0 {
		return sessionkit.Record{}, false, nil
	}
	rec := sessionkit.Record{Values: make(map[string]json.RawMessage, len(fields))}
	// The values' bytes are copied into one buffer, not one allocation
	// each: every cache-off read of a session makes a record.
	size := 0
	for f, v := range fields {
		if strings.HasPrefix(f, valuePrefix) {
			size += len(v)
		}
	}
	buf := make([]byte, 0, size)
	var err error
	for f, v := range fields {
		switch {
		case strings.HasPrefix(f, valuePrefix):
			start := len(buf)
			buf = append(buf, v...)
			rec.Values[f[len(valuePrefix):]] = json.RawMessage(buf[start:len(buf):len(buf)])
		case f == fieldExpiry:
			rec.Expiry, err = parseMillis(v)
		case f == fieldCreated:
			rec.Created, err = parseMillis(v)
		}
		if err != nil {
			return sessionkit.Record{}, false, fmt.Errorf("field %q: %w", f, err)
		}
	}
	if rec.Expiry.IsZero() {
		return sessionkit.Record{}, false, errors.New("the session's hash has no expiry field; was it written by something else?")
	}
	return rec, true, nil
}

// Create saves a new session in one step that never overwrites: an id whose
// key exists gives an error wrapping sessionkit.ErrExists. A zero
// rec.Created is set from the Redis server's clock (LayoutConnectRedis keeps
// no creation time: Load reports it zero). A record whose Expiry has
// passed is written and deleted by Redis at once, as it would be a moment
// later.
func (s *Store) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	if s.layout == LayoutConnectRedis {
		return s.crCreate(ctx, id, rec)
	}
	args := make([]any, 0, 2+2*len(rec.Values))
	args = append(args, millis(rec.Expiry), "")
	if !rec.Created.IsZero() {
		args[1] = millis(rec.Created)
	}
	args, err := appendValues(args, rec.Values)
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	return s.runCreate(ctx, createScript, id, rec, args)
}

// runCreate adds the session to its user's set, then runs a create script
// on its key (answering 1 when it created, 0 when the key existed).
func (s *Store) runCreate(ctx context.Context, script *redis.Script, id string, rec sessionkit.Record, args []any) error {
	// The user's set first: a bound session must never exist unindexed.
	if err := s.index(ctx, sessionkit.UserOf(rec.Values), s.member(id), millis(rec.Expiry)); err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	created, err := s.runAcked(ctx, script, []string{s.Key(id)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	if created == 0 {
		return fmt.Errorf("redisstore: create: %w", sessionkit.ErrExists)
	}
	return nil
}

// Update applies p to the live session with this id in one step and reports
// whether there was one (when the patch bound the session to a user or moved
// its expiry, the user's set is updated next, see users.go); it never creates
// a key, so a save cannot bring back a session destroyed or regenerated
// meanwhile. A new p.Expiry also moves the
// key's expiry time; one in the past deletes the session. The same step
// announces the change (see changes.go) when there was a session to patch.
// An empty patch is a read-only existence check, and announces nothing.
func (s *Store) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	if s.replicas > 0 && s.revoked(id) {
		return false, nil // its log-out may not have reached a replica yet
	}
	places := s.places(id)
	if len(places) > 1 {
		// A miss at the raw key may be a session HashStoredIDs moved since
		// the miss at the hashed one: look there again.
		places = append(places, places[0])
	}
	if p.Empty() {
		for i, pl := range places {
			if !s.rawStill(ctx, i) {
				break
			}
			n, err := s.client.Exists(ctx, pl.key).Result()
			if err != nil {
				return false, fmt.Errorf("redisstore: update: %w", err)
			}
			if n == 1 {
				return true, nil
			}
		}
		return false, nil
	}
	if s.layout == LayoutConnectRedis {
		return s.crUpdate(ctx, id, p)
	}
	args := make([]any, 0, 4+len(p.Delete)+2*len(p.Set))
	expiry := ""
	if !p.Expiry.IsZero() {
		expiry = millis(p.Expiry)
	}
	args = append(args, s.announce, sessionkit.ChangeKey(id), expiry, len(p.Delete))
	for _, k := range p.Delete {
		args = append(args, valuePrefix+k)
	}
	// Deletes run first in the script, so a key in both lists ends up set.
	args, err := appendValues(args, p.Set)
	if err != nil {
		return false, fmt.Errorf("redisstore: update: %w", err)
	}
	// The script writes nor announces anything where there is no session,
	// so trying the raw key after the hashed one patches one at most.
	for i, pl := range places {
		if !s.rawStill(ctx, i) {
			break
		}
		var run *redis.Cmd
		if len(p.Set) > 0 || len(p.Delete) > 0 {
			// Values change (a log-in binds the user): a write not to lose.
			run = s.runAcked(ctx, updateScript, []string{pl.key}, args...)
		} else { // a touch: losing it ends the session a little early at most
			run = updateScript.Run(ctx, s.client, []string{pl.key}, args...)
		}
		res, err := run.Result()
		if err != nil {
			return false, fmt.Errorf("redisstore: update: %w", err)
		}
		patched, ok := res.([]any)
		if !ok { // 0: no live session there
			continue
		}
		if err := s.indexAfterUpdate(ctx, pl.member, p, patched); err != nil {
			// The patch is in; the caller sees the failure and answers it as a
			// store error, as for any write that may or may not have landed.
			return false, fmt.Errorf("redisstore: update: %w", err)
		}
		return true, nil
	}
	return false, nil
}

// Delete removes the session with this id and announces it (see
// changes.go) in the same step, one round trip; a session bound to a user
// costs one more, to take its id out of the user's set (see users.go). A
// missing id is not an error (and is announced all the same).
func (s *Store) Delete(ctx context.Context, id string) error {
	var err error
	if s.replicas > 0 {
		err = s.deleteAcked(ctx, id)
		s.afterDelete(id, err)
	} else {
		err = s.deletePipelined(ctx, []string{id})
	}
	if err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// deleteAcked deletes the session with this id at each of its places, each
// step acknowledged by the replicas (runAcked), announcing it once, and
// takes it out of its user's index.
func (s *Store) deleteAcked(ctx context.Context, id string) error {
	if _, err := s.rawPossible(ctx); err != nil {
		return err
	}
	var first error
	for i, pl := range s.places(id) {
		announce := s.announce
		if i > 0 {
			announce = "" // announced with the first
		}
		res, err := s.runAcked(ctx, deleteScript, []string{pl.key}, announce, sessionkit.ChangeKey(id), valuePrefix+sessionkit.MetaKey).Slice()
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		if len(res) == 2 {
			s.unindexMany(ctx, []string{id}, []any{res[1]})
		}
	}
	return first
}

// deletePipelined deletes the sessions with these ids at each of their
// places and announces each once, in one pipelined round trip (per node of
// a cluster), then takes those that were bound out of their users' indexes
// in one more.
func (s *Store) deletePipelined(ctx context.Context, ids []string) error {
	var (
		cmds []*redis.Cmd
		of   []string // the id each of cmds deletes
	)
	if _, err := s.rawPossible(ctx); err != nil {
		return err
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			for i, pl := range s.places(id) {
				announce := s.announce
				if i > 0 {
					announce = "" // announced with the first
				}
				// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT.
				cmds = append(cmds, deleteScript.Eval(ctx, p, []string{pl.key}, announce, sessionkit.ChangeKey(id), valuePrefix+sessionkit.MetaKey))
				of = append(of, id)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	owners := make([]any, len(cmds))
	for i, cmd := range cmds {
		if res, err := cmd.Slice(); err == nil && len(res) == 2 {
			owners[i] = res[1]
		}
	}
	s.unindexMany(ctx, of, owners)
	return nil
}

// DeleteMany removes the sessions with these ids and announces each, as
// Delete does, in one pipelined round trip (per node of a cluster), plus one
// for the user sets of those that were bound.
func (s *Store) DeleteMany(ctx context.Context, ids []string) error {
	if s.replicas > 0 {
		// Each delete waits for its replicas on its own connection (see
		// ack.go): one round trip per session.
		var first error
		for _, id := range ids {
			if err := s.Delete(ctx, id); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	if err := s.deletePipelined(ctx, ids); err != nil {
		return fmt.Errorf("redisstore: delete many: %w", err)
	}
	return nil
}

// Prune deletes nothing and reports 0: Redis deletes each session when its
// key's expiry time passes, so there is never an expired session to prune.
// It fails only when ctx has ended, like every other method would.
func (s *Store) Prune(ctx context.Context, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: prune: %w", err)
	}
	return 0, nil
}

// appendValues appends each value's field name and JSON to args, refusing a
// value that is not valid JSON before anything is written.
func appendValues(args []any, values map[string]json.RawMessage) ([]any, error) {
	for k, v := range values {
		if !json.Valid(v) {
			return nil, fmt.Errorf("value of key %q is not valid JSON", k)
		}
		args = append(args, valuePrefix+k, []byte(v))
	}
	return args, nil
}

func millis(t time.Time) string { return millisOf(t.UnixMilli()) }

func millisOf(ms int64) string { return strconv.FormatInt(ms, 10) }

func timeMillis(ms int64) time.Time { return time.UnixMilli(ms) }

func parseMillis(s string) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}
