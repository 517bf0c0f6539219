//! Streams and consumer groups answer as Redis 7.0 does (replies and errors, checked
//! against redis-server 7.0.15 with STRATA_TEST_EXTERNAL_PORT), block and wake like it,
//! and come back identical from the log and from a snapshot.

mod common;

use std::time::Duration;

use common::*;
use strata::protocol::Frame;

fn ent(id: &str, fields: &[&str]) -> Frame {
    arr(vec![bulk(id), bulks(fields)])
}

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

#[test]
fn add_range_delete_trim() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("XADD s 1-1 a 1"), bulk("1-1"));
    assert_eq!(c.q("XADD s 1-1 a 1"), err(TOO_SMALL));
    assert_eq!(c.q("XADD s 1 a 1"), err(TOO_SMALL));
    assert_eq!(
        c.q("XADD s 0-0 a 1"),
        err("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(c.q("XADD s2 0-* a 1"), bulk("0-1"));
    assert_eq!(c.q("XADD s 1-* b 2"), bulk("1-2"));
    assert_eq!(c.q("XADD s 5-* b 2"), bulk("5-0"));
    assert_eq!(c.q("XADD s 3-* b 2"), err(TOO_SMALL));
    assert_eq!(c.q("XADD s 6 c 3 d 4"), bulk("6-0"));
    assert_eq!(
        c.q("XADD s 7 c"),
        err("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(c.q("XADD nos NOMKSTREAM 8 x y"), Frame::NullBulk);
    assert_eq!(c.q("EXISTS nos"), int(0));
    assert_eq!(c.q("XADD s bad x y"), err(INVALID_ID));
    assert_eq!(c.q("XADD s 15-abc x y"), err(INVALID_ID));
    // An automatic ID is the clock's, or the last ID's successor.
    let auto = as_text(&c.q("XADD auto * x y"));
    let (ms, _) = auto.split_once('-').expect("ms-seq");
    assert!(ms.parse::<u64>().unwrap() > 1_600_000_000_000, "{auto}");
    assert_eq!(
        c.q("XDEL s"),
        err("ERR wrong number of arguments for 'xdel' command")
    );
    assert_eq!(c.q(&format!("XDEL auto {auto}")), int(1));
    assert_eq!(c.q("XLEN s"), int(4));

    // Trimming while adding, and its errors.
    assert_eq!(c.q("XADD s MAXLEN 3 9 x y"), bulk("9-0"));
    assert_eq!(c.q("XLEN s"), int(3));
    assert_eq!(
        c.q("XRANGE s - +"),
        arr(vec![
            ent("5-0", &["b", "2"]),
            ent("6-0", &["c", "3", "d", "4"]),
            ent("9-0", &["x", "y"])
        ])
    );
    assert_eq!(
        c.q("XADD s MAXLEN = 2 LIMIT 5 11 x y"),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        c.q("XADD s MAXLEN -1 13 x y"),
        err("ERR The MAXLEN argument must be >= 0.")
    );
    assert_eq!(
        c.q("XADD s MAXLEN abc 13 x y"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.q("XADD s MINID 12 MAXLEN 3 13 x y"),
        err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    );
    assert_eq!(
        c.q("XADD s LIMIT 3 13 x y"),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(c.q("XADD s MINID 6 14 x y"), bulk("14-0"));
    assert_eq!(c.q("XLEN s"), int(3));

    // Ranges: inclusive, exclusive, counted, reversed.
    assert_eq!(
        c.q("XRANGE s (6 + COUNT 1"),
        arr(vec![ent("9-0", &["x", "y"])])
    );
    assert_eq!(c.q("XRANGE s 7 9"), arr(vec![ent("9-0", &["x", "y"])]));
    assert_eq!(c.q("XRANGE s - + COUNT 0"), Frame::NullArray);
    assert_eq!(
        c.q("XREVRANGE s + - COUNT 2"),
        arr(vec![ent("14-0", &["x", "y"]), ent("9-0", &["x", "y"])])
    );
    // (A bare `(14` as the end is 14-<max seq>, so 14-0 is still in: Redis's rule.)
    assert_eq!(
        c.q("XREVRANGE s (14 -"),
        arr(vec![
            ent("14-0", &["x", "y"]),
            ent("9-0", &["x", "y"]),
            ent("6-0", &["c", "3", "d", "4"])
        ])
    );
    assert_eq!(
        c.q("XREVRANGE s (14-0 -"),
        arr(vec![
            ent("9-0", &["x", "y"]),
            ent("6-0", &["c", "3", "d", "4"])
        ])
    );
    assert_eq!(c.q("XRANGE s x +"), err(INVALID_ID));
    assert_eq!(c.q("XRANGE s (- +"), err(INVALID_ID));
    assert_eq!(
        c.q("XRANGE s (18446744073709551615-18446744073709551615 +"),
        err("ERR invalid start ID for the interval")
    );
    assert_eq!(
        c.q("XRANGE s - (0-0"),
        err("ERR invalid end ID for the interval")
    );
    assert_eq!(c.q("XRANGE s - + FOO 1"), err("ERR syntax error"));
    assert_eq!(c.q("XRANGE nokey - +"), arr(vec![]));

    // Deleting and trimming.
    assert_eq!(c.q("XDEL s 9 99 abc"), err(INVALID_ID));
    assert_eq!(c.q("XDEL s 9 99"), int(1));
    assert_eq!(
        c.q("XTRIM s MAXLEN x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("XTRIM nokey MAXLEN 1"), int(0));
    assert_eq!(c.q("XTRIM s FOO 1"), err("ERR syntax error"));
    assert_eq!(c.q("XTRIM s MAXLEN 1"), int(1));
    assert_eq!(c.q("XTRIM s MAXLEN 0"), int(1));
    // An emptied stream stays, with its last ID.
    assert_eq!(c.q("XLEN s"), int(0));
    assert_eq!(c.q("TYPE s"), simple("stream"));
    assert_eq!(c.q("XADD s 14 a b"), err(TOO_SMALL));

    // XSETID.
    assert_eq!(c.q("XSETID s 20"), ok());
    assert_eq!(c.q("XADD s 20-* a b"), bulk("20-1"));
    assert_eq!(
        c.q("XSETID s 5"),
        err("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
    assert_eq!(
        c.q("XSETID s 30 ENTRIESADDED 0"),
        err("ERR The entries_added specified in XSETID is smaller than the target stream length")
    );
    assert_eq!(
        c.q("XSETID s 30 MAXDELETEDID 40"),
        err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    );
    assert_eq!(c.q("XSETID s 40 MAXDELETEDID 30 ENTRIESADDED 100"), ok());
    assert_eq!(c.q("XSETID nokey 1"), err("ERR no such key"));
    assert_eq!(c.q("XSETID s 50 FOO"), err("ERR syntax error"));
    let info = as_array(c.q("XINFO STREAM s"));
    assert_eq!(
        info[0..14].to_vec(),
        vec![
            bulk("length"),
            int(1),
            bulk("radix-tree-keys"),
            int(1),
            bulk("radix-tree-nodes"),
            int(2),
            bulk("last-generated-id"),
            bulk("40-0"),
            bulk("max-deleted-entry-id"),
            bulk("30-0"),
            bulk("entries-added"),
            int(100),
            bulk("recorded-first-entry-id"),
            bulk("20-1"),
        ]
    );
    assert_eq!(
        info[14..].to_vec(),
        vec![
            bulk("groups"),
            int(0),
            bulk("first-entry"),
            ent("20-1", &["a", "b"]),
            bulk("last-entry"),
            ent("20-1", &["a", "b"]),
        ]
    );

    // Other types.
    c.q("SET str x");
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(c.q("XADD str * a b"), err(wrong));
    assert_eq!(c.q("XRANGE str - +"), err(wrong));
    assert_eq!(c.q("XLEN str"), err(wrong));
    assert_eq!(c.q("LPUSH s x"), err(wrong));
    assert_eq!(
        sorted_texts(as_array(c.q("SCAN 0 TYPE stream"))[1].clone()),
        vec!["auto", "s", "s2"]
    );
    assert_eq!(c.q("OBJECT ENCODING s"), bulk("stream"));
}

#[test]
fn consumer_groups() {
    let s = start();
    let mut c = s.raw();
    for i in 1..=4 {
        c.call(&["XADD", "s", &i.to_string(), "f", &i.to_string()]);
    }
    assert_eq!(c.q("XGROUP CREATE s g 0"), ok());
    assert_eq!(
        c.q("XGROUP CREATE s g 0"),
        err("BUSYGROUP Consumer Group name already exists")
    );
    assert_eq!(c.q("XGROUP CREATE s g2 $"), ok());
    assert_eq!(
        c.q("XGROUP CREATE nokey g 0"),
        err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
    );
    assert_eq!(c.q("XGROUP CREATE made g $ MKSTREAM"), ok());
    assert_eq!(c.q("XLEN made"), int(0));
    assert_eq!(
        c.q("XGROUP CREATE s g4 2 ENTRIESREAD -2"),
        err("ERR value for ENTRIESREAD must be positive or -1")
    );
    assert_eq!(
        c.q("XGROUP SETID s nog 0"),
        err("NOGROUP No such consumer group 'nog' for key name 's'")
    );
    assert_eq!(c.q("XGROUP CREATECONSUMER s g alice"), int(1));
    assert_eq!(c.q("XGROUP CREATECONSUMER s g alice"), int(0));
    assert_eq!(c.q("XGROUP DESTROY s g2"), int(1));
    assert_eq!(c.q("XGROUP DESTROY s g2"), int(0));

    // New entries go to the reading consumer's pending list.
    assert_eq!(
        c.q("XREADGROUP GROUP g bob COUNT 2 STREAMS s >"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![ent("1-0", &["f", "1"]), ent("2-0", &["f", "2"])])
        ])])
    );
    assert_eq!(
        c.q("XREADGROUP GROUP g alice STREAMS s >"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![ent("3-0", &["f", "3"]), ent("4-0", &["f", "4"])])
        ])])
    );
    assert_eq!(
        c.q("XREADGROUP GROUP g alice STREAMS s >"),
        Frame::NullArray
    );
    // History: the consumer's own pending entries.
    assert_eq!(
        c.q("XREADGROUP GROUP g bob STREAMS s 0"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![ent("1-0", &["f", "1"]), ent("2-0", &["f", "2"])])
        ])])
    );
    assert_eq!(
        c.q("XPENDING s g"),
        arr(vec![
            int(4),
            bulk("1-0"),
            bulk("4-0"),
            arr(vec![bulks(&["alice", "2"]), bulks(&["bob", "2"])])
        ])
    );
    let rows = as_array(c.q("XPENDING s g - + 10 bob"));
    assert_eq!(rows.len(), 2);
    let row = as_array(rows[0].clone());
    assert_eq!(
        (row[0].clone(), row[1].clone(), row[3].clone()),
        (bulk("1-0"), bulk("bob"), int(2))
    );
    assert_eq!(c.q("XPENDING s g - + 10 nobody"), arr(vec![]));
    assert_eq!(
        c.q("XPENDING s nog"),
        err("NOGROUP No such key 's' or consumer group 'nog'")
    );
    assert_eq!(c.q("XPENDING s g - +"), err("ERR syntax error"));

    assert_eq!(c.q("XACK s g 1 1 9"), int(1));
    assert_eq!(c.q("XACK s g abc"), err(INVALID_ID));
    assert_eq!(c.q("XACK s nog 2"), int(0));

    // A deleted entry shows as nil in the history, and claiming it drops it.
    assert_eq!(c.q("XDEL s 2"), int(1));
    assert_eq!(
        c.q("XREADGROUP GROUP g bob STREAMS s 0"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![arr(vec![bulk("2-0"), Frame::NullArray])])
        ])])
    );
    assert_eq!(c.q("XCLAIM s g carol 0 2 3 JUSTID"), arr(vec![bulk("3-0")]));
    assert_eq!(
        c.q("XPENDING s g"),
        arr(vec![
            int(2),
            bulk("3-0"),
            bulk("4-0"),
            arr(vec![bulks(&["alice", "1"]), bulks(&["carol", "1"])])
        ])
    );
    assert_eq!(
        c.q("XCLAIM s g carol 0 1 FORCE JUSTID RETRYCOUNT 7"),
        arr(vec![bulk("1-0")])
    );
    let rows = as_array(c.q("XPENDING s g - + 1"));
    assert_eq!(as_array(rows[0].clone())[3], int(7));
    assert_eq!(
        c.q("XCLAIM s g carol 0 5 BAD"),
        err("ERR Unrecognized XCLAIM option 'BAD'")
    );
    assert_eq!(
        c.q("XCLAIM s g carol x 5"),
        err("ERR Invalid min-idle-time argument for XCLAIM")
    );
    assert_eq!(
        c.q("XCLAIM s nog carol 0 5"),
        err("NOGROUP No such key 's' or consumer group 'nog'")
    );
    // Nothing is idle for an hour.
    assert_eq!(c.q("XCLAIM s g dave 3600000 3"), arr(vec![]));

    // XAUTOCLAIM walks the PEL from a cursor.
    assert_eq!(
        c.q("XAUTOCLAIM s g erin 0 0 COUNT 1"),
        arr(vec![
            bulk("3-0"),
            arr(vec![ent("1-0", &["f", "1"])]),
            arr(vec![])
        ])
    );
    assert_eq!(
        c.q("XAUTOCLAIM s g erin 0 3 JUSTID"),
        arr(vec![bulk("0-0"), bulks(&["3-0", "4-0"]), arr(vec![])])
    );
    assert_eq!(
        c.q("XAUTOCLAIM s g erin 0 0 COUNT 0"),
        err("ERR COUNT must be > 0")
    );
    assert_eq!(c.q("XDEL s 4"), int(1));
    assert_eq!(
        c.q("XAUTOCLAIM s g erin 0 0"),
        arr(vec![
            bulk("0-0"),
            arr(vec![ent("1-0", &["f", "1"]), ent("3-0", &["f", "3"])]),
            bulks(&["4-0"])
        ])
    );
    assert_eq!(c.q("XGROUP DELCONSUMER s g erin"), int(2));
    assert_eq!(
        c.q("XPENDING s g"),
        arr(vec![
            int(0),
            Frame::NullBulk,
            Frame::NullBulk,
            Frame::NullArray
        ])
    );

    // Group bookkeeping: entries read and lag, as Redis estimates them.
    assert_eq!(
        c.q("XINFO GROUPS s"),
        arr(vec![arr(vec![
            bulk("name"),
            bulk("g"),
            bulk("consumers"),
            int(3),
            bulk("pending"),
            int(0),
            bulk("last-delivered-id"),
            bulk("4-0"),
            bulk("entries-read"),
            int(4),
            bulk("lag"),
            int(0),
        ])])
    );
    c.q("XADD s 5 f 5");
    assert_eq!(c.q("XGROUP SETID s g 0"), ok());
    // With NOACK nothing becomes pending.
    assert_eq!(
        c.q("XREADGROUP GROUP g zed NOACK STREAMS s >"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![
                ent("1-0", &["f", "1"]),
                ent("3-0", &["f", "3"]),
                ent("5-0", &["f", "5"])
            ])
        ])])
    );
    assert_eq!(as_array(c.q("XPENDING s g"))[0], int(0));
    let groups = as_array(c.q("XINFO GROUPS s"));
    let g = as_array(groups[0].clone());
    assert_eq!(
        g[6..].to_vec(),
        vec![
            bulk("last-delivered-id"),
            bulk("5-0"),
            bulk("entries-read"),
            int(5),
            bulk("lag"),
            int(0)
        ]
    );
    let consumers = as_array(c.q("XINFO CONSUMERS s g"));
    let names: Vec<Frame> = consumers
        .into_iter()
        .map(|x| as_array(x)[1].clone())
        .collect();
    assert_eq!(
        names,
        vec![bulk("alice"), bulk("bob"), bulk("carol"), bulk("zed")]
    );
    assert_eq!(
        c.q("XINFO CONSUMERS s nog"),
        err("NOGROUP No such consumer group 'nog' for key name 's'")
    );
    assert_eq!(c.q("XINFO STREAM nokey"), err("ERR no such key"));

    // XREAD/XREADGROUP argument errors.
    assert_eq!(
        c.q("XREAD STREAMS s t 0"),
        err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
    );
    assert_eq!(c.q("XREAD STREAMS s >"), err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
    assert_eq!(
        c.q("XREAD GROUP g c STREAMS s 0"),
        err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    );
    assert_eq!(
        c.q("XREADGROUP COUNT 1 COUNT 1 STREAMS s >"),
        err("ERR Missing GROUP option for XREADGROUP")
    );
    assert_eq!(
        c.q("XREADGROUP GROUP nog a STREAMS s >"),
        err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        c.q("XREAD BLOCK -1 STREAMS s 0"),
        err("ERR timeout is negative")
    );
    assert_eq!(
        c.q("XREAD COUNT 1 STREAMS s nokey 0 0"),
        arr(vec![arr(vec![
            bulk("s"),
            arr(vec![ent("1-0", &["f", "1"])])
        ])])
    );
    assert_eq!(c.q("XREAD STREAMS s $"), Frame::NullArray);
}

#[test]
fn blocking_reads_wake_on_xadd() {
    let s = start();
    let mut c = s.raw();
    c.q("XADD s 1 a 1");
    c.q("XGROUP CREATE s g $");
    let mut by_dollar = s.raw();
    by_dollar.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    let mut grouped = s.raw();
    grouped.send_cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    let mut timed = s.raw();
    assert!(wait_for(5000, || info_field(
        &mut c,
        "clients",
        "blocked_clients"
    ) == "2"));
    assert_eq!(timed.q("XREAD BLOCK 100 STREAMS s 1"), Frame::NullArray);
    // Inside MULTI a blocking read answers as on timeout.
    assert_eq!(c.q("MULTI"), ok());
    c.q("XREAD BLOCK 0 STREAMS s $");
    assert_eq!(c.q("EXEC"), arr(vec![Frame::NullArray]));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.q("XADD s 2 b 2"), bulk("2-0"));
    let want = arr(vec![arr(vec![
        bulk("s"),
        arr(vec![ent("2-0", &["b", "2"])]),
    ])]);
    assert_eq!(by_dollar.read(), want);
    assert_eq!(grouped.read(), want);
    assert_eq!(
        c.q("XPENDING s g"),
        arr(vec![
            int(1),
            bulk("2-0"),
            bulk("2-0"),
            arr(vec![bulks(&["c1", "1"])])
        ])
    );
    // RESP3: a map of stream to entries.
    let mut r3 = s.raw();
    r3.q("HELLO 3");
    assert_eq!(
        r3.q("XREAD STREAMS s 1"),
        Frame::Map(vec![(bulk("s"), arr(vec![ent("2-0", &["b", "2"])]))])
    );
}

#[test]
fn streams_come_back_from_log_and_snapshot() {
    if !in_process_only() {
        return;
    }
    let mut s1 = start_with(|c| c.appendonly = true);
    // XINFO STREAM FULL with consumers' seen times (the replay's clock) left out.
    let state = |c: &mut Raw| -> Vec<Frame> {
        ["s", "big"]
            .iter()
            .map(|k| {
                let mut f = c.call(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"]);
                blank_seen_times(&mut f);
                f
            })
            .collect()
    };
    let before = {
        let mut c = s1.raw();
        for i in 1..=5 {
            c.call(&["XADD", "s", &i.to_string(), "f", &i.to_string()]);
        }
        c.q("XGROUP CREATE s g 0");
        c.q("XGROUP CREATE s g2 $");
        c.q("XREADGROUP GROUP g bob COUNT 2 STREAMS s >");
        c.q("XREADGROUP GROUP g alice NOACK COUNT 1 STREAMS s >");
        c.q("XREADGROUP GROUP g carol STREAMS s >");
        c.q("XCLAIM s g dave 0 4 RETRYCOUNT 9");
        c.q("XDEL s 5");
        c.q("XAUTOCLAIM s g erin 0 0 COUNT 1");
        c.q("XACK s g 2");
        for i in 0..3000 {
            c.call(&["XADD", "big", "MAXLEN", "2500", "*", "i", &i.to_string()]);
        }
        c.q("XSETID s 10 ENTRIESADDED 50 MAXDELETEDID 6");
        state(&mut c)
    };
    let mut s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    // (Compared without assert_eq!: a mismatch would print megabytes.)
    assert!(state(&mut c) == before, "after replaying the log");
    assert_eq!(c.q("XLEN big"), int(2500));
    // A rewrite turns the streams into a snapshot's; load that.
    assert_eq!(
        c.q("BGREWRITEAOF"),
        simple("Background append only file rewriting started")
    );
    assert!(wait_for(10_000, || info_field(
        &mut c,
        "persistence",
        "aof_rewrite_in_progress"
    ) == "0"));
    // (s2 runs on s1's directory, which s1 keeps.)
    drop(s2.take_handle());
    let dir = s1.dir.path().to_path_buf();
    let s3 = start_with(|c| {
        c.appendonly = true;
        c.dir = dir;
    });
    let mut c = s3.raw();
    assert!(state(&mut c) == before, "after loading the snapshot");
}

/// Replace the value after every `seen-time` in a reply with 0.
fn blank_seen_times(f: &mut Frame) {
    if let Frame::Array(items) = f {
        let mut blank = false;
        for x in items.iter_mut() {
            if blank {
                *x = int(0);
                blank = false;
            } else if *x == bulk("seen-time") {
                blank = true;
            } else {
                blank_seen_times(x);
            }
        }
    }
}

#[test]
fn dump_and_restore_keep_a_stream_whole() {
    let s = start();
    let mut c = s.raw();
    for i in 1..=250 {
        c.call(&[
            "XADD",
            "s",
            &format!("{i}-1"),
            "n",
            &i.to_string(),
            "pad",
            &"x".repeat(i % 7),
        ]);
    }
    c.q("XDEL s 3-1 120-1");
    c.q("XGROUP CREATE s g 0");
    c.q("XREADGROUP GROUP g alice COUNT 5 STREAMS s >");
    c.q("XCLAIM s g bob 0 2-1 RETRYCOUNT 4");
    c.q("XGROUP CREATE s idle $");
    let payload = match c.q("DUMP s") {
        Frame::Bulk(b) => b,
        other => panic!("DUMP gave {other:?}"),
    };
    assert_eq!(c.call(&[&b"RESTORE"[..], b"copy", b"0", &payload]), ok());
    let full = |c: &mut Raw, k: &str| c.call(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"]);
    let (a, b) = (full(&mut c, "s"), full(&mut c, "copy"));
    assert!(a == b, "XINFO STREAM FULL differs after DUMP/RESTORE");
    assert_eq!(c.q("XLEN copy"), int(248));
    assert_eq!(
        c.call(&[&b"RESTORE"[..], b"copy", b"0", &payload]),
        err("BUSYKEY Target key name already exists.")
    );
}

#[test]
fn approximate_trimming_removes_whole_nodes() {
    let s = start();
    let mut c = s.raw();
    for i in 1..=250 {
        c.call(&["XADD", "s", &i.to_string(), "f", "v"]);
    }
    // Nodes of 100 small entries: `~` drops only nodes that may go whole.
    assert_eq!(c.q("XTRIM s MAXLEN ~ 120"), int(100));
    assert_eq!(c.q("XLEN s"), int(150));
    assert_eq!(c.q("XADD s MAXLEN ~ 10 251 f v"), bulk("251-0"));
    assert_eq!(c.q("XLEN s"), int(51));
    assert_eq!(c.q("XTRIM s MINID ~ 240"), int(0));
    assert_eq!(c.q("XTRIM s MAXLEN ~ 0 LIMIT 10"), int(0));
    assert_eq!(c.q("XTRIM s MAXLEN = 40"), int(11));
    assert_eq!(
        c.q("XRANGE s - + COUNT 1"),
        arr(vec![ent("212-0", &["f", "v"])])
    );
    assert_eq!(c.q("XTRIM s MINID 250"), int(38));
    assert_eq!(
        c.q("XRANGE s - +"),
        arr(vec![ent("250-0", &["f", "v"]), ent("251-0", &["f", "v"])])
    );
}
