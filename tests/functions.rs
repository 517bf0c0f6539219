//! Guards functions (FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE / STATS,
//! FCALL, FCALL_RO) against Redis 7.0's behaviour: library metadata and registration
//! errors word for word, the loading sandbox, calls with keys and arguments, flags, errors
//! naming the function and line, and DUMP payloads either server restores; and (Strata
//! only) that libraries are part of the dataset: they come back after a restart from the
//! log, after a log rewrite, after DEBUG RELOAD and from a snapshot. The tests not marked
//! Strata-only pass against redis-server 7.0.15 too (STRATA_TEST_EXTERNAL_PORT).

mod common;

use common::*;
use strata::protocol::Frame;

fn external() -> bool {
    std::env::var("STRATA_TEST_EXTERNAL_PORT").is_ok()
}

/// A connection to a server without libraries (an external server keeps them across
/// FLUSHALL).
fn fresh(s: &Server) -> Raw {
    let mut c = s.raw();
    assert_eq!(c.q("FUNCTION FLUSH"), ok());
    c
}

fn load(c: &mut Raw, code: &str) -> Frame {
    c.call(&["FUNCTION", "LOAD", code])
}

/// FUNCTION STATS's reply when no function runs.
fn stats(libraries: i64, functions: i64) -> Frame {
    arr(vec![
        bulk("running_script"),
        nil(),
        bulk("engines"),
        arr(vec![
            bulk("LUA"),
            arr(vec![
                bulk("libraries_count"),
                int(libraries),
                bulk("functions_count"),
                int(functions),
            ]),
        ]),
    ])
}

const LIB: &str = "#!lua name=mylib
redis.register_function('echo_all', function(keys, args) return {keys[1], args[1], #keys, #args} end)
redis.register_function{function_name='reader', callback=function(keys, args)
  return redis.call('get', keys[1])
end, flags={'no-writes', 'allow-oom'}, description='reads a key'}
redis.register_function('bump', function(keys, args)
  return redis.call('incrby', keys[1], args[1])
end)
redis.register_function('globals', function(keys, args) return KEYS end)";

#[test]
fn a_library_loads_and_its_functions_run() {
    let s = start();
    let mut c = fresh(&s);
    assert_eq!(load(&mut c, LIB), bulk("mylib"));
    assert_eq!(
        c.q("FCALL echo_all 2 k1 k2 a"),
        arr(vec![bulk("k1"), bulk("a"), int(2), int(1)])
    );
    // Function names are found in any case.
    assert_eq!(c.q("FCALL BUMP 1 n 5"), int(5));
    assert_eq!(c.q("FCALL bump 1 n 2"), int(7));
    assert_eq!(c.q("FCALL_RO reader 1 n"), bulk("7"));
    assert_eq!(
        c.q("FCALL_RO bump 1 n 1"),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        c.q("FCALL bump 1 n x"),
        err("ERR value is not an integer or out of range script: bump, on @user_function:7.")
    );
    // Functions get their keys as arguments: KEYS and ARGV do not exist.
    assert_eq!(
        c.q("FCALL globals 0"),
        err("ERR user_function:9: Script attempted to access nonexistent global variable 'KEYS' script: globals, on @user_function:9.")
    );
    assert_eq!(c.q("FCALL nope 0"), err("ERR Function not found"));
    assert_eq!(c.q("FCALL_RO nope 0"), err("ERR Function not found"));
    assert_eq!(
        c.q("FCALL bump 2 k"),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        c.q("FCALL bump -1"),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(c.q("FCALL bump x"), err("ERR Bad number of keys provided"));
    assert_eq!(
        c.q("FCALL"),
        err("ERR wrong number of arguments for 'fcall' command")
    );
    // A function that declared no-writes may not write.
    assert_eq!(
        load(
            &mut c,
            "#!lua name=ro\nredis.register_function{function_name='w', callback=function() return redis.call('set', 'x', 1) end, flags={'no-writes'}}"
        ),
        bulk("ro")
    );
    assert_eq!(
        c.q("FCALL w 0"),
        err("ERR Write commands are not allowed from read-only scripts. script: w, on @user_function:2.")
    );
    // Library tables are read-only for functions too.
    assert_eq!(
        load(
            &mut c,
            "#!lua name=tamper\nredis.register_function('tamper', function() string.rep = nil end)"
        ),
        bulk("tamper")
    );
    assert_eq!(
        c.q("FCALL tamper 0"),
        err("ERR user_function:2: Attempt to modify a readonly table script: tamper, on @user_function:2.")
    );
    // Not inside a script.
    let script = "return redis.call('fcall', 'bump', 1, 'n', 1)";
    assert_eq!(
        c.call(&["EVAL", script, "0"]),
        err(&format!(
            "ERR This Redis command is not allowed from script script: {}, on @user_script:1.",
            strata::command::scripting::sha1_hex(script.as_bytes())
        ))
    );
    // Inside MULTI, and a WATCH broken by a function's write.
    assert_eq!(c.q("WATCH n"), ok());
    let mut other = s.raw();
    assert_eq!(other.q("FCALL bump 1 n 1"), int(8));
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("FCALL bump 1 n 1"), simple("QUEUED"));
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("FCALL bump 1 n 1"), simple("QUEUED"));
    assert_eq!(c.q("EXEC"), arr(vec![int(9)]));
}

#[test]
fn bad_library_code_gets_redis_errors() {
    let s = start();
    let mut c = fresh(&s);
    let body = "\nredis.register_function('f', function() return 1 end)";
    let cases: Vec<(String, &str)> = vec![
        ("return 1".into(), "ERR Missing library metadata"),
        ("#!lua".into(), "ERR Invalid library metadata"),
        (format!("#!lua{body}"), "ERR Library name was not given"),
        (
            format!("#!lua name=a name=b{body}"),
            "ERR Invalid metadata value, name argument was given multiple times",
        ),
        (
            format!("#!lua foo=a{body}"),
            "ERR Invalid metadata value given: foo=a",
        ),
        (
            format!("#!lua name=a-b{body}"),
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
        (format!("#!lux name=ab{body}"), "ERR Engine 'lux' not found"),
        ("#!lua name=ab\nreturn 1".into(), "ERR No functions registered"),
        (
            "#!lua name=ab\nreturn +".into(),
            "ERR Error compiling function: user_function:2: unexpected symbol near '+'",
        ),
        // Only the loading API exists while the code runs.
        (
            "#!lua name=ab\nlocal x = string.format('%d', 1)".into(),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'",
        ),
        (
            "#!lua name=ab\nredis.call('ping')".into(),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'",
        ),
        (
            "#!lua name=ab\nx = 1".into(),
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table",
        ),
        (
            "#!lua name=ab\nwhile true do end".into(),
            "ERR Error registering functions: ERR FUNCTION LOAD timeout",
        ),
    ];
    for (code, want) in &cases {
        assert_eq!(load(&mut c, code), err(want), "{code}");
    }
    let reg = |call: &str| format!("#!lua name=ab\n{call}");
    let cases = [
        ("redis.register_function('f 1', function() end)", "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("redis.register_function('g', function() end)\nredis.register_function('g', function() end)", "Function already exists in the library"),
        ("redis.register_function('g')", "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("redis.register_function('g', 1)", "second argument to redis.register_function must be a function"),
        ("redis.register_function('a', 'b', 'c')", "wrong number of arguments to redis.register_function"),
        ("redis.register_function{function_name='g'}", "redis.register_function must get a callback argument"),
        ("redis.register_function{callback=function() end}", "redis.register_function must get a function name argument"),
        ("redis.register_function{function_name='g', callback=function() end, flags={'bad'}}", "unknown flag given"),
        ("redis.register_function{function_name='g', callback=function() end, foo=1}", "unknown argument given to redis.register_function"),
        ("redis.register_function{function_name='g', callback=function() end, flags='no-writes'}", "flags argument to redis.register_function must be a table representing function flags"),
        ("redis.register_function{function_name='g', callback=1}", "callback argument given to redis.register_function must be a function"),
    ];
    for (call, want) in cases {
        assert_eq!(
            load(&mut c, &reg(call)),
            err(&format!("ERR Error registering functions: ERR {want}")),
            "{call}"
        );
    }
    assert_eq!(c.q("FUNCTION LIST"), arr(vec![]));

    // Names: a library exists once (unless REPLACE), a function name once across them.
    assert_eq!(
        load(
            &mut c,
            &reg("redis.register_function('f1', function() return 1 end)")
        ),
        bulk("ab")
    );
    assert_eq!(
        load(
            &mut c,
            &reg("redis.register_function('f1', function() return 1 end)")
        ),
        err("ERR Library 'ab' already exists")
    );
    assert_eq!(
        load(
            &mut c,
            "#!lua name=cd\nredis.register_function('F1', function() return 2 end)"
        ),
        err("ERR Function F1 already exists")
    );
    assert_eq!(
        c.call(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            &reg("redis.register_function('f2', function() return 2 end)")
        ]),
        bulk("ab")
    );
    assert_eq!(c.q("FCALL f1 0"), err("ERR Function not found"));
    assert_eq!(c.q("FCALL f2 0"), int(2));
    assert_eq!(
        c.q("FUNCTION LOAD foo bar"),
        err("ERR Unknown option given: foo")
    );
    // A library named in another case is another library.
    assert_eq!(
        load(
            &mut c,
            "#!lua name=AB\nredis.register_function('f3', function() return 3 end)"
        ),
        bulk("AB")
    );
}

#[test]
fn function_list_stats_delete_and_flush() {
    let s = start();
    let mut c = fresh(&s);
    assert_eq!(load(&mut c, "#!lua name=lib1\nredis.register_function{function_name='one', callback=function() return 1 end, flags={'allow-oom', 'no-writes'}, description='the first'}"), bulk("lib1"));
    let code2 = "#!lua name=lib2\nredis.register_function('two', function() return 2 end)";
    assert_eq!(load(&mut c, code2), bulk("lib2"));
    let lib2 = arr(vec![
        bulk("library_name"),
        bulk("lib2"),
        bulk("engine"),
        bulk("LUA"),
        bulk("functions"),
        arr(vec![arr(vec![
            bulk("name"),
            bulk("two"),
            bulk("description"),
            nil(),
            bulk("flags"),
            arr(vec![]),
        ])]),
    ]);
    assert_eq!(c.q("FUNCTION LIST LIBRARYNAME *2"), arr(vec![lib2.clone()]));
    // Flags in Redis's order, whatever order they were given in.
    assert_eq!(
        c.q("FUNCTION LIST libraryname lib1"),
        arr(vec![arr(vec![
            bulk("library_name"),
            bulk("lib1"),
            bulk("engine"),
            bulk("LUA"),
            bulk("functions"),
            arr(vec![arr(vec![
                bulk("name"),
                bulk("one"),
                bulk("description"),
                bulk("the first"),
                bulk("flags"),
                arr(vec![simple("no-writes"), simple("allow-oom")]),
            ])]),
        ])])
    );
    let Frame::Array(mut with_code) = c.q("FUNCTION LIST WITHCODE LIBRARYNAME lib2") else {
        panic!()
    };
    let Frame::Array(fields) = with_code.remove(0) else {
        panic!()
    };
    assert_eq!(fields[6..], [bulk("library_code"), bulk(code2)]);
    assert_eq!(as_array(c.q("FUNCTION LIST")).len(), 2);
    for (args, want) in [
        (
            "FUNCTION LIST LIBRARYNAME",
            "ERR library name argument was not given",
        ),
        ("FUNCTION LIST foo", "ERR Unknown argument foo"),
        (
            "FUNCTION LIST WITHCODE WITHCODE",
            "ERR Unknown argument WITHCODE",
        ),
        ("FUNCTION DELETE nope", "ERR Library not found"),
        (
            "FUNCTION FLUSH bad",
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ),
        (
            "FUNCTION FLUSH a b",
            "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.",
        ),
        (
            "FUNCTION KILL",
            "NOTBUSY No scripts in execution right now.",
        ),
        (
            "FUNCTION nope",
            "ERR unknown subcommand 'nope'. Try FUNCTION HELP.",
        ),
        (
            "FUNCTION DELETE a b",
            "ERR wrong number of arguments for 'function|delete' command",
        ),
    ] {
        assert_eq!(c.q(args), err(want), "{args}");
    }
    assert_eq!(c.q("FUNCTION STATS"), stats(2, 2));
    assert_eq!(info_field(&mut c, "memory", "number_of_functions"), "2");
    assert_eq!(info_field(&mut c, "memory", "number_of_libraries"), "2");
    assert_eq!(c.q("FUNCTION DELETE lib1"), ok());
    assert_eq!(c.q("FCALL one 0"), err("ERR Function not found"));
    assert_eq!(c.q("FUNCTION LIST"), arr(vec![lib2]));
    // FLUSHALL leaves functions alone; FUNCTION FLUSH removes them.
    assert_eq!(c.q("FLUSHALL"), ok());
    assert_eq!(c.q("FCALL two 0"), int(2));
    assert_eq!(c.q("FUNCTION FLUSH ASYNC"), ok());
    assert_eq!(c.q("FUNCTION LIST"), arr(vec![]));
    assert_eq!(info_field(&mut c, "memory", "number_of_functions"), "0");
}

/// FUNCTION DUMP of redis-server 7.0.15 after FUNCTION LOAD of [`DUMPED`].
const REDIS_DUMP: &[u8] = b"\xf5@B#!lua name=a\nredis.register_function(\"f\", function() return 1 end)\n\x00u?R\xbb6h\xcd\xd0";
const DUMPED: &str = "#!lua name=a\nredis.register_function(\"f\", function() return 1 end)";

#[test]
fn dump_and_restore_carry_libraries_between_servers() {
    let s = start();
    let mut c = fresh(&s);
    assert_eq!(load(&mut c, DUMPED), bulk("a"));
    // Byte for byte what Redis dumps, so each restores the other's payload.
    assert_eq!(c.q("FUNCTION DUMP"), bulk(REDIS_DUMP));
    assert_eq!(c.q("FUNCTION FLUSH"), ok());
    let restore = |c: &mut Raw, payload: &[u8], policy: Option<&str>| {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
        if let Some(p) = policy {
            args.push(p.as_bytes());
        }
        c.call(&args)
    };
    assert_eq!(restore(&mut c, REDIS_DUMP, None), ok());
    assert_eq!(c.q("FCALL f 0"), int(1));
    assert_eq!(
        restore(&mut c, REDIS_DUMP, None),
        err("ERR Library a already exists")
    );
    assert_eq!(
        restore(&mut c, REDIS_DUMP, Some("APPEND")),
        err("ERR Library a already exists")
    );
    assert_eq!(restore(&mut c, REDIS_DUMP, Some("replace")), ok());
    // Another library holding a function of the same name: refused even with REPLACE,
    // and nothing changed.
    assert_eq!(c.q("FUNCTION FLUSH"), ok());
    assert_eq!(
        load(
            &mut c,
            "#!lua name=b\nredis.register_function('f', function() return 2 end)"
        ),
        bulk("b")
    );
    for policy in ["APPEND", "REPLACE"] {
        assert_eq!(
            restore(&mut c, REDIS_DUMP, Some(policy)),
            err("ERR Function f already exists")
        );
    }
    assert_eq!(c.q("FCALL f 0"), int(2));
    assert_eq!(restore(&mut c, REDIS_DUMP, Some("FLUSH")), ok());
    assert_eq!(c.q("FCALL f 0"), int(1));
    assert_eq!(as_array(c.q("FUNCTION LIST")).len(), 1);
    let mut damaged = REDIS_DUMP.to_vec();
    damaged[5] ^= 1;
    assert_eq!(
        restore(&mut c, &damaged, None),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        restore(&mut c, REDIS_DUMP, Some("MERGE")),
        err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    assert_eq!(c.q("SET k v"), ok());
    let Frame::Bulk(key_dump) = c.q("DUMP k") else {
        panic!()
    };
    assert_eq!(
        restore(&mut c, &key_dump, None),
        err("ERR given type is not a function")
    );
    // An empty dump restores nothing (and FLUSH with it empties).
    assert_eq!(c.q("FUNCTION FLUSH"), ok());
    let Frame::Bulk(empty) = c.q("FUNCTION DUMP") else {
        panic!()
    };
    assert_eq!(empty.len(), 10);
    assert_eq!(restore(&mut c, &empty, None), ok());
}

#[test]
fn flags_decide_writes_and_memory() {
    let s = start();
    let mut c = fresh(&s);
    let code = "#!lua name=m
redis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)
redis.register_function{function_name='r', callback=function(keys) return redis.call('exists', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='oomok', callback=function(keys) return redis.call('del', keys[1]) end, flags={'allow-oom'}}";
    assert_eq!(load(&mut c, code), bulk("m"));
    assert_eq!(c.q("CONFIG SET maxmemory 1"), ok());
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    assert_eq!(c.q("FCALL w 1 k"), err(oom));
    assert_eq!(c.q("FCALL r 1 k"), int(0));
    assert_eq!(c.q("FCALL oomok 1 k"), int(0));
    assert_eq!(c.q("FUNCTION FLUSH"), ok());
    assert_eq!(load(&mut c, code), err(oom));
    assert_eq!(c.q("CONFIG SET maxmemory 0"), ok());
    assert_eq!(load(&mut c, code), bulk("m"));
}

/// Strata only: libraries are part of the dataset. They come back from the log after a
/// restart (FUNCTION LOAD, REPLACE, DELETE and RESTORE replayed), from the base snapshot
/// after a log rewrite, through DEBUG RELOAD, and from `dump.rdb` without a log.
#[test]
fn libraries_survive_restarts_rewrites_and_reloads() {
    if external() {
        return;
    }
    let mut s = start_with(|c| {
        c.appendonly = true;
        c.enable_debug_command = "yes".into();
    });
    let mut c = s.raw();
    let counter = |name: &str, step: u32| {
        format!(
            "#!lua name={name}\nredis.register_function('{name}_inc', function(keys) return redis.call('incrby', keys[1], {step}) end)"
        )
    };
    assert_eq!(load(&mut c, &counter("one", 1)), bulk("one"));
    assert_eq!(load(&mut c, &counter("gone", 5)), bulk("gone"));
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", "REPLACE", &counter("one", 2)]),
        bulk("one")
    );
    assert_eq!(c.q("FUNCTION DELETE gone"), ok());
    let Frame::Bulk(payload) = c.q("FUNCTION DUMP") else {
        panic!()
    };
    assert_eq!(load(&mut c, &counter("two", 10)), bulk("two"));
    assert_eq!(c.q("FCALL one_inc 1 n"), int(2));
    drop(c);
    // (Each restart runs on `s`'s directory.)
    let restart = |dir: &std::path::Path| {
        start_with(|c| {
            c.appendonly = true;
            c.enable_debug_command = "yes".into();
            c.dir = dir.to_path_buf();
        })
    };
    {
        let mut s2 = restart_with_log(&mut s);
        let mut c = s2.raw();
        assert_eq!(c.q("FCALL one_inc 1 n"), int(4));
        assert_eq!(c.q("FCALL two_inc 1 n"), int(14));
        assert_eq!(c.q("FCALL gone_inc 1 n"), err("ERR Function not found"));
        // Rewrite: the base snapshot holds the libraries, the new log what follows.
        assert_eq!(
            c.q("BGREWRITEAOF"),
            simple("Background append only file rewriting started")
        );
        assert!(wait_for(10_000, || info_field(
            &mut c,
            "persistence",
            "aof_rewrite_in_progress"
        ) == "0"));
        let args: [&[u8]; 4] = [b"FUNCTION", b"RESTORE", &payload, b"FLUSH"];
        assert_eq!(c.call(&args), ok());
        assert_eq!(load(&mut c, &counter("three", 100)), bulk("three"));
        drop(s2.take_handle());
    }
    let s3 = restart(s.dir.path());
    let mut c = s3.raw();
    assert_eq!(as_array(c.q("FUNCTION LIST")).len(), 2);
    assert_eq!(c.q("FCALL two_inc 1 n"), err("ERR Function not found"));
    assert_eq!(c.q("FCALL three_inc 1 n"), int(114));
    assert_eq!(c.q("FCALL one_inc 1 n"), int(116));
    assert_eq!(c.q("DEBUG RELOAD"), ok());
    assert_eq!(c.q("FCALL three_inc 1 n"), int(216));
    assert_eq!(c.q("FUNCTION STATS"), stats(2, 2));

    // Without the log: SAVE writes them into dump.rdb, a restart loads them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let mut s4 = start_with(|cfg| cfg.dir = path.clone());
    let mut c = fresh(&s4);
    assert_eq!(load(&mut c, &counter("four", 4)), bulk("four"));
    assert_eq!(c.q("SAVE"), ok());
    drop(c);
    drop(s4.take_handle());
    let s5 = start_with(|cfg| cfg.dir = path);
    let mut c = s5.raw();
    assert_eq!(c.q("FCALL four_inc 1 n"), int(4));
}
