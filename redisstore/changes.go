package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/reconnect"
)

// Change announcements, for sessionkit's session cache
// (sessionkit.Config.Cache.Entries): every Update that finds its session and
// every Delete sends a PUBLISH on the store's channel, Prefix + "changes"
// (Store.Channel), in the same server-side step as the change: from inside
// the Lua script (update.lua, which also rewrites the expiry; delete.lua), or
// inside the MULTI of connect-redis's layout. So an announcement goes out
// only for a change that was made, and never before it. DeleteAll announces
// sessionkit.AllSessionsChanged once it has deleted. The payload is
// sessionkit.ChangeKey(id), a hash from which no session id can be
// recovered: any client allowed to SUBSCRIBE hears it.
//
// Channels are not keys: the channel lives outside the keyspace, so SCAN
// (Count, DeleteAll, connect-redis's all() and length()) never sees it, and
// on a cluster it belongs to no slot. PUBLISH on a Redis Cluster, from a
// script too, is broadcast to every node over the cluster bus, so a
// subscriber connected to any node hears the changes made on every node;
// announcements from one node reach it in the order that node made them
// (announcements from different nodes may interleave, which no watcher
// needs: each concerns one session, whose changes are all made on its node).
//
// WatchChanges SUBSCRIBEs on a connection of its own (go-redis's PubSub,
// outside the client's pool). Redis keeps no undelivered message: what is
// published while that connection is down is lost, which is why the watcher
// is told Down at once and Up (forget everything) once subscribed again.
//
// The announcements go out whether or not anyone watches, so the Redis user
// the client logs in as needs the channel's permission (ACL: &<prefix>changes,
// or allchannels, the default user's); without it, Redis refuses every
// Update and Delete, before they change anything (the scripts publish
// first; a MULTI is refused whole), and WatchChanges's SUBSCRIBE too.
//
// Config.NoAnnounce turns the announcements off (the scripts get an empty
// channel and skip their PUBLISH), for deployments where no process caches
// sessions: on a Cluster every PUBLISH is copied to every node.
//
// Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7), which would keep each
// announcement on its shard, does not fit: a script may only SPUBLISH to a
// channel in the slot of its keys, so the channel would have to carry the
// session's hash tag, one channel per session, and a watcher cannot
// subscribe to every session's. Per-shard channels published after the
// script would lose the "announced in the same step as the change" of
// above (a watcher could read the old session between the two). So the
// announcements stay broadcast; NoAnnounce is the saving.
//
// Only writers that go through a Store announce: another program writing
// the same keys (express-session with connect-redis, a DEL by hand) is not
// heard of, and the cache's Cache.MaxAge is then the bound on staleness.

// channelSuffix ends the name of the channel: Prefix + "changes".
const channelSuffix = "changes"

// Channel returns the name of the channel the store announces changes on:
// Config.Prefix followed by "changes" ("sessionkit:changes" by default).
func (s *Store) Channel() string { return s.channel }

// AnnounceAll tells every watcher that every session may have changed: call
// it after deleting sessions in bulk outside the Store (DeleteAll announces
// on its own, once it has deleted).
func (s *Store) AnnounceAll(ctx context.Context) error {
	if s.announce == "" { // Config.NoAnnounce
		return nil
	}
	if err := s.client.Publish(ctx, s.announce, sessionkit.AllSessionsChanged).Err(); err != nil {
		return fmt.Errorf("redisstore: announce: %w", err)
	}
	return nil
}

// watchBackoff paces the watcher's new subscriptions.
var watchBackoff = reconnect.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// watchIdle is how long the subscribed connection may stay silent before
// the watcher sends a PING, and then how long it waits for the answer
// before it takes the connection for dead: a server that vanished without
// closing the connection (a host or network failure) would otherwise leave
// the cache trusting a subscription that hears nothing. A variable for the
// tests (export_test.go).
var watchIdle = 15 * time.Second

// WatchChanges implements sessionkit.ChangeFeed: it SUBSCRIBEs to the
// store's channel on a connection of its own and reports every announcement
// to w until ctx ends. w.Up is called once Redis has confirmed the
// subscription (so nothing published after it is missed), w.Down as soon as
// the connection fails or stays silent through a PING; it then subscribes
// again on a new connection, waiting between failed attempts, and calls w.Up
// again. Failures are logged at Warn, subscriptions at Info.
func (s *Store) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	watchBackoff.Run(ctx, func(ctx context.Context) (bool, error) {
		wasUp, err := s.watch(ctx, w)
		w.Down()
		return wasUp, err
	}, func(err error, wait time.Duration) {
		s.logger.Warn("redisstore: change watcher down; session caches are bypassed until it subscribes again", "channel", s.channel, "err", err, "retry_in", wait)
	})
}

// watch runs one subscription until its connection fails or ctx ends, and
// reports whether it had called w.Up. Each subscription is a new PubSub,
// closed on the way out, rather than one left to go-redis's own
// reconnection: the retries are then paced here, and a connection that
// stopped answering PING can be dropped.
func (s *Store) watch(ctx context.Context, w sessionkit.ChangeWatcher) (wasUp bool, _ error) {
	pubsub := s.client.Subscribe(ctx, s.channel)
	// A Receive waiting on the connection does not see ctx end; closing
	// the PubSub ends it.
	stop := context.AfterFunc(ctx, func() { _ = pubsub.Close() })
	defer func() {
		stop()
		_ = pubsub.Close()
	}()
	pinged := false
	for {
		msg, err := pubsub.ReceiveTimeout(ctx, watchIdle)
		if ctx.Err() != nil {
			return wasUp, ctx.Err()
		}
		var netErr net.Error
		switch {
		case err == nil:
			pinged = false
		case errors.As(err, &netErr) && netErr.Timeout() && !pinged:
			if err := pubsub.Ping(ctx); err != nil {
				return wasUp, fmt.Errorf("ping: %w", err)
			}
			pinged = true
			continue
		case errors.As(err, &netErr) && netErr.Timeout():
			return wasUp, fmt.Errorf("no answer to PING in %s", watchIdle)
		default:
			return wasUp, fmt.Errorf("receive: %w", err)
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.channel {
				s.logger.Info("redisstore: subscribed to session changes", "channel", s.channel)
				wasUp = true
				w.Up()
			}
		case *redis.Message:
			sessionkit.ReportChange(w, m.Payload)
		}
	}
}
