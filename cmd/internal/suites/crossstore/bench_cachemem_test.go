package crossstore_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// cacheMemSessions is how many sessions BenchmarkCacheMemory caches: enough
// that the map's and the list's fixed costs vanish in the figure.
const cacheMemSessions = 10000

// BenchmarkCacheMemory reports the heap the session cache
// (Config.Cache.Entries) holds per cached session, in B/session: sessions
// written as serve's log-in writes them (bound to their user, with the
// user's id and email) on redisstore, each read once through a manager
// with a cache, the heap measured after a GC before and after, less the same
// through a manager without one. The store's data is in Redis, so the
// difference is the cache's entries: the records as Load decoded them, their
// keys and the LRU's bookkeeping. It is a size,
// not a time (figures in BENCHMARKS.md):
//
//	go test -run '^$' -bench CacheMemory -benchtime 1x .
func BenchmarkCacheMemory(b *testing.B) {
	client, prefix := redistest.Client(b)
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	writer, _ := newManager(b, store, nil)
	login := writer.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err == nil {
			// What serve's log-in writes (cmd/internal/server/login.go).
			id := r.URL.Query().Get("id")
			err = s.Authenticate(id)
			if err == nil {
				n, _ := strconv.Atoi(id)
				err = s.Put("userId", n)
			}
			if err == nil {
				err = s.Put("email", "user"+id+"@example.com")
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}))
	cookies := make([]*http.Cookie, cacheMemSessions)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(cookies); i += 4 {
				resp := do(login, "POST", fmt.Sprintf("/login?id=%d", i+1))
				if cookies[i] = sessionCookie(resp); resp.Code != http.StatusOK || cookies[i] == nil {
					b.Errorf("log-in %d: %d %s", i, resp.Code, resp.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	read := func(m *sessionkit.Manager) http.Handler {
		return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := sessionkit.From(r)
			if err == nil {
				_, err = s.GetString("email")
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			}
		}))
	}
	// held reads every session once through a manager, with a cache or
	// without, and returns the heap the manager holds afterwards. Without
	// a cache it still remembers verified signatures (verifiedSigs, at most
	// 4,096 of them), which the difference of the two takes out.
	held := func(cache bool) int64 {
		m, _ := newManager(b, store, func(cfg *sessionkit.Config) {
			if cache {
				cfg.Cache.Entries = cacheMemSessions
				cfg.Cache.MaxAge = time.Hour
			}
		})
		defer m.Close()
		h := read(m)
		for deadline := time.Now().Add(10 * time.Second); cache && !m.Stats().CacheUp; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the cache's change feed is not up after 10 s")
			}
		}
		before := heapAfterGC()
		for _, c := range cookies {
			if resp := do(h, "GET", "/", c); resp.Code != http.StatusOK {
				b.Fatalf("read: %d %s", resp.Code, resp.Body.String())
			}
		}
		after := heapAfterGC()
		if st := m.Stats(); cache && st.CacheEntries != cacheMemSessions {
			b.Fatalf("the cache holds %d sessions, want %d", st.CacheEntries, cacheMemSessions)
		}
		runtime.KeepAlive(m)
		return int64(after) - int64(before)
	}
	var perSession float64
	for range b.N {
		perSession = float64(held(true)-held(false)) / cacheMemSessions
	}
	b.ReportMetric(perSession, "B/session")
	b.ReportMetric(0, "ns/op") // a size, not a time
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC() // the second one frees what the first one's finalizers let go
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
