//! Guards the RESP encode/decode round trip under random inputs: pipelines of multibulk
//! requests with arbitrary binary arguments (and inline requests) decode to exactly the
//! commands sent, whatever the split of the bytes into reads; and every RESP2/RESP3 reply
//! frame encodes to bytes that decode to the same frame, using exactly those bytes, while
//! every strict prefix of them asks for more input.

use bytes::BytesMut;
use proptest::prelude::*;
use strata::protocol::{Frame, Limits, ReplyBuf, RequestDecoder};

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Arbitrary bytes, CR and LF included.
        4 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(prop::sample::select(b"\r\n*$:+-0123456789".to_vec()), 0..12),
        // Now and then a long one that spans many reads.
        1 => prop::collection::vec(any::<u8>(), 200..3000),
    ]
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(arg(), 1..8)
}

/// Decodes `bytes` handed over in pieces of the given sizes (cycled).
fn decode_in_pieces(bytes: &[u8], sizes: &[usize]) -> (Vec<Vec<Vec<u8>>>, usize) {
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at == bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        buf.extend_from_slice(&bytes[at..end]);
        at = end;
        while let Some(args) = dec.decode(&mut buf).expect("valid input") {
            got.push(args.iter().map(|a| a.to_vec()).collect());
        }
    }
    (got, buf.len())
}

fn leaf() -> impl Strategy<Value = Frame> {
    let text = "[a-zA-Z0-9 _.:-]{0,20}";
    prop_oneof![
        text.prop_map(Frame::Simple),
        "[A-Z]{1,8} [a-z ]{0,20}".prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Bulk),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        prop_oneof![
            any::<i32>().prop_map(f64::from),
            (any::<i32>(), 1u32..1000).prop_map(|(a, b)| f64::from(a) / f64::from(b)),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ]
        .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        ("txt|mkd", prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(f, t)| Frame::Verbatim(f, t)),
        "-?[1-9][0-9]{0,40}".prop_map(Frame::BigNumber),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Frame::Map),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner, 0..6).prop_map(Frame::Push),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn multibulk_pipelines_decode_to_the_commands_sent_at_any_split(
        cmds in prop::collection::vec(command(), 1..12),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut out = ReplyBuf::new(false);
        for c in &cmds {
            out.bulk_array(c.len(), c.iter().map(|a| &a[..]));
        }
        let (got, left) = decode_in_pieces(out.as_bytes(), &sizes);
        prop_assert_eq!(got, cmds);
        prop_assert_eq!(left, 0);
    }

    #[test]
    fn inline_requests_decode_to_their_words(
        cmds in prop::collection::vec(prop::collection::vec("[A-Za-z0-9_.:]{1,12}", 1..6), 1..8),
        sizes in prop::collection::vec(1usize..16, 1..4),
    ) {
        let text: String = cmds.iter().map(|c| c.join(" ") + "\r\n").collect();
        let (got, left) = decode_in_pieces(text.as_bytes(), &sizes);
        let want: Vec<Vec<Vec<u8>>> = cmds
            .iter()
            .map(|c| c.iter().map(|w| w.as_bytes().to_vec()).collect())
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(left, 0);
    }

    #[test]
    fn every_reply_frame_round_trips(f in frame(), trailing in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut out = ReplyBuf::new(true);
        f.encode(&mut out);
        let len = out.len();
        let mut bytes = out.as_bytes().to_vec();
        for cut in 0..len {
            prop_assert_eq!(Frame::decode(&bytes[..cut], 1 << 20), Ok(None), "prefix of {} bytes", cut);
        }
        bytes.extend_from_slice(&trailing);
        let (back, used) = Frame::decode(&bytes, 1 << 20).unwrap().expect("complete");
        prop_assert_eq!(back, f);
        prop_assert_eq!(used, len);
    }
}
