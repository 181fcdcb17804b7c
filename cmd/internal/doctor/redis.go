package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"github.com/sessionkit/sessionkit/redisstore"
)

// RedisOptions configures CheckRedis. The zero value of every field but URL
// is usable.
type RedisOptions struct {
	// URL is the Redis holding the sessions, in REDIS_URL's forms:
	// redis://[user:password@]host:port[/db], rediss:// (TLS), or a Redis
	// Cluster as redis+cluster://host1:port1,host2:port2 (rediss+cluster://).
	// Required.
	URL string
	// Prefix starts the session keys. Empty means both defaults: sessionkit's
	// native layout under "sessionkit:" and connect-redis's under "sess:".
	Prefix string
	// UserKeys are extra session keys that mark a login (dotted for nested),
	// besides the detected userId, user_id, uid, user, passport.user, email
	// and sessionkit's own user.
	UserKeys []string
	// MaxKeys bounds how many session keys are read; beyond it the counts
	// are of a sample. Zero means 100,000.
	MaxKeys int
	// Watch, when positive, counts the session keys again after this long
	// and reports their growth.
	Watch time.Duration
	// Timeout bounds the whole check but Watch. Zero means one minute.
	Timeout time.Duration
}

// RedisStats are doctor redis's measurements of the session keys under one
// prefix and layout.
type RedisStats struct {
	// Prefix and Layout ("native" or "connect-redis") name the keys.
	Prefix string `json:"prefix"`
	Layout string `json:"layout"`
	// Keys counts the keys the layout's pattern matched, Sessions those
	// that are sessions; Sampled says MaxKeys stopped the scan first.
	Keys     int64 `json:"keys"`
	Sessions int64 `json:"sessions"`
	Sampled  bool  `json:"sampled"`
	// Anonymous counts sessions without a login; Empty those holding
	// nothing but the cookie.
	Anonymous int64 `json:"anonymous"`
	Empty     int64 `json:"empty"`
	// NoTTL counts keys without an expiry (PTTL -1): they never end.
	NoTTL int64 `json:"noTTL"`
	// TTLs counts keys by time left: "<1h", "1h–1d", "1d–7d", "7d–30d",
	// ">30d".
	TTLs map[string]int64 `json:"ttls"`
	// BytesPerSession is the mean MEMORY USAGE of a sample of keys, 0 when
	// unknown.
	BytesPerSession int64 `json:"bytesPerSession"`
	// Growth is the change in Keys over the --watch window, nil without.
	Growth *int64 `json:"growth,omitempty"`
}

// RedisServer is what doctor redis reads of one server (each master of a
// cluster): memory, eviction, persistence and replication.
type RedisServer struct {
	Addr            string `json:"addr"`
	Version         string `json:"version"`
	UsedMemory      int64  `json:"usedMemory"`
	MaxMemory       int64  `json:"maxMemory"`
	MaxMemoryPolicy string `json:"maxMemoryPolicy"`
	// AOF is appendonly; RDB is the save schedule ("" none; "?" unknown:
	// CONFIG is disabled).
	AOF bool   `json:"aof"`
	RDB string `json:"rdb"`
	// Replicas are the connected replicas with their lag in seconds.
	Replicas []RedisReplica `json:"replicas"`
}

// RedisReplica is one replica a master reports.
type RedisReplica struct {
	Addr string `json:"addr"`
	Lag  int64  `json:"lagSeconds"`
}

// redisLayouts are the key layouts doctor redis looks for, with their
// default prefixes.
var redisLayouts = []struct {
	name   string
	prefix string
}{
	{"native", redisstore.DefaultPrefix},
	{"connect-redis", redisstore.DefaultConnectRedisPrefix},
}

// CheckRedis reads the sessions in the Redis at o.URL (single server or
// cluster, sessionkit's native layout and connect-redis's) and the server's
// memory, eviction and persistence settings, and reports what they do to
// sessions. It only reads: SCAN, PTTL, HGETALL or GET, MEMORY USAGE, INFO
// and CONFIG GET. It returns an error wrapping ErrUsage for bad options and
// another when Redis cannot be reached.
func CheckRedis(ctx context.Context, o RedisOptions) (*Report, error) {
	if o.MaxKeys <= 0 {
		o.MaxKeys = 100_000
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if strings.ContainsAny(o.Prefix, "*?[]{}") {
		return nil, fmt.Errorf("%w: --prefix %q: no glob characters or braces", ErrUsage, o.Prefix)
	}
	client, _, err := admin.RedisClient(o.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer client.Close()
	target := cli.RedactURL(o.URL, "REDIS_URL")
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := admin.ReachRedis(cctx, client, o.URL); err != nil {
		return nil, fmt.Errorf("doctor: cannot reach %s: %w", target, err)
	}
	if err := client.Ping(cctx).Err(); err != nil {
		return nil, fmt.Errorf("doctor: cannot reach %s: %w", target, err)
	}
	rc := &redisCheck{o: o, client: client, rep: &Report{Kind: "redis", Target: target}}
	if err := rc.readServers(cctx); err != nil {
		return nil, err
	}
	layouts := redisLayouts
	if o.Prefix != "" {
		layouts = layouts[:0:0]
		for _, l := range redisLayouts {
			layouts = append(layouts, struct{ name, prefix string }{l.name, o.Prefix})
		}
	}
	for _, l := range layouts {
		st, err := rc.measure(cctx, l.name, l.prefix)
		if err != nil {
			return nil, err
		}
		if st.Sessions > 0 || o.Prefix == "" && l.name == "native" {
			rc.rep.Redis = append(rc.rep.Redis, *st)
		}
	}
	if o.Watch > 0 {
		if err := rc.watch(ctx); err != nil {
			return nil, err
		}
	}
	rc.judge()
	rc.rep.finish()
	return rc.rep, nil
}

type redisCheck struct {
	o       RedisOptions
	client  redis.UniversalClient
	rep     *Report
	servers []RedisServer
}

// masters runs f on every master: the one server, or each master of a
// cluster.
func (rc *redisCheck) masters(ctx context.Context, f func(ctx context.Context, c *redis.Client) error) error {
	if cc, ok := rc.client.(*redis.ClusterClient); ok {
		// ForEachMaster runs f concurrently; the callers lock what they share.
		return cc.ForEachMaster(ctx, f)
	}
	c, ok := rc.client.(*redis.Client)
	if !ok {
		return errors.New("doctor: redis: unsupported client")
	}
	return f(ctx, c)
}

// readServers reads INFO and the persistence settings of every master.
func (rc *redisCheck) readServers(ctx context.Context) error {
	var servers []RedisServer
	var mu sync.Mutex
	err := rc.masters(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "server", "memory", "persistence", "replication").Result()
		if err != nil {
			return fmt.Errorf("doctor: redis INFO on %s: %w", c.Options().Addr, err)
		}
		kv := parseInfo(info)
		s := RedisServer{Addr: c.Options().Addr, Version: kv["redis_version"], MaxMemoryPolicy: kv["maxmemory_policy"], AOF: kv["aof_enabled"] == "1"}
		s.UsedMemory, _ = strconv.ParseInt(kv["used_memory"], 10, 64)
		s.MaxMemory, _ = strconv.ParseInt(kv["maxmemory"], 10, 64)
		for k, v := range kv {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "ip=") {
				s.Replicas = append(s.Replicas, parseReplica(v))
			}
		}
		sort.Slice(s.Replicas, func(a, b int) bool { return s.Replicas[a].Addr < s.Replicas[b].Addr })
		// Managed services often disable CONFIG: then the schedule is unknown.
		if save, err := c.ConfigGet(ctx, "save").Result(); err == nil {
			s.RDB = strings.TrimSpace(save["save"])
		} else {
			s.RDB = "?"
		}
		mu.Lock()
		servers = append(servers, s)
		mu.Unlock()
		return nil
	})
	sort.Slice(servers, func(a, b int) bool { return servers[a].Addr < servers[b].Addr })
	rc.servers = servers
	return err
}

// parseInfo turns INFO's "key:value" lines into a map.
func parseInfo(info string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			kv[k] = v
		}
	}
	return kv
}

// parseReplica reads INFO replication's "ip=…,port=…,state=…,lag=N".
func parseReplica(v string) RedisReplica {
	f := map[string]string{}
	for _, p := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(p, "="); ok {
			f[k] = val
		}
	}
	lag, _ := strconv.ParseInt(f["lag"], 10, 64)
	return RedisReplica{Addr: f["ip"] + ":" + f["port"], Lag: lag}
}

// sessionPattern is the SCAN pattern of a layout's session keys.
func sessionPattern(layout, prefix string) string {
	if layout == "native" {
		return prefix + "{*}"
	}
	return prefix + "*"
}

// scanKeys returns up to max keys matching pattern on every master, and
// whether max stopped it.
func (rc *redisCheck) scanKeys(ctx context.Context, pattern string, max int) ([]string, bool, error) {
	var keys []string
	full := false
	var mu sync.Mutex
	err := rc.masters(ctx, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			if len(keys) >= max {
				full = true
				mu.Unlock()
				return nil
			}
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	})
	if err != nil {
		return nil, false, fmt.Errorf("doctor: redis SCAN %s: %w", pattern, err)
	}
	sort.Strings(keys)
	return keys, full, nil
}

// measure reads the session keys of one layout under prefix.
func (rc *redisCheck) measure(ctx context.Context, layout, prefix string) (*RedisStats, error) {
	st := &RedisStats{Prefix: prefix, Layout: layout, TTLs: map[string]int64{}}
	keys, full, err := rc.scanKeys(ctx, sessionPattern(layout, prefix), rc.o.MaxKeys)
	if err != nil {
		return nil, err
	}
	st.Sampled, st.Keys = full, int64(len(keys))
	userKeys := append(append([]string{}, defaultUserKeys...), rc.o.UserKeys...)
	const batch = 500
	for start := 0; start < len(keys); start += batch {
		chunk := keys[start:min(start+batch, len(keys))]
		ttls := make([]*redis.DurationCmd, len(chunk))
		vals := make([]redis.Cmder, len(chunk))
		// A pipeline of single-key commands: go-redis sends each to its
		// key's node on a cluster.
		_, err := rc.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				ttls[i] = p.PTTL(ctx, k)
				if layout == "native" {
					vals[i] = p.HGetAll(ctx, k)
				} else {
					vals[i] = p.Get(ctx, k)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
			return nil, fmt.Errorf("doctor: redis read %s keys: %w", layout, err)
		}
		for i := range chunk {
			values, ok := sessionValues(vals[i], layout)
			if !ok {
				continue // gone meanwhile, or another kind of key under the prefix
			}
			st.Sessions++
			ttl := ttls[i].Val()
			switch {
			case ttl == -1:
				st.NoTTL++
			case ttl >= 0:
				st.TTLs[ttlBucket(ttl)]++
			}
			switch {
			case len(values) == 0:
				st.Empty++
				st.Anonymous++
			case !loggedIn(values, userKeys):
				st.Anonymous++
			}
		}
	}
	if len(keys) > 0 {
		st.BytesPerSession = rc.memoryPerKey(ctx, keys)
	}
	return st, nil
}

// isWrongType reports a WRONGTYPE reply: a key of another kind under the
// prefix (a user set, another app's key).
func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// sessionValues returns a session's keys and values but the cookie, from
// an HGETALL (native) or GET (connect-redis) reply; ok is false for a key
// that is gone or is not a session.
func sessionValues(cmd redis.Cmder, layout string) (map[string]json.RawMessage, bool) {
	values := map[string]json.RawMessage{}
	if layout == "native" {
		h, err := cmd.(*redis.MapStringStringCmd).Result()
		if err != nil || len(h) == 0 {
			return nil, false
		}
		if _, ok := h["e"]; !ok {
			return nil, false
		}
		for f, v := range h {
			if k, ok := strings.CutPrefix(f, "v."); ok {
				values[k] = json.RawMessage(v)
			}
		}
		return values, true
	}
	s, err := cmd.(*redis.StringCmd).Result()
	if err != nil {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &obj) != nil || obj == nil {
		return nil, false
	}
	for k, v := range obj {
		if k != "cookie" {
			values[k] = v
		}
	}
	return values, true
}

// loggedIn reports whether a session's values hold a login: sessionkit's
// own user, or one of keys (dotted for nested) with a value.
func loggedIn(values map[string]json.RawMessage, keys []string) bool {
	if sessionkit.UserOf(values) != "" {
		return true
	}
	for _, k := range keys {
		path := strings.Split(k, ".")
		raw, ok := values[path[0]]
		for _, p := range path[1:] {
			var obj map[string]json.RawMessage
			if !ok || json.Unmarshal(raw, &obj) != nil {
				ok = false
				break
			}
			raw, ok = obj[p]
		}
		if ok {
			switch strings.TrimSpace(string(raw)) {
			case "", "null", `""`, "{}":
			default:
				return true
			}
		}
	}
	return false
}

// ttlBuckets are RedisStats.TTLs's keys, in order.
var ttlBuckets = []string{"<1h", "1h–1d", "1d–7d", "7d–30d", ">30d"}

func ttlBucket(d time.Duration) string {
	switch {
	case d < time.Hour:
		return ttlBuckets[0]
	case d < 24*time.Hour:
		return ttlBuckets[1]
	case d < 7*24*time.Hour:
		return ttlBuckets[2]
	case d < 30*24*time.Hour:
		return ttlBuckets[3]
	default:
		return ttlBuckets[4]
	}
}

// memoryPerKey is the mean MEMORY USAGE of up to 200 of keys, evenly
// spread; 0 when Redis does not answer it.
func (rc *redisCheck) memoryPerKey(ctx context.Context, keys []string) int64 {
	step := max(1, len(keys)/200)
	var cmds []*redis.IntCmd
	_, _ = rc.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < len(keys); i += step {
			cmds = append(cmds, p.MemoryUsage(ctx, keys[i]))
		}
		return nil
	})
	var sum, n int64
	for _, c := range cmds {
		if v, err := c.Result(); err == nil {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// watch counts each layout's keys again after Watch.
func (rc *redisCheck) watch(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(rc.o.Watch):
	}
	cctx, cancel := context.WithTimeout(ctx, rc.o.Timeout)
	defer cancel()
	for i := range rc.rep.Redis {
		st := &rc.rep.Redis[i]
		keys, _, err := rc.scanKeys(cctx, sessionPattern(st.Layout, st.Prefix), rc.o.MaxKeys)
		if err != nil {
			return err
		}
		g := int64(len(keys)) - st.Keys
		st.Growth = &g
	}
	return nil
}
