//! ACL files as Redis 7.0 has them: `aclfile` loaded at startup, ACL SAVE writing the
//! users atomically, ACL LOAD replacing them all or nothing with Redis's error list and
//! closing the connections of every user but `default`; startup refusing a bad file.

mod common;

use std::path::Path;

use common::*;

/// ACL LIST lines of users defined as `user <name> on >pw +@all` (the hash is of "pw").
const PW: &str = "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";

fn start_with_aclfile(path: &Path) -> Server {
    let p = path.display().to_string();
    start_with(|c| c.aclfile = p)
}

fn acl_list(c: &mut Raw) -> Vec<String> {
    match c.q("ACL LIST") {
        strata::protocol::Frame::Array(items) => items.iter().map(as_text).collect(),
        other => panic!("ACL LIST: {other:?}"),
    }
}

#[test]
fn users_come_from_the_file_and_acl_save_writes_them_back() {
    if !in_process_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\nuser alice on >pw ~k* +get\n",
    )
    .unwrap();
    let s = start_with_aclfile(&file);
    let mut c = s.raw();
    assert_eq!(
        acl_list(&mut c),
        [
            format!("user alice on {PW} ~k* resetchannels -@all +get"),
            "user default on nopass ~* &* +@all".to_string(),
        ]
    );
    assert_eq!(
        c.q("CONFIG GET aclfile"),
        bulks(&["aclfile", &file.display().to_string()])
    );
    assert_eq!(
        c.q("CONFIG SET aclfile /tmp/other.acl"),
        err("ERR CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config")
    );
    let mut alice = s.raw();
    assert_eq!(alice.q("AUTH alice pw"), ok());
    assert_eq!(alice.q("GET k1"), nil());
    // ACL SAVE writes ACL LIST's lines, and nothing is left beside the file.
    assert_eq!(c.q("ACL SETUSER bob on >pw &ch +set"), ok());
    assert_eq!(c.q("ACL SAVE"), ok());
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        saved,
        format!(
            "user alice on {PW} ~k* resetchannels -@all +get\n\
             user bob on {PW} resetchannels &ch -@all +set\n\
             user default on nopass ~* &* +@all\n"
        )
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["users.acl"]);
    // The file changes behind the server's back; ACL LOAD takes it whole.
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\n\nuser alice on >pw ~* +@all\r\n",
    )
    .unwrap();
    let mut bob = s.raw();
    assert_eq!(bob.q("AUTH bob pw"), ok());
    assert_eq!(c.q("ACL LOAD"), ok());
    assert_eq!(c.q("ACL USERS"), bulks(&["alice", "default"]));
    // Every connection of a user other than default is closed (alice's too, though she
    // still exists), as in Redis 7.0; default's stays.
    assert!(alice.closed_within(5000), "alice's connection is closed");
    assert!(bob.closed_within(5000), "bob's connection is closed");
    assert_eq!(c.q("PING"), simple("PONG"));
    // A caller logged in as another user gets its reply, then is closed.
    let mut alice = s.raw();
    assert_eq!(alice.q("AUTH alice pw"), ok());
    assert_eq!(alice.q("SET k v"), ok());
    assert_eq!(alice.q("ACL LOAD"), ok());
    assert!(
        alice.closed_within(5000),
        "the caller is closed after its reply"
    );
    // A restart reads the file again.
    drop(s);
    let s = start_with_aclfile(&file);
    let mut c = s.raw();
    assert_eq!(
        acl_list(&mut c),
        [
            format!("user alice on {PW} ~* resetchannels +@all"),
            "user default on nopass ~* &* +@all".to_string(),
        ]
    );
}

#[test]
fn acl_load_refuses_a_bad_file_whole_with_redis_errors() {
    if !in_process_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    let f = file.display().to_string();
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\nuser alice on >pw\n",
    )
    .unwrap();
    let s = start_with_aclfile(&file);
    let mut c = s.raw();
    let before = acl_list(&mut c);
    let tail =
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
    let cases: Vec<(String, String)> = vec![
        (
            "user a on +nosuch -alsono\nfoo\nuser b on ~x ~* ~y\nuser\n".into(),
            format!(
                "ERR {f}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. \
                 {f}:1: Error in applying operation '-alsono': Unknown command or category name in ACL. \
                 {f}:2 should start with user keyword followed by the username. \
                 {f}:3: Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns. \
                 {f}:4 should start with user keyword followed by the username. {tail}"
            ),
        ),
        // Only the first error of a line that is not an unknown command is reported.
        (
            "user a on <nope >x <other\n".into(),
            format!("ERR {f}:1: The password you are trying to remove from the user does not exist. {tail}"),
        ),
        (
            "user a\nuser b\nuser a on\n".into(),
            format!("ERR WARNING: Duplicate user 'a' found on line 3. {tail}"),
        ),
        (
            "user x\ton\n".into(),
            format!("ERR '{f}:1: username 'x\ton' contains invalid characters. {tail}"),
        ),
        // Comments are not part of the format (Redis 7.0 refuses them too).
        (
            "# users\nuser a on\n".into(),
            format!("ERR {f}:1 should start with user keyword followed by the username. {tail}"),
        ),
        (
            "USER a on\n".into(),
            format!("ERR {f}:1 should start with user keyword followed by the username. {tail}"),
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&file, &text).unwrap();
        assert_eq!(c.q("ACL LOAD"), err(&want), "file {text:?}");
        assert_eq!(acl_list(&mut c), before, "nothing changed after {text:?}");
    }
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        c.q("ACL LOAD"),
        err(&format!(
            "ERR Error loading ACLs, opening file '{f}': No such file or directory"
        ))
    );
    assert_eq!(acl_list(&mut c), before);
    assert_eq!(
        c.q("ACL LOAD now"),
        err("ERR wrong number of arguments for 'acl|load' command")
    );
    assert_eq!(
        c.q("ACL SAVE now"),
        err("ERR wrong number of arguments for 'acl|save' command")
    );
    // Blank lines, spaces around a line and between rules are fine, as in Redis.
    std::fs::write(&file, "\n\t user x on  +get \r\n\n").unwrap();
    assert_eq!(c.q("ACL LOAD"), ok());
    assert_eq!(
        acl_list(&mut c),
        [
            "user default on nopass ~* &* +@all",
            "user x on resetchannels -@all +get"
        ]
    );
    // ACL SAVE into a directory that is gone fails and says where to look.
    drop(dir);
    assert_eq!(
        c.q("ACL SAVE"),
        err("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    );
}

#[test]
fn without_an_acl_file_load_and_save_say_how_to_keep_users() {
    let s = start();
    let mut c = s.raw();
    let msg = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";
    assert_eq!(c.q("ACL LOAD"), err(msg));
    assert_eq!(c.q("ACL SAVE"), err(msg));
}

#[test]
fn startup_refuses_a_bad_or_missing_file_and_users_beside_it() {
    if !in_process_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spawn = |aclfile: &Path, users: Vec<Vec<String>>| {
        let cfg = strata::config::Config {
            port: 0,
            appendonly: false,
            dir: dir.path().to_path_buf(),
            aclfile: aclfile.display().to_string(),
            users,
            ..strata::config::Config::default()
        };
        strata::server::spawn(cfg).err().map(|e| e.to_string())
    };
    let missing = dir.path().join("missing.acl");
    assert_eq!(
        spawn(&missing, vec![]),
        Some(format!(
            "Aborting startup because of ACL errors: Error loading ACLs, opening file '{}': No such file or directory",
            missing.display()
        ))
    );
    let bad = dir.path().join("bad.acl");
    std::fs::write(&bad, "user alice on +nosuch\nuser x\n").unwrap();
    assert_eq!(
        spawn(&bad, vec![]),
        Some(format!(
            "Aborting startup because of ACL errors: {}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            bad.display()
        ))
    );
    let good = dir.path().join("good.acl");
    std::fs::write(&good, "user alice on\n").unwrap();
    assert_eq!(
        spawn(&good, vec![vec!["bob".into(), "on".into()]]),
        Some("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into())
    );
}

/// Where Strata parts from Redis on purpose: a file without a `default` line leaves the
/// default user as `requirepass` describes it (Redis makes it `nopass`, so a server
/// configured with a password would silently accept anyone).
#[test]
fn a_file_without_default_keeps_requirepass() {
    if !in_process_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user alice on >pw +@all\n").unwrap();
    let p = file.display().to_string();
    let s = start_with(|c| {
        c.aclfile = p;
        c.requirepass = Some("secret".into());
    });
    let mut c = s.raw();
    assert_eq!(c.q("PING"), err("NOAUTH Authentication required."));
    assert_eq!(c.q("AUTH secret"), ok());
    assert_eq!(c.q("ACL LOAD"), ok());
    let mut other = s.raw();
    assert_eq!(other.q("PING"), err("NOAUTH Authentication required."));
    assert_eq!(other.q("AUTH alice pw"), ok());
}

/// With an ACL file, CONFIG REWRITE leaves users out of the config file (they are the
/// file's, written by ACL SAVE), as Redis does.
#[test]
fn config_rewrite_with_an_acl_file_writes_no_user_lines() {
    if !in_process_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\n").unwrap();
    let conf = dir.path().join("strata.conf");
    std::fs::write(&conf, "# mine\nmaxclients 100\n").unwrap();
    let (a, cf) = (acl.display().to_string(), conf.clone());
    let s = start_with(|c| {
        c.aclfile = a;
        c.config_file = Some(cf);
    });
    let mut c = s.raw();
    assert_eq!(c.q("ACL SETUSER bob on"), ok());
    assert_eq!(c.q("CONFIG REWRITE"), ok());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(!text.contains("user "), "{text}");
    assert!(
        text.contains(&format!("aclfile {}\n", acl.display())),
        "{text}"
    );
}
