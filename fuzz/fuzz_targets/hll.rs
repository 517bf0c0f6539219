//! Fuzz the HyperLogLog decoder: any string a client SETs and then hands to PFADD,
//! PFCOUNT or PFMERGE is counted, merged, made dense or updated without panicking, or
//! reported as corrupt; sparse and dense forms of a valid HLL count the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    strata::command::hll_fuzz_stored_string(data);
});
