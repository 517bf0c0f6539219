//! Fuzz the ACL file reader (`aclfile`, ACL LOAD): never panics, and the users it accepts
//! are written by ACL SAVE as a file that loads back to the same users.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::command::acl::Acl;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pass = (data.first() == Some(&b'p')).then_some("pw");
    if let Ok(acl) = Acl::from_file_text(&text, "users.acl", pass) {
        let saved = acl.file_text();
        let again = Acl::from_file_text(&saved, "users.acl", pass)
            .unwrap_or_else(|e| panic!("ACL SAVE's file does not load: {e}\n{saved}"));
        assert_eq!(again.file_text(), saved);
    }
});
