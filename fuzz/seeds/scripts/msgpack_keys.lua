local ok, e = pcall(cmsgpack.unpack_limit, redis.call('GET', KEYS[1]) or '', 2, 1)
return {tostring(ok), struct.size('!4 b h i d'), cmsgpack.pack(redis.call('HGETALL', 'k2'))}
