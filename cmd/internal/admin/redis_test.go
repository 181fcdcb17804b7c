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

func TestParseSentinelURL(t *testing.T) {
	tests := []struct {
		url                string
		sentinels          []string
		master             string
		db                 int
		user, password     string
		sentinelPassword   string
		tls                bool
		dialTimeoutSeconds int
	}{
		{"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster", []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"}, "mymaster", 0, "", "", "", false, 0},
		{"redis+sentinel://app:secret@s1:26379,s2:26379/sessions/2?dial_timeout=3s", []string{"s1:26379", "s2:26379"}, "sessions", 2, "app", "secret", "", false, 3},
		{"rediss+sentinel://:secret@s1:26379/m?sentinel_password=other", []string{"s1:26379"}, "m", 0, "", "secret", "other", true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, desc, err := newRedisClient(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if strings.Contains(desc, "secret") || strings.Contains(desc, "other") {
				t.Errorf("description %q shows a password", desc)
			}
			base, rest, _ := strings.Cut(tc.url, "+sentinel://")
			o, err := parseSentinelURL(base, rest)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{o.SentinelAddrs, o.MasterName, o.DB, o.Username, o.Password, o.SentinelPassword, o.TLSConfig != nil, int(o.DialTimeout.Seconds())}
			want := []any{tc.sentinels, tc.master, tc.db, tc.user, tc.password, tc.sentinelPassword, tc.tls, tc.dialTimeoutSeconds}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	for _, bad := range []string{"redis+sentinel://u:secret@s1:26379", "redis+sentinel://u:secret@/m", "redis+sentinel://u:secret@s1:26379/m/0/x", "redis+sentinel://u:secret@s1:26379/m?nosuch=1", "redis+sentinel://u:secret@s1:26379/m/notadb"} {
		if _, _, err := newRedisClient(bad); err == nil {
			t.Errorf("newRedisClient(%q): err = nil, want an error", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("newRedisClient(%q): error %q shows the password", bad, err)
		}
	}
}
