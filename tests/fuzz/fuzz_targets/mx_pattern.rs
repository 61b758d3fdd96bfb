//! Fuzz target: MX pattern parsing and matching (RFC 8461 §3.2, §4.1) and MX RRset
//! classification (RFC 7505, RFC 5321 §5.1).
//! Invariants: no panic; a parsed pattern round-trips through `Display`; a wildcard pattern
//! never matches its own base nor a name two labels deeper; a plain pattern matches itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::mx::{MxPattern, classify};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (pat, host) = s.split_once('\n').unwrap_or((s, ""));
    if let Ok(p) = MxPattern::parse(pat) {
        assert_eq!(MxPattern::parse(&p.to_string()).as_ref(), Ok(&p));
        let _ = p.matches(host);
        if p.is_wildcard() {
            assert!(!p.matches(p.base()));
            assert!(!p.matches(&format!("a.b.{}", p.base())));
            assert!(p.matches(&format!("a.{}", p.base())));
        } else {
            assert!(p.matches(p.base()));
        }
    }
    let answers: Vec<(u16, &str)> = host
        .split(' ')
        .enumerate()
        .map(|(i, h)| (u16::try_from(i).unwrap_or(u16::MAX), h))
        .collect();
    let a = classify(pat, &answers);
    assert!(a.set.hosts().len() <= stsscan::records::mx::MAX_MX_HOSTS);
});
