//! Fuzz the log's replay contract over every command that can change the keyspace
//! (`strata::testkit::AnyCommands`: all write commands, with argument shapes that fail,
//! random picks, lazy expiry, MULTI/EXEC/DISCARD): at every restart the input asks for,
//! after log rewrites it starts, and at the end, the keyspace recovered from the files
//! equals the live one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = strata::testkit::check_replay(data) {
        panic!("{e}");
    }
});
