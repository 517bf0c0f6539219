//! Connection and server commands (PING to SHUTDOWN, auth, limits) over TCP match Redis 7.0.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use strata::protocol::Frame;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const DEBUG_REFUSED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `name:value` fields of an INFO reply.
fn info_fields(reply: &Frame) -> HashMap<String, String> {
    as_text(reply)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn ping_echo() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("PING"), simple("PONG"));
    assert_eq!(c.q("ping"), simple("PONG"));
    assert_eq!(c.call(&["PING", "hello world"]), bulk("hello world"));
    assert_eq!(
        c.q("PING a b"),
        err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(c.call(&["ECHO", "hi there"]), bulk("hi there"));
    assert_eq!(c.call(&["ECHO", ""]), bulk(""));
    assert_eq!(
        c.q("ECHO"),
        err("ERR wrong number of arguments for 'echo' command")
    );
    assert_eq!(
        c.q("ECHO a b"),
        err("ERR wrong number of arguments for 'echo' command")
    );
}

#[test]
fn select_and_db_commands() {
    let s = start();
    let mut c = s.raw();
    for db in 0..16 {
        assert_eq!(c.q(&format!("SELECT {db}")), ok());
        assert_eq!(c.call(&["SET", "k", &db.to_string()]), ok());
    }
    assert_eq!(c.q("SELECT 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SELECT -1"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SELECT abc"), err(NOT_INT));
    assert_eq!(
        c.q("SELECT"),
        err("ERR wrong number of arguments for 'select' command")
    );
    // A failed SELECT leaves the current db alone.
    assert_eq!(c.q("GET k"), bulk("15"));
    assert_eq!(c.q("SELECT 3"), ok());
    assert_eq!(c.q("GET k"), bulk("3"));
    // Each connection has its own current db.
    let mut other = s.raw();
    assert_eq!(other.q("GET k"), bulk("0"));

    assert_eq!(c.q("DBSIZE"), int(1));
    assert_eq!(c.q("MSET a 1 b 2"), ok());
    assert_eq!(c.q("DBSIZE"), int(3));
    assert_eq!(
        c.q("DBSIZE x"),
        err("ERR wrong number of arguments for 'dbsize' command")
    );
    assert_eq!(c.q("FLUSHDB"), ok());
    assert_eq!(c.q("DBSIZE"), int(0));
    assert_eq!(other.q("GET k"), bulk("0"));
    assert_eq!(c.q("FLUSHDB ASYNC"), ok());
    assert_eq!(c.q("FLUSHDB sync"), ok());
    assert_eq!(c.q("FLUSHDB x"), err("ERR syntax error"));
    assert_eq!(c.q("FLUSHALL SYNC x"), err("ERR syntax error"));

    // SWAPDB swaps the contents; connections stay on their db number.
    assert_eq!(c.q("SELECT 0"), ok());
    assert_eq!(c.q("SWAPDB 0 1"), ok());
    assert_eq!(c.q("GET k"), bulk("1"));
    assert_eq!(other.q("GET k"), bulk("1"));
    assert_eq!(c.q("SWAPDB 1 0"), ok());
    assert_eq!(c.q("SWAPDB 2 2"), ok());
    assert_eq!(c.q("GET k"), bulk("0"));
    assert_eq!(c.q("SWAPDB 0 16"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SWAPDB -1 0"), err("ERR DB index is out of range"));
    assert_eq!(c.q("SWAPDB a 1"), err("ERR invalid first DB index"));
    assert_eq!(c.q("SWAPDB 0 b"), err("ERR invalid second DB index"));

    assert_eq!(c.q("FLUSHALL"), ok());
    for db in 0..16 {
        assert_eq!(c.q(&format!("SELECT {db}")), ok());
        assert_eq!(c.q("DBSIZE"), int(0));
    }
    assert_eq!(c.q("FLUSHALL ASYNC"), ok());
}

/// The fields of a HELLO reply, whether a RESP3 map or a RESP2 flat array.
fn hello_fields(f: Frame) -> Vec<(String, Frame)> {
    match f {
        Frame::Map(pairs) => pairs.into_iter().map(|(k, v)| (as_text(&k), v)).collect(),
        Frame::Array(items) => items
            .chunks(2)
            .map(|p| (as_text(&p[0]), p[1].clone()))
            .collect(),
        other => panic!("unexpected HELLO reply {other:?}"),
    }
}

#[test]
fn hello_negotiates_resp3() {
    let s = start();
    let mut c = s.raw();
    let id = as_int(&c.q("CLIENT ID"));
    let reply = c.q("HELLO 3");
    assert!(
        matches!(reply, Frame::Map(_)),
        "HELLO 3 replies with a map: {reply:?}"
    );
    let fields = hello_fields(reply);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    assert_eq!(fields[0].1, bulk("redis"));
    assert_eq!(fields[1].1, bulk("7.0.15"));
    assert_eq!(fields[2].1, int(3));
    assert_eq!(fields[3].1, int(id));
    assert_eq!(fields[4].1, bulk("standalone"));
    assert_eq!(fields[5].1, bulk("master"));
    assert_eq!(fields[6].1, arr(vec![]));
    // RESP3 types from here on.
    assert_eq!(c.q("GET missing"), Frame::Null);
    assert!(matches!(c.q("CONFIG GET maxclients"), Frame::Map(_)));
    // HELLO without a version reports the current one.
    assert_eq!(hello_fields(c.q("HELLO"))[2].1, int(3));
    // Back to RESP2: a flat array and `$-1` nulls.
    let reply = c.q("HELLO 2");
    assert!(
        matches!(reply, Frame::Array(ref v) if v.len() == 14),
        "{reply:?}"
    );
    assert_eq!(c.q("GET missing"), nil());

    assert_eq!(c.q("HELLO 4"), err("NOPROTO unsupported protocol version"));
    assert_eq!(c.q("HELLO 1"), err("NOPROTO unsupported protocol version"));
    assert_eq!(
        c.q("HELLO abc"),
        err("ERR Protocol version is not an integer or out of range")
    );
    assert_eq!(
        c.q("HELLO 3 foo"),
        err("ERR Syntax error in HELLO option 'foo'")
    );
    assert_eq!(
        c.q("HELLO 3 SETNAME"),
        err("ERR Syntax error in HELLO option 'SETNAME'")
    );
    assert_eq!(
        c.q("HELLO 3 AUTH default"),
        err("ERR Syntax error in HELLO option 'AUTH'")
    );
    // A failed HELLO changes nothing.
    assert_eq!(c.q("GET missing"), nil());

    let fields = hello_fields(c.q("HELLO 3 SETNAME myconn"));
    assert_eq!(fields[2].1, int(3));
    assert_eq!(c.q("CLIENT GETNAME"), bulk("myconn"));
    assert_eq!(
        c.call(&["HELLO", "3", "SETNAME", "a b"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    // Without a password, AUTH default <anything> is accepted (the default user has nopass).
    assert!(matches!(
        c.q("HELLO 2 AUTH default whatever"),
        Frame::Array(_)
    ));
    assert_eq!(
        c.q("HELLO 2 AUTH someone whatever"),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
}

#[test]
fn auth_with_requirepass() {
    let s = start_with(|cfg| cfg.requirepass = Some("s3cret".into()));
    let mut c = s.raw();
    let noauth = err("NOAUTH Authentication required.");
    let wrongpass = err("WRONGPASS invalid username-password pair or user is disabled.");
    for cmd in [
        "GET k",
        "SET k v",
        "PING",
        "SELECT 1",
        "CLIENT ID",
        "MULTI",
        "INFO",
    ] {
        assert_eq!(c.q(cmd), noauth, "{cmd}");
    }
    // The argument count is checked before authentication, as in Redis.
    assert_eq!(
        c.q("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.q("FOO"),
        err("ERR unknown command 'FOO', with args beginning with: ")
    );
    // A refused EXEC says why (Redis's rejectCommand).
    assert_eq!(
        c.q("EXEC"),
        err("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")
    );
    assert_eq!(
        c.q("HELLO 3"),
        err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    );
    assert_eq!(c.q("AUTH wrong"), wrongpass);
    assert_eq!(c.q("AUTH default wrong"), wrongpass);
    assert_eq!(c.q("AUTH someone s3cret"), wrongpass);
    assert_eq!(c.q("AUTH a b c"), err("ERR syntax error"));
    assert_eq!(c.q("HELLO 3 AUTH default wrong"), wrongpass);
    assert_eq!(c.q("GET k"), noauth);
    assert_eq!(c.q("AUTH s3cret"), ok());
    assert_eq!(c.q("GET k"), nil());
    assert_eq!(c.q("SET k v"), ok());
    // A later failed AUTH does not log the connection out.
    assert_eq!(c.q("AUTH wrong"), wrongpass);
    assert_eq!(c.q("GET k"), bulk("v"));

    let mut d = s.raw();
    assert_eq!(d.q("AUTH default s3cret"), ok());
    assert_eq!(d.q("GET k"), bulk("v"));

    let mut e = s.raw();
    let fields = hello_fields(e.q("HELLO 3 AUTH default s3cret SETNAME viahello"));
    assert_eq!(fields[2].1, int(3));
    assert_eq!(e.q("GET k"), bulk("v"));
    assert_eq!(e.q("CLIENT GETNAME"), bulk("viahello"));

    // The redis crate authenticates through the URL.
    let mut con = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", s.port()))
        .unwrap()
        .get_connection()
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");

    // Without a password configured, AUTH <pass> is an error.
    let open = start();
    let mut f = open.raw();
    assert_eq!(
        f.q("AUTH x"),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
}

#[test]
fn unauthenticated_clients_get_small_limits() {
    let s = start_with(|cfg| cfg.requirepass = Some("pw".into()));
    // Redis refuses big requests before authentication and closes the connection.
    let mut c = s.raw();
    c.send(b"*11\r\n");
    assert_eq!(
        c.read_to_eof(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut c = s.raw();
    c.send(b"*2\r\n$4\r\nAUTH\r\n$20000\r\n");
    assert_eq!(
        c.read_to_eof(),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    // Once authenticated, they are lifted.
    let mut c = s.raw();
    assert_eq!(c.q("AUTH pw"), ok());
    let big = "x".repeat(20000);
    assert_eq!(c.call(&["SET", "k", &big]), ok());
    assert_eq!(c.q("STRLEN k"), int(20000));
}

#[test]
fn info_sections() {
    let s = start();
    let mut c = s.raw();
    let all = as_text(&c.q("INFO"));
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "INFO lacks {section}");
    }
    assert!(all.contains("\r\n"), "INFO lines end with CRLF");
    let server = as_text(&c.q("INFO server"));
    assert!(server.starts_with("# Server\r\n"), "{server}");
    assert!(!server.contains("# Clients"));
    let f = info_fields(&c.q("INFO server"));
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["tcp_port"], s.port().to_string());
    let two = as_text(&c.q("INFO clients memory"));
    assert!(two.contains("# Clients") && two.contains("# Memory") && !two.contains("# Server"));
    assert_eq!(c.q("INFO nosuchsection"), bulk(""));
    assert!(as_text(&c.q("INFO everything")).contains("# Keyspace"));
    let clients = info_fields(&c.q("INFO clients"));
    assert_eq!(clients["connected_clients"], "1");
    let _other = s.raw();
    assert!(wait_for(2000, || info_fields(&c.q("INFO clients"))
        ["connected_clients"]
        == "2"));

    // The keyspace section lists non-empty dbs only.
    assert_eq!(c.q("INFO keyspace"), bulk("# Keyspace\r\n"));
    assert_eq!(c.q("SET a 1"), ok());
    assert_eq!(c.q("SET b 2 EX 100"), ok());
    assert_eq!(c.q("SELECT 9"), ok());
    assert_eq!(c.q("SET c 3"), ok());
    assert_eq!(
        c.q("INFO keyspace"),
        bulk("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb9:keys=1,expires=0,avg_ttl=0\r\n")
    );

    // used_memory is a number that grows with the dataset.
    let used = |c: &mut Raw| -> u64 {
        info_fields(&c.q("INFO memory"))["used_memory"]
            .parse()
            .unwrap()
    };
    let before = used(&mut c);
    for chunk in (0..10_000).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("memkey:{i}"));
            args.push(format!("some value number {i}"));
        }
        assert_eq!(c.call(&args), ok());
    }
    let after = used(&mut c);
    assert!(
        after > before + 10_000 * 40,
        "used_memory {before} -> {after}"
    );
    assert_eq!(c.q("FLUSHALL"), ok());
    assert!(used(&mut c) < after);

    // Stats count commands and keyspace hits/misses; RESETSTAT zeroes them.
    assert!(
        info_fields(&c.q("INFO stats"))["total_commands_processed"]
            .parse::<u64>()
            .unwrap()
            > 10
    );
    assert_eq!(c.q("CONFIG RESETSTAT"), ok());
    let stats = info_fields(&c.q("INFO stats"));
    assert_eq!(stats["keyspace_hits"], "0");
    assert_eq!(stats["keyspace_misses"], "0");
    assert_eq!(stats["total_commands_processed"], "1");
    assert_eq!(c.q("SET k v"), ok());
    assert_eq!(c.q("GET k"), bulk("v"));
    assert_eq!(c.q("GET nope"), nil());
    let stats = info_fields(&c.q("INFO stats"));
    assert_eq!(stats["total_commands_processed"], "5");
    assert_eq!(stats["keyspace_hits"], "1");
    assert_eq!(stats["keyspace_misses"], "1");
}

#[test]
fn idle_timeout_closes_silent_clients() {
    let s = start();
    // Connected before the change and silent since.
    let mut early = s.raw();
    let mut c = s.raw();
    assert_eq!(c.q("CONFIG SET timeout 1"), ok());
    let mut late = s.raw();
    let mut busy = s.raw();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.q("PING"), simple("PONG"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        early.closed_within(1500),
        "an idle client from before CONFIG SET is closed"
    );
    assert!(
        late.closed_within(1500),
        "an idle client from after CONFIG SET is closed"
    );
    assert!(c.closed_within(1500));
    assert_eq!(busy.q("CONFIG SET timeout 0"), ok());
    assert_eq!(busy.q("PING"), simple("PONG"));
}

#[test]
fn network_byte_counters() {
    let s = start();
    let mut c = s.raw();
    let counter =
        |c: &mut Raw, name: &str| -> u64 { info_fields(&c.q("INFO stats"))[name].parse().unwrap() };
    let in0 = counter(&mut c, "total_net_input_bytes");
    let out0 = counter(&mut c, "total_net_output_bytes");
    assert_eq!(c.call(&["SET", "k", &"v".repeat(10_000)]), ok());
    assert_eq!(c.q("GET k").as_bytes().map(<[u8]>::len), Some(10_000));
    assert!(counter(&mut c, "total_net_input_bytes") >= in0 + 10_000);
    assert!(counter(&mut c, "total_net_output_bytes") >= out0 + 10_000);
}

#[test]
fn config_get_set() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.q("CONFIG GET maxclients"),
        bulks(&["maxclients", "10000"])
    );
    // A plain name is echoed as typed; a pattern matches canonical names.
    assert_eq!(
        c.q("CONFIG GET MAXCLIENTS"),
        bulks(&["MAXCLIENTS", "10000"])
    );
    assert_eq!(c.q("CONFIG GET nosuchparam"), arr(vec![]));
    let got = as_array(c.q("CONFIG GET maxmemory*"));
    let names: Vec<String> = got.iter().step_by(2).map(as_text).collect();
    assert!(
        names.contains(&"maxmemory".to_string()) && names.contains(&"maxmemory-policy".to_string())
    );
    assert!(
        names.iter().all(|n| n.starts_with("maxmemory")),
        "{names:?}"
    );
    let got = as_array(c.q("CONFIG GET *"));
    assert!(got.len() > 40 && got.len().is_multiple_of(2));
    // Several patterns; a parameter matched twice is listed once.
    let mut got: Vec<(String, String)> = as_array(c.q("CONFIG GET timeout timeout hz"))
        .chunks(2)
        .map(|p| (as_text(&p[0]), as_text(&p[1])))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("hz".to_string(), "10".to_string()),
            ("timeout".to_string(), "0".to_string())
        ]
    );

    assert_eq!(c.q("CONFIG SET maxclients 500"), ok());
    assert_eq!(c.q("CONFIG GET maxclients"), bulks(&["maxclients", "500"]));
    assert_eq!(c.q("CONFIG SET timeout 100 hz 20"), ok());
    assert_eq!(c.q("CONFIG GET timeout"), bulks(&["timeout", "100"]));
    assert_eq!(c.q("CONFIG GET hz"), bulks(&["hz", "20"]));
    assert_eq!(c.q("CONFIG SET timeout 0"), ok());
    assert_eq!(c.q("config set MaxMemory 1mb"), ok());
    assert_eq!(
        c.q("CONFIG GET maxmemory"),
        bulks(&["maxmemory", "1048576"])
    );
    assert_eq!(c.q("CONFIG SET maxmemory 0"), ok());
    assert_eq!(c.call(&["CONFIG", "SET", "save", ""]), ok());
    assert_eq!(c.q("CONFIG GET save"), bulks(&["save", ""]));

    assert_eq!(
        c.q("CONFIG SET databases 2"),
        err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")
    );
    assert_eq!(
        c.q("CONFIG SET nosuchparam 1"),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuchparam'")
    );
    assert_eq!(
        c.q("CONFIG SET maxclients abc"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer")
    );
    assert_eq!(
        c.q("CONFIG SET appendfsync sometimes"),
        err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no")
    );
    assert_eq!(
        c.q("CONFIG SET protected-mode maybe"),
        err("ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'")
    );
    assert_eq!(
        c.q("CONFIG SET maxclients 100 maxclients 200"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - duplicate parameter")
    );
    // All or nothing: one bad parameter and none is applied.
    assert_eq!(
        c.q("CONFIG SET timeout 5 maxclients abc"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer")
    );
    assert_eq!(c.q("CONFIG GET timeout"), bulks(&["timeout", "0"]));
    assert_eq!(
        c.q("CONFIG SET maxclients 100 timeout"),
        err("ERR syntax error")
    );
    assert_eq!(
        c.q("CONFIG SET maxclients"),
        err("ERR wrong number of arguments for 'config|set' command")
    );
    assert_eq!(
        c.q("CONFIG GET"),
        err("ERR wrong number of arguments for 'config|get' command")
    );
    assert_eq!(
        c.q("CONFIG RESETSTAT x"),
        err("ERR wrong number of arguments for 'config|resetstat' command")
    );
    assert_eq!(
        c.q("CONFIG FOO"),
        err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    );
    assert_eq!(
        c.q("CONFIG"),
        err("ERR wrong number of arguments for 'config' command")
    );
    assert!(matches!(c.q("CONFIG HELP"), Frame::Array(v) if !v.is_empty()));
}

#[test]
fn client_commands() {
    let s = start();
    let mut c = s.raw();
    let mut other = s.raw();
    let id = as_int(&c.q("CLIENT ID"));
    let other_id = as_int(&other.q("CLIENT ID"));
    assert!(id > 0 && other_id > id);
    assert_eq!(c.q("CLIENT GETNAME"), nil());
    assert_eq!(c.q("CLIENT SETNAME conn-1"), ok());
    assert_eq!(c.q("CLIENT GETNAME"), bulk("conn-1"));
    let bad_name = err("ERR Client names cannot contain spaces, newlines or special characters.");
    assert_eq!(c.call(&["CLIENT", "SETNAME", "a b"]), bad_name);
    assert_eq!(c.call(&["CLIENT", "SETNAME", "a\nb"]), bad_name);
    assert_eq!(c.q("CLIENT GETNAME"), bulk("conn-1"));
    // An empty name clears it.
    assert_eq!(c.call(&["CLIENT", "SETNAME", ""]), ok());
    assert_eq!(c.q("CLIENT GETNAME"), nil());
    assert_eq!(c.q("CLIENT SETNAME conn-1"), ok());
    assert_eq!(other.q("SELECT 4"), ok());

    let list = as_text(&c.q("CLIENT LIST"));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(list.ends_with('\n'));
    let mine = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("own line");
    assert!(mine.contains(" name=conn-1 "), "{mine}");
    assert!(mine.contains(" db=0 "), "{mine}");
    assert!(mine.contains(" addr=127.0.0.1:"), "{mine}");
    let theirs = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={other_id} ")))
        .expect("other line");
    assert!(
        theirs.contains(" db=4 ") && theirs.contains(" cmd=select "),
        "{theirs}"
    );
    let only = as_text(&c.q(&format!("CLIENT LIST ID {other_id}")));
    assert_eq!(only.lines().count(), 1);
    assert!(only.starts_with(&format!("id={other_id} ")));
    assert_eq!(as_text(&c.q("CLIENT LIST TYPE normal")).lines().count(), 2);
    assert_eq!(as_text(&c.q("CLIENT LIST TYPE pubsub")), "");
    assert_eq!(
        c.q("CLIENT LIST TYPE foo"),
        err("ERR Unknown client type 'foo'")
    );
    assert_eq!(c.q("CLIENT LIST ID abc"), err("ERR Invalid client ID"));
    assert_eq!(c.q("CLIENT LIST foo"), err("ERR syntax error"));
    let info = as_text(&c.q("CLIENT INFO"));
    assert!(
        info.starts_with(&format!("id={id} ")) && info.ends_with('\n') && info.lines().count() == 1
    );

    // CLIENT SETINFO (Redis 7.2) shows in CLIENT INFO.
    assert_eq!(c.q("CLIENT SETINFO lib-name mylib"), ok());
    assert_eq!(c.q("CLIENT SETINFO LIB-VER 1.2.3"), ok());
    let info = as_text(&c.q("CLIENT INFO"));
    assert!(
        info.contains(" lib-name=mylib ") && info.contains(" lib-ver=1.2.3"),
        "{info}"
    );
    assert_eq!(
        c.q("CLIENT SETINFO foo bar"),
        err("ERR Unrecognized option 'foo'")
    );
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        err("ERR lib-name cannot contain spaces, newlines or special characters.")
    );

    assert_eq!(
        c.q("CLIENT FOO"),
        err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
    assert_eq!(
        c.q("CLIENT GETNAME x"),
        err("ERR wrong number of arguments for 'client|getname' command")
    );
    assert_eq!(
        c.q("CLIENT KILL"),
        err("ERR wrong number of arguments for 'client|kill' command")
    );
    assert_eq!(
        c.q("CLIENT"),
        err("ERR wrong number of arguments for 'client' command")
    );

    // The redis crate sends CLIENT SETINFO on connect and carries on.
    let mut con = s.conn();
    let n: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(n > other_id);
}

#[test]
fn client_kill() {
    let s = start();
    let mut c = s.raw();
    let mut victim = s.raw();
    let mut bystander = s.raw();
    let vid = as_int(&victim.q("CLIENT ID"));
    assert_eq!(bystander.q("PING"), simple("PONG"));
    assert_eq!(c.q(&format!("CLIENT KILL ID {vid}")), int(1));
    assert!(
        victim.closed_within(2000),
        "the killed connection is closed"
    );
    assert_eq!(c.q(&format!("CLIENT KILL ID {vid}")), int(0));
    assert_eq!(bystander.q("PING"), simple("PONG"));
    assert!(wait_for(2000, || as_text(&c.q("CLIENT LIST"))
        .lines()
        .count()
        == 2));

    // Old form: by address, OK or an error.
    let list = as_text(&c.q("CLIENT LIST"));
    let bid = as_int(&bystander.q("CLIENT ID"));
    let addr = list
        .lines()
        .find(|l| l.starts_with(&format!("id={bid} ")))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("addr=")))
        .unwrap()
        .to_string();
    assert_eq!(c.q(&format!("CLIENT KILL {addr}")), ok());
    assert!(bystander.closed_within(2000));
    assert_eq!(c.q("CLIENT KILL 1.2.3.4:5"), err("ERR No such client"));

    assert_eq!(
        c.q("CLIENT KILL ID abc"),
        err("ERR client-id should be greater than 0")
    );
    assert_eq!(
        c.q("CLIENT KILL ID 0"),
        err("ERR client-id should be greater than 0")
    );
    // With a single argument it is the old form: "ID" is taken as an address.
    assert_eq!(c.q("CLIENT KILL ID"), err("ERR No such client"));
    assert_eq!(c.q("CLIENT KILL FOO bar"), err("ERR syntax error"));
    assert_eq!(c.q("CLIENT KILL SKIPME maybe"), err("ERR syntax error"));
    // SKIPME yes (the default) spares the caller; SKIPME no kills it after the reply.
    let me = as_int(&c.q("CLIENT ID"));
    assert_eq!(c.q(&format!("CLIENT KILL ID {me}")), int(0));
    assert_eq!(c.q("PING"), simple("PONG"));
    assert_eq!(c.q(&format!("CLIENT KILL ID {me} SKIPME no")), int(1));
    assert!(c.closed_within(2000));
}

#[test]
fn command_introspection() {
    let s = start();
    let mut c = s.raw();
    let count = as_int(&c.q("COMMAND COUNT"));
    assert!(count >= 60, "{count}");
    assert_eq!(as_array(c.q("COMMAND")).len() as i64, count);
    // COMMAND LIST also names subcommands (`container|sub`), as Redis 7 does.
    let list = sorted_texts(c.q("COMMAND LIST"));
    assert!(list.len() as i64 > count);
    assert!(list.contains(&"config|get".to_string()), "{list:?}");
    assert_eq!(
        sorted_texts(c.q("COMMAND LIST FILTERBY PATTERN config|[gs]et")),
        ["config|get", "config|set"]
    );
    assert_eq!(
        sorted_texts(c.q("COMMAND LIST FILTERBY ACLCAT geo")),
        [
            "geoadd",
            "geodist",
            "geohash",
            "geopos",
            "georadius",
            "georadius_ro",
            "georadiusbymember",
            "georadiusbymember_ro",
            "geosearch",
            "geosearchstore"
        ]
    );
    assert_eq!(c.q("COMMAND LIST FILTERBY ACLCAT nope"), arr(vec![]));
    assert_eq!(c.q("COMMAND LIST FILTERBY MODULE x"), arr(vec![]));
    assert_eq!(
        c.q("COMMAND LIST FILTERBY BOGUS x"),
        err("ERR syntax error")
    );
    assert_eq!(c.q("COMMAND LIST x"), err("ERR syntax error"));
    let info = as_array(c.q("COMMAND INFO get set nosuchcmd"));
    assert_eq!(info.len(), 3);
    let get = as_array(info[0].clone());
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], int(2));
    assert_eq!(get[2], arr(vec![simple("readonly"), simple("fast")]));
    assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
    assert_eq!(
        get[6],
        arr(vec![simple("@read"), simple("@string"), simple("@fast")])
    );
    let set = as_array(info[1].clone());
    assert_eq!(set[0], bulk("set"));
    assert_eq!(set[1], int(-3));
    assert_eq!(info[2], Frame::NullBulk);
    let docs = as_array(c.q("COMMAND DOCS get"));
    assert_eq!(docs[0], bulk("get"));
    let fields = as_array(docs[1].clone());
    assert_eq!(fields[0], bulk("summary"));
    let group = fields
        .chunks(2)
        .find(|p| p[0] == bulk("group"))
        .map(|p| p[1].clone());
    assert_eq!(group, Some(bulk("string")));
    assert_eq!(c.q("COMMAND GETKEYS MSET a 1 b 2"), bulks(&["a", "b"]));
    // Keys found as Redis finds them: `numkeys` forms, STORE destinations, subcommands.
    for (line, keys) in [
        ("ZUNIONSTORE d 2 a b", &["d", "a", "b"][..]),
        ("SORT k LIMIT 0 1 GET x BY y STORE dst", &["k", "dst"]),
        ("GEORADIUS g 1 1 1 km STORE s", &["g", "s"]),
        ("BLMPOP 0 2 a b LEFT", &["a", "b"]),
        ("MEMORY USAGE k", &["k"]),
    ] {
        assert_eq!(
            c.q(&format!("COMMAND GETKEYS {line}")),
            bulks(keys),
            "{line}"
        );
    }
    for line in ["ZUNIONSTORE d 5 a", "ZUNION x a", "ZUNION -1 a"] {
        assert_eq!(
            c.q(&format!("COMMAND GETKEYS {line}")),
            err("ERR Invalid arguments specified for command"),
            "{line}"
        );
    }
    assert_eq!(
        c.q("COMMAND GETKEYS PUBLISH ch m"),
        err("ERR The command has no key arguments")
    );
    assert_eq!(
        c.q("COMMAND GETKEYS GET"),
        err("ERR wrong number of arguments for 'command|getkeys' command")
    );
    assert_eq!(
        c.q("COMMAND COUNT x"),
        err("ERR wrong number of arguments for 'command|count' command")
    );
    assert_eq!(
        c.q("COMMAND FOO"),
        err("ERR unknown subcommand 'FOO'. Try COMMAND HELP.")
    );
}

#[test]
fn time_and_lastsave() {
    let s = start();
    let mut c = s.raw();
    let t = as_array(c.q("TIME"));
    assert_eq!(t.len(), 2);
    let secs: u64 = as_text(&t[0]).parse().unwrap();
    let micros: u64 = as_text(&t[1]).parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
    assert_eq!(
        c.q("TIME x"),
        err("ERR wrong number of arguments for 'time' command")
    );
    assert!(as_int(&c.q("LASTSAVE")) <= now as i64 + 1);
}

#[test]
fn debug_is_gated() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), err(DEBUG_REFUSED));
    assert_eq!(c.q("DEBUG POPULATE 10"), err(DEBUG_REFUSED));
    assert_eq!(c.q("DBSIZE"), int(0));
    // "local" allows loopback connections.
    let local = start_with(|cfg| cfg.enable_debug_command = "local".into());
    let mut c = local.raw();
    assert_eq!(c.q("DEBUG POPULATE 3"), ok());
    assert_eq!(c.q("DBSIZE"), int(3));
}

#[test]
fn debug_populate() {
    let s = start_with(|cfg| cfg.enable_debug_command = "yes".into());
    let mut c = s.raw();
    assert_eq!(c.q("DEBUG POPULATE 3"), ok());
    assert_eq!(
        c.q("MGET key:0 key:1 key:2 key:3"),
        arr(vec![
            bulk("value:0"),
            bulk("value:1"),
            bulk("value:2"),
            nil()
        ])
    );
    // Existing keys are kept.
    assert_eq!(c.q("SET key:5 mine"), ok());
    assert_eq!(c.q("DEBUG POPULATE 10"), ok());
    assert_eq!(c.q("DBSIZE"), int(10));
    assert_eq!(c.q("GET key:5"), bulk("mine"));
    // Prefix and size: values padded with zeros or cut; size 0 means no size.
    assert_eq!(c.q("DEBUG POPULATE 2 p 10"), ok());
    assert_eq!(c.q("GET p:1"), bulk(b"value:1\0\0\0"));
    assert_eq!(c.q("DEBUG POPULATE 2 q 3"), ok());
    assert_eq!(c.q("GET q:1"), bulk("val"));
    assert_eq!(c.q("DEBUG POPULATE 2 z 0"), ok());
    assert_eq!(c.q("GET z:1"), bulk("value:1"));
    assert_eq!(c.q("DEBUG POPULATE 0"), ok());
    let positive = err("ERR value is out of range, must be positive");
    assert_eq!(c.q("DEBUG POPULATE -1"), positive);
    assert_eq!(c.q("DEBUG POPULATE abc"), positive);
    assert_eq!(c.q("DEBUG POPULATE 1 p -1"), positive);
    assert_eq!(c.q("DEBUG POPULATE 1 p abc"), positive);
    assert_eq!(
        c.q("DEBUG FOO"),
        err("ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.")
    );
    assert_eq!(c.q("DEBUG SLEEP 0"), ok());
    assert_eq!(c.q("DEBUG OBJECT nope"), err("ERR no such key"));
    let obj = as_text(&c.q("DEBUG OBJECT key:0"));
    assert!(
        obj.starts_with("Value at:") && obj.contains(" encoding:embstr "),
        "{obj}"
    );

    // 10k keys in one call, through the redis crate.
    let mut con = s.conn();
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(10_000)
        .query(&mut con)
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 10_000);
}

#[test]
fn maxclients_rejects_extra_connections() {
    let s = start_with(|cfg| cfg.maxclients = 2);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.q("PING"), simple("PONG"));
    assert_eq!(b.q("PING"), simple("PONG"));
    let mut third = s.raw();
    assert_eq!(
        third.read_to_eof(),
        b"-ERR max number of clients reached\r\n"
    );
    assert_eq!(a.q("PING"), simple("PONG"));
    let stats = info_fields(&a.q("INFO stats"));
    assert_eq!(stats["rejected_connections"], "1");
    // A slot frees when a client leaves.
    drop(b);
    assert!(wait_for(2000, || ping_once(s.port())));
}

/// Connect, send an inline PING and tell whether PONG came back (errors count as no).
fn ping_once(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(b"PING\r\n");
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if &buf[..n] == b"+PONG\r\n")
}

#[test]
fn shutdown_from_a_client_stops_the_server() {
    let mut s = start();
    let handle = s.take_handle();
    let port = s.port();
    let mut c = s.raw();
    let mut idle = s.raw();
    assert_eq!(idle.q("PING"), simple("PONG"));
    assert_eq!(c.q("SHUTDOWN FOO"), err("ERR syntax error"));
    assert_eq!(c.q("SHUTDOWN ABORT"), err("ERR No shutdown in progress."));
    c.send(&encode(&["SHUTDOWN", "NOSAVE"]));
    // No reply: the connection just closes, as with Redis.
    assert_eq!(c.read_to_eof(), b"");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(handle.wait().is_ok()).unwrap());
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Ok(true),
        "wait() returns"
    );
    assert_eq!(idle.read_to_eof(), b"");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens any more"
    );
}

#[test]
fn memory_usage_estimates_a_key() {
    let s = start();
    let mut c = s.raw();
    c.q("SET k v");
    c.call(&["SET", "big", &"x".repeat(10_000)]);
    let small = as_int(&c.q("MEMORY USAGE k"));
    let big = as_int(&c.q("MEMORY USAGE big"));
    // The key, the value and the bookkeeping around them; the 10 KB value dominates.
    assert!((16..1024).contains(&small), "{small}");
    assert!((10_000..10_600).contains(&big), "{big}");
    assert_eq!(c.q("MEMORY USAGE big SAMPLES 0"), int(big));
    assert_eq!(c.q("MEMORY USAGE nokey"), nil());
    assert_eq!(
        c.q("MEMORY USAGE k SAMPLES x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.q("MEMORY USAGE k bogus"), err("ERR syntax error"));
    assert_eq!(
        c.q("MEMORY FOO"),
        err("ERR unknown subcommand 'FOO'. Try MEMORY HELP.")
    );
    assert_eq!(
        c.q("MEMORY USAGE"),
        err("ERR wrong number of arguments for 'memory|usage' command")
    );
}

/// CLIENT LIST's `cmd=` is what the client sent last, as Redis 7.0 shows it: a
/// subcommand by its full name, EXEC rather than what it ran, `NULL` for an unknown
/// command or subcommand, a refused known command by its name.
#[test]
fn client_list_cmd_names_the_last_command_as_redis() {
    let s = start();
    let mut c = s.raw();
    let mut w = s.raw();
    let id = as_int(&c.q("CLIENT ID"));
    let mut cmd_after = |line: &str| {
        c.q(line);
        let list = as_text(&w.q(&format!("CLIENT LIST ID {id}")));
        list.split(' ')
            .find_map(|f| f.strip_prefix("cmd="))
            .expect("a cmd field")
            .to_string()
    };
    assert_eq!(cmd_after("CONFIG GET port"), "config|get");
    assert_eq!(cmd_after("ACL WHOAMI"), "acl|whoami");
    assert_eq!(cmd_after("CLIENT NOSUCH"), "NULL");
    assert_eq!(cmd_after("MULTI"), "multi");
    assert_eq!(cmd_after("GET x"), "get");
    assert_eq!(cmd_after("EXEC"), "exec");
    assert_eq!(cmd_after("NOSUCHCMD"), "NULL");
    assert_eq!(cmd_after("GET"), "get");
}

/// MEMORY STATS answers Redis 7.0's fields, in its order, with what Strata measures;
/// DOCTOR, PURGE and MALLOC-STATS answer as Redis's do.
#[test]
fn memory_stats_doctor_purge() {
    let s = start();
    let mut c = s.raw();
    c.q("SET a 1");
    c.q("SELECT 2");
    c.q("SET b 1");
    c.q("SET c 1");
    let stats = match c.q("MEMORY STATS") {
        Frame::Array(v) => v,
        other => panic!("{other:?}"),
    };
    let names: Vec<String> = stats.iter().step_by(2).map(as_text).collect();
    let want: Vec<&str> = vec![
        "peak.allocated",
        "total.allocated",
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
        "db.0",
        "db.2",
        "overhead.total",
        "keys.count",
        "keys.bytes-per-key",
        "dataset.bytes",
        "dataset.percentage",
        "peak.percentage",
        "allocator.allocated",
        "allocator.active",
        "allocator.resident",
        "allocator-fragmentation.ratio",
        "allocator-fragmentation.bytes",
        "allocator-rss.ratio",
        "allocator-rss.bytes",
        "rss-overhead.ratio",
        "rss-overhead.bytes",
        "fragmentation",
        "fragmentation.bytes",
    ];
    assert_eq!(names, want);
    let field = |name: &str| stats[2 * names.iter().position(|n| n == name).unwrap() + 1].clone();
    assert_eq!(field("keys.count"), int(3));
    let total = as_int(&field("total.allocated"));
    assert!(total > 0 && as_int(&field("peak.allocated")) >= total);
    let db = as_array(field("db.2"));
    assert_eq!(db[0], bulk("overhead.hashtable.main"));
    assert!(as_int(&db[1]) > 0);
    assert_eq!(db[2..4], [bulk("overhead.hashtable.expires"), int(0)]);
    let doctor = as_text(&c.q("MEMORY DOCTOR"));
    assert!(
        doctor.starts_with("Hi Sam") || doctor.starts_with("Sam,"),
        "{doctor}"
    );
    assert_eq!(c.q("MEMORY PURGE"), ok());
    assert!(matches!(
        c.q("MEMORY MALLOC-STATS"),
        Frame::Bulk(_) | Frame::Verbatim(..)
    ));
    assert_eq!(
        c.q("MEMORY STATS x"),
        err("ERR wrong number of arguments for 'memory|stats' command")
    );
    let info = as_text(&c.q("INFO memory"));
    assert!(info.contains("used_memory_peak:"), "{info}");
}
