-- Rename a member of a user's index (see index.lua): KEYS[1] is the index,
-- ARGV[1] the raw id and ARGV[2] its hash. The hash takes the raw id's
-- score (GT: never an earlier one than it has), then the raw id goes. Returns 1 when
-- renamed, 0 when the raw id was not a member.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
	return 0
end
redis.call('ZADD', KEYS[1], 'GT', score, ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
