//! Fuzz the RDB file reader behind `verify-aof import-rdb`: never panics on any bytes,
//! as given or behind a valid header (or the magic check would stop nearly every input),
//! and reads a bounded number of items before it stops.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::keyspace::dump::RdbReader;

fn read_all(bytes: &[u8]) {
    if let Ok(mut r) = RdbReader::new(bytes) {
        // Every item consumes at least one byte.
        for _ in 0..=bytes.len() {
            match r.next_item() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
        panic!("more items than bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    read_all(data);
    let mut with_header = b"REDIS0010".to_vec();
    with_header.extend_from_slice(data);
    read_all(&with_header);
});
