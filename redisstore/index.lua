-- Add a session to its user's set: KEYS[1] is the set, ARGV[1] the session
-- id, ARGV[2] the session's expiry (Unix milliseconds). The set lives at
-- least as long as the session: its expiry time only moves later. A session
-- already expired is not added (PEXPIREAT in the past would delete the set).
local now = redis.call('TIME')
if tonumber(ARGV[2]) <= tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) then
	return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
local current = redis.call('PEXPIRETIME', KEYS[1])
if current < 0 or current < tonumber(ARGV[2]) then
	redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
