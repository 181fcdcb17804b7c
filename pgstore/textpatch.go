package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

// PostgreSQL refuses to turn a JSON "\u0000" into text (SQLSTATE 22P05,
// untranslatable_character), so jsonPatch's json_each fails on a session
// in which Node wrote one: JSON.stringify writes U+0000 that way, and a
// json column stores it as written. Update then patches such a session's
// text here in Go instead, with the same rules as jsonPatch, and writes it
// back only if the row's text is still the one read (compare-and-set,
// retried), so a concurrent patch of another key is never lost.

// textPatchTries bounds the compare-and-set retries of one Update.
const textPatchTries = 8

// untranslatable reports whether err is PostgreSQL's refusal of "\u0000".
func untranslatable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22P05"
}

// updateText is Update on a json column, done in Go. expiry is nil or the
// new expiry.
func (s *Store) updateText(ctx context.Context, id string, p sessionkit.Patch, expiry any) (bool, error) {
	for range textPatchTries {
		var old string
		err := s.pool.QueryRow(ctx, s.qLoadText, s.keysOf(id)).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("pgstore: update: %w", err)
		}
		patched, err := patchJSONText([]byte(old), p)
		if err != nil {
			return false, fmt.Errorf("pgstore: update: %w", err)
		}
		var changed int64
		if err := s.pool.QueryRow(ctx, s.qUpdateText, s.keysOf(id), string(patched), old, expiry, sessionkit.ChangeKey(id)).Scan(&changed); err != nil {
			return false, fmt.Errorf("pgstore: update: %w", err)
		}
		if changed == 1 {
			return true, nil
		}
		// Changed or ended meanwhile: read it again.
	}
	return false, fmt.Errorf("pgstore: update: the session changed %d times while being patched", textPatchTries)
}

// patchJSONText applies p's keys to the JSON object old as jsonPatch does:
// members p does not touch keep their text, a member p sets keeps its place,
// new members come last in key order, deleted ones go unless also set; the
// result is compact, as JSON.stringify writes it.
func patchJSONText(old []byte, p sessionkit.Patch) ([]byte, error) {
	out := []byte{'{'}
	add := func(key, value []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, key...), ':'), value...)
	}
	compact := func(v json.RawMessage) ([]byte, error) {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	seen := map[string]bool{}
	it := jsonobject.Walk(old)
	for it.Next() {
		quoted := append(append([]byte{'"'}, it.Key()...), '"')
		key := string(it.Key())
		if it.KeyEscaped() {
			if err := json.Unmarshal(quoted, &key); err != nil {
				return nil, fmt.Errorf("session key %s: %w", quoted, err)
			}
		}
		seen[key] = true
		if v, ok := p.Set[key]; ok {
			c, err := compact(v)
			if err != nil {
				return nil, fmt.Errorf("value of key %q: %w", key, err)
			}
			add(quoted, c)
			continue
		}
		if slices.Contains(p.Delete, key) {
			continue
		}
		add(quoted, it.Value())
	}
	if !it.Done() {
		return nil, errors.New("the stored session is not a JSON object")
	}
	keys := make([]string, 0, len(p.Set))
	for k := range p.Set {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		quoted, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		c, err := compact(p.Set[k])
		if err != nil {
			return nil, fmt.Errorf("value of key %q: %w", k, err)
		}
		add(quoted, c)
	}
	return append(out, '}'), nil
}
