//! `verify-aof check DIR [--json]`: the report of [`crate::scan`], as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};
use strata::persistence::StopReason;

use crate::base::BaseOutcome;
use crate::repair::{plan, Plan};
use crate::scan::{scan, DirReport, Verdict};

pub fn run(dir: &Path, as_json: bool) -> u8 {
    let report = match scan(dir) {
        Ok(r) => r,
        Err(e) => {
            if as_json {
                println!(
                    "{}",
                    json!({"dir": dir.display().to_string(), "verdict": "unreadable",
                           "exit_code": crate::exit::IO, "error": e.to_string()})
                );
            } else {
                eprintln!("verify-aof check: {e}");
            }
            return crate::exit::IO;
        }
    };
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&report)).unwrap_or_default()
        );
    } else {
        print!("{}", to_text(&report));
    }
    report.verdict().exit_code()
}

fn per_db(m: &BTreeMap<u64, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(db, n)| format!("db{db}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn lsn_range(first: u64, last: u64) -> String {
    if last == 0 {
        "none".into()
    } else {
        format!("{first}..{last}")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What `check` prints.
pub fn to_text(r: &DirReport) -> String {
    let mut o = String::new();
    let dir = r.dir.display();
    let _ = writeln!(o, "Strata data directory {dir}");
    match &r.manifest {
        Some(m) => {
            let _ = writeln!(
                o,
                "manifest  {}: valid (next-seq {}; {}; {})",
                strata::persistence::MANIFEST_NAME,
                m.next_seq,
                match &m.base {
                    Some(b) => format!("base {}", b.name),
                    None => "no base".into(),
                },
                plural(m.incrs.len() as u64, "log", "logs")
            );
        }
        None => {
            let _ = writeln!(
                o,
                "manifest  {}: not usable (see problems)",
                strata::persistence::MANIFEST_NAME
            );
        }
    }
    if let Some(b) = &r.base {
        let size = b
            .size
            .map_or("missing".to_string(), |s| format!("{s} bytes"));
        let what = match &b.outcome {
            BaseOutcome::Verified {
                keys_per_db,
                lsn,
                chunks,
                libraries,
            } => format!(
                "valid, {} keys ({}){} in {}, up to LSN {lsn}",
                keys_per_db.values().sum::<u64>(),
                per_db(keys_per_db),
                if *libraries > 0 {
                    format!(
                        " and {}",
                        plural(*libraries, "function library", "function libraries")
                    )
                } else {
                    String::new()
                },
                plural(*chunks, "chunk", "chunks")
            ),
            BaseOutcome::Missing => "missing".into(),
            BaseOutcome::Corrupt { detail, .. } => format!("corrupt: {detail}"),
            BaseOutcome::Unreadable { detail } => format!("unreadable: {detail}"),
        };
        let _ = writeln!(o, "base      {} ({size}): {what}", b.name);
    }
    for l in &r.logs {
        if !l.exists {
            let _ = writeln!(o, "log       {} (seq {}): missing", l.name, l.seq);
            continue;
        }
        let mut line = format!(
            "log       {} (seq {}{}): {}, LSN {}, {} bytes of records in a {}-byte file",
            l.name,
            l.seq,
            if l.last { ", last" } else { "" },
            plural(l.records, "record", "records"),
            lsn_range(l.first_lsn, l.last_lsn),
            l.bytes,
            l.size
        );
        if l.transactions > 0 {
            let _ = write!(
                line,
                ", {}",
                plural(l.transactions, "transaction", "transactions")
            );
        }
        match &l.stop {
            Some(StopReason::CleanEnd { .. }) | None => {}
            Some(_) => {
                let _ = write!(line, "; valid up to offset {}", l.valid_end);
                if l.after_bad_records > 0 || l.after_bad_unknown {
                    let _ = write!(
                        line,
                        ", {}{} after it",
                        plural(l.after_bad_records, "complete record", "complete records"),
                        if l.after_bad_unknown {
                            " (or more)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        let _ = writeln!(o, "{line}");
    }
    if !r.stray.is_empty() {
        let _ = writeln!(
            o,
            "other     not part of the data set (ignored by the server): {}",
            r.stray.join(" ")
        );
    }
    for n in &r.notes {
        let _ = writeln!(o, "note      {n}");
    }
    let _ = writeln!(
        o,
        "summary   {}, {}, {} ({}), LSN {}",
        plural(r.logs.len() as u64, "log file", "log files"),
        if r.base.is_some() {
            "1 base"
        } else {
            "no base"
        },
        plural(r.records(), "record", "records"),
        plural(r.transactions(), "transaction", "transactions"),
        lsn_range(r.first_lsn(), r.last_lsn())
    );
    if let Some(BaseOutcome::Verified { keys_per_db, .. }) = r.base.as_ref().map(|b| &b.outcome) {
        let _ = writeln!(
            o,
            "          keys per db in the base: {}",
            per_db(keys_per_db)
        );
    }
    let _ = writeln!(
        o,
        "          records per db: {}",
        per_db(&r.records_per_db())
    );
    let _ = writeln!(
        o,
        "          commands per db (transactions expanded): {}",
        per_db(&r.commands_per_db())
    );
    if r.problems.is_empty() {
        let _ = writeln!(o, "problems  none");
    } else {
        let _ = writeln!(o, "problems  {}", r.problems.len());
        for p in &r.problems {
            let mut at = p.file.clone();
            if let Some(off) = p.offset {
                let _ = write!(at, " offset {off}");
            }
            if let Some(i) = p.record {
                let _ = write!(at, " record #{i}");
            }
            let _ = writeln!(o, "  [{}] {at}: {}", p.kind.name(), p.detail);
        }
    }
    let verdict = r.verdict();
    let code = verdict.exit_code();
    let hint = match (verdict, plan(r)) {
        (Verdict::Intact, _) => "nothing to do".to_string(),
        (Verdict::TornTail, _) => format!(
            "`verify-aof repair {dir}` truncates it (keeping a backup of the cut bytes) and \
             loses no complete record; the server also does this at startup with \
             aof-load-truncated yes"
        ),
        (Verdict::Corrupt, Plan::Cut(c)) => format!(
            "the server refuses to start. `verify-aof repair {dir} --truncate-to-last-good` \
             would cut {} at offset {}{} and lose {}{} — restoring the damaged file from a \
             backup loses nothing",
            c.name,
            c.offset,
            if c.drop.is_empty() {
                String::new()
            } else {
                format!(", drop {} from the manifest", c.drop.join(" "))
            },
            plural(c.lost_records, "complete record", "complete records"),
            if c.lost_unknown { " (or more)" } else { "" }
        ),
        (Verdict::Corrupt, Plan::Refuse(why)) => {
            format!("the server refuses to start; repair cannot fix this: {why}")
        }
        (Verdict::Corrupt, Plan::Nothing) => "the server refuses to start".to_string(),
    };
    let _ = writeln!(o, "verdict   {} (exit {code}): {hint}", verdict.name());
    o
}

fn stop_json(s: &Option<StopReason>) -> Value {
    match s {
        None => Value::Null,
        Some(StopReason::CleanEnd { offset }) => json!({"kind": "clean-end", "offset": offset}),
        Some(StopReason::TornTail {
            offset,
            record_index,
            problem,
            torn_bytes,
        }) => json!({"kind": "torn-tail", "offset": offset, "record": record_index,
                     "problem": problem.to_string(), "torn_bytes": torn_bytes}),
        Some(StopReason::Corrupt {
            offset,
            record_index,
            problem,
            next_valid_offset,
        }) => json!({"kind": "corrupt", "offset": offset, "record": record_index,
                     "problem": problem.to_string(), "next_valid_offset": next_valid_offset}),
        Some(StopReason::BadHeader { problem }) => {
            json!({"kind": "bad-header", "problem": problem.to_string()})
        }
    }
}

fn db_map(m: &BTreeMap<u64, u64>) -> Value {
    Value::Object(m.iter().map(|(db, n)| (db.to_string(), json!(n))).collect())
}

/// What `check --json` prints.
pub fn to_json(r: &DirReport) -> Value {
    let verdict = r.verdict();
    let manifest = r.manifest.as_ref().map(|m| {
        json!({
            "next_seq": m.next_seq,
            "base": m.base.as_ref().map(|b| json!({"name": b.name, "seq": b.seq})),
            "incrs": m.incrs.iter().map(|e| json!({"name": e.name, "seq": e.seq})).collect::<Vec<_>>(),
        })
    });
    let base = r.base.as_ref().map(|b| {
        let (status, extra) = match &b.outcome {
            BaseOutcome::Verified {
                keys_per_db,
                lsn,
                chunks,
                libraries,
            } => (
                "valid",
                json!({"keys_per_db": db_map(keys_per_db),
                       "keys": keys_per_db.values().sum::<u64>(),
                       "lsn": lsn, "chunks": chunks, "libraries": libraries}),
            ),
            BaseOutcome::Missing => ("missing", json!({})),
            BaseOutcome::Corrupt { offset, detail } => {
                ("corrupt", json!({"offset": offset, "detail": detail}))
            }
            BaseOutcome::Unreadable { detail } => ("unreadable", json!({"detail": detail})),
        };
        json!({"name": b.name, "size": b.size, "status": status, "details": extra})
    });
    let logs: Vec<Value> = r
        .logs
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "seq": l.seq,
                "last": l.last,
                "exists": l.exists,
                "size": l.size,
                "header": l.header.map(|h| json!({"version": h.version, "file_seq": h.file_seq, "start_lsn": h.start_lsn})),
                "records": l.records,
                "record_bytes": l.bytes,
                "first_lsn": (l.first_lsn > 0).then_some(l.first_lsn),
                "last_lsn": (l.last_lsn > 0).then_some(l.last_lsn),
                "transactions": l.transactions,
                "records_per_db": db_map(&l.records_per_db),
                "commands_per_db": db_map(&l.commands_per_db),
                "valid_end": l.valid_end,
                "stop": stop_json(&l.stop),
                "records_after_problem": l.after_bad_records,
                "records_after_problem_may_be_more": l.after_bad_unknown,
            })
        })
        .collect();
    let problems: Vec<Value> = r
        .problems
        .iter()
        .map(|p| {
            json!({
                "kind": p.kind.name(),
                "file": p.file,
                "offset": p.offset,
                "record": p.record,
                "detail": p.detail,
            })
        })
        .collect();
    let repair = match plan(r) {
        Plan::Nothing => json!({"action": "none"}),
        Plan::Refuse(why) => json!({"action": "refuse", "reason": why}),
        Plan::Cut(c) => json!({
            "action": if c.torn_only { "truncate-torn-tail" } else { "truncate-to-last-good" },
            "needs_truncate_to_last_good": !c.torn_only,
            "file": c.name,
            "offset": c.offset,
            "drop": c.drop,
            "lost_records": c.lost_records,
            "lost_records_may_be_more": c.lost_unknown,
        }),
    };
    let first = r.first_lsn();
    let last = r.last_lsn();
    json!({
        "dir": r.dir.display().to_string(),
        "verdict": verdict.name(),
        "exit_code": verdict.exit_code(),
        "manifest": manifest,
        "base": base,
        "logs": logs,
        "summary": {
            "log_files": r.logs.len(),
            "base": r.base.is_some(),
            "records": r.records(),
            "transactions": r.transactions(),
            "first_lsn": (last > 0).then_some(first),
            "last_lsn": (last > 0).then_some(last),
            "records_per_db": db_map(&r.records_per_db()),
            "commands_per_db": db_map(&r.commands_per_db()),
            "keys_per_db": r.base.as_ref().and_then(|b| match &b.outcome {
                BaseOutcome::Verified { keys_per_db, .. } => Some(db_map(keys_per_db)),
                _ => None,
            }),
        },
        "problems": problems,
        "repair": repair,
        "stray_files": r.stray,
        "notes": r.notes,
    })
}
