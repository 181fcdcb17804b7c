// Package redistest gives tests a real Redis: a per-test key prefix on the
// machine's server (127.0.0.1:6379) and a three-master Redis Cluster started
// from redis-server in a temporary directory. It never skips: a test that
// needs Redis fails when the server cannot be reached or started.
//
// It is sessionkit's own test infrastructure, kept in the redisstore module so the
// store's tests need no other driver, and exported (not internal) so the
// tools module's tests share it; it makes no compatibility promise.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAddr is used when SESSIONKIT_TEST_REDIS_ADDR is not set.
const DefaultAddr = "127.0.0.1:6379"

// Addr returns the address of the single Redis server tests use:
// SESSIONKIT_TEST_REDIS_ADDR, or DefaultAddr.
func Addr() string {
	if a := os.Getenv("SESSIONKIT_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// DefaultDB is the database tests use when SESSIONKIT_TEST_REDIS_DB is not
// set: not 0, where a developer's own keys usually live.
const DefaultDB = 9

// DB returns the database number of the single Redis server tests use:
// SESSIONKIT_TEST_REDIS_DB, or DefaultDB. A value that is not a number is
// DefaultDB too, so a typo cannot send the tests to database 0.
func DB() int {
	if n, err := strconv.Atoi(os.Getenv("SESSIONKIT_TEST_REDIS_DB")); err == nil && n >= 0 {
		return n
	}
	return DefaultDB
}

// URL returns the redis:// URL of the single Redis server tests use, with
// its database (DB).
func URL() string { return URLFor(Addr()) }

// URLFor returns the redis:// URL of authority ([user:password@]host:port,
// such as a fault proxy in front of Addr) with the tests' database (DB).
func URLFor(authority string) string {
	return "redis://" + authority + "/" + strconv.Itoa(DB())
}

// Prefix returns a fresh key prefix ("sktest:<12 hex digits>:"), so tests
// sharing one server never see each other's keys. Its characters are no glob
// pattern's, so "prefix*" matches exactly the test's keys.
func Prefix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "sktest:" + hex.EncodeToString(b[:]) + ":"
}

// Client returns a client of the single Redis server and a fresh key prefix;
// when the test ends the keys under the prefix are deleted and the client
// closed. It fails the test when the server does not answer PING.
func Client(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(), DB: DB()})
	return checked(tb, c, "Redis at "+Addr())
}

// ClientNamed is Client with every connection of the client named name
// (CLIENT SETNAME), its subscriptions' too, so that KillPubSub can find
// them.
func ClientNamed(tb testing.TB, name string) (redis.UniversalClient, string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(), DB: DB(), ClientName: name})
	return checked(tb, c, "Redis at "+Addr())
}

// KillPubSub closes, on each server at addrs, the connections in subscribed
// mode named name (found in CLIENT LIST by their channel count sub, then
// CLIENT KILL ID), as a failover or an operator would, and reports how many
// it closed. Other tests' subscriptions on the same servers are left alone.
func KillPubSub(ctx context.Context, addrs []string, name string) (int, error) {
	killed := 0
	for _, addr := range addrs {
		n, err := killPubSub(ctx, addr, name)
		killed += n
		if err != nil {
			return killed, fmt.Errorf("redistest: kill subscribers on %s: %w", addr, err)
		}
	}
	return killed, nil
}

func killPubSub(ctx context.Context, addr, name string) (int, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return 0, err
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, field := range strings.Fields(line) {
			k, v, _ := strings.Cut(field, "=")
			fields[k] = v
		}
		if fields["name"] != name || fields["sub"] == "" || fields["sub"] == "0" {
			continue
		}
		n, err := c.ClientKillByFilter(ctx, "ID", fields["id"]).Result()
		if err != nil {
			return killed, err
		}
		killed += int(n)
	}
	return killed, nil
}

// checked pings c, picks a prefix and registers the cleanup of both.
func checked(tb testing.TB, c redis.UniversalClient, what string) (redis.UniversalClient, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		tb.Fatalf("redistest: %s is required and unreachable: %v", what, err)
	}
	prefix := Prefix(tb)
	tb.Cleanup(func() {
		defer c.Close()
		if err := DeletePrefix(context.Background(), c, prefix); err != nil {
			tb.Errorf("redistest: delete keys %s*: %v", prefix, err)
		}
	})
	return c, prefix
}

// DeletePrefix deletes every key that starts with prefix, on every master
// when c is a cluster client. prefix must hold no glob characters.
func DeletePrefix(ctx context.Context, c redis.UniversalClient, prefix string) error {
	return eachKey(ctx, c, prefix, func(ctx context.Context, node redis.UniversalClient, key string) error {
		// One key per DEL: on a cluster the keys of one batch would sit in
		// different slots.
		return node.Del(ctx, key).Err()
	})
}

// eachKey calls f for every key under prefix, on every master of a cluster.
func eachKey(ctx context.Context, c redis.UniversalClient, prefix string, f func(ctx context.Context, node redis.UniversalClient, key string) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	scan := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := f(ctx, node, iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scan(ctx, node)
		})
	}
	return scan(ctx, c)
}
