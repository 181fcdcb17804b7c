package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
)

// The per-user index: a sorted set per user, <prefix>user:{<user>} (in
// connect-redis's layout sessionkit-users:<prefix>{<user>}), holding the
// sessions bound to that user (sessionkit.UserOf) by the hash of their id
// (in connect-redis's layout, and for a session an earlier version stored,
// the id), each scored by the session's expiry. On a cluster it sits in the user's slot, not the
// sessions', so it cannot be written in the same step as a session; it is
// kept a superset instead, and nothing but time or this store's own Delete
// takes a member out:
//   - a session is added before the write that binds it (Create) or in the
//     same request right after it (Update), and such a write reports an error
//     when the add fails, so a bound session is never missing from its set;
//   - a score, and the set's expiry time, only move later;
//   - UserSessions drops the members whose score has passed (dead, whatever
//     else happened), loads the others and returns those still bound to the
//     user. It never drops a member because its session is missing: that
//     session may be being created right now, between its index entry and
//     its hash, and dropping its id would let it escape revocation;
//   - Delete takes the id out of its user's set after deleting the session,
//     so ended sessions do not stay until their expiry. A session deleted by
//     someone else (connect-redis) or rebound to another user stays a member
//     until its score passes: listed never, loaded each time.
//
// Indexes written by earlier versions are plain sets: index.lua converts one
// on its next add, and until then members.lua reads it as it is.

var (
	//go:embed index.lua
	indexLua    string
	indexScript = redis.NewScript(indexLua)
	//go:embed members.lua
	membersLua    string
	membersScript = redis.NewScript(membersLua)
)

var _ sessionkit.UserIndex = (*Store)(nil)

// userKey returns the key of user's set of session ids.
func (s *Store) userKey(user string) string {
	return s.userPrefix() + "{" + user + "}"
}

// userPrefix starts every user set's key. In connect-redis's layout it must
// not start with the session prefix, or connect-redis's all(), length() and
// clear(), which take every key under that prefix for a session, would
// count and read the sets.
func (s *Store) userPrefix() string {
	if s.layout == LayoutConnectRedis {
		return "sessionkit-users:" + s.prefix
	}
	return s.prefix + "user:"
}

// index adds id to user's set, keeping the set alive until expiry at least.
func (s *Store) index(ctx context.Context, user, id string, expiry string) error {
	if user == "" {
		return nil
	}
	if err := indexScript.Run(ctx, s.client, []string{s.userKey(user)}, id, expiry).Err(); err != nil {
		return fmt.Errorf("user index: %w", err)
	}
	return nil
}

// indexAfterUpdate indexes a patched session under the user it is bound to
// now, when the patch bound it or moved its expiry. res is the update
// script's answer.
func (s *Store) indexAfterUpdate(ctx context.Context, id string, p sessionkit.Patch, res []any) error {
	_, rebound := p.Set[sessionkit.MetaKey]
	if !rebound && p.Expiry.IsZero() {
		return nil
	}
	if len(res) < 3 {
		return nil
	}
	meta, ok := res[2].(string)
	if !ok { // not bound
		return nil
	}
	expiry, _ := res[1].(string)
	user := sessionkit.UserOf(map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(meta)})
	return s.index(ctx, user, id, expiry)
}

// UserSessions returns the live sessions bound to user: the members of the
// user's set, each loaded (one pipelined round trip) and checked, since the
// set may still name sessions that were deleted, expired or bound to someone
// else.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	ids, err := membersScript.Run(ctx, s.client, []string{s.userKey(user)}).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: user sessions: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	recs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("redisstore: user sessions: %w", err)
	}
	var out []sessionkit.StoredSession
	for i, r := range recs {
		rec, found, err := r.rec, r.found, r.err
		if err != nil {
			return nil, fmt.Errorf("redisstore: user sessions: %w", err)
		}
		if found && sessionkit.UserOf(rec.Values) == user {
			out = append(out, sessionkit.StoredSession{ID: ids[i], Record: rec})
		}
	}
	return out, nil
}

// unindexMany takes deleted sessions' ids out of their users' sets, in one
// pipelined round trip. owners[i] is what delete.lua returned for ids[i]
// (at any of its places):
// the metadata field of a native hash, or the whole JSON value of a
// connect-redis key. Best effort: a member left behind is never listed (its
// session is gone) and leaves when its score passes.
func (s *Store) unindexMany(ctx context.Context, ids []string, owners []any) {
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, owner := range owners {
			if user := s.ownerOf(owner); user != "" {
				// Every name the index may know it by: a session moved by
				// HashStoredIDs may still be indexed under its raw id.
				places := s.places(ids[i])
				members := make([]any, len(places))
				for j, pl := range places {
					members[j] = pl.member
				}
				p.ZRem(ctx, s.userKey(user), members...)
			}
		}
		return nil
	})
}

// ownerOf returns the user a deleted session was bound to, from what
// delete.lua returned for it.
func (s *Store) ownerOf(owner any) string {
	raw, ok := owner.(string)
	if !ok {
		return ""
	}
	var values map[string]json.RawMessage
	if s.layout == LayoutConnectRedis {
		if json.Unmarshal([]byte(raw), &values) != nil {
			return ""
		}
	} else {
		values = map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(raw)}
	}
	return sessionkit.UserOf(values)
}

type loaded struct {
	rec   sessionkit.Record
	found bool
	err   error
}

// loadMany loads the sessions with these ids in one pipelined round trip
// (per node of a cluster).
func (s *Store) loadMany(ctx context.Context, ids []string) ([]loaded, error) {
	cmds := make([]redis.Cmder, len(ids))
	raws := make([]*redis.MapStringStringCmd, len(ids)) // native keys from before ids were hashed
	if _, err := s.rawPossible(ctx); err != nil {
		return nil, err
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			if s.layout == LayoutConnectRedis {
				cmds[i] = crLoadScript.Eval(ctx, p, []string{s.Key(id)})
				continue
			}
			cmds[i] = p.HGetAll(ctx, s.Key(id))
			if raw := s.rawKey(id); raw != "" && !s.rawGone.Load() {
				raws[i] = p.HGetAll(ctx, raw)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]loaded, len(ids))
	for i, cmd := range cmds {
		switch c := cmd.(type) {
		case *redis.MapStringStringCmd:
			fields := c.Val()
			if len(fields) == 0 && raws[i] != nil {
				fields = raws[i].Val()
			}
			out[i].rec, out[i].found, out[i].err = recordOf(fields)
		case *redis.Cmd:
			if res, err := c.Slice(); err == nil {
				out[i].rec, out[i].found, out[i].err = crRecord(res)
			} else if !errors.Is(err, redis.Nil) {
				out[i].err = err
			}
		}
	}
	return out, nil
}
