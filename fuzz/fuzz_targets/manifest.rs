//! Fuzz the manifest decoder: never panics, and whatever it accepts re-encodes to a
//! manifest that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::persistence::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        let bytes = m.encode().expect("a decoded manifest re-encodes");
        assert_eq!(Manifest::decode(&bytes).expect("re-decodes"), m);
    }
});
