package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

// connect-redis's layout (LayoutConnectRedis): the session is the string key
// <prefix><id> holding the session's values as one JSON object, which is
// what express-session hands connect-redis (with its "cookie" object when the
// manager has sessionkit.Config.ExpressSessionCookie), and the key's expiry is
// the session's. connect-redis sets that expiry to the cookie's expires
// rounded up to the second (SET … EX), and its touch moves it (EXPIRE); this
// store sets it to the millisecond (PEXPIREAT). There is no creation time.
//
// Create and Load are Lua scripts, one step each. Update must merge keys
// into a JSON string while keeping every value byte for byte, which Redis's
// Lua cjson cannot promise (it re-encodes numbers and turns [] into {}), so it
// is an optimistic transaction instead: WATCH the key, GET, merge in Go,
// MULTI/SET KEEPTTL(/PEXPIREAT)/PUBLISH/EXEC, and again from the GET when another
// write came between (each retry is two round trips; a writer waits, never
// fails, for as long as its context allows).

var (
	//go:embed crcreate.lua
	crCreateLua    string
	crCreateScript = redis.NewScript(crCreateLua)
	//go:embed crload.lua
	crLoadLua    string
	crLoadScript = redis.NewScript(crLoadLua)
)

// DefaultConnectRedisPrefix is connect-redis's own default prefix, used by
// LayoutConnectRedis when Config.Prefix is zero.
const DefaultConnectRedisPrefix = "sess:"

func (s *Store) crLoad(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	res, err := crLoadScript.Run(ctx, s.client, []string{s.Key(id)}).Slice()
	if errors.Is(err, redis.Nil) {
		return sessionkit.Record{}, false, nil
	}
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("redisstore: load: %w", err)
	}
	return crRecord(res)
}

// crRecord turns the load script's {value, expiry time} into a record.
func crRecord(res []any) (sessionkit.Record, bool, error) {
	if len(res) != 2 {
		return sessionkit.Record{}, false, nil
	}
	raw, _ := res[0].(string)
	ms, _ := res[1].(int64)
	if ms < 0 {
		// connect-redis with disableTTL writes keys that never expire; this
		// store cannot say when such a session ends.
		return sessionkit.Record{}, false, errors.New("redisstore: load: the session's key has no expiry time (connect-redis's disableTTL?)")
	}
	values, err := jsonobject.Split([]byte(raw))
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("redisstore: load: the session is not a JSON object: %w", err)
	}
	if values == nil {
		values = map[string]json.RawMessage{}
	}
	return sessionkit.Record{Values: values, Expiry: timeMillis(ms)}, true, nil
}

func (s *Store) crCreate(ctx context.Context, id string, rec sessionkit.Record) error {
	sess, err := jsonobject.Join(rec.Values)
	if err != nil {
		return fmt.Errorf("redisstore: create: values: %w", err)
	}
	return s.runCreate(ctx, crCreateScript, id, rec, []any{sess, millis(rec.Expiry)})
}

func (s *Store) crUpdate(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	for k, v := range p.Set {
		if !json.Valid(v) {
			return false, fmt.Errorf("redisstore: update: value of key %q is not valid JSON", k)
		}
	}
	key := s.Key(id)
	var (
		found  bool
		values map[string]json.RawMessage
		expiry int64
	)
	txn := func(tx *redis.Tx) error {
		res, err := crLoadScript.Run(ctx, tx, []string{key}).Slice()
		if errors.Is(err, redis.Nil) {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		rec, ok, err := crRecord(res)
		if err != nil || !ok {
			found = ok
			return err
		}
		found, values, expiry = true, rec.Values, rec.Expiry.UnixMilli()
		for _, k := range p.Delete {
			delete(values, k)
		}
		for k, v := range p.Set {
			values[k] = v
		}
		sess, err := jsonobject.Join(values)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.SetArgs(ctx, key, sess, redis.SetArgs{KeepTTL: true})
			if !p.Expiry.IsZero() {
				expiry = p.Expiry.UnixMilli()
				pipe.PExpireAt(ctx, key, p.Expiry)
			}
			// In the same MULTI: announced if and only if the write is
			// made (see changes.go).
			if s.announce != "" {
				pipe.Publish(ctx, s.announce, sessionkit.ChangeKey(id))
			}
			return nil
		})
		if err == nil && s.replicas > 0 && (len(p.Set) > 0 || len(p.Delete) > 0) {
			// On the transaction's connection, whose writes WAIT counts
			// (see ack.go).
			err = s.acked(tx.Wait(ctx, s.replicas, s.replicaTimeout))
		}
		return err
	}
	for {
		err := s.client.Watch(ctx, txn, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue // another write came between: read again
		}
		if err != nil {
			return false, fmt.Errorf("redisstore: update: %w", err)
		}
		break
	}
	if !found {
		return false, nil
	}
	_, rebound := p.Set[sessionkit.MetaKey]
	if rebound || !p.Expiry.IsZero() {
		if err := s.index(ctx, sessionkit.UserOf(values), id, millisOf(expiry)); err != nil {
			return false, fmt.Errorf("redisstore: update: %w", err)
		}
	}
	return true, nil
}
