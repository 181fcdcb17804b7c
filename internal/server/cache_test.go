package server_test

import (
	"testing"
	"time"
)

// TestSessionCache: serve with SESSION_CACHE on, on the backends that
// announce changes (SQLite in process, PostgreSQL by NOTIFY): a repeated
// logged-in read is answered from the cache, and a log-out, a revocation
// and a user's removal still end the session at once on this instance.
func TestSessionCache(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			b.config(t, &cfg)
			cfg.SessionCache = 100
			h := start(t, cfg)
			stats := h.srv.Manager().Stats
			deadline := time.Now().Add(10 * time.Second)
			for !stats().CacheUp {
				if time.Now().After(deadline) {
					t.Fatal("the cache's change feed never came up")
				}
				time.Sleep(5 * time.Millisecond)
			}
			h.addUser(testEmail, testPassword)

			c := h.login(testEmail, testPassword, nil)
			for range 3 {
				expectStatus(t, h.do("GET", "/api/user", "", c), 200, `{"id":1,"email":"ada@example.com"}`)
			}
			if st := stats(); st.CacheHits < 2 {
				t.Fatalf("stats = %+v: repeated reads did not hit the cache", st)
			}
			expectStatus(t, h.do("POST", "/api/logout", "", c), 200, "")
			expectStatus(t, h.do("GET", "/api/user", "", c), 401, `{"error":"not authenticated"}`)

			phone, laptop := h.login(testEmail, testPassword, nil), h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("GET", "/api/user", "", phone), 200, "")
			expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", laptop), 200, "")
			expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")

			expectStatus(t, h.do("GET", "/api/user", "", laptop), 200, "")
			heard := stats().CacheInvalidations
			if _, err := h.srv.DB().RemoveUser(t.Context(), testEmail); err != nil {
				t.Fatal(err)
			}
			if b.name == "postgres" {
				// The removal's sweep goes through the store, not this
				// instance's manager: it arrives as an announcement.
				for stats().CacheInvalidations == heard && time.Now().Before(deadline.Add(10*time.Second)) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			expectStatus(t, h.do("GET", "/api/user", "", laptop), 401, "")
		})
	}
}
