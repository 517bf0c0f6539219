//! Guards the log's replay contract for every command that can change the keyspace,
//! including the ones that fail half-way, pick at random or expire keys lazily: after a
//! restart (log alone, or base snapshot + log after a rewrite) the recovered keyspace
//! equals the live one. `strata::testkit::check_replay` runs the scenario; the `replay`
//! fuzz target runs the same one.

use proptest::prelude::*;
use strata::command::COMMANDS;
use strata::testkit::{check_replay, AnyCommands};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn recovery_rebuilds_the_live_keyspace(data in prop::collection::vec(any::<u8>(), 0..6000)) {
        let r = check_replay(&data);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

/// The generator must keep up with the command table: every command flagged `write`
/// appears in what it produces (a new write command needs a line in `AnyCommands`).
#[test]
fn the_generator_issues_every_write_command() {
    let mut seen = std::collections::BTreeSet::new();
    let mut data = vec![0u8; 1 << 16];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..64 {
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let mut g = AnyCommands::new(&data);
        while !g.is_empty() {
            for c in g.next_commands() {
                seen.insert(String::from_utf8_lossy(&c[0]).to_lowercase());
            }
        }
    }
    let missing: Vec<_> = COMMANDS
        .iter()
        .filter(|s| s.is_write() && !seen.contains(s.name))
        .map(|s| s.name)
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

/// The failure report names the difference: a keyspace changed behind the log's back.
#[test]
fn a_change_the_log_never_saw_is_reported() {
    use bytes::Bytes;
    use strata::config::FsyncPolicy;
    use strata::keyspace::Value;
    use strata::persistence::SimFs;
    use strata::testkit::{live_entries, SimEngine};

    let sim = SimFs::new(1);
    let mut e = SimEngine::open(&sim, FsyncPolicy::No).unwrap();
    e.run_batch(vec![vec![
        Bytes::from_static(b"SET"),
        Bytes::from_static(b"k"),
        Bytes::from_static(b"logged"),
    ]]);
    e.engine
        .st
        .ks
        .db_mut(0)
        .upsert(b"k", Value::Str(b"not logged".to_vec()), None);
    let live = live_entries(&e.engine.st.ks, 0);
    e.engine.close().unwrap();
    drop(e);
    let back = SimEngine::open(&sim, FsyncPolicy::No).unwrap();
    let recovered = live_entries(&back.engine.st.ks, 0);
    assert_ne!(live, recovered);
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].1, b"k".to_vec());
}
