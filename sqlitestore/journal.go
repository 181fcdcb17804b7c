package sqlitestore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The deletes journal carries Delete's announcements to other processes on
// the same file: `sessionkit users revoke|disable|remove` run as their own
// process, and a running server's session cache must hear of what they end.
// Delete appends the change key (sessionkit.ChangeKey, a hash: never the id)
// to the "<table>_changes" table, and WatchChanges polls it every
// ChangePollInterval. Only deletes are journaled: they are what ends a
// session, and they are rare next to the touches a server makes; another
// process's update reaches a cache within its Cache.MaxAge, as before.

// ChangePollInterval is how often WatchChanges reads the deletes journal:
// the bound on how long another process's delete (a revoke from the command
// line) takes to reach this process's session cache.
const ChangePollInterval = 250 * time.Millisecond

// journalKeep is how long a journal row is kept: long enough for every
// poller to have read it many times over.
const journalKeep = time.Minute

func journalTable(table string) string { return `"` + table + `_changes"` }

// journalSQL is the DDL of the deletes journal, part of SchemaSQL.
func journalSQL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + journalTable(table) + ` (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	key TEXT NOT NULL,
	at  INTEGER NOT NULL -- Unix milliseconds
);
`
}

// journal records the delete of ids for other processes' caches, in one
// statement; rows past journalKeep are dropped by the pollers and Prune,
// off the delete's path. It is best effort: a database made with an older
// SchemaSQL has no journal, and a delete must not fail for it. The write
// turn is held.
func (s *Store) journal(ctx context.Context, ids ...string) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = sessionkit.ChangeKey(id)
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return
	}
	_, _ = s.db.ExecContext(ctx, `INSERT INTO `+s.q.journal+` (key, at) SELECT value, ? FROM json_each(?)`, nowMilli(), string(list))
}

// trimJournal drops the journal's rows past journalKeep, best effort.
func (s *Store) trimJournal(ctx context.Context) {
	_, _ = s.db.ExecContext(ctx, `DELETE FROM `+s.q.journal+` WHERE at < ?`, nowMilli()-journalKeep.Milliseconds())
}

// journalStart returns the journal's last seq, from which pollJournal
// reports, and false without a journal table (an older schema): then only
// the in-process announcements are heard.
func (s *Store) journalStart(ctx context.Context) (last int64, ok bool) {
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM `+s.q.journal).Scan(&last)
	return last, err == nil
}

// pollJournal reports to w every journaled delete after seq last, every
// ChangePollInterval, until ctx ends. A failed read takes the feed Down
// until the next good one (Up: forget the cache).
func (s *Store) pollJournal(ctx context.Context, w sessionkit.ChangeWatcher, last int64) {
	t := time.NewTicker(ChangePollInterval)
	defer t.Stop()
	down := false
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n%int(journalKeep/ChangePollInterval) == 0 {
			s.trimJournal(ctx)
		}
		next, err := s.readJournal(ctx, last, w)
		switch {
		case err != nil && ctx.Err() == nil:
			if !down {
				w.Down()
				down = true
			}
		case err == nil:
			last = next
			if down {
				w.Up()
				down = false
			}
		}
	}
}

// readJournal reports the rows after seq last and returns the last seq read.
func (s *Store) readJournal(ctx context.Context, last int64, w sessionkit.ChangeWatcher) (int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, key FROM `+s.q.journal+` WHERE seq > ? ORDER BY seq`, last)
	if err != nil {
		return last, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		if err := rows.Scan(&last, &key); err != nil {
			return last, err
		}
		w.Changed(key)
	}
	return last, rows.Err()
}

// WatchChanges implements sessionkit.ChangeFeed for the session cache
// (sessionkit.Config.Cache.Entries): it reports the updates and deletes made
// through this Store, in this process, as they commit, and the deletes made
// by other processes on the same file within ChangePollInterval (see
// journal.go).
func (s *Store) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	// The journal's starting point is read before the hub says Up, so that
	// no other process's delete after Up is missed.
	last, journaled := s.journalStart(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if journaled {
			s.pollJournal(ctx, w, last)
		}
	}()
	s.changes.WatchChanges(ctx, w)
	<-done
}
