//! Fuzz the log reader two ways: arbitrary bytes, and a valid log (built from the input)
//! that is truncated or has one byte changed. The reader must never panic, every record it
//! yields must re-encode to exactly the bytes it was read from (so its checksum was
//! verified over real data), and it must stop exactly at the damage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::persistence::record::encode_record;
use strata::persistence::{Limits, LogHeader, LogReader, StopReason};

fn limits() -> Limits {
    Limits {
        max_record_len: 1 << 16,
        ..Limits::default()
    }
}

fn check(bytes: &[u8]) -> (usize, Option<StopReason>) {
    let Ok(mut r) = LogReader::new(bytes, limits()) else {
        return (0, None);
    };
    let mut n = 0;
    while let Ok(Some(rec)) = r.next_record() {
        let mut again = Vec::new();
        encode_record(&mut again, rec.lsn, rec.db, &rec.args, &limits()).expect("re-encode");
        let start = rec.offset as usize;
        assert_eq!(
            &bytes[start..start + again.len()],
            &again[..],
            "record {n} bytes differ"
        );
        assert_eq!(rec.len as usize, again.len());
        n += 1;
    }
    (n, r.stop_reason().cloned())
}

fuzz_target!(|data: &[u8]| {
    // 1. Arbitrary bytes behind a valid header, and raw.
    check(data);
    let mut log = LogHeader::new(1, 1).encode().to_vec();
    log.extend_from_slice(data);
    check(&log);

    // 2. A valid log built from the input, then damaged at a position the input picks.
    if data.len() < 3 {
        return;
    }
    let mut log = LogHeader::new(1, 1).encode().to_vec();
    let mut ends = Vec::new();
    for (i, chunk) in data[3..].chunks(7).enumerate() {
        let args: Vec<&[u8]> = chunk.split(|b| *b == 0).collect();
        encode_record(
            &mut log,
            i as u64 + 1,
            chunk[0] as u16 % 16,
            &args,
            &limits(),
        )
        .unwrap();
        ends.push(log.len());
    }
    let (n, stop) = check(&log);
    assert_eq!(n, ends.len(), "an intact log reads completely");
    assert!(
        matches!(stop, Some(StopReason::CleanEnd { .. })),
        "{stop:?}"
    );
    let cut = u16::from_le_bytes([data[0], data[1]]) as usize % (log.len() + 1);
    let complete = ends.iter().filter(|&&e| e <= cut).count();
    let (n, _) = check(&log[..cut]);
    assert_eq!(
        n, complete,
        "truncated at {cut}: exactly the complete records"
    );
    let mut flipped = log.clone();
    let pos = cut.min(flipped.len().saturating_sub(1));
    if pos >= 40 {
        flipped[pos] ^= 1 << (data[2] % 8);
        let before = ends.iter().filter(|&&e| e <= pos).count();
        let (n, _) = check(&flipped);
        assert_eq!(
            n, before,
            "a flipped bit at {pos} stops the reader at that record"
        );
    }
});
