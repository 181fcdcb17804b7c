package sessionkit

import (
	"net/netip"
	"testing"
)

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

func TestCoarseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":              "203.0.113.0/24",
		"::ffff:203.0.113.77":       "203.0.113.0/24",
		"2001:db8:1234:5678::1":     "2001:db8:1234::/48",
		"fe80::1%eth0":              "fe80::/48",
		"2001:db8:ffff:ffff:ffff::": "2001:db8:ffff::/48",
	} {
		if got := coarseAddr(netip.MustParseAddr(in)); got != want {
			t.Errorf("coarseAddr(%s) = %q, want %q", in, got, want)
		}
	}
}
