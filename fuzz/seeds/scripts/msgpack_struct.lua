local p = cmsgpack.pack({KEYS[1], ARGV[2] + 0, {a = 1, b = {true, false}}}, 2^53, 0.25)
local t = {cmsgpack.unpack(p)}
redis.call('SET', KEYS[1], p)
local s = struct.pack('>i2c0!8d', t[2], KEYS[2], t[3])
return {struct.unpack('>i2', s)}
