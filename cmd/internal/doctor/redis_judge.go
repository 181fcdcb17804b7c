package doctor

import (
	"fmt"
	"strings"

	"github.com/sessionkit/sessionkit/redisstore"
)

// Sections of doctor redis besides the per-layout ones.
const (
	secRedisMemory      = "Memory and eviction"
	secRedisPersistence = "Persistence"
	secRedisReplication = "Replication"
)

// replicaLagWarn is the replica lag, in seconds, from which doctor redis
// warns: INFO's lag is the seconds since the replica's last acknowledgement,
// normally 0 or 1.
const replicaLagWarn = 5

func (rc *redisCheck) add(section, id string, st Status, title string, ev []string, fix string) {
	if st == Pass || st == Info {
		fix = ""
	}
	rc.rep.add(Finding{ID: id, Section: section, Status: st, Title: title, Evidence: ev, Fix: fix})
}

// judge turns the measurements into findings.
func (rc *redisCheck) judge() {
	rc.rep.RedisServers = rc.servers
	for i := range rc.rep.Redis {
		rc.judgeKeys(&rc.rep.Redis[i])
	}
	rc.eviction()
	rc.persistence()
	rc.replication()
}

// redisSection names a layout's section: its key pattern and layout.
func redisSection(st *RedisStats) string {
	return fmt.Sprintf("%s keys (%s)", sessionPattern(st.Layout, st.Prefix), st.Layout)
}

func (rc *redisCheck) judgeKeys(st *RedisStats) {
	sec := redisSection(st)
	cli, _ := redisCLI(rc.o.URL)
	pattern := sessionPattern(st.Layout, st.Prefix)
	ev := []string{fmt.Sprintf("%d keys match %s on %s", st.Keys, pattern, plural(int64(len(rc.servers)), "master"))}
	if st.Sampled {
		ev = append(ev, fmt.Sprintf("the scan stopped at --max-keys %d: the counts below are of that sample", rc.o.MaxKeys))
	}
	if st.Sessions == 0 {
		rc.add(sec, "redis.sessions", Info, fmt.Sprintf("no sessions under %s or %s: pass --prefix with the store's prefix",
			sessionPattern("native", redisstore.DefaultPrefix), sessionPattern("connect-redis", redisstore.DefaultConnectRedisPrefix)), ev, "")
		return
	}
	rc.add(sec, "redis.sessions", Info, fmt.Sprintf("%s (%s layout)", plural(st.Sessions, "session"), st.Layout), ev, "")

	// Keys without an expiry.
	if st.NoTTL > 0 {
		rc.add(sec, "redis.ttl", Fail, fmt.Sprintf("%d of %s have no expiry (TTL): they never end and fill memory", st.NoTTL, plural(st.Sessions, "session key")),
			[]string{fmt.Sprintf("PTTL -1 on %d keys matching %s", st.NoTTL, pattern)},
			"Let the store set an expiry on every write (connect-redis: remove disableTTL and any ttl of 0; "+
				"sessionkit's redisstore always sets one), then give the keys already there one, e.g. a day:\n"+
				cli+" --scan --pattern '"+pattern+"' | while read k; do [ \"$("+cli+" pttl \"$k\")\" = -1 ] && "+cli+" expire \"$k\" 86400; done")
	} else {
		rc.add(sec, "redis.ttl", Pass, "every session key has an expiry", nil, "")
	}
	var spread []string
	for _, b := range ttlBuckets {
		if n := st.TTLs[b]; n > 0 {
			spread = append(spread, fmt.Sprintf("%s: %d", b, n))
		}
	}
	if len(spread) > 0 {
		rc.add(sec, "redis.ttl-spread", Info, "time left on the session keys: "+strings.Join(spread, ", "), nil, "")
	}

	// Sessions without a login.
	aev := []string{fmt.Sprintf("%d of %s (%.0f%%) carry no login; %d (%.0f%%) hold nothing but the cookie",
		st.Anonymous, plural(st.Sessions, "session"), pct(st.Anonymous, st.Sessions), st.Empty, pct(st.Empty, st.Sessions))}
	switch {
	case pct(st.Empty, st.Sessions) > 50:
		rc.add(sec, "redis.anonymous", Fail, fmt.Sprintf("%.0f%% of the sessions are empty: the server saves a session for every anonymous hit (saveUninitialized)", pct(st.Empty, st.Sessions)), aev,
			"Create a session only when something is stored in it: express-session saveUninitialized: false; "+
				"sessionkit does this by default. "+
				"Keep health checks, bots and static files out of the session middleware; the empty keys expire on their own.")
	case pct(st.Anonymous, st.Sessions) > 50:
		rc.add(sec, "redis.anonymous", Warn, fmt.Sprintf("%.0f%% of the sessions carry no login", pct(st.Anonymous, st.Sessions)), aev,
			"If anonymous sessions are deliberate (carts, consent), fine; "+
				"otherwise create sessions only at login. If logins use another key, pass it with --user-key.")
	default:
		rc.add(sec, "redis.anonymous", Pass, fmt.Sprintf("%.0f%% of the sessions carry a login", 100-pct(st.Anonymous, st.Sessions)), aev, "")
	}

	if st.BytesPerSession > 0 {
		rc.add(sec, "redis.memory-per-session", Info, fmt.Sprintf("about %s per session (MEMORY USAGE of a sample)", humanBytes(st.BytesPerSession)),
			[]string{fmt.Sprintf("%s × %s ≈ %s", plural(st.Sessions, "session"), humanBytes(st.BytesPerSession), humanBytes(st.Sessions*st.BytesPerSession))}, "")
	}
	if st.Growth != nil {
		rate := float64(*st.Growth) / rc.o.Watch.Seconds()
		rc.add(sec, "redis.growth", Info, fmt.Sprintf("%+d keys over %s (%+.2f/s)", *st.Growth, rc.o.Watch, rate),
			[]string{"growth that tracks the request rate means a session per request (anonymous saves, or cookies that do not stick)"}, "")
	}
}

// eviction judges maxmemory and maxmemory-policy on every master.
func (rc *redisCheck) eviction() {
	cli, _ := redisCLI(rc.o.URL)
	worst, title, fix := Pass, "", ""
	var ev []string
	for _, s := range rc.servers {
		limit := "no maxmemory"
		if s.MaxMemory > 0 {
			limit = fmt.Sprintf("maxmemory %s (%.0f%% used)", humanBytes(s.MaxMemory), pct(s.UsedMemory, s.MaxMemory))
		}
		ev = append(ev, fmt.Sprintf("%s: used %s, %s, maxmemory-policy %s", s.Addr, humanBytes(s.UsedMemory), limit, s.MaxMemoryPolicy))
		st, t, f := judgePolicy(s, cli)
		if rank(st) > rank(worst) || title == "" {
			worst, title, fix = st, t, f
		}
		if s.MaxMemory > 0 && pct(s.UsedMemory, s.MaxMemory) > 90 && rank(Warn) > rank(worst) {
			worst, title = Warn, fmt.Sprintf("%s uses %.0f%% of its maxmemory: the policy is about to act", s.Addr, pct(s.UsedMemory, s.MaxMemory))
			fix = "Raise maxmemory or shed keys (anonymous sessions, TTL-less keys) before the eviction policy decides which sessions end."
		}
	}
	if len(rc.servers) > 0 {
		rc.add(secRedisMemory, "redis.eviction", worst, title, ev, fix)
	}
}

// judgePolicy says what a server's maxmemory-policy does to sessions.
func judgePolicy(s RedisServer, cli string) (Status, string, string) {
	p := s.MaxMemoryPolicy
	set := func(policy string) string {
		return fmt.Sprintf("%s config set maxmemory-policy %s (on each master of a cluster), and the same in redis.conf "+
			"(or the service's parameter group) so it survives a restart.", cli, policy)
	}
	switch {
	case strings.HasPrefix(p, "allkeys-"):
		return Fail, fmt.Sprintf("maxmemory-policy %s evicts live sessions when memory is full: users are logged out at random", p),
			"Keep sessions in a Redis whose policy is noeviction " +
				"(writes then fail loudly when memory is full, and no one is logged out in silence), " +
				"with maxmemory sized for them; a cache belongs in another Redis: " + set("noeviction")
	case strings.HasPrefix(p, "volatile-"):
		return Warn, fmt.Sprintf("maxmemory-policy %s evicts keys with a TTL, which every session key has: live sessions end when memory is full", p),
			"Prefer noeviction for sessions (writes fail loudly instead), with maxmemory sized for them: " + set("noeviction")
	case p == "noeviction" && s.MaxMemory == 0:
		return Pass, "noeviction and no maxmemory: no session is ever evicted (watch the machine's memory)", ""
	case p == "noeviction":
		return Pass, "noeviction: when memory is full, writes fail (log-ins error) instead of sessions ending in silence", ""
	default:
		return Info, fmt.Sprintf("maxmemory-policy %q", p), ""
	}
}

func rank(s Status) int {
	switch s {
	case Fail:
		return 3
	case Warn:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// persistence judges AOF and RDB on every master.
func (rc *redisCheck) persistence() {
	cli, _ := redisCLI(rc.o.URL)
	var ev, none, unknown []string
	for _, s := range rc.servers {
		rdb := fmt.Sprintf("RDB save %q", s.RDB)
		switch s.RDB {
		case "":
			rdb = "no RDB snapshots (save \"\")"
		case "?":
			rdb = "RDB schedule unknown (CONFIG GET refused)"
		}
		aof := "appendonly no"
		if s.AOF {
			aof = "appendonly yes"
		}
		ev = append(ev, fmt.Sprintf("%s: %s, %s", s.Addr, aof, rdb))
		switch {
		case s.AOF || s.RDB != "" && s.RDB != "?":
		case s.RDB == "?":
			unknown = append(unknown, s.Addr)
		default:
			none = append(none, s.Addr)
		}
	}
	switch {
	case len(rc.servers) == 0:
	case len(none) > 0:
		rc.add(secRedisPersistence, "redis.persistence", Fail, "no persistence on "+strings.Join(none, ", ")+": a restart logs everyone out", ev,
			"Turn on the append-only file: "+cli+" config set appendonly yes (on each master of a cluster; "+
				"and appendonly yes in redis.conf), or RDB snapshots (save 3600 1 300 100 60 10000). "+
				"On a managed service, enable its persistence or backups.")
	case len(unknown) > 0:
		rc.add(secRedisPersistence, "redis.persistence", Info, "persistence cannot be read on "+strings.Join(unknown, ", ")+" (CONFIG is disabled, as on managed services): check the service's settings", ev, "")
	default:
		rc.add(secRedisPersistence, "redis.persistence", Pass, "sessions survive a restart (AOF or RDB snapshots)", ev, "")
	}
}

// replication judges the replicas' lag.
func (rc *redisCheck) replication() {
	var ev []string
	worst := int64(-1)
	for _, s := range rc.servers {
		for _, r := range s.Replicas {
			ev = append(ev, fmt.Sprintf("%s → replica %s, lag %ds", s.Addr, r.Addr, r.Lag))
			worst = max(worst, r.Lag)
		}
	}
	switch {
	case worst < 0:
		rc.add(secRedisReplication, "redis.replicas", Info, "no replicas: a failed server takes its sessions with it unless it is persisted", nil, "")
	case worst >= replicaLagWarn:
		rc.add(secRedisReplication, "redis.replicas", Warn, fmt.Sprintf("a replica lags %ds: reads from it miss new log-ins, and a failover loses them", worst), ev,
			"Read sessions from the master only (go-redis: no ReadOnly/RouteByLatency for the sessions client; "+
				"ioredis: scaleReads 'master'), and find why the replica falls behind (network, its load).")
	default:
		rc.add(secRedisReplication, "redis.replicas", Pass, fmt.Sprintf("replicas keep up (lag at most %ds)", worst), ev, "")
	}
}
