-- connect-redis layout. Load a session: KEYS[1] is the key. Returns {its
-- JSON, its expiry time in Unix milliseconds (-1: none)}, or nil when it is
-- missing or expired; both read at one instant.
local value = redis.call('GET', KEYS[1])
if not value then
	return nil
end
return {value, redis.call('PEXPIRETIME', KEYS[1])}
