package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the Sentinels of StartSentinel monitor the
// primary under.
const SentinelMaster = "sessionkit"

// Sentinel is a Redis primary, its replicas and three Sentinels
// (redis-server --sentinel) monitoring it with a quorum of two, each on a
// free local port, with their files in a temporary directory. A Sentinel
// takes the primary for down after one second without an answer, so a
// killed primary is replaced within a few seconds.
type Sentinel struct {
	// Sentinels are the Sentinels' addresses, host:port.
	Sentinels []string
	// Primary and Replicas are the data nodes' addresses when started;
	// after a failover the Sentinels know which is which (PrimaryNow).
	Primary  string
	Replicas []string
	dir      string
	nodes    []*node
	replicas int
}

// StartSentinel starts the primary, replicas replicas (at least one) and
// the three Sentinels, and waits until the replicas are in sync and every
// Sentinel knows them and the two other Sentinels (so that they can agree
// on a failover). Ports lost to another process are picked again. On
// failure it stops what it started.
func StartSentinel(ctx context.Context, replicas int) (*Sentinel, error) {
	if replicas < 1 {
		return nil, errors.New("redistest: StartSentinel: replicas must be at least 1")
	}
	dir, err := os.MkdirTemp("", "sessionkit-redis-sentinel-")
	if err != nil {
		return nil, fmt.Errorf("redistest: sentinel: %w", err)
	}
	s := &Sentinel{dir: dir, replicas: replicas}
	for range startAttempts {
		if err = s.start(ctx); !errors.Is(err, errNodeExited) {
			break
		}
		s.killNodes()
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("redistest: sentinel: %w", err)
	}
	return s, nil
}

func (s *Sentinel) start(ctx context.Context) error {
	ports, err := freePorts(1 + s.replicas + 3)
	if err != nil {
		return err
	}
	p := make([]string, len(ports))
	for i, port := range ports {
		p[i] = strconv.Itoa(port)
	}
	primary, err := startServer(s.dir, p[0])
	if err != nil {
		return err
	}
	s.nodes = append(s.nodes, primary)
	s.Primary = primary.addr
	for _, port := range p[1 : 1+s.replicas] {
		replica, err := startServer(s.dir, port, "--replicaof", "127.0.0.1", p[0])
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, replica)
		s.Replicas = append(s.Replicas, replica.addr)
	}
	// The Sentinels learn of the replica from the primary's INFO, asked
	// every ten seconds: started after the replica is in sync, they see
	// it in their first.
	if err := waitNodes(ctx, s.dir, s.nodes); err != nil {
		return err
	}
	if err := poll(ctx, func() error { return s.dataInSync(ctx) }); err != nil {
		return err
	}
	for _, port := range p[1+s.replicas:] {
		// A Sentinel rewrites its configuration file, so each gets one.
		conf := filepath.Join(s.dir, "sentinel-"+port+".conf")
		text := strings.Join([]string{
			"port " + port,
			"bind 127.0.0.1",
			"dir " + s.dir,
			"logfile redis-" + port + ".log",
			"sentinel monitor " + SentinelMaster + " 127.0.0.1 " + p[0] + " 2",
			"sentinel down-after-milliseconds " + SentinelMaster + " 1000",
			"sentinel failover-timeout " + SentinelMaster + " 10000",
			"sentinel parallel-syncs " + SentinelMaster + " 1",
			"",
		}, "\n")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		n, err := startProcess(exec.Command("redis-server", conf, "--sentinel"), "127.0.0.1:"+port)
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, n)
		s.Sentinels = append(s.Sentinels, n.addr)
	}
	if err := waitNodes(ctx, s.dir, s.nodes[1+s.replicas:]); err != nil {
		return err
	}
	return poll(ctx, func() error { return s.ready(ctx) })
}

// dataInSync reports nil once the replicas are in sync with the primary.
func (s *Sentinel) dataInSync(ctx context.Context) error {
	for _, addr := range append([]string{s.Primary}, s.Replicas...) {
		cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		err := inSync(ctx, cl, s.replicas)
		cl.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}

// ready reports nil once each Sentinel sees the primary, the replicas and
// the two other Sentinels.
func (s *Sentinel) ready(ctx context.Context) error {
	for _, addr := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
		replicas, err := sc.Replicas(ctx, SentinelMaster).Result()
		if err == nil && len(replicas) != s.replicas {
			err = fmt.Errorf("sees %d replicas, want %d", len(replicas), s.replicas)
		}
		if err == nil {
			var others []map[string]string
			if others, err = sc.Sentinels(ctx, SentinelMaster).Result(); err == nil && len(others) != 2 {
				err = fmt.Errorf("sees %d other sentinels, want 2", len(others))
			}
		}
		sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", addr, err)
		}
	}
	return nil
}

// URL returns REDIS_URL's Sentinel form for these servers:
// redis+sentinel://host1:port1,host2:port2,host3:port3/sessionkit.
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + strings.Join(s.Sentinels, ",") + "/" + SentinelMaster
}

// Client returns a failover client (go-redis's, through the Sentinels) and
// a fresh key prefix, both cleaned up when the test ends (see Client).
func (s *Sentinel) Client(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Sentinels})
	return checked(tb, fc, "the Redis primary of Sentinels "+strings.Join(s.Sentinels, ","))
}

// PrimaryNow asks the Sentinels which address the primary has now.
func (s *Sentinel) PrimaryNow(ctx context.Context) (string, error) {
	var lastErr error
	for _, addr := range s.Sentinels {
		if n := s.node(addr); n == nil || n.dead() {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		sc.Close()
		if err != nil {
			lastErr = err
			continue
		}
		return hp[0] + ":" + hp[1], nil
	}
	return "", fmt.Errorf("redistest: no Sentinel answered: %v", lastErr)
}

// KillAddr sends SIGKILL to the server at addr and waits for it to exit.
func (s *Sentinel) KillAddr(addr string) error { return killAddr(s.nodes, addr) }

// WaitFailover waits (at most 30 seconds) until every live Sentinel names
// another primary than dead and that server answers as a master, and
// returns its address.
func (s *Sentinel) WaitFailover(ctx context.Context, dead string) (string, error) {
	var promoted string
	err := poll(ctx, func() error {
		for _, addr := range s.Sentinels {
			if n := s.node(addr); n == nil || n.dead() {
				continue
			}
			sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
			hp, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
			sc.Close()
			if err != nil {
				return err
			}
			if p := hp[0] + ":" + hp[1]; p == dead {
				return fmt.Errorf("sentinel %s still names %s", addr, dead)
			} else {
				promoted = p
			}
		}
		cl := redis.NewClient(&redis.Options{Addr: promoted, MaxRetries: -1})
		defer cl.Close()
		info, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if infoField(info, "role") != "master" {
			return fmt.Errorf("%s is not a master yet", promoted)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("redistest: failover of %s: %w", dead, err)
	}
	return promoted, nil
}

// node returns the server listening on addr, or nil.
func (s *Sentinel) node(addr string) *node {
	for _, n := range s.nodes {
		if n.addr == addr {
			return n
		}
	}
	return nil
}

// Stop kills every server by PID, waits for them and removes the directory.
// It is safe to call more than once.
func (s *Sentinel) Stop() {
	s.killNodes()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
		s.dir = ""
	}
}

func (s *Sentinel) killNodes() {
	for _, n := range s.nodes {
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	s.nodes, s.Sentinels, s.Primary, s.Replicas = nil, nil, "", nil
}
