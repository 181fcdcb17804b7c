package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// The session cache's scenarios with the sessions in Redis (announcements
// by PUBLISH/SUBSCRIBE instead of NOTIFY/LISTEN), on the machine's Redis and,
// where the topology matters (an announcement made on one master heard by a
// subscriber on another), on a three-master Redis Cluster.

// redisCluster is the package's three-master cluster, started by the first
// test that needs it and stopped by TestMain.
var redisCluster redistest.SharedCluster

// newRedisClusterDatabase is newRedisDatabase on the package's Redis
// Cluster (REDIS_URL in the redis+cluster:// form).
func newRedisClusterDatabase(t *testing.T) *database {
	t.Helper()
	db := newDatabase(t)
	c := redisCluster.Get(t)
	client, prefix := c.Client(t)
	db.redis = &sessionRedis{client: client, prefix: prefix, url: "redis+cluster://" + strings.Join(c.Addrs, ",")}
	return db
}

// redisDeployments are the two Redis set-ups the cached scenarios run on.
var redisDeployments = []struct {
	name string
	db   func(*testing.T) *database
}{
	{"Redis", newRedisDatabase},
	{"Redis Cluster", newRedisClusterDatabase},
}

func TestRedisOutageCached(t *testing.T) {
	rep := newReport(t, "Redis outage (sessions in Redis, session cache on)",
		fmt.Sprintf("3 instances with SESSION_CACHE=on, sessions in Redis; %d browsers reading, logging out (8%%) and in again, %d workers", outageBrowsers, outageWorkers),
		fmt.Sprintf("every Redis connection, the subscriptions' too, cut for %s", outageCut))
	db := newRedisDatabase(t)
	db.cache = true
	fp := faultproxy.New(t, redistest.Addr())
	outage(t, rep, db, fp, "redis", map[string]string{"REDIS_URL": redistest.URLFor(fp.Addr())})
}

func TestKillInstanceRedisCached(t *testing.T) {
	rep := newReport(t, "kill -9 of an instance under load (sessions in Redis, session cache on)",
		fmt.Sprintf("3 instances with SESSION_CACHE=on, sessions in Redis; %d browsers reading, logging out (8%%) and in again, %d workers", killBrowsers, killWorkers),
		"SIGKILL to instance-1 mid-load")
	db := newRedisDatabase(t)
	db.cache = true
	killInstance(t, rep, db)
}

func TestRollingSecretRotationRedisCached(t *testing.T) {
	rep := newReport(t, "Rolling secret rotation (sessions in Redis, session cache on)",
		"3 instances with SESSION_CACHE=on, sessions in Redis, restarted one at a time, browsers reading throughout",
		"rolling restarts with new secrets")
	db := newRedisDatabase(t)
	db.cache = true
	rollingSecretRotation(t, rep, db)
}

// TestLogOutReplayRedis is TestLogOutReplay's cached case on Redis and on a
// Cluster: the log-out's announcement is published on the master of the
// session's key and must reach every instance's subscription, wherever it
// is.
func TestLogOutReplayRedis(t *testing.T) {
	for _, d := range redisDeployments {
		t.Run(d.name, func(t *testing.T) {
			rep := newReport(t, "Log-out on one instance, replay on another ("+d.name+", cache on)",
				fmt.Sprintf("3 instances; %d log-in/read/log-out/replay trials on %d workers; %d browsers reading through the balancer meanwhile", replayTrials, replayWorkers, replayLoad),
				"replayed cookies after log-out")
			db := d.db(t)
			db.cache = true
			logOutReplay(t, rep, db)
		})
	}
}

// TestListenerKilledRedis is TestListenerTerminated on Redis and on a
// Cluster: every instance's subscribed connection is closed with CLIENT
// KILL (found by the client name the instances are given in REDIS_URL).
func TestListenerKilledRedis(t *testing.T) {
	for _, d := range redisDeployments {
		t.Run(d.name, func(t *testing.T) {
			rep := newReport(t, "Listener killed (CLIENT KILL of the subscriptions, "+d.name+"), session cache on",
				fmt.Sprintf("3 instances with SESSION_CACHE=on; %d browsers reading through the balancer", replayLoad),
				"CLIENT KILL of every instance's subscribed connection")
			db := d.db(t)
			db.cache = true
			name := "sk-" + strings.Trim(db.redis.prefix, ":")
			name = strings.ReplaceAll(name, ":", "-")
			url := db.redis.url
			if url == "" {
				url = redistest.URL()
			}
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			addrs := []string{redistest.Addr()}
			if strings.HasPrefix(url, "redis+cluster://") {
				addrs = redisCluster.Get(t).Addrs
			}
			listenerKilled(t, rep, db, map[string]string{"REDIS_URL": url + sep + "client_name=" + name}, func(ctx context.Context) (int, error) {
				return redistest.KillPubSub(ctx, addrs, name)
			})
		})
	}
}
