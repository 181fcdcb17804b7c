package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"github.com/sessionkit/sessionkit/redisstore"
)

// redisSessions is the Redis that holds the sessions when REDIS_URL is set;
// users stay in the database.
type redisSessions struct {
	client redis.UniversalClient
	store  *redisstore.Store
	layout redisstore.Layout
	desc   string
	// limitPrefix starts the keys of the shared log-in limits
	// (redisLimitPrefix).
	limitPrefix string
}

// openRedis connects to the Redis that cfg.RedisURL names, checks that it
// answers and returns the session store on it, with keys under
// cfg.RedisPrefix, reporting to cfg.Logger (the session cache's change
// watcher; nil discards).
//
// The URL is go-redis's URL form, redis://[user:password@]host:port[/db] or
// rediss:// for TLS, or a Redis Cluster given by its seed nodes:
// redis+cluster://[user:password@]host1:port1,host2:port2,… (rediss+cluster://
// for TLS), or a primary and its replicas found through their Sentinels:
// redis+sentinel://[user:password@]s1:26379,s2:26379,…/<master name>[/<db>]
// (rediss+sentinel:// for TLS; see parseSentinelURL). Query parameters are
// go-redis's. A cluster client follows a failover at once
// (redisstore.FollowClusterFailover); go-redis's failover client follows
// the Sentinels' announcement of a new primary.
func openRedis(ctx context.Context, cfg Config) (*redisSessions, error) {
	client, desc, err := newRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	layout := cfg.RedisLayout
	store, err := redisstore.New(client, redisstore.Config{Prefix: cfg.RedisPrefix, Layout: layout, Logger: cfg.Logger,
		Replicas: cfg.RedisReplicas, ReplicaTimeout: cfg.RedisTimeout, NoAnnounce: cfg.RedisQuiet})
	if err != nil {
		client.Close()
		return nil, err
	}
	if err := ReachRedis(ctx, client, cfg.RedisURL); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach %s (check REDIS_URL): %w", desc, err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach %s (check REDIS_URL): %w", desc, err)
	}
	prefix := cfg.RedisPrefix
	switch {
	case prefix != "":
	case layout == redisstore.LayoutConnectRedis:
		prefix = redisstore.DefaultConnectRedisPrefix
	default:
		prefix = redisstore.DefaultPrefix
	}
	return &redisSessions{client: client, store: store, layout: layout, desc: desc,
		limitPrefix: redisLimitPrefix(prefix, layout == redisstore.LayoutConnectRedis)}, nil
}

// seedTimeout bounds each dial of dialAny, as go-redis's default
// dial_timeout does.
const seedTimeout = 5 * time.Second

// dialAny opens and closes a TCP connection to each address until one
// answers, and returns the dials' errors when none does. A REDIS_URL naming
// no listening server then fails with one error, before go-redis's pool
// has dialled: its pool retries each dial and logs every failed round
// through go-redis's package-wide logger, which a command can silence only
// for the whole process.
func dialAny(ctx context.Context, addrs []string) error {
	var errs []any
	for _, addr := range addrs {
		d := net.Dialer{Timeout: seedTimeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	// One line however many seeds: the message ends serve's output.
	return fmt.Errorf(strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; "), errs...)
}

// seeds are the addresses client dials first: the server, the cluster's
// seed nodes, or the Sentinels (read again from rawURL, since a failover
// client keeps them to itself).
func seeds(client redis.UniversalClient, rawURL string) []string {
	switch c := client.(type) {
	case *redis.ClusterClient:
		return c.Options().Addrs
	case *redis.Client:
		if addr := c.Options().Addr; addr != "FailoverClient" {
			return []string{addr}
		}
	}
	scheme, rest, _ := strings.Cut(rawURL, "://")
	base, _, _ := strings.Cut(scheme, "+")
	if opts, err := parseSentinelURL(base, rest); err == nil {
		return opts.SentinelAddrs
	}
	return nil
}

// newRedisClient parses rawURL (see openRedis) into a client and a
// description for logs that shows no password.
func newRedisClient(rawURL string) (redis.UniversalClient, string, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	base, kind, _ := strings.Cut(scheme, "+")
	if (base != "redis" && base != "rediss") || (kind != "" && kind != "cluster" && kind != "sentinel") {
		return nil, "", fmt.Errorf("%w: REDIS_URL %s: want redis://, rediss://, redis+cluster://, redis+sentinel:// or their rediss+ forms", ErrInvalidConfig, cli.RedactURL(rawURL, "REDIS_URL"))
	}
	redacted := cli.RedactURL(rawURL, "REDIS_URL")
	switch kind {
	case "cluster":
		u, ok := seedsAsParams(base, rest)
		opts, err := redis.ParseClusterURL(u)
		if err != nil || !ok {
			return nil, "", fmt.Errorf("%w: REDIS_URL %s is not a valid Redis Cluster URL (expected redis+cluster://user:password@host1:6379,host2:6379)", ErrInvalidConfig, redacted)
		}
		cc := redis.NewClusterClient(opts)
		redisstore.FollowClusterFailover(cc)
		return cc, "Redis Cluster " + redacted, nil
	case "sentinel":
		opts, err := parseSentinelURL(base, rest)
		if err != nil {
			return nil, "", fmt.Errorf("%w: REDIS_URL %s is not a valid Redis Sentinel URL "+
				"(expected redis+sentinel://user:password@sentinel1:26379,sentinel2:26379/mymaster): %v", ErrInvalidConfig, redacted, err)
		}
		return redis.NewFailoverClient(opts), "Redis (Sentinel) " + redacted, nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// go-redis's errors can quote the URL, password included.
		return nil, "", fmt.Errorf("%w: REDIS_URL %s is not a valid Redis URL (expected redis://user:password@host:6379/0)", ErrInvalidConfig, redacted)
	}
	return redis.NewClient(opts), "Redis " + redacted, nil
}

// seedsAsParams turns the rest of a multi-host URL, after "scheme://",
// into go-redis's form: the first host in the authority, the others as
// addr= parameters. ok is false when there is no host.
func seedsAsParams(base, rest string) (u string, ok bool) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	seeds := strings.Split(hosts, ",")
	u = base + "://" + userinfo + seeds[0] + tail
	for _, h := range seeds[1:] {
		sep := "&"
		if !strings.Contains(u, "?") {
			sep = "?"
		}
		u += sep + "addr=" + url.QueryEscape(h)
	}
	return u, hosts != ""
}

// parseSentinelURL reads the rest of a redis+sentinel:// URL (after
// "scheme://"): the Sentinels' addresses, then the master's name as the
// path's first element and an optional database number as its second. The
// user and password authenticate with the master and its replicas (as in
// every other REDIS_URL form); the Sentinels' own, when they have any, are
// the sentinel_username and sentinel_password parameters. Other parameters
// are go-redis's (ParseFailoverURL).
func parseSentinelURL(base, rest string) (*redis.FailoverOptions, error) {
	u, err := url.Parse(base + "://" + rest)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if path[0] == "" || len(path) > 2 {
		return nil, errors.New("the path must be /<master name> or /<master name>/<db>")
	}
	master := path[0]
	q := u.Query()
	sentinelUser, sentinelPassword := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	q.Set("master_name", master)
	user := u.User
	u.User, u.RawQuery = nil, q.Encode()
	u.Path = "/"
	if len(path) == 2 {
		u.Path += path[1]
	}
	withSeeds, ok := seedsAsParams(base, strings.TrimPrefix(u.String(), base+"://"))
	if !ok {
		return nil, errors.New("no Sentinel address")
	}
	opts, err := redis.ParseFailoverURL(withSeeds)
	if err != nil {
		// go-redis's message names the parameter, not the password.
		return nil, err
	}
	opts.SentinelUsername, opts.SentinelPassword = sentinelUser, sentinelPassword
	if user != nil {
		opts.Username = user.Username()
		opts.Password, _ = user.Password()
	}
	return opts, nil
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
