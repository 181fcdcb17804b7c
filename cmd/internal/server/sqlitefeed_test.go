package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

// TestSQLiteCommandLineReachesCachedServer: on SQLite with the session cache
// on, `sessionkit users revoke|disable|remove`, run as another process on
// the same file, end a running server's sessions within the store's journal
// poll (sqlitestore.ChangePollInterval, 250 ms), not after the cache's
// maximum age (an hour here; 60 s by default, which was the delay before).
func TestSQLiteCommandLineReachesCachedServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		act  func(ctx context.Context, db *admin.DB, u admin.User) error
	}{
		{"users revoke", func(ctx context.Context, db *admin.DB, u admin.User) error {
			_, err := db.EndSessions(ctx, u.ID)
			return err
		}},
		{"users disable", func(ctx context.Context, db *admin.DB, u admin.User) error {
			_, err := db.DisableUser(ctx, u.Email)
			return err
		}},
		{"users remove", func(ctx context.Context, db *admin.DB, u admin.User) error {
			_, err := db.RemoveUser(ctx, u.Email)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.SessionCache, cfg.SessionCacheMaxAge = 1000, time.Hour
			h := start(t, cfg)
			u := h.addUser(testEmail, testPassword)
			c := h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("GET", "/api/user", "", c), 200, "") // cached now
			if st := h.srv.Manager().Stats(); st.CacheHits == 0 {
				expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")
			}

			// The command line: its own connection to the same file.
			cli, err := admin.Open(t.Context(), admin.Config{DataDir: cfg.DataDir, PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if err := tc.act(t.Context(), cli, u); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, "the running server to refuse the session ended from the command line", func() bool {
				return h.do("GET", "/api/user", "", c).StatusCode == 401
			})
		})
	}
}
