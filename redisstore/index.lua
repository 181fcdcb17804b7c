-- Add a session to its user's index: KEYS[1] is the index, a sorted set of
-- session ids scored by the session's expiry (Unix milliseconds); ARGV[1] is
-- the session id, ARGV[2] its expiry. A score only moves later (GT), and the
-- index lives at least as long as its latest session. A session already
-- expired is not added (PEXPIREAT in the past would delete the index).
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expiry = tonumber(ARGV[2])
if expiry <= now then
	return 0
end
-- An index written before sorted sets was a plain set: keep its members,
-- scored by the set's own expiry time, the latest of theirs.
if redis.call('TYPE', KEYS[1]).ok == 'set' then
	local members = redis.call('SMEMBERS', KEYS[1])
	local until_ = redis.call('PEXPIRETIME', KEYS[1])
	if until_ < 0 then
		until_ = expiry
	end
	redis.call('DEL', KEYS[1])
	for _, m in ipairs(members) do
		redis.call('ZADD', KEYS[1], until_, m)
	end
end
redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[1])
local current = redis.call('PEXPIRETIME', KEYS[1])
if current < 0 or current < expiry then
	redis.call('PEXPIREAT', KEYS[1], expiry)
end
return 1
