package storetest

import (
	"context"
	"sync/atomic"

	"github.com/sessionkit/sessionkit"
)

// Counter wraps a real store and counts the calls that reach it, for tests
// that assert how many store calls a request makes (none for a request that
// never reads its session, one for a read). It adds no behaviour.
//
// It is a sessionkit.BatchStore whatever it wraps: LoadMany and DeleteMany
// count one in Loads or Deletes per id, and one in Batches per call; on a
// store that is not a BatchStore they make one call per id.
type Counter struct {
	sessionkit.Store
	Loads, Creates, Updates, Deletes, Prunes, Batches atomic.Int64
}

var _ sessionkit.BatchStore = (*Counter)(nil)

// Load counts and forwards.
func (c *Counter) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	c.Loads.Add(1)
	return c.Store.Load(ctx, id)
}

// LoadMany counts and forwards to the wrapped store's LoadMany, or to its
// Load for each id.
func (c *Counter) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	c.Batches.Add(1)
	c.Loads.Add(int64(len(ids)))
	if b, ok := c.Store.(sessionkit.BatchStore); ok {
		return b.LoadMany(ctx, ids)
	}
	out := make(map[string]sessionkit.Record, len(ids))
	for _, id := range ids {
		rec, found, err := c.Store.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		if found {
			out[id] = rec
		}
	}
	return out, nil
}

// DeleteMany counts and forwards to the wrapped store's DeleteMany, or to
// its Delete for each id.
func (c *Counter) DeleteMany(ctx context.Context, ids []string) error {
	c.Batches.Add(1)
	c.Deletes.Add(int64(len(ids)))
	if b, ok := c.Store.(sessionkit.BatchStore); ok {
		return b.DeleteMany(ctx, ids)
	}
	for _, id := range ids {
		if err := c.Store.Delete(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Create counts and forwards.
func (c *Counter) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	c.Creates.Add(1)
	return c.Store.Create(ctx, id, rec)
}

// Update counts and forwards.
func (c *Counter) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	c.Updates.Add(1)
	return c.Store.Update(ctx, id, p)
}

// Delete counts and forwards.
func (c *Counter) Delete(ctx context.Context, id string) error {
	c.Deletes.Add(1)
	return c.Store.Delete(ctx, id)
}

// Prune counts and forwards.
func (c *Counter) Prune(ctx context.Context, limit int) (int, error) {
	c.Prunes.Add(1)
	return c.Store.Prune(ctx, limit)
}

// UserSessions forwards to the wrapped store's sessionkit.UserIndex, or
// fails with sessionkit.ErrNoUserIndex when it has none. It is not counted.
func (c *Counter) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	ix, ok := c.Store.(sessionkit.UserIndex)
	if !ok {
		return nil, sessionkit.ErrNoUserIndex
	}
	return ix.UserSessions(ctx, user)
}

// Calls returns the number of calls of every kind.
func (c *Counter) Calls() int64 { return c.Loads.Load() + c.Writes() + c.Prunes.Load() }

// Writes returns the number of Create, Update and Delete calls.
func (c *Counter) Writes() int64 { return c.Creates.Load() + c.Updates.Load() + c.Deletes.Load() }

// WatchChanges forwards to the wrapped store's sessionkit.ChangeFeed. On a
// store without one it reports nothing (a cache on it stays bypassed) until
// ctx ends.
func (c *Counter) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	if feed, ok := c.Store.(sessionkit.ChangeFeed); ok {
		feed.WatchChanges(ctx, w)
		return
	}
	<-ctx.Done()
}
