package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			s, pool := newStore(t) // fresh schema, table created, no background pruner
			dumps.Store(s, pool)
			return s
		},
		Dump: dumpTable,
		NewNamed: func(t *testing.T, table string) error {
			// Config.Table's zero value selects DefaultTable; no store uses a
			// table named "", so that name is refused here rather than
			// silently meaning "sessions".
			if table == "" {
				return errors.New("empty table name")
			}
			_, pool := pgtest.Pool(t)
			s, err := New(t.Context(), pool, Config{Table: table, CreateTable: true, PruneInterval: -1})
			if err != nil {
				return err
			}
			s.Close()
			return nil
		},
	})
}

// dumps maps each store the suites made to its pool, for dumpTable.
var dumps sync.Map

// dumpTable is storetest's Suite.Dump: every row of the store's table, as
// text, as a backup of it would hold them.
func dumpTable(t *testing.T, st sessionkit.Store) string {
	s := st.(*Store)
	pool, ok := dumps.Load(s)
	if !ok {
		t.Fatal("no pool recorded for the store")
	}
	rows, err := pool.(*pgxpool.Pool).Query(t.Context(), "SELECT to_json(t)::text FROM "+qualified(s.schema, s.table)+" AS t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
