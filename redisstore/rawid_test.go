package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/storetest"
)

// monitorLog is what MONITOR, on a connection of its own, reports of every
// command the server at redistest.Addr runs, as an operator watching the
// server would see it.
type monitorLog struct {
	mu  sync.Mutex
	log strings.Builder
}

// monitor starts MONITOR and returns once it reports the commands of
// client, which talks to the same server.
func monitor(t *testing.T, client redis.UniversalClient) *monitorLog {
	t.Helper()
	conn, err := net.Dial("tcp", redistest.Addr())
	if err != nil {
		t.Fatal(err)
	}
	m := &monitorLog{}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(conn)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			m.mu.Lock()
			m.log.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
		}
	}()
	m.sync(t, client)
	return m
}

// sync returns once the log holds every command client sent before it.
func (m *monitorLog) sync(t *testing.T, client redis.UniversalClient) {
	t.Helper()
	token := "monitor-sync-" + storetest.NewID()
	poll.Until(t, "MONITOR to report "+token, func() bool {
		_ = client.Echo(t.Context(), token).Err()
		m.mu.Lock()
		defer m.mu.Unlock()
		return strings.Contains(m.log.String(), token)
	})
}

// TestNoRawIDInCommands: once HashStoredIDs found or moved every session
// under a raw key, no command any instance sends names a session id, as
// MONITOR (or the slow log) shows them: not the instance that converted,
// and not another that learns it from the marker key.
func TestNoRawIDInCommands(t *testing.T) {
	for _, migrated := range []bool{false, true} {
		t.Run(fmt.Sprintf("migrated=%v", migrated), func(t *testing.T) {
			client, prefix := redistest.Client(t)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix})
			old := storetest.NewID()
			want := 0
			if migrated {
				writeRaw(t, client, prefix, old)
				if _, found, err := s.Load(t.Context(), old); !found || err != nil {
					t.Fatalf("Load of a raw-keyed session: %v, %v", found, err)
				}
				want = 1
			}
			if n, err := s.HashStoredIDs(t.Context()); n != want || err != nil {
				t.Fatalf("HashStoredIDs: %d, %v; want %d", n, err, want)
			}
			if s.LooksForRawKeys() {
				t.Fatal("after HashStoredIDs the store still looks under raw keys")
			}
			other := mustNew(t, client, redisstore.Config{Prefix: prefix})
			for _, st := range []*redisstore.Store{s, other} {
				m := monitor(t, client)
				storetest.NoRawIDSent(t, st, func() string {
					m.sync(t, client)
					m.mu.Lock()
					defer m.mu.Unlock()
					return m.log.String()
				})
			}
			if other.LooksForRawKeys() {
				t.Error("an instance did not learn from the marker that no raw key is left")
			}
		})
	}
}

// TestRawKeyLookupEnds: a store keeps looking under raw keys while one
// may be left, and stops when HashStoredIDs finds none, here because the
// last one expired.
func TestRawKeyLookupEnds(t *testing.T) {
	client, prefix := redistest.Client(t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix})
	id := storetest.NewID()
	writeRaw(t, client, prefix, id)
	if _, found, err := s.Load(t.Context(), id); !found || err != nil || !s.LooksForRawKeys() {
		t.Fatalf("Load of a raw-keyed session: %v, %v; looking %v", found, err, s.LooksForRawKeys())
	}
	if err := client.Del(context.WithoutCancel(t.Context()), prefix+"{"+id+"}").Err(); err != nil { // as its expiry would
		t.Fatal(err)
	}
	if _, found, err := s.Load(t.Context(), id); found || err != nil || !s.LooksForRawKeys() {
		t.Fatalf("Load after the raw key went: %v, %v; looking %v, want still looking", found, err, s.LooksForRawKeys())
	}
	if n, err := s.HashStoredIDs(t.Context()); n != 0 || err != nil {
		t.Fatalf("HashStoredIDs: %d, %v; want 0", n, err)
	}
	if s.LooksForRawKeys() {
		t.Fatal("the store still looks under raw keys after none is left")
	}
}
