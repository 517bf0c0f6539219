//! ACL users match Redis 7.0: SETUSER rules and their errors, AUTH/HELLO as a user,
//! command, category, subcommand, key and channel permissions with Redis's NOPERM
//! replies, the default user mirroring requirepass, and DELUSER closing connections.

mod common;

use common::*;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn noperm_cmd(name: &str) -> strata::protocol::Frame {
    err(&format!(
        "NOPERM this user has no permissions to run the '{name}' command"
    ))
}

fn noperm_key() -> strata::protocol::Frame {
    err("NOPERM this user has no permissions to access one of the keys used as arguments")
}

fn noperm_channel() -> strata::protocol::Frame {
    err("NOPERM this user has no permissions to access one of the channels used as arguments")
}

/// Remove users left by an earlier run (for runs against a shared external server).
fn clean(c: &mut Raw, users: &[&str]) {
    for u in users {
        c.call(&["ACL", "DELUSER", u]);
    }
}

#[test]
fn setuser_rules_getuser_list_like_redis() {
    let s = start();
    let mut c = s.raw();
    clean(&mut c, &["alice", "bob", "empty"]);
    assert_eq!(
        c.q("ACL LIST"),
        bulks(&["user default on nopass ~* &* +@all"])
    );
    assert_eq!(c.q("ACL WHOAMI"), bulk("default"));
    assert_eq!(c.q("ACL SETUSER alice on >pw ~app:* +@read"), ok());
    assert_eq!(c.q("ACL SETUSER empty"), ok());
    assert_eq!(
        c.q("ACL LIST"),
        bulks(&[
            "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* resetchannels -@all +@read",
            "user default on nopass ~* &* +@all",
            "user empty off resetchannels -@all",
        ])
    );
    assert_eq!(
        c.q("ACL GETUSER alice"),
        arr(vec![
            bulk("flags"),
            bulks(&["on"]),
            bulk("passwords"),
            bulks(&["30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"]),
            bulk("commands"),
            bulk("-@all +@read"),
            bulk("keys"),
            bulk("~app:*"),
            bulk("channels"),
            bulk(""),
            bulk("selectors"),
            arr(vec![]),
        ])
    );
    assert_eq!(c.q("ACL GETUSER nobody"), nil());
    let modifier =
        |m: &str, why: &str| err(&format!("ERR Error in ACL SETUSER modifier '{m}': {why}"));
    assert_eq!(
        c.q("ACL SETUSER bob allkeys ~x"),
        modifier("~x", "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
    );
    assert_eq!(c.q("ACL SETUSER bob foo"), modifier("foo", "Syntax error"));
    assert_eq!(
        c.q("ACL SETUSER bob +nosuch"),
        modifier("+nosuch", "Unknown command or category name in ACL")
    );
    assert_eq!(
        c.q("ACL SETUSER bob <nopw"),
        modifier(
            "<nopw",
            "The password you are trying to remove from the user does not exist"
        )
    );
    assert_eq!(
        c.q("ACL SETUSER bob #abc"),
        modifier("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
    );
    // A failed SETUSER changes nothing (bob was never created).
    assert_eq!(c.q("ACL GETUSER bob"), nil());
    assert_eq!(c.q("ACL SETUSER bob ~* +config|get"), ok());
    assert_eq!(
        as_array(c.q("ACL GETUSER bob"))[5],
        bulk("-@all +config|get")
    );
    assert_eq!(
        c.q("ACL DELUSER default"),
        err("ERR The 'default' user cannot be removed")
    );
    assert_eq!(c.q("ACL DELUSER nobody alice bob empty"), int(3));
    assert_eq!(c.q("ACL USERS"), bulks(&["default"]));
    assert_eq!(c.q("ACL CAT nosuch"), err("ERR Unknown category 'nosuch'"));
    let cats = sorted_texts(c.q("ACL CAT"));
    for want in [
        "read",
        "write",
        "keyspace",
        "string",
        "list",
        "hash",
        "set",
        "sortedset",
        "pubsub",
        "admin",
        "dangerous",
        "fast",
        "slow",
        "connection",
        "transaction",
        "blocking",
    ] {
        assert!(cats.contains(&want.to_string()), "{want}");
    }
    let dangerous = sorted_texts(c.q("ACL CAT dangerous"));
    for want in [
        "flushall",
        "flushdb",
        "keys",
        "config|set",
        "client|kill",
        "debug",
        "shutdown",
    ] {
        assert!(dangerous.contains(&want.to_string()), "{want}");
    }
    assert!(!dangerous.contains(&"get".to_string()));
    assert_eq!(
        c.q("ACL SETUSER"),
        err("ERR wrong number of arguments for 'acl|setuser' command")
    );
}

#[test]
fn read_only_user_restricted_to_key_patterns() {
    let s = start();
    let mut admin = s.raw();
    clean(&mut admin, &["ro"]);
    assert_eq!(admin.q("SET app:1 v"), ok());
    assert_eq!(admin.q("ACL SETUSER ro on >ro ~app:* &* +@read"), ok());
    let mut c = s.raw();
    assert_eq!(c.q("AUTH ro nope"), err(WRONGPASS));
    assert_eq!(c.q("AUTH nobody x"), err(WRONGPASS));
    assert_eq!(c.q("AUTH ro ro"), ok());
    assert_eq!(c.q("SET app:1 x"), noperm_cmd("set"));
    assert_eq!(c.q("GET other"), noperm_key());
    assert_eq!(c.q("GET app:1"), bulk("v"));
    assert_eq!(c.q("MGET app:1 other"), noperm_key());
    assert_eq!(c.q("EXISTS app:1 app:2"), int(1));
    // No category grants these.
    assert_eq!(c.q("ACL WHOAMI"), noperm_cmd("acl|whoami"));
    assert_eq!(c.q("CLIENT SETNAME x"), noperm_cmd("client|setname"));
    assert_eq!(c.q("FLUSHALL"), noperm_cmd("flushall"));
    assert_eq!(c.q("MULTI"), noperm_cmd("multi"));
    // Movable keys come from numkeys.
    assert_eq!(
        c.q("SINTERCARD 2 app:1 app:2"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(c.q("SINTERCARD 2 app:1 other"), noperm_key());
    // No-auth commands need no permission.
    assert_eq!(c.q("AUTH ro ro"), ok());
    assert_eq!(c.q("RESET"), simple("RESET"));
    // RESET logs back in as default.
    assert_eq!(c.q("ACL WHOAMI"), bulk("default"));
    assert_eq!(c.q("HELLO 2 AUTH ro bad"), err(WRONGPASS));
    assert_eq!(as_array(c.q("HELLO 2 AUTH ro ro")).len(), 14);
    assert_eq!(c.q("SET app:1 x"), noperm_cmd("set"));
    // Changing the user applies to its live connections at once.
    assert_eq!(admin.q("ACL SETUSER ro +set"), ok());
    assert_eq!(c.q("SET app:1 x"), ok());
    assert_eq!(c.q("SET other x"), noperm_key());
    assert_eq!(admin.q("ACL SETUSER ro allkeys"), ok());
    assert_eq!(c.q("SET other x"), ok());
    // Disabled users cannot log in; DELUSER closes their connections.
    assert_eq!(admin.q("ACL SETUSER ro off"), ok());
    assert_eq!(s.raw().q("AUTH ro ro"), err(WRONGPASS));
    assert_eq!(admin.q("ACL DELUSER ro"), int(1));
    assert!(
        c.closed_within(5000),
        "a deleted user's connection is closed"
    );
}

#[test]
fn categories_subcommands_and_channels() {
    let s = start();
    let mut admin = s.raw();
    clean(&mut admin, &["w"]);
    assert_eq!(
        admin.q("ACL SETUSER w on >w allkeys resetchannels +@all -@dangerous"),
        ok()
    );
    let mut c = s.raw();
    assert_eq!(c.q("AUTH w w"), ok());
    assert_eq!(c.q("PUBLISH c m"), noperm_channel());
    assert_eq!(c.q("CLIENT KILL ID 999"), noperm_cmd("client|kill"));
    assert!(matches!(
        c.q("CLIENT ID"),
        strata::protocol::Frame::Integer(_)
    ));
    assert_eq!(c.q("KEYS *"), noperm_cmd("keys"));
    assert_eq!(c.q("CONFIG GET x"), noperm_cmd("config|get"));
    assert_eq!(c.q("FLUSHALL"), noperm_cmd("flushall"));
    assert_eq!(c.q("SET k v"), ok());
    // A refused command inside MULTI fails the transaction, as in Redis.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET k v2"), simple("QUEUED"));
    assert_eq!(c.q("FLUSHALL"), noperm_cmd("flushall"));
    assert_eq!(
        c.q("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.q("GET k"), bulk("v"));
    // Channel patterns: PUBLISH and SUBSCRIBE match them, PSUBSCRIBE needs the pattern itself.
    assert_eq!(admin.q("ACL SETUSER w &news.*"), ok());
    assert_eq!(c.q("PUBLISH news.1 m"), int(0));
    assert_eq!(c.q("PUBLISH sport m"), noperm_channel());
    assert_eq!(c.q("PSUBSCRIBE news.1*"), noperm_channel());
    let mut sub = s.raw();
    assert_eq!(sub.q("AUTH w w"), ok());
    assert_eq!(
        sub.q("SUBSCRIBE news.1"),
        arr(vec![bulk("subscribe"), bulk("news.1"), int(1)])
    );
    assert_eq!(admin.q("ACL DELUSER w"), int(1));
}

#[test]
fn default_user_mirrors_requirepass() {
    let s = start_with(|c| c.requirepass = Some("secret".into()));
    let mut c = s.raw();
    // Unauthenticated clients may run only AUTH, HELLO, QUIT and RESET.
    for cmd in [
        "PING",
        "GET k",
        "ACL WHOAMI",
        "CONFIG GET port",
        "CLIENT ID",
    ] {
        assert_eq!(c.q(cmd), err("NOAUTH Authentication required."), "{cmd}");
    }
    assert_eq!(c.q("AUTH wrong"), err(WRONGPASS));
    assert_eq!(c.q("AUTH default secret"), ok());
    assert_eq!(
        c.q("ACL LIST"),
        bulks(&["user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* &* +@all"])
    );
    // CONFIG SET requirepass replaces the default user's password.
    assert_eq!(c.q("CONFIG SET requirepass other"), ok());
    let mut d = s.raw();
    assert_eq!(d.q("AUTH secret"), err(WRONGPASS));
    assert_eq!(d.q("AUTH other"), ok());
    assert_eq!(c.call(&["CONFIG", "SET", "requirepass", ""]), ok());
    assert_eq!(s.raw().q("PING"), simple("PONG"));
    assert_eq!(
        s.raw().q("AUTH x"),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
}

#[test]
fn command_info_shows_categories_from_the_table() {
    let s = start();
    let mut c = s.raw();
    let cats = |c: &mut Raw, name: &str| {
        let info = as_array(c.call(&["COMMAND", "INFO", name]));
        as_array(info[0].clone())[6].clone()
    };
    let set = |v: &[&str]| strata::protocol::Frame::Set(v.iter().map(|s| simple(s)).collect());
    let either = |f: strata::protocol::Frame, v: &[&str]| {
        f == set(v) || f == arr(v.iter().map(|s| simple(s)).collect())
    };
    assert!(either(
        cats(&mut c, "flushall"),
        &["@keyspace", "@write", "@slow", "@dangerous"]
    ));
    assert!(either(
        cats(&mut c, "dbsize"),
        &["@keyspace", "@read", "@fast"]
    ));
    assert!(either(
        cats(&mut c, "lastsave"),
        &["@admin", "@fast", "@dangerous"]
    ));
    assert!(either(
        cats(&mut c, "blmpop"),
        &["@write", "@list", "@slow", "@blocking"]
    ));
    // Category words are not flags.
    let info = as_array(c.q("COMMAND INFO keys"));
    let flags = as_array(info[0].clone())[2].clone();
    assert!(either(flags, &["readonly"]));
}

#[test]
fn users_from_the_config_file() {
    let mut cfg = strata::config::Config::default();
    cfg.apply_file_text(
        "requirepass admin\nuser reader on >r-pw ~app:* &* +@read\nuser writer on \">w pw\" allkeys +@all -@dangerous\n",
        "strata.conf",
    )
    .unwrap();
    let users = cfg.users.clone();
    let s = start_with(|c| {
        c.requirepass = Some("admin".into());
        c.users = users;
    });
    let mut c = s.raw();
    assert_eq!(c.q("GET app:1"), err("NOAUTH Authentication required."));
    assert_eq!(c.q("AUTH reader r-pw"), ok());
    assert_eq!(c.q("GET app:1"), nil());
    assert_eq!(c.q("SET app:1 v"), noperm_cmd("set"));
    assert_eq!(c.call(&["AUTH", "writer", "w pw"]), ok());
    assert_eq!(c.q("SET app:1 v"), ok());
    assert_eq!(c.q("FLUSHALL"), noperm_cmd("flushall"));
    assert_eq!(c.q("AUTH admin"), ok());
    assert_eq!(c.q("ACL USERS"), bulks(&["default", "reader", "writer"]));
    // A bad rule stops the server at startup, naming the user and the rule.
    let dir = tempfile::tempdir().unwrap();
    let bad = strata::config::Config {
        port: 0,
        appendonly: false,
        dir: dir.path().to_path_buf(),
        users: vec![vec!["eve".into(), "on".into(), "+nosuch".into()]],
        ..strata::config::Config::default()
    };
    assert_eq!(
        strata::server::spawn(bad).err().map(|e| e.to_string()),
        Some(
            "user 'eve': error in ACL rule '+nosuch': Unknown command or category name in ACL"
                .to_string()
        )
    );
}

/// One ACL LOG entry as (count, reason, context, object, username, the `cmd=` and
/// `user=` of its client-info).
fn log_entries(c: &mut Raw, args: &[&str]) -> Vec<(i64, String, String, String, String, String)> {
    as_array(c.call(args))
        .into_iter()
        .map(|e| {
            let kv = as_array(e);
            let field = |name: &str| {
                let i = kv
                    .iter()
                    .position(|f| *f == bulk(name))
                    .unwrap_or_else(|| panic!("no {name}"));
                kv[i + 1].clone()
            };
            let info = as_text(&field("client-info"));
            let cmd_user: Vec<&str> = info
                .split(' ')
                .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
                .collect();
            assert!(as_text(&field("age-seconds")).parse::<f64>().is_ok());
            (
                as_int(&field("count")),
                as_text(&field("reason")),
                as_text(&field("context")),
                as_text(&field("object")),
                as_text(&field("username")),
                cmd_user.join(" "),
            )
        })
        .collect()
}

#[test]
fn acl_log_records_refusals_and_failed_auth() {
    let s = start();
    let mut w = s.raw();
    clean(&mut w, &["limited"]);
    assert_eq!(w.q("ACL LOG RESET"), ok());
    w.q("ACL SETUSER limited on >pw +get +multi +exec +discard +publish ~k* &ch*");
    let mut c = s.raw();
    assert_eq!(c.q("AUTH limited pw"), ok());
    assert_eq!(c.q("SET k 1"), noperm_cmd("set"));
    assert_eq!(c.q("GET other"), noperm_key());
    assert_eq!(c.q("GET other"), noperm_key());
    assert_eq!(c.q("PUBLISH zz x"), noperm_channel());
    let mut d = s.raw();
    assert_eq!(d.q("AUTH limited wrong"), err(WRONGPASS));
    assert_eq!(d.q("auth nouser x"), err(WRONGPASS));
    c.q("MULTI");
    assert_eq!(c.q("GET nope"), noperm_key());
    c.q("DISCARD");
    let e = |n: i64, r: &str, ctx: &str, o: &str, u: &str, info: &str| {
        (n, r.into(), ctx.into(), o.into(), u.into(), info.into())
    };
    // Newest first; a repeat counts on its entry; AUTH's object is the command as typed.
    assert_eq!(
        log_entries(&mut w, &["ACL", "LOG"]),
        [
            e(1, "key", "multi", "nope", "limited", "cmd=get user=limited"),
            e(
                1,
                "auth",
                "toplevel",
                "auth",
                "nouser",
                "cmd=auth user=default"
            ),
            e(
                1,
                "auth",
                "toplevel",
                "AUTH",
                "limited",
                "cmd=auth user=default"
            ),
            e(
                1,
                "channel",
                "toplevel",
                "zz",
                "limited",
                "cmd=publish user=limited"
            ),
            e(
                2,
                "key",
                "toplevel",
                "other",
                "limited",
                "cmd=get user=limited"
            ),
            e(
                1,
                "command",
                "toplevel",
                "set",
                "limited",
                "cmd=set user=limited"
            ),
        ]
    );
    assert_eq!(log_entries(&mut w, &["ACL", "LOG", "2"]).len(), 2);
    assert_eq!(w.q("ACL LOG -1"), arr(vec![]));
    assert_eq!(
        w.q("ACL LOG x"),
        err("ERR value is not an integer or out of range")
    );
    // acllog-max-len keeps the newest.
    assert_eq!(w.q("CONFIG SET acllog-max-len 2"), ok());
    c.q("GET o1");
    c.q("GET o2");
    c.q("GET o3");
    let objects: Vec<String> = log_entries(&mut w, &["ACL", "LOG"])
        .into_iter()
        .map(|e| e.3)
        .collect();
    assert_eq!(objects, ["o3", "o2"]);
    assert_eq!(w.q("CONFIG SET acllog-max-len 128"), ok());
    assert_eq!(w.q("ACL LOG RESET"), ok());
    assert_eq!(w.q("ACL LOG"), arr(vec![]));
    clean(&mut w, &["limited"]);
}

#[test]
fn acl_dryrun_answers_without_running_or_logging() {
    let s = start();
    let mut w = s.raw();
    clean(&mut w, &["dry"]);
    w.q("ACL LOG RESET");
    w.q("ACL SETUSER dry on nopass +get ~k* &c*");
    for (line, want) in [
        ("ACL DRYRUN dry get k", ok()),
        (
            "ACL DRYRUN dry get other",
            bulk("This user has no permissions to access the 'other' key"),
        ),
        (
            "ACL DRYRUN dry set k 1",
            bulk("This user has no permissions to run the 'set' command"),
        ),
        (
            "ACL DRYRUN dry config get x",
            bulk("This user has no permissions to run the 'config|get' command"),
        ),
        (
            "ACL DRYRUN dry get",
            err("ERR wrong number of arguments for 'get' command"),
        ),
        (
            "ACL DRYRUN dry nocmd x",
            err("ERR Command 'nocmd' not found"),
        ),
        (
            "ACL DRYRUN nouser get k",
            err("ERR User 'nouser' not found"),
        ),
        (
            "ACL DRYRUN dry",
            err("ERR wrong number of arguments for 'acl|dryrun' command"),
        ),
    ] {
        assert_eq!(w.q(line), want, "{line}");
    }
    assert_eq!(w.q("GET k"), nil(), "nothing ran");
    assert_eq!(w.q("ACL LOG"), arr(vec![]), "nothing was refused");
    clean(&mut w, &["dry"]);
}

/// As Redis 7.0: when a user's channel rules change, its connections subscribed to a
/// channel (or pattern, or shard channel) it may no longer use are closed; its other
/// connections, and subscriptions still allowed, stay.
#[test]
fn revoking_a_channel_closes_the_subscribers_it_covered() {
    let s = start();
    let mut admin = s.raw();
    clean(&mut admin, &["u"]);
    assert_eq!(admin.q("ACL SETUSER u on nopass ~* &a* &b +@all"), ok());
    let sub = |cmd: &str| {
        let mut c = s.raw();
        assert_eq!(c.q("AUTH u x"), ok());
        let words: Vec<&str> = cmd.split(' ').collect();
        let kind = words[0].to_ascii_lowercase();
        assert_eq!(
            c.call(&words),
            arr(vec![bulk(&kind), bulk(words[1]), int(1)])
        );
        c
    };
    let mut on_b = sub("SUBSCRIBE b");
    let mut on_pattern = sub("PSUBSCRIBE a*");
    let mut on_a1 = sub("SUBSCRIBE a1");
    let mut shard_b = sub("SSUBSCRIBE b");
    let mut plain = s.raw();
    assert_eq!(plain.q("AUTH u x"), ok());
    assert_eq!(admin.q("ACL SETUSER u resetchannels &a*"), ok());
    assert!(
        on_b.closed_within(5000),
        "subscriber to the revoked channel"
    );
    assert!(shard_b.closed_within(5000), "shard subscriber to it");
    let pong = arr(vec![bulk("pong"), bulk("")]);
    assert_eq!(on_pattern.q("PING"), pong);
    assert_eq!(on_a1.q("PING"), pong);
    assert_eq!(plain.q("PING"), simple("PONG"));
    // A pattern subscription needs the very pattern: `&a1` no longer covers `a*`.
    assert_eq!(admin.q("ACL SETUSER u resetchannels &a1"), ok());
    assert!(on_pattern.closed_within(5000), "pattern subscriber");
    assert_eq!(on_a1.q("PING"), pong);
    assert_eq!(admin.q("ACL DELUSER u"), int(1));
}

/// `%R~` and `%W~` key patterns (Redis 7.0): a key needs read permission where the
/// command reads it and write permission where it changes it, as the command's key specs
/// say (`SET k v` only writes, `SET k v GET` also reads, `EXISTS` does neither).
#[test]
fn read_only_and_write_only_key_patterns() {
    let s = start();
    let mut admin = s.raw();
    clean(&mut admin, &["rw", "t"]);
    assert_eq!(
        admin.q("ACL SETUSER rw on >pw +@all %R~r* %W~w* ~both* %r~e %RW~c %WR~d"),
        ok()
    );
    let described = |admin: &mut Raw, name: &str| {
        let strata::protocol::Frame::Array(lines) = admin.q("ACL LIST") else {
            panic!("ACL LIST")
        };
        lines
            .iter()
            .map(as_text)
            .find(|l| l.starts_with(&format!("user {name} ")))
            .unwrap()
    };
    assert_eq!(
        described(&mut admin, "rw"),
        "user rw on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 %R~r* %W~w* ~both* %R~e ~c ~d resetchannels +@all"
    );
    // The same pattern again adds permissions; `%R~*` is a pattern, not allkeys.
    assert_eq!(admin.q("ACL SETUSER t %R~a %W~a %R~* %W"), ok());
    assert_eq!(
        described(&mut admin, "t"),
        "user t off ~a %R~* %W~ resetchannels -@all"
    );
    for bad in ["%~f", "%RR~g", "%X~h", "%"] {
        assert_eq!(
            admin.call(&["ACL", "SETUSER", "t", bad]),
            err(&format!(
                "ERR Error in ACL SETUSER modifier '{bad}': Syntax error"
            )),
            "{bad}"
        );
    }
    assert_eq!(admin.q("ACL SETUSER t allkeys"), ok());
    assert_eq!(
        admin.q("ACL SETUSER t %R~y"),
        err("ERR Error in ACL SETUSER modifier '%R~y': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
    );

    let mut c = s.raw();
    assert_eq!(c.q("AUTH rw pw"), ok());
    assert_eq!(c.q("GET r1"), nil());
    assert_eq!(c.q("SET r1 v"), noperm_key());
    assert_eq!(c.q("SET w1 v"), ok());
    assert_eq!(c.q("GET w1"), noperm_key());
    assert_eq!(c.q("SET w1 v GET"), noperm_key());
    assert_eq!(c.q("APPEND w1 x"), int(2));
    // EXISTS and TYPE neither read nor change the value: any pattern will do.
    assert_eq!(c.q("EXISTS w1 r1"), int(1));
    assert_eq!(c.q("TYPE w1"), simple("string"));
    // Moving out of r1 changes it; copying from it only reads it.
    assert_eq!(c.q("LMOVE r1 w2 LEFT RIGHT"), noperm_key());
    assert_eq!(admin.q("SET r1 src"), ok());
    assert_eq!(c.q("COPY r1 w3"), int(1));
    assert_eq!(
        c.q("SORT r1 STORE w4"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(c.q("SORT w1 STORE r4"), noperm_key());
    assert_eq!(c.q("BITFIELD r1 GET u8 0"), arr(vec![int(115)]));
    assert_eq!(c.q("BITFIELD r1 SET u8 0 1"), noperm_key());
    assert_eq!(c.q("SET both1 v GET"), nil());
    assert_eq!(
        admin.q("ACL DRYRUN rw GETDEL r1"),
        bulk("This user has no permissions to access the 'r1' key")
    );
    assert_eq!(admin.q("ACL DRYRUN rw GETDEL both1"), ok());
    assert_eq!(admin.q("ACL DELUSER rw t"), int(2));
}
