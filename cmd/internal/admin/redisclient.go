package admin

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RedisClient returns a client for a REDIS_URL, as serve and every command
// parse it (see openRedis: redis://, rediss://, redis+cluster://,
// rediss+cluster://, redis+sentinel://, rediss+sentinel://), and a description of it for messages that shows no
// password. Errors wrap ErrInvalidConfig and show no password either.
func RedisClient(rawURL string) (redis.UniversalClient, string, error) {
	return newRedisClient(rawURL)
}

// ReachRedis dials the server, the cluster seeds or the Sentinels that
// client (from RedisClient(rawURL)) would dial, until one answers, so that a
// dead address is one error before go-redis's pool logs each of its failed
// dial rounds (see dialAny). It does not authenticate: PING does that.
func ReachRedis(ctx context.Context, client redis.UniversalClient, rawURL string) error {
	return dialAny(ctx, seeds(client, rawURL))
}
