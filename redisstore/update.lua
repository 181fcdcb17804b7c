-- Patch a live session: KEYS[1] is the session's hash; ARGV[1] the new expiry
-- (Unix milliseconds, empty to keep it), ARGV[2] the number n of fields to
-- delete, then those n fields, then field/value pairs to set. Deletes run
-- before sets, so a field in both ends up set. Returns 0 when the session was
-- missing or expired (and nothing was written, so a patch never brings a
-- session back); otherwise {1, the session's expiry, its "v.sessionkit"
-- field (the user binding) or false}, after the patch.
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
	return 0
end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do
	redis.call('HDEL', key, ARGV[i])
end
for i = 3 + n, #ARGV, 2 do
	redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
if ARGV[1] ~= '' then
	redis.call('HSET', key, 'e', ARGV[1])
	-- An expiry in the past deletes the key at once.
	redis.call('PEXPIREAT', key, ARGV[1])
end
return {1, redis.call('HGET', key, 'e'), redis.call('HGET', key, 'v.sessionkit')}
