//! `verify-aof`: check, repair, dump and drill a Strata data directory.
//!
//! Everything that reads Strata's files goes through the `strata` library's public readers
//! (`Manifest`, `LogReader`, the record decoder); this tool has no parser of its own, so
//! it cannot drift from what the server accepts.
//!
//! | subcommand | what it does | exit codes |
//! | --- | --- | --- |
//! | `check` | validates manifest, base snapshot and every log record, read-only | 0 intact, 1 torn tail in the last log (repairable), 2 corruption, 3 cannot read |
//! | `repair` | truncates a torn tail of the last log (backup kept); with `--truncate-to-last-good` also cuts at a corruption | 0 repaired / nothing to do, 2 refused, 3 I/O error, 4 not confirmed |
//! | `dump` | prints records as redis-cli commands with file, offset, LSN, db | 0 printed, 3 cannot read |
//! | `drill` | kill -9 (or power-loss) drills against `strata-server` with a ledger of acknowledged writes | 0 every round passed, 1 a round broke the contract, 3 setup error |
//! | `import-rdb` | a Redis `dump.rdb` as RESTORE commands for `redis-cli --pipe` | 0 printed, 2 damaged file (nothing printed), 3 cannot read or write |
//!
//! Command-line usage errors exit with 64 (so they never look like "corruption").

mod base;
mod check;
mod drill;
mod dump;
mod import;
mod repair;
mod rofs;
mod scan;
mod txn;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes shared by the subcommands.
pub mod exit {
    /// Intact / success.
    pub const OK: u8 = 0;
    /// `check`: a torn tail in the last log, which `repair` fixes without losing a
    /// complete record. `drill`: at least one round broke the durability contract.
    pub const TORN_OR_FAILED: u8 = 1;
    /// `check`: corruption (or a problem `repair` cannot fix safely). `repair`: refused.
    pub const CORRUPT: u8 = 2;
    /// The directory (or server binary, or a file) could not be read or written.
    pub const IO: u8 = 3;
    /// `repair`: the operator did not confirm.
    pub const NOT_CONFIRMED: u8 = 4;
    /// Bad command line.
    pub const USAGE: u8 = 64;
}

const AFTER_HELP: &str = "\
Exit codes:
  check   0 intact, 1 torn tail in the last log (repairable), 2 corruption, 3 cannot read
  repair  0 repaired or nothing to do, 2 refused (corruption without --truncate-to-last-good,
          or damage repair cannot fix), 3 I/O error, 4 not confirmed
  dump    0 printed (problems are printed as `# !!` comments), 3 cannot read
  drill   0 every round passed, 1 a round broke the durability contract, 3 setup error
  import-rdb  0 printed, 2 damaged RDB file (nothing printed), 3 cannot read or write
  any     64 bad command line

Examples:
  verify-aof check /var/lib/strata
  verify-aof check /var/lib/strata --json | jq .verdict
  verify-aof repair /var/lib/strata
  verify-aof dump /var/lib/strata --key 'user:*' | less
  verify-aof drill --rounds 20 --policy all --plot docs/drill.svg
  verify-aof import-rdb /var/lib/redis/dump.rdb | redis-cli -p 6379 --pipe";

#[derive(Parser, Debug)]
#[command(
    name = "verify-aof",
    version,
    about = "Check, repair, dump and drill a Strata data directory (manifest, base snapshot, append-only logs)",
    long_about = "Check, repair, dump and drill a Strata data directory.\n\n\
        A data directory holds strata.manifest (the live set), at most one base snapshot \
        (strata.N.base) and incremental logs (strata.N.incr). verify-aof reads them with the \
        same library code the server uses, so what it calls valid is exactly what the server \
        replays.",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate the manifest, the base snapshot and every log record (read-only).
    #[command(
        long_about = "Validate a data directory without modifying anything (every file is opened \
            read-only): the manifest (checksum, grammar, sequence numbers), the base snapshot \
            if the manifest names one, and every log file record by record (header, framing, \
            CRC, payload structure, LSN order within and across files, transaction records).\n\n\
            Prints a summary (files, records, records per db, first/last LSN) and every \
            problem with its file, byte offset, record number and kind: torn-tail, \
            torn-tail-not-last, checksum-mismatch, bad-record, lsn-order, bad-header, \
            wrong-file, missing-file, missing-manifest, corrupt-manifest, corrupt-snapshot, \
            bad-transaction.\n\n\
            On a directory a server is writing to, the last log may show a torn tail that \
            is only a write in progress: check a stopped server's directory.",
        after_help = "Exit codes: 0 intact, 1 torn tail in the last log only (run `verify-aof repair`), \
            2 corruption, 3 the directory cannot be read, 64 bad command line."
    )]
    Check(CheckArgs),
    /// Truncate a torn tail of the last log (keeping a backup of the cut bytes).
    #[command(
        long_about = "Repair a data directory after a crash.\n\n\
            A torn tail (the remains of a write interrupted by a crash, with nothing valid \
            after it) is cut off the last log: no complete record is lost. The cut bytes are \
            saved first to DIR/<log>.torn-<unix time>, then the log is truncated and fsynced.\n\n\
            Corruption in the middle of a log (a bad record followed by valid ones), a torn \
            tail in a log that is not the last one, and a missing log file are refused unless \
            --truncate-to-last-good is given: then everything from the first problem on is \
            cut (saved to a .torn-<time> backup) and later logs are removed from the manifest \
            (renamed to <name>.dropped-<time>, not deleted). The number of complete records \
            that would be lost is printed before anything is done, and in the refusal.\n\n\
            Damage repair cannot fix without guessing (a bad manifest, a bad log header, a \
            damaged base snapshot) is refused: restore those files from a backup.\n\n\
            Asks for confirmation on stdin unless --yes. Stop the server first: repair \
            truncates the file the server appends to.",
        after_help = "Exit codes: 0 repaired or nothing to repair, 2 refused, 3 I/O error, \
            4 not confirmed, 64 bad command line."
    )]
    Repair(RepairArgs),
    /// Print log records as redis-cli commands, with file, offset, LSN and db.
    #[command(
        long_about = "Print the records of the live logs (or one file) as redis-cli commands. \
            Each record is preceded by a comment line `# FILE @OFFSET lsn=N db=D`; SELECT lines \
            are inserted when the database changes and transactions are expanded as MULTI ... \
            EXEC, so `verify-aof dump DIR | grep -v '^#' | redis-cli` replays the log into a \
            server. Damage is reported as `# !!` comment lines; after a corrupt record the dump \
            resumes at the next valid record.",
        after_help = "Exit codes: 0 printed, 3 cannot read, 64 bad command line."
    )]
    Dump(DumpArgs),
    /// Crash drills: SIGKILL (or simulated power loss) under load, then verify every
    /// acknowledged write.
    #[command(
        long_about = "Durability drills against strata-server.\n\n\
            Each round starts strata-server on a temporary directory and a free port, drives \
            writes from --clients concurrent clients keeping a ledger of every acknowledged \
            write (values carry the client and a sequence number, so loss, holes and \
            reordering are visible), kills the server with SIGKILL at a random moment, runs \
            `check` on the directory, restarts the server and verifies: nothing appears that \
            was never written; per client the recovered state is exactly a prefix of its \
            writes (no holes, no reordering, transactions all-or-nothing); per key the value \
            is the last acknowledged one or a later attempted one. A process crash keeps \
            everything written to the OS, so under SIGKILL no policy may lose an \
            acknowledged write.\n\n\
            --power-loss simulates losing what was not fsynced. Killing a process cannot \
            drop the page cache, and the server does not publish its fsynced length, so this \
            mode runs the same workload against the strata engine in-process (Engine::open_with) \
            on a recording file layer over the real disk: real writes, real fdatasync, and a \
            note of what each fdatasync made durable. At a random instant the power is cut \
            (every later I/O fails); the image a power loss leaves (fsynced bytes, plus a torn \
            remainder of the unsynced bytes: dropped, a prefix, zero-filled or garbage; files \
            whose creation no directory fsync covered disappear) is written to a new directory \
            and the real strata-server is restarted on it. Under always no acknowledged write \
            may be lost; under everysec lost writes must be younger than 2000 ms; under no the \
            loss is reported only.",
        after_help = "Exit codes: 0 every round passed, 1 a round broke the durability contract, \
            3 setup error (server not found, cannot start), 64 bad command line."
    )]
    Drill(DrillArgs),
    /// Print a Redis RDB file (dump.rdb) as RESTORE commands, for `redis-cli --pipe`.
    #[command(
        long_about = "Bring a Redis dataset over: read a Redis RDB file (Redis 2.8 to 7.0, \
            RDB versions up to 10) and print every key as `RESTORE key <expiry> <payload> \
            REPLACE ABSTTL` in RESP, with SELECT before each change of database, for \
            `redis-cli --pipe` into a running strata-server, which logs each key like any \
            write.\n\n\
            The whole file is checked before anything is printed (every value as RESTORE \
            checks it, and the file's CRC-64), so a damaged file imports nothing. Keys whose \
            expiry has passed are restored as nothing, as Redis skips them when loading. \
            Function libraries are left out (reported on stderr); module data is \
            refused.",
        after_help = "Exit codes: 0 printed, 2 damaged or unsupported RDB file (nothing printed), \
            3 cannot read the file or write the output, 64 bad command line.\n\n\
            Example:\n  verify-aof import-rdb /var/lib/redis/dump.rdb | redis-cli -p 6379 --pipe"
    )]
    ImportRdb(ImportArgs),
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// The Redis RDB file.
    file: PathBuf,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The data directory (holding strata.manifest).
    dir: PathBuf,
    /// Print the report as JSON (one object) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RepairArgs {
    /// The data directory (holding strata.manifest).
    dir: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Also cut at corruption in the middle of a log (losing every record after it), a
    /// torn tail of a log that is not the last, or a missing log file.
    #[arg(long)]
    truncate_to_last_good: bool,
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// The data directory (holding strata.manifest).
    dir: PathBuf,
    /// Only records touching a key matching this glob (Redis rules: * ? [a-z] \x).
    /// FLUSHALL, FLUSHDB and SWAPDB, which affect every key, are always shown.
    #[arg(long, value_name = "PATTERN")]
    key: Option<String>,
    /// Only records whose frame starts at or after this byte offset (in each file).
    #[arg(long, value_name = "OFFSET")]
    from: Option<u64>,
    /// Only records whose frame starts before this byte offset (in each file).
    #[arg(long, value_name = "OFFSET")]
    to: Option<u64>,
    /// Dump only this log file (a name inside DIR, e.g. strata.3.incr), even one the
    /// manifest does not name.
    #[arg(long, value_name = "NAME")]
    file: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PolicyArg {
    Always,
    Everysec,
    No,
    All,
    /// everysec, every write followed by WAITAOF 1 0 0
    EverysecWaitaof,
    /// no, every write followed by WAITAOF 1 0 0
    NoWaitaof,
    /// both WAITAOF variants
    Waitaof,
}

#[derive(Args, Debug)]
struct DrillArgs {
    /// strata-server binary (default: next to this binary, e.g. target/release).
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
    /// Rounds per policy.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// appendfsync policy to drill, or all three.
    #[arg(long, value_enum, default_value_t = PolicyArg::All)]
    policy: PolicyArg,
    /// Concurrent writing clients.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=512))]
    clients: u32,
    /// Simulate a power loss (lose what was not fsynced) instead of a process kill; see
    /// the long help (--help) for how.
    #[arg(long)]
    power_loss: bool,
    /// Write an SVG plot of throughput vs acknowledged writes lost, per policy.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
    /// Length of a round: the crash comes at a random moment between 30% and 100% of it.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    seconds_per_round: f64,
    /// Seed of the random crash moments and torn tails (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if matches!(cli.cmd, Cmd::Check(_) | Cmd::Dump(_) | Cmd::ImportRdb(_)) {
        // Read-only commands whose output is often piped (`| head`): end quietly, as any
        // Unix filter does, when the reader goes away. (Not for repair, which must finish
        // what it started, nor for drill, which writes to sockets of killed servers.)
        // SAFETY: setting a signal disposition to SIG_DFL before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match cli.cmd {
        Cmd::Check(a) => check::run(&a.dir, a.json),
        Cmd::Repair(a) => repair::run(&a.dir, a.yes, a.truncate_to_last_good),
        Cmd::ImportRdb(a) => import::run(&a.file),
        Cmd::Dump(a) => dump::run(&dump::Options {
            dir: a.dir,
            key: a.key,
            from: a.from,
            to: a.to,
            file: a.file,
        }),
        Cmd::Drill(a) => {
            if !(a.seconds_per_round > 0.0 && a.seconds_per_round <= 3600.0) {
                eprintln!("verify-aof drill: --seconds-per-round must be in (0, 3600]");
                return ExitCode::from(exit::USAGE);
            }
            let policies = match a.policy {
                PolicyArg::Always => vec![drill::Policy::Always],
                PolicyArg::Everysec => vec![drill::Policy::Everysec],
                PolicyArg::No => vec![drill::Policy::No],
                PolicyArg::All => vec![
                    drill::Policy::Always,
                    drill::Policy::Everysec,
                    drill::Policy::No,
                ],
                PolicyArg::EverysecWaitaof => vec![drill::Policy::EverysecWaitaof],
                PolicyArg::NoWaitaof => vec![drill::Policy::NoWaitaof],
                PolicyArg::Waitaof => {
                    vec![drill::Policy::EverysecWaitaof, drill::Policy::NoWaitaof]
                }
            };
            drill::run(drill::Options {
                server: a.server,
                rounds: a.rounds,
                policies,
                clients: a.clients as usize,
                power_loss: a.power_loss,
                plot: a.plot,
                seconds_per_round: a.seconds_per_round,
                seed: a.seed,
            })
        }
    };
    ExitCode::from(code)
}
