package sqlitestore

import "context"

// PruneAll runs one pass of the background pruner.
func (s *Store) PruneAll(ctx context.Context) error { return s.pruneAll(ctx) }

// LooksForRawIDs reports whether the store still sends raw ids beside
// their hashes.
func (s *Store) LooksForRawIDs() bool { return s.rawIDs.Load() }
