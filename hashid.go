package sessionkit

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// hashedPrefix starts every HashID result. No session id a cookie can carry
// contains its ':' (ids are made of A-Z, a-z, 0-9, '-' and '_'), so a
// hashed key never equals an id, and HashID can tell one from the other.
const hashedPrefix = "sha256:"

// HashID returns what a store that keeps session ids hashed at rest keeps
// in place of id: "sha256:" and the unpadded base64url SHA-256 of id (with
// a domain prefix). A read-only copy of such a store (a backup, a replica,
// a dump) then names no session a cookie could carry: the id
// has 256 random bits, so the hash cannot be turned back into it, and a
// cookie carrying the hash itself is refused as malformed.
//
// HashID of a value it returned is that value, so a store's
// StoredSession.ID (already hashed) and the session's id name the same
// session in Store.Delete, Store.Update, ChangeKey and the public handle.
// memstore, sqlitestore, pgstore's own layout and redisstore's native
// layout keep hashes; each still finds a session stored under its raw id
// by an earlier version, until it expires or the store's HashStoredIDs
// (`sessionkit migrate --hash-ids`) moves it; to find one, their queries
// carry the id beside its hash only while such a session may be left. The layouts Node reads
// (pgstore on connect-pg-simple's table, redisstore's LayoutConnectRedis)
// keep raw ids, since express-session looks sessions up by the id itself.
func HashID(id string) string {
	if strings.HasPrefix(id, hashedPrefix) {
		return id
	}
	// A fixed-size buffer, so that a typical id costs one allocation, the
	// result: HashID runs on every store call of a request.
	var out [len(hashedPrefix) + hashLen]byte
	return string(appendHashID(out[:0], id))
}

// appendHashID appends HashID(id) to dst, hashing in a buffer on the
// stack: the session cache's key (changeSum) is made from it on every
// request without a string.
func appendHashID(dst []byte, id string) []byte {
	if strings.HasPrefix(id, hashedPrefix) {
		return append(dst, id...)
	}
	var in [128]byte
	sum := sha256.Sum256(append(append(in[:0], hashDomain...), id...))
	return base64.RawURLEncoding.AppendEncode(append(dst, hashedPrefix...), sum[:])
}

// hashDomain starts what HashID hashes, so that its hashes differ from
// any other SHA-256 of an id (the handle's, the change key's).
const hashDomain = "sessionkit session id\x00"

// hashLen is the length of a SHA-256 in unpadded base64.
const hashLen = (sha256.Size*8 + 5) / 6
