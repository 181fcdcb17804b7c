package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Whole-store operations for maintenance, not for the request path: each
// walks the store's keys with SCAN on every master of a cluster (at once) or
// on the one server, so it costs time in proportion to the whole keyspace.

// Count returns the number of sessions in the store. Every one is live:
// Redis deletes a session when it expires.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n atomic.Int64
	err := s.scan(ctx, s.sessionPattern(), func(context.Context, redis.UniversalClient, string) error {
		n.Add(1)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redisstore: count: %w", err)
	}
	return n.Load(), nil
}

// DeleteAll deletes every session of the store and then the per-user sets,
// and reports how many sessions it deleted (after a breach, or a change of
// what a session may hold). Sessions created while it runs may survive it.
// Then it announces sessionkit.AllSessionsChanged (AnnounceAll), so every watcher forgets
// what it cached; it does so even when the walk failed part way, since
// some sessions may be gone.
func (s *Store) DeleteAll(ctx context.Context) (int64, error) {
	var n atomic.Int64
	// One key per DEL: on a cluster the keys of one batch would sit in
	// different slots.
	err := s.scan(ctx, s.sessionPattern(), func(ctx context.Context, node redis.UniversalClient, key string) error {
		deleted, err := node.Del(ctx, key).Result()
		n.Add(deleted)
		return err
	})
	if err == nil {
		err = s.scan(ctx, globEscape(s.userPrefix())+"{*", func(ctx context.Context, node redis.UniversalClient, key string) error {
			return node.Del(ctx, key).Err()
		})
	}
	// After the deletes, not before: a watcher that forgets everything
	// then loads only what is left.
	err = errors.Join(err, s.AnnounceAll(context.WithoutCancel(ctx)))
	if err != nil {
		return n.Load(), fmt.Errorf("redisstore: delete all: %w", err)
	}
	return n.Load(), nil
}

// sessionPattern matches the keys of the store's sessions and nothing else
// (in connect-redis's layout: every key under the prefix, as connect-redis
// itself assumes).
func (s *Store) sessionPattern() string {
	if s.layout == LayoutConnectRedis {
		return globEscape(s.prefix) + "*"
	}
	return globEscape(s.prefix) + "{*"
}

// scan calls f for every key matching pattern, with the node that holds it.
func (s *Store) scan(ctx context.Context, pattern string, f func(ctx context.Context, node redis.UniversalClient, key string) error) error {
	one := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if err := f(ctx, node, iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return one(ctx, node) })
	}
	return one(ctx, s.client)
}

// globEscape quotes the characters SCAN's MATCH pattern gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
