//! Keyspace notifications (`notify-keyspace-events`) name the same events, for the same
//! keys, in the same order as Redis 7.0: every sequence below was recorded from
//! redis-server 7.0.15, and the file passes against it
//! (`STRATA_TEST_EXTERNAL_PORT=P cargo test --test keyspace_events -- --test-threads=1`).

mod common;

use common::*;
use strata::protocol::Frame;

/// A subscriber to every keyspace channel.
struct Events(Raw);

impl Events {
    fn new(port: u16) -> Events {
        let mut r = Raw::connect(port);
        assert_eq!(
            r.call(&["PSUBSCRIBE", "__key*__:*"]),
            arr(vec![bulk("psubscribe"), bulk("__key*__:*"), int(1)])
        );
        Events(r)
    }

    /// The raw (channel, message) pairs received so far: a PING answered after them
    /// marks the end (the server handles it after every command sent before).
    fn take_raw(&mut self) -> Vec<(String, String)> {
        self.0.send_cmd(&["PING"]);
        let mut got = Vec::new();
        loop {
            let items = as_array(self.0.read());
            if items == vec![bulk("pong"), bulk("")] {
                return got;
            }
            assert_eq!(items.len(), 4, "{items:?}");
            assert_eq!(items[0], bulk("pmessage"));
            got.push((as_text(&items[2]), as_text(&items[3])));
        }
    }

    /// The events since the last call as `event key@db`, each checked to have come on
    /// the keyspace channel and then on the keyevent channel (flags `KE`). `expired`
    /// events are left out: when a key's expiry is noticed depends on timing.
    fn take(&mut self) -> Vec<String> {
        let raw = self.take_raw();
        assert!(raw.len().is_multiple_of(2), "unpaired messages: {raw:?}");
        let mut out = Vec::new();
        for pair in raw.chunks(2) {
            let (space, event) = (&pair[0], &pair[1]);
            let (db, key) = space
                .0
                .strip_prefix("__keyspace@")
                .and_then(|r| r.split_once("__:"))
                .unwrap_or_else(|| panic!("not a keyspace message: {space:?}"));
            assert_eq!(
                event.0,
                format!("__keyevent@{db}__:{}", space.1),
                "{pair:?}"
            );
            assert_eq!(event.1, key, "{pair:?}");
            if space.1 != "expired" {
                out.push(format!("{} {key}@{db}", space.1));
            }
        }
        out
    }
}

/// Split a command line on spaces; `''` is an empty argument.
fn words(line: &str) -> Vec<&str> {
    line.split(' ')
        .map(|w| if w == "''" { "" } else { w })
        .collect()
}

/// Run each (command, events) step on a server with every event class on, checking the
/// events each command published.
fn check(steps: &[(&str, &str)]) {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEAnm"]),
        ok()
    );
    let mut ev = Events::new(s.port());
    for (line, want) in steps {
        let reply = c.call(&words(line));
        let want: Vec<&str> = if want.is_empty() {
            Vec::new()
        } else {
            want.split(", ").collect()
        };
        assert_eq!(ev.take(), want, "events of `{line}` (reply {reply:?})");
    }
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]),
        ok()
    );
}

#[test]
fn string_commands() {
    check(&[
        ("SET a 1", "new a@0, set a@0"),
        ("SET a 2 EX 100", "set a@0, expire a@0"),
        ("SET a 3", "set a@0"),
        ("GETEX a EX 100", "expire a@0"),
        ("GETEX a PERSIST", "persist a@0"),
        ("GETEX a", ""),
        ("GETEX a PXAT 1", "del a@0"),
        ("SET b 1 KEEPTTL", "new b@0, set b@0"),
        ("SET b 2 NX", ""),
        ("SET b 3 XX GET", "set b@0"),
        ("SETNX b 4", ""),
        ("SETNX c 4", "new c@0, set c@0"),
        ("GETSET c 5", "set c@0"),
        ("GETSET nn 1", "keymiss nn@0, new nn@0, set nn@0"),
        ("GETDEL c", "del c@0"),
        ("GETDEL c", "keymiss c@0"),
        ("GET zz", "keymiss zz@0"),
        ("MGET a b zz", "keymiss a@0, keymiss zz@0"),
        (
            "MSET a 1 b 2 c 3",
            "new a@0, set a@0, set b@0, new c@0, set c@0",
        ),
        ("MSETNX x 1 y 2", "new x@0, set x@0, new y@0, set y@0"),
        ("MSETNX x 1 z 2", ""),
        ("APPEND x 12", "append x@0"),
        ("APPEND q 12", "new q@0, append q@0"),
        ("SETRANGE q 1 zz", "setrange q@0"),
        ("SETRANGE w 2 ''", ""),
        ("INCR n", "new n@0, incrby n@0"),
        ("INCRBY n 5", "incrby n@0"),
        ("DECR n", "incrby n@0"),
        ("DECRBY n 2", "incrby n@0"),
        ("INCRBYFLOAT n 1.5", "incrbyfloat n@0"),
        ("INCRBYFLOAT m 1.5", "new m@0, incrbyfloat m@0"),
        ("PSETEX p 100000 v", "new p@0, set p@0, expire p@0"),
        ("SETEX p 100 v", "set p@0, expire p@0"),
        ("STRLEN none", "keymiss none@0"),
        ("SET a 1 PXAT 1", "set a@0, expire a@0"),
        ("LCS none a", "keymiss none@0, keymiss a@0"),
    ]);
}

#[test]
fn bitmap_and_hyperloglog_commands() {
    check(&[
        ("SETBIT b 3 1", "new b@0, setbit b@0"),
        ("SETBIT b 3 1", ""),
        ("SETBIT b 4 0", ""),
        ("SETBIT nb 100 0", "new nb@0, setbit nb@0"),
        ("BITFIELD bf SET u8 0 1", "new bf@0, setbit bf@0"),
        ("BITFIELD bf GET u8 0", ""),
        ("BITFIELD bf INCRBY u8 0 0", ""),
        ("BITFIELD nbf GET u8 0", "keymiss nbf@0"),
        ("BITOP AND d b nb", "new d@0, set d@0"),
        (
            "BITOP AND d nb2 nb3",
            "keymiss nb2@0, keymiss nb3@0, del d@0",
        ),
        ("BITOP OR d b", "new d@0, set d@0"),
        ("PFADD h a", "new h@0, pfadd h@0"),
        ("PFADD h a", ""),
        ("PFADD h", ""),
        ("PFADD h2", "new h2@0, pfadd h2@0"),
        ("PFCOUNT h h3", "keymiss h3@0"),
        (
            "PFMERGE h4 h h5",
            "keymiss h4@0, keymiss h5@0, new h4@0, pfadd h4@0",
        ),
        ("PFMERGE h4", "pfadd h4@0"),
    ]);
}

#[test]
fn generic_key_commands() {
    check(&[
        ("SET a 1", "new a@0, set a@0"),
        ("SET b 2", "new b@0, set b@0"),
        ("RENAME a b", "new b@0, rename_from a@0, rename_to b@0"),
        ("RENAME b b", ""),
        ("RENAME zz yy", ""),
        ("RENAMENX b c", "new c@0, rename_from b@0, rename_to c@0"),
        ("SET d 1", "new d@0, set d@0"),
        ("RENAMENX c d", ""),
        ("COPY d e", "new e@0, copy_to e@0"),
        ("COPY d e", ""),
        ("COPY d e REPLACE", "new e@0, copy_to e@0"),
        ("COPY d e DB 1", "new e@1, copy_to e@1"),
        ("COPY zz yy", "keymiss zz@0"),
        ("MOVE e 2", "new e@2, move_from e@0, move_to e@2"),
        ("MOVE nokey 1", ""),
        ("DEL nokey d c", "del d@0, del c@0"),
        ("UNLINK d", ""),
        ("SET k 1", "new k@0, set k@0"),
        ("EXPIRE k 100", "expire k@0"),
        ("EXPIRE k 100 NX", ""),
        ("PERSIST k", "persist k@0"),
        ("PERSIST k", ""),
        ("PEXPIREAT k 1", "del k@0"),
        ("EXPIRE zz 10", ""),
        ("EXISTS zz", "keymiss zz@0"),
        ("TYPE zz", "keymiss zz@0"),
        ("TTL zz", "keymiss zz@0"),
        ("TOUCH zz", "keymiss zz@0"),
        ("OBJECT ENCODING zz", ""),
        ("DUMP zz", "keymiss zz@0"),
        ("RPUSH l 3 1 2", "new l@0, rpush l@0"),
        ("SORT l STORE sl", "new sl@0, sortstore sl@0"),
        ("SORT l BY nosuch STORE sl", "sortstore sl@0"),
        ("SORT nol STORE sl", "keymiss nol@0, del sl@0"),
        ("SORT_RO nol", "keymiss nol@0"),
        ("SELECT 1", ""),
        ("SET k 1", "new k@1, set k@1"),
        ("FLUSHDB", ""),
    ]);
}

#[test]
fn restore_publishes_new_and_restore_or_del() {
    let s = start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    c.call(&["SET", "a", "1"]);
    let payload = match c.call(&["DUMP", "a"]) {
        Frame::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    let mut ev = Events::new(s.port());
    let restore = |c: &mut Raw, key: &str, extra: &[&[u8]]| {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes()];
        args.extend_from_slice(extra);
        c.call(&args)
    };
    assert_eq!(restore(&mut c, "b", &[b"0", &payload]), ok());
    assert_eq!(ev.take(), ["restore b@0"]);
    // A replaced key is deleted and added again: the same events.
    assert_eq!(restore(&mut c, "b", &[b"0", &payload, b"REPLACE"]), ok());
    assert_eq!(ev.take(), ["restore b@0"]);
    // Already expired: nothing restored, the replaced key deleted.
    assert_eq!(restore(&mut c, "c", &[b"1", &payload, b"ABSTTL"]), ok());
    assert_eq!(ev.take(), Vec::<String>::new());
    assert_eq!(
        restore(&mut c, "b", &[b"1", &payload, b"ABSTTL", b"REPLACE"]),
        ok()
    );
    assert_eq!(ev.take(), ["del b@0"]);
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
}

#[test]
fn list_commands() {
    check(&[
        ("LPUSH l a b", "new l@0, lpush l@0"),
        ("RPUSH l c", "rpush l@0"),
        ("LPUSHX l d", "lpush l@0"),
        ("RPUSHX nol d", ""),
        ("LPOP l", "lpop l@0"),
        ("RPOP l 2", "rpop l@0"),
        ("LINSERT l BEFORE zz x", ""),
        ("LSET l 0 y", "lset l@0"),
        ("LREM l 0 y", "lrem l@0, del l@0"),
        ("RPUSH l 1 2 3 4", "new l@0, rpush l@0"),
        ("LTRIM l 1 -1", "ltrim l@0"),
        // Nothing trimmed: still an event (and a change for WATCH).
        ("LTRIM l 0 -1", "ltrim l@0"),
        ("LTRIM l 5 10", "ltrim l@0, del l@0"),
        ("LTRIM nol 0 1", ""),
        ("RPUSH l 1 2 3", "new l@0, rpush l@0"),
        // A move publishes the push before the pop.
        ("LMOVE l m LEFT RIGHT", "new m@0, rpush m@0, lpop l@0"),
        ("LMOVE l l LEFT RIGHT", "rpush l@0, lpop l@0"),
        ("RPOPLPUSH l m", "lpush m@0, rpop l@0"),
        ("RPOPLPUSH l m", "lpush m@0, rpop l@0, del l@0"),
        ("LMPOP 2 nol m RIGHT COUNT 5", "rpop m@0, del m@0"),
        ("LRANGE nol 0 -1", "keymiss nol@0"),
        ("LLEN nol", "keymiss nol@0"),
        ("LINDEX nol 0", "keymiss nol@0"),
        ("LPOS nol a", "keymiss nol@0"),
        ("LPOP nol", ""),
        ("RPUSH a 1", "new a@0, rpush a@0"),
        ("BLPOP nol a 1", "lpop a@0, del a@0"),
        ("RPUSH a 1", "new a@0, rpush a@0"),
        (
            "BLMOVE a b LEFT LEFT 1",
            "new b@0, lpush b@0, lpop a@0, del a@0",
        ),
        ("BLMPOP 1 2 nol b LEFT", "lpop b@0, del b@0"),
    ]);
}

#[test]
fn blocked_pop_served_later_publishes_its_pop() {
    let s = start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEl"]);
    let mut ev = Events::new(s.port());
    let mut waiter = s.raw();
    waiter.send_cmd(&["BLPOP", "q", "0"]);
    assert!(wait_for(2000, || as_text(&c.q("CLIENT LIST")).contains("cmd=blpop")));
    assert_eq!(as_int(&c.q("RPUSH q x")), 1);
    assert_eq!(waiter.read(), bulks(&["q", "x"]));
    // The push, then the waiting client's pop (`new` and `del` are other classes).
    assert_eq!(ev.take(), ["rpush q@0", "lpop q@0"]);
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
}

#[test]
fn hash_and_set_commands() {
    check(&[
        ("HSET h a 1 b 2", "new h@0, hset h@0"),
        ("HSET h a 1", "hset h@0"),
        ("HSETNX h a 3", ""),
        ("HSETNX h c 3", "hset h@0"),
        ("HMSET h d 4", "hset h@0"),
        ("HINCRBY h n 1", "hincrby h@0"),
        ("HINCRBYFLOAT h f 1.5", "hincrbyfloat h@0"),
        ("HDEL h zz", ""),
        ("HDEL h a b c d n", "hdel h@0"),
        ("HDEL h f", "hdel h@0, del h@0"),
        ("HGET nh a", "keymiss nh@0"),
        ("HGETALL nh", "keymiss nh@0"),
        ("HINCRBY nh x 1", "new nh@0, hincrby nh@0"),
        ("SADD s a b", "new s@0, sadd s@0"),
        ("SADD s a", ""),
        ("SREM s z", ""),
        ("SREM s a", "srem s@0"),
        ("SMOVE s t b", "srem s@0, del s@0, new t@0, sadd t@0"),
        ("SMOVE s t b", ""),
        ("SADD s x y z", "new s@0, sadd s@0"),
        ("SPOP s", "spop s@0"),
        ("SPOP s 5", "spop s@0, del s@0"),
        ("SADD s 1 2", "new s@0, sadd s@0"),
        ("SINTERSTORE d s", "new d@0, sinterstore d@0"),
        ("SINTERSTORE d nos", "keymiss nos@0, del d@0"),
        ("SUNIONSTORE d s t", "new d@0, sunionstore d@0"),
        ("SDIFFSTORE d s s", "del d@0"),
        ("SADD s 1", ""),
        ("SMOVE s s 1", ""),
        ("SINTER nos s", "keymiss nos@0"),
        ("SISMEMBER nos a", "keymiss nos@0"),
        ("SCARD nos", "keymiss nos@0"),
    ]);
}

#[test]
fn sorted_set_and_geo_commands() {
    check(&[
        ("ZADD z 1 a 2 b", "new z@0, zadd z@0"),
        ("ZADD z 1 a", ""),
        ("ZADD z 5 a", "zadd z@0"),
        ("ZADD z NX 1 a", ""),
        ("ZADD z INCR 1 a", "zincr z@0"),
        ("ZADD z XX 1 q", ""),
        ("ZINCRBY z 1 b", "zincr z@0"),
        ("ZINCRBY y 1 b", "new y@0, zincr y@0"),
        ("ZREM z q", ""),
        ("ZREM z a", "zrem z@0"),
        ("ZADD z 1 a 2 c 3 d", "zadd z@0"),
        ("ZREMRANGEBYSCORE z 100 200", ""),
        ("ZREMRANGEBYSCORE z 1 1", "zremrangebyscore z@0"),
        ("ZREMRANGEBYRANK z 0 0", "zremrangebyrank z@0"),
        ("ZREMRANGEBYLEX z - +", "zremrangebylex z@0, del z@0"),
        ("ZADD z 1 a 2 b 3 c", "new z@0, zadd z@0"),
        ("ZPOPMIN z", "zpopmin z@0"),
        ("ZPOPMAX z 5", "zpopmax z@0, del z@0"),
        ("ZADD z 1 a 2 b", "new z@0, zadd z@0"),
        ("ZUNIONSTORE d 1 z", "new d@0, zunionstore d@0"),
        ("ZINTERSTORE d 2 z y", "zinterstore d@0"),
        ("ZDIFFSTORE d 1 noz", "keymiss noz@0, del d@0"),
        ("ZRANGESTORE e z 0 -1", "new e@0, zrangestore e@0"),
        ("ZRANGESTORE e z 5 6", "del e@0"),
        ("ZMPOP 2 noz z MIN COUNT 1", "zpopmin z@0"),
        ("BZPOPMIN z 1", "zpopmin z@0, del z@0"),
        ("ZADD z 1 a", "new z@0, zadd z@0"),
        ("BZMPOP 1 1 z MAX", "zpopmax z@0, del z@0"),
        ("ZSCORE noz a", "keymiss noz@0"),
        ("ZUNION 2 noz z", "keymiss noz@0, keymiss z@0"),
        ("GEOADD g 1 1 a", "new g@0, zadd g@0"),
        ("GEOADD g 1 1 a", ""),
        ("GEOADD g XX 2 2 b", ""),
        (
            "GEORADIUS g 1 1 100 km STORE gs",
            "new gs@0, georadiusstore gs@0",
        ),
        ("GEORADIUS g 50 50 1 km STORE gs", "del gs@0"),
        (
            "GEOSEARCHSTORE gs2 g FROMLONLAT 1 1 BYRADIUS 100 km",
            "new gs2@0, geosearchstore gs2@0",
        ),
        (
            "GEOSEARCHSTORE gs2 g FROMLONLAT 50 50 BYRADIUS 1 km",
            "del gs2@0",
        ),
        (
            "GEOSEARCHSTORE gs3 nog FROMLONLAT 50 50 BYRADIUS 1 km",
            "keymiss nog@0",
        ),
        ("GEOPOS nog a", "keymiss nog@0"),
    ]);
}

#[test]
fn transactions_publish_as_their_commands_run() {
    check(&[
        ("MULTI", ""),
        ("SET a 1", ""),
        ("INCR a", ""),
        ("DEL a", ""),
        ("EXEC", "new a@0, set a@0, incrby a@0, del a@0"),
    ]);
}

#[test]
fn classes_and_channels_are_chosen_by_the_flags() {
    let s = start();
    let mut c = s.raw();
    let mut ev = Events::new(s.port());
    // Off by default.
    assert_eq!(
        c.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        bulks(&["notify-keyspace-events", ""])
    );
    c.q("SET a 1");
    c.q("GET none");
    assert_eq!(ev.take_raw(), []);
    // Keyevent channel only, string class only.
    assert_eq!(c.q("CONFIG SET notify-keyspace-events E$"), ok());
    c.q("SET a 2 EX 100");
    c.q("LPUSH l x");
    assert_eq!(ev.take_raw(), [("__keyevent@0__:set".into(), "a".into())]);
    // Keyspace channel only, generic and list classes.
    assert_eq!(c.q("CONFIG SET notify-keyspace-events Kgl"), ok());
    c.q("SET a 2 EX 100");
    c.q("LPUSH l x");
    assert_eq!(
        ev.take_raw(),
        [
            ("__keyspace@0__:a".to_string(), "expire".to_string()),
            ("__keyspace@0__:l".into(), "lpush".into())
        ]
    );
    // A class without K or E publishes nothing.
    assert_eq!(c.q("CONFIG SET notify-keyspace-events A"), ok());
    c.q("DEL a");
    assert_eq!(ev.take_raw(), []);
    // `keymiss` only with `m`, `new` only with `n` (`A` includes neither).
    assert_eq!(c.q("CONFIG SET notify-keyspace-events EA"), ok());
    c.q("GET none");
    c.q("SET fresh 1");
    assert_eq!(
        ev.take_raw(),
        [("__keyevent@0__:set".into(), "fresh".into())]
    );
    assert_eq!(
        c.q("CONFIG SET notify-keyspace-events Q"),
        err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    );
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
}

#[test]
fn expiry_publishes_expired() {
    let s = start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut ev = Events::new(s.port());
    // Found by the background cycle, nobody touching the key.
    c.q("SET soon 1 PX 30");
    let mut got = Vec::new();
    assert!(
        wait_for(5000, || {
            got.extend(ev.take_raw());
            !got.is_empty()
        }),
        "no expired event"
    );
    assert_eq!(got, [("__keyevent@0__:expired".into(), "soon".into())]);
    // Found by a command looking at it.
    c.q("DEBUG SET-ACTIVE-EXPIRE 0");
    c.q("SET soon 1 PX 1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(c.q("GET soon"), nil());
    assert_eq!(
        ev.take_raw(),
        [("__keyevent@0__:expired".into(), "soon".into())]
    );
    c.q("DEBUG SET-ACTIVE-EXPIRE 1");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
}

/// A non-empty GEORADIUS ... STORE or GEOSEARCHSTORE replaces an expired destination as
/// Redis's setKey does: `expired`, then `new`, then its own event (it published only its
/// own event before). An empty result deletes the destination, expired or not, publishing
/// `del` (Redis's dbDelete does not look at the TTL).
#[test]
fn geo_store_over_an_expired_destination_publishes_expired_then_new() {
    let s = start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Egxzn"]);
    c.q("DEBUG SET-ACTIVE-EXPIRE 0");
    c.q("GEOADD src 13.361389 38.115556 Palermo 15.087269 37.502669 Catania");
    let ev_of = |c: &mut Raw, ev: &mut Events, line: &str| {
        c.q(line);
        ev.take_raw()
            .into_iter()
            .map(|(ch, key)| format!("{} {key}", ch.trim_start_matches("__keyevent@0__:")))
            .collect::<Vec<_>>()
    };
    let mut ev = Events::new(s.port());
    for dst in ["dst1", "dst2", "dst3"] {
        c.call(&["SET", dst, "x", "PX", "1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    ev.take_raw();
    assert_eq!(
        ev_of(&mut c, &mut ev, "GEORADIUS src 15 37 200 km STORE dst1"),
        ["expired dst1", "new dst1", "georadiusstore dst1"]
    );
    assert_eq!(
        ev_of(
            &mut c,
            &mut ev,
            "GEOSEARCHSTORE dst2 src FROMLONLAT 15 37 BYRADIUS 200 km"
        ),
        ["expired dst2", "new dst2", "geosearchstore dst2"]
    );
    assert_eq!(
        ev_of(
            &mut c,
            &mut ev,
            "GEOSEARCHSTORE dst3 src FROMLONLAT 15 37 BYRADIUS 1 km"
        ),
        ["del dst3"]
    );
    c.q("DEBUG SET-ACTIVE-EXPIRE 1");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
}

#[test]
fn sort_looks_up_every_by_key_before_failing_on_a_non_number() {
    check(&[
        ("SADD srt 1 2 3", "new srt@0, sadd srt@0"),
        ("SET w_1 x", "new w_1@0, set w_1@0"),
        // w_1 is not a number, yet w_2 and w_3 are looked up (and missed) first.
        ("SORT srt BY w_*", "keymiss w_2@0, keymiss w_3@0"),
        ("SORT_RO srt BY w_* GET w_*", "keymiss w_2@0, keymiss w_3@0"),
    ]);
}
