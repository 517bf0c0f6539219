//! Fuzz RESTORE's payload decoder: never panics on any bytes; past the checksum (the
//! target re-seals the input's body with a correct one, or nothing would get through)
//! every value it accepts dumps to a payload that restores the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::keyspace::dump;

fuzz_target!(|data: &[u8]| {
    let _ = dump::decode(data);
    let mut sealed = data[..data.len().saturating_sub(10)].to_vec();
    sealed.extend_from_slice(&dump::VERSION_READ.to_le_bytes());
    let crc = dump::crc64(&sealed);
    sealed.extend_from_slice(&crc.to_le_bytes());
    if let Ok(v) = dump::decode(&sealed) {
        let again = dump::decode(&dump::encode(&v)).expect("a dumped value restores");
        assert_eq!(again, v);
    }
});
