//! The closed vocabularies documented for the dataset (`stsscan::output::vocab`, and through it
//! docs/schema.md) must contain every value the producing code can write.

use stsscan::output::vocab::check;

#[test]
fn every_produced_status_is_documented() {
    for s in stsscan::dns::DnsStatus::ALL {
        for col in ["sts_txt_dns", "tlsrpt_dns", "mx_dns"] {
            check("domains", col, s.as_str()).unwrap();
        }
        check("mx", "address_dns", s.as_str()).unwrap();
    }
    for s in stsscan::smtp::SmtpStatus::ALL {
        check("mx", "smtp", s.as_str()).unwrap();
    }
    for s in stsscan::fetch::FetchOutcome::ALL {
        check("domains", "policy_fetch", s.as_str()).unwrap();
    }
    for v in [
        "not-attempted",
        "host-not-found",
        "dns-error",
        "address-refused",
        // the policy host is on --exclude
        "excluded",
    ] {
        check("domains", "policy_fetch", v).unwrap();
    }
    // every kind of input line (`pipeline::input::EntryKind`) as `Scanner::scan_entry` writes it
    for v in ["ok", "invalid", "duplicate", "excluded"] {
        check("domains", "input_status", v).unwrap();
    }
    for s in stsscan::tls::CertVerdict::ALL {
        check("domains", "policy_cert", s.as_str()).unwrap();
        check("mx", "mx_cert", s.as_str()).unwrap();
        check("mx", "chain_verdict", s.as_str()).unwrap();
    }
    for ip in [
        "10.0.0.1",
        "127.0.0.1",
        "169.254.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "0.0.0.0",
        "192.0.2.1",
        "100.64.0.1",
        "198.18.0.1",
        "255.255.255.255",
    ] {
        let r = stsscan::dns::safety::classify(ip.parse().unwrap()).unwrap();
        check("mx", "address_refused", r.as_str()).unwrap();
    }
    for v in ["TLSv1.2", "TLSv1.3"] {
        check("mx", "tls_version", v).unwrap();
    }
}
