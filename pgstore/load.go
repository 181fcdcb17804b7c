package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

// Load returns the live session with this id; an expired or missing one, or
// an id no row can have (see storable), is reported with found == false and a
// nil error. Created is zero on a table without created_at.
//
// Load is every logged-in request's one round trip, so on a pool in pgx's
// default mode (QueryExecModeCacheStatement) it skips pgx's row scanning,
// which plans every column of every query, and reads its three columns off
// the wire itself (see loadDirect). On a pool set to another mode (the
// simple protocol for a transaction-pooling PgBouncer, say) it uses
// QueryRow like every other method, and prepares nothing.
func (s *Store) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	if !storable(id) {
		return sessionkit.Record{}, false, nil
	}
	var raw []byte
	var rec sessionkit.Record
	var found bool
	var err error
	if s.load.direct {
		raw, rec, found, err = s.loadDirect(ctx, id)
	} else {
		raw, rec, found, err = s.loadScan(ctx, id)
	}
	if err != nil || !found {
		return sessionkit.Record{}, false, err
	}
	// The values are split, not decoded: a handler decodes only the keys it
	// reads. raw is Load's own copy, so the values may share it.
	if rec.Values, err = jsonobject.Split(raw); err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("pgstore: load: decode sess: %w", err)
	}
	if rec.Values == nil { // a JSON null; callers may write to the map
		rec.Values = map[string]json.RawMessage{}
	}
	return rec, true, nil
}

// LoadMany returns the live sessions among ids, by id, in one statement.
// Missing and expired ids, and ids no row can have, are absent.
func (s *Store) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	out := make(map[string]sessionkit.Record, len(ids))
	ids = storableOnly(ids)
	if len(ids) == 0 {
		return out, nil
	}
	byKey := s.storedKeys(ids)
	rows, err := s.pool.Query(ctx, s.qLoadMany, slices.Collect(maps.Keys(byKey)))
	if err != nil {
		return nil, fmt.Errorf("pgstore: load many: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      string
			raw     []byte
			created pgtype.Timestamptz
			rec     sessionkit.Record
		)
		if err := rows.Scan(&id, &raw, &created, &rec.Expiry); err != nil {
			return nil, fmt.Errorf("pgstore: load many: %w", err)
		}
		rec.Created = created.Time
		if rec.Values, err = jsonobject.Split(raw); err != nil {
			return nil, fmt.Errorf("pgstore: load many: decode sess: %w", err)
		}
		if rec.Values == nil {
			rec.Values = map[string]json.RawMessage{}
		}
		out[byKey[id]] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: load many: %w", err)
	}
	return out, nil
}

// loadPlan is how Load reads, fixed by New from the pool's configuration.
type loadPlan struct {
	direct bool
	// stmt names the prepared statement on the server, and keys its
	// description in each connection's CustomData: unique to the SQL, so
	// stores on different tables sharing a pool never collide.
	stmt string
	// tracer is the pool's query tracer, told of each direct load as pgx
	// tells it of every query, so tracing and logging still see them.
	tracer pgx.QueryTracer
}

// newLoadPlan picks how Load reads on pool.
func newLoadPlan(pool *pgxpool.Pool, qLoad string) loadPlan {
	cc := pool.Config().ConnConfig
	sum := sha256.Sum256([]byte(qLoad))
	tracer, _ := cc.Tracer.(pgx.QueryTracer)
	return loadPlan{
		direct: cc.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement,
		stmt:   "sessionkit_load_" + hex.EncodeToString(sum[:12]),
		tracer: tracer,
	}
}

// loadScan is Load through pgx's QueryRow and Scan.
func (s *Store) loadScan(ctx context.Context, id string) ([]byte, sessionkit.Record, bool, error) {
	// One struct for Scan's destinations, which escape: one allocation
	// per load instead of three.
	var row struct {
		raw     []byte
		created pgtype.Timestamptz // NULL on a table without created_at
		expiry  time.Time
	}
	err := s.pool.QueryRow(ctx, s.qLoad, s.keysOf(id)).Scan(&row.raw, &row.created, &row.expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sessionkit.Record{}, false, nil
	}
	if err != nil {
		return nil, sessionkit.Record{}, false, fmt.Errorf("pgstore: load: %w", err)
	}
	return row.raw, sessionkit.Record{Created: row.created.Time, Expiry: row.expiry}, true, nil
}

// loadDirect is Load on the connection's own protocol: the statement is
// prepared once per connection (its description kept in the connection's
// CustomData), executed by description with binary results, and the row
// decoded here. A statement the server no longer has (DEALLOCATE ALL,
// DISCARD ALL) or whose result type changed (the table was altered) is
// forgotten and prepared again, once.
func (s *Store) loadDirect(ctx context.Context, id string) (raw []byte, rec sessionkit.Record, found bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, rec, false, fmt.Errorf("pgstore: load: %w", err)
	}
	defer conn.Release()
	keys := s.keysOf(id)
	if t := s.load.tracer; t != nil {
		ctx = t.TraceQueryStart(ctx, conn.Conn(), pgx.TraceQueryStartData{SQL: s.qLoad, Args: []any{keys}})
		defer func() {
			tag := pgconn.NewCommandTag("SELECT 0")
			if found {
				tag = pgconn.NewCommandTag("SELECT 1")
			}
			t.TraceQueryEnd(ctx, conn.Conn(), pgx.TraceQueryEndData{CommandTag: tag, Err: err})
		}()
	}
	pc := conn.Conn().PgConn()
	param := loadParam(keys)
	for range 2 {
		raw, rec, found, err = s.execLoad(ctx, pc, param)
		if !s.forgetStale(ctx, pc, err) {
			break
		}
	}
	if err != nil {
		return nil, rec, false, fmt.Errorf("pgstore: load: %w", err)
	}
	return raw, rec, found, nil
}

// forgetStale forgets pc's load statement when err says the server no
// longer has it (26000) or its result type changed (0A000, "cached plan must
// not change result type"), so that the next execution prepares it afresh,
// and reports whether it did.
func (s *Store) forgetStale(ctx context.Context, pc *pgconn.PgConn, err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.Code != "26000" && pgErr.Code != "0A000") {
		return false
	}
	delete(pc.CustomData(), s.load.stmt)
	if pgErr.Code == "0A000" {
		_ = pc.Deallocate(ctx, s.load.stmt)
	}
	return true
}

// binaryResults asks for Load's three columns in binary: json as its text,
// jsonb as its text behind a version byte, timestamptz as microseconds.
var binaryResults = []int16{1, 1, 1}

// execLoad runs the load statement on pc, preparing it first if pc has not.
func (s *Store) execLoad(ctx context.Context, pc *pgconn.PgConn, param []byte) (raw []byte, rec sessionkit.Record, found bool, err error) {
	sd, _ := pc.CustomData()[s.load.stmt].(*pgconn.StatementDescription)
	if sd == nil {
		if sd, err = pc.Prepare(ctx, s.load.stmt, s.qLoad, nil); err != nil {
			return nil, rec, false, fmt.Errorf("prepare: %w", err)
		}
		pc.CustomData()[s.load.stmt] = sd
	}
	params := [1][]byte{param}
	rr := pc.ExecStatement(ctx, sd, params[:], nil, binaryResults)
	var decodeErr error
	if rr.NextRow() {
		found = true
		raw, rec, decodeErr = decodeLoadRow(rr.FieldDescriptions(), rr.Values())
	}
	if _, err := rr.Close(); err != nil {
		return nil, rec, false, err
	}
	if decodeErr != nil {
		return nil, rec, false, decodeErr
	}
	return raw, rec, found, nil
}

// loadParam is keys, what keysOf returned, in PostgreSQL's text format, as
// the load statement's one parameter.
func loadParam(keys any) []byte {
	list, ok := keys.([]string)
	if !ok {
		return []byte(keys.(string))
	}
	// An array literal: each element quoted, its '"' and '\\' escaped.
	n := 2
	for _, k := range list {
		n += 2*len(k) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		for j := 0; j < len(k); j++ {
			if k[j] == '"' || k[j] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, k[j])
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// decodeLoadRow decodes Load's binary row: sess (copied out of the
// connection's buffer, which the next read reuses), created (NULL on a
// table without created_at) and expire.
func decodeLoadRow(fields []pgconn.FieldDescription, values [][]byte) ([]byte, sessionkit.Record, error) {
	var rec sessionkit.Record
	if len(fields) != 3 || len(values) != 3 {
		return nil, rec, fmt.Errorf("%d columns, want 3", len(values))
	}
	sess := values[0]
	switch {
	case sess == nil:
		sess = []byte("null")
	case fields[0].DataTypeOID == pgtype.JSONBOID:
		if len(sess) == 0 || sess[0] != 1 {
			return nil, rec, errors.New("decode sess: unknown jsonb version")
		}
		sess = sess[1:]
	case fields[0].DataTypeOID != pgtype.JSONOID:
		return nil, rec, fmt.Errorf("decode sess: type %d, want json or jsonb", fields[0].DataTypeOID)
	}
	raw := append([]byte(nil), sess...)
	var err error
	if values[1] != nil {
		if rec.Created, err = decodeTimestamptz(fields[1], values[1]); err != nil {
			return nil, rec, fmt.Errorf("decode created_at: %w", err)
		}
	}
	if rec.Expiry, err = decodeTimestamptz(fields[2], values[2]); err != nil {
		return nil, rec, fmt.Errorf("decode expire: %w", err)
	}
	return raw, rec, nil
}

// postgresEpoch is where timestamptz's binary microseconds count from.
var postgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// decodeTimestamptz decodes a binary timestamptz: microseconds since
// 2000-01-01 UTC, whose extremes mean ±infinity, which pgx refuses to scan
// into a time.Time too.
func decodeTimestamptz(f pgconn.FieldDescription, v []byte) (time.Time, error) {
	if f.DataTypeOID != pgtype.TimestamptzOID {
		return time.Time{}, fmt.Errorf("type %d, want timestamptz", f.DataTypeOID)
	}
	if len(v) != 8 {
		return time.Time{}, fmt.Errorf("%d bytes, want 8", len(v))
	}
	us := int64(binary.BigEndian.Uint64(v))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, errors.New("infinite timestamp")
	}
	return time.Unix(postgresEpoch+us/1e6, us%1e6*1e3), nil
}
