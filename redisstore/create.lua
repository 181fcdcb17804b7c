-- Create a session unless its key exists: KEYS[1] is the session's hash,
-- ARGV[1] its expiry and ARGV[2] its creation time (Unix milliseconds; empty
-- means "now" on the server's clock), then field/value pairs. Returns 1 when
-- created, 0 when the key existed (and nothing was changed).
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
	return 0
end
local created = ARGV[2]
if created == '' then
	local now = redis.call('TIME')
	created = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
end
redis.call('HSET', key, 'e', ARGV[1], 'c', created)
for i = 3, #ARGV, 2 do
	redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
-- An expiry in the past deletes the key at once.
redis.call('PEXPIREAT', key, ARGV[1])
return 1
