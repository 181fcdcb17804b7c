package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/reconnect"
)

// Change announcements, for sessionkit's session cache
// (sessionkit.Config.Cache.Entries): every Update, Delete, DeleteMany (one
// per id) and DeleteAll sends a NOTIFY on the table's channel in the same
// statement, so in the same transaction, and PostgreSQL delivers it only if
// that transaction commits. The payload is
// sessionkit.ChangeKey(id), a hash from which no session id can be
// recovered: any role may LISTEN on any channel. WatchChanges LISTENs on a
// connection of its own, outside the pool.
//
// Only writers that go through a Store announce: another program writing
// the table (express-session with connect-pg-simple, a DELETE by hand) is
// not heard of, and the cache's Cache.MaxAge is then the bound on staleness.

// ListenerApplicationName is the application_name of the connection
// WatchChanges listens on, to find it in pg_stat_activity.
const ListenerApplicationName = "sessionkit-listener"

// channelSQL is the SQL expression naming the table's NOTIFY channel: one
// per table, by its OID, so that tables of the same name in two schemas
// do not mix their announcements, whatever the search_path.
func (s *Store) channelSQL() string {
	return "'sessionkit_' || to_regclass(" + quoteLiteral(qualified(s.schema, s.table)) + ")::oid"
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Channel returns the name of the NOTIFY channel the store announces
// changes on: "sessionkit_" and the table's OID. The table must exist.
func (s *Store) Channel(ctx context.Context) (string, error) {
	var ch *string
	if err := s.pool.QueryRow(ctx, "SELECT "+s.channelSQL()).Scan(&ch); err != nil {
		return "", fmt.Errorf("pgstore: channel: %w", err)
	}
	if ch == nil {
		return "", fmt.Errorf("pgstore: channel: table %s does not exist", qualified(s.schema, s.table))
	}
	return *ch, nil
}

// announceChanges makes Update and Delete announce their change.
func (s *Store) announceChanges() {
	s.qUpdate = announcing(s.qUpdate, s.channelSQL(), 5)
	if s.qUpdateText != "" {
		s.qUpdateText = announcing(s.qUpdateText, s.channelSQL(), 5)
	}
	s.qDelete = announcing(s.qDelete, s.channelSQL(), 2)
	s.qDeleteMany = "WITH changed AS (" + s.qDeleteMany + " RETURNING 1) SELECT (SELECT count(*) FROM changed)" +
		" FROM (SELECT count(pg_notify(" + s.channelSQL() + ", k)) FROM unnest($2::text[]) AS k) AS announced"
}

// announcing turns stmt, a data-modifying statement, into one that also
// sends a NOTIFY with the parameter numbered param as payload, and returns
// how many rows stmt changed.
func announcing(stmt, channel string, param int) string {
	return "WITH changed AS (" + stmt + " RETURNING 1) SELECT (SELECT count(*) FROM changed)" +
		" FROM (SELECT pg_notify(" + channel + ", $" + strconv.Itoa(param) + "::text)) AS announced"
}

// DeleteAll deletes every session in the table and reports how many. The
// same statement announces sessionkit.AllSessionsChanged, so once the delete commits every
// watcher forgets what it cached (sessionkit users revoke --all).
func (s *Store) DeleteAll(ctx context.Context) (int64, error) {
	var n int64
	stmt := announcing("DELETE FROM "+qualified(s.schema, s.table), s.channelSQL(), 1)
	if err := s.pool.QueryRow(ctx, stmt, sessionkit.AllSessionsChanged).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: delete all: %w", err)
	}
	return n, nil
}

// AnnounceAll tells every watcher that every session may have changed: call
// it after deleting sessions in bulk outside the Store (DeleteAll announces
// on its own, in the same statement as the delete).
func (s *Store) AnnounceAll(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify("+s.channelSQL()+", $1)", sessionkit.AllSessionsChanged); err != nil {
		return fmt.Errorf("pgstore: announce: %w", err)
	}
	return nil
}

// listenBackoff paces the listener's reconnections.
var listenBackoff = reconnect.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// WatchChanges implements sessionkit.ChangeFeed: it LISTENs on the table's
// channel on its own connection (the pool's settings, application_name
// ListenerApplicationName) and reports every announcement to w until ctx
// ends. w.Up is called once the LISTEN is in force, w.Down as soon as the
// connection fails; it then reconnects, waiting between attempts
// (listenBackoff), and calls w.Up again. Failures are logged at Warn,
// reconnections at Info.
func (s *Store) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	listenBackoff.Run(ctx, func(ctx context.Context) (bool, error) {
		wasUp, err := s.listen(ctx, w)
		w.Down()
		return wasUp, err
	}, func(err error, wait time.Duration) {
		s.logger.Warn("pgstore: change listener down; session caches are bypassed until it reconnects", "table", qualified(s.schema, s.table), "err", err, "retry_in", wait)
	})
}

// listen runs one listening connection until it fails or ctx ends, and
// reports whether it had called w.Up.
func (s *Store) listen(ctx context.Context, w sessionkit.ChangeWatcher) (wasUp bool, _ error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The channel is looked up on each connection: a table dropped and
	// created again has a new OID.
	var channel *string
	if err := conn.QueryRow(ctx, "SELECT "+s.channelSQL()).Scan(&channel); err != nil {
		return false, fmt.Errorf("channel: %w", err)
	}
	if channel == nil {
		return false, fmt.Errorf("table %s does not exist", qualified(s.schema, s.table))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{*channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	s.logger.Info("pgstore: listening for session changes", "channel", *channel)
	w.Up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait: %w", err)
		}
		sessionkit.ReportChange(w, n.Payload)
	}
}
