package admin

import "github.com/redis/go-redis/v9"

// RedisClient returns a client for a REDIS_URL, as serve and every command
// parse it (see openRedis: redis://, rediss://, redis+cluster://,
// rediss+cluster://, redis+sentinel://, rediss+sentinel://), and a description of it for messages that shows no
// password. Errors wrap ErrInvalidConfig and show no password either.
func RedisClient(rawURL string) (redis.UniversalClient, string, error) {
	return newRedisClient(rawURL)
}
