package sessionkit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// nodeCookie signs id as express-session (cookie-signature) does with
// secret: s:<id>.<base64 HMAC-SHA256, unpadded>, URL-encoded.
func nodeCookie(id, secret string) *http.Cookie {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(id))
	sig := base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
	return &http.Cookie{Name: sessionkit.DefaultCookieName, Value: url.QueryEscape("s:" + id + "." + sig)}
}

// TestExpressLifetimeFromNode: a session express-session created with
// cookie.maxAge 1h, logged in on Go (which regenerates it), keeps Node's
// lifetime: Max-Age, the stored expiry and originalMaxAge say 1h, not
// Config.Expiry.Lifetime. With an IdleTimeout, originalMaxAge is the idle period
// of Node's rolling sessions, not a lifetime, and the idle deadline rules.
func TestExpressLifetimeFromNode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		idle time.Duration
		want time.Duration
	}{
		{"no idle timeout: Node's maxAge", 0, time.Hour},
		{"idle timeout: the idle deadline", 20 * time.Minute, 20 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store := memStore(t)
			m, _ := newManager(t, store, func(cfg *sessionkit.Config) {
				cfg.ExpressSessionCookie, cfg.Expiry.Lifetime, cfg.Expiry.IdleTimeout = true, 7*24*time.Hour, c.idle
			})
			now := time.Now()
			node := json.RawMessage(`{"originalMaxAge":3600000,"expires":"` +
				now.Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") + `","httpOnly":true,"path":"/"}`)
			const id = "node-made-session-id-0123456789abcdefghij"
			err := store.Create(t.Context(), id, sessionkit.Record{
				Values: map[string]json.RawMessage{sessionkit.ExpressCookieKey: node, "cart": json.RawMessage(`[1]`)},
				Expiry: now.Add(time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			w := do(lifetimeApp(m), "POST", "/login", nodeCookie(id, secretA))
			got := sessionCookie(w)
			if w.Code != 200 || got == nil {
				t.Fatalf("log-in: %d %q", w.Code, w.Body.String())
			}
			near(t, "Max-Age", time.Duration(got.MaxAge)*time.Second, c.want)
			obj, rec := storedCookie(t, store, got)
			near(t, "stored expiry", time.Until(rec.Expiry), c.want)
			ms, _ := obj["originalMaxAge"].(float64)
			near(t, "originalMaxAge", time.Duration(ms)*time.Millisecond, c.want)
			if string(rec.Values["cart"]) != `[1]` {
				t.Errorf("Node's key after the log-in: %s", rec.Values["cart"])
			}
		})
	}
}
