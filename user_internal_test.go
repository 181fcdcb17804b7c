package sessionkit

import "testing"

func TestSeenOf(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`{"user":"1","auth":5,"seen":1764500000,"ua":"x"}`, 1764500000, true},
		{`{"ua": "x", "auth": 5, "seen": 1764500000, "user": "1"}`, 1764500000, true}, // jsonb's spacing and order
		{`{"user":"seen","seen":7}`, 7, true},
		{`{"user":"\"seen\":9","seen":7}`, 7, true},
		{`{"ua":"\"seen\" :9","seen":8}`, 8, true},
		{`{"user":"1"}`, 0, true}, // never seen: due
		{`{"seen":"soon"}`, 0, false},
		{`not json`, 0, false},
	} {
		got, ok := seenOf([]byte(tc.raw))
		if got != tc.want || ok != tc.ok {
			t.Errorf("seenOf(%s) = %d, %v; want %d, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
