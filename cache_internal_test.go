package sessionkit

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
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

// TestChangeSumSpelling: the cache's key is ChangeKey's hash of HashID's
// spelling, computed here the long way, for ids of every length (a long
// one outgrows the buffers on the stack) and for a hash.
func TestChangeSumSpelling(t *testing.T) {
	for _, id := range []string{"", "a", newID(), strings.Repeat("x", 300), HashID("a")} {
		hashed := id
		if !strings.HasPrefix(id, "sha256:") {
			sum := sha256.Sum256([]byte("sessionkit session id\x00" + id))
			hashed = "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if got := HashID(id); got != hashed {
			t.Errorf("HashID(%.10q) = %q, want %q", id, got, hashed)
		}
		sum := sha256.Sum256([]byte("sessionkit session change\x00" + hashed))
		if got := changeSum(id); got != [changeSumLen]byte(sum[:changeSumLen]) {
			t.Errorf("changeSum(%.10q) = %x, want %x", id, got, sum[:changeSumLen])
		}
		if got, want := ChangeKey(id), base64.RawURLEncoding.EncodeToString(sum[:changeSumLen]); got != want {
			t.Errorf("ChangeKey(%.10q) = %q, want %q", id, got, want)
		}
	}
}
