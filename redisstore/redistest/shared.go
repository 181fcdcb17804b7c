package redistest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// SharedCluster is a test package's Redis Cluster, started by the first
// test that asks for it and stopped by the package's TestMain, so that a
// package whose cluster tests are few pays for one cluster, and only when
// they run. The zero value is ready to use.
type SharedCluster struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// Get returns the cluster, starting it on the first call; a cluster that
// cannot start fails tb (and every later caller).
func (s *SharedCluster) Get(tb testing.TB) *Cluster {
	tb.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.cluster, s.err = StartCluster(ctx)
	})
	if s.err != nil {
		tb.Fatal(s.err)
	}
	return s.cluster
}

// Stop stops the cluster if it was started. Call it from TestMain after
// m.Run.
func (s *SharedCluster) Stop() {
	if s.cluster != nil {
		s.cluster.Stop()
	}
}
