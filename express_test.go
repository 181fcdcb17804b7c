package sessionkit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// storedCookie returns the express-session cookie object of the stored
// session c names, decoded, with the stored record; nil when it has none.
func storedCookie(t *testing.T, store sessionkit.Store, c *http.Cookie) (map[string]any, sessionkit.Record) {
	t.Helper()
	rec, found, err := store.Load(context.Background(), idOf(t, c))
	if err != nil || !found {
		t.Fatalf("load the session of cookie %s: found %v, %v", c.Value, found, err)
	}
	raw, ok := rec.Values[sessionkit.ExpressCookieKey]
	if !ok {
		return nil, rec
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("cookie object %s: %v", raw, err)
	}
	return obj, rec
}

// checkExpressCookie fails unless obj is what express-session would have
// stored for the Set-Cookie c and the stored expiry.
func checkExpressCookie(t *testing.T, obj map[string]any, c *http.Cookie, setCookie string, expiry time.Time) {
	t.Helper()
	want := map[string]any{"httpOnly": c.HttpOnly, "path": c.Path}
	if c.Domain != "" {
		want["domain"] = c.Domain
	}
	if c.Secure {
		want["secure"] = true
	}
	if c.Partitioned {
		want["partitioned"] = true
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		want["sameSite"] = "lax"
	case http.SameSiteStrictMode:
		want["sameSite"] = "strict"
	case http.SameSiteNoneMode:
		want["sameSite"] = "none"
	}
	if c.MaxAge > 0 {
		// expires is the stored expiry, to the millisecond, as toISOString
		// writes it; originalMaxAge the Max-Age sent, in milliseconds.
		want["expires"] = expiry.UTC().Format("2006-01-02T15:04:05.000Z")
		if !expiry.Equal(expiry.Truncate(time.Millisecond)) {
			t.Errorf("stored expiry %v is not a whole millisecond, so it cannot equal the cookie object's", expiry)
		}
		ms, _ := obj["originalMaxAge"].(float64)
		if got := time.Duration(ms) * time.Millisecond; (got - time.Duration(c.MaxAge)*time.Second).Abs() > time.Second {
			t.Errorf("originalMaxAge %v ms, but Set-Cookie %q has Max-Age=%d", obj["originalMaxAge"], setCookie, c.MaxAge)
		}
		if !c.Expires.Equal(expiry.Truncate(time.Second)) {
			t.Errorf("Set-Cookie Expires %v, stored expiry %v", c.Expires, expiry)
		}
		want["originalMaxAge"] = obj["originalMaxAge"]
	} else {
		want["expires"], want["originalMaxAge"] = nil, nil
	}
	if !reflect.DeepEqual(obj, want) {
		t.Errorf("cookie object %v\nwant          %v (for Set-Cookie %q)", obj, want, setCookie)
	}
}

func TestExpressSessionCookieObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*sessionkit.Config)
	}{
		{"defaults", nil},
		{"production", func(c *sessionkit.Config) {
			c.Cookie.Secure, c.Cookie.Domain, c.Cookie.SameSite, c.Cookie.Path = true, "example.com", http.SameSiteStrictMode, "/api"
		}},
		{"cross-site", func(c *sessionkit.Config) {
			c.Cookie.Secure, c.Cookie.SameSite, c.Cookie.Partitioned = true, http.SameSiteNoneMode, true
		}},
		{"browser-session cookie", func(c *sessionkit.Config) { c.Cookie.BrowserSession = true }},
		{"script access", func(c *sessionkit.Config) { c.Cookie.AllowScriptAccess = true }},
		{"idle timeout bounds the cookie", func(c *sessionkit.Config) { c.Expiry.IdleTimeout = time.Hour }},
		{"lifetime not a whole second", func(c *sessionkit.Config) { c.Expiry.Lifetime = 90*time.Minute + 1234567*time.Nanosecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memStore(t)
			m, _ := newManager(t, store, func(c *sessionkit.Config) {
				c.ExpressSessionCookie = true
				if tt.edit != nil {
					tt.edit(c)
				}
			})
			w := do(app(m), "POST", "/put?k=a&v=b")
			c := sessionCookie(w)
			if c == nil {
				t.Fatalf("no session cookie: %d %q", w.Code, w.Body.String())
			}
			obj, rec := storedCookie(t, store, c)
			if obj == nil {
				t.Fatalf("stored session %v has no cookie object", rec.Values)
			}
			checkExpressCookie(t, obj, c, w.Header().Get("Set-Cookie"), rec.Expiry)
			if got := string(rec.Values["a"]); got != `"b"` {
				t.Errorf("key a = %s, want \"b\"", got)
			}
		})
	}
}

func TestExpressSessionCookieOffByDefault(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, _ := newManager(t, store, nil)
	c := login(t, app(m), "ada")
	if obj, rec := storedCookie(t, store, c); obj != nil {
		t.Fatalf("without ExpressSessionCookie the session got a cookie object: %v", rec.Values)
	}
}

// TestExpressSessionCookieFollowsReissue checks the cookie object is
// rewritten with each cookie the manager issues (log-in, idle-timeout touch)
// and left alone otherwise, with keys another application wrote kept.
func TestExpressSessionCookieFollowsReissue(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.ExpressSessionCookie = true
		c.Expiry.IdleTimeout = time.Hour
		c.Expiry.TouchInterval = time.Millisecond
	})
	h := app(m)
	ctx := context.Background()

	// A session as express-session wrote it, under an id Go signed: its own
	// cookie object (with a priority Go never writes) and a key of its own.
	nodeSession := login(t, h, "ada")
	nodeID := idOf(t, nodeSession)
	nodeCookie := json.RawMessage(`{"originalMaxAge":3600000,"priority":"high","expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}`)
	if err := store.Delete(ctx, nodeID); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, nodeID, sessionkit.Record{
		Values: map[string]json.RawMessage{"cookie": nodeCookie, "cart": json.RawMessage(`[1,2]`)},
		Expiry: time.Now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}

	// A write without a re-issue keeps Node's object byte for byte.
	if w := do(h, "POST", "/put?k=userId&v=7", nodeSession); w.Code != 200 || sessionCookie(w) != nil {
		t.Fatalf("put: %d %q, Set-Cookie %q", w.Code, w.Body.String(), w.Header().Get("Set-Cookie"))
	}
	rec, _, _ := store.Load(ctx, nodeID)
	if got := string(rec.Values["cookie"]); got != string(nodeCookie) {
		t.Errorf("a Go write changed Node's cookie object:\n got %s\nwant %s", got, nodeCookie)
	}

	// A read that touches re-issues the cookie: the object follows, the
	// other keys stay.
	time.Sleep(5 * time.Millisecond)
	w := do(h, "GET", "/get?k=userId", nodeSession)
	c := sessionCookie(w)
	if w.Code != 200 || c == nil {
		t.Fatalf("touching read: %d %q, no cookie re-issued", w.Code, w.Body.String())
	}
	obj, rec := storedCookie(t, store, c)
	checkExpressCookie(t, obj, c, w.Header().Get("Set-Cookie"), rec.Expiry)
	if got := string(rec.Values["cart"]); got != `[1,2]` {
		t.Errorf("Node's key cart = %s after the touch, want [1,2]", got)
	}

	// Log-in regenerates: the new session gets a fresh object, and keeps
	// Node's keys.
	w = do(h, "POST", "/login?user=ada", nodeSession)
	c = sessionCookie(w)
	if w.Code != 200 || c == nil {
		t.Fatalf("login: %d %q", w.Code, w.Body.String())
	}
	obj, rec = storedCookie(t, store, c)
	checkExpressCookie(t, obj, c, w.Header().Get("Set-Cookie"), rec.Expiry)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range rec.Values {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"cart", "cookie", "user", "userId"}; !slices.Equal(keys, want) {
		t.Errorf("keys after log-in %v, want %v", keys, want)
	}
}
