package memstore

import (
	"fmt"
	"strings"
)

// Dump is everything s holds, as text: its map keys with their values, and
// its user index.
func Dump(s *Store) string {
	var dump strings.Builder
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, e := range s.entries {
		fmt.Fprintf(&dump, "%s %v\n", key, e.values)
	}
	for user, keys := range s.byUser {
		fmt.Fprintf(&dump, "%s %v\n", user, keys)
	}
	return dump.String()
}
