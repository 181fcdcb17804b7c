-- connect-redis layout. Create a session unless its key exists: KEYS[1] is
-- the key, ARGV[1] the session's JSON and ARGV[2] its expiry (Unix
-- milliseconds). Returns 1 when created, 0 when the key existed (and nothing
-- was changed).
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1])
-- An expiry in the past deletes the key at once.
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
