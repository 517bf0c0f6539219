//! Pub/sub over TCP matches Redis 7.0 frame for frame, and a subscriber that stops reading is cut off instead of growing the server's memory.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use strata::protocol::Frame;

const CONTEXT: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

fn refused(cmd: &str) -> Frame {
    err(&format!("ERR Can't execute '{cmd}': {CONTEXT}"))
}

/// A (un)subscribe confirmation: `[kind, name, count]`.
fn conf(kind: &str, name: &str, count: i64) -> Frame {
    arr(vec![bulk(kind), bulk(name), int(count)])
}

fn message(channel: &str, msg: impl AsRef<[u8]>) -> Frame {
    arr(vec![bulk("message"), bulk(channel), bulk(msg)])
}

fn pmessage(pattern: &str, channel: &str, msg: impl AsRef<[u8]>) -> Frame {
    arr(vec![
        bulk("pmessage"),
        bulk(pattern),
        bulk(channel),
        bulk(msg),
    ])
}

/// The same frame as a RESP3 push.
fn push(f: Frame) -> Frame {
    match f {
        Frame::Array(v) => Frame::Push(v),
        other => panic!("not an array: {other:?}"),
    }
}

fn in_process(s: &Server) -> bool {
    s.handle.is_some()
}

/// `name:value` fields of an INFO reply.
fn info(c: &mut Raw, section: &str) -> HashMap<String, String> {
    as_text(&c.q(&format!("INFO {section}")))
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The CLIENT LIST fields of client `id`.
fn client_fields(c: &mut Raw, id: i64) -> Option<HashMap<String, String>> {
    let list = as_text(&c.q("CLIENT LIST"));
    let line = list.lines().find(|l| l.starts_with(&format!("id={id} ")))?;
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn numsub(c: &mut Raw, channel: &str) -> i64 {
    let v = as_array(c.call(&["PUBSUB", "NUMSUB", channel]));
    as_int(&v[1])
}

#[test]
fn subscribe_and_publish_exact_frames() {
    let s = start();
    let mut sub = s.raw();
    let mut publisher = s.raw();

    sub.send_cmd(&["SUBSCRIBE", "c1", "c2", "c1"]);
    assert_eq!(sub.read(), conf("subscribe", "c1", 1));
    assert_eq!(sub.read(), conf("subscribe", "c2", 2));
    // Subscribing again confirms again, with the same count.
    assert_eq!(sub.read(), conf("subscribe", "c1", 2));
    sub.send_cmd(&["PSUBSCRIBE", "c*", "d?"]);
    assert_eq!(sub.read(), conf("psubscribe", "c*", 3));
    assert_eq!(sub.read(), conf("psubscribe", "d?", 4));

    // A channel match and a pattern match: two deliveries, channel first.
    assert_eq!(publisher.q("PUBLISH c1 hello"), int(2));
    assert_eq!(sub.read(), message("c1", "hello"));
    assert_eq!(sub.read(), pmessage("c*", "c1", "hello"));
    assert_eq!(publisher.q("PUBLISH d1 x"), int(1));
    assert_eq!(sub.read(), pmessage("d?", "d1", "x"));
    assert_eq!(publisher.q("PUBLISH nobody x"), int(0));
    // Binary-safe: CR LF and empty payloads, and pattern matching is case-sensitive.
    let odd = b"a\r\nb\x00c".to_vec();
    assert_eq!(publisher.call(&[&b"PUBLISH"[..], b"c2", &odd]), int(2));
    assert_eq!(sub.read(), message("c2", &odd));
    assert_eq!(sub.read(), pmessage("c*", "c2", &odd));
    assert_eq!(publisher.call(&["PUBLISH", "c2", ""]), int(2));
    assert_eq!(sub.read(), message("c2", ""));
    assert_eq!(sub.read(), pmessage("c*", "c2", ""));
    assert_eq!(publisher.q("PUBLISH C1 upper"), int(0));
    // Nothing else was queued: the next frame is the PING reply.
    assert_eq!(sub.q("PING"), bulks(&["pong", ""]));

    assert_eq!(
        publisher.q("PUBLISH c1"),
        err("ERR wrong number of arguments for 'publish' command")
    );
    assert_eq!(
        publisher.q("SUBSCRIBE"),
        err("ERR wrong number of arguments for 'subscribe' command")
    );
    assert_eq!(
        publisher.q("PSUBSCRIBE"),
        err("ERR wrong number of arguments for 'psubscribe' command")
    );
}

#[test]
fn unsubscribe_replies_and_counts() {
    let s = start();
    let mut c = s.raw();
    // Subscribed to nothing: one reply with a nil name.
    assert_eq!(
        c.q("UNSUBSCRIBE"),
        arr(vec![bulk("unsubscribe"), nil(), int(0)])
    );
    assert_eq!(
        c.q("PUNSUBSCRIBE"),
        arr(vec![bulk("punsubscribe"), nil(), int(0)])
    );
    // Named channels are confirmed whether subscribed or not.
    c.send_cmd(&["UNSUBSCRIBE", "x", "y"]);
    assert_eq!(c.read(), conf("unsubscribe", "x", 0));
    assert_eq!(c.read(), conf("unsubscribe", "y", 0));

    c.send_cmd(&["SUBSCRIBE", "a", "b"]);
    c.read();
    c.read();
    c.send_cmd(&["PSUBSCRIBE", "p1", "p2"]);
    c.read();
    assert_eq!(c.read(), conf("psubscribe", "p2", 4));
    assert_eq!(c.q("UNSUBSCRIBE zz"), conf("unsubscribe", "zz", 4));
    assert_eq!(c.q("PUNSUBSCRIBE zz"), conf("punsubscribe", "zz", 4));

    // No arguments: every channel, counting down; patterns still count.
    c.send_cmd(&["UNSUBSCRIBE"]);
    let (first, second) = (as_array(c.read()), as_array(c.read()));
    let mut names = vec![as_text(&first[1]), as_text(&second[1])];
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert_eq!((&first[2], &second[2]), (&int(3), &int(2)));
    assert_eq!(first[0], bulk("unsubscribe"));
    // Still subscribed to patterns: still in subscribed mode.
    assert_eq!(c.q("GET k"), refused("get"));
    // Patterns go in subscription order.
    c.send_cmd(&["PUNSUBSCRIBE"]);
    assert_eq!(c.read(), conf("punsubscribe", "p1", 1));
    assert_eq!(c.read(), conf("punsubscribe", "p2", 0));
    // Out of subscribed mode.
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("PING"), simple("PONG"));
}

#[test]
fn pubsub_introspection() {
    let s = start();
    let mut a = s.raw();
    let mut b = s.raw();
    let mut q = s.raw();
    a.send_cmd(&["SUBSCRIBE", "news.tech", "news.art", "sport"]);
    for _ in 0..3 {
        a.read();
    }
    b.send_cmd(&["SUBSCRIBE", "news.tech"]);
    b.read();
    a.send_cmd(&["PSUBSCRIBE", "news.*", "x*"]);
    a.read();
    a.read();
    b.send_cmd(&["PSUBSCRIBE", "news.*"]);
    b.read();

    assert_eq!(
        sorted_texts(q.q("PUBSUB CHANNELS")),
        ["news.art", "news.tech", "sport"]
    );
    assert_eq!(
        sorted_texts(q.q("PUBSUB CHANNELS news.*")),
        ["news.art", "news.tech"]
    );
    assert_eq!(q.q("PUBSUB CHANNELS nothing*"), arr(vec![]));
    assert_eq!(
        q.q("PUBSUB NUMSUB news.tech sport none"),
        arr(vec![
            bulk("news.tech"),
            int(2),
            bulk("sport"),
            int(1),
            bulk("none"),
            int(0)
        ])
    );
    assert_eq!(q.q("PUBSUB NUMSUB"), arr(vec![]));
    // Distinct patterns.
    assert_eq!(q.q("PUBSUB NUMPAT"), int(2));
    assert_eq!(q.q("PUBSUB SHARDCHANNELS"), arr(vec![]));
    assert_eq!(q.q("PUBSUB SHARDNUMSUB a"), arr(vec![bulk("a"), int(0)]));
    let i = info(&mut q, "stats");
    assert_eq!(i["pubsub_channels"], "3");
    assert_eq!(i["pubsub_patterns"], "2");
    assert_eq!(i["pubsubshard_channels"], "0");

    assert_eq!(
        q.q("PUBSUB NUMPAT x"),
        err("ERR wrong number of arguments for 'pubsub|numpat' command")
    );
    assert_eq!(
        q.q("PUBSUB CHANNELS a b"),
        err("ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
    );
    assert_eq!(
        q.q("PUBSUB FOO"),
        err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
    );
    assert_eq!(
        q.q("PUBSUB"),
        err("ERR wrong number of arguments for 'pubsub' command")
    );
    let help = as_array(q.q("PUBSUB HELP"));
    assert_eq!(help.len(), 14);
    assert_eq!(
        help[0],
        simple("PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(help[13], simple("    Prints this help."));

    // Disconnecting cleans the registries.
    drop(a);
    drop(b);
    assert!(wait_for(3000, || q.q("PUBSUB NUMPAT") == int(0)));
    assert_eq!(q.q("PUBSUB CHANNELS"), arr(vec![]));
    assert_eq!(numsub(&mut q, "news.tech"), 0);
    let i = info(&mut q, "stats");
    assert_eq!((&*i["pubsub_channels"], &*i["pubsub_patterns"]), ("0", "0"));
}

#[test]
fn resp2_subscribed_mode_allows_only_pubsub_commands() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SUBSCRIBE ch"), conf("subscribe", "ch", 1));
    assert_eq!(c.q("GET k"), refused("get"));
    assert_eq!(c.q("SET k v"), refused("set"));
    assert_eq!(c.q("PUBLISH ch x"), refused("publish"));
    assert_eq!(c.q("HELLO 3"), refused("hello"));
    // Subcommands are named as Redis names them.
    assert_eq!(c.q("CONFIG GET maxclients"), refused("config|get"));
    assert_eq!(c.q("PUBSUB NUMPAT"), refused("pubsub|numpat"));
    // Unknown commands, unknown subcommands and arity are reported first.
    assert_eq!(
        c.q("CLIENT FOO"),
        err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
    assert_eq!(
        c.q("FOOBAR"),
        err("ERR unknown command 'FOOBAR', with args beginning with: ")
    );
    assert_eq!(
        c.q("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    // PING answers as a pub/sub frame.
    assert_eq!(c.q("PING"), bulks(&["pong", ""]));
    assert_eq!(c.q("PING hi"), bulks(&["pong", "hi"]));
    assert_eq!(
        c.q("PING a b"),
        err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(c.q("MULTI"), refused("multi"));
    assert_eq!(
        c.q("EXEC"),
        err(&format!(
            "EXECABORT Transaction discarded because of: Can't execute 'exec': {CONTEXT}"
        ))
    );
    // RESET leaves subscribed mode and drops the subscriptions.
    assert_eq!(c.q("RESET"), simple("RESET"));
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(numsub(&mut c, "ch"), 0);

    // Commands queued by MULTI run in EXEC even after a queued SUBSCRIBE, as in Redis.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SUBSCRIBE m1"), simple("QUEUED"));
    assert_eq!(c.q("GET k"), simple("QUEUED"));
    assert_eq!(c.q("PING"), simple("QUEUED"));
    assert_eq!(
        c.q("EXEC"),
        arr(vec![
            conf("subscribe", "m1", 1),
            nil(),
            bulks(&["pong", ""])
        ])
    );
    assert_eq!(c.q("GET k"), refused("get"));

    // QUIT is allowed and closes.
    assert_eq!(c.q("QUIT"), ok());
    assert!(c.closed_within(2000));
}

#[test]
fn resp3_pushes_interleave_with_normal_commands() {
    let s = start();
    let mut c = s.raw();
    let mut publisher = s.raw();
    c.q("HELLO 3");
    assert_eq!(c.q("SUBSCRIBE c1"), push(conf("subscribe", "c1", 1)));
    // Any command is allowed in RESP3.
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("PING"), simple("PONG"));
    // Publishing to itself: the message precedes the PUBLISH reply, as in Redis.
    c.send_cmd(&["PUBLISH", "c1", "self"]);
    assert_eq!(c.read(), push(message("c1", "self")));
    assert_eq!(c.read(), int(1));
    assert_eq!(c.q("PSUBSCRIBE c*"), push(conf("psubscribe", "c*", 2)));

    // Messages from another client arrive between replies, in order.
    for i in 0..20 {
        assert_eq!(publisher.call(&["PUBLISH", "c1", &format!("m{i}")]), int(2));
        if i % 5 == 0 {
            assert_eq!(
                c.call(&["SET", "k", &i.to_string()]),
                push(message("c1", format!("m{i}")))
            );
            assert_eq!(c.read(), push(pmessage("c*", "c1", format!("m{i}"))));
            assert_eq!(c.read(), ok());
        } else {
            assert_eq!(c.read(), push(message("c1", format!("m{i}"))));
            assert_eq!(c.read(), push(pmessage("c*", "c1", format!("m{i}"))));
        }
    }
    assert_eq!(c.q("GET k"), bulk("15"));

    assert_eq!(c.q("UNSUBSCRIBE"), push(conf("unsubscribe", "c1", 1)));
    assert_eq!(c.q("PUNSUBSCRIBE"), push(conf("punsubscribe", "c*", 0)));
    assert_eq!(
        c.q("UNSUBSCRIBE"),
        Frame::Push(vec![bulk("unsubscribe"), Frame::Null, int(0)])
    );
    assert_eq!(publisher.q("PUBLISH c1 late"), int(0));

    // HELLO 2 while subscribed: later messages are RESP2 arrays, and RESP2 rules apply.
    assert_eq!(c.q("SUBSCRIBE c2"), push(conf("subscribe", "c2", 1)));
    assert_eq!(as_int(&as_array(c.q("HELLO 2"))[5]), 2);
    assert_eq!(publisher.q("PUBLISH c2 now2"), int(1));
    assert_eq!(c.read(), message("c2", "now2"));
    assert_eq!(c.q("GET k"), refused("get"));
}

#[test]
fn many_subscribers() {
    let s = start();
    let mut publisher = s.raw();
    let mut subs: Vec<Raw> = (0..60).map(|_| s.raw()).collect();
    for (i, c) in subs.iter_mut().enumerate() {
        if i % 2 == 0 {
            assert_eq!(c.q("SUBSCRIBE fan"), conf("subscribe", "fan", 1));
        } else {
            assert_eq!(c.q("PSUBSCRIBE f*"), conf("psubscribe", "f*", 1));
        }
    }
    for round in 0..10 {
        let m = format!("msg-{round}");
        assert_eq!(publisher.call(&["PUBLISH", "fan", &m]), int(60));
    }
    for (i, c) in subs.iter_mut().enumerate() {
        for round in 0..10 {
            let m = format!("msg-{round}");
            let want = if i % 2 == 0 {
                message("fan", &m)
            } else {
                pmessage("f*", "fan", &m)
            };
            assert_eq!(c.read(), want);
        }
    }
    assert_eq!(numsub(&mut publisher, "fan"), 30);
    // Half of them go away: they stop counting once their connections are gone.
    subs.truncate(20);
    assert!(wait_for(3000, || publisher.q("PUBLISH fan last") == int(20)));
    assert_eq!(numsub(&mut publisher, "fan"), 10);
    assert_eq!(publisher.q("PUBSUB NUMPAT"), int(1));
}

#[test]
fn client_list_shows_subscriptions() {
    let s = start();
    let mut sub = s.raw();
    let mut other = s.raw();
    let id = as_int(&sub.q("CLIENT ID"));
    sub.send_cmd(&["SUBSCRIBE", "a", "b"]);
    sub.read();
    sub.read();
    sub.q("PSUBSCRIBE p*");
    let f = client_fields(&mut other, id).expect("listed");
    assert_eq!(
        (&*f["flags"], &*f["sub"], &*f["psub"], &*f["omem"]),
        ("P", "2", "1", "0")
    );
    let pubsub_list = as_text(&other.q("CLIENT LIST TYPE pubsub"));
    assert_eq!(pubsub_list.lines().count(), 1);
    assert!(pubsub_list.starts_with(&format!("id={id} ")));
    let normal = as_text(&other.q("CLIENT LIST TYPE normal"));
    assert!(!normal.contains(&format!("id={id} ")));
    assert_eq!(normal.lines().count(), 1);
    // CLIENT KILL TYPE pubsub closes subscribers only.
    assert_eq!(other.q("CLIENT KILL TYPE pubsub"), int(1));
    assert!(sub.closed_within(2000));
    assert!(wait_for(3000, || numsub(&mut other, "a") == 0));
    assert_eq!(other.q("PING"), simple("PONG"));
}

#[test]
fn output_buffer_limit_config() {
    let s = start();
    let mut c = s.raw();
    let get = |c: &mut Raw| as_array(c.q("CONFIG GET client-output-buffer-limit"))[1].clone();
    assert_eq!(
        get(&mut c),
        bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
    );
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 1"
        ]),
        ok()
    );
    assert_eq!(
        get(&mut c),
        bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 65536 32768 1")
    );
    let fail = |reason: &str| {
        err(&format!(
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {reason}"
        ))
    };
    assert_eq!(
        c.call(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2"]),
        fail("Wrong number of arguments in buffer limit configuration.")
    );
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "master 1 2 3"
        ]),
        fail("Invalid client class specified in buffer limit configuration.")
    );
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1 1 1 pubsub x 1 1"
        ]),
        fail("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
    );
    // Nothing of a failed set applies.
    assert_eq!(
        get(&mut c),
        bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 65536 32768 1")
    );
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 1mb 1mb 5 normal 10mb 20mb 3"
        ]),
        ok()
    );
    // (A tiny normal limit would cut this very client off, as in Redis.)
    assert_eq!(
        get(&mut c),
        bulk("normal 10485760 20971520 3 slave 1048576 1048576 5 pubsub 65536 32768 1")
    );
    restore_limits(&s);
}

/// Put Redis's defaults back (for runs against a shared external server).
fn restore_limits(s: &Server) {
    let defaults = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    assert_eq!(
        s.raw()
            .call(&["CONFIG", "SET", "client-output-buffer-limit", defaults]),
        ok()
    );
}

/// Publish `count` messages of `size` bytes to `channel`, pipelined in groups.
fn flood(publisher: &mut Raw, channel: &str, size: usize, count: usize) {
    let payload = vec![b'x'; size];
    let mut sent = 0;
    while sent < count {
        let n = (count - sent).min(16);
        let mut batch = Vec::new();
        for _ in 0..n {
            batch.extend_from_slice(&encode(&[b"PUBLISH", channel.as_bytes(), &payload]));
        }
        publisher.send(&batch);
        for _ in 0..n {
            assert!(matches!(publisher.read(), Frame::Integer(_)));
        }
        sent += n;
    }
}

#[test]
fn subscriber_that_never_reads_is_disconnected_at_the_hard_limit() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 60"
        ]),
        ok()
    );
    let mut slow = s.raw();
    let slow_id = as_int(&slow.q("CLIENT ID"));
    assert_eq!(slow.q("SUBSCRIBE feed"), conf("subscribe", "feed", 1));
    // A subscriber that keeps up: it reads each pair of messages before the next.
    let mut fast = s.raw();
    assert_eq!(fast.q("SUBSCRIBE feed"), conf("subscribe", "feed", 1));
    const SIZE: usize = 16 * 1024;
    const COUNT: usize = 2048; // 32 MiB: far more than the kernel's socket buffers
    let payload = vec![b'x'; SIZE];

    let mut publisher = s.raw();
    let mut max_omem = 0;
    let start = Instant::now();
    for i in (0..COUNT).step_by(2) {
        flood(&mut publisher, "feed", SIZE, 2);
        for _ in 0..2 {
            assert_eq!(fast.read(), message("feed", &payload), "message {i}");
        }
        // While it is connected, its backlog never passes the limit by more than a message.
        if i % 64 == 0 {
            if let Some(f) = client_fields(&mut admin, slow_id) {
                max_omem = max_omem.max(f["omem"].parse::<usize>().unwrap());
            }
        }
    }
    assert!(max_omem <= 64 * 1024 + SIZE + 64, "omem reached {max_omem}");
    // The fast subscriber got everything; the publisher and others kept working.
    assert_eq!(fast.q("PING"), bulks(&["pong", ""]));
    assert_eq!(publisher.q("PUBLISH feed last"), int(1));
    assert_eq!(fast.read(), message("feed", "last"));
    assert_eq!(admin.q("SET k v"), ok());

    // The slow subscriber was closed: after what the kernel buffered, EOF.
    let mut sink = Vec::new();
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = slow.stream.read_to_end(&mut sink);
    assert!(
        sink.len() < COUNT * SIZE,
        "the slow subscriber got everything"
    );
    assert!(wait_for(3000, || client_fields(&mut admin, slow_id).is_none()));
    assert_eq!(numsub(&mut admin, "feed"), 1);
    if in_process(&s) {
        let stats = info(&mut admin, "stats");
        assert_eq!(stats["client_output_buffer_limit_disconnections"], "1");
        // Nothing is left waiting for subscribers.
        let mem = info(&mut admin, "memory");
        let clients: u64 = mem["mem_clients_normal"].parse().unwrap();
        assert!(clients < 64 * 1024, "mem_clients_normal {clients}");
    }
    assert!(start.elapsed() < Duration::from_secs(8));
    restore_limits(&s);
}

#[test]
fn subscriber_above_the_soft_limit_for_too_long_is_disconnected() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 32kb 1"
        ]),
        ok()
    );
    let mut slow = s.raw();
    let slow_id = as_int(&slow.q("CLIENT ID"));
    assert_eq!(slow.q("SUBSCRIBE feed"), conf("subscribe", "feed", 1));
    let mut publisher = s.raw();
    // Fill the kernel's buffers and then some, then stop publishing.
    let t0 = Instant::now();
    let mut backlog = 0;
    while backlog < 64 * 1024 {
        flood(&mut publisher, "feed", 16 * 1024, 16);
        backlog =
            client_fields(&mut admin, slow_id).map_or(usize::MAX, |f| f["omem"].parse().unwrap());
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "backlog never built up"
        );
    }
    // Still connected right away (the soft limit allows 1 s)...
    assert!(client_fields(&mut admin, slow_id).is_some());
    // ...and closed once the backlog stayed above it for longer, with no new message.
    assert!(wait_for(4000, || client_fields(&mut admin, slow_id).is_none()));
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!(numsub(&mut admin, "feed"), 0);
    restore_limits(&s);
}

#[test]
fn subscribers_are_exempt_from_the_idle_timeout() {
    let s = start();
    let mut admin = s.raw();
    assert_eq!(admin.q("CONFIG SET timeout 1"), ok());
    let mut sub = s.raw();
    assert_eq!(sub.q("SUBSCRIBE ch"), conf("subscribe", "ch", 1));
    let mut idle = s.raw();
    assert_eq!(idle.q("PING"), simple("PONG"));
    assert!(idle.closed_within(3500));
    assert_eq!(sub.q("PING"), bulks(&["pong", ""]));
    assert_eq!(s.raw().q("CONFIG SET timeout 0"), ok());
}

#[test]
fn publish_is_not_logged() {
    let s = start_with(|c| {
        c.appendonly = true;
        c.appendfsync = strata::config::FsyncPolicy::Always;
    });
    if !in_process(&s) {
        return;
    }
    let mut c = s.raw();
    let mut sub = s.raw();
    sub.q("SUBSCRIBE secret-channel");
    assert_eq!(c.q("PUBLISH secret-channel secret-payload"), int(1));
    assert_eq!(sub.read(), message("secret-channel", "secret-payload"));
    // A write after it: once acknowledged it is on disk, and the PUBLISH is not.
    assert_eq!(c.q("SET marker-key marker-value"), ok());
    let mut logged = Vec::new();
    let mut stack = vec![s.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                logged.extend(std::fs::read(&p).unwrap());
            }
        }
    }
    let has = |needle: &[u8]| logged.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"marker-value"));
    assert!(!has(b"secret-payload") && !has(b"secret-channel"));
    assert_eq!(
        info(&mut c, "persistence")["rdb_changes_since_last_save"],
        "1"
    );
}

#[test]
fn sharded_pubsub_is_a_namespace_of_its_own() {
    let s = start();
    let mut sub = s.raw();
    let mut other = s.raw();
    let mut w = s.raw();
    let id = as_int(&sub.call(&["CLIENT", "ID"]));
    // Confirmations count shard channels only; SUBSCRIBE's count leaves them out.
    sub.send_cmd(&["SSUBSCRIBE", "c1", "c2"]);
    assert_eq!(sub.read(), conf("ssubscribe", "c1", 1));
    assert_eq!(sub.read(), conf("ssubscribe", "c2", 2));
    assert_eq!(sub.call(&["SUBSCRIBE", "n1"]), conf("subscribe", "n1", 1));
    assert_eq!(sub.call(&["SSUBSCRIBE", "c1"]), conf("ssubscribe", "c1", 2));
    assert_eq!(other.call(&["PSUBSCRIBE", "*"]), conf("psubscribe", "*", 1));
    // SPUBLISH reaches shard subscribers only, PUBLISH never reaches them.
    assert_eq!(w.call(&["SPUBLISH", "c1", "hi"]), int(1));
    assert_eq!(
        sub.read(),
        arr(vec![bulk("smessage"), bulk("c1"), bulk("hi")])
    );
    assert_eq!(w.call(&["PUBLISH", "c1", "x"]), int(1));
    assert_eq!(other.read(), pmessage("*", "c1", "x"));
    assert_eq!(
        sorted_texts(w.call(&["PUBSUB", "SHARDCHANNELS"])),
        ["c1", "c2"]
    );
    assert_eq!(w.call(&["PUBSUB", "SHARDCHANNELS", "c1*"]), bulks(&["c1"]));
    assert_eq!(
        w.call(&["PUBSUB", "SHARDNUMSUB", "c1", "zz"]),
        arr(vec![bulk("c1"), int(1), bulk("zz"), int(0)])
    );
    assert_eq!(w.call(&["PUBSUB", "CHANNELS"]), bulks(&["n1"]));
    assert_eq!(info(&mut w, "stats")["pubsubshard_channels"], "2");
    let fields = client_fields(&mut w, id).expect("listed");
    assert_eq!(
        (
            &fields["flags"][..],
            &fields["sub"][..],
            &fields["ssub"][..]
        ),
        ("P", "1", "2")
    );
    // In subscribed mode.
    assert_eq!(sub.call(&["GET", "x"]), refused("get"));
    assert_eq!(
        sub.call(&["SUNSUBSCRIBE", "c1"]),
        conf("sunsubscribe", "c1", 1)
    );
    assert_eq!(sub.call(&["SUNSUBSCRIBE"]), conf("sunsubscribe", "c2", 0));
    assert_eq!(
        sub.call(&["SUNSUBSCRIBE"]),
        arr(vec![bulk("sunsubscribe"), nil(), int(0)])
    );
    assert_eq!(sub.call(&["UNSUBSCRIBE"]), conf("unsubscribe", "n1", 0));
    // Refused inside a transaction (SUBSCRIBE is not), as in Redis 7.0; channels are not
    // keys.
    w.call(&["MULTI"]);
    w.call(&["SSUBSCRIBE", "q"]);
    w.call(&["SPUBLISH", "q", "m"]);
    assert_eq!(
        w.call(&["EXEC"]),
        arr(vec![
            err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"),
            int(0)
        ])
    );
    assert_eq!(
        w.call(&["COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"]),
        err("ERR The command has no key arguments")
    );
}

#[test]
fn sharded_messages_in_resp3_and_to_the_publisher() {
    let s = start();
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Frame::Map(_)));
    assert_eq!(
        c.call(&["SSUBSCRIBE", "z"]),
        push(conf("ssubscribe", "z", 1))
    );
    // Still free to run commands, and its own message precedes the SPUBLISH reply.
    assert_eq!(c.call(&["GET", "x"]), Frame::Null);
    assert_eq!(
        c.call(&["SPUBLISH", "z", "self"]),
        push(arr(vec![bulk("smessage"), bulk("z"), bulk("self")]))
    );
    assert_eq!(c.read(), int(1));
    assert_eq!(c.call(&["RESET"]), simple("RESET"));
    let mut w = s.raw();
    assert_eq!(
        w.call(&["PUBSUB", "SHARDNUMSUB", "z"]),
        arr(vec![bulk("z"), int(0)])
    );
}
