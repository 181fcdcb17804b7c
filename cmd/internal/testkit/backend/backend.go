// Package backend is the one list of places the command keeps its data in
// tests (the embedded SQLite default, PostgreSQL, Redis, a Redis Cluster),
// each set up fresh for one test, and the loop that runs a test once per
// backend. The command's tests (cmd/sessionkit), serve's (server) and the
// admin commands' (admin) each turn a backend's Settings into their own
// configuration.
package backend

import (
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// Settings locate one fresh backend: DataDir always (a temporary directory,
// where the SQLite default lives), DatabaseURL on PostgreSQL (its own
// schema), RedisURL and RedisPrefix on Redis (its own key prefix).
type Settings struct {
	DataDir     string
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
}

// Env is s as the command's environment: DATA_DIR, and DATABASE_URL,
// REDIS_URL and REDIS_PREFIX where s has them.
func (s Settings) Env() map[string]string {
	env := map[string]string{"DATA_DIR": s.DataDir}
	for k, v := range map[string]string{"DATABASE_URL": s.DatabaseURL, "REDIS_URL": s.RedisURL, "REDIS_PREFIX": s.RedisPrefix} {
		if v != "" {
			env[k] = v
		}
	}
	return env
}

// Backend is one kind of backend. Name is what the admin package calls it
// ("sqlite", "postgres") or, for sessions in Redis, "redis" and
// "redis-cluster"; Setup makes a fresh one for t, cleaned up when t ends.
type Backend struct {
	Name  string
	Setup func(t *testing.T) Settings
}

// SQLite is the embedded default, in a temporary data directory.
var SQLite = Backend{"sqlite", func(t *testing.T) Settings {
	return Settings{DataDir: t.TempDir()}
}}

// Postgres is the machine's PostgreSQL, on a schema of the test's own.
var Postgres = Backend{"postgres", func(t *testing.T) Settings {
	_, url := pgtest.Schema(t)
	return Settings{DataDir: t.TempDir(), DatabaseURL: url}
}}

// Redis keeps users in SQLite and sessions in the machine's Redis, under a
// key prefix of the test's own.
var Redis = Backend{"redis", func(t *testing.T) Settings {
	_, prefix := redistest.Client(t)
	return Settings{DataDir: t.TempDir(), RedisURL: redistest.URL(), RedisPrefix: prefix}
}}

// RedisCluster is Redis on cluster, a three-master Redis Cluster the
// calling package starts once and stops in its TestMain, reached by
// REDIS_URL's cluster form.
func RedisCluster(cluster *redistest.SharedCluster) Backend {
	return Backend{"redis-cluster", func(t *testing.T) Settings {
		c := cluster.Get(t)
		_, prefix := c.Client(t)
		return Settings{DataDir: t.TempDir(), RedisURL: "redis+cluster://" + strings.Join(c.Addrs, ","), RedisPrefix: prefix}
	}}
}

// Each runs f once per backend of list, as parallel subtests named after
// the backends, each on a fresh one.
func Each(t *testing.T, list []Backend, f func(t *testing.T, b Backend, s Settings)) {
	t.Helper()
	for _, b := range list {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f(t, b, b.Setup(t))
		})
	}
}
