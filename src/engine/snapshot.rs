//! Point-in-time snapshots without fork(): the engine starts a keyspace snapshot whose
//! segments are encoded on the executor thread just before they first change (or when the
//! pump reaches them), and a background thread compresses, checksums and writes the
//! chunks. Extra memory is only the chunks in flight (bounded by the channel), never a
//! copy of the dataset.
//!
//! Two destinations share this machinery: BGSAVE/SAVE write `dbfilename` in `dir`
//! (write-temp, fsync, rename, fsync dir), and BGREWRITEAOF writes the new base of the
//! log (the manifest then names it and the old files are deleted; see `durability`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::keyspace::{Entry, Keyspace, SegmentSink};
use crate::persistence::snapshot::{
    ChunkEncoder, RawChunk, SnapshotHeader, SnapshotStats, SnapshotWriter,
};
use crate::persistence::Vfs;

/// Chunks in flight between the executor and the writer thread (each ~1 MiB raw).
const CHANNEL_CHUNKS: usize = 8;
/// The pump stops encoding while more than this many bytes wait for the writer thread.
const PUMP_BACKLOG_BYTES: u64 = 2 << 20;
const CHUNK_BYTES: usize = 1 << 20;

enum Msg {
    Chunk(RawChunk),
    Finish,
}

/// Bytes held by the snapshot beyond the dataset: encoded chunks not yet written.
#[derive(Debug, Default)]
pub struct SnapMemory {
    pub buffered: AtomicU64,
    pub peak: AtomicU64,
}

impl SnapMemory {
    fn add(&self, n: u64) {
        let now = self.buffered.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, n: u64) {
        self.buffered.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The keyspace's sink: encode entries, hand full chunks to the writer thread.
struct EncoderSink {
    enc: Option<ChunkEncoder>,
    tx: SyncSender<Msg>,
    mem: Arc<SnapMemory>,
    failed: bool,
}

impl EncoderSink {
    fn send(&mut self, chunks: Vec<RawChunk>) {
        for c in chunks {
            let n = c.bytes.len() as u64;
            self.mem.add(n);
            // The writer thread only stops early on error; then the snapshot is abandoned.
            if self.tx.send(Msg::Chunk(c)).is_err() {
                self.failed = true;
                self.mem.sub(n);
            }
        }
    }
}

impl SegmentSink for EncoderSink {
    fn segment(&mut self, db: usize, entries: &mut dyn Iterator<Item = &Entry>) {
        if self.failed {
            return;
        }
        let Some(enc) = self.enc.as_mut() else { return };
        for e in entries {
            enc.add(db as u16, e);
        }
        let full = enc.take_full();
        self.send(full);
    }
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
    sink: Arc<Mutex<EncoderSink>>,
    thread: Option<JoinHandle<Result<SnapshotStats, String>>>,
    encoding_done: bool,
    pub mem: Arc<SnapMemory>,
    pub started_ms: u64,
    pub lsn: u64,
}

/// What the writer thread does once the snapshot file is complete and durable.
pub type Install = Box<dyn FnOnce(&SnapshotStats) -> Result<(), String> + Send>;

impl SnapshotJob {
    /// Start snapshotting `ks` into `path` (written in full, fdatasynced), then run
    /// `install` on the writer thread (rename into place, or switch the manifest).
    pub fn start(
        ks: &mut Keyspace,
        vfs: Arc<dyn Vfs>,
        path: PathBuf,
        lsn: u64,
        install: Install,
    ) -> Result<SnapshotJob, String> {
        let header = SnapshotHeader {
            lsn,
            created_ms: crate::util::now_ms(),
            dbs: ks.db_count() as u32,
        };
        let mut writer = SnapshotWriter::create(&*vfs, &path, header).map_err(|e| e.to_string())?;
        let (tx, rx): (SyncSender<Msg>, Receiver<Msg>) = sync_channel(CHANNEL_CHUNKS);
        let mem = Arc::new(SnapMemory::default());
        let mem2 = mem.clone();
        let thread = std::thread::Builder::new()
            .name("strata-snapshot".into())
            .spawn(move || -> Result<SnapshotStats, String> {
                // Compressing and writing must not take CPU from the clients: on a small
                // machine this thread would otherwise get a full core's share next to the
                // event loop. The pump below waits for it instead of piling chunks up.
                crate::util::lower_thread_priority(10);
                while let Ok(msg) = rx.recv() {
                    match msg {
                        Msg::Chunk(c) => {
                            let n = c.bytes.len() as u64;
                            let r = writer.write_chunk(c);
                            mem2.sub(n);
                            r.map_err(|e| e.to_string())?;
                        }
                        Msg::Finish => {
                            let stats = writer.finish().map_err(|e| e.to_string())?;
                            install(&stats)?;
                            return Ok(stats);
                        }
                    }
                }
                Err("the snapshot was abandoned before it finished".into())
            })
            .map_err(|e| e.to_string())?;
        let sink = Arc::new(Mutex::new(EncoderSink {
            enc: Some(ChunkEncoder::new(CHUNK_BYTES)),
            tx,
            mem: mem.clone(),
            failed: false,
        }));
        ks.start_snapshot(sink.clone());
        Ok(SnapshotJob {
            sink,
            thread: Some(thread),
            encoding_done: false,
            mem,
            started_ms: crate::util::now_ms(),
            lsn,
        })
    }

    /// Encode up to `budget` more entries. Call repeatedly; cheap once encoding is done.
    pub fn pump(&mut self, ks: &mut Keyspace, budget: usize) {
        if self.encoding_done {
            return;
        }
        let failed = self.sink.lock().map(|s| s.failed).unwrap_or(true);
        if failed {
            ks.abort_snapshot();
            self.encoding_done = true;
            return;
        }
        // Let the writer thread catch up rather than block the event loop on a full
        // channel (a write touching an unserialized segment still encodes at once).
        if self.mem.buffered.load(Ordering::Relaxed) > PUMP_BACKLOG_BYTES {
            return;
        }
        if ks.snapshot_step(budget) {
            self.encoding_done = true;
            let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = sink.enc.take().and_then(|e| e.finish()) {
                sink.send(vec![last]);
            }
            let _ = sink.tx.send(Msg::Finish);
        }
    }

    /// The finished job's result, once the writer thread is done (non-blocking).
    pub fn poll(&mut self) -> Option<JobResult> {
        if !self.encoding_done || !self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            return None;
        }
        self.join()
    }

    /// Wait for the writer thread (after encoding is done).
    pub fn join(&mut self) -> Option<JobResult> {
        let t = self.thread.take()?;
        let stats = t
            .join()
            .unwrap_or_else(|_| Err("the snapshot writer thread panicked".into()));
        Some(JobResult {
            stats,
            started_ms: self.started_ms,
            lsn: self.lsn,
            peak_bytes: self.mem.peak.load(Ordering::Relaxed),
        })
    }

    /// Stop feeding the writer and wait for it to give up (the keyspace must already have
    /// stopped collecting: `Keyspace::abort_snapshot`).
    pub fn join_abandoned(&mut self) -> Option<JobResult> {
        {
            let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            sink.failed = true;
            sink.enc = None;
            // Replacing the sender closes the channel: the writer thread stops.
            let (dead, _) = sync_channel(0);
            sink.tx = dead;
        }
        self.encoding_done = true;
        self.join()
    }

    pub fn encoding_done(&self) -> bool {
        self.encoding_done
    }
}
