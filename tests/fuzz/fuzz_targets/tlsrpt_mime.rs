//! Fuzz target: reading TLS-RPT reports out of e-mail (`stsscan::tlsrpt::mime`): the
//! multipart walk of one RFC 5322 message (RFC 8460 §5.3), the transfer decodings, and the
//! mbox splitter, all fed a mailbox an attacker may have written to.
//! Invariants: no panic; at most `MAX_PARTS` report parts, in document order; no decoded part
//! is larger than the message; base64 yields at most 3 octets per 4 input octets (+ 3) and
//! quoted-printable no more octets than it read; the mbox messages hold no more octets than
//! the mbox.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::tlsrpt::mime::{
    MAX_PARTS, MboxMessage, base64_decode, for_each_mbox_message, qp_decode, report_parts,
};

fuzz_target!(|data: &[u8]| {
    let parts = report_parts(data);
    assert!(parts.len() <= MAX_PARTS);
    for pair in parts.windows(2) {
        assert!(pair[0].index < pair[1].index);
    }
    for p in &parts {
        assert!(p.bytes.len() <= data.len());
    }
    assert!(base64_decode(data).len() <= data.len() / 4 * 3 + 3);
    assert!(qp_decode(data).len() <= data.len());
    let mut total = 0usize;
    let mut count = 0usize;
    let r = for_each_mbox_message(std::io::Cursor::new(data), |i, m| {
        assert_eq!(i, count);
        count += 1;
        if let MboxMessage::Message(bytes) = m {
            total += bytes.len();
        }
        Ok(())
    });
    assert!(r.is_ok());
    assert!(total <= data.len());
});
