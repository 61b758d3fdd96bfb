//! Fuzz target: the SMTP reply framing (`stsscan::smtp::reply`, RFC 5321 §4.2), the EHLO
//! keyword parser and the injected-plaintext detector, all fed straight from a server.
//! The first input byte sets how the rest is cut into reads (a server may send any split).
//! Invariants: no panic; the parser's memory stays bounded by its caps (an unfinished line
//! never exceeds `max_line`, a reply never exceeds `max_lines`); every reply has a code in
//! 200..=599 and at least one line; after an error the parser keeps returning that error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::smtp::injection::late_plaintext;
use stsscan::smtp::{Capabilities, ReplyLimits, ReplyParser};

fuzz_target!(|data: &[u8]| {
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 64) + 1;
    let limits = ReplyLimits {
        max_line: 128,
        max_reply_bytes: 1024,
        max_lines: 8,
    };
    let mut p = ReplyParser::new(limits);
    let mut failed = None;
    for piece in wire.chunks(chunk) {
        p.feed(piece);
        loop {
            match p.next_reply() {
                None => {
                    assert!(p.buffered().len() <= limits.max_line);
                    assert!(p.partial_lines() <= limits.max_lines);
                    break;
                }
                Some(Ok(r)) => {
                    assert!(failed.is_none());
                    assert!((200..=599).contains(&r.code), "code {}", r.code);
                    assert!(!r.lines.is_empty() && r.lines.len() <= limits.max_lines);
                    let _ = r.summary(80);
                    if r.code == 250 {
                        let _ = Capabilities::from_ehlo(&r.lines);
                    }
                }
                Some(Err(e)) => {
                    if let Some(prev) = failed {
                        assert_eq!(prev, e);
                    }
                    failed = Some(e);
                    assert!(p.buffered().is_empty());
                    break;
                }
            }
        }
    }
    if let Some(text) = late_plaintext(wire) {
        assert!(wire.starts_with(text));
    }
});
