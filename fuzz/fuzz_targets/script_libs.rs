//! Fuzz the decoders a script can run on bytes from anywhere: `cmsgpack.unpack`,
//! `unpack_one`, `unpack_limit` (and re-packing what they return) and `struct.unpack`,
//! `size` and `pack` with a format taken from the input. Each must return or raise a Lua
//! error, never panic or run away, and `unpack_one`'s offsets must move forward.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = strata::testkit::check_libs(data) {
        panic!("{e}");
    }
});
