//! # Strata
//!
//! A Redis-compatible server whose durability can be trusted and measured.
//!
//! ## Layout
//!
//! Dependencies point down; nothing below `server` knows about sockets, and
//! `persistence` knows nothing about tokio, commands or the network.
//!
//! | module | responsibility |
//! | --- | --- |
//! | [`server`] | tokio listener, connections, pipelining, client limits, shutdown: the only place that touches sockets |
//! | [`engine`] | the single owner of the keyspace: runs commands in arrival order (the log order) and hands their effects to persistence |
//! | [`command`] | one small unit per command: parse, apply, reply; records the deterministic effect to log; no I/O |
//! | [`persistence`] | log format, writer and reader, manifest, recovery, simulated disk; synchronous, no tokio |
//! | [`keyspace`] | values, databases, the segmented hash table, per-key access fields (LRU/LFU), Redis's DUMP payload format; pure data structures, plus the one thread that frees big values off the event loop (`lazyfree`) |
//! | [`protocol`] | RESP2/RESP3 request decoder and reply encoder; bytes only |
//! | [`config`] | the parameter table behind flags, config files and CONFIG GET/SET |
//! | [`util`] | strict number parsing, glob matching, clock |

pub mod command;
pub mod config;
pub mod engine;
pub mod keyspace;
pub mod persistence;
pub mod protocol;
pub mod server;
pub mod util;

#[doc(hidden)]
pub mod testkit;
