package pgstore

import (
	"errors"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			s, _ := newStore(t) // fresh schema, table created, no background pruner
			return s
		},
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
