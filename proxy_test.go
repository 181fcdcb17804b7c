package sessionkit_test

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestHTTPSVerdict(t *testing.T) {
	t.Parallel()
	proxies := sessionkit.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote, proto string
		https               bool
		reason              string
	}{
		{"plain", "192.0.2.1:5000", "", false, "no X-Forwarded-Proto"},
		{"spoofed", "192.0.2.1:5000", "https", false, "not in TrustedProxies"},
		{"trusted proxy", "10.1.2.3:5000", "https", true, "trusted proxy"},
		{"trusted proxy, chain", "10.1.2.3:5000", "https, http", true, "trusted proxy"},
		{"trusted proxy over http", "10.1.2.3:5000", "http", false, "says X-Forwarded-Proto: http"},
		{"ipv6 proxy", "[::1]:5000", "HTTPS", true, "trusted proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			https, reason := proxies.HTTPSVerdict(r)
			if https != tt.https || !strings.Contains(reason, tt.reason) {
				t.Fatalf("HTTPSVerdict = %v %q, want %v with %q", https, reason, tt.https, tt.reason)
			}
		})
	}
	tls := httptest.NewRequest("GET", "https://example.com/", nil)
	if https, _ := proxies.HTTPSVerdict(tls); !https {
		t.Fatal("a TLS request is not HTTPS")
	}
	// The zero value trusts no proxy, even one on the loopback.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[::1]:5000"
	r.Header.Set("X-Forwarded-Proto", "https")
	if https, _ := (sessionkit.TrustedProxies{}).HTTPSVerdict(r); https {
		t.Fatal("the zero TrustedProxies believed X-Forwarded-Proto")
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies := sessionkit.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.9"}, "192.0.2.1"}, // untrusted peer: header ignored
		{"10.0.0.2:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"10.0.0.2:5000", []string{"6.6.6.6, 198.51.100.9, 10.0.0.7"}, "198.51.100.9"},
		{"10.0.0.2:5000", []string{"6.6.6.6", "198.51.100.9, 10.0.0.7"}, "198.51.100.9"}, // two header lines
		{"10.0.0.2:5000", nil, "10.0.0.2"},
		{"10.0.0.2:5000", []string{"10.0.0.3"}, "10.0.0.3"}, // only proxies: the farthest one
		{"10.0.0.2:5000", []string{"garbage"}, "10.0.0.2"},
		{"10.0.0.2:5000", []string{"6.6.6.6, garbage, 10.0.0.7"}, "10.0.0.7"},
		{"[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
	} {
		r := httptest.NewRequest("POST", "/api/login", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		got, ok := proxies.ClientAddr(r)
		if !ok || got.String() != tc.want {
			t.Errorf("ClientAddr(%s, XFF %q) = %v %v, want %s", tc.remote, tc.xff, got, ok, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "not an address"
	if _, ok := proxies.ClientAddr(r); ok {
		t.Error("an unparseable peer address was accepted")
	}
	if got := proxies.ClientNetwork(r); got != "unknown" {
		t.Errorf("ClientNetwork of an unparseable peer = %q, want unknown", got)
	}
	r.RemoteAddr = "10.0.0.2:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	if got := proxies.ClientNetwork(r); got != "198.51.100.0/24" {
		t.Errorf("ClientNetwork = %q, want 198.51.100.0/24", got)
	}
}
