package redisstore

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// FollowClusterFailover makes cc reload its slot map as soon as a command
// fails for another reason than Redis's answer (the node's connection was
// refused, reset or timed out) or with a reply saying the cluster is
// changing (CLUSTERDOWN, MASTERDOWN, TRYAGAIN, LOADING, READONLY). Call it
// once, right after redis.NewClusterClient.
//
// Why: go-redis's ClusterClient reloads its slot map after a MOVED reply,
// or once the map is ClusterStateReloadInterval old (60 s by default), but
// not when a master stops answering. After a master's SIGKILL, Redis
// promotes its replica within seconds, yet the client keeps sending the
// dead master's slots to the dead address until its map is next reloaded:
// measured, 58 s of failed requests (RELIABILITY.md, "Redis failover").
// With this hook every failed command asks for a reload (go-redis runs one
// at a time and at most one every 200 ms), so the client follows the
// promotion within a few hundred milliseconds of it.
//
// The hook costs nothing while commands succeed. A single-server or
// Sentinel client needs none: go-redis's failover client follows the
// Sentinels' announcement of the new master.
func FollowClusterFailover(cc *redis.ClusterClient) {
	cc.AddHook(failoverHook{cc})
}

// failoverHook is FollowClusterFailover's hook.
type failoverHook struct{ cc *redis.ClusterClient }

func (failoverHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h failoverHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if nodeFailed(ctx, err) {
			h.cc.ReloadState(ctx)
		}
		return err
	}
}

func (h failoverHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if nodeFailed(ctx, cmd.Err()) {
				h.cc.ReloadState(ctx)
				break
			}
		}
		return err
	}
}

// changingPrefixes start the replies of a node whose cluster is changing
// its layout.
var changingPrefixes = []string{"CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "LOADING", "READONLY"}

// nodeFailed reports whether err says that the node asked may no longer be
// the one to ask: a failure to talk to it, or a reply saying the cluster
// is changing. A key that is missing (redis.Nil), any other reply, and the
// caller's own cancellation are not.
func nodeFailed(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	msg := reply.Error()
	for _, p := range changingPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
