package admin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNewRedisClient(t *testing.T) {
	tests := []struct {
		url     string
		cluster bool
		addrs   []string
		tls     bool
	}{
		{"redis://127.0.0.1:6379/0", false, []string{"127.0.0.1:6379"}, false},
		{"rediss://u:secret@cache.example:6380", false, []string{"cache.example:6380"}, true},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002", true, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}, false},
		{"rediss+cluster://u:secret@a:7000,b:7000/?dial_timeout=3s", true, []string{"a:7000", "b:7000"}, true},
		{"redis+cluster://only:7000", true, []string{"only:7000"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, desc, err := newRedisClient(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if strings.Contains(desc, "secret") {
				t.Errorf("description %q shows the password", desc)
			}
			var addrs []string
			var tls bool
			switch c := c.(type) {
			case *redis.ClusterClient:
				if !tc.cluster {
					t.Fatal("got a cluster client for a single-server URL")
				}
				addrs, tls = c.Options().Addrs, c.Options().TLSConfig != nil
			case *redis.Client:
				if tc.cluster {
					t.Fatal("got a single-server client for a cluster URL")
				}
				addrs, tls = []string{c.Options().Addr}, c.Options().TLSConfig != nil
			}
			if !reflect.DeepEqual(addrs, tc.addrs) || tls != tc.tls {
				t.Errorf("addrs %v, TLS %v; want %v, %v", addrs, tls, tc.addrs, tc.tls)
			}
		})
	}
	for _, bad := range []string{"", "127.0.0.1:6379", "http://u:secret@host", "redis+cluster://u:secret@", "redis://u:secret@host:notaport"} {
		if _, _, err := newRedisClient(bad); err == nil {
			t.Errorf("newRedisClient(%q): err = nil, want an error", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("newRedisClient(%q): error %q shows the password", bad, err)
		}
	}
}
