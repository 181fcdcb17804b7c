package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/cli"
	"github.com/sessionkit/sessionkit/redisstore"
)

// redisSessions is the Redis that holds the sessions when REDIS_URL is set;
// users stay in the database.
type redisSessions struct {
	client redis.UniversalClient
	store  *redisstore.Store
	layout redisstore.Layout
	desc   string
}

// openRedis connects to the Redis that rawURL names, checks that it answers
// and returns the session store on it, with keys under prefix, reporting to
// log (the session cache's change watcher; nil discards).
//
// rawURL is go-redis's URL form, redis://[user:password@]host:port[/db] or
// rediss:// for TLS, or a Redis Cluster given by its seed nodes:
// redis+cluster://[user:password@]host1:port1,host2:port2,… (rediss+cluster://
// for TLS); query parameters are go-redis's.
func openRedis(ctx context.Context, rawURL, prefix string, layout redisstore.Layout, log *slog.Logger) (*redisSessions, error) {
	client, desc, err := newRedisClient(rawURL)
	if err != nil {
		return nil, err
	}
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix, Layout: layout, Logger: log})
	if err != nil {
		client.Close()
		return nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach %s: %w", desc, err)
	}
	return &redisSessions{client: client, store: store, layout: layout, desc: desc}, nil
}

// newRedisClient parses rawURL (see openRedis) into a client and a
// description for logs that shows no password.
func newRedisClient(rawURL string) (redis.UniversalClient, string, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	base, cluster := strings.CutSuffix(scheme, "+cluster")
	if base != "redis" && base != "rediss" {
		return nil, "", fmt.Errorf("%w: REDIS_URL %s: want redis://, rediss://, redis+cluster:// or rediss+cluster://", ErrInvalidConfig, cli.RedactURL(rawURL, "REDIS_URL"))
	}
	if !cluster {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			// go-redis's errors can quote the URL, password included.
			return nil, "", fmt.Errorf("%w: REDIS_URL %s is not a valid Redis URL (expected redis://user:password@host:6379/0)", ErrInvalidConfig, cli.RedactURL(rawURL, "REDIS_URL"))
		}
		return redis.NewClient(opts), "Redis " + cli.RedactURL(rawURL, "REDIS_URL"), nil
	}
	// go-redis reads a cluster's further seed nodes from addr= parameters;
	// the comma list in the host part is turned into those.
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	seeds := strings.Split(hosts, ",")
	u := base + "://" + userinfo + seeds[0] + tail
	for _, h := range seeds[1:] {
		sep := "&"
		if !strings.Contains(u, "?") {
			sep = "?"
		}
		u += sep + "addr=" + url.QueryEscape(h)
	}
	opts, err := redis.ParseClusterURL(u)
	if err != nil || hosts == "" {
		return nil, "", fmt.Errorf("%w: REDIS_URL %s is not a valid Redis Cluster URL (expected redis+cluster://user:password@host1:6379,host2:6379)", ErrInvalidConfig, cli.RedactURL(rawURL, "REDIS_URL"))
	}
	return redis.NewClusterClient(opts), "Redis Cluster " + cli.RedactURL(rawURL, "REDIS_URL"), nil
}

// UsesRedis reports whether the sessions live in Redis (Config.RedisURL).
func (db *DB) UsesRedis() bool { return db.redis != nil }

// PingRedis checks that the Redis holding the sessions answers; without
// Config.RedisURL it has nothing to check and returns nil.
func (db *DB) PingRedis(ctx context.Context) error {
	if db.redis == nil {
		return nil
	}
	return db.redis.store.Ping(ctx)
}

// RedisLayout returns the sessions' layout in Redis (LayoutNative without
// Config.RedisURL).
func (db *DB) RedisLayout() redisstore.Layout {
	if db.redis == nil {
		return redisstore.LayoutNative
	}
	return db.redis.layout
}

// RedisString names the Redis holding the sessions for logs, without any
// password; "" without Config.RedisURL.
func (db *DB) RedisString() string {
	if db.redis == nil {
		return ""
	}
	return db.redis.desc
}
