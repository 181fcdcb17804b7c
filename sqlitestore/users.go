package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
)

// userExpr is the SQL expression for the user a session is bound to
// (sessionkit.UserOf). The user index is on it, partial on it being not
// NULL, and UserSessions filters on exactly it, so SQLite uses the index.
const userExpr = `json_extract(sess, '$.` + sessionkit.MetaKey + `.user')`

// UserSessions returns the live sessions bound to user (sessionkit.UserOf),
// in one query on the user index that SchemaSQL creates.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	rows, err := s.db.QueryContext(ctx, s.q.user, user, nowMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
	}
	defer rows.Close()
	var out []sessionkit.StoredSession
	for rows.Next() {
		var (
			id, sess        string
			expire, created int64
		)
		if err := rows.Scan(&id, &sess, &expire, &created); err != nil {
			return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
		}
		values, err := decodeValues(sess)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
		}
		out = append(out, sessionkit.StoredSession{ID: id, Record: sessionkit.Record{
			Values: values, Created: time.UnixMilli(created), Expiry: time.UnixMilli(expire)}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
	}
	return out, nil
}
