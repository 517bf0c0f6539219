//! Key specs, as Redis 7.0 describes each command's keys: where they are in the arguments
//! (a begin search, then a find-keys step) and how the command uses them (read, write,
//! insert, delete...). The data is Redis's (`keyspecs_data.rs`, generated); this module
//! finds a command line's keys with their flags the way Redis does
//! (`getKeysFromCommandWithSpecs`), for COMMAND GETKEYSANDFLAGS and the ACL's read-only
//! and write-only key patterns, and writes the specs in COMMAND INFO.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::table::Spec;
use crate::protocol::ReplyBuf;

/// Key spec flags, in the order COMMAND INFO lists them.
pub mod flags {
    pub const F_RO: u16 = 1;
    pub const F_RW: u16 = 1 << 1;
    pub const F_OW: u16 = 1 << 2;
    pub const F_RM: u16 = 1 << 3;
    pub const F_ACCESS: u16 = 1 << 4;
    pub const F_UPDATE: u16 = 1 << 5;
    pub const F_INSERT: u16 = 1 << 6;
    pub const F_DELETE: u16 = 1 << 7;
    pub const F_NOT_KEY: u16 = 1 << 8;
    pub const F_INCOMPLETE: u16 = 1 << 9;
    pub const F_VARIABLE_FLAGS: u16 = 1 << 10;
    pub const NAMES: [&str; 11] = [
        "RO",
        "RW",
        "OW",
        "RM",
        "access",
        "update",
        "insert",
        "delete",
        "not_key",
        "incomplete",
        "variable_flags",
    ];
}
use flags::*;

/// Where a spec's keys start.
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
    Unknown,
}

/// How many keys follow the start.
#[derive(Debug, Clone, Copy)]
pub enum Find {
    /// Up to `lastkey` past the start (negative: from the end; with `limit`, the keys
    /// take 1/limit of the rest), every `keystep` arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument `keynumidx` past the start counts the keys, which begin `firstkey`
    /// past the start, every `keystep` arguments.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: u16,
    pub begin: Begin,
    pub find: Find,
}

/// A command's (or subcommand's) tips and key specs.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub tips: &'static [&'static str],
    pub specs: &'static [KeySpec],
}

/// The tips and key specs of `name` (`container|sub` for a subcommand); none for a
/// command without keys or tips.
pub fn meta(name: &str) -> Meta {
    static INDEX: OnceLock<HashMap<&'static str, Meta>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        super::keyspecs_data::SPECS
            .iter()
            .map(|(n, tips, specs)| (*n, Meta { tips, specs }))
            .collect()
    });
    index.get(name).copied().unwrap_or(Meta {
        tips: &[],
        specs: &[],
    })
}

/// What Redis 7.0's COMMAND INFO says of a subcommand besides its categories.
#[derive(Debug, Clone, Copy)]
pub struct SubcommandMeta {
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

/// The subcommand `full` (`config|get`), if Redis 7.0 has it.
pub fn subcommand(full: &str) -> Option<SubcommandMeta> {
    let subs = super::keyspecs_data::SUBCOMMANDS;
    let i = subs.binary_search_by(|(n, ..)| (*n).cmp(full)).ok()?;
    let (_, arity, flags, first, last, step) = subs[i];
    Some(SubcommandMeta {
        arity,
        flags,
        first,
        last,
        step,
    })
}

/// A command line's arguments that are not counts of keys that follow (GETKEYS refuses
/// the line, as Redis does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKeys;

/// The keys of `args` (the whole command line) with their flags, as Redis 7.0 finds them
/// (`getKeysFromCommandWithSpecs`): from the key specs, or, for the commands whose specs
/// cannot say (SET and BITFIELD's flags depend on their options, SORT's STORE can be
/// anywhere), from the arguments as Redis's own key functions read them.
pub fn keys_with_flags(spec: &Spec, args: &[Bytes]) -> Result<Vec<(usize, u16)>, InvalidKeys> {
    // `name`, or `name|sub` for a subcommand (whose key specs are its own).
    let name = super::acl::full_name(spec, args);
    match name {
        "set" => return Ok(vec![(1, set_flags(args))]),
        "bitfield" => return Ok(vec![(1, bitfield_flags(args))]),
        "sort" | "sort_ro" => return Ok(sort_keys(args, name == "sort_ro")),
        _ => {}
    }
    from_specs(meta(name).specs, args)
}

/// Redis's `getKeysUsingKeySpecs`.
fn from_specs(specs: &[KeySpec], args: &[Bytes]) -> Result<Vec<(usize, u16)>, InvalidKeys> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for s in specs {
        if s.flags & F_NOT_KEY != 0 {
            continue;
        }
        let first = match s.begin {
            Begin::Index(i) => i as i64,
            Begin::Keyword(word, startfrom) => {
                let from = startfrom as i64;
                let (start, end) = if from > 0 {
                    (from, argc - 1)
                } else {
                    (argc + from, 1)
                };
                // (Redis stops before `end`: a keyword there would have no key after it,
                // or be the command's first argument.)
                let mut found = 0;
                let mut i = start;
                while i != end && (1..argc).contains(&i) {
                    if args[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            Begin::Unknown => continue,
        };
        let (first, last, step) = match s.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey as i64
                } else if limit == 0 {
                    argc + lastkey as i64
                } else {
                    first + (argc - first) / limit as i64 + lastkey as i64
                };
                (first, last, keystep as i64)
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx as i64;
                let n = args
                    .get(at as usize)
                    .filter(|_| at < argc)
                    .and_then(|a| crate::util::parse_i64_strict(a))
                    .filter(|n| *n >= 0)
                    .ok_or(InvalidKeys)?;
                let first = first + firstkey as i64;
                (first, first + n - 1, keystep as i64)
            }
            Find::Unknown => continue,
        };
        // Out of the line, or no key at all (`numkeys` 0): the command will refuse it.
        if last >= argc || last < first || first >= argc {
            return Err(InvalidKeys);
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, s.flags));
            i += step.max(1);
        }
    }
    Ok(keys)
}

/// Whether `args` runs a command that takes keys (Redis's `doesCommandHaveKeys`).
pub fn has_keys(spec: &Spec, args: &[Bytes]) -> bool {
    meta(super::acl::full_name(spec, args))
        .specs
        .iter()
        .any(|k| k.flags & F_NOT_KEY == 0)
}

/// SET overwrites its key unless GET asks for the old value (Redis's `setGetKeys`).
fn set_flags(args: &[Bytes]) -> u16 {
    if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
        F_RW | F_ACCESS | F_UPDATE
    } else {
        F_OW | F_UPDATE
    }
}

/// BITFIELD only reads when every operation is a GET (Redis's `bitfieldGetKeys`; a line
/// it cannot read counts as a write).
fn bitfield_flags(args: &[Bytes]) -> u16 {
    let mut i = 2;
    while i < args.len() {
        let rest = args.len() - i - 1;
        let op = args[i].to_ascii_lowercase();
        match op.as_slice() {
            b"get" if rest >= 2 => i += 3,
            b"overflow" if rest >= 1 => i += 2,
            _ => return F_RW | F_ACCESS | F_UPDATE,
        }
    }
    F_RO | F_ACCESS
}

/// SORT's key, and the last STORE destination (Redis's `sortGetKeys`: LIMIT, GET and BY
/// take arguments that are skipped; BY/GET patterns name keys only through the data).
pub(crate) fn sort_keys(args: &[Bytes], read_only: bool) -> Vec<(usize, u16)> {
    let mut keys = vec![(1, F_RO | F_ACCESS)];
    if read_only {
        return keys;
    }
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args[i].to_ascii_lowercase();
        match opt.as_slice() {
            b"limit" => i += 2,
            b"get" | b"by" => i += 1,
            b"store" if i + 1 < args.len() => store = Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    keys.extend(store.map(|at| (at, F_OW | F_UPDATE)));
    keys
}

/// The flag names of `bits`, in COMMAND INFO's order.
pub fn flag_names(bits: u16) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
}

/// COMMAND INFO's tips and key specs of `name`, as Redis 7.0 writes them.
pub fn write_info(out: &mut ReplyBuf, name: &str) {
    let m = meta(name);
    out.set_len(m.tips.len());
    for t in m.tips {
        out.bulk(t.as_bytes());
    }
    out.set_len(m.specs.len());
    for s in m.specs {
        let notes = !s.notes.is_empty();
        out.map_len(3 + notes as usize);
        if notes {
            out.bulk(b"notes");
            out.bulk(s.notes.as_bytes());
        }
        out.bulk(b"flags");
        let names: Vec<&str> = flag_names(s.flags).collect();
        out.set_len(names.len());
        for n in names {
            out.simple(n);
        }
        out.bulk(b"begin_search");
        match s.begin {
            Begin::Index(i) => search(out, "index", &[("index", Field::Int(i))]),
            Begin::Keyword(word, startfrom) => search(
                out,
                "keyword",
                &[
                    ("keyword", Field::Text(word)),
                    ("startfrom", Field::Int(startfrom)),
                ],
            ),
            Begin::Unknown => search(out, "unknown", &[]),
        }
        out.bulk(b"find_keys");
        match s.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => search(
                out,
                "range",
                &[
                    ("lastkey", Field::Int(lastkey)),
                    ("keystep", Field::Int(keystep)),
                    ("limit", Field::Int(limit)),
                ],
            ),
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => search(
                out,
                "keynum",
                &[
                    ("keynumidx", Field::Int(keynumidx)),
                    ("firstkey", Field::Int(firstkey)),
                    ("keystep", Field::Int(keystep)),
                ],
            ),
            Find::Unknown => search(out, "unknown", &[]),
        }
    }
}

enum Field {
    Int(i32),
    Text(&'static str),
}

/// One search of a key spec: `{type: kind, spec: {field: value...}}`.
fn search(out: &mut ReplyBuf, kind: &str, fields: &[(&str, Field)]) {
    out.map_len(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map_len(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        match value {
            Field::Int(n) => out.int(*n as i64),
            Field::Text(t) => out.bulk(t.as_bytes()),
        }
    }
}
