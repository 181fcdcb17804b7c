-- Delete a key only if it is as it was: KEYS[1] is the key, ARGV[1] its
-- DUMP as read before. Returns 1 when deleted, 0 when the key changed or
-- is gone (and nothing was deleted). HashStoredIDs uses it to drop a
-- session's raw key once its copy under the hash is in place, and to undo
-- that copy when the raw key changed meanwhile.
if redis.call('DUMP', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
