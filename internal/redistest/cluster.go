package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a real Redis Cluster of three masters (no replicas), each a
// redis-server process listening on a free local port, with its files in a
// temporary directory. Start it once per test binary (in TestMain) and Stop
// it when the tests are done.
type Cluster struct {
	// Addrs are the masters' addresses, host:port.
	Addrs []string
	dir   string
	procs []*exec.Cmd
}

// clusterSize is the number of masters: the smallest cluster Redis builds.
const clusterSize = 3

// StartCluster starts three redis-server processes with --cluster-enabled
// yes, joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok. On failure it stops what it started.
func StartCluster(ctx context.Context) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "sessionkit-redis-cluster-")
	if err != nil {
		return nil, fmt.Errorf("redistest: cluster: %w", err)
	}
	c := &Cluster{dir: dir}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: cluster: %w", err)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	ports, err := freePorts(clusterSize)
	if err != nil {
		return err
	}
	for _, port := range ports {
		p := strconv.Itoa(port)
		cmd := exec.Command("redis-server",
			"--port", p,
			"--bind", "127.0.0.1",
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+p+".conf",
			"--cluster-node-timeout", "2000",
			"--dir", c.dir,
			"--save", "",
			"--appendonly", "no",
			"--logfile", "redis-"+p+".log",
		)
		cmd.SysProcAttr = dieWithParent()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start redis-server: %w", err)
		}
		c.procs = append(c.procs, cmd)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+p)
	}
	for _, addr := range c.Addrs {
		if err := waitPing(ctx, addr); err != nil {
			return fmt.Errorf("%s: %w (log in %s)", addr, err, c.dir)
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	var out bytes.Buffer
	create := exec.CommandContext(ctx, "redis-cli", args...)
	create.Stdout, create.Stderr = &out, &out
	if err := create.Run(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out.String())
	}
	for _, addr := range c.Addrs {
		if err := waitClusterOK(ctx, addr); err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}

// Client returns a cluster client and a fresh key prefix, both cleaned up
// when the test ends (see Client).
func (c *Cluster) Client(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	return checked(tb, cc, "the Redis Cluster at "+strings.Join(c.Addrs, ","))
}

// Kill sends SIGKILL to the master at Addrs[i] and waits for it to exit,
// for tests of a node that dies; Stop still cleans up the rest.
func (c *Cluster) Kill(i int) error {
	p := c.procs[i]
	if err := p.Process.Kill(); err != nil {
		return err
	}
	_ = p.Wait()
	return nil
}

// Stop kills the cluster's processes by PID, waits for them and removes the
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	for _, p := range c.procs {
		if p.Process != nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	c.procs = nil
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
		c.dir = ""
	}
}

// freePorts finds n ports that are free and whose cluster bus ports (port +
// 10000) are free too, by listening on them, then releasing them all at once.
func freePorts(n int) ([]int, error) {
	var (
		ports []int
		held  []net.Listener
	)
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("no free port pair (port and port+10000) found")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		held = append(held, bus)
		ports = append(ports, port)
	}
	return ports, nil
}

func waitPing(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	return poll(ctx, func() error { return c.Ping(ctx).Err() })
}

func waitClusterOK(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	return poll(ctx, func() error {
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(clusterSize)) {
			return errors.New("cluster not ready: " + strings.Join(strings.Fields(info)[:4], " "))
		}
		return nil
	})
}

// poll calls f every 50ms until it succeeds, for at most 30 seconds.
func poll(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
