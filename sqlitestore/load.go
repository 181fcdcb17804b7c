package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

func decodeValues(sess string) (map[string]json.RawMessage, error) {
	m, err := jsonobject.Split([]byte(sess))
	if err != nil {
		return nil, fmt.Errorf("stored values are not a JSON object: %w", err)
	}
	if m == nil {
		m = make(map[string]json.RawMessage)
	}
	return m, nil
}

// Load returns the live session with this id; an expired or missing one is
// reported with found == false and a nil error.
func (s *Store) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	var (
		sess            string
		expire, created int64
	)
	key, raw := s.keysOf(id)
	err := s.db.QueryRowContext(ctx, s.q.load, key, raw, nowMilli()).Scan(&sess, &expire, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return sessionkit.Record{}, false, nil
	}
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("sqlitestore: load: %w", err)
	}
	values, err := decodeValues(sess)
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("sqlitestore: load: %w", err)
	}
	return sessionkit.Record{
		Values:  values,
		Created: time.UnixMilli(created),
		Expiry:  time.UnixMilli(expire),
	}, true, nil
}

// LoadMany returns the live sessions among ids, by id, in one statement.
func (s *Store) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	byKey := make(map[string]string, 2*len(ids)) // key or raw id → id
	for _, id := range ids {
		key, raw := s.keysOf(id)
		byKey[key], byKey[raw] = id, id
	}
	list, err := json.Marshal(slices.Collect(maps.Keys(byKey)))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q.loadMany, string(list), nowMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	defer rows.Close()
	out := make(map[string]sessionkit.Record, len(ids))
	for rows.Next() {
		var (
			id, sess        string
			expire, created int64
		)
		if err := rows.Scan(&id, &sess, &expire, &created); err != nil {
			return nil, fmt.Errorf("sqlitestore: load many: %w", err)
		}
		values, err := decodeValues(sess)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: load many: %w", err)
		}
		out[byKey[id]] = sessionkit.Record{Values: values, Created: time.UnixMilli(created), Expiry: time.UnixMilli(expire)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	return out, nil
}
