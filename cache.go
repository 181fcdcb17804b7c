package sessionkit

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sessionCache is the instance-local session cache (Config.Cache.Entries): a
// least-recently-used map from ChangeKey(id) (as bytes: changeSum, so that a
// hit makes no strings) to the loaded record, emptied by
// the store's ChangeFeed. It serves nothing while the feed is down.
//
// A load that misses and one that changes the session can cross: a load
// that started before a change may return the old record after the change's
// announcement was applied. So every invalidation bumps epoch, and put keeps
// a record only if no invalidation happened since its load started.
type sessionCache struct {
	max    int
	maxAge time.Duration

	mu      sync.Mutex
	entries map[[changeSumLen]byte]*list.Element // of *cacheEntry
	lru     list.List                            // front: most recently used
	up      bool
	epoch   uint64
	// downSince is when the feed went down (zero while up); downTotal sums
	// the finished down periods.
	downSince time.Time
	downTotal time.Duration

	hits, misses, invalidations, flushes atomic.Uint64

	stop context.CancelFunc
	done chan struct{}
}

type cacheEntry struct {
	key    [changeSumLen]byte
	rec    Record
	stored time.Time
}

func newSessionCache(max int, maxAge time.Duration) *sessionCache {
	return &sessionCache{max: max, maxAge: maxAge, entries: map[[changeSumLen]byte]*list.Element{}, downSince: time.Now()}
}

// watch starts feeding the cache from feed; close stops it.
func (c *sessionCache) watch(feed ChangeFeed) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		feed.WatchChanges(ctx, c)
		c.Down()
	}()
}

func (c *sessionCache) close() {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
}

// get returns the cached live record for id. The record's Values are shared
// with the cache: the session never writes to them.
func (c *sessionCache) get(id string, now time.Time) (Record, bool) {
	key := changeSum(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		c.misses.Add(1)
		return Record{}, false
	}
	el, ok := c.entries[key]
	if !ok {
		c.misses.Add(1)
		return Record{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.rec.Expiry) || now.Sub(e.stored) >= c.maxAge {
		c.remove(el)
		c.misses.Add(1)
		return Record{}, false
	}
	c.lru.MoveToFront(el)
	c.hits.Add(1)
	return e.rec, true
}

// begin returns the epoch to hand to put after a store load.
func (c *sessionCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put caches rec, loaded for id by a load that began at epoch, unless the
// cache was invalidated since or the feed is down.
func (c *sessionCache) put(id string, rec Record, epoch uint64, now time.Time) {
	key := changeSum(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up || c.epoch != epoch {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, rec: rec, stored: now})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *sessionCache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).key)
	c.lru.Remove(el)
}

// drop forgets the session with this id: this instance changed it.
func (c *sessionCache) drop(id string) { c.invalidate(changeSum(id)) }

func (c *sessionCache) invalidate(key [changeSumLen]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
}

// Changed implements ChangeWatcher.
func (c *sessionCache) Changed(key string) {
	c.invalidations.Add(1)
	sum, ok := changeSumOf(key)
	if !ok {
		// Names no cached session, but it is a change: a load that began
		// before it must still not be cached.
		c.mu.Lock()
		defer c.mu.Unlock()
		c.epoch++
		return
	}
	c.invalidate(sum)
}

// ChangedAll implements ChangeWatcher: the cache is emptied, and stays in
// use.
func (c *sessionCache) ChangedAll() {
	c.invalidations.Add(1)
	c.flushes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
}

// Up implements ChangeWatcher: the cache is emptied (changes may have been
// missed while it was down) and used again.
func (c *sessionCache) Up() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
	if !c.up {
		c.downTotal += time.Since(c.downSince)
		c.downSince = time.Time{}
	}
	c.up = true
}

// Down implements ChangeWatcher: the cache is emptied and bypassed.
func (c *sessionCache) Down() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
	if c.up {
		c.downSince = time.Now()
	}
	c.up = false
}

func (c *sessionCache) flush() {
	c.epoch++
	clear(c.entries)
	c.lru.Init()
}

// stats fills the cache's fields of st.
func (c *sessionCache) stats(st *Stats) {
	st.CacheHits = c.hits.Load()
	st.CacheMisses = c.misses.Load()
	st.CacheInvalidations = c.invalidations.Load()
	st.CacheFlushes = c.flushes.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	st.CacheEntries = c.lru.Len()
	st.CacheBypassed = c.downTotal
	if !c.up {
		st.CacheBypassed += time.Since(c.downSince)
	}
	st.CacheUp = c.up
}
