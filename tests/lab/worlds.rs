//! The lab's worlds are deterministic, have the documented proportions, reach every
//! scenario, and their answers (DNS, HTTPS, SMTP behaviour) agree with their ground truth.
//! The pure tests call the [`World`] methods directly; the end-to-end test starts a small
//! explicit world and queries it with hickory pointed only at the lab DNS address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use hickory_proto::rr::RecordType;
use stsscan::lab::model::{
    CertVariant, DnsOutcome, HttpBehaviour, LabRData, SmtpPersonality, World,
};
use stsscan::lab::world::providers::GOOGLE_MX;
use stsscan::lab::world::serve::POLICY_PATH;
use stsscan::lab::world::vocab::{
    CertVerdict, DnsStatus, MxKind, PolicyFetch, SmtpOutcome, TxtState,
};
use stsscan::lab::world::{
    DomainSource, DomainTruth, ExplicitWorld, GeneratedWorld, LabWorld, Mix, Provider, Scenario,
};

const PROVIDERS: [Provider; 3] = [
    Provider::GoogleLike,
    Provider::MicrosoftLike,
    Provider::SelfHosted,
];

/// Every scenario with every provider, in one explicit world.
fn catalog_world(block: u8) -> LabWorld<ExplicitWorld> {
    let mut b = ExplicitWorld::builder();
    for s in Scenario::ALL {
        for (k, p) in PROVIDERS.iter().enumerate() {
            b = b.domain_at(&format!("{}-p{k}.test", s.name()), *s, *p);
        }
    }
    b.build(block)
}

// ---- independent oracles (written from the RFCs, not from the lab's declarations) --------

/// RFC 8461 §3.2: "Valid patterns can be either fully specified names ("example.com") or
/// suffixes prefixed by a wildcard ("*.example.net")"; §4.1 matches a wildcard against the
/// left-most label only (one label).
fn mx_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest.eq_ignore_ascii_case(suffix)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// RFC 6125 §6.4.3 as narrowed by RFC 8461 §3.3/§4.2: DNS-ID only; a wildcard only as the
/// whole left-most label.
fn cert_name_matches(names: &[String], host: &str) -> bool {
    names.iter().any(|n| mx_matches(n, host))
}

/// The verdict an RFC-exact client reaches on a certificate spec for `host`.
fn oracle_verdict(variant: CertVariant, names: &[String], host: &str) -> CertVerdict {
    match variant {
        CertVariant::Expired => CertVerdict::Expired,
        CertVariant::NotYetValid => CertVerdict::NotYetValid,
        CertVariant::SelfSigned => CertVerdict::SelfSigned,
        CertVariant::UnknownCa => CertVerdict::Untrusted,
        CertVariant::MissingIntermediate => CertVerdict::IncompleteChain,
        // RFC 5280 §4.2.1.12: "If the extension is present, then the certificate MUST only be
        // used for one of the purposes indicated." clientAuth only: not for a TLS server.
        CertVariant::WrongPurpose => CertVerdict::Invalid,
        // No certificate is ever sent: no handshake completes, so no verdict is recorded
        // (the callers check this case before asking).
        CertVariant::NoCertificate => CertVerdict::Invalid,
        CertVariant::Valid | CertVariant::ExpiresInDays(_) => {
            if cert_name_matches(names, host) {
                CertVerdict::Valid
            } else {
                CertVerdict::NameMismatch
            }
        }
    }
}

/// The probe outcome an RFC 3207 client reaches against a personality (with a greeting
/// timeout above 2 s).
fn oracle_smtp(p: SmtpPersonality) -> SmtpOutcome {
    use SmtpPersonality as P;
    match p {
        P::Normal
        | P::MultilineGreeting
        | P::SlowGreeting { .. }
        | P::ConnectionLimit { .. }
        | P::PipelinedAfterStarttls => SmtpOutcome::Ok,
        P::NoStarttls | P::HeloOnly => SmtpOutcome::StarttlsNotOffered,
        P::StarttlsRefused => SmtpOutcome::StarttlsRefused,
        P::HandshakeAbort | P::LateInjectionAfterStarttls => SmtpOutcome::HandshakeFailed,
        P::LegacyTlsOnly => SmtpOutcome::TlsVersionUnsupported,
        P::Tarpit { .. } => SmtpOutcome::GreetingTimeout,
        P::RejectGreeting => SmtpOutcome::GreetingRejected,
        P::TempFailGreeting => SmtpOutcome::GreetingTempfail,
        P::Garbage | P::EndlessContinuation | P::CloseAfterEhlo => SmtpOutcome::ProtocolError,
        P::RejectEhloAndHelo => SmtpOutcome::EhloRejected,
        // RFC 3207 §4.2: the client "SHOULD send an EHLO command as the first command after a
        // successful TLS negotiation" — a close or a 5xx there fails after TLS.
        P::CloseAfterTls | P::RejectEhloAfterTls => SmtpOutcome::PostTlsError,
    }
}

/// Follows a lab answer: the TXT RRs (joined character-strings) at the end of the chain.
fn txt_of(o: &DnsOutcome) -> Vec<Vec<u8>> {
    match o {
        DnsOutcome::Answer { records, .. } => records
            .iter()
            .filter_map(|r| match &r.data {
                LabRData::Txt(strings) => Some(strings.concat()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn status_of(o: &DnsOutcome, has_data: bool) -> DnsStatus {
    match o {
        DnsOutcome::Answer { .. } if has_data => DnsStatus::Noerror,
        DnsOutcome::Answer { .. } => DnsStatus::Nodata,
        DnsOutcome::NxDomain | DnsOutcome::NxDomainAfterCname { .. } => DnsStatus::Nxdomain,
        DnsOutcome::ServFail => DnsStatus::Servfail,
        DnsOutcome::Refused => DnsStatus::Refused,
        DnsOutcome::Drop => DnsStatus::Timeout,
    }
}

/// The TXT state an RFC 8461 §3.1 / RFC 8460 §3 client reaches from the records, using the
/// truth only for "valid vs invalid" (the syntax itself is the scanner's job).
fn tagged_count(records: &[Vec<u8>], tag: &[u8]) -> usize {
    records.iter().filter(|r| r.starts_with(tag)).count()
}

pub(crate) fn a_of(world: &dyn World, name: &str) -> Vec<String> {
    let mut v: Vec<String> = match world.dns(name, RecordType::A).outcome {
        DnsOutcome::Answer { records, .. } => records
            .iter()
            .filter_map(|r| match r.data {
                LabRData::A(a) => Some(a.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    v.sort();
    v
}

// ---- pure tests ---------------------------------------------------------------------------

#[test]
fn scenario_names_are_unique_kebab_case_and_round_trip() {
    let mut seen = HashSet::new();
    for s in Scenario::ALL {
        let n = s.name();
        assert!(seen.insert(n), "duplicate name {n}");
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !n.starts_with('-')
                && !n.ends_with('-'),
            "{n} is not kebab-case"
        );
        assert_eq!(Scenario::from_name(n), Some(*s));
    }
    assert_eq!(Scenario::from_name("no-such-scenario"), None);
}

#[test]
fn realistic_weights_sum_to_one_million_and_reach_every_scenario() {
    let total: u32 = Scenario::ALL.iter().map(|s| s.realistic_weight()).sum();
    assert_eq!(total, 1_000_000);
    for s in Scenario::ALL {
        assert!(
            s.realistic_weight() > 0,
            "{s} unreachable in the realistic mix"
        );
    }
}

#[test]
fn generated_worlds_are_deterministic() {
    let a = GeneratedWorld {
        seed: 42,
        n: 2000,
        mix: Mix::Adversarial,
    };
    let b = a;
    let wa = a.build(200, 4);
    let wb = b.build(200, 4);
    let names: Vec<String> = a.domains().collect();
    assert_eq!(names, b.domains().collect::<Vec<_>>());
    for d in &names {
        assert_eq!(a.scenario_of(d), b.scenario_of(d));
        assert_eq!(wa.truth(d), wb.truth(d));
        assert!(wa.truth(d).is_some());
    }
    let other = GeneratedWorld { seed: 43, ..a };
    let same = names
        .iter()
        .zip(other.domains())
        .filter(|(x, y)| *x == y)
        .count();
    assert!(same < 200, "seed does not change names ({same} equal)");
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "names must be unique");
}

#[test]
fn generated_names_invert_and_strangers_are_not_in_the_world() {
    let g = GeneratedWorld {
        seed: 9,
        n: 1000,
        mix: Mix::Realistic,
    };
    for i in (0..1000).step_by(37) {
        assert_eq!(g.index_of(&g.name(i)), Some(i));
    }
    assert_eq!(g.index_of(&g.name(1000)), None, "index beyond n");
    let n5 = g.name(5);
    for bad in [
        "w05-alpha.test".to_owned(),
        "w-alpha.test".to_owned(),
        "x5-alpha.test".to_owned(),
        format!("{n5}x"),
        "w99999999999999999999999-alpha.test".to_owned(),
        String::new(),
    ] {
        assert_eq!(g.index_of(&bad), None, "{bad}");
        assert_eq!(g.entry(&bad), None, "{bad}");
    }
    let w = g.build(201, 4);
    assert_eq!(
        w.dns("w5-not-the-word.test", RecordType::MX).outcome,
        DnsOutcome::NxDomain
    );
}

#[test]
fn realistic_mix_has_the_documented_proportions() {
    let g = GeneratedWorld {
        seed: 2024,
        n: 100_000,
        mix: Mix::Realistic,
    };
    let w = g.build(202, 8);
    let (mut mx, mut hosts, mut google, mut ms, mut tagged, mut mis, mut breaking, mut rpt) =
        (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
    let mut rpt_without_sts = 0u32;
    for d in g.domains() {
        let t = w.truth(&d).unwrap();
        if matches!(t.mx_kind, MxKind::Hosts | MxKind::MixedNull) {
            mx += 1;
        }
        if t.mx_kind == MxKind::Hosts {
            hosts += 1;
            if t.mx.iter().any(|m| m.mx_host == GOOGLE_MX[0]) {
                google += 1;
            }
            if t.mx
                .iter()
                .any(|m| m.mx_host.ends_with(".mail.protection.outlook.lab"))
            {
                ms += 1;
            }
        }
        if t.sts_tagged() {
            tagged += 1;
            if !t.policy_usable || t.enforce_deliverable == Some(false) {
                mis += 1;
            }
            if t.delivery_breaking() {
                breaking += 1;
            }
        }
        if t.tlsrpt != TxtState::Absent {
            rpt += 1;
            if !t.sts_tagged() {
                rpt_without_sts += 1;
            }
        }
    }
    let pct = |x: u32, of: u32| 100.0 * f64::from(x) / f64::from(of);
    let n = 100_000;
    assert!((55.0..65.0).contains(&pct(mx, n)), "MX {}", pct(mx, n));
    assert!(
        (1.0..3.0).contains(&pct(tagged, n)),
        "MTA-STS {}",
        pct(tagged, n)
    );
    assert!(
        (22.0..40.0).contains(&pct(mis, tagged)),
        "misconfigured {}",
        pct(mis, tagged)
    );
    assert!(
        (1.5..5.0).contains(&pct(breaking, tagged)),
        "breaking {}",
        pct(breaking, tagged)
    );
    assert!((1.5..5.0).contains(&pct(rpt, n)), "TLS-RPT {}", pct(rpt, n));
    assert!(rpt_without_sts > 0, "TLS-RPT without MTA-STS must occur");
    assert!(
        (22.0..28.0).contains(&pct(google, hosts)),
        "google {}",
        pct(google, hosts)
    );
    assert!(
        (8.0..12.0).contains(&pct(ms, hosts)),
        "microsoft {}",
        pct(ms, hosts)
    );
}

#[test]
fn adversarial_mix_reaches_every_scenario_about_equally() {
    let g = GeneratedWorld {
        seed: 7,
        n: 30_000,
        mix: Mix::Adversarial,
    };
    let mut count: BTreeMap<Scenario, u32> = BTreeMap::new();
    for d in g.domains() {
        *count.entry(g.scenario_of(&d)).or_default() += 1;
    }
    let expect = 30_000 / Scenario::ALL.len() as u32;
    for s in Scenario::ALL {
        let c = count.get(s).copied().unwrap_or(0);
        assert!(
            c > expect / 2 && c < expect * 3 / 2,
            "{s}: {c} (expected about {expect})"
        );
    }
}

/// The truth's own definitions (docs/ground-truth.md) hold for every scenario × provider.
#[test]
fn truth_is_internally_consistent() {
    for epoch in [0, 1] {
        consistent(&catalog_world(203).at_epoch(epoch).all_truth());
    }
}

fn consistent(truths: &[DomainTruth]) {
    assert_eq!(truths.len(), Scenario::ALL.len() * PROVIDERS.len());
    for t in truths {
        let d = &t.domain;
        // "policy_usable: sts_txt = valid and policy_fetch = ok and policy_cert = valid and
        // policy_valid"
        assert_eq!(
            t.policy_usable,
            t.sts_txt == TxtState::Valid
                && t.policy_fetch == PolicyFetch::Ok
                && t.policy_cert == Some(CertVerdict::Valid)
                && t.policy_valid == Some(true),
            "{d}"
        );
        // "when policy_usable and the MX lookup did not fail"
        assert_eq!(
            t.enforce_deliverable.is_some(),
            t.policy_usable && t.mx_kind != MxKind::LookupFailed,
            "{d}"
        );
        if let Some(dv) = t.enforce_deliverable {
            let any = t.mx.iter().any(|m| {
                m.mx_policy_match == Some(true)
                    && m.smtp == SmtpOutcome::Ok
                    && m.mx_cert == Some(CertVerdict::Valid)
            });
            assert_eq!(dv, any, "{d}");
        }
        assert_eq!(t.sts_id.is_some(), t.sts_txt == TxtState::Valid, "{d}");
        // "not-attempted (no TXT RR begins with v=STSv1)"
        assert_eq!(
            t.policy_fetch == PolicyFetch::NotAttempted,
            matches!(t.sts_txt, TxtState::Absent | TxtState::LookupFailed),
            "{d}"
        );
        assert_eq!(
            t.policy_valid.is_some(),
            t.policy_fetch == PolicyFetch::Ok,
            "{d}"
        );
        let valid = t.policy_valid == Some(true);
        assert_eq!(t.policy_mode.is_some(), valid, "{d}");
        assert_eq!(t.policy_max_age.is_some(), valid, "{d}");
        assert_eq!(t.policy_mx.is_some(), valid, "{d}");
        assert_eq!(t.tlsrpt_rua.is_some(), t.tlsrpt == TxtState::Valid, "{d}");
        if let Some(rua) = &t.tlsrpt_rua {
            assert!(!rua.is_empty(), "{d}: a valid TLS-RPT record has a rua");
        }
        assert_eq!(
            t.mx.is_empty(),
            matches!(
                t.mx_kind,
                MxKind::Null | MxKind::None | MxKind::LookupFailed
            ),
            "{d}"
        );
        for m in &t.mx {
            assert_eq!(m.mx_policy_match.is_some(), valid, "{d}");
            if let (Some(pats), Some(matched)) = (&t.policy_mx, m.mx_policy_match) {
                let oracle = pats.iter().any(|p| mx_matches(p, &m.mx_host));
                assert_eq!(matched, oracle, "{d}: {} vs {pats:?}", m.mx_host);
            }
            assert_eq!(
                m.mx_cert.is_some(),
                matches!(m.smtp, SmtpOutcome::Ok | SmtpOutcome::PostTlsError),
                "{d}: a certificate verdict needs a completed handshake"
            );
            let mut sorted = m.mx_addresses.clone();
            sorted.sort();
            assert_eq!(sorted, m.mx_addresses, "{d}");
            assert!(!m.mx_addresses.is_empty(), "{d}");
            for a in &m.mx_addresses {
                assert!(a.starts_with("127.203."), "{d}: {a} outside the block");
                assert_ne!(a, "127.203.0.53", "{d}: the DNS server's address");
            }
        }
    }
}

/// What the world serves agrees with its truth, for every scenario × provider.
#[test]
fn world_answers_agree_with_truth() {
    for epoch in [0, 1] {
        answers_agree(catalog_world(204).at_epoch(epoch));
    }
}

fn answers_agree(w: LabWorld<ExplicitWorld>) {
    let listeners = w.listeners();
    let https: HashSet<IpAddr> = listeners.https.iter().copied().collect();
    let smtp: HashSet<IpAddr> = listeners.smtp.iter().copied().collect();
    assert!(!https.contains(&"127.204.0.53".parse::<IpAddr>().unwrap()));
    assert!(!smtp.contains(&"127.204.0.53".parse::<IpAddr>().unwrap()));
    for t in w.all_truth() {
        check_dns(&w, &t);
        check_policy_host(&w, &t, &https);
        check_mx(&w, &t, &smtp);
    }
}

fn check_dns(w: &LabWorld<ExplicitWorld>, t: &DomainTruth) {
    let d = &t.domain;
    // RFC 8461 §3.1: "records that do not begin with "v=STSv1;" are discarded" (multiple
    // records case) — the truth counts records beginning with `v=STSv1`.
    let sts = w.dns(&format!("_mta-sts.{d}"), RecordType::TXT).outcome;
    let recs = txt_of(&sts);
    assert_eq!(status_of(&sts, !recs.is_empty()), t.sts_txt_dns, "{d}");
    let n = tagged_count(&recs, b"v=STSv1");
    match t.sts_txt {
        TxtState::Absent => assert_eq!(n, 0, "{d}"),
        TxtState::Valid | TxtState::Invalid => assert_eq!(n, 1, "{d}"),
        TxtState::Multiple => assert!(n > 1, "{d}"),
        TxtState::LookupFailed => assert!(
            matches!(
                sts,
                DnsOutcome::ServFail | DnsOutcome::Refused | DnsOutcome::Drop
            ),
            "{d}"
        ),
    }
    if let Some(id) = &t.sts_id {
        let rec = recs.iter().find(|r| r.starts_with(b"v=STSv1")).unwrap();
        let text = String::from_utf8_lossy(rec);
        assert!(text.contains(&format!("id={id}")), "{d}: {text}");
    }
    // CNAME hops answer by themselves with the rest of the chain.
    if let DnsOutcome::Answer { records, .. } = &sts {
        for r in records {
            if let LabRData::Cname(target) = &r.data {
                let next = w.dns(target, RecordType::TXT).outcome;
                assert_eq!(txt_of(&next), recs, "{d}: hop {target}");
            }
        }
    }
    // A dangling alias: NXDOMAIN with the chain, whose last target is NXDOMAIN by itself
    // (RFC 6604 §3: the RCODE is that of the final query cycle).
    if let DnsOutcome::NxDomainAfterCname { records } = &sts {
        assert!(!records.is_empty(), "{d}");
        assert_eq!(records[0].name, format!("_mta-sts.{d}"), "{d}");
        let LabRData::Cname(last) = &records[records.len() - 1].data else {
            panic!("{d}: only CNAMEs: {records:?}");
        };
        assert_eq!(
            w.dns(last, RecordType::TXT).outcome,
            DnsOutcome::NxDomain,
            "{d}"
        );
    }
    // RFC 8460 §3: ""v": This document defines version 1 of TLSRPT, for which this value
    // MUST be equal to "TLSRPTv1"."
    let rpt = w.dns(&format!("_smtp._tls.{d}"), RecordType::TXT).outcome;
    let rrecs = txt_of(&rpt);
    let n = tagged_count(&rrecs, b"v=TLSRPTv1");
    match t.tlsrpt {
        TxtState::Absent => assert_eq!(n, 0, "{d}"),
        TxtState::Valid | TxtState::Invalid => assert_eq!(n, 1, "{d}"),
        TxtState::Multiple => assert!(n > 1, "{d}"),
        TxtState::LookupFailed => assert!(
            matches!(
                rpt,
                DnsOutcome::ServFail | DnsOutcome::Refused | DnsOutcome::Drop
            ),
            "{d}"
        ),
    }
    if let Some(rua) = &t.tlsrpt_rua {
        let text = String::from_utf8_lossy(&rrecs[0]).into_owned();
        for u in rua {
            assert!(text.contains(u.as_str()), "{d}: {u} not in {text}");
            assert!(
                u.starts_with("mailto:") || u.starts_with("https://"),
                "{d}: {u}"
            );
        }
    }
}

fn check_policy_host(w: &LabWorld<ExplicitWorld>, t: &DomainTruth, https: &HashSet<IpAddr>) {
    let d = &t.domain;
    let host = format!("mta-sts.{d}");
    let o = w.dns(&host, RecordType::A).outcome;
    let addrs = a_of(w, &host);
    match t.policy_fetch {
        PolicyFetch::NotAttempted => return,
        PolicyFetch::HostNotFound => {
            assert_eq!(o, DnsOutcome::NxDomain, "{d}");
            return;
        }
        PolicyFetch::DnsError => {
            assert_eq!(o, DnsOutcome::ServFail, "{d}");
            return;
        }
        PolicyFetch::ConnectRefused => {
            assert_eq!(addrs.len(), 1, "{d}");
            let a: IpAddr = addrs[0].parse().unwrap();
            assert!(!https.contains(&a), "{d}: something listens on {a}");
            assert!(
                !w.listeners().blackhole.contains(&a),
                "{d}: {a} is a black hole"
            );
            return;
        }
        PolicyFetch::ConnectTimeout => {
            assert_eq!(addrs.len(), 1, "{d}");
            let a: IpAddr = addrs[0].parse().unwrap();
            assert!(
                w.listeners().blackhole.contains(&a),
                "{d}: {a} is no black hole"
            );
            assert!(!https.contains(&a), "{d}: {a} serves HTTPS");
            return;
        }
        _ => {}
    }
    assert_eq!(addrs.len(), 1, "{d}");
    let a: IpAddr = addrs[0].parse().unwrap();
    assert!(https.contains(&a), "{d}: nothing listens on {a}");
    let cert = w.https_cert(a, Some(&host));
    if t.policy_fetch == PolicyFetch::TlsError {
        // The handshake is refused with an alert before any certificate: no verdict.
        assert_eq!(cert.variant, CertVariant::NoCertificate, "{d}");
        assert_eq!(t.policy_cert, None, "{d}");
        assert_eq!(t.policy_http_status, None, "{d}");
        return;
    }
    assert_eq!(
        Some(oracle_verdict(cert.variant, &cert.names, &host)),
        t.policy_cert,
        "{d}: {cert:?}"
    );
    let resp = w.https_response(a, Some(&host), Some(&host), POLICY_PATH);
    match (t.policy_fetch, resp) {
        (PolicyFetch::Timeout, HttpBehaviour::Stall) => {}
        (PolicyFetch::ConnectionClosed, HttpBehaviour::Close) => {}
        (fetch, HttpBehaviour::Respond(r)) => {
            assert_eq!(Some(r.status), t.policy_http_status, "{d}");
            // RFC 8461 §3.3: "Policies fetched via HTTPS are only valid if the HTTP response
            // code is 200 (OK). HTTP 3xx redirects MUST NOT be followed".
            match fetch {
                PolicyFetch::Redirect => {
                    assert!((300..400).contains(&r.status), "{d}");
                    assert!(r.headers.iter().any(|(k, _)| k == "Location"), "{d}");
                }
                PolicyFetch::HttpStatus => assert!(r.status != 200 && r.status / 100 != 3),
                PolicyFetch::TooLarge => {
                    assert_eq!(r.status, 200);
                    assert!(r.body.len() > 65_536, "{d}");
                }
                PolicyFetch::Ok => {
                    assert_eq!(r.status, 200);
                    assert!(r.body.len() <= 65_536, "{d}");
                    check_policy_body(t, &r.body);
                }
                other => panic!("{d}: {other} with a response"),
            }
        }
        (fetch, resp) => panic!("{d}: truth {fetch} but the host does {resp:?}"),
    }
}

/// A valid policy's body carries exactly the truth's fields (RFC 8461 §3.2 key/value lines).
pub(crate) fn check_policy_body(t: &DomainTruth, body: &[u8]) {
    let d = &t.domain;
    let text = String::from_utf8_lossy(body);
    if t.policy_valid != Some(true) {
        return;
    }
    assert!(text.starts_with("version: STSv1"), "{d}: {text:?}");
    let lines: Vec<&str> = text
        .split(['\n'])
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let mode = t.policy_mode.unwrap().as_str();
    assert_eq!(
        lines.iter().find(|l| l.starts_with("mode:")).copied(),
        Some(format!("mode: {mode}").as_str()),
        "{d}: first mode wins"
    );
    let age = t.policy_max_age.unwrap();
    assert!(lines.contains(&format!("max_age: {age}").as_str()), "{d}");
    let mx: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("mx: "))
        .collect();
    let want: Vec<&str> = t
        .policy_mx
        .as_ref()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(mx, want, "{d}");
}

fn check_mx(w: &LabWorld<ExplicitWorld>, t: &DomainTruth, smtp: &HashSet<IpAddr>) {
    let d = &t.domain;
    let o = w.dns(d, RecordType::MX).outcome;
    if t.mx_kind == MxKind::LookupFailed {
        assert!(
            matches!(
                o,
                DnsOutcome::ServFail | DnsOutcome::Refused | DnsOutcome::Drop
            ),
            "{d}"
        );
        return;
    }
    let DnsOutcome::Answer { records, .. } = &o else {
        panic!("{d}: MX {o:?}");
    };
    let mut null = false;
    let mut hosts = Vec::new();
    for r in records {
        if let LabRData::Mx {
            preference,
            exchange,
        } = &r.data
        {
            if exchange.is_empty() {
                // RFC 7505 §3: "a single MX RR (see Section 3.3.9 of [RFC1035]) with an RDATA
                // section consisting of preference number 0 and a zero-length label"
                assert_eq!(*preference, 0, "{d}");
                null = true;
            } else {
                hosts.push((exchange.clone(), *preference));
            }
        }
    }
    let kind = match (null, hosts.is_empty()) {
        (true, true) => MxKind::Null,
        (true, false) => MxKind::MixedNull,
        (false, false) => MxKind::Hosts,
        (false, true) if a_of(w, d).is_empty() => MxKind::None,
        // RFC 5321 §5.1: "If an empty list of MXs is returned, the address is treated as if
        // it was associated with an implicit MX RR, with a preference of 0"
        (false, true) => MxKind::Implicit,
    };
    assert_eq!(kind, t.mx_kind, "{d}");
    if kind == MxKind::Implicit {
        assert_eq!(t.mx.len(), 1);
        assert_eq!(t.mx[0].mx_host, *d);
        assert_eq!(t.mx[0].mx_preference, 0);
    } else {
        let truth: Vec<(String, u16)> =
            t.mx.iter()
                .map(|m| (m.mx_host.clone(), m.mx_preference))
                .collect();
        assert_eq!(hosts, truth, "{d}");
    }
    for m in &t.mx {
        assert_eq!(a_of(w, &m.mx_host), m.mx_addresses, "{d}: {}", m.mx_host);
        for a in &m.mx_addresses {
            let ip: IpAddr = a.parse().unwrap();
            if m.smtp == SmtpOutcome::ConnectRefused {
                assert!(!smtp.contains(&ip), "{d}: something listens on {ip}");
                assert!(!w.listeners().blackhole.contains(&ip), "{d}: {ip}");
                continue;
            }
            if m.smtp == SmtpOutcome::ConnectTimeout {
                assert!(!smtp.contains(&ip), "{d}: something answers on {ip}");
                assert!(
                    w.listeners().blackhole.contains(&ip),
                    "{d}: {ip} is no black hole"
                );
                assert_eq!((m.starttls, m.mx_cert), (None, None), "{d}");
                continue;
            }
            assert!(smtp.contains(&ip), "{d}: nothing listens on {ip}");
            let p = w.smtp_personality(ip);
            assert_eq!(oracle_smtp(p), m.smtp, "{d}: {p:?}");
            assert_eq!(
                m.starttls_injection == Some(true),
                matches!(
                    p,
                    SmtpPersonality::PipelinedAfterStarttls
                        | SmtpPersonality::LateInjectionAfterStarttls
                ),
                "{d}"
            );
            if let Some(v) = m.mx_cert {
                let c = w.smtp_cert(ip, Some(&m.mx_host));
                assert_eq!(
                    oracle_verdict(c.variant, &c.names, &m.mx_host),
                    v,
                    "{d}: {c:?}"
                );
            }
        }
    }
}

/// RFC 8461 §3.2 ABNF: `sts-policy-mx ; required at least once, except when mode is "none"`
/// — `nmx:` is an extension field, so an enforce policy with only `nmx:` lines is invalid.
#[test]
fn nmx_typo_is_an_invalid_policy() {
    let w = ExplicitWorld::builder()
        .domain("typo.test", Scenario::PolicyNmxTypo)
        .domain("none.test", Scenario::NoneNoMx)
        .build(205);
    let t = w.truth("typo.test").unwrap();
    assert_eq!(t.policy_fetch, PolicyFetch::Ok);
    assert_eq!(t.policy_valid, Some(false));
    assert!(!t.policy_usable);
    let a: IpAddr = a_of(&w, "mta-sts.typo.test")[0].parse().unwrap();
    let HttpBehaviour::Respond(r) =
        w.https_response(a, Some("mta-sts.typo.test"), None, POLICY_PATH)
    else {
        panic!("no response");
    };
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("nmx: mx.typo.test"), "{body}");
    assert!(!body.lines().any(|l| l.starts_with("mx:")), "{body}");
    // Without mx lines, mode none is fine.
    let t = w.truth("none.test").unwrap();
    assert_eq!(t.policy_valid, Some(true));
    assert_eq!(t.policy_mx, Some(Vec::new()));
}

/// RFC 8461 §3.3 lets senders limit the response body size ("a suggested maximum policy size
/// is 64 kilobytes"); the project caps at 64 KiB and calls a larger body too large, whatever
/// the framing.
#[test]
fn oversized_policies_are_too_large_with_either_framing() {
    let w = ExplicitWorld::builder()
        .domain("len.test", Scenario::PolicyTooLargeLength)
        .domain("chunk.test", Scenario::PolicyTooLargeChunked)
        .build(206);
    for d in ["len.test", "chunk.test"] {
        let t = w.truth(d).unwrap();
        assert_eq!(t.policy_fetch, PolicyFetch::TooLarge);
        assert_eq!(t.policy_http_status, Some(200));
        assert_eq!(t.policy_valid, None);
    }
}

/// A wildcard covers exactly one label: `*.mx.D` does not cover `a.b.mx.D`, so an enforce
/// policy with that pattern breaks delivery.
#[test]
fn wildcard_too_deep_breaks_delivery() {
    let w = ExplicitWorld::builder()
        .domain("deep.test", Scenario::MxWildcardTooDeep)
        .build(207);
    let t = w.truth("deep.test").unwrap();
    assert_eq!(t.policy_mx, Some(vec!["*.mx.deep.test".to_owned()]));
    assert_eq!(t.mx[0].mx_host, "a.b.mx.deep.test");
    assert_eq!(t.mx[0].mx_policy_match, Some(false));
    assert!(!mx_matches("*.mx.deep.test", "a.b.mx.deep.test"));
    assert!(t.delivery_breaking());
}

#[test]
fn generated_world_serves_any_of_its_names_without_memory() {
    let g = GeneratedWorld {
        seed: 5,
        n: 10_000_000,
        mix: Mix::Realistic,
    };
    let w = g.build(208, 8);
    let name = g.name(9_999_999);
    assert!(w.truth(&name).is_some());
    assert_ne!(w.dns(&name, RecordType::MX).outcome, DnsOutcome::NxDomain);
    assert_eq!(
        w.dns(&name, RecordType::MX).delay,
        std::time::Duration::ZERO
    );
    let slow = g
        .build(208, 8)
        .with_dns_delay(std::time::Duration::from_millis(300));
    assert_eq!(
        slow.dns(&name, RecordType::MX).delay,
        std::time::Duration::from_millis(300)
    );
    // 3 Google-like + 4 Microsoft-like + pool size × server classes, whatever N is.
    let classes = stsscan::lab::world::scenario::catalog_servers().len();
    assert_eq!(w.listeners().smtp.len(), 7 + 8 * classes);
    assert_eq!(w.listeners().https.len(), 4);
    assert_eq!(w.listeners().blackhole.len(), 1);
    assert_eq!(classes, 27, "docs/lab.md lists the listener count");
    let lossy = g
        .build(208, 8)
        .with_dns_drop_rate(stsscan::lab::model::DropRate::from_probability(0.01).unwrap());
    assert_eq!(lossy.dns(&name, RecordType::MX).drop_rate.ppm(), 10_000);
    assert!(w.dns(&name, RecordType::MX).drop_rate.is_none());
}

#[test]
fn truth_writers_round_trip_row_counts() {
    let g = GeneratedWorld {
        seed: 3,
        n: 20_000,
        mix: Mix::Adversarial,
    };
    let w = g.build(209, 4);
    let dir = tempfile::tempdir().unwrap();
    let dp = dir.path().join("t.parquet");
    let mp = dir.path().join("t.mx.parquet");
    let rows = || g.domains().filter_map(|d| w.truth(&d));
    let n = stsscan::lab::world::write::write_parquet(
        rows(),
        std::fs::File::create(&dp).unwrap(),
        std::fs::File::create(&mp).unwrap(),
        &[("lab.seed".to_owned(), "3".to_owned())],
    )
    .unwrap();
    assert_eq!(n, 20_000);
    let mx_rows: usize = rows().map(|t| t.mx.len()).sum();
    let read = |p: &std::path::Path| {
        let f = std::fs::File::open(p).unwrap();
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum::<usize>()
    };
    assert_eq!(read(&dp), 20_000);
    let f = std::fs::File::open(&dp).unwrap();
    let meta = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    let kv = parquet::file::reader::FileReader::metadata(&meta)
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    assert!(
        kv.iter()
            .any(|k| k.key == "lab.seed" && k.value.as_deref() == Some("3"))
    );
    assert_eq!(read(&mp), mx_rows);
    let mut buf = Vec::new();
    let n = stsscan::lab::world::write::write_jsonl(rows().take(100), &mut buf).unwrap();
    assert_eq!(n, 100);
    let first: serde_json::Value =
        serde_json::from_slice(buf.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["domain"], serde_json::json!(g.name(0)));
}

mod e2e;

/// "Over time" scenarios: identical to a valid enforce setup at epoch 0, changed from epoch 1.
/// RFC 8461 §3.1: the `id` is "A short string used to track policy updates. This string MUST
/// uniquely identify a given instance of a policy, such that senders can determine when the
/// policy has been updated by comparing to the "id" of a previously seen policy."
#[test]
fn over_time_scenarios_change_from_epoch_one() {
    let build = || {
        ExplicitWorld::builder()
            .domain("edited.test", Scenario::OverTimePolicyEditedIdKept)
            .domain("bumped.test", Scenario::OverTimeIdBumpedNoChange)
            .domain("removed.test", Scenario::OverTimeTxtRemoved)
            .domain("moved.test", Scenario::OverTimeMxMoved)
            .domain("steady.test", Scenario::EnforceValid)
            .build(210)
    };
    let w0 = build();
    let w1 = build().at_epoch(1);
    let t = |w: &LabWorld<ExplicitWorld>, d: &str| w.truth(d).unwrap();
    for d in ["edited.test", "bumped.test", "removed.test", "moved.test"] {
        let a = t(&w0, d);
        assert!(a.policy_usable, "{d}");
        assert_eq!(a.enforce_deliverable, Some(true), "{d}");
        assert_eq!(
            a.policy_mode,
            Some(stsscan::lab::world::vocab::PolicyMode::Enforce)
        );
    }
    // Policy edited, id kept: same id, different policy.
    let (a, b) = (t(&w0, "edited.test"), t(&w1, "edited.test"));
    assert_eq!(a.sts_id, b.sts_id);
    assert_ne!(a.policy_mode, b.policy_mode);
    // Id bumped, nothing else changed.
    let (a, b) = (t(&w0, "bumped.test"), t(&w1, "bumped.test"));
    assert_ne!(a.sts_id, b.sts_id);
    assert_eq!(
        (&a.policy_mode, &a.policy_mx),
        (&b.policy_mode, &b.policy_mx)
    );
    // TXT removed while the policy host still serves enforce.
    let b = t(&w1, "removed.test");
    assert_eq!(b.sts_txt, TxtState::Absent);
    assert_eq!(b.policy_fetch, PolicyFetch::NotAttempted);
    let a: IpAddr = a_of(&w1, "mta-sts.removed.test")[0].parse().unwrap();
    let HttpBehaviour::Respond(r) =
        w1.https_response(a, Some("mta-sts.removed.test"), None, POLICY_PATH)
    else {
        panic!("policy no longer served");
    };
    assert!(String::from_utf8_lossy(&r.body).contains("mode: enforce"));
    // MX moved, policy not updated: delivery breaks.
    let b = t(&w1, "moved.test");
    assert_eq!(b.mx[0].mx_host, GOOGLE_MX[0]);
    assert_eq!(b.policy_mx, Some(vec!["mx.moved.test".to_owned()]));
    assert!(b.delivery_breaking());
    // Everything else is the same at every epoch.
    assert_eq!(t(&w0, "steady.test"), t(&w1, "steady.test"));
    assert_eq!(
        w0.dns("moved.test", RecordType::MX),
        build().dns("moved.test", RecordType::MX)
    );
    assert_ne!(
        w0.dns("moved.test", RecordType::MX),
        w1.dns("moved.test", RecordType::MX)
    );
}

/// Every SMTP outcome and every policy-fetch outcome of the graded vocabulary is produced by
/// at least one scenario of the catalog, so the e2e "every scenario" scan exercises the
/// scanner on each of them.
#[test]
fn catalog_produces_every_smtp_and_fetch_outcome() {
    let w = catalog_world(205);
    let truths = w.all_truth();
    for o in SmtpOutcome::ALL {
        assert!(
            truths.iter().any(|t| t.mx.iter().any(|m| m.smtp == *o)),
            "no scenario yields smtp = {o}"
        );
    }
    for f in PolicyFetch::ALL {
        assert!(
            truths.iter().any(|t| t.policy_fetch == *f),
            "no scenario yields policy_fetch = {f}"
        );
    }
    // The dangling alias keeps its declared truth (absent, NXDOMAIN) while being served with
    // the CNAME in the answer.
    let t = w.truth("txt-cname-dangling-p2.test").unwrap();
    assert_eq!(
        (t.sts_txt, t.sts_txt_dns),
        (TxtState::Absent, DnsStatus::Nxdomain)
    );
    let o = w
        .dns("_mta-sts.txt-cname-dangling-p2.test", RecordType::TXT)
        .outcome;
    assert!(matches!(o, DnsOutcome::NxDomainAfterCname { .. }), "{o:?}");
}
