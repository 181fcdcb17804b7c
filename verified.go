package sessionkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
)

// maxVerified bounds verifiedSigs: about 150 bytes an entry, some 600 KB.
const maxVerified = 4096

// verifiedSigs remembers, for ids whose cookie verified lately, the
// signature that verified, so that the same cookie on the next request is
// checked by one constant-time comparison instead of an HMAC per secret.
// It holds what the secrets would compute anyway, so it changes no answer:
// a signature that differs from the remembered one (another secret's, or a
// forgery) is checked in full. Whether an id is remembered shows in the
// time taken, but only to someone who holds the id, which is the session
// already. When full it is emptied, and refills from the next requests.
type verifiedSigs struct {
	m sync.Map // id → [sha256.Size]byte
	n atomic.Int64
}

// check reports whether sig is the signature remembered for id.
func (v *verifiedSigs) check(id string, sig []byte) bool {
	got, ok := v.m.Load(id)
	if !ok {
		return false
	}
	want := got.([sha256.Size]byte)
	return hmac.Equal(sig, want[:])
}

// remember records sig, which verified, as id's.
func (v *verifiedSigs) remember(id string, sig []byte) {
	if len(sig) != sha256.Size {
		return
	}
	if v.n.Add(1) > maxVerified {
		v.m.Clear()
		v.n.Store(1)
	}
	// A copy of id: it is a slice of the request's Cookie header, which
	// the map must not keep alive.
	v.m.Store(strings.Clone(id), [sha256.Size]byte(sig))
}
