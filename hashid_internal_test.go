package sessionkit

import "testing"

// TestHandleOfHash: a session listed by its hash (a store keeping hashes)
// has the public handle its cookie's id gives.
func TestHandleOfHash(t *testing.T) {
	for _, id := range []string{"a", "WQ3x5mPZ7JQ2JbSPiPoHfTKw3UCIvHNQdgm7WpBx7D4"} {
		if handleOf(HashID(id)) != handleOf(id) {
			t.Errorf("the handles of %q and of its hash differ", id)
		}
	}
}
