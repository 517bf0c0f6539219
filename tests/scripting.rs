//! Guards Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) against Redis 7.0's
//! behaviour: reply conversions both ways, error texts with script and line, the sandbox,
//! what commands a script may call, the script cache (also past 8,000 scripts), `cjson`,
//! `bit`, `struct` and `cmsgpack` (bytes and errors), RESP3, and (Strata
//! only) that a script's writes reach the log as one unit and a runaway script is
//! stopped. The tests not marked Strata-only pass against redis-server 7.0.15 too
//! (STRATA_TEST_EXTERNAL_PORT).

mod common;

use common::*;
use strata::protocol::Frame;

fn external() -> bool {
    std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok()
}

fn eval(c: &mut Raw, script: &str, keys: &[&str], args: &[&str]) -> Frame {
    let n = keys.len().to_string();
    let mut cmd = vec!["EVAL", script, n.as_str()];
    cmd.extend_from_slice(keys);
    cmd.extend_from_slice(args);
    c.call(&cmd)
}

fn sha(script: &str) -> String {
    strata::command::scripting::sha1_hex(script.as_bytes())
}

#[test]
fn lua_values_become_redis_replies() {
    let s = start();
    let mut c = s.raw();
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    assert_eq!(e(&mut c, "return 42"), int(42));
    // Numbers are truncated to integers; false is a null, true is 1 (RESP2).
    assert_eq!(e(&mut c, "return 3.99"), int(3));
    assert_eq!(e(&mut c, "return -3.99"), int(-3));
    // Outside the integer range (2^63 is what Lua makes of i64::MAX), or NaN: what C's
    // conversion gives on x86-64.
    for big in ["9223372036854775807", "1/0", "-1/0", "0/0", "-1e300"] {
        assert_eq!(e(&mut c, &format!("return {big}")), int(i64::MIN), "{big}");
    }
    assert_eq!(e(&mut c, "return 'hi'"), bulk("hi"));
    assert_eq!(e(&mut c, "return true"), int(1));
    assert_eq!(e(&mut c, "return false"), nil());
    assert_eq!(e(&mut c, "return nil"), nil());
    assert_eq!(e(&mut c, "return"), nil());
    // An array stops at its first nil.
    assert_eq!(
        e(&mut c, "return {1, 2, 3.7, 'a', true, false, nil, 4}"),
        arr(vec![int(1), int(2), int(3), bulk("a"), int(1), nil()])
    );
    assert_eq!(
        e(&mut c, "return {1, {2, 3}, 'x'}"),
        arr(vec![int(1), arr(vec![int(2), int(3)]), bulk("x")])
    );
    assert_eq!(e(&mut c, "return {ok='fine'}"), simple("fine"));
    assert_eq!(e(&mut c, "return {err='bad thing'}"), err("bad thing"));
    assert_eq!(e(&mut c, "return redis.status_reply('st')"), simple("st"));
    assert_eq!(
        e(&mut c, "return redis.error_reply('MY err')"),
        err("MY err")
    );
    assert_eq!(e(&mut c, "return {err='a\\r\\nb'}"), err("a  b"));
    if !external() {
        // (Redis nests arrays until its Lua stack runs out, then puts the error there.)
        assert_eq!(
            e(&mut c, "local t = {}; t[1] = t; return t"),
            err("ERR reached lua stack limit")
        );
    }
    assert_eq!(
        eval(&mut c, "return {KEYS, ARGV}", &["k1", "k2"], &["a"]),
        arr(vec![bulks(&["k1", "k2"]), bulks(&["a"])])
    );
}

#[test]
fn command_replies_become_lua_values() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("HSET h a 1"), int(1));
    assert_eq!(c.q("SET s str"), ok());
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    // Status replies are {ok=...}, nulls false, integers numbers.
    assert_eq!(
        e(&mut c, "return redis.call('set', 'x', 'y').ok"),
        bulk("OK")
    );
    assert_eq!(
        e(&mut c, "return redis.call('get', 'nosuch') == false"),
        int(1)
    );
    assert_eq!(e(&mut c, "return redis.call('type', 'h')"), simple("hash"));
    assert_eq!(
        e(&mut c, "return redis.call('hgetall', 'h')"),
        bulks(&["a", "1"])
    );
    // pcall hands the error over as a table; pcall around redis.call as its text.
    assert_eq!(
        e(&mut c, "return redis.pcall('incr', 's').err"),
        bulk("ERR value is not an integer or out of range")
    );
    assert_eq!(
        e(
            &mut c,
            "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), e}"
        ),
        bulks(&["false", "ERR value is not an integer or out of range"])
    );
    // Numbers as arguments: integers as such, others as C's %.17g.
    assert_eq!(e(&mut c, "return redis.call('set', 'f', 0.1)"), ok());
    assert_eq!(c.q("GET f"), bulk("0.10000000000000001"));
    assert_eq!(e(&mut c, "return redis.call('set', 'f', 1e20)"), ok());
    assert_eq!(c.q("GET f"), bulk("1e+20"));
    assert_eq!(e(&mut c, "return redis.call('incrby', 'n', 7)"), int(7));
    // RESP3 replies after redis.setresp(3).
    assert_eq!(
        e(
            &mut c,
            "redis.setresp(3); return redis.call('hgetall', 'h').map.a"
        ),
        bulk("1")
    );
}

#[test]
fn errors_name_the_script_and_the_line() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET s str"), ok());
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    let at = |msg: &str, script: &str| {
        err(&format!(
            "{msg} script: {}, on @user_script:1.",
            sha(script)
        ))
    };
    for (script, msg) in [
        (
            "return x",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'x'",
        ),
        (
            "x = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='X boom'})", "X boom"),
        (
            "return redis.call('incr', 's')",
            "ERR value is not an integer or out of range",
        ),
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call({})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return redis.call('subscribe', 'ch')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('eval', 'return 1', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('client', 'id')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('blpop', 'l', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.setresp(4)",
            "ERR RESP version must be 2 or 3.",
        ),
        (
            "return tostring(print)",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'print'",
        ),
        (
            "return os.time()",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
    ] {
        assert_eq!(e(&mut c, script), at(msg, script), "{script}");
    }
    // The line is the script's, in a nested function too.
    let script = "local function f()\n  return redis.call('incr', 's')\nend\nreturn f()";
    assert_eq!(
        e(&mut c, script),
        err(&format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:2.",
            sha(script)
        ))
    );
    assert_eq!(
        e(&mut c, "retur 1"),
        err("ERR Error compiling script (new function): user_script:1: '=' expected near '1'")
    );
    assert_eq!(
        c.call(&["EVAL", "return 0", "-1"]),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        c.call(&["EVAL", "return 0", "3", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        c.call(&["EVAL", "return 0", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        eval(&mut c, "return redis.call('set', 'a', 'b')", &[], &[]),
        ok()
    );
    let script = "return redis.call('set', 'a', 'b')";
    assert_eq!(
        c.call(&["EVAL_RO", script, "0"]),
        at(
            "ERR Write commands are not allowed from read-only scripts.",
            script
        )
    );
    assert_eq!(
        c.call(&["EVAL_RO", "return redis.call('get', 'a')", "0"]),
        bulk("b")
    );
}

#[test]
fn the_script_cache_serves_evalsha() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SCRIPT FLUSH"), ok());
    let body = "return redis.call('incrby', KEYS[1], ARGV[1])";
    let digest = sha(body);
    assert_eq!(
        c.call(&["EVALSHA", &digest, "1", "n", "2"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    assert_eq!(c.call(&["SCRIPT", "LOAD", body]), bulk(&digest));
    assert_eq!(c.call(&["EVALSHA", &digest, "1", "n", "2"]), int(2));
    // The digest is accepted in upper case, as Redis accepts it.
    let upper = digest.to_uppercase();
    assert_eq!(c.call(&["EVALSHA_RO", &upper, "1", "n", "2"]), err(&format!(
        "ERR Write commands are not allowed from read-only scripts. script: {digest}, on @user_script:1."
    )));
    assert_eq!(c.call(&["EVALSHA", &upper, "1", "n", "3"]), int(5));
    assert_eq!(
        c.call(&[
            "SCRIPT",
            "EXISTS",
            &digest,
            "0000000000000000000000000000000000000000"
        ]),
        arr(vec![int(1), int(0)])
    );
    // EVAL caches what it ran.
    assert_eq!(eval(&mut c, "return 7", &[], &[]), int(7));
    assert_eq!(c.call(&["EVALSHA", &sha("return 7"), "0"]), int(7));
    assert_eq!(
        info_field(&mut c, "memory", "number_of_cached_scripts"),
        "2"
    );
    assert_eq!(c.q("SCRIPT FLUSH ASYNC"), ok());
    assert_eq!(c.call(&["SCRIPT", "EXISTS", &digest]), arr(vec![int(0)]));
    assert_eq!(
        info_field(&mut c, "memory", "number_of_cached_scripts"),
        "0"
    );
    assert_eq!(
        c.q("SCRIPT FLUSH LATER"),
        err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    assert_eq!(
        c.q("SCRIPT KILL"),
        err("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(
        c.call(&["SCRIPT", "LOAD", "retur 1"]),
        err("ERR Error compiling script (new function): user_script:1: '=' expected near '1'")
    );
}

#[test]
fn scripts_select_their_own_database_and_keep_the_sandbox() {
    let s = start();
    let mut c = s.raw();
    // SELECT inside a script changes the script's database, not the caller's.
    assert_eq!(
        eval(
            &mut c,
            "redis.call('select', 3); return redis.call('set', 'k', 'in3')",
            &[],
            &[]
        ),
        ok()
    );
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("SELECT 3"), ok());
    assert_eq!(c.q("GET k"), bulk("in3"));
    // The libraries Redis gives scripts.
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    assert_eq!(
        e(&mut c, "return cjson.encode({a=1, b={1, 2, 3.5}})"),
        bulk("{\"a\":1,\"b\":[1,2,3.5]}")
    );
    assert_eq!(e(&mut c, "return cjson.encode({})"), bulk("{}"));
    assert_eq!(
        e(&mut c, "local t = cjson.decode('[1, \"two\", {\"x\": null}]'); return {t[1], t[2], tostring(t[3].x == cjson.null)}"),
        arr(vec![int(1), bulk("two"), bulk("true")])
    );
    assert_eq!(e(&mut c, "return bit.band(0xff, 0x0f)"), int(15));
    assert_eq!(e(&mut c, "return bit.bxor(5, 3, 1)"), int(7));
    assert_eq!(e(&mut c, "return bit.lshift(1, 31)"), int(-2147483648));
    assert_eq!(e(&mut c, "return bit.rshift(-1, 28)"), int(15));
    assert_eq!(e(&mut c, "return bit.tohex(65535)"), bulk("0000ffff"));
    assert_eq!(e(&mut c, "return bit.tohex(-1, -4)"), bulk("FFFF"));
    assert_eq!(
        e(&mut c, "return redis.sha1hex('')"),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(e(&mut c, "return loadstring('return 1 + 1')()"), int(2));
    assert_eq!(
        e(
            &mut c,
            "return table.concat({'a', 'b'}, '-') .. string.rep('x', 2)"
        ),
        bulk("a-bxx")
    );
    assert_eq!(e(&mut c, "return redis.REDIS_VERSION ~= nil"), int(1));
}

/// A script's error reply for a library error raised on its line 1.
fn lib_err(script: &str, msg: &str) -> Frame {
    err(&format!(
        "ERR user_script:1: {msg} script: {}, on @user_script:1.",
        sha(script)
    ))
}

#[test]
fn cmsgpack_gives_redis_bytes_and_errors() {
    let s = start();
    let mut c = s.raw();
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    // Smallest integer forms, a float where it round-trips, else a double; arrays for
    // keys 1..n, maps otherwise; nil for what MessagePack cannot hold. (Bytes from
    // redis-server 7.0.15.)
    assert_eq!(
        e(
            &mut c,
            "return cmsgpack.pack({1, -1, 127, 128, -33, 65536, -2^31, 2^40, 0.5, 1.1, 'hi', true, false})"
        ),
        bulk(
            b"\x9d\x01\xff\x7f\xcc\x80\xd0\xdf\xce\x00\x01\x00\x00\xd2\x80\x00\x00\x00\xcf\x00\x00\x01\x00\x00\x00\x00\x00\xca?\x00\x00\x00\xcb?\xf1\x99\x99\x99\x99\x99\x9a\xa2hi\xc3\xc2"
        )
    );
    let mut packed = b"\x81\xa1a\x01\xd9\x28".to_vec();
    packed.extend_from_slice(&[b'x'; 40]);
    packed.extend_from_slice(b"\x90\xc0\x91\x91\x90");
    assert_eq!(
        e(
            &mut c,
            "return cmsgpack.pack({a = 1}, string.rep('x', 40), {}, function() end, {{{}}})"
        ),
        bulk(packed)
    );
    // A table that holds itself stops at 16 levels.
    assert_eq!(
        e(&mut c, "local t = {} t[1] = t return #cmsgpack.pack(t)"),
        int(17)
    );
    assert_eq!(
        e(
            &mut c,
            "local t = cmsgpack.unpack(cmsgpack.pack({1, 'two', {three = 3}, 4.5})) \
             return {t[1], t[2], t[3].three, tostring(t[4])}"
        ),
        arr(vec![int(1), bulk("two"), int(3), bulk("4.5")])
    );
    // Several values: the offset after those read comes first, -1 at the end.
    let three = "cmsgpack.pack(10, 20, 30)";
    for (call, want) in [
        (format!("cmsgpack.unpack_one({three}, 0)"), vec![1, 10]),
        (format!("cmsgpack.unpack_one({three}, 2)"), vec![-1, 30]),
        (
            format!("cmsgpack.unpack_limit({three}, 2, 1)"),
            vec![-1, 20, 30],
        ),
        (format!("cmsgpack.unpack({three})"), vec![10, 20, 30]),
    ] {
        let got = e(&mut c, &format!("return {{{call}}}"));
        assert_eq!(got, arr(want.into_iter().map(int).collect()), "{call}");
    }
    for (script, msg) in [
        (
            "return cmsgpack.unpack('\\193')",
            "Bad data format in input.",
        ),
        (
            "return cmsgpack.unpack('\\146\\1')",
            "Missing bytes in input.",
        ),
        (
            "return cmsgpack.unpack_one('\\1', 5)",
            "Start offset 5 greater than input length 1.",
        ),
        (
            "return cmsgpack.unpack_one('\\1\\2', -1)",
            "Invalid request to unpack with offset of -1 and limit of 2.",
        ),
        (
            "return cmsgpack.pack()",
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ),
        (
            "return cmsgpack.unpack()",
            "bad argument #1 to 'unpack' (string expected, got no value)",
        ),
        (
            "return cmsgpack.unpack_limit('x')",
            "bad argument #2 to 'unpack_limit' (number expected, got no value)",
        ),
    ] {
        assert_eq!(e(&mut c, script), lib_err(script, msg), "{script}");
    }
    // Nesting is bounded by Lua's stack, with Redis's message.
    assert_eq!(
        e(
            &mut c,
            "local ok, m = pcall(cmsgpack.unpack, string.rep('\\145', 5000) .. '\\1') return m"
        ),
        bulk("stack overflow (in function mp_decode_to_lua_array)")
    );
    // Under pcall, a library's error is its message (a string), as from Redis's C.
    assert_eq!(
        e(
            &mut c,
            "local ok, m = pcall(cmsgpack.unpack, '\\129\\192\\1') return m"
        ),
        bulk("table index is nil")
    );
    assert_eq!(
        e(
            &mut c,
            "local ok, m = pcall(cjson.decode, '{') return type(m)"
        ),
        bulk("string")
    );
    assert_eq!(
        e(&mut c, "local ok, m = pcall(bit.band, 'x') return m"),
        bulk("bad argument #1 to '?' (number expected, got string)")
    );
    // xpcall's handler gets the message too, and a redis.call error as its table.
    assert_eq!(
        e(
            &mut c,
            "local ok, m = xpcall(function() return struct.pack('q') end, function(e) return e end) return m"
        ),
        bulk("user_script:1: bad argument #1 to 'pack' (invalid format option 'q')")
    );
    assert_eq!(
        e(
            &mut c,
            "local ok, m = xpcall(function() return redis.call('INCR', 'x', 'y') end, \
             function(e) return type(e) .. ': ' .. e.err end) return m"
        ),
        bulk("table: ERR Wrong number of args calling Redis command from script")
    );
    assert_eq!(
        e(&mut c, "return cmsgpack._NAME .. ' ' .. cmsgpack._VERSION"),
        bulk("cmsgpack lua-cmsgpack 0.4.0")
    );
    // cjson checks its arguments with the same conventions.
    for (script, msg) in [
        (
            "return cjson.decode()",
            "bad argument #1 to 'decode' (expected 1 argument)",
        ),
        (
            "return cjson.encode(1, 2)",
            "bad argument #1 to 'encode' (expected 1 argument)",
        ),
        (
            "return cjson.decode({})",
            "bad argument #1 to 'decode' (string expected, got table)",
        ),
    ] {
        assert_eq!(e(&mut c, script), lib_err(script, msg), "{script}");
    }
    assert_eq!(e(&mut c, "return cjson.decode(5)"), int(5));
}

#[test]
fn struct_gives_redis_bytes_and_errors() {
    let s = start();
    let mut c = s.raw();
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    assert_eq!(
        e(
            &mut c,
            "return struct.pack('>hBi3<I2d', -2, 255, 70000, 513, 1.5)"
        ),
        bulk(b"\xff\xfe\xff\x01\x11p\x01\x02\x00\x00\x00\x00\x00\x00\xf8?")
    );
    assert_eq!(
        e(
            &mut c,
            "return {struct.unpack('>hBi3<I2', struct.pack('>hBi3<I2', -2, 255, 70000, 513))}"
        ),
        arr(vec![int(-2), int(255), int(70000), int(513), int(9)])
    );
    // Alignment, a zero-terminated string, and c0 taking its length from the number
    // before it.
    assert_eq!(
        e(
            &mut c,
            "local p = struct.pack('!4 b i s', 1, 2, 'zero') return {#p, struct.unpack('!4 b i s', p)}"
        ),
        arr(vec![int(13), int(1), int(2), bulk("zero"), int(14)])
    );
    assert_eq!(
        e(&mut c, "return {struct.unpack('Bc0', '\\3abcd')}"),
        arr(vec![bulk("abc"), int(5)])
    );
    assert_eq!(e(&mut c, "return struct.size('!8 b d i2')"), int(18));
    for (script, msg) in [
        (
            "return struct.pack('i33', 1)",
            "integral size 33 is larger than limit of 32",
        ),
        (
            "return struct.pack('q', 1)",
            "bad argument #1 to 'pack' (invalid format option 'q')",
        ),
        (
            "return struct.pack('ii', 1)",
            "bad argument #3 to 'pack' (number expected, got nil)",
        ),
        (
            "return struct.pack('c5', 'ab')",
            "bad argument #3 to 'pack' (string too short)",
        ),
        (
            "return struct.unpack('i', 'ab')",
            "bad argument #2 to 'unpack' (data string too short)",
        ),
        (
            "return struct.unpack('b', 'a', 0)",
            "bad argument #3 to 'unpack' (offset must be 1 or greater)",
        ),
        (
            "return struct.unpack('c0', 'abc')",
            "format 'c0' needs a previous size",
        ),
        (
            "return struct.size('s')",
            "bad argument #1 to 'size' (option 's' has no fixed size)",
        ),
        (
            "return struct.pack('!3', 1)",
            "alignment 3 is not a power of 2",
        ),
    ] {
        assert_eq!(e(&mut c, script), lib_err(script, msg), "{script}");
    }
}

#[test]
fn ten_thousand_distinct_scripts_all_stay_runnable() {
    // Each cached script used to hold one of mlua's ~8,000 reference slots: from the
    // 7,988th distinct script on, every EVAL failed until SCRIPT FLUSH.
    let s = start();
    let mut c = s.raw();
    for i in 0..10_000 {
        let script = format!("return {i}");
        assert_eq!(eval(&mut c, &script, &[], &[]), int(i), "script {i}");
    }
    assert_eq!(c.call(&["EVALSHA", &sha("return 7"), "0"]), int(7));
    assert_eq!(c.q("SCRIPT FLUSH"), ok());
    assert_eq!(eval(&mut c, "return 'after'", &[], &[]), bulk("after"));
}

#[test]
fn no_script_can_change_what_the_next_one_finds() {
    let s = start();
    let mut c = s.raw();
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    let refused = |script: &str, located: bool| {
        let at = if located { "user_script:1: " } else { "" };
        err(&format!(
            "ERR {at}Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha(script)
        ))
    };
    for script in [
        "string.rep = nil",
        "redis.call = function() return 'hijacked' end",
        "cjson.encode = nil",
        "bit.band = nil",
        "cmsgpack.pack = nil",
        "struct.unpack = nil",
        "math.floor = nil",
        "table.x = 1",
        "coroutine.x = 1",
        "getmetatable('').foo = 1",
        "getmetatable('').__index.rep = nil",
        "x = 1",
    ] {
        assert_eq!(e(&mut c, script), refused(script, true), "{script}");
    }
    for script in ["rawset(string, 'rep', nil)", "rawset(_G, 'x', 1)"] {
        assert_eq!(e(&mut c, script), refused(script, false), "{script}");
    }
    // Everything still works, through the protection.
    assert_eq!(
        e(
            &mut c,
            "return {string.rep('a', 2), ('b'):rep(2), math.floor(2.5), redis.call('ping')['ok']}"
        ),
        arr(vec![bulk("aa"), bulk("bb"), int(2), bulk("PONG")])
    );
    assert_eq!(
        e(
            &mut c,
            "local t = {} rawset(t, 'a', 1) return rawget(t, 'a')"
        ),
        int(1)
    );
}

#[test]
fn resp3_clients_get_resp3_types() {
    let s = start();
    let mut c = s.raw();
    let _ = c.q("HELLO 3");
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    // Booleans follow the script's protocol, the rest the client's.
    assert_eq!(e(&mut c, "return true"), int(1));
    assert_eq!(e(&mut c, "return false"), Frame::Null);
    assert_eq!(
        e(&mut c, "redis.setresp(3) return true"),
        Frame::Boolean(true)
    );
    assert_eq!(
        e(&mut c, "redis.setresp(3) return false"),
        Frame::Boolean(false)
    );
    assert_eq!(e(&mut c, "return redis.call('get', 'nokey')"), Frame::Null);
    assert_eq!(e(&mut c, "return nil"), Frame::Null);
    assert_eq!(e(&mut c, "return {double=3.5}"), Frame::Double(3.5));
    assert_eq!(
        e(&mut c, "return {map={a=1}}"),
        Frame::Map(vec![(bulk("a"), int(1))])
    );
    assert_eq!(
        e(&mut c, "return {set={x=true}}"),
        Frame::Set(vec![bulk("x")])
    );
}

#[test]
fn a_script_write_breaks_a_watch() {
    let s = start();
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.q("WATCH w"), ok());
    assert_eq!(
        eval(
            &mut b,
            "return redis.call('set', KEYS[1], 'x')",
            &["w"],
            &[]
        ),
        ok()
    );
    assert_eq!(a.q("MULTI"), ok());
    assert_eq!(a.q("SET w y"), simple("QUEUED"));
    assert_eq!(a.q("EXEC"), Frame::NullArray);
    // EVAL inside MULTI runs at EXEC.
    assert_eq!(a.q("MULTI"), ok());
    assert_eq!(
        a.call(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "cnt"]),
        simple("QUEUED")
    );
    assert_eq!(a.q("INCR cnt"), simple("QUEUED"));
    assert_eq!(a.q("EXEC"), arr(vec![int(1), int(2)]));
}

#[test]
fn a_user_runs_in_its_scripts_only_what_its_acl_allows() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(
        admin.q("ACL SETUSER app on nopass ~app:* +@all -flushall"),
        ok()
    );
    let mut c = s.raw();
    assert_eq!(c.q("AUTH app x"), ok());
    let script = "return redis.call('get', 'other')";
    assert_eq!(
        eval(&mut c, script, &[], &[]),
        err(&format!(
            "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    let script = "return redis.call('flushall')";
    assert_eq!(
        eval(&mut c, script, &[], &[]),
        err(&format!(
            "ERR The user executing the script can't run this command or subcommand script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    // Both refusals are in ACL LOG, newest first, in the `lua` context.
    let log = as_array(admin.q("ACL LOG 2"));
    let fields = |entry: &Frame| -> Vec<String> {
        as_array(entry.clone())
            .iter()
            .map(|f| match f {
                Frame::Integer(n) => n.to_string(),
                other => as_text(other),
            })
            .collect()
    };
    let after = |f: &[String], k: &str| f[f.iter().position(|x| x == k).unwrap() + 1].clone();
    for (entry, reason, object) in [(&log[0], "command", "flushall"), (&log[1], "key", "other")] {
        let f = fields(entry);
        assert_eq!(
            (
                after(&f, "reason"),
                after(&f, "context"),
                after(&f, "object")
            ),
            (reason.to_string(), "lua".to_string(), object.to_string()),
            "{f:?}"
        );
    }
    assert_eq!(
        eval(&mut c, "return redis.call('set', 'app:1', 'v')", &[], &[]),
        ok()
    );
    // EVAL's own KEYS are checked before the script runs.
    assert_eq!(
        eval(&mut c, "return 1", &["other"], &[]),
        err("NOPERM this user has no permissions to access one of the keys used as arguments")
    );
}

#[test]
fn the_redis_crate_script_helper_works() {
    let s = start();
    let mut con = s.conn();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    // Script::invoke tries EVALSHA, then loads the script on NOSCRIPT.
    let script = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
    let n: i64 = script.key("counter").arg(5).invoke(&mut con).unwrap();
    assert_eq!(n, 5);
    let n: i64 = script.key("counter").arg(2).invoke(&mut con).unwrap();
    assert_eq!(n, 7);
}

/// Strata only: a script's writes are logged as their effects, bracketed as one
/// transaction, so a restart gives back exactly what the script did (random choices
/// included) and the log never holds half a script.
#[test]
fn script_writes_replay_from_the_log() {
    if external() {
        return;
    }
    let mut s = start_with(|c| c.appendonly = true);
    let mut c = s.raw();
    assert_eq!(c.q("SADD pool a b c d e f"), int(6));
    let script = "
        local popped = redis.call('spop', KEYS[1])
        redis.call('rpush', KEYS[2], popped)
        redis.call('incr', KEYS[3])
        redis.call('select', 1)
        redis.call('set', 'elsewhere', popped)
        return popped";
    let popped = as_text(&eval(&mut c, script, &["pool", "taken", "count"], &[]));
    let before = sorted_texts(c.q("SMEMBERS pool"));
    assert_eq!(before.len(), 5);
    drop(c);
    let s2 = restart_with_log(&mut s);
    let mut c = s2.raw();
    assert_eq!(sorted_texts(c.q("SMEMBERS pool")), before);
    assert_eq!(c.q("LRANGE taken 0 -1"), bulks(&[&popped]));
    assert_eq!(c.q("GET count"), bulk("1"));
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(c.q("GET elsewhere"), bulk(&popped));

    // One log record holds the whole script: MULTI, its five effects, EXEC.
    let dir = s.dir.path();
    let log = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "incr"))
        .expect("an incremental log");
    let bytes = std::fs::read(&log).unwrap();
    let (records, _) = strata::persistence::LogReader::new(bytes, Default::default())
        .unwrap()
        .read_to_end()
        .unwrap();
    let scripted: Vec<_> = records
        .iter()
        .filter(|r| r.args[0].as_ref() == strata::engine::TXN_RECORD)
        .collect();
    assert_eq!(scripted.len(), 1, "one transaction record");
    let words: Vec<String> = scripted[0]
        .args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    for effect in ["srem", "rpush", "incr", "elsewhere"] {
        assert!(words.iter().any(|w| w == effect), "{effect} in {words:?}");
    }
}

/// Strata only: a script that runs past `busy-reply-threshold` without writing is
/// stopped (Strata cannot take SCRIPT KILL while a script runs), even one that catches
/// errors; one that has written runs to its end.
#[test]
fn a_runaway_script_is_stopped() {
    if external() {
        return;
    }
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("CONFIG SET busy-reply-threshold 200"), ok());
    for script in [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
    ] {
        let Frame::Error(reply) = eval(&mut c, script, &[], &[]) else {
            panic!("{script} was not stopped");
        };
        assert!(
            reply.starts_with("ERR Script killed: it ran longer than busy-reply-threshold (200 ms) without writing."),
            "{reply}"
        );
        assert!(
            reply.ends_with(&format!("script: {}, on @user_script:1.", sha(script))),
            "{reply}"
        );
        assert_eq!(c.q("PING"), simple("PONG"));
    }
    // Written first: runs on past the threshold and finishes.
    let script = "redis.call('set', 'w', '1')
        local spins = 0
        while spins < 30000000 do spins = spins + 1 end
        return 'done'";
    assert_eq!(eval(&mut c, script, &[], &[]), bulk("done"));
    assert_eq!(c.q("GET w"), bulk("1"));
    assert_eq!(
        c.q("CONFIG GET lua-time-limit"),
        bulks(&["lua-time-limit", "200"])
    );
}

#[test]
fn a_shebang_line_declares_what_a_script_may_do() {
    let s = start();
    let mut c = s.raw();
    let e = |c: &mut Raw, script: &str| eval(c, script, &[], &[]);
    // The line is blanked, so line numbers stay the body's.
    let script = "#!lua\nreturn x";
    assert_eq!(
        e(&mut c, script),
        err(&format!(
            "ERR user_script:2: Script attempted to access nonexistent global variable 'x' script: {}, on @user_script:2.",
            sha(script)
        ))
    );
    let script = "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')";
    assert_eq!(
        e(&mut c, script),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.",
            sha(script)
        ))
    );
    assert_eq!(
        e(&mut c, "#!lua flags=no-writes,allow-oom\nreturn 1"),
        int(1)
    );
    assert_eq!(
        e(&mut c, "#!lua flags=bogus\nreturn 1"),
        err("ERR Unexpected flag in script shebang: bogus")
    );
    assert_eq!(
        e(&mut c, "#!py\nreturn 1"),
        err("ERR Unexpected engine in script shebang: #!py")
    );
    assert_eq!(
        e(&mut c, "#!lua name=x\nreturn 1"),
        err("ERR Unknown lua shebang option: name=x")
    );
    assert_eq!(e(&mut c, "#!lua"), err("ERR Invalid script shebang"));
    assert_eq!(
        c.call(&["EVAL_RO", "#!lua\nreturn 1", "0"]),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        c.call(&["EVAL_RO", "#!lua flags=no-writes\nreturn 2", "0"]),
        int(2)
    );
    // Over maxmemory a script that may write does not start; allow-oom lets it write.
    assert_eq!(c.q("CONFIG SET maxmemory 1"), ok());
    assert_eq!(
        e(&mut c, "#!lua\nreturn 1"),
        err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    assert_eq!(e(&mut c, "#!lua flags=no-writes\nreturn 5"), int(5));
    assert_eq!(
        e(
            &mut c,
            "#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')"
        ),
        ok()
    );
    // Without a shebang the script runs, and its first write that may grow memory fails.
    let script = "return redis.call('set', 'k2', 'v')";
    assert_eq!(
        e(&mut c, script),
        err(&format!(
            "OOM command not allowed when used memory > 'maxmemory'. script: {}, on @user_script:1.",
            sha(script)
        ))
    );
    assert_eq!(c.q("CONFIG SET maxmemory 0"), ok());
}

#[test]
fn commands_a_script_runs_count_in_commandstats() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("CONFIG RESETSTAT"), ok());
    let script =
        "redis.call('incr', 'cs') redis.call('incr', 'cs') return redis.pcall('incr', 'cs', 'x')";
    let Frame::Error(_) = eval(&mut c, script, &[], &[]) else {
        panic!("the wrong-arity INCR is the script's reply");
    };
    let line = info_field(&mut c, "commandstats", "cmdstat_incr");
    let field = |name: &str| -> String {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            .to_string()
    };
    assert_eq!(field("calls"), "2", "{line}");
    assert_eq!(field("rejected_calls"), "1", "{line}");
    // A command that ran and failed is a failed call and counts in errorstats once:
    // the script passing its error on as the reply does not count it again.
    assert_eq!(c.q("CONFIG RESETSTAT"), ok());
    assert_eq!(c.q("SET str v"), ok());
    let script = "redis.pcall('incr', 'str') return redis.call('incr', 'str')";
    let Frame::Error(_) = eval(&mut c, script, &[], &[]) else {
        panic!("the failing INCR is the script's reply");
    };
    let line = info_field(&mut c, "commandstats", "cmdstat_incr");
    assert!(line.ends_with(",rejected_calls=0,failed_calls=2"), "{line}");
    assert_eq!(info_field(&mut c, "errorstats", "errorstat_ERR"), "count=2");
    assert_eq!(info_field(&mut c, "stats", "total_error_replies"), "2");
    // A refused command counts too; an error the script makes up counts as its reply.
    let script = "redis.pcall('incr') return redis.error_reply('MINE made up')";
    assert_eq!(eval(&mut c, script, &[], &[]), err("MINE made up"));
    assert_eq!(info_field(&mut c, "errorstats", "errorstat_ERR"), "count=3");
    assert_eq!(
        info_field(&mut c, "errorstats", "errorstat_MINE"),
        "count=1"
    );
}
