//! Fuzz target: the `_smtp._tls` TLS-RPT TXT record parser and RRset rule (RFC 8460 §3).
//! Invariants: no panic; spans lie inside the input; a parsed record has at least one `rua`
//! URI and re-parses to itself from its canonical `Display` form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::tlsrpt_txt;

fuzz_target!(|data: &[u8]| {
    match tlsrpt_txt::parse_record(data) {
        Ok(p) => {
            assert!(!p.record.rua.is_empty());
            for f in &p.findings {
                if let Some(s) = f.span {
                    assert!(s.start <= s.end && s.end <= data.len());
                }
            }
            let again = tlsrpt_txt::parse_record(p.record.to_string().as_bytes());
            assert_eq!(again.map(|a| a.record).as_ref(), Ok(&p.record));
        }
        Err(e) => assert!(e.span.start <= e.span.end && e.span.end <= data.len()),
    }
    let _ = tlsrpt_txt::evaluate_rrset(&[vec![data.to_vec()], vec![data.to_vec()]]);
});
