package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The failover side of the test servers: which node is a master, killing
// one, and waiting until Redis has put a replica in its place.

// inSync reports nil once the node cl talks to is either a master with
// replicas connected replicas, all online, or a replica whose link to its
// master is up and done syncing.
func inSync(ctx context.Context, cl *redis.Client, replicas int) error {
	info, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	switch role := infoField(info, "role"); role {
	case "master":
		online := strings.Count(info, "state=online")
		if online < replicas {
			return fmt.Errorf("master has %d replicas online, want %d", online, replicas)
		}
	case "slave":
		if infoField(info, "master_link_status") != "up" || infoField(info, "master_sync_in_progress") != "0" {
			return errors.New("replica not in sync with its master yet")
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	return nil
}

// Masters returns the addresses of the nodes that serve slots now, as the
// first live node asked sees them, sorted.
func (c *Cluster) Masters(ctx context.Context) ([]string, error) {
	var lastErr error
	for _, n := range c.nodes {
		if n.dead() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
		slots, err := cl.ClusterSlots(ctx).Result()
		cl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		var masters []string
		for _, s := range slots {
			if len(s.Nodes) > 0 && !slices.Contains(masters, s.Nodes[0].Addr) {
				masters = append(masters, s.Nodes[0].Addr)
			}
		}
		slices.Sort(masters)
		return masters, nil
	}
	return nil, fmt.Errorf("redistest: no live node answered CLUSTER SLOTS: %v", lastErr)
}

// KillAddr sends SIGKILL to the node at addr (a master, a replica or a
// Sentinel of c) and waits for it to exit.
func (c *Cluster) KillAddr(addr string) error { return killAddr(c.nodes, addr) }

// WaitFailover waits (at most 30 seconds) until the failed master dead no
// longer serves any slot and every live node reports cluster_state:ok with
// all slots served, and returns the address of the node that took dead's
// slots.
func (c *Cluster) WaitFailover(ctx context.Context, dead string) (string, error) {
	var promoted string
	err := poll(ctx, func() error {
		masters, err := c.Masters(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(masters, dead) {
			return fmt.Errorf("%s still serves slots", dead)
		}
		if len(masters) != clusterSize {
			return fmt.Errorf("%d masters serve slots, want %d", len(masters), clusterSize)
		}
		for _, n := range c.nodes {
			if n.dead() {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
			info, err := cl.ClusterInfo(ctx).Result()
			cl.Close()
			if err != nil {
				return err
			}
			if infoField(info, "cluster_state") != "ok" || infoField(info, "cluster_slots_ok") != "16384" {
				return fmt.Errorf("%s: cluster not ok yet", n.addr)
			}
		}
		for _, m := range masters {
			if n := c.node(m); n != nil && n.replicaOf != "" && n.replicaOf == dead {
				promoted = m
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("redistest: failover of %s: %w", dead, err)
	}
	return promoted, nil
}

// node returns the node listening on addr, or nil.
func (c *Cluster) node(addr string) *node {
	for _, n := range c.nodes {
		if n.addr == addr {
			return n
		}
	}
	return nil
}

// NoteReplicas records which master each replica follows now, so that
// WaitFailover can name the replica that took a killed master's place.
// Call it before the kill.
func (c *Cluster) NoteReplicas(ctx context.Context) error {
	for _, n := range c.nodes {
		if n.dead() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return fmt.Errorf("redistest: %s: %w", n.addr, err)
		}
		n.replicaOf = ""
		if infoField(info, "role") == "slave" {
			n.replicaOf = infoField(info, "master_host") + ":" + infoField(info, "master_port")
		}
	}
	return nil
}

// dead reports whether the process has exited.
func (n *node) dead() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// killAddr kills the node of nodes listening on addr and waits for it.
func killAddr(nodes []*node, addr string) error {
	for _, n := range nodes {
		if n.addr != addr {
			continue
		}
		if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("redistest: kill %s: %w", addr, err)
		}
		select {
		case <-n.exited:
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("redistest: %s did not exit after SIGKILL", addr)
		}
	}
	return fmt.Errorf("redistest: no server of ours listens on %s", addr)
}

// WaitReplicated waits (at most 30 seconds) until every live master's
// replicas have acknowledged all its writes so far (each replica's offset
// in INFO replication equals master_repl_offset), so that a test can kill a
// master without losing what it wrote before.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	return poll(ctx, func() error {
		for _, n := range c.nodes {
			if n.dead() {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
			info, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil {
				return err
			}
			if infoField(info, "role") != "master" {
				continue
			}
			want := infoField(info, "master_repl_offset")
			for i := range c.replicas {
				if !strings.Contains(infoField(info, fmt.Sprintf("slave%d", i)), ",offset="+want+",") {
					return fmt.Errorf("%s: replica %d behind offset %s", n.addr, i, want)
				}
			}
		}
		return nil
	})
}

// ReplicaOf returns the address of a replica of master as last noted
// (NoteReplicas), or "" if none.
func (c *Cluster) ReplicaOf(master string) string {
	for _, n := range c.nodes {
		if n.replicaOf == master && !n.dead() {
			return n.addr
		}
	}
	return ""
}
