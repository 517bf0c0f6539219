//! Point-in-time snapshots without fork(): the engine starts a keyspace snapshot, whose
//! segments are captured on the executor thread (a list of entry pointers, just before a
//! segment first changes or when the pump reaches it) while the keyspace holds every
//! entry the snapshot may read (copy-on-write per entry; see `keyspace::table`). A
//! background thread encodes the captured entries, compresses, checksums and writes the
//! chunks. Extra memory is the captured pointers in flight plus the entries written
//! during the snapshot (their old versions), never a copy of the dataset.
//!
//! Two destinations share this machinery: BGSAVE/SAVE write `dbfilename` in `dir`
//! (write-temp, fsync, rename, fsync dir), and BGREWRITEAOF writes the new base of the
//! log (the manifest then names it and the old files are deleted; see `durability`).
//!
//! Contract with the keyspace: the writer encodes captures in the order of their sequence
//! numbers and stores the last one finished in `encoded` (release ordering) only after it
//! stopped reading those entries; the hold is released (`Keyspace::release_hold`) only
//! after the writer thread has been joined, which every way out of a job does (`poll`,
//! `join`, `join_abandoned`, and `Drop` joins before the keyspace can go).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::keyspace::access::Clock;
use crate::keyspace::{Held, Keyspace, Retired, SegmentSink};
use crate::persistence::snapshot::{ChunkEncoder, SnapshotHeader, SnapshotStats, SnapshotWriter};
use crate::persistence::Vfs;

/// The pump stops capturing while this many bytes of captured pointers wait for the
/// writer thread (writes still capture the segments they touch).
const PUMP_BACKLOG_BYTES: u64 = 2 << 20;
const CHUNK_BYTES: usize = 1 << 20;
/// How far ahead of the entry being encoded the writer prefetches.
const PREFETCH_AHEAD: usize = 16;

enum Msg {
    /// A captured segment: sequence number, database, entries.
    Entries(u64, u16, Vec<Held>),
    /// Retired entries the writer is done with: freed on its thread, not the loop's.
    Free(Retired),
    Finish,
}

/// Bytes held by the snapshot beyond the dataset: captured pointers not yet encoded, and
/// the keyspace's retired entries (set by the pump).
#[derive(Debug, Default)]
pub struct SnapMemory {
    pub queued: AtomicU64,
    pub held: AtomicU64,
    pub peak: AtomicU64,
}

impl SnapMemory {
    fn note(&self) {
        let now = self.queued.load(Ordering::Relaxed) + self.held.load(Ordering::Relaxed);
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// The keyspace now keeps `bytes` for the snapshot.
    fn set_held(&self, bytes: u64) {
        self.held.store(bytes, Ordering::Relaxed);
        self.note();
    }

    fn add(&self, n: u64) {
        self.queued.fetch_add(n, Ordering::Relaxed);
        self.note();
    }

    fn sub(&self, n: u64) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The keyspace's sink: hand captured segments to the writer thread.
struct CaptureSink {
    tx: Sender<Msg>,
    mem: Arc<SnapMemory>,
    failed: bool,
    /// The last sequence number handed out.
    seq: u64,
}

fn pointer_bytes(n: usize) -> u64 {
    (n * std::mem::size_of::<Held>()) as u64
}

impl SegmentSink for CaptureSink {
    fn segment(&mut self, db: usize, entries: Vec<Held>) -> u64 {
        self.seq += 1;
        if self.failed {
            return self.seq;
        }
        let n = pointer_bytes(entries.len());
        self.mem.add(n);
        // The writer thread only stops early on error; then the snapshot is abandoned.
        if self
            .tx
            .send(Msg::Entries(self.seq, db as u16, entries))
            .is_err()
        {
            self.failed = true;
            self.mem.sub(n);
        }
        self.seq
    }
}

/// Free what a released hold kept, on a thread of its own: after a snapshot under heavy
/// writes that can be millions of entries, too many to free between two commands.
fn free_later(retired: Retired) {
    if retired.is_empty() {
        return;
    }
    // If no thread can be started, spawn drops the closure: they are freed here instead.
    let _ = std::thread::Builder::new()
        .name("strata-free".into())
        .spawn(move || drop(retired));
}

/// What a finished snapshot job reports.
pub struct JobResult {
    pub stats: Result<SnapshotStats, String>,
    pub started_ms: u64,
    pub lsn: u64,
    /// Peak bytes held in encoded chunks not yet written.
    pub peak_bytes: u64,
}

/// A snapshot being taken.
pub struct SnapshotJob {
    sink: Arc<Mutex<CaptureSink>>,
    thread: Option<JoinHandle<Result<SnapshotStats, String>>>,
    capture_done: bool,
    pub mem: Arc<SnapMemory>,
    pub started_ms: u64,
    pub lsn: u64,
}

/// What the writer thread does once the snapshot file is complete and durable.
pub type Install = Box<dyn FnOnce(&SnapshotStats) -> Result<(), String> + Send>;

/// The writer thread: encode captured entries into chunks and write them, then finish the
/// file and install it.
/// `keep`: the keyspace's clock when access fields are kept (LRU and LFU policies).
fn write_snapshot(
    rx: Receiver<Msg>,
    mut writer: SnapshotWriter,
    mem: Arc<SnapMemory>,
    encoded: Arc<AtomicU64>,
    mut keep: Option<Clock>,
    install: Install,
) -> Result<SnapshotStats, String> {
    // Encoding, compressing and writing must not take CPU from the clients: on a small
    // machine this thread would otherwise get a full core's share next to the event loop.
    crate::util::lower_thread_priority(10);
    let mut enc = ChunkEncoder::new(CHUNK_BYTES);
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Entries(seq, db, held) => {
                // Idle times are read at the time of encoding: entries used since the
                // snapshot began carry later stamps than its start.
                if let Some(clock) = keep.as_mut() {
                    clock.set_now(crate::util::now_ms());
                    enc.keep_access(*clock);
                }
                // Entries are cold (a snapshot reads each once): load the entry
                // PREFETCH_AHEAD places ahead, and its key and value half as far ahead
                // (once the entry itself has arrived), so misses overlap.
                for (i, h) in held.iter().enumerate() {
                    if let Some(next) = held.get(i + PREFETCH_AHEAD) {
                        next.prefetch();
                    }
                    if let Some(near) = held.get(i + PREFETCH_AHEAD / 2) {
                        // SAFETY: as below.
                        unsafe { near.entry() }.prefetch_data();
                    }
                    // SAFETY: the keyspace keeps these entries alive and unchanged until
                    // `encoded` reaches `seq` (stored below, after the last read) or this
                    // thread is joined (module contract).
                    enc.add(db, unsafe { h.entry() });
                }
                encoded.store(seq, Ordering::Release);
                mem.sub(pointer_bytes(held.len()));
                for c in enc.take_full() {
                    writer.write_chunk(c).map_err(|e| e.to_string())?;
                }
            }
            Msg::Free(entries) => drop(entries),
            Msg::Finish => {
                if let Some(c) = enc.finish() {
                    writer.write_chunk(c).map_err(|e| e.to_string())?;
                }
                let stats = writer.finish().map_err(|e| e.to_string())?;
                install(&stats)?;
                return Ok(stats);
            }
        }
    }
    Err("the snapshot was abandoned before it finished".into())
}

impl SnapshotJob {
    /// Start snapshotting `ks` into `path` (written in full, fdatasynced), then run
    /// `install` on the writer thread (rename into place, or switch the manifest).
    /// `keep_access`: keep each key's idle time or LFU counter (under an LRU or LFU
    /// `maxmemory-policy`, as Redis's RDB does). `libraries`: the function libraries'
    /// code at this instant (written with the header: they are few and small).
    pub fn start(
        ks: &mut Keyspace,
        vfs: Arc<dyn Vfs>,
        path: PathBuf,
        lsn: u64,
        keep_access: bool,
        libraries: &[bytes::Bytes],
        install: Install,
    ) -> Result<SnapshotJob, String> {
        let header = SnapshotHeader {
            lsn,
            created_ms: crate::util::now_ms(),
            dbs: ks.db_count() as u32,
            access: keep_access,
            functions: false,
        };
        let keep = keep_access.then(|| *ks.clock());
        let writer = SnapshotWriter::create_with_functions(&*vfs, &path, header, libraries)
            .map_err(|e| e.to_string())?;
        let (tx, rx) = channel();
        let mem = Arc::new(SnapMemory::default());
        let encoded = Arc::new(AtomicU64::new(0));
        let mem2 = mem.clone();
        let encoded2 = encoded.clone();
        let thread = std::thread::Builder::new()
            .name("strata-snapshot".into())
            .spawn(move || write_snapshot(rx, writer, mem2, encoded2, keep, install))
            .map_err(|e| e.to_string())?;
        let sink = Arc::new(Mutex::new(CaptureSink {
            tx,
            mem: mem.clone(),
            failed: false,
            seq: 0,
        }));
        ks.start_snapshot(sink.clone(), encoded);
        Ok(SnapshotJob {
            sink,
            thread: Some(thread),
            capture_done: false,
            mem,
            started_ms: crate::util::now_ms(),
            lsn,
        })
    }

    /// Capture up to `budget` more entries, and hand retired entries the writer is done
    /// with back to it to free. Call repeatedly; cheap once capture is done.
    pub fn pump(&mut self, ks: &mut Keyspace, budget: usize) {
        self.mem.set_held(ks.held_bytes() as u64);
        let done = ks.take_encoded();
        if !done.is_empty() {
            let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            // A writer that already stopped cannot take them: they are freed here.
            let _ = sink.tx.send(Msg::Free(done));
        }
        if self.capture_done {
            return;
        }
        let failed = self.sink.lock().map(|s| s.failed).unwrap_or(true);
        if failed {
            ks.abort_snapshot();
            self.capture_done = true;
            return;
        }
        // Let the writer thread catch up rather than pile up pointers (a write touching
        // an uncaptured segment still captures it at once).
        if self.mem.queued.load(Ordering::Relaxed) > PUMP_BACKLOG_BYTES {
            return;
        }
        if ks.snapshot_step(budget) {
            self.capture_done = true;
            let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            let _ = sink.tx.send(Msg::Finish);
        }
    }

    /// The finished job's result, once the writer thread is done (non-blocking); the
    /// keyspace's hold is released then.
    pub fn poll(&mut self, ks: &mut Keyspace) -> Option<JobResult> {
        if !self.capture_done || !self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            return None;
        }
        self.join(ks)
    }

    /// Wait for the writer thread (after capture is done), then release the hold.
    pub fn join(&mut self, ks: &mut Keyspace) -> Option<JobResult> {
        let t = self.thread.take()?;
        let stats = t
            .join()
            .unwrap_or_else(|_| Err("the snapshot writer thread panicked".into()));
        self.mem.set_held(ks.held_bytes() as u64);
        free_later(ks.release_hold());
        Some(JobResult {
            stats,
            started_ms: self.started_ms,
            lsn: self.lsn,
            peak_bytes: self.mem.peak.load(Ordering::Relaxed),
        })
    }

    /// Stop the snapshot: the keyspace stops capturing, the writer thread gives up and is
    /// joined, and the hold is released.
    pub fn join_abandoned(&mut self, ks: &mut Keyspace) -> Option<JobResult> {
        ks.abort_snapshot();
        self.close_channel();
        self.capture_done = true;
        self.join(ks)
    }

    fn close_channel(&mut self) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.failed = true;
        // Replacing the sender closes the channel: the writer thread stops.
        let (dead, _) = channel();
        sink.tx = dead;
    }

    pub fn capture_done(&self) -> bool {
        self.capture_done
    }
}

impl Drop for SnapshotJob {
    /// A job dropped unfinished (an engine torn down mid-snapshot) must not leave its
    /// writer reading entries the keyspace is about to free: stop it and wait.
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.close_channel();
            let _ = t.join();
        }
    }
}
