package redisstore

import "time"

// SetWatchIdle sets how long a subscription may stay silent before
// WatchChanges pings (and then gives up), for tests of a connection that
// stops answering; the returned function restores it. Call it while no
// watch runs.
func SetWatchIdle(d time.Duration) (restore func()) {
	old := watchIdle
	watchIdle = d
	return func() { watchIdle = old }
}

// LooksForRawKeys reports whether the store still looks sessions up under
// their raw keys (see rawPossible).
func (s *Store) LooksForRawKeys() bool { return !s.rawGone.Load() }
