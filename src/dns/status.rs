//! The closed vocabulary of DNS lookup outcomes.
//!
//! Every lookup made by [`crate::dns::Dns`] ends in exactly one [`DnsStatus`]. The strings are
//! stable (they are written to Parquet and compared with the lab's ground truth) and
//! kebab-case. NOERROR-with-data, NODATA, NXDOMAIN, SERVFAIL, REFUSED, a referral and timeout
//! are kept apart: an absent record and a failed lookup are different findings.

use std::fmt;

/// Outcome of one DNS lookup (after CNAME following and retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DnsStatus {
    /// `noerror`: RCODE NOERROR and at least one record of the queried type at the end of the
    /// CNAME chain.
    NoError,
    /// `nodata`: RCODE NOERROR but no record of the queried type (RFC 2308 §2.2 "NODATA").
    NoData,
    /// `nxdomain`: RCODE NXDOMAIN (RFC 1035 "Name Error"), possibly at the end of a CNAME chain.
    NxDomain,
    /// `servfail`: RCODE SERVFAIL, on every attempt.
    ServFail,
    /// `refused`: RCODE REFUSED.
    Refused,
    /// `referral`: RCODE NOERROR, no answer, no SOA and NS records in the authority section
    /// (RFC 2308 §2.2): the server sent us elsewhere instead of answering, as a non-recursive
    /// (authoritative-only) server does. The data could not be looked up; not retried, like
    /// `refused` (the same resolver refers again).
    Referral,
    /// `formerr`: RCODE FORMERR (the server could not parse our query).
    FormErr,
    /// `notimp`: RCODE NOTIMP (the server does not implement the query kind).
    NotImp,
    /// `other-rcode`: any other RCODE (YXDOMAIN, NOTAUTH, BADVERS, …); the detail names it.
    OtherRcode,
    /// `timeout`: no answer within the timeout, on every attempt.
    Timeout,
    /// `network-error`: the query could not be sent or the transport failed (socket error,
    /// ICMP unreachable, TCP reset, undecodable reply), or the answer was malformed (a record
    /// of the asked type without data).
    NetworkError,
    /// `truncated`: the answer was truncated (TC=1) even over TCP.
    Truncated,
    /// `cname-loop`: the CNAME chain loops or is longer than the client follows.
    CnameLoop,
    /// `invalid-name`: the name cannot be queried (empty label, label over 63 octets, name
    /// over 255 octets); no query was sent.
    InvalidName,
}

impl DnsStatus {
    /// Every value, in declaration order (for documentation, schemas and tests).
    pub const ALL: [DnsStatus; 14] = [
        DnsStatus::NoError,
        DnsStatus::NoData,
        DnsStatus::NxDomain,
        DnsStatus::ServFail,
        DnsStatus::Refused,
        DnsStatus::Referral,
        DnsStatus::FormErr,
        DnsStatus::NotImp,
        DnsStatus::OtherRcode,
        DnsStatus::Timeout,
        DnsStatus::NetworkError,
        DnsStatus::Truncated,
        DnsStatus::CnameLoop,
        DnsStatus::InvalidName,
    ];

    /// The stable kebab-case string.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsStatus::NoError => "noerror",
            DnsStatus::NoData => "nodata",
            DnsStatus::NxDomain => "nxdomain",
            DnsStatus::ServFail => "servfail",
            DnsStatus::Refused => "refused",
            DnsStatus::Referral => "referral",
            DnsStatus::FormErr => "formerr",
            DnsStatus::NotImp => "notimp",
            DnsStatus::OtherRcode => "other-rcode",
            DnsStatus::Timeout => "timeout",
            DnsStatus::NetworkError => "network-error",
            DnsStatus::Truncated => "truncated",
            DnsStatus::CnameLoop => "cname-loop",
            DnsStatus::InvalidName => "invalid-name",
        }
    }

    /// Parses the string written by [`DnsStatus::as_str`].
    pub fn parse(s: &str) -> Option<DnsStatus> {
        DnsStatus::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// The name positively has no data of this type: `nodata` or `nxdomain`.
    pub fn is_negative(self) -> bool {
        matches!(self, DnsStatus::NoData | DnsStatus::NxDomain)
    }

    /// The lookup failed: neither data nor an authoritative "no" (everything except
    /// `noerror`, `nodata`, `nxdomain`).
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            DnsStatus::NoError | DnsStatus::NoData | DnsStatus::NxDomain
        )
    }

    /// A failure worth asking again: `timeout` and `servfail` (the only ones retried).
    pub fn is_transient(self) -> bool {
        matches!(self, DnsStatus::Timeout | DnsStatus::ServFail)
    }
}

impl fmt::Display for DnsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_are_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for s in DnsStatus::ALL {
            assert_eq!(DnsStatus::parse(s.as_str()), Some(s));
            assert!(seen.insert(s.as_str()), "duplicate {s}");
            assert!(
                s.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s}"
            );
        }
        assert_eq!(DnsStatus::parse("NOERROR"), None);
    }

    #[test]
    fn classification() {
        assert!(DnsStatus::NoData.is_negative() && DnsStatus::NxDomain.is_negative());
        assert!(!DnsStatus::ServFail.is_negative());
        assert!(DnsStatus::Refused.is_failure() && !DnsStatus::NoData.is_failure());
        // a referral is no answer about the name: a failure, never "no such record"
        assert!(DnsStatus::Referral.is_failure() && !DnsStatus::Referral.is_negative());
        let transient: Vec<_> = DnsStatus::ALL
            .into_iter()
            .filter(|s| s.is_transient())
            .collect();
        assert_eq!(transient, [DnsStatus::ServFail, DnsStatus::Timeout]);
    }
}
