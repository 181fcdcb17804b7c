-- Patch a live session and announce it: KEYS[1] is the session's hash;
-- ARGV[1] the channel to announce on and ARGV[2] the announcement (the
-- session's change key); ARGV[3] the new expiry (Unix milliseconds, empty to
-- keep it), ARGV[4] the number n of fields to delete, then those n fields,
-- then field/value pairs to set. Deletes run before sets, so a field in both
-- ends up set. Returns 0 when the session was missing or expired (and nothing
-- was written nor announced, so a patch never brings a session back);
-- otherwise {1, the session's expiry, its "v.sessionkit" field (the user
-- binding) or false}, after the patch.
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
	return 0
end
-- Announced in the same script as the change, so atomically with it: no
-- watcher's read can come between. First, because Redis does not undo a
-- failing script's writes: a user without the channel's ACL permission gets
-- an error and no change, rather than a change and an error.
if ARGV[1] ~= '' then -- empty: the store does not announce (NoAnnounce)
	redis.call('PUBLISH', ARGV[1], ARGV[2])
end
local n = tonumber(ARGV[4])
for i = 5, 4 + n do
	redis.call('HDEL', key, ARGV[i])
end
for i = 5 + n, #ARGV, 2 do
	redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
if ARGV[3] ~= '' then
	redis.call('HSET', key, 'e', ARGV[3])
	-- An expiry in the past deletes the key at once.
	redis.call('PEXPIREAT', key, ARGV[3])
end
return {1, redis.call('HGET', key, 'e'), redis.call('HGET', key, 'v.sessionkit')}
