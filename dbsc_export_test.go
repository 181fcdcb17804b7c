package sessionkit

import "time"

// SetDeviceBoundClock replaces the clock of m's device-bound sessions
// (bound cookie and challenge expiry), so that tests move time on instead
// of waiting for it.
func SetDeviceBoundClock(m *Manager, now func() time.Time) { m.dbsc.now = now }
