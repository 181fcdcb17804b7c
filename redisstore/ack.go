package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replica acknowledgement (Config.Replicas). Redis replicates
// asynchronously: a write its master has answered may not have reached a
// replica when the master dies, and the replica promoted in its place never
// saw it. For a session that means a log-in lost (its user logged out) or,
// worse, a log-out or revocation lost (the session back). With
// Config.Replicas set, the writes that carry those (Create, Delete, and an
// Update that changes values, so a log-in's binding to its user) are
// followed by WAIT on the same connection, in the same round trip (a
// pipeline: the script, then WAIT), and return only once that many replicas
// have the write, or fail with ErrNotReplicated. An Update that only moves
// the expiry (a touch) does not wait: losing it ends the session a little
// early at worst.
//
// WAIT counts the writes of the connection it is sent on, which is why it
// must follow the script on the same one: on a Cluster the pair goes to the
// master of the session's slot (ClusterClient.MasterForKey), on a single
// server or Sentinel's primary to the client itself (a pipeline holds one
// connection). A redis.Ring is not supported with Replicas.

// DefaultReplicaTimeout is how long a write waits for its replicas when
// Config.ReplicaTimeout is zero.
const DefaultReplicaTimeout = time.Second

// ErrNotReplicated is the error of a write that the master made but fewer
// than Config.Replicas replicas acknowledged within Config.ReplicaTimeout:
// a failover now could undo it. Callers answer it like any store failure
// (sessionkit wraps it in ErrStore: 503); the write itself is not undone,
// so a Delete that returned it may be retried, and a Create's session is an
// orphan no cookie names.
var ErrNotReplicated = errors.New("redisstore: write not acknowledged by enough replicas")

// runAcked runs script on keys, then WAIT for s.replicas replicas on the
// same connection; without Config.Replicas it is script.Run. The script's
// result is returned; a WAIT that counts fewer replicas makes the result's
// error ErrNotReplicated.
func (s *Store) runAcked(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.replicas <= 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	var (
		pipeliner redis.Cmdable = s.client
		cluster   *redis.ClusterClient
	)
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			cmd := redis.NewCmd(ctx)
			cmd.SetErr(err)
			return cmd
		}
		pipeliner, cluster = node, cc
	}
	cmd, err := s.evalThenWait(ctx, pipeliner, script, keys, args)
	if errors.Is(err, errNoScript) {
		// The master does not know the script yet (first use, or a
		// replica just promoted): load it there and go again.
		if err = script.Load(ctx, pipeliner).Err(); err == nil {
			cmd, err = s.evalThenWait(ctx, pipeliner, script, keys, args)
		}
	}
	if cerr := cmd.Err(); cluster != nil && cerr != nil && (nodeFailed(ctx, cerr) || isMoved(cerr)) {
		// The pipeline went to the node directly, past the cluster
		// client's hooks: tell it the slot map may be stale.
		cluster.ReloadState(ctx)
	}
	if err != nil && cmd.Err() == nil {
		cmd.SetErr(err)
	}
	return cmd
}

// errNoScript is evalThenWait's report of a NOSCRIPT reply.
var errNoScript = errors.New("NOSCRIPT")

// evalThenWait sends EVALSHA and WAIT in one pipeline on c.
func (s *Store) evalThenWait(ctx context.Context, c redis.Cmdable, script *redis.Script, keys []string, args []any) (*redis.Cmd, error) {
	var (
		cmd  *redis.Cmd
		wait *redis.IntCmd
	)
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmd = script.EvalSha(ctx, p, keys, args...)
		// Pipeliner has no Wait; the pipeline's reads are bounded by the
		// client's ReadTimeout (3 s by default), which ReplicaTimeout
		// must stay below.
		wait = redis.NewIntCmd(ctx, "wait", s.replicas, s.replicaTimeout.Milliseconds())
		return p.Process(ctx, wait)
	})
	if err := cmd.Err(); err != nil {
		if strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return cmd, errNoScript
		}
		return cmd, err
	}
	return cmd, s.acked(wait)
}

// acked turns WAIT's answer into nil or the error saying why the write is
// not known to be on enough replicas.
func (s *Store) acked(wait *redis.IntCmd) error {
	n, err := wait.Result()
	switch {
	case err != nil:
		return fmt.Errorf("%w: WAIT: %w", ErrNotReplicated, err)
	case n < int64(s.replicas):
		return fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, n, s.replicas, s.replicaTimeout)
	}
	return nil
}

// isMoved reports a MOVED or ASK reply: the slot lives elsewhere now.
func isMoved(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply) && (strings.HasPrefix(reply.Error(), "MOVED ") || strings.HasPrefix(reply.Error(), "ASK "))
}
