//! The drill's workload, its ledger, and the verification of a recovered keyspace.
//!
//! Client `c` performs writes numbered 1, 2, 3, ... (its sequence). Write `s` sets key
//! `drill:c:(s mod 16)` to a value naming `c` and `s`; every 8th write is a MULTI/EXEC
//! transaction that also sets `drill:c:tx` to the same value. A client has one write in
//! flight at a time and records in its ledger when each was sent and acknowledged.
//!
//! Because a client's writes are applied in order, a correct recovery holds, per client,
//! exactly the state after some prefix `1..=R` of its writes, where `R` is the highest
//! sequence number found in its keys. The verification checks:
//!
//! * every key and value was written by the drill (nothing invented or mangled);
//! * each client's keys equal the state after its writes `1..=R` (no hole, no reordering,
//!   transactions all or nothing);
//! * the acknowledged writes after `R` are *lost*: counted, with the age (crash time minus
//!   acknowledgement time) of the oldest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Keys per client (besides the transaction key).
pub const SLOTS: u64 = 16;
/// Slot number of the key only transactions write.
pub const TX_SLOT: u64 = SLOTS;
/// Every `TXN_EVERY`th write is a transaction.
pub const TXN_EVERY: u64 = 8;
const VALUE_LEN: usize = 48;

pub fn key(client: usize, slot: u64) -> String {
    if slot == TX_SLOT {
        format!("drill:{client}:tx")
    } else {
        format!("drill:{client}:{slot}")
    }
}

pub fn value(client: usize, seq: u64) -> String {
    let mut v = format!("{client}:{seq}:");
    while v.len() < VALUE_LEN {
        v.push('v');
    }
    v
}

/// The slots write `seq` sets.
pub fn slots(seq: u64) -> Vec<u64> {
    if seq.is_multiple_of(TXN_EVERY) {
        vec![seq % SLOTS, TX_SLOT]
    } else {
        vec![seq % SLOTS]
    }
}

/// Where writes go: a TCP connection to strata-server, or the in-process engine.
pub trait Target: Send {
    /// Sets every key to `value` (in one MULTI/EXEC when there are several). `Ok` means the
    /// write was acknowledged with the reply the policy's contract attaches to it.
    fn write(&mut self, keys: &[String], value: &str) -> Result<(), String>;
}

/// One write of a client: sent at `sent_us`, acknowledged at `acked_us` (microseconds
/// since the round started).
#[derive(Debug, Clone)]
pub struct Entry {
    pub sent_us: u64,
    pub acked_us: Option<u64>,
}

/// A client's writes; `entries[s - 1]` is write `s`.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub client: usize,
    pub entries: Vec<Entry>,
    /// Why the client stopped (the error of its last write), if it was not told to.
    pub stopped_by: Option<String>,
}

/// Runs one client until `stop` is set or a write fails.
pub fn client_loop(
    client: usize,
    target: &mut dyn Target,
    t0: Instant,
    stop: &AtomicBool,
) -> Ledger {
    let mut ledger = Ledger {
        client,
        ..Ledger::default()
    };
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let keys: Vec<String> = slots(seq).into_iter().map(|s| key(client, s)).collect();
        let v = value(client, seq);
        ledger.entries.push(Entry {
            sent_us: t0.elapsed().as_micros() as u64,
            acked_us: None,
        });
        match target.write(&keys, &v) {
            Ok(()) => {
                let last = ledger.entries.len() - 1;
                ledger.entries[last].acked_us = Some(t0.elapsed().as_micros() as u64);
            }
            Err(e) => {
                ledger.stopped_by = Some(e);
                break;
            }
        }
    }
    ledger
}

/// What the verification found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub attempted: u64,
    pub acked: u64,
    /// Acknowledged writes missing from the recovered state.
    pub lost: u64,
    /// Age at the crash of the oldest lost acknowledged write, in ms.
    pub max_lost_age_ms: Option<f64>,
    /// Contract violations other than loss (invented data, holes, reordering).
    pub violations: Vec<String>,
}

fn parse_key(k: &[u8]) -> Option<(usize, u64)> {
    let s = std::str::from_utf8(k).ok()?;
    let rest = s.strip_prefix("drill:")?;
    let (c, slot) = rest.split_once(':')?;
    let c: usize = c.parse().ok()?;
    let slot = if slot == "tx" {
        TX_SLOT
    } else {
        let n: u64 = slot.parse().ok()?;
        if n >= SLOTS || n.to_string() != slot {
            return None;
        }
        n
    };
    (c.to_string() == rest.split_once(':')?.0).then_some((c, slot))
}

fn parse_value(v: &[u8]) -> Option<(usize, u64)> {
    let s = std::str::from_utf8(v).ok()?;
    let mut it = s.splitn(3, ':');
    let c = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    Some((c, seq))
}

/// Checks `recovered` (every key of the keyspace) against the ledgers; `crash_us` is when
/// the crash happened (µs since the round started).
pub fn verify(ledgers: &[Ledger], recovered: &HashMap<Vec<u8>, Vec<u8>>, crash_us: u64) -> Outcome {
    let mut o = Outcome::default();
    let mut violations = 0u64;
    let mut note = |o: &mut Outcome, msg: String| {
        violations += 1;
        if o.violations.len() < 10 {
            o.violations.push(msg);
        }
    };
    let by_client: HashMap<usize, &Ledger> = ledgers.iter().map(|l| (l.client, l)).collect();
    // Per client: slot -> recovered seq.
    let mut found: HashMap<usize, HashMap<u64, u64>> = HashMap::new();
    for (k, v) in recovered {
        let show = String::from_utf8_lossy(k);
        let Some((c, slot)) = parse_key(k) else {
            note(
                &mut o,
                format!("key {show:?} was never written by the drill"),
            );
            continue;
        };
        let Some(ledger) = by_client.get(&c) else {
            note(
                &mut o,
                format!("key {show:?} belongs to no client of this round"),
            );
            continue;
        };
        let Some((vc, seq)) = parse_value(v) else {
            note(
                &mut o,
                format!(
                    "key {show:?} holds {:?}, never written",
                    String::from_utf8_lossy(v)
                ),
            );
            continue;
        };
        let attempted = ledger.entries.len() as u64;
        let ok = vc == c
            && seq >= 1
            && seq <= attempted
            && slots(seq).contains(&slot)
            && v == value(c, seq).as_bytes();
        if !ok {
            note(
                &mut o,
                format!(
                    "key {show:?} holds {:?}, which this client never wrote to it ({attempted} writes attempted)",
                    String::from_utf8_lossy(v)
                ),
            );
            continue;
        }
        found.entry(c).or_default().insert(slot, seq);
    }
    for l in ledgers {
        o.attempted += l.entries.len() as u64;
        o.acked += l.entries.iter().filter(|e| e.acked_us.is_some()).count() as u64;
        let mine = found.remove(&l.client).unwrap_or_default();
        let r = mine.values().copied().max().unwrap_or(0);
        // The state after writes 1..=r.
        let mut expect: HashMap<u64, u64> = HashMap::new();
        for s in 1..=r {
            for slot in slots(s) {
                expect.insert(slot, s);
            }
        }
        for slot in 0..=TX_SLOT {
            let want = expect.get(&slot).copied();
            let got = mine.get(&slot).copied();
            if want != got {
                note(
                    &mut o,
                    format!(
                        "client {}: {} holds write {} but the prefix up to write {r} (the newest \
                         recovered) ends with write {} there: a hole or reordering",
                        l.client,
                        key(l.client, slot),
                        got.map_or("none".into(), |s| s.to_string()),
                        want.map_or("none".into(), |s| s.to_string()),
                    ),
                );
            }
        }
        let lost: Vec<&Entry> = l.entries[r as usize..]
            .iter()
            .filter(|e| e.acked_us.is_some())
            .collect();
        o.lost += lost.len() as u64;
        if let Some(first) = lost.first() {
            let age = crash_us.saturating_sub(first.acked_us.unwrap_or(0)) as f64 / 1000.0;
            o.max_lost_age_ms = Some(o.max_lost_age_ms.map_or(age, |m: f64| m.max(age)));
        }
    }
    if violations > o.violations.len() as u64 {
        o.violations.push(format!(
            "... {} more violations",
            violations - o.violations.len() as u64
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(client: usize, acked: u64, attempted: u64) -> Ledger {
        Ledger {
            client,
            entries: (1..=attempted)
                .map(|s| Entry {
                    sent_us: s * 1000,
                    acked_us: (s <= acked).then_some(s * 1000 + 500),
                })
                .collect(),
            stopped_by: None,
        }
    }

    fn state_after(client: usize, r: u64) -> HashMap<Vec<u8>, Vec<u8>> {
        let mut m = HashMap::new();
        for s in 1..=r {
            for slot in slots(s) {
                m.insert(
                    key(client, slot).into_bytes(),
                    value(client, s).into_bytes(),
                );
            }
        }
        m
    }

    #[test]
    fn exact_prefix_passes_and_counts_loss() {
        let l = vec![ledger(0, 40, 41), ledger(1, 30, 31)];
        let mut got = state_after(0, 41);
        got.extend(state_after(1, 30));
        let o = verify(&l, &got, 50_000);
        assert!(o.violations.is_empty(), "{:?}", o.violations);
        assert_eq!((o.acked, o.attempted, o.lost), (70, 72, 0));

        let mut got = state_after(0, 35);
        got.extend(state_after(1, 30));
        let o = verify(&l, &got, 50_000);
        assert!(o.violations.is_empty(), "{:?}", o.violations);
        assert_eq!(o.lost, 5);
        // write 36 was acknowledged at 36.5 ms; the crash came at 50 ms
        assert_eq!(o.max_lost_age_ms, Some(13.5));
    }

    #[test]
    fn holes_half_transactions_and_inventions_are_violations() {
        let l = vec![ledger(0, 40, 40)];
        let mut hole = state_after(0, 40);
        hole.insert(key(0, 3).into_bytes(), value(0, 3).into_bytes()); // older than write 35
        assert!(!verify(&l, &hole, 0).violations.is_empty());

        let mut half = state_after(0, 39);
        half.insert(key(0, 40 % SLOTS).into_bytes(), value(0, 40).into_bytes()); // 40 is a txn
        assert!(!verify(&l, &half, 0).violations.is_empty());

        let mut inv = state_after(0, 40);
        inv.insert(b"other".to_vec(), b"x".to_vec());
        assert!(!verify(&l, &inv, 0).violations.is_empty());

        let mut future = state_after(0, 40);
        future.insert(key(0, 41 % SLOTS).into_bytes(), value(0, 41).into_bytes());
        assert!(!verify(&l, &future, 0).violations.is_empty());

        let mut wrong_slot = state_after(0, 40);
        wrong_slot.insert(key(0, 5).into_bytes(), value(0, 40).into_bytes());
        assert!(!verify(&l, &wrong_slot, 0).violations.is_empty());
    }
}
