redis.register_function('f', function(keys, args) return redis.call('incrby', keys[1], args[2]) end)
redis.register_function{function_name='g', callback=function(keys, args) return redis.call('get', keys[2]) end, flags={'no-writes'}}
