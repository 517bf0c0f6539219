//! MULTI/EXEC/DISCARD and WATCH over TCP behave as in Redis 7.0, errors included.

mod common;

use std::time::Duration;

use common::*;
use strata::protocol::Frame;

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn queued() -> Frame {
    simple("QUEUED")
}

#[test]
fn multi_exec_discard() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 1"), queued());
    assert_eq!(c.q("INCR a"), queued());
    assert_eq!(c.q("GET a"), queued());
    assert_eq!(c.q("PING"), queued());
    // Nothing ran yet: another client sees no key.
    let mut other = s.raw();
    assert_eq!(other.q("EXISTS a"), int(0));
    assert_eq!(
        c.q("EXEC"),
        arr(vec![ok(), int(2), bulk("2"), simple("PONG")])
    );
    assert_eq!(other.q("GET a"), bulk("2"));
    // An empty transaction.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    // DISCARD drops the queue.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 100"), queued());
    assert_eq!(c.q("DISCARD"), ok());
    assert_eq!(c.q("GET a"), bulk("2"));
    assert_eq!(c.q("EXEC"), err("ERR EXEC without MULTI"));
    assert_eq!(c.q("DISCARD"), err("ERR DISCARD without MULTI"));
    // SELECT inside a transaction applies to the commands after it, and sticks.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SELECT 2"), queued());
    assert_eq!(c.q("SET a in-db-2"), queued());
    assert_eq!(c.q("EXEC"), arr(vec![ok(), ok()]));
    assert_eq!(c.q("GET a"), bulk("in-db-2"));
    assert_eq!(other.q("GET a"), bulk("2"));
}

#[test]
fn exec_replies_in_resp3() {
    let s = start();
    let mut c = s.raw();
    assert!(matches!(c.q("HELLO 3"), Frame::Map(_)));
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("GET nope"), queued());
    assert_eq!(c.q("SET k v"), queued());
    assert_eq!(c.q("EXEC"), arr(vec![Frame::Null, ok()]));
}

#[test]
fn multi_errors() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MULTI"), ok());
    // A nested MULTI is refused but does not spoil the transaction.
    assert_eq!(c.q("MULTI"), err("ERR MULTI calls can not be nested"));
    assert_eq!(c.q("SET a 1"), queued());
    // Neither does WATCH.
    assert_eq!(c.q("WATCH a"), err("ERR WATCH inside MULTI is not allowed"));
    assert_eq!(c.q("EXEC"), arr(vec![ok()]));
    assert_eq!(
        c.q("MULTI x"),
        err("ERR wrong number of arguments for 'multi' command")
    );
    assert_eq!(c.q("PING"), simple("PONG"));
}

#[test]
fn queueing_errors_abort_exec() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET a 1"), ok());
    // An unknown command.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 2"), queued());
    assert_eq!(
        c.q("FOO bar"),
        err("ERR unknown command 'FOO', with args beginning with: 'bar' ")
    );
    assert_eq!(c.q("SET b 2"), queued());
    assert_eq!(c.q("EXEC"), err(EXECABORT));
    assert_eq!(c.q("MGET a b"), arr(vec![bulk("1"), nil()]));
    // A wrong argument count.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 3"), queued());
    assert_eq!(
        c.q("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(c.q("EXEC"), err(EXECABORT));
    assert_eq!(c.q("GET a"), bulk("1"));
    // An unknown subcommand, or a wrong argument count for a known one, of a container
    // command (CONFIG, CLIENT, OBJECT...) is refused as it is queued too: these used to
    // be queued, fail inside EXEC and let the rest of the transaction run.
    for bad in [
        "CONFIG FOO",
        "CONFIG GET",
        "OBJECT ENCODING",
        "CLIENT NOSUCH x",
    ] {
        assert_eq!(c.q("MULTI"), ok());
        assert_eq!(c.q("SET a 4"), queued());
        assert!(
            matches!(c.q(bad), Frame::Error(e) if e.starts_with("ERR ")),
            "{bad}"
        );
        assert_eq!(c.q("EXEC"), err(EXECABORT), "{bad}");
        assert_eq!(c.q("GET a"), bulk("1"));
    }
    // Even for DISCARD's own arity.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(
        c.q("DISCARD x"),
        err("ERR wrong number of arguments for 'discard' command")
    );
    assert_eq!(c.q("EXEC"), err(EXECABORT));
    // The transaction is over after EXECABORT.
    assert_eq!(c.q("EXEC"), err("ERR EXEC without MULTI"));
    // DISCARD after an error is fine and clears the error.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(
        c.q("NOSUCH"),
        err("ERR unknown command 'NOSUCH', with args beginning with: ")
    );
    assert_eq!(c.q("DISCARD"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 4"), queued());
    assert_eq!(c.q("EXEC"), arr(vec![ok()]));
    // A refused EXEC (wrong arity) discards the transaction and says why.
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 5"), queued());
    assert_eq!(
        c.q("EXEC x"),
        err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    );
    assert_eq!(c.q("EXEC"), err("ERR EXEC without MULTI"));
    assert_eq!(c.q("GET a"), bulk("4"));
}

#[test]
fn shutdown_is_refused_inside_multi() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 1"), queued());
    assert_eq!(
        c.q("SHUTDOWN NOSAVE"),
        err("ERR Command not allowed inside a transaction")
    );
    assert_eq!(c.q("EXEC"), err(EXECABORT));
    // The server is still up.
    assert_eq!(c.q("PING"), simple("PONG"));
    assert_eq!(c.q("EXISTS a"), int(0));
}

#[test]
fn runtime_errors_do_not_abort_the_rest() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(c.q("SET s notanumber"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET a 1"), queued());
    assert_eq!(c.q("INCR s"), queued());
    assert_eq!(c.q("RENAME nope x"), queued());
    assert_eq!(c.q("SET b 2 EX 0"), queued());
    assert_eq!(c.q("INCR a"), queued());
    assert_eq!(
        c.q("EXEC"),
        arr(vec![
            ok(),
            err("ERR value is not an integer or out of range"),
            err("ERR no such key"),
            err("ERR invalid expire time in 'set' command"),
            int(2),
        ])
    );
    assert_eq!(
        c.q("MGET a b s"),
        arr(vec![bulk("2"), nil(), bulk("notanumber")])
    );
}

#[test]
fn watch_conflict_from_another_connection() {
    let s = start();
    let mut c = s.raw();
    let mut other = s.raw();
    assert_eq!(c.q("SET k 1"), ok());
    assert_eq!(c.q("WATCH k"), ok());
    assert_eq!(other.q("SET k 2"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET k 3"), queued());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    assert_eq!(c.q("GET k"), bulk("2"));
    // EXEC unwatched everything: the next transaction runs.
    assert_eq!(other.q("SET k 4"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("SET k 5"), queued());
    assert_eq!(c.q("EXEC"), arr(vec![ok()]));

    // No conflict when the watched key is left alone.
    assert_eq!(c.q("WATCH k other"), ok());
    assert_eq!(other.q("SET unrelated 1"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("INCR k"), queued());
    assert_eq!(c.q("EXEC"), arr(vec![int(6)]));

    // Writing the same value, or the watcher's own write, still counts as a change.
    for (who, cmd) in [
        (1, "SET k 6"),
        (0, "SET k 7"),
        (1, "EXPIRE k 100"),
        (1, "DEL k"),
    ] {
        assert_eq!(c.q("WATCH k"), ok());
        let conn = if who == 0 { &mut c } else { &mut other };
        assert!(
            matches!(conn.q(cmd), Frame::Simple(_) | Frame::Integer(1)),
            "{cmd}"
        );
        assert_eq!(c.q("MULTI"), ok());
        assert_eq!(c.q("PING"), queued());
        assert_eq!(c.q("EXEC"), Frame::NullArray, "after {cmd}");
    }
    // A watched key that does not exist conflicts once created.
    assert_eq!(c.q("WATCH fresh"), ok());
    assert_eq!(other.q("SETNX fresh 1"), int(1));
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    // Commands that change nothing do not conflict.
    assert_eq!(c.q("WATCH absent fresh"), ok());
    assert_eq!(other.q("DEL absent"), int(0));
    assert_eq!(
        other.q("INCR fresh x"),
        err("ERR wrong number of arguments for 'incr' command")
    );
    assert_eq!(other.q("SETNX fresh 2"), int(0));
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
}

#[test]
fn watch_is_per_db_and_flush_aware() {
    let s = start();
    let mut c = s.raw();
    let mut other = s.raw();
    // The same name in another db is another key.
    assert_eq!(c.q("WATCH k"), ok());
    assert_eq!(other.q("SELECT 1"), ok());
    assert_eq!(other.q("SET k v"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    // A key watched in db 1 stays watched after the watcher selects another db.
    assert_eq!(c.q("SELECT 1"), ok());
    assert_eq!(c.q("WATCH k"), ok());
    assert_eq!(c.q("SELECT 0"), ok());
    assert_eq!(other.q("SET k w"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    // FLUSHDB/FLUSHALL conflict only for watched keys that existed.
    assert_eq!(c.q("SET here 1"), ok());
    assert_eq!(c.q("WATCH here"), ok());
    assert_eq!(other.q("FLUSHALL"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    assert_eq!(c.q("WATCH absent"), ok());
    assert_eq!(other.q("FLUSHALL"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    assert_eq!(c.q("SET here 1"), ok());
    assert_eq!(c.q("WATCH here"), ok());
    assert_eq!(other.q("FLUSHDB"), ok()); // other is in db 1
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    // SWAPDB conflicts when the key exists on either side.
    assert_eq!(c.q("WATCH k2"), ok());
    assert_eq!(other.q("SET k2 v"), ok()); // in db 1
    assert_eq!(other.q("SWAPDB 0 1"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    assert_eq!(c.q("WATCH nowhere"), ok());
    assert_eq!(other.q("SWAPDB 0 1"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
}

#[test]
fn unwatch_discard_and_expiry() {
    let s = start_with(|cfg| cfg.enable_debug_command = "yes".into());
    let mut c = s.raw();
    let mut other = s.raw();
    assert_eq!(c.q("WATCH k"), ok());
    assert_eq!(c.q("UNWATCH"), ok());
    assert_eq!(other.q("SET k 1"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    // DISCARD unwatches too.
    assert_eq!(c.q("WATCH k"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("DISCARD"), ok());
    assert_eq!(other.q("SET k 2"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
    assert_eq!(
        c.q("UNWATCH x"),
        err("ERR wrong number of arguments for 'unwatch' command")
    );
    assert_eq!(
        c.q("WATCH"),
        err("ERR wrong number of arguments for 'watch' command")
    );

    // A watched key that expires before EXEC conflicts, even if nothing reclaimed it yet.
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), ok());
    assert_eq!(c.q("SET t v PX 50"), ok());
    assert_eq!(c.q("WATCH t"), ok());
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), Frame::NullArray);
    // A key already expired when watched does not.
    assert_eq!(c.q("SET t v PX 1"), ok());
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.q("WATCH t"), ok());
    assert_eq!(c.q("MULTI"), ok());
    assert_eq!(c.q("EXEC"), arr(vec![]));
}

#[test]
fn watch_through_redis_crate() {
    let s = start();
    let mut con = s.conn();
    let mut other = s.conn();
    let _: () = redis::cmd("SET")
        .arg("counter")
        .arg(10)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("WATCH").arg("counter").query(&mut con).unwrap();
    let _: () = redis::cmd("INCR").arg("counter").query(&mut other).unwrap();
    let r: Option<(i64,)> = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("counter")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, None, "the transaction was aborted");
    let r: Option<(i64,)> = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("counter")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, Some((12,)));
}

#[test]
fn transactions_are_atomic_for_other_clients() {
    let s = start();
    let port = s.port();
    let writer = std::thread::spawn(move || {
        let mut c = Raw::connect(port);
        for _ in 0..200 {
            assert_eq!(c.q("MULTI"), ok());
            assert_eq!(c.q("INCR a"), queued());
            assert_eq!(c.q("INCR b"), queued());
            assert!(matches!(c.q("EXEC"), Frame::Array(_)));
        }
    });
    let mut r = s.raw();
    for _ in 0..200 {
        // a and b move together: never seen apart.
        let v = as_array(r.q("MGET a b"));
        assert_eq!(v[0], v[1]);
    }
    writer.join().unwrap();
    assert_eq!(r.q("MGET a b"), bulks(&["200", "200"]));
}

/// Commands whose reply the engine writes after running them (CONFIG REWRITE, ACL SAVE,
/// which touch files) answer in their own place inside EXEC; CONFIG REWRITE's reply used
/// to land after the transaction's last reply.
#[test]
fn replies_written_by_the_engine_keep_their_place_in_exec() {
    let s = start();
    let mut c = s.raw();
    let no_file = err("ERR The server is running without a config file");
    assert_eq!(c.q("MULTI"), ok());
    for cmd in [
        "CONFIG REWRITE",
        "SET a 1",
        "CONFIG REWRITE",
        "PING",
        "ACL SAVE",
        "INCR a",
    ] {
        assert_eq!(c.q(cmd), queued());
    }
    assert_eq!(
        c.q("EXEC"),
        arr(vec![
            no_file.clone(),
            ok(),
            no_file,
            simple("PONG"),
            err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."),
            int(2),
        ])
    );
    assert_eq!(c.q("PING"), simple("PONG"));
}
