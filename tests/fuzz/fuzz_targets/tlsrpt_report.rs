//! Fuzz target: the TLS-RPT JSON report parser (RFC 8460 §4), plain and gzip.
//! Invariants: no panic; a report is returned iff there are no errors; spans lie inside the
//! input; inflation stays under the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::tlsrpt_report;

fuzz_target!(|data: &[u8]| {
    let p = tlsrpt_report::parse(data);
    assert_eq!(p.report.is_some(), p.errors.is_empty());
    for e in &p.errors {
        assert!(e.span.end <= data.len());
    }
    let g = tlsrpt_report::parse_gzip(data);
    assert_eq!(g.report.is_some(), g.errors.is_empty());
});
