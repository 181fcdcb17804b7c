-- Delete a session and announce it: KEYS[1] is the session's key (a hash in
-- the native layout, a string in connect-redis's), ARGV[1] the channel to
-- announce on, ARGV[2] the announcement (the session's change key), ARGV[3]
-- the hash field of the session's metadata. The announcement goes out even
-- when there was no key: a writer that does not announce (connect-redis) may
-- have deleted it while watchers still hold it. It goes first, as in
-- update.lua: a script's writes are not undone when a later command fails
-- (the channel's ACL permission missing). Returns the number of keys deleted
-- and what names the session's user: the metadata field of a hash, the whole
-- value of a string, false when there was no key.
if ARGV[1] ~= '' then -- empty: the store does not announce (NoAnnounce)
	redis.call('PUBLISH', ARGV[1], ARGV[2])
end
local t = redis.call('TYPE', KEYS[1]).ok
local owner = false
if t == 'hash' then
	owner = redis.call('HGET', KEYS[1], ARGV[3])
elseif t == 'string' then
	owner = redis.call('GET', KEYS[1])
end
return {redis.call('DEL', KEYS[1]), owner}
