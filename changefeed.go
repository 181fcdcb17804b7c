package sessionkit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
)

// ErrNoChangeFeed is returned by New for Config.Cache.Entries on a store that
// does not implement ChangeFeed: a cache that hears of no change would serve
// logged-out sessions.
var ErrNoChangeFeed = errors.New("sessionkit: Config.Cache.Entries needs a store that announces changes. " +
	"It does not implement sessionkit.ChangeFeed (pgstore, redisstore, sqlitestore and memstore do)")

// ChangeFeed is the optional Store capability the session cache needs
// (Config.Cache.Entries): it announces every change to a session (patch,
// expiry rewrite, delete, and so destroy, regenerate and revoke), made by any
// process sharing the store, once the change is committed. The Manager finds
// it by type assertion on Config.Store.
type ChangeFeed interface {
	// WatchChanges reports changes to w until ctx ends, then returns. It
	// calls w.Up once it hears of every change (and again after each
	// reconnection), and w.Down as soon as it may miss some; changes made
	// while it was down are not replayed, which is why Up means "forget
	// what you cached".
	WatchChanges(ctx context.Context, w ChangeWatcher)
}

// ChangeWatcher receives a ChangeFeed's reports. Its methods may be called
// from several goroutines at once.
type ChangeWatcher interface {
	// Changed reports that the session whose ChangeKey is key changed or
	// ended.
	Changed(key string)
	// ChangedAll reports that every session may have changed or ended (a
	// bulk delete, such as `sessionkit users revoke --all`): forget
	// everything heard of so far. The feed stays up; unlike Down, nothing
	// is being missed.
	ChangedAll()
	// Up reports that every change from now on is reported; changes before
	// may have been missed.
	Up()
	// Down reports that changes may be missed until the next Up.
	Down()
}

// ChangeKey is how a change to the session with this id is announced; it
// is for Store implementations that offer a ChangeFeed, and applications
// have no use for it. It is a hash of the id from which the id cannot be
// recovered (ids carry 256 random bits), so that whoever can listen to the
// announcements (any role that may LISTEN on PostgreSQL, any client that
// may SUBSCRIBE on Redis) learns no usable session id. It differs from the
// session's public handle, so announcements cannot be matched to handles.
// It is computed from HashID(id), so a change made through a stored hash (a
// revocation from a session list) is announced as one made through the id.
func ChangeKey(id string) string {
	sum := changeSum(id)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// changeSum is ChangeKey(id) before its base64: what the session cache
// keys by, so that a cache hit makes no strings. It hashes in a buffer on
// the stack, HashID(id) included.
func changeSum(id string) [changeSumLen]byte {
	var in [128]byte
	sum := sha256.Sum256(appendHashID(append(in[:0], "sessionkit session change\x00"...), id))
	return [changeSumLen]byte(sum[:changeSumLen])
}

// changeSumLen is the bytes of a SHA-256 a ChangeKey keeps.
const changeSumLen = 16

// changeSumOf decodes a ChangeKey, reporting false for a string ChangeKey
// cannot return.
func changeSumOf(key string) (sum [changeSumLen]byte, ok bool) {
	if base64.RawURLEncoding.EncodedLen(changeSumLen) != len(key) {
		return sum, false
	}
	n, err := base64.RawURLEncoding.Decode(sum[:], []byte(key))
	return sum, err == nil && n == changeSumLen
}

// AllSessionsChanged is the key a feed that carries keys as strings (a
// PostgreSQL NOTIFY payload, a Redis message) sends in place of a ChangeKey
// to say that every session may have changed. No ChangeKey equals it:
// those are base64url. ReportChange reads it.
const AllSessionsChanged = "*"

// ReportChange reports one key a feed carried to w: AllSessionsChanged as
// w.ChangedAll, any other key as w.Changed. Every store whose feed carries
// keys as strings calls it, so that all of them read the "everything
// changed" marker alike.
func ReportChange(w ChangeWatcher, key string) {
	if key == AllSessionsChanged {
		w.ChangedAll()
		return
	}
	w.Changed(key)
}

// ChangeHub is a ChangeFeed for a store whose every writer is in this
// process (sqlitestore, memstore): the store embeds it and calls Announce
// after each committed change. Changes made by other processes (another
// program writing the same SQLite file) are not heard of; for those the
// cache's Cache.MaxAge is the bound. The zero value is ready to use.
type ChangeHub struct {
	mu       sync.Mutex
	watchers map[*ChangeWatcher]struct{}
}

// WatchChanges implements ChangeFeed: it calls w.Up at once, then w.Changed
// for every Announce until ctx ends.
func (h *ChangeHub) WatchChanges(ctx context.Context, w ChangeWatcher) {
	key := &w
	h.mu.Lock()
	if h.watchers == nil {
		h.watchers = map[*ChangeWatcher]struct{}{}
	}
	h.watchers[key] = struct{}{}
	h.mu.Unlock()
	w.Up()
	<-ctx.Done()
	h.mu.Lock()
	delete(h.watchers, key)
	h.mu.Unlock()
}

// Announce tells every watcher that the session with this id changed. Call
// it after the change is committed, before the call that made it returns.
func (h *ChangeHub) Announce(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) == 0 {
		return
	}
	key := ChangeKey(id)
	for w := range h.watchers {
		(*w).Changed(key)
	}
}
