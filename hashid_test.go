package sessionkit_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestHashIDIsStable: HashID is "sha256:" and the unpadded base64url SHA-256
// of its domain prefix and the id, for ids of every length (stores keep
// it, so it can never change), a hash maps to itself, and the change key
// (and, in TestHandleOfHash, the handle) of an id and of its hash agree.
func TestHashIDIsStable(t *testing.T) {
	for _, id := range []string{"", "a", "WQ3x5mPZ7JQ2JbSPiPoHfTKw3UCIvHNQdgm7WpBx7D4", strings.Repeat("x", 300)} {
		sum := sha256.Sum256([]byte("sessionkit session id\x00" + id))
		want := "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
		got := sessionkit.HashID(id)
		if got != want {
			t.Errorf("HashID(%.10q) = %q, want %q", id, got, want)
		}
		if again := sessionkit.HashID(got); again != got {
			t.Errorf("HashID(HashID(%.10q)) = %q, want %q", id, again, got)
		}
		// A store that lists hashes announces a change under the key the
		// cookie's id gives.
		if sessionkit.ChangeKey(got) != sessionkit.ChangeKey(id) {
			t.Errorf("ChangeKey of %.10q and of its hash differ", id)
		}
	}
}
