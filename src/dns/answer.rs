//! Interpretation of one DNS response: RCODE → [`DnsStatus`], the CNAME chain in the answer
//! section (RFC 1034 §4.3.2), the records of the queried type at its end, the TTL (RFC 2308
//! §5 for negative answers), NODATA told apart from a referral (RFC 2308 §2.2). Pure: no I/O, no clock; every answer it is given is untrusted and
//! bounded (a message is at most 65 535 octets, a chain at most [`MAX_CNAME_CHAIN`] names).

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

use super::DnsStatus;

/// The longest CNAME chain followed; a longer one is `cname-loop`.
pub const MAX_CNAME_CHAIN: usize = 8;

/// Detail strings are cut to this many bytes.
const MAX_DETAIL: usize = 200;

pub(super) fn name_to_string(name: &Name) -> String {
    let s = name.to_lowercase().to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_string()
}

pub(super) fn cut(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// What one response (after retries) says about one name.
pub(super) enum Step {
    /// A final status with the records found at the end of the chain.
    Done {
        status: DnsStatus,
        records: Vec<RData>,
        chain: Vec<Name>,
        ttl: Option<u32>,
        detail: Option<String>,
    },
    /// The chain ends in a name the response says nothing about: ask again for it.
    Follow { chain: Vec<Name>, ttl: Option<u32> },
}

/// RFC 2308 §5: the negative TTL is the minimum of the SOA record's TTL and its MINIMUM.
fn negative_ttl(m: &Message) -> Option<u32> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    })
}

/// RFC 2308 §2.2: a NOERROR response without the data is a referral, not NODATA, when its
/// authority section has NS records and no SOA. Returns the detail naming where it referred
/// to (`referral to example.com. (NS a.iana-servers.net.)`), `None` when it is not one.
fn referral_detail(authorities: &[Record]) -> Option<String> {
    if authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
    {
        return None;
    }
    let mut ns = authorities.iter().filter_map(|r| match &r.data {
        RData::NS(ns) => Some((&r.name, &ns.0)),
        _ => None,
    });
    let (zone, first) = ns.next()?;
    let more = ns.count();
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some(cut(format!(
        "referral to {zone} (NS {first}{more}): the server does not recurse"
    )))
}

pub(super) fn with_detail(step: Step, d: String) -> Step {
    match step {
        Step::Done {
            status,
            records,
            chain,
            ttl,
            ..
        } => Step::Done {
            status,
            records,
            chain,
            ttl,
            detail: Some(cut(d)),
        },
        other => other,
    }
}

pub(super) fn parse_name(name: &str) -> Result<Name, String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("empty name".into());
    }
    if !trimmed.is_ascii() {
        return Err(cut(format!("not an A-label name: {name:?}")));
    }
    let mut n = Name::from_ascii(trimmed).map_err(|e| cut(format!("{name:?}: {e}")))?;
    n.set_fqdn(true);
    Ok(n)
}

fn done(status: DnsStatus, chain: Vec<Name>, ttl: Option<u32>, detail: Option<String>) -> Step {
    Step::Done {
        status,
        records: Vec::new(),
        chain,
        ttl,
        detail,
    }
}

fn rcode_status(code: ResponseCode) -> DnsStatus {
    match code {
        ResponseCode::NoError => DnsStatus::NoData,
        ResponseCode::NXDomain => DnsStatus::NxDomain,
        ResponseCode::ServFail => DnsStatus::ServFail,
        ResponseCode::Refused => DnsStatus::Refused,
        ResponseCode::FormErr => DnsStatus::FormErr,
        ResponseCode::NotImp => DnsStatus::NotImp,
        _ => DnsStatus::OtherRcode,
    }
}

/// Maps one transport result to a step. `chain` is the chain followed so far.
pub(super) fn interpret(
    qname: &Name,
    rtype: RecordType,
    chain: &[Name],
    res: Result<Message, NetError>,
) -> Step {
    let chain = chain.to_vec();
    let response = match res {
        Ok(r) => r,
        Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
            // hickory turns every answer-less NOERROR/NXDOMAIN into this error, a referral
            // included (its `ns`, without an `soa`)
            if nr.response_code == ResponseCode::NoError {
                let authorities = nr.authorities.as_deref().unwrap_or_default();
                if let Some(detail) = referral_detail(authorities) {
                    return done(DnsStatus::Referral, chain, None, Some(detail));
                }
            }
            let status = rcode_status(nr.response_code);
            let detail = status
                .is_failure()
                .then(|| format!("RCODE {}", nr.response_code));
            return done(status, chain, nr.negative_ttl, detail);
        }
        Err(NetError::Dns(DnsError::ResponseCode(code))) => {
            let status = rcode_status(code);
            return done(status, chain, None, Some(format!("RCODE {code}")));
        }
        Err(NetError::Timeout) => {
            return done(DnsStatus::Timeout, chain, None, Some("no answer".into()));
        }
        Err(NetError::Truncated) => {
            return done(
                DnsStatus::Truncated,
                chain,
                None,
                Some("TC=1 over TCP".into()),
            );
        }
        Err(e) => {
            return done(
                DnsStatus::NetworkError,
                chain,
                None,
                Some(cut(e.to_string())),
            );
        }
    };
    let code = response.metadata.response_code;
    if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
        return done(
            rcode_status(code),
            chain,
            None,
            Some(format!("RCODE {code}")),
        );
    }
    follow_answers(qname, rtype, chain, &response)
}

/// Walks the answer section from `qname` along CNAMEs and collects the records of `rtype`.
fn follow_answers(
    qname: &Name,
    rtype: RecordType,
    mut chain: Vec<Name>,
    response: &Message,
) -> Step {
    let answers: &[Record] = &response.answers;
    let mut target = qname.clone();
    let mut ttl: Option<u32> = None;
    let min = |ttl: Option<u32>, t: u32| Some(ttl.map_or(t, |x| x.min(t)));
    let mut followed_here = false;
    if rtype != RecordType::CNAME {
        // at most one hop per answer record: bounded by the answer count
        for _ in 0..answers.len() {
            let next = answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.name == target => Some((c.0.clone(), r.ttl)),
                _ => None,
            });
            let Some((next, t)) = next else { break };
            if next == *qname || chain.contains(&next) {
                chain.push(next);
                return done(
                    DnsStatus::CnameLoop,
                    chain,
                    None,
                    Some("CNAME chain loops".into()),
                );
            }
            chain.push(next.clone());
            if chain.len() > MAX_CNAME_CHAIN {
                return done(
                    DnsStatus::CnameLoop,
                    chain,
                    None,
                    Some(format!("CNAME chain longer than {MAX_CNAME_CHAIN}")),
                );
            }
            ttl = min(ttl, t);
            target = next;
            followed_here = true;
        }
    }
    let mut records = Vec::new();
    for r in answers {
        if r.name == target && r.record_type() == rtype {
            // A record without data (RDLENGTH 0) is only meaningful in an UPDATE message
            // (hickory decodes it as `Update0`); in an answer it is malformed, and counting
            // it would make "noerror" without a usable record.
            if matches!(r.data, RData::Update0(_)) {
                return done(
                    DnsStatus::NetworkError,
                    chain,
                    None,
                    Some(format!("malformed answer: a {rtype} record without data")),
                );
            }
            ttl = min(ttl, r.ttl);
            records.push(r.data.clone());
        }
    }
    if !records.is_empty() {
        return Step::Done {
            status: DnsStatus::NoError,
            records,
            chain,
            ttl,
            detail: None,
        };
    }
    let negative_ttl = negative_ttl(response);
    if response.metadata.response_code == ResponseCode::NXDomain {
        return done(DnsStatus::NxDomain, chain, negative_ttl, None);
    }
    // NOERROR without data at the end of the chain. With an SOA (or without a chain) this is
    // NODATA; a chain that stops at a name with nothing said about it is followed.
    let has_soa = response
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA);
    if followed_here && !has_soa {
        return Step::Follow { chain, ttl };
    }
    // RFC 2308 §2.2: NS records and no SOA in the authority section make it a referral.
    if let Some(detail) = referral_detail(&response.authorities) {
        return done(DnsStatus::Referral, chain, None, Some(detail));
    }
    done(DnsStatus::NoData, chain, negative_ttl, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::{OpCode, Query};
    use hickory_resolver::proto::rr::rdata::{A, CNAME, NS, SOA};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn resp(code: ResponseCode, answers: Vec<Record>, soa: bool) -> Message {
        let mut m = Message::response(1, OpCode::Query);
        m.metadata.response_code = code;
        m.answers = answers;
        if soa {
            m.authorities.push(Record::from_rdata(
                n("example."),
                300,
                RData::SOA(SOA::new(n("ns.example."), n("h.example."), 1, 1, 1, 1, 60)),
            ));
        }
        m
    }

    fn cname(from: &str, to: &str, ttl: u32) -> Record {
        Record::from_rdata(n(from), ttl, RData::CNAME(CNAME(n(to))))
    }

    fn a(name: &str, ip: [u8; 4], ttl: u32) -> Record {
        Record::from_rdata(
            n(name),
            ttl,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        )
    }

    #[test]
    fn chain_in_one_answer() {
        let r = resp(
            ResponseCode::NoError,
            vec![
                cname("a.example.", "b.example.", 50),
                cname("b.example.", "c.example.", 40),
                a("c.example.", [192, 0, 2, 1], 100),
            ],
            false,
        );
        match follow_answers(&n("A.example."), RecordType::A, vec![], &r) {
            Step::Done {
                status,
                records,
                chain,
                ttl,
                ..
            } => {
                assert_eq!(status, DnsStatus::NoError);
                assert_eq!(records.len(), 1);
                assert_eq!(chain, vec![n("b.example."), n("c.example.")]);
                assert_eq!(ttl, Some(40));
            }
            Step::Follow { .. } => panic!("should be done"),
        }
    }

    #[test]
    fn incomplete_chain_is_followed_and_loops_detected() {
        let r = resp(
            ResponseCode::NoError,
            vec![cname("a.example.", "b.other.", 50)],
            false,
        );
        assert!(matches!(
            follow_answers(&n("a.example."), RecordType::A, vec![], &r),
            Step::Follow { .. }
        ));
        let r = resp(
            ResponseCode::NoError,
            vec![cname("a.example.", "b.other.", 50)],
            true,
        );
        assert!(matches!(
            follow_answers(&n("a.example."), RecordType::A, vec![], &r),
            Step::Done {
                status: DnsStatus::NoData,
                ttl: Some(60),
                ..
            }
        ));
        let r = resp(
            ResponseCode::NoError,
            vec![
                cname("a.example.", "b.example.", 50),
                cname("b.example.", "a.example.", 50),
            ],
            false,
        );
        assert!(matches!(
            follow_answers(&n("a.example."), RecordType::A, vec![], &r),
            Step::Done {
                status: DnsStatus::CnameLoop,
                ..
            }
        ));
        let r = resp(
            ResponseCode::NXDomain,
            vec![cname("a.example.", "gone.example.", 50)],
            true,
        );
        assert!(matches!(
            follow_answers(&n("a.example."), RecordType::A, vec![], &r),
            Step::Done {
                status: DnsStatus::NxDomain,
                ..
            }
        ));
    }

    fn ns(zone: &str, host: &str) -> Record {
        Record::from_rdata(n(zone), 172_800, RData::NS(NS(n(host))))
    }

    fn status_of(step: Step) -> (DnsStatus, Option<String>) {
        match step {
            Step::Done { status, detail, .. } => (status, detail),
            Step::Follow { .. } => panic!("should be done"),
        }
    }

    /// RFC 2308 §2.2: "It is possible to distinguish between a NODATA and a referral response
    /// by the presence of a SOA record in the authority section or the absence of NS records
    /// in the authority section." A referral (what a non-recursive server sends) says nothing
    /// about the name: it is a failed lookup, never `nodata`.
    #[test]
    fn referral_is_not_nodata() {
        let qname = n("example.com.");
        let mut referral = resp(ResponseCode::NoError, vec![], false);
        referral.authorities = vec![
            ns("com.", "a.gtld-servers.net."),
            ns("com.", "b.gtld-servers.net."),
        ];
        let (status, detail) =
            status_of(interpret(&qname, RecordType::MX, &[], Ok(referral.clone())));
        assert_eq!(status, DnsStatus::Referral);
        let detail = detail.unwrap_or_default();
        assert!(detail.contains("referral to com."), "{detail}");
        // the SOA makes it NODATA, even with NS records beside it
        let mut nodata = resp(ResponseCode::NoError, vec![], true);
        nodata.authorities.push(ns("example.", "ns.example."));
        let (status, _) = status_of(interpret(&qname, RecordType::MX, &[], Ok(nodata)));
        assert_eq!(status, DnsStatus::NoData);
        // neither SOA nor NS: NODATA ("the absence of NS records")
        let bare = resp(ResponseCode::NoError, vec![], false);
        let (status, _) = status_of(interpret(&qname, RecordType::MX, &[], Ok(bare)));
        assert_eq!(status, DnsStatus::NoData);
        // NXDOMAIN stays NXDOMAIN whatever the authority section holds
        let mut nx = resp(ResponseCode::NXDomain, vec![], false);
        nx.authorities.push(ns("com.", "a.gtld-servers.net."));
        let (status, _) = status_of(interpret(&qname, RecordType::MX, &[], Ok(nx)));
        assert_eq!(status, DnsStatus::NxDomain);
    }

    /// A record of the asked type with no data (RDLENGTH 0, which hickory decodes as
    /// `Update0`) is a malformed answer, not "noerror" without a record: an MX lookup must
    /// not come back "noerror" with no host (`classify_mx` would then see an implicit MX).
    #[test]
    fn a_record_without_data_is_a_malformed_answer() {
        let qname = n("example.com.");
        let mut m = resp(ResponseCode::NoError, vec![], false);
        m.answers.push(Record::from_rdata(
            qname.clone(),
            60,
            RData::Update0(RecordType::MX),
        ));
        let (status, detail) = status_of(interpret(&qname, RecordType::MX, &[], Ok(m)));
        assert_eq!(status, DnsStatus::NetworkError);
        assert!(detail.unwrap_or_default().contains("without data"));
    }

    /// The same rule on the hickory transport, whose pool turns every answer-less response
    /// into `NoRecordsFound` (RFC 2308 §2.2 as above).
    #[test]
    fn referral_from_the_hickory_transport_is_not_nodata() {
        let qname = n("example.com.");
        let no_records = |code, authorities: Vec<Record>| {
            let mut nr = NoRecords::new(Query::query(qname.clone(), RecordType::TXT), code);
            if !authorities.is_empty() {
                nr.authorities = Some(authorities.into());
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(nr)))
        };
        let referral = no_records(
            ResponseCode::NoError,
            vec![ns("com.", "a.gtld-servers.net.")],
        );
        let (status, detail) = status_of(interpret(&qname, RecordType::TXT, &[], referral));
        assert_eq!(status, DnsStatus::Referral, "{detail:?}");
        let soa = resp(ResponseCode::NoError, vec![], true).authorities;
        let nodata = no_records(ResponseCode::NoError, soa);
        let (status, _) = status_of(interpret(&qname, RecordType::TXT, &[], nodata));
        assert_eq!(status, DnsStatus::NoData);
        let nx = no_records(
            ResponseCode::NXDomain,
            vec![ns("com.", "a.gtld-servers.net.")],
        );
        let (status, _) = status_of(interpret(&qname, RecordType::TXT, &[], nx));
        assert_eq!(status, DnsStatus::NxDomain);
    }

    #[test]
    fn names_are_validated_before_sending() {
        assert!(parse_name("").is_err());
        assert!(parse_name(".").is_err());
        assert!(parse_name(&format!("{}.example", "a".repeat(64))).is_err());
        assert!(parse_name("bücher.example").is_err());
        assert_eq!(parse_name("Example.COM.").unwrap(), n("example.com."));
        assert_eq!(name_to_string(&n("MX.Example.com.")), "mx.example.com");
        assert_eq!(name_to_string(&Name::root()), "");
    }

    proptest::proptest! {
        /// Untrusted answers never panic the interpreter, and what it reports is consistent:
        /// `noerror` carries records of the queried type only, chains are bounded and never
        /// repeat a name unless the status says `cname-loop`.
        #[test]
        fn interpreting_arbitrary_answers_is_total(
            rcode in 0u16..6,
            soa in proptest::bool::ANY,
            want_txt in proptest::bool::ANY,
            recs in proptest::collection::vec((0usize..4, 0u8..3, 0usize..4, proptest::num::u32::ANY), 0..12),
        ) {
            let names = ["a.t.", "b.t.", "c.t.", "d.t."];
            let rtype = if want_txt { RecordType::TXT } else { RecordType::A };
            let answers = recs
                .iter()
                .map(|(owner, kind, target, x)| {
                    let data = match kind {
                        0 => RData::CNAME(CNAME(n(names[*target]))),
                        1 => RData::A(A::from(std::net::Ipv4Addr::from(*x))),
                        _ => RData::TXT(hickory_resolver::proto::rr::rdata::TXT::new(vec![x.to_string()])),
                    };
                    Record::from_rdata(n(names[*owner]), *x % 1000, data)
                })
                .collect();
            let m = resp(ResponseCode::from_low(rcode as u8), answers, soa);
            let step = interpret(&n("a.t."), rtype, &[], Ok(m));
            match step {
                Step::Done { status, records, chain, .. } => {
                    proptest::prop_assert!(chain.len() <= MAX_CNAME_CHAIN + 1);
                    if status == DnsStatus::NoError {
                        proptest::prop_assert!(!records.is_empty());
                        proptest::prop_assert!(records.iter().all(|r| r.record_type() == rtype));
                    } else {
                        proptest::prop_assert!(records.is_empty());
                    }
                    if status != DnsStatus::CnameLoop {
                        let mut seen = chain.clone();
                        seen.sort();
                        seen.dedup();
                        proptest::prop_assert_eq!(seen.len(), chain.len());
                        proptest::prop_assert!(!chain.contains(&n("a.t.")));
                    }
                }
                Step::Follow { chain, .. } => {
                    proptest::prop_assert!(!chain.is_empty() && chain.len() <= MAX_CNAME_CHAIN);
                }
            }
        }
    }
}
