package sessionkit

import (
	"testing"
	"time"
)

// TestCacheKeysAreChangeKeys: the cache keys by ChangeKey's bytes, so an
// announcement of ChangeKey(id) forgets the session, whether the id was
// raw or hashed, and a key ChangeKey cannot return forgets nothing but
// still keeps a load that crossed it out of the cache.
func TestCacheKeysAreChangeKeys(t *testing.T) {
	id := newID()
	for _, announced := range []string{ChangeKey(id), ChangeKey(HashID(id))} {
		if sum, ok := changeSumOf(announced); !ok || sum != changeSum(id) {
			t.Fatalf("changeSumOf(%q) = %x, %v; want changeSum %x", announced, sum, ok, changeSum(id))
		}
		c := newSessionCache(10, time.Hour)
		c.Up()
		now := time.Now()
		c.put(id, Record{Expiry: now.Add(time.Hour)}, c.begin(), now)
		if _, ok := c.get(id, now); !ok {
			t.Fatal("a put record is not served")
		}
		c.Changed(announced)
		if _, ok := c.get(id, now); ok {
			t.Errorf("served after Changed(%q)", announced)
		}
	}
	for _, bad := range []string{"", "short", ChangeKey(id) + "A", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, ok := changeSumOf(bad); ok {
			t.Errorf("changeSumOf(%q) is ok", bad)
		}
		c := newSessionCache(10, time.Hour)
		c.Up()
		now := time.Now()
		epoch := c.begin()
		c.Changed(bad)
		c.put(id, Record{Expiry: now.Add(time.Hour)}, epoch, now)
		if _, ok := c.get(id, now); ok {
			t.Errorf("a load that crossed Changed(%q) was cached", bad)
		}
	}
}
