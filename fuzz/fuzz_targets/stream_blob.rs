//! Fuzz the snapshot's stream decoder (`stream_blob`): never panics, and whatever it
//! accepts re-encodes to bytes that decode to the same stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::persistence::stream_blob;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = stream_blob::decode(data) {
        let bytes = stream_blob::encode(&s);
        assert_eq!(stream_blob::decode(&bytes).expect("re-decodes"), s);
    }
});
