//! Transaction records (`STRATA.TXN`) and the keys of a logged command.
//!
//! A MULTI/EXEC transaction is logged as one record whose arguments are
//! [`strata::engine::TXN_RECORD`] followed, per command, by its db, its argument count and
//! its arguments (see `src/engine/durability.rs`). The grammar is checked here with the
//! same rules the engine applies at replay (`strata::engine::apply_record`): db and count
//! are strict non-negative integers, the count is at least 1 and the arguments fit.

use bytes::Bytes;
use strata::engine::TXN_RECORD;
use strata::persistence::Record;
use strata::util::{glob_match, parse_i64_strict};

/// One command of a record: its database and arguments (name first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    pub db: u64,
    pub args: &'a [Bytes],
}

/// A record's commands: one for a plain record, the inner ones for a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commands<'a> {
    Single(Command<'a>),
    Txn(Vec<Command<'a>>),
}

impl<'a> Commands<'a> {
    pub fn iter(&self) -> Box<dyn Iterator<Item = &Command<'a>> + '_> {
        match self {
            Commands::Single(c) => Box::new(std::iter::once(c)),
            Commands::Txn(v) => Box::new(v.iter()),
        }
    }
}

/// Whether a record is a transaction record.
pub fn is_txn(rec: &Record) -> bool {
    rec.args.first().map(|a| a.as_ref()) == Some(TXN_RECORD)
}

/// Splits a record into its commands; `Err` describes a malformed transaction record.
pub fn commands(rec: &Record) -> Result<Commands<'_>, String> {
    if !is_txn(rec) {
        return Ok(Commands::Single(Command {
            db: u64::from(rec.db),
            args: &rec.args,
        }));
    }
    let a = &rec.args;
    let num = |b: &Bytes| parse_i64_strict(b).filter(|n| *n >= 0).map(|n| n as u64);
    let mut out = Vec::new();
    let mut i = 1;
    while i < a.len() {
        let db = num(&a[i]).ok_or_else(|| {
            format!(
                "transaction record: argument {i} should be a database index, found {:?}",
                String::from_utf8_lossy(&a[i])
            )
        })?;
        let argc = a.get(i + 1).and_then(num).ok_or_else(|| {
            format!(
                "transaction record: argument {} should be an argument count",
                i + 1
            )
        })?;
        let start = i + 2;
        let end = start.checked_add(argc as usize).filter(|e| *e <= a.len());
        let end = match end {
            Some(e) if argc > 0 => e,
            _ => {
                return Err(format!(
                "transaction record: command at argument {i} claims {argc} arguments, {} remain",
                a.len().saturating_sub(start)
            ))
            }
        };
        out.push(Command {
            db,
            args: &a[start..end],
        });
        i = end;
    }
    if out.is_empty() {
        return Err("transaction record holds no command".into());
    }
    Ok(Commands::Txn(out))
}

/// The key arguments of a command, from the server's command table (first key, last key,
/// step). Commands the table does not know are assumed to take their key first.
pub fn keys(args: &[Bytes]) -> Vec<&[u8]> {
    let Some(name) = args.first() else {
        return Vec::new();
    };
    let n = args.len() as i64;
    let (first, last, step) = match strata::command::lookup(name) {
        Some(spec) => (
            i64::from(spec.first_key),
            i64::from(spec.last_key),
            i64::from(spec.step),
        ),
        None => (1, 1, 1),
    };
    if first <= 0 || step <= 0 {
        return Vec::new();
    }
    let last = if last < 0 { n + last } else { last };
    let mut out = Vec::new();
    let mut i = first;
    while i <= last && i < n {
        out.push(args[i as usize].as_ref());
        i += step;
    }
    out
}

/// Commands without key arguments that still change every key.
pub fn affects_all_keys(args: &[Bytes]) -> bool {
    args.first().is_some_and(|n| {
        n.eq_ignore_ascii_case(b"FLUSHALL")
            || n.eq_ignore_ascii_case(b"FLUSHDB")
            || n.eq_ignore_ascii_case(b"SWAPDB")
    })
}

/// Whether a command touches a key matching `pattern` (or changes every key).
pub fn matches_key(args: &[Bytes], pattern: &[u8]) -> bool {
    affects_all_keys(args) || keys(args).iter().any(|k| glob_match(pattern, k, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(args: &[&str]) -> Record {
        Record {
            lsn: 1,
            db: 2,
            args: args.iter().map(|a| Bytes::from(a.to_string())).collect(),
            offset: 40,
            len: 0,
        }
    }

    #[test]
    fn plain_and_txn_records() {
        let r = rec(&["SET", "k", "v"]);
        assert_eq!(
            commands(&r).unwrap(),
            Commands::Single(Command {
                db: 2,
                args: &r.args[..]
            })
        );
        let t = rec(&[
            "STRATA.TXN",
            "0",
            "3",
            "SET",
            "a",
            "1",
            "5",
            "2",
            "DEL",
            "b",
        ]);
        let Commands::Txn(cs) = commands(&t).unwrap() else {
            panic!()
        };
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].db, 5);
        assert_eq!(cs[1].args, &t.args[8..10]);
        for bad in [
            &["STRATA.TXN"][..],
            &["STRATA.TXN", "x", "1", "PING"],
            &["STRATA.TXN", "0", "3", "SET", "a"],
            &["STRATA.TXN", "0", "0"],
            &["STRATA.TXN", "-1", "1", "PING"],
        ] {
            assert!(commands(&rec(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_positions_come_from_the_command_table() {
        let b = |v: &[&str]| {
            v.iter()
                .map(|a| Bytes::from(a.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&b(&["SET", "k", "v", "PXAT", "1"])), vec![&b"k"[..]]);
        assert_eq!(
            keys(&b(&["MSET", "a", "1", "b", "2"])),
            vec![&b"a"[..], &b"b"[..]]
        );
        assert_eq!(keys(&b(&["DEL", "a", "b", "c"])).len(), 3);
        assert_eq!(keys(&b(&["RENAME", "a", "b"])), vec![&b"a"[..], &b"b"[..]]);
        assert!(keys(&b(&["FLUSHALL"])).is_empty());
        assert!(matches_key(&b(&["FLUSHALL"]), b"user:*"));
        assert!(matches_key(
            &b(&["MSET", "x", "1", "user:1", "2"]),
            b"user:*"
        ));
        assert!(!matches_key(&b(&["MSET", "x", "user:1"]), b"user:*"));
    }
}
