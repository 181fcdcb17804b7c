package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a real Redis Cluster of three masters, each a redis-server
// process listening on a free local port, with its files in a temporary
// directory; StartClusterWithReplicas gives each master replicas too. Start
// it once per test binary (in TestMain) and Stop it when the tests are done.
type Cluster struct {
	// Addrs are the nodes' addresses, host:port: the three masters, and
	// with replicas the replicas after them (Redis decides which node
	// replicates which; Masters asks it).
	Addrs []string
	dir   string
	nodes []*node
	// replicas is the number of replicas per master.
	replicas int
}

// node is one redis-server process; exited is closed once it has exited
// (it is waited for by a goroutine of its own from the start, so that an
// early exit is seen while waiting for it to answer).
type node struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	// replicaOf is the master this node replicated when last noted
	// (Cluster.NoteReplicas); "" for a master.
	replicaOf string
}

// clusterSize is the number of masters: the smallest cluster Redis builds.
const clusterSize = 3

// startAttempts bounds how often StartCluster picks new ports: between
// freePorts releasing a port and redis-server binding it, any process on
// the machine may take it (an outgoing connection's ephemeral port, another
// test binary's server), and that node then exits at once.
const startAttempts = 5

// errNodeExited is a redis-server that exited (or never owned its port)
// before it answered: its port was most likely taken meanwhile.
var errNodeExited = errors.New("redis-server exited before answering")

// StartCluster starts three redis-server processes with --cluster-enabled
// yes, joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok with all three nodes and all slots, and every node
// agrees on the slot map. A node that loses its port to another process is
// started again on new ports. On failure it stops what it started.
func StartCluster(ctx context.Context) (*Cluster, error) {
	return startCluster(ctx, 0)
}

// StartClusterWithReplicas is StartCluster with replicas replicas for each
// master (3 × (1 + replicas) redis-servers), for tests of a failover: it
// also waits until every replica is in sync with its master.
// cluster-node-timeout is one second, so a killed master is replaced within
// a few seconds.
func StartClusterWithReplicas(ctx context.Context, replicas int) (*Cluster, error) {
	if replicas < 1 {
		return nil, errors.New("redistest: StartClusterWithReplicas: replicas must be at least 1")
	}
	return startCluster(ctx, replicas)
}

func startCluster(ctx context.Context, replicas int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "sessionkit-redis-cluster-")
	if err != nil {
		return nil, fmt.Errorf("redistest: cluster: %w", err)
	}
	c := &Cluster{dir: dir, replicas: replicas}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: cluster: %w", err)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	var err error
	for range startAttempts {
		if err = c.startNodes(ctx); !errors.Is(err, errNodeExited) {
			break
		}
		c.killNodes()
	}
	if err != nil {
		return err
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(c.replicas), "--cluster-yes")
	var out bytes.Buffer
	create := exec.CommandContext(ctx, "redis-cli", args...)
	create.Stdout, create.Stderr = &out, &out
	if err := create.Run(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out.String())
	}
	return poll(ctx, func() error { return c.ready(ctx) })
}

// startNodes starts clusterSize × (1 + replicas) redis-servers on free
// ports and waits until each answers as itself.
func (c *Cluster) startNodes(ctx context.Context) error {
	ports, err := freePorts(clusterSize * (1 + c.replicas))
	if err != nil {
		return err
	}
	timeout := "2000"
	if c.replicas > 0 {
		timeout = "1000"
	}
	for _, port := range ports {
		p := strconv.Itoa(port)
		n, err := startServer(c.dir, p,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+p+".conf",
			"--cluster-node-timeout", timeout,
			// A replica may always take over, however long its link
			// was down: the tests kill masters on purpose.
			"--cluster-replica-validity-factor", "0",
		)
		if err != nil {
			return err
		}
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.addr)
	}
	return waitNodes(ctx, c.dir, c.nodes)
}

// startServer starts a redis-server on 127.0.0.1:port with its files in
// dir, no persistence, and the extra arguments.
func startServer(dir, port string, extra ...string) (*node, error) {
	args := append([]string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--repl-diskless-sync", "yes",
		"--repl-diskless-sync-delay", "0",
		// DEBUG SLEEP stalls a replica in tests of replica acknowledgement.
		"--enable-debug-command", "local",
		"--logfile", "redis-" + port + ".log",
	}, extra...)
	return startProcess(exec.Command("redis-server", args...), "127.0.0.1:"+port)
}

// startProcess starts cmd, a server that will listen on addr.
func startProcess(cmd *exec.Cmd, addr string) (*node, error) {
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	n := &node{cmd: cmd, addr: addr, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	return n, nil
}

// waitNodes waits until each node answers as itself; a node that lost its
// port gives an error wrapping errNodeExited, with its log's last lines.
func waitNodes(ctx context.Context, dir string, nodes []*node) error {
	for _, n := range nodes {
		if err := waitOwnPing(ctx, n.addr, n); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "redis-"+strings.TrimPrefix(n.addr, "127.0.0.1:")+".log"))
			return fmt.Errorf("%s: %w\n%s", n.addr, err, lastLines(string(log), 5))
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

// ClientNamed is Client with every connection named name (see the package's
// ClientNamed).
func (c *Cluster) ClientNamed(tb testing.TB, name string) (redis.UniversalClient, string) {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ClientName: name})
	return checked(tb, cc, "the Redis Cluster at "+strings.Join(c.Addrs, ","))
}

// Kill sends SIGKILL to the master at Addrs[i] and waits for it to exit,
// for tests of a node that dies; Stop still cleans up the rest.
func (c *Cluster) Kill(i int) error {
	n := c.nodes[i]
	if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-n.exited
	return nil
}

// Stop kills the cluster's processes by PID, waits for them and removes the
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	c.killNodes()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
		c.dir = ""
	}
}

// killNodes kills the started processes, waits for them and forgets them
// and their addresses.
func (c *Cluster) killNodes() {
	for _, n := range c.nodes {
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	c.nodes, c.Addrs = nil, nil
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

// waitOwnPing waits until n answers PING on addr, and checks that the
// process answering is n: if n lost the port, another server may answer.
func waitOwnPing(ctx context.Context, addr string, n *node) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	return poll(ctx, func() error {
		select {
		case <-n.exited:
			return permanent(errNodeExited)
		default:
		}
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return err
		}
		if pid := infoField(info, "process_id"); pid != strconv.Itoa(n.cmd.Process.Pid) {
			return permanent(fmt.Errorf("%w: process %s answers on its port", errNodeExited, pid))
		}
		return nil
	})
}

// ready reports nil once every node is in cluster_state:ok, knows all the
// nodes, sees every slot served, and all nodes agree on which node serves
// which slots: only then does a client's first slot map hold everywhere.
func (c *Cluster) ready(ctx context.Context) error {
	var first string
	for i, addr := range c.Addrs {
		select {
		case <-c.nodes[i].exited:
			return permanent(fmt.Errorf("%s: redis-server exited", addr))
		default:
		}
		err := func() error {
			cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer cl.Close()
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			for field, want := range map[string]string{
				"cluster_state":       "ok",
				"cluster_known_nodes": strconv.Itoa(len(c.nodes)),
				"cluster_slots_ok":    "16384",
				"cluster_slots_pfail": "0",
				"cluster_slots_fail":  "0",
			} {
				if got := infoField(info, field); got != want {
					return fmt.Errorf("cluster not ready: %s is %q, want %q", field, got, want)
				}
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			if c.replicas > 0 {
				if err := inSync(ctx, cl, c.replicas); err != nil {
					return err
				}
			}
			m := slotMap(slots)
			if i == 0 {
				first = m
			} else if m != first {
				return fmt.Errorf("slot maps differ: %s sees %s, %s sees %s", c.Addrs[0], first, addr, m)
			}
			return nil
		}()
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}

// slotMap is a canonical text of CLUSTER SLOTS: sorted ranges and the
// address of each range's master.
func slotMap(slots []redis.ClusterSlot) string {
	parts := make([]string, 0, len(slots))
	for _, s := range slots {
		master := "none"
		if len(s.Nodes) > 0 {
			master = s.Nodes[0].Addr
		}
		parts = append(parts, fmt.Sprintf("%05d-%05d:%s", s.Start, s.End, master))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// infoField returns the value of field in an INFO or CLUSTER INFO reply.
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// poll calls f every 50ms until it succeeds or returns an error made by
// permanent, for at most 30 seconds.
func poll(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := f()
		var p permanentError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &p):
			return p.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// permanentError is an error poll returns at once, without retrying.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }
