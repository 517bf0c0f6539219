//! Which arguments are keys and what a command does with them, as Redis 7.0 reports it:
//! COMMAND GETKEYS / GETKEYSANDFLAGS over ~150 command lines (every family, the
//! options that change a key's flags, bad key counts and Redis's errors), the key specs
//! and tips COMMAND INFO shows, and `%R~` / `%W~` ACL key patterns enforced from them.

mod common;

use common::*;
use strata::protocol::Frame;

/// GETKEYSANDFLAGS as `key:FLAG,flag key:...`, or the error's text.
fn keys_and_flags(c: &mut Raw, line: &str) -> String {
    let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
    args.extend(line.split(' '));
    match c.call(&args) {
        Frame::Error(e) => e,
        Frame::Array(keys) => keys
            .iter()
            .map(|k| match k {
                Frame::Array(kf) => match &kf[..] {
                    [key, Frame::Array(flags)] => format!(
                        "{}:{}",
                        as_text(key),
                        flags.iter().map(as_text).collect::<Vec<_>>().join(",")
                    ),
                    other => panic!("{line}: {other:?}"),
                },
                other => panic!("{line}: {other:?}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn getkeysandflags_and_getkeys_like_redis() {
    let s = start();
    let mut c = s.raw();
    // (Expected replies recorded from redis-server 7.0.15.)
    let cases: &[(&str, &str)] = &[
        ("GET r1", "r1:RO,access"),
        ("SET r1 v", "r1:OW,update"),
        ("SET w1 v", "w1:OW,update"),
        ("SET w1 v GET", "w1:RW,access,update"),
        ("GET w1", "w1:RO,access"),
        ("APPEND w1 x", "w1:RW,insert"),
        ("LMOVE r1 w1 LEFT RIGHT", "r1:RW,access,delete w1:RW,insert"),
        ("LMOVE w1 r1 LEFT RIGHT", "w1:RW,access,delete r1:RW,insert"),
        ("SORT r1", "r1:RO,access"),
        ("SORT r1 STORE w1", "r1:RO,access w1:OW,update"),
        ("SORT r1 STORE r2", "r1:RO,access r2:OW,update"),
        ("SORT_RO r1", "r1:RO,access"),
        ("BITFIELD r1 GET u8 0", "r1:RO,access"),
        ("BITFIELD r1 SET u8 0 1", "r1:RW,access,update"),
        ("BITFIELD w1 INCRBY u8 0 1", "w1:RW,access,update"),
        ("BITFIELD r1 GET u8 0 OVERFLOW SAT", "r1:RO,access"),
        ("EXISTS w1", "w1:RO"),
        ("EXISTS r1", "r1:RO"),
        ("DEL r1", "r1:RM,delete"),
        ("DEL w1", "w1:RM,delete"),
        (
            "ZUNIONSTORE w1 2 r1 r2",
            "w1:OW,update r1:RO,access r2:RO,access",
        ),
        (
            "ZUNIONSTORE r1 2 w1 w2",
            "r1:OW,update w1:RO,access w2:RO,access",
        ),
        ("COPY r1 w1", "r1:RO,access w1:OW,update"),
        ("COPY w1 r1", "w1:RO,access r1:OW,update"),
        ("RENAME r1 w1", "r1:RW,access,delete w1:OW,update"),
        ("EVAL x 1 r1", "r1:RW,access,update"),
        ("EVAL x 1 w1", "w1:RW,access,update"),
        ("TYPE w1", "w1:RO"),
        ("TTL w1", "w1:RO,access"),
        ("EXPIRE w1 10", "w1:RW,update"),
        ("EXPIRE r1 10", "r1:RW,update"),
        ("INCR w1", "w1:RW,access,update"),
        ("INCR r1", "r1:RW,access,update"),
        ("GETDEL r1", "r1:RW,access,delete"),
        ("GETEX r1", "r1:RW,access,update"),
        ("MSET w1 a w2 b", "w1:OW,update w2:OW,update"),
        ("MSET w1 a r2 b", "w1:OW,update r2:OW,update"),
        (
            "GEORADIUS r1 0 0 1 km STORE w1",
            "r1:RO,access w1:OW,update",
        ),
        ("GEORADIUS r1 0 0 1 km", "r1:RO,access"),
        ("OBJECT ENCODING r1", "r1:RO"),
        ("OBJECT ENCODING w1", "w1:RO"),
        ("MEMORY USAGE w1", "w1:RO"),
        ("PFCOUNT r1", "r1:RW,access"),
        ("PFCOUNT w1", "w1:RW,access"),
        ("PFADD w1 a", "w1:RW,insert"),
        ("LPOS w1 a", "w1:RO,access"),
        ("SINTERCARD 2 r1 r2", "r1:RO,access r2:RO,access"),
        (
            "SINTERSTORE w1 r1 r2",
            "w1:RW,update r1:RO,access r2:RO,access",
        ),
        ("SMOVE r1 w1 m", "r1:RW,access,delete w1:RW,insert"),
        ("BLMPOP 0 1 r1 LEFT", "r1:RW,access,delete"),
        (
            "LMPOP 2 r1 w1 LEFT",
            "r1:RW,access,delete w1:RW,access,delete",
        ),
        ("TOUCH w1", "w1:RO"),
        ("UNLINK w1", "w1:RM,delete"),
        ("DUMP r1", "r1:RO,access"),
        ("RESTORE w1 0 x", "w1:OW,update"),
        ("WATCH w1", "w1:RO"),
        ("STRLEN w1", "w1:RO"),
        ("SUBSTR w1 0 1", "w1:RO,access"),
        ("GETRANGE w1 0 1", "w1:RO,access"),
        ("SETRANGE r1 0 x", "r1:RW,update"),
        ("SETRANGE w1 0 x", "w1:RW,update"),
        ("EVAL x 0", ""),
        ("EVAL x 2 a", ""),
        ("EVAL x -1 a", ""),
        ("EVAL x z a", ""),
        (
            "ZUNIONSTORE d 0 a",
            "ERR Invalid arguments specified for command",
        ),
        (
            "ZUNION 3 a b",
            "ERR Invalid arguments specified for command",
        ),
        (
            "SINTERCARD 0 a",
            "ERR Invalid arguments specified for command",
        ),
        (
            "LMPOP 0 LEFT",
            "ERR Invalid number of arguments specified for command",
        ),
        (
            "GEORADIUSBYMEMBER a m 1 km STOREDIST d STORE e",
            "a:RO,access e:OW,update d:OW,update",
        ),
        (
            "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km",
            "d:OW,update s:RO,access",
        ),
        (
            "BITOP AND d a b c",
            "d:OW,update a:RO,access b:RO,access c:RO,access",
        ),
        (
            "PFMERGE d a b",
            "d:RW,access,insert a:RO,access b:RO,access",
        ),
        (
            "SORT a LIMIT 0 1 STORE x STORE y",
            "a:RO,access y:OW,update",
        ),
        ("SORT a BY store STORE z", "a:RO,access z:OW,update"),
        ("SORT a GET # STORE", "a:RO,access"),
        ("FCALL f 1 k", "k:RW,access,update"),
        ("FCALL_RO f 2 a b", "a:RO,access b:RO,access"),
        ("SPUBLISH ch m", "ERR The command has no key arguments"),
        ("OBJECT FREQ a", "a:RO"),
        (
            "OBJECT FREQ",
            "ERR Invalid number of arguments specified for command",
        ),
        ("OBJECT NOPE a", "ERR Invalid command specified"),
        ("CLIENT ID x", "ERR The command has no key arguments"),
        ("CLIENT LIST", "ERR The command has no key arguments"),
        ("DEBUG OBJECT a", "ERR The command has no key arguments"),
        ("MSETNX a 1 b 2", "a:OW,insert b:OW,insert"),
        ("BZPOPMIN a b 0", "a:RW,access,delete b:RW,access,delete"),
        ("ZINTER 2 a b WEIGHTS 1 2", "a:RO,access b:RO,access"),
        ("ZDIFFSTORE d 1 a", "d:OW,update a:RO,access"),
        ("SET a b EX 10 GET", "a:RW,access,update"),
        ("SET a b get", "a:RW,access,update"),
        ("BITFIELD_RO a GET u8 0", "a:RO,access"),
        ("GETSET a b", "a:RW,access,update"),
        ("SMISMEMBER a m", "a:RO,access"),
        ("HSET h f v", "h:RW,update"),
        ("HGET h f", "h:RO,access"),
        ("HDEL h f", "h:RW,delete"),
        ("LPUSH l a", "l:RW,insert"),
        ("RPOPLPUSH a b", "a:RW,access,delete b:RW,insert"),
        ("BRPOPLPUSH a b 0", "a:RW,access,delete b:RW,insert"),
        ("BLMOVE a b LEFT LEFT 0", "a:RW,access,delete b:RW,insert"),
        ("SUNIONSTORE d a b", "d:OW,update a:RO,access b:RO,access"),
        ("ZRANGESTORE d s 0 1", "d:OW,update s:RO,access"),
        ("LCS a b", "a:RO,access b:RO,access"),
        ("SRANDMEMBER a", "a:RO,access"),
        ("PERSIST a", "a:RW,update"),
        ("EXPIRETIME a", "a:RO,access"),
        ("RENAMENX a b", "a:RW,access,delete b:OW,insert"),
        ("MOVE a 1", "a:RW,access,update"),
        (
            "GET",
            "ERR wrong number of arguments for 'command|getkeysandflags' command",
        ),
        (
            "SET a",
            "ERR Invalid number of arguments specified for command",
        ),
        (
            "PING",
            "ERR wrong number of arguments for 'command|getkeysandflags' command",
        ),
        ("NOSUCH a", "ERR Invalid command specified"),
        (
            "MSET a",
            "ERR Invalid number of arguments specified for command",
        ),
        ("MGET a b c", "a:RO,access b:RO,access c:RO,access"),
        (
            "BLPOP a b c 0",
            "a:RW,access,delete b:RW,access,delete c:RW,access,delete",
        ),
        (
            "BZMPOP 0 2 a b MIN",
            "a:RW,access,delete b:RW,access,delete",
        ),
        ("ZMPOP 1 a MAX", "a:RW,access,delete"),
        ("ZINTERCARD 2 a b LIMIT 1", "a:RO,access b:RO,access"),
        ("SUBSCRIBE a", "ERR The command has no key arguments"),
        ("PUBLISH a b", "ERR The command has no key arguments"),
        (
            "MEMORY USAGE",
            "ERR Invalid number of arguments specified for command",
        ),
        ("GEOADD g 0 0 m", "g:RW,update"),
        ("GEODIST g a b", "g:RO,access"),
        ("GEOSEARCH g FROMMEMBER m BYRADIUS 1 km", "g:RO,access"),
        ("HSCAN h 0", "h:RO,access"),
        ("SSCAN s 0", "s:RO,access"),
        ("ZSCAN z 0", "z:RO,access"),
        ("SCAN 0", "ERR The command has no key arguments"),
        ("KEYS *", "ERR The command has no key arguments"),
        (
            "RANDOMKEY",
            "ERR wrong number of arguments for 'command|getkeysandflags' command",
        ),
        (
            "DBSIZE",
            "ERR wrong number of arguments for 'command|getkeysandflags' command",
        ),
        ("LINSERT l BEFORE a b", "l:RW,insert"),
        ("ZADD z 1 m", "z:RW,update"),
        ("ZINCRBY z 1 m", "z:RW,access,update"),
        ("INCRBYFLOAT a 1", "a:RW,access,update"),
        ("DECRBY a 1", "a:RW,access,update"),
        ("SETEX a 10 v", "a:OW,update"),
        ("PSETEX a 10 v", "a:OW,update"),
        ("SETNX a v", "a:OW,insert"),
        ("GETBIT a 0", "a:RO,access"),
        ("SETBIT a 0 1", "a:RW,access,update"),
        ("BITCOUNT a", "a:RO,access"),
        ("BITPOS a 1", "a:RO,access"),
        ("HINCRBY h f 1", "h:RW,access,update"),
        ("HRANDFIELD h", "h:RO,access"),
        ("SPOP s", "s:RW,access,delete"),
        ("ZPOPMIN z", "z:RW,access,delete"),
        ("LTRIM l 0 1", "l:RW,delete"),
        ("LSET l 0 v", "l:RW,update"),
        ("LREM l 0 v", "l:RW,delete"),
        ("EXPIREAT a 1", "a:RW,update"),
        ("PEXPIRE a 1", "a:RW,update"),
        ("OBJECT IDLETIME a", "a:RO"),
        ("OBJECT REFCOUNT a", "a:RO"),
    ];
    for (line, want) in cases {
        assert_eq!(
            keys_and_flags(&mut c, line),
            *want,
            "GETKEYSANDFLAGS {line}"
        );
        // GETKEYS gives the same keys without flags, or the same error.
        let mut args = vec!["COMMAND", "GETKEYS"];
        args.extend(line.split(' '));
        let got = match c.call(&args) {
            Frame::Error(e) => e.replace("command|getkeys'", "command|getkeysandflags'"),
            Frame::Array(keys) => keys.iter().map(as_text).collect::<Vec<_>>().join(" "),
            other => panic!("{line}: {other:?}"),
        };
        let keys_only = if want.starts_with("ERR") {
            want.to_string()
        } else {
            want.split(' ')
                .filter(|k| !k.is_empty())
                .map(|k| k.split(':').next().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(got, keys_only, "GETKEYS {line}");
    }
}

/// COMMAND INFO's tips and key specs, byte for byte Redis 7.0's (notes, `unknown`
/// searches, keyword searches, keynum), in RESP2 and RESP3.
#[test]
fn command_info_shows_key_specs_and_tips() {
    let s = start();
    let mut c = s.raw();
    c.send(&encode(&["COMMAND", "INFO", "getex", "dbsize"]));
    let want = "*2\r\n*10\r\n$5\r\ngetex\r\n:-2\r\n*2\r\n+write\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n$40\r\nRW and UPDATE because it changes the TTL\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$6\r\ndbsize\r\n:1\r\n*2\r\n+readonly\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@keyspace\r\n+@read\r\n+@fast\r\n*2\r\n$25\r\nrequest_policy:all_shards\r\n$23\r\nresponse_policy:agg_sum\r\n*0\r\n*0\r\n";
    assert_eq!(String::from_utf8_lossy(&c.read_exact_len(want.len())), want);
    // RESP3: tips, specs and subcommands are sets, a spec and its searches maps.
    assert!(matches!(c.q("HELLO 3"), Frame::Map(_)));
    c.send(&encode(&["COMMAND", "INFO", "getex"]));
    let want = "*1\r\n*10\r\n$5\r\ngetex\r\n:-2\r\n~2\r\n+write\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$40\r\nRW and UPDATE because it changes the TTL\r\n$5\r\nflags\r\n~3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";
    assert_eq!(String::from_utf8_lossy(&c.read_exact_len(want.len())), want);
}

/// COMMAND INFO lists a container's subcommands and answers for `container|sub`, as
/// Redis 7.0 does (it used to list none and answer nil); SCRIPT's subcommands have ACL
/// entries of their own (`-script|flush` used to be an unknown command).
#[test]
fn command_info_lists_subcommands() {
    let s = start();
    let mut c = s.raw();
    c.send(&encode(&["COMMAND", "INFO", "object|freq"]));
    let want = "*1\r\n*10\r\n$11\r\nobject|freq\r\n:3\r\n*1\r\n+readonly\r\n:2\r\n:2\r\n:1\r\n*3\r\n+@keyspace\r\n+@read\r\n+@slow\r\n*1\r\n$23\r\nnondeterministic_output\r\n*1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
    assert_eq!(String::from_utf8_lossy(&c.read_exact_len(want.len())), want);
    assert_eq!(
        c.q("COMMAND INFO config|nosuch"),
        arr(vec![Frame::NullBulk])
    );
    let Frame::Array(info) = c.q("COMMAND INFO config") else {
        panic!("COMMAND INFO config")
    };
    let Frame::Array(entry) = &info[0] else {
        panic!("an entry")
    };
    let Frame::Array(subs) = &entry[9] else {
        panic!("subcommands")
    };
    let mut names: Vec<String> = subs
        .iter()
        .map(|s| match s {
            Frame::Array(f) => as_text(&f[0]),
            other => panic!("{other:?}"),
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "config|get",
            "config|help",
            "config|resetstat",
            "config|rewrite",
            "config|set"
        ]
    );
    let Frame::Array(set) = c.q("COMMAND INFO config|set") else {
        panic!("config|set")
    };
    assert_eq!(
        set[0],
        subs.iter()
            .find(|s| matches!(s, Frame::Array(f) if as_text(&f[0]) == "config|set"))
            .unwrap()
            .clone()
    );
    assert_eq!(c.q("ACL SETUSER s on nopass +@all -script|flush"), ok());
    let mut u = s.raw();
    assert_eq!(u.q("AUTH s x"), ok());
    assert_eq!(
        u.q("SCRIPT FLUSH"),
        err("NOPERM this user has no permissions to run the 'script|flush' command")
    );
    assert_eq!(u.q("SCRIPT EXISTS x"), arr(vec![int(0)]));
    assert_eq!(c.q("ACL DELUSER s"), int(1));
}
