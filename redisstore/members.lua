-- List a user's index: KEYS[1] is the index (see index.lua). Drops the
-- members whose indexed expiry has passed, which are dead whatever else
-- happened to them, and returns the others. A member whose session is
-- missing is never dropped here: it may be a session being created right
-- now (its id is indexed before its hash is written), and dropping it would
-- let that session escape revocation.
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then
	return {}
end
if t == 'set' then
	return redis.call('SMEMBERS', KEYS[1])
end
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
