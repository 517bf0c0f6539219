//! Fuzz the server's request decoder: arbitrary bytes fed in arbitrary splits must never
//! panic or exceed the limits, and every decoded command must re-encode to bytes that
//! decode to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use strata::protocol::{Limits, ReplyBuf, RequestDecoder};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte picks the split size, so the corpus explores split points too.
    let chunk = (data[0] as usize % 17) + 1;
    let input = &data[1..];
    let limits = Limits {
        max_bulk_len: 1 << 16,
        max_multibulk_len: 1 << 12,
        query_buffer_limit: 1 << 20,
    };
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    'outer: for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty());
                    assert!(args.len() <= limits.max_multibulk_len);
                    assert!(args.iter().all(|a| a.len() <= limits.max_bulk_len));
                    commands.push(args);
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    // Round trip: encode each command as a multibulk array and decode it again.
    for args in commands {
        let mut out = ReplyBuf::new(false);
        out.array_len(args.len());
        for a in &args {
            out.bulk(a);
        }
        let mut d2 = RequestDecoder::new(limits);
        let mut b2 = BytesMut::from(out.as_bytes());
        let again = d2
            .decode(&mut b2)
            .expect("re-encoded command decodes")
            .expect("complete");
        assert_eq!(again, args);
        assert!(b2.is_empty());
    }
});
