//! Fuzz Lua scripts, the untrusted code a client sends with EVAL: whatever the body
//! (not Lua at all, a syntax error, a runtime error, an endless loop, any command called
//! with any arguments, tables that contain themselves, cjson and bit on any input), the
//! server never panics, the script ends, and the keyspace recovered from the log equals
//! the live one (a script's effects are logged as one unit, even when it fails half-way).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = strata::testkit::check_script(data) {
        panic!("{e}");
    }
});
