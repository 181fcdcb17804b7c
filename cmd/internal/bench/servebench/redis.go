package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// redisStores are the Redis the Redis targets keep their sessions in: the
// machine's server under a key prefix of the run's own, and a three-master
// Redis Cluster the run starts (redisstore/redistest), each only if a target
// needs it.
type redisStores struct {
	single, prefix string // REDIS_URL of the machine's server, key prefix
	cluster        *redistest.Cluster
}

// newRedisStores picks the run's key prefix; addr is the machine's Redis.
// Nothing is started or written until a target asks.
func newRedisStores(addr string) *redisStores {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &redisStores{single: "redis://" + addr + "/0", prefix: "servebench:" + hex.EncodeToString(b[:]) + ":"}
}

// clusterURL starts the cluster on first use and returns its REDIS_URL.
func (rs *redisStores) clusterURL(ctx context.Context) (string, error) {
	if rs.cluster == nil {
		c, err := redistest.StartCluster(ctx)
		if err != nil {
			return "", err
		}
		rs.cluster = c
	}
	return "redis+cluster://" + strings.Join(rs.cluster.Addrs, ","), nil
}

// clusterPids returns the cluster's redis-server processes (INFO server's
// process_id), for their CPU time.
func (rs *redisStores) clusterPids(ctx context.Context) ([]int, error) {
	var pids []int
	for _, addr := range rs.cluster.Addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		info, err := c.Info(ctx, "server").Result()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("INFO server on %s: %w", addr, err)
		}
		_, rest, _ := strings.Cut(info, "process_id:")
		pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
		if err != nil {
			return nil, fmt.Errorf("INFO server on %s: no process_id", addr)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// close deletes the run's keys from the machine's Redis and stops the
// cluster.
func (rs *redisStores) close(ctx context.Context) error {
	if rs.cluster != nil {
		rs.cluster.Stop()
	}
	c, _, err := admin.RedisClient(rs.single)
	if err != nil {
		return err
	}
	defer c.Close()
	// connect-redis's layout keeps its user index outside the prefix
	// (redisstore's users.go), under "sessionkit-users:" + prefix.
	for _, p := range []string{rs.prefix, "sessionkit-users:" + rs.prefix} {
		if err := redistest.DeletePrefix(ctx, c, p); err != nil {
			return err
		}
	}
	return nil
}

// redisStoredID returns the id a Redis target's floor is to look up for
// the session id: the id itself, or sessionkit.HashID of it when the store
// keeps ids hashed (whichever names a key that exists).
func redisStoredID(ctx context.Context, url, prefix, id string) (string, error) {
	client, _, err := admin.RedisClient(url)
	if err != nil {
		return "", err
	}
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		return "", err
	}
	for _, cand := range []string{id, sessionkit.HashID(id)} {
		n, err := client.Exists(ctx, store.Key(cand)).Result()
		if err != nil {
			return "", err
		}
		if n == 1 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("no key %s for the logged-in session, hashed or not", store.Key("…"))
}

// pgStoredID is redisStoredID on the PostgreSQL sessions table.
func pgStoredID(ctx context.Context, dbURL, id string) (string, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	var sid string
	err = pool.QueryRow(ctx, "SELECT sid FROM sessions WHERE sid = $1 OR sid = $2", id, sessionkit.HashID(id)).Scan(&sid)
	if err != nil {
		return "", fmt.Errorf("find the logged-in session's row: %w", err)
	}
	return sid, nil
}
