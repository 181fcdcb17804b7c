package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
)

var (
	//go:embed delsame.lua
	delSameLua    string
	delSameScript = redis.NewScript(delSameLua)
	//go:embed rehash.lua
	rehashLua    string
	rehashScript = redis.NewScript(rehashLua)
)

// moveTries bounds how often HashStoredIDs copies one session that keeps
// changing under it; one left is moved by a later run, or expires.
const moveTries = 3

// HashStoredIDs moves the native sessions that still sit under their raw
// id, <prefix>{<id>}, written before the store kept hashes, to the key of
// their hash (Key), renames their ids in the users' indexes, and reports
// how many sessions it moved. Without it such sessions keep working until
// they expire: the store looks each id up under both keys. When none is
// left it sets a marker key, <prefix>ids-hashed, from which every
// instance learns, at its next lookup, that no command need name a raw id
// any more.
//
// It is safe while servers run, and running it again moves nothing more.
// The two keys sit in different cluster slots, so a session is moved in
// steps, never lost between them: its DUMP is copied under the hash (RESTORE
// with the same expiry time; from then on the store reads and writes the
// copy), then the raw key is deleted only if it is still as dumped. If a
// write reached the raw key meanwhile, the copy is deleted instead (only
// if unchanged itself) and the move tried again. An index member is renamed
// only once its raw key is gone, so a listing never misses the session. In
// LayoutConnectRedis it does nothing: connect-redis looks sessions up by
// the id.
func (s *Store) HashStoredIDs(ctx context.Context) (int, error) {
	if s.layout == LayoutConnectRedis {
		return 0, nil
	}
	var moved atomic.Int64
	err := s.scan(ctx, s.sessionPattern(), func(ctx context.Context, _ redis.UniversalClient, key string) error {
		id := strings.TrimSuffix(strings.TrimPrefix(key, s.prefix+"{"), "}")
		if sessionkit.HashID(id) == id || s.rawKey(id) != key {
			return nil // hashed already, or not a session key
		}
		ok, err := s.move(ctx, id)
		if ok {
			moved.Add(1)
		}
		return err
	})
	if err == nil {
		err = s.scan(ctx, globEscape(s.userPrefix())+"{*", s.rehashIndex)
	}
	if err == nil {
		// A session an instance of an older version wrote meanwhile, or
		// one that kept changing under the move, keeps the raw lookups.
		err = s.markIfNoRawKeys(ctx)
	}
	if err != nil {
		return int(moved.Load()), fmt.Errorf("redisstore: hash stored ids: %w", err)
	}
	return int(moved.Load()), nil
}

// move moves one session from its raw key to Key (see HashStoredIDs) and
// reports whether it did.
func (s *Store) move(ctx context.Context, id string) (bool, error) {
	raw, hashed := s.rawKey(id), s.Key(id)
	for range moveTries {
		var (
			dump  *redis.StringCmd
			until *redis.DurationCmd
		)
		if _, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			dump, until = p.Dump(ctx, raw), p.PExpireTime(ctx, raw)
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return false, err
		}
		if dump.Err() != nil || until.Val() <= 0 {
			return false, nil // gone, or not a session (one always expires)
		}
		restored := true
		// The same expiry time, as Unix milliseconds.
		err := s.client.Do(ctx, "restore", hashed, until.Val().Milliseconds(), dump.Val(), "absttl").Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSYKEY") {
			restored = false // moved by a concurrent run
		} else if err != nil {
			return false, err
		}
		deleted, err := delSameScript.Run(ctx, s.client, []string{raw}, dump.Val()).Int()
		if err != nil || deleted == 1 {
			return deleted == 1 && restored, err
		}
		// The raw key changed or went (a write, a log-out) after the dump:
		// take back the copy, unless it is in use already, and look again.
		if restored {
			if err := delSameScript.Run(ctx, s.client, []string{hashed}, dump.Val()).Err(); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// rehashIndex renames, in the user index at key, each raw id whose raw
// session key is gone (moved, or ended) to its hash.
func (s *Store) rehashIndex(ctx context.Context, _ redis.UniversalClient, key string) error {
	members, err := s.client.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return nil // a plain set from before sorted sets: index.lua converts it
		}
		return err
	}
	for _, m := range members {
		raw := s.rawKey(m)
		if raw == "" {
			continue
		}
		if n, err := s.client.Exists(ctx, raw).Result(); err != nil || n == 1 {
			continue
		}
		if err := rehashScript.Run(ctx, s.client, []string{key}, m, sessionkit.HashID(m)).Err(); err != nil {
			return err
		}
	}
	return nil
}

// errRawKey stops a scan at the first raw key it finds.
var errRawKey = errors.New("a session under a raw key")

// hashedMarker is the key that says no session is left under a raw key:
// set by HashStoredIDs once its scan found none. It sits outside the session pattern and never expires.
func (s *Store) hashedMarker() string { return s.prefix + "ids-hashed" }

// rawPossible reports whether a session may still sit under its raw key,
// so that the store must look for it there, naming the raw id. Once it
// says no it never asks again, and no command names a raw id: the store
// writes hashed keys only. Until then it costs one EXISTS of the marker
// (hashedMarker) per call, made only on a miss under the hashed key and
// before a delete. The store does not scan for raw keys by itself: a scan
// on a request's path would cost too much on a large database, and could
// decide while HashStoredIDs is moving a session that the reader has just
// missed under its hash.
func (s *Store) rawPossible(ctx context.Context) (bool, error) {
	if s.layout == LayoutConnectRedis || s.rawGone.Load() {
		return false, nil
	}
	n, err := s.client.Exists(ctx, s.hashedMarker()).Result()
	if err != nil {
		return true, err
	}
	if n == 1 {
		s.rawGone.Store(true)
	}
	return n == 0, nil
}

// rawStill reports whether Update is to try the i-th of its places: the
// hashed key (i == 0), the raw key (i == 1) only while one may be left,
// and the hashed key again (i == 2), reached only after a miss at the raw
// one. An error of the marker's check is answered as "may be left", which
// only costs the lookup.
func (s *Store) rawStill(ctx context.Context, i int) bool {
	if i != 1 {
		return true
	}
	maybe, _ := s.rawPossible(ctx)
	return maybe
}

// markIfNoRawKeys scans the store's sessions for one under a raw key and,
// finding none, sets hashedMarker and stops looking for raw keys.
func (s *Store) markIfNoRawKeys(ctx context.Context) error {
	err := s.scan(ctx, s.sessionPattern(), func(_ context.Context, _ redis.UniversalClient, key string) error {
		id := strings.TrimSuffix(strings.TrimPrefix(key, s.prefix+"{"), "}")
		if sessionkit.HashID(id) != id && s.rawKey(id) == key {
			return errRawKey
		}
		return nil
	})
	if errors.Is(err, errRawKey) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for raw keys: %w", err)
	}
	if err := s.client.Set(ctx, s.hashedMarker(), "1", 0).Err(); err != nil {
		return fmt.Errorf("mark ids hashed: %w", err)
	}
	s.rawGone.Store(true)
	return nil
}
