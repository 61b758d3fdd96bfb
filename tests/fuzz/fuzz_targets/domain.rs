//! Fuzz target: domain-name normalization (IDNA UTS-46, LDH, lengths).
//! Invariants: no panic; a normalized name is lowercase LDH ASCII of at most 253 octets with
//! labels of 1..=63 octets, and normalizing it again gives the same name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::domain::{self, normalize};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match normalize(s) {
        Ok(d) => {
            let a = d.as_str();
            assert!(a.len() <= domain::MAX_NAME_LEN);
            assert!(
                a.split('.')
                    .all(|l| !l.is_empty() && l.len() <= domain::MAX_LABEL_LEN)
            );
            assert_eq!(a, a.to_ascii_lowercase());
            assert!(a.split('.').all(domain::is_ldh_label));
            assert_eq!(normalize(a).as_ref(), Ok(&d));
        }
        Err(e) => assert!(e.span.start <= e.span.end && e.span.end <= s.len()),
    }
});
