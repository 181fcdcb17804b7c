package sessionkit_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

func TestInvalidConfigurations(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Config{})
	defer store.Close()
	tests := []struct {
		name string
		edit func(*sessionkit.Config)
		want string // a fragment of the error that names the fix
	}{
		{"no store", func(c *sessionkit.Config) { c.Store = nil }, "Store is nil"},
		{"no secrets", func(c *sessionkit.Config) { c.Secrets = nil }, "Secrets is empty"},
		{"short secret", func(c *sessionkit.Config) { c.Secrets = []string{"short"} }, "at least 32"},
		{"short old secret", func(c *sessionkit.Config) { c.Secrets = []string{secretA, strings.Repeat("x", 31)} }, "Secrets[1]"},
		{"SameSite=None without Secure", func(c *sessionkit.Config) { c.Cookie.SameSite = http.SameSiteNoneMode }, "SameSite=None without Secure"},
		{"__Host- with Domain", func(c *sessionkit.Config) {
			c.Cookie.Name, c.Cookie.Secure, c.Cookie.Domain = "__Host-sid", true, "example.com"
		}, "__Host-"},
		{"__Host- without Secure", func(c *sessionkit.Config) { c.Cookie.Name = "__Host-sid" }, "__Host-"},
		{"__Host- with a path", func(c *sessionkit.Config) {
			c.Cookie.Name, c.Cookie.Secure, c.Cookie.Path = "__Host-sid", true, "/app"
		}, "__Host-"},
		{"__Secure- without Secure", func(c *sessionkit.Config) { c.Cookie.Name = "__Secure-sid" }, "__Secure-"},
		{"Partitioned without Secure", func(c *sessionkit.Config) { c.Cookie.Partitioned = true }, "Partitioned without Secure"},
		{"bad cookie name", func(c *sessionkit.Config) { c.Cookie.Name = "sid;x" }, "not a valid cookie name"},
		{"relative path", func(c *sessionkit.Config) { c.Cookie.Path = "app" }, "must start with /"},
		{"domain with a port", func(c *sessionkit.Config) { c.Cookie.Domain = "example.com:8080" }, "not a host name"},
		{"negative lifetime", func(c *sessionkit.Config) { c.Expiry.Lifetime = -time.Hour }, "cannot be negative"},
		{"lifetime over 400 days", func(c *sessionkit.Config) { c.Expiry.Lifetime = sessionkit.MaxLifetime + time.Hour }, "400 days"},
		{"touch interval not under idle timeout", func(c *sessionkit.Config) {
			c.Expiry.IdleTimeout, c.Expiry.TouchInterval = time.Minute, time.Minute
		}, "TouchInterval"},
		{"invalid proxy prefix", func(c *sessionkit.Config) { c.TrustedProxies = []netip.Prefix{{}} }, "TrustedProxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sessionkit.Config{Store: store, Secrets: []string{secretA}, Logger: slog.New(slog.DiscardHandler)}
			tt.edit(&cfg)
			m, err := sessionkit.New(cfg)
			if err == nil || m != nil {
				t.Fatalf("New accepted the configuration")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if !errors.Is(err, sessionkit.ErrInvalidConfig) {
				t.Fatalf("error %q does not wrap ErrInvalidConfig", err)
			}
			// Validate refuses the same, without needing the store.
			if cfg.Store != nil {
				cfg.Store = nil
				if verr := cfg.Validate(); verr == nil || verr.Error() != err.Error() {
					t.Fatalf("Validate = %v, New = %v", verr, err)
				}
			}
		})
	}
}

func TestValidConfigurations(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Config{})
	defer store.Close()
	for name, edit := range map[string]func(*sessionkit.Config){
		"defaults":           func(*sessionkit.Config) {},
		"__Host- done right": func(c *sessionkit.Config) { c.Cookie.Name, c.Cookie.Secure = "__Host-sid", true },
		"cross-site": func(c *sessionkit.Config) {
			c.Cookie.SameSite, c.Cookie.Secure, c.Cookie.Partitioned = http.SameSiteNoneMode, true, true
		},
		"idle timeout":        func(c *sessionkit.Config) { c.Expiry.IdleTimeout = 30 * time.Minute },
		"rotation":            func(c *sessionkit.Config) { c.Secrets = []string{secretB, secretA} },
		"domain for siblings": func(c *sessionkit.Config) { c.Cookie.Domain = "example.com" },
		"400-day lifetime":    func(c *sessionkit.Config) { c.Expiry.Lifetime = sessionkit.MaxLifetime },
		"long lifetime, browser-session cookie": func(c *sessionkit.Config) {
			c.Expiry.Lifetime, c.Cookie.BrowserSession = 2*sessionkit.MaxLifetime, true
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := sessionkit.Config{Store: store, Secrets: []string{secretA}, Logger: slog.New(slog.DiscardHandler)}
			edit(&cfg)
			if _, err := sessionkit.New(cfg); err != nil {
				t.Fatal(err)
			}
			cfg.Store = nil
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate refused what New accepted: %v", err)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	store := memstore.New(memstore.Config{})
	defer store.Close()
	tests := []struct {
		name      string
		edit      func(*sessionkit.Config)
		want, not []string
	}{
		{"defaults", nil,
			[]string{"Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=604800", "Expires="}, []string{"Secure", "Domain="}},
		{"production", func(c *sessionkit.Config) {
			c.Cookie.Secure, c.Cookie.Domain, c.Cookie.SameSite = true, "example.com", http.SameSiteStrictMode
		}, []string{"Secure", "Domain=example.com", "SameSite=Strict"}, nil},
		{"browser-session cookie", func(c *sessionkit.Config) { c.Cookie.BrowserSession = true },
			[]string{"HttpOnly"}, []string{"Max-Age", "Expires"}},
		{"script access", func(c *sessionkit.Config) { c.Cookie.AllowScriptAccess = true }, nil, []string{"HttpOnly"}},
		{"partitioned", func(c *sessionkit.Config) { c.Cookie.Secure, c.Cookie.Partitioned = true, true }, []string{"Partitioned"}, nil},
		{"idle timeout bounds the cookie", func(c *sessionkit.Config) { c.Expiry.IdleTimeout = time.Hour }, []string{"Max-Age=3600"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(t, store, tt.edit)
			sc := do(app(m), "POST", "/put?k=a&v=b").Header().Get("Set-Cookie")
			for _, w := range tt.want {
				if !strings.Contains(sc, w) {
					t.Errorf("Set-Cookie %q lacks %q", sc, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(sc, n) {
					t.Errorf("Set-Cookie %q has %q", sc, n)
				}
			}
		})
	}
}
