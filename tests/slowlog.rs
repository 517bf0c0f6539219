//! SLOWLOG and INFO commandstats/errorstats match Redis 7.0: which commands are logged
//! (threshold, length cap), what an entry keeps (ids, 32 arguments, 128 bytes each,
//! redacted secrets, client address and name), per-command and per-subcommand call
//! counters (failed, rejected), error counts by code, and CONFIG RESETSTAT.

mod common;

use common::*;
use strata::protocol::Frame;

fn entries(f: Frame) -> Vec<Vec<Frame>> {
    match f {
        Frame::Array(v) => v
            .into_iter()
            .map(|e| match e {
                Frame::Array(fields) => fields,
                other => panic!("entry {other:?}"),
            })
            .collect(),
        other => panic!("SLOWLOG GET {other:?}"),
    }
}

fn stat_lines(c: &mut Raw, section: &str, prefix: &str) -> Vec<String> {
    as_text(&c.call(&["INFO", section]))
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn slow_commands_are_logged_newest_first_with_their_arguments() {
    let s = start();
    let mut c = s.raw();
    // The default threshold (10 ms) logs nothing this fast.
    c.q("SET a 1");
    assert_eq!(c.q("SLOWLOG LEN"), int(0));
    assert_eq!(c.q("CONFIG SET slowlog-log-slower-than 0"), ok());
    c.q("CLIENT SETNAME watcher");
    let long = "x".repeat(200);
    c.call(&["SET", "big", long.as_str()]);
    let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let mut del = vec!["DEL".to_string()];
    del.extend(many);
    c.call(&del);
    let log = entries(c.q("SLOWLOG GET 2"));
    assert_eq!(log.len(), 2);
    // Newest first, ids count up from 0 (CONFIG SET was entry 0, SETNAME 1, SET 2).
    assert_eq!(log[0][0], int(3));
    assert_eq!(log[1][0], int(2));
    let Frame::Array(args) = &log[0][3] else {
        panic!()
    };
    assert_eq!(args.len(), 32);
    assert_eq!(args[0], bulk("DEL"));
    assert_eq!(args[30], bulk("k29"));
    assert_eq!(args[31], bulk("... (10 more arguments)"));
    let Frame::Array(args) = &log[1][3] else {
        panic!()
    };
    assert_eq!(
        args[2],
        bulk(format!("{}... (72 more bytes)", "x".repeat(128)))
    );
    assert!(as_text(&log[0][4]).starts_with("127.0.0.1:"));
    assert_eq!(log[0][5], bulk("watcher"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((as_int(&log[0][1]) - now).abs() <= 5);
    assert!(as_int(&log[0][2]) >= 0);

    // GET without count gives 10, -1 gives all; bad counts are refused.
    for _ in 0..12 {
        c.q("PING");
    }
    assert_eq!(entries(c.q("SLOWLOG GET")).len(), 10);
    let total = as_int(&c.q("SLOWLOG LEN"));
    assert!(total >= 17, "{total}");
    // SLOWLOG LEN itself was logged after it answered.
    assert_eq!(entries(c.q("SLOWLOG GET -1")).len() as i64, total + 1);
    assert_eq!(entries(c.q("SLOWLOG GET 0")).len(), 0);
    for bad in ["-2", "x", "1.5"] {
        assert_eq!(
            c.call(&["SLOWLOG", "GET", bad]),
            err("ERR count should be greater than or equal to -1")
        );
    }
    assert_eq!(
        c.q("SLOWLOG GET 1 2"),
        err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    );
    assert_eq!(
        c.q("SLOWLOG NOPE"),
        err("ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.")
    );
    assert_eq!(
        c.q("SLOWLOG LEN x"),
        err("ERR wrong number of arguments for 'slowlog|len' command")
    );

    // The log keeps slowlog-max-len entries; RESET empties it; a negative threshold stops it.
    assert_eq!(c.q("CONFIG SET slowlog-max-len 3"), ok());
    c.q("PING");
    assert_eq!(c.q("SLOWLOG LEN"), int(3));
    assert_eq!(c.q("SLOWLOG RESET"), ok());
    assert_eq!(c.q("CONFIG SET slowlog-log-slower-than -1"), ok());
    c.q("PING");
    // Only RESET itself, logged once it ran (as in Redis).
    let log = entries(c.q("SLOWLOG GET"));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0][3], bulks(&["SLOWLOG", "RESET"]));
}

#[test]
fn passwords_never_reach_the_slow_log() {
    let s = start();
    let mut c = s.raw();
    c.q("CONFIG SET slowlog-log-slower-than 0");
    c.q("AUTH nobody wrong");
    c.q("HELLO 2 AUTH default wrong");
    c.q("ACL SETUSER alice on >secret +get");
    c.q("CONFIG SET requirepass hunter2 maxmemory 0");
    c.q("AUTH hunter2");
    let log = entries(c.q("SLOWLOG GET 5"));
    let args: Vec<Vec<String>> = log
        .iter()
        .map(|e| match &e[3] {
            Frame::Array(a) => a.iter().map(as_text).collect(),
            other => panic!("{other:?}"),
        })
        .collect();
    let r = "(redacted)";
    assert_eq!(args[0], ["AUTH", r]);
    assert_eq!(
        args[1],
        ["CONFIG", "SET", "requirepass", r, "maxmemory", "0"]
    );
    assert_eq!(args[2], ["ACL", "SETUSER", r, r, r, r]);
    assert_eq!(args[3], ["HELLO", "2", "AUTH", r, r]);
    assert_eq!(args[4], ["AUTH", r, r]);
}

#[test]
fn commandstats_and_errorstats_count_calls_failures_and_rejections() {
    let s = start();
    let mut c = s.raw();
    c.q("SET a 1");
    c.q("SET b 2");
    c.q("LPUSH a x"); // WRONGTYPE: a failed call
    c.q("GET"); // wrong arity: rejected before it runs
    c.q("NOSUCHCOMMAND"); // no command to count it on; an error all the same
    c.q("CONFIG GET maxmemory");
    c.q("CONFIG GET"); // a subcommand's wrong arity: rejected, counted on config|get
    c.q("CONFIG NOSUCH"); // an unknown subcommand: an error, no call counted
    let cmd = stat_lines(&mut c, "commandstats", "cmdstat_");
    let find = |name: &str| {
        cmd.iter()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {cmd:?}"))
            .clone()
    };
    let fields = |line: String| -> Vec<(String, String)> {
        line.split_once(':')
            .unwrap()
            .1
            .split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let set = fields(find("set"));
    assert_eq!(set[0], ("calls".into(), "2".into()));
    assert_eq!(set[3], ("rejected_calls".into(), "0".into()));
    assert_eq!(set[4], ("failed_calls".into(), "0".into()));
    let lpush = fields(find("lpush"));
    assert_eq!((lpush[0].1.as_str(), lpush[4].1.as_str()), ("1", "1"));
    let get = fields(find("get"));
    assert_eq!((get[0].1.as_str(), get[3].1.as_str()), ("0", "1"));
    let config_get = fields(find("config|get"));
    assert_eq!(
        (config_get[0].1.as_str(), config_get[3].1.as_str()),
        ("1", "1")
    );
    assert!(!cmd.iter().any(|l| l.starts_with("cmdstat_nosuchcommand")));
    assert!(!cmd.iter().any(|l| l.starts_with("cmdstat_config:")));

    let errors = stat_lines(&mut c, "errorstats", "errorstat_");
    assert_eq!(
        errors,
        ["errorstat_ERR:count=4", "errorstat_WRONGTYPE:count=1"]
    );
    let total = stat_lines(&mut c, "stats", "total_error_replies:");
    assert_eq!(total, ["total_error_replies:5"]);
    // Not in the default INFO; errorstats is.
    let default = as_text(&c.q("INFO"));
    assert!(!default.contains("# Commandstats"));
    assert!(default.contains("# Errorstats"));
    assert!(as_text(&c.q("INFO all")).contains("cmdstat_set:"));

    // Inside MULTI each queued command counts when EXEC runs it.
    c.q("MULTI");
    c.q("INCR b");
    c.q("INCR a");
    c.q("EXEC");
    assert!(fields(find_in(&mut c, "incr"))[0].1 == "2");

    assert_eq!(c.q("CONFIG RESETSTAT"), ok());
    assert_eq!(
        stat_lines(&mut c, "errorstats", "errorstat_"),
        Vec::<String>::new()
    );
    // What ran since: RESETSTAT itself (counted once it finished, as in Redis) and the
    // INFO errorstats above.
    let mut after: Vec<String> = stat_lines(&mut c, "commandstats", "cmdstat_")
        .iter()
        .map(|l| l.split(",usec=").next().unwrap().to_string())
        .collect();
    after.sort();
    assert_eq!(
        after,
        ["cmdstat_config|resetstat:calls=1", "cmdstat_info:calls=1"]
    );
}

fn find_in(c: &mut Raw, name: &str) -> String {
    stat_lines(c, "commandstats", &format!("cmdstat_{name}:"))
        .pop()
        .unwrap_or_else(|| panic!("no {name}"))
}
