//! Fuzz target: the `_mta-sts` TXT record parser and RRset rule (RFC 8461 §3.1).
//! Invariants: no panic; error and finding spans lie inside the input; a parsed record
//! re-parses to itself from its canonical `Display` form; a one-record RRset agrees with
//! `parse_record` whenever the record begins with `v=STSv1;`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::records::sts_txt::{self, StsOutcome};

fuzz_target!(|data: &[u8]| {
    let parsed = sts_txt::parse_record(data);
    match &parsed {
        Ok(p) => {
            for f in &p.findings {
                if let Some(s) = f.span {
                    assert!(s.start <= s.end && s.end <= data.len());
                }
            }
            let again = sts_txt::parse_record(p.record.to_string().as_bytes());
            assert_eq!(again.map(|a| a.record).as_ref(), Ok(&p.record));
        }
        Err(e) => assert!(e.span.start <= e.span.end && e.span.end <= data.len()),
    }
    let set = sts_txt::evaluate_rrset(&[vec![data.to_vec()]]);
    if sts_txt::begins_with_version(data) {
        match (&set.outcome, &parsed) {
            (StsOutcome::Valid(r), Ok(p)) => assert_eq!(r, &p.record),
            (StsOutcome::Invalid(e1), Err(e2)) => assert_eq!(e1, e2),
            other => panic!("rrset and parse disagree: {other:?}"),
        }
    } else {
        assert_eq!(set.outcome, StsOutcome::Absent);
    }
    // Split into two strings anywhere: concatenation must not change the verdict.
    let cut = data.len() / 2;
    let split = sts_txt::evaluate_rrset(&[vec![data[..cut].to_vec(), data[cut..].to_vec()]]);
    assert_eq!(split.outcome, set.outcome);
});
