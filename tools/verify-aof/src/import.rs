//! `import-rdb`: a Redis RDB file (`dump.rdb`) as a stream of RESTORE commands, for
//! `redis-cli --pipe` into a running strata-server.
//!
//! The whole file is read and checked first (every value decoded with the checks RESTORE
//! applies, the file's CRC-64 at its end): a damaged file prints nothing on stdout, so a
//! pipe never imports half a dataset. Then every key becomes
//! `RESTORE key <expiry ms or 0> <payload> REPLACE ABSTTL` (a `SELECT` before each change
//! of database): the server logs each one like any write, so the import is durable under
//! the server's appendfsync policy. A key whose expiry has passed is restored as nothing,
//! as Redis skips it when loading. Function libraries become `FUNCTION LOAD REPLACE`,
//! printed before the keys.

use std::io::Write;
use std::path::Path;

use strata::keyspace::dump::{self, RdbError, RdbItem, RdbReader};

use crate::exit;

/// What a file holds, counted by the checking pass.
#[derive(Default)]
struct Counts {
    keys: u64,
    dbs: std::collections::BTreeSet<u64>,
    functions: u64,
    with_expiry: u64,
}

pub fn run(file: &Path) -> u8 {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("verify-aof import-rdb: cannot read {}: {e}", file.display());
            return exit::IO;
        }
    };
    let counts = match scan(&bytes, |_| Ok(())) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "verify-aof import-rdb: {}: {e}; nothing was printed",
                file.display()
            );
            return exit::CORRUPT;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut db = 0;
    let written = scan(&bytes, |item| {
        match item {
            RdbItem::Db(n) => {
                if *n != db {
                    db = *n;
                    resp(&mut out, &[b"SELECT", n.to_string().as_bytes()])?;
                }
            }
            RdbItem::Key {
                key,
                value,
                expire_ms,
            } => {
                let ttl = expire_ms.unwrap_or(0).to_string();
                let payload = dump::encode(value);
                resp(
                    &mut out,
                    &[
                        b"RESTORE",
                        key,
                        ttl.as_bytes(),
                        &payload,
                        b"REPLACE",
                        b"ABSTTL",
                    ],
                )?;
            }
            RdbItem::Function(code) => resp(&mut out, &[b"FUNCTION", b"LOAD", b"REPLACE", code])?,
        }
        Ok(())
    });
    let flushed = match written {
        Ok(_) => out.flush().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = flushed {
        eprintln!("verify-aof import-rdb: writing the commands failed: {e}");
        return exit::IO;
    }
    let dbs: Vec<String> = counts.dbs.iter().map(|d| d.to_string()).collect();
    eprintln!(
        "verify-aof import-rdb: {} keys ({} with an expiry) in db {} of {} ({} bytes) as RESTORE commands",
        counts.keys,
        counts.with_expiry,
        if dbs.is_empty() { "-".to_string() } else { dbs.join(",") },
        file.display(),
        bytes.len()
    );
    if counts.functions > 0 {
        eprintln!(
            "verify-aof import-rdb: {} function librar{} as FUNCTION LOAD REPLACE",
            counts.functions,
            if counts.functions == 1 { "y" } else { "ies" }
        );
    }
    exit::OK
}

/// Every item of `bytes` through `f`, counting what they hold.
fn scan(
    bytes: &[u8],
    mut f: impl FnMut(&RdbItem) -> std::io::Result<()>,
) -> Result<Counts, ScanError> {
    let mut r = RdbReader::new(bytes)?;
    let mut c = Counts::default();
    let mut db = 0;
    while let Some(item) = r.next_item()? {
        match &item {
            RdbItem::Db(n) => db = *n,
            RdbItem::Key { expire_ms, .. } => {
                c.keys += 1;
                c.dbs.insert(db);
                c.with_expiry += u64::from(expire_ms.is_some());
            }
            RdbItem::Function(_) => c.functions += 1,
        }
        f(&item)?;
    }
    Ok(c)
}

#[derive(Debug)]
enum ScanError {
    Rdb(RdbError),
    Io(std::io::Error),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Rdb(e) => e.fmt(f),
            ScanError::Io(e) => e.fmt(f),
        }
    }
}

impl From<RdbError> for ScanError {
    fn from(e: RdbError) -> Self {
        ScanError::Rdb(e)
    }
}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// One command as a RESP array of bulk strings.
fn resp(out: &mut impl Write, args: &[&[u8]]) -> std::io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for a in args {
        write!(out, "${}\r\n", a.len())?;
        out.write_all(a)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}
