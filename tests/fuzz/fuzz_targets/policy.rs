//! Fuzz target: the MTA-STS policy body parser (RFC 8461 §3.2) and the Content-Type judge.
//! Invariants: no panic; a policy is returned iff there are no errors; spans lie inside the
//! input; a returned policy re-parses to itself from its canonical `Display` form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::policy;

fuzz_target!(|data: &[u8]| {
    let p = policy::parse(data);
    assert_eq!(p.policy.is_some(), p.errors.is_empty());
    for e in &p.errors {
        assert!(e.span.start <= e.span.end && e.span.end <= data.len());
    }
    if let Some(pol) = &p.policy {
        let again = policy::parse(pol.to_string().as_bytes());
        assert_eq!(again.policy.as_ref(), Some(pol));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = policy::content_type_findings(Some(s));
    }
});
