//! The address-safety rule: which resolved addresses the scanner may connect to.
//!
//! An internet scanner must not be turned against its own network by a DNS answer: an MX or
//! policy host resolving to `127.0.0.1`, `10.0.0.5` or `169.254.169.254` (a cloud metadata
//! endpoint) is refused before any connection. [`AddressPolicy::check`] is applied to every
//! address from every DNS answer (MX hosts and policy hosts alike: the scanner vets the policy
//! host's addresses and hands the fetcher only those, pinned with `resolve_to_addrs`, and the
//! fetcher follows no redirects, so reqwest never resolves a name itself; the resolver in
//! [`crate::dns::reqwest`] applies the rule for callers that let reqwest resolve). The tables follow the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (RFC 6890 and its updates): a block whose registry row
//! says "Globally Reachable: True" is allowed, everything else is refused with the reason.
//! IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses
//! are judged by the IPv4 address they embed.
//!
//! `allow_private` (the lab and intranet scans) permits private, loopback, link-local,
//! unique-local and shared (CGNAT) space; unspecified, multicast, broadcast, documentation,
//! benchmarking and reserved addresses are refused always: nothing legitimate listens there.
//! A user blocklist of CIDRs is honoured always, and matched against both the address and
//! the IPv4 address it embeds (so `8.8.8.0/24` also refuses `64:ff9b::808:808`). This module
//! never does I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// `private`: RFC 1918 space (10/8, 172.16/12, 192.168/16), IPv6 unique-local fc00::/7
    /// (RFC 4193), deprecated site-local fec0::/10 and the NAT64 local-use prefix
    /// 64:ff9b:1::/48 (RFC 8215).
    Private,
    /// `loopback`: 127.0.0.0/8 (RFC 1122) and ::1 (RFC 4291).
    Loopback,
    /// `link-local`: 169.254.0.0/16 (RFC 3927, includes cloud metadata endpoints) and
    /// fe80::/10 (RFC 4291).
    LinkLocal,
    /// `multicast`: 224.0.0.0/4 (RFC 5771) and ff00::/8 (RFC 4291).
    Multicast,
    /// `reserved`: 0.0.0.0/8 "this network", 192.0.0.0/24 IETF protocol assignments (except its
    /// globally reachable /32s), 192.88.99.0/24 (deprecated 6to4 relay), 240.0.0.0/4, and the
    /// IPv6 blocks ::/8 (incl. IPv4-compatible), 100::/64 discard-only, 2001::/23 IETF protocol
    /// assignments (except its globally reachable entries), 5f00::/16 SRv6 SIDs.
    Reserved,
    /// `unspecified`: 0.0.0.0 and :: (connecting to it reaches the local host on Linux).
    Unspecified,
    /// `documentation`: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737),
    /// 2001:db8::/32 (RFC 3849) and 3fff::/20 (RFC 9637).
    Documentation,
    /// `shared-cgnat`: 100.64.0.0/10, shared address space for carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// `benchmarking`: 198.18.0.0/15 (RFC 2544).
    Benchmarking,
    /// `broadcast`: 255.255.255.255, the limited broadcast address (RFC 919).
    Broadcast,
    /// `blocklisted`: inside a CIDR of the user's blocklist.
    Blocklisted,
}

impl Refusal {
    /// The stable kebab-case string.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Private => "private",
            Refusal::Loopback => "loopback",
            Refusal::LinkLocal => "link-local",
            Refusal::Multicast => "multicast",
            Refusal::Reserved => "reserved",
            Refusal::Unspecified => "unspecified",
            Refusal::Documentation => "documentation",
            Refusal::SharedCgnat => "shared-cgnat",
            Refusal::Benchmarking => "benchmarking",
            Refusal::Broadcast => "broadcast",
            Refusal::Blocklisted => "blocklisted",
        }
    }

    /// Whether `allow_private` lifts this refusal.
    pub fn lifted_by_allow_private(self) -> bool {
        matches!(
            self,
            Refusal::Private | Refusal::Loopback | Refusal::LinkLocal | Refusal::SharedCgnat
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Refusal {}

/// Which addresses the scanner may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Permit private, loopback, link-local and shared (CGNAT) addresses (`--allow-private`).
    pub allow_private: bool,
    /// CIDRs never to connect to, whatever `allow_private` says.
    pub blocklist: Vec<IpNet>,
}

impl AddressPolicy {
    /// The policy for a public internet scan: no special-purpose addresses, no blocklist.
    pub fn public() -> Self {
        AddressPolicy::default()
    }

    /// Judges one address: `Ok(())` when the scanner may connect to it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        // The address itself and the IPv4 address it embeds (IPv4-mapped, NAT64, 6to4): an
        // IPv4 blocklist entry also covers the IPv6 forms that reach the same host.
        let embedded = embedded_v4(ip).map(IpAddr::V4);
        if self
            .blocklist
            .iter()
            .any(|net| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4)))
        {
            return Err(Refusal::Blocklisted);
        }
        match classify(ip) {
            None => Ok(()),
            Some(r) if self.allow_private && r.lifted_by_allow_private() => Ok(()),
            Some(r) => Err(r),
        }
    }
}

impl AddressPolicy {
    /// Splits addresses into those allowed (in order) and those refused with the reason.
    pub fn partition(&self, ips: &[IpAddr]) -> (Vec<IpAddr>, Vec<(IpAddr, Refusal)>) {
        let mut allowed = Vec::with_capacity(ips.len());
        let mut refused = Vec::new();
        for ip in ips {
            match self.check(*ip) {
                Ok(()) => allowed.push(*ip),
                Err(r) => refused.push((*ip, r)),
            }
        }
        (allowed, refused)
    }
}

/// The NAT64 well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
const NAT64_WKP: u128 = 0x0064_ff9b_u128 << 96;

/// The 6to4 prefix `2002::/16` (RFC 3056 §2).
const SIX_TO_FOUR: u128 = 0x2002_u128 << 112;

/// The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:a.b.c.d` (RFC 4291
/// §2.5.5.2), NAT64 `64:ff9b::a.b.c.d` (RFC 6052 §2.2, the last 32 bits) or 6to4
/// `2002:AABB:CCDD::/48` (RFC 3056 §2, bits 16..48). `None` for an IPv4 address and for any
/// other IPv6 address.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let a = u128::from(v6);
    if in_v6(a, NAT64_WKP, 96) {
        return Some(Ipv4Addr::from((a & 0xffff_ffff) as u32));
    }
    if in_v6(a, SIX_TO_FOUR, 16) {
        return Some(Ipv4Addr::from(((a >> 80) & 0xffff_ffff) as u32));
    }
    None
}

/// The special-purpose class of an address, `None` for globally reachable unicast.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: u32, net: [u8; 4], len: u32) -> bool {
    let net = u32::from_be_bytes(net);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ip & mask == net & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let a = u32::from(ip);
    let table: &[([u8; 4], u32, Refusal)] = &[
        ([0, 0, 0, 0], 32, Refusal::Unspecified),
        ([255, 255, 255, 255], 32, Refusal::Broadcast),
        ([0, 0, 0, 0], 8, Refusal::Reserved),
        ([10, 0, 0, 0], 8, Refusal::Private),
        ([100, 64, 0, 0], 10, Refusal::SharedCgnat),
        ([127, 0, 0, 0], 8, Refusal::Loopback),
        ([169, 254, 0, 0], 16, Refusal::LinkLocal),
        ([172, 16, 0, 0], 12, Refusal::Private),
        ([192, 0, 2, 0], 24, Refusal::Documentation),
        ([192, 88, 99, 0], 24, Refusal::Reserved),
        ([192, 168, 0, 0], 16, Refusal::Private),
        ([198, 18, 0, 0], 15, Refusal::Benchmarking),
        ([198, 51, 100, 0], 24, Refusal::Documentation),
        ([203, 0, 113, 0], 24, Refusal::Documentation),
        ([224, 0, 0, 0], 4, Refusal::Multicast),
        ([240, 0, 0, 0], 4, Refusal::Reserved),
    ];
    // 192.0.0.0/24: IETF protocol assignments; 192.0.0.9/32 (PCP anycast, RFC 7723) and
    // 192.0.0.10/32 (TURN anycast, RFC 8155) are "Globally Reachable: True".
    if in_v4(a, [192, 0, 0, 0], 24) {
        return match ip.octets()[3] {
            9 | 10 => None,
            _ => Some(Refusal::Reserved),
        };
    }
    table
        .iter()
        .find(|(net, len, _)| in_v4(a, *net, *len))
        .map(|(_, _, r)| *r)
}

fn in_v6(ip: u128, net: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    ip & mask == net & mask
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let a = u128::from(ip);
    if a == 0 {
        return Some(Refusal::Unspecified);
    }
    if a == 1 {
        return Some(Refusal::Loopback);
    }
    // ::ffff:0:0/96 IPv4-mapped, 64:ff9b::/96 NAT64 well-known prefix, 2002::/16 6to4: the
    // embedded IPv4 address decides.
    if let Some(v4) = embedded_v4(IpAddr::V6(ip)) {
        return classify_v4(v4);
    }
    // 2001::/23 IETF protocol assignments, with its globally reachable entries.
    if in_v6(a, 0x2001_u128 << 112, 23) {
        let global: &[(u128, u32)] = &[
            (0x2001_0001_u128 << 96 | 1, 128), // 2001:1::1 PCP anycast
            (0x2001_0001_u128 << 96 | 2, 128), // 2001:1::2 TURN anycast
            (0x2001_0001_u128 << 96 | 3, 128), // 2001:1::3 DNS-SD SRP anycast
            (0x2001_0003_u128 << 96, 32),      // 2001:3::/32 AMT
            (0x2001_0004_0112_u128 << 80, 48), // 2001:4:112::/48 AS112-v6
            (0x2001_0020_u128 << 96, 28),      // 2001:20::/28 ORCHIDv2
            (0x2001_0030_u128 << 96, 28),      // 2001:30::/28 DETs
        ];
        if global.iter().any(|(net, len)| in_v6(a, *net, *len)) {
            return None;
        }
        return Some(Refusal::Reserved);
    }
    let table: &[(u128, u32, Refusal)] = &[
        (0x0064_ff9b_0001_u128 << 80, 48, Refusal::Private), // 64:ff9b:1::/48 local-use NAT64
        (0, 8, Refusal::Reserved), // ::/8 incl. IPv4-compatible ::/96 (deprecated)
        (0x0100_u128 << 112, 64, Refusal::Reserved), // 100::/64 discard-only
        (0x2001_0db8_u128 << 96, 32, Refusal::Documentation),
        (0x3fff_u128 << 112, 20, Refusal::Documentation),
        (0x5f00_u128 << 112, 16, Refusal::Reserved), // SRv6 SIDs (RFC 9602)
        (0xfc00_u128 << 112, 7, Refusal::Private),   // unique-local
        (0xfe80_u128 << 112, 10, Refusal::LinkLocal),
        (0xfec0_u128 << 112, 10, Refusal::Private), // site-local (deprecated, RFC 3879)
        (0xff00_u128 << 112, 8, Refusal::Multicast),
    ];
    table
        .iter()
        .find(|(net, len, _)| in_v6(a, *net, *len))
        .map(|(_, _, r)| *r)
}

/// Parses a blocklist file: one CIDR (`192.0.2.0/24`, `2001:db8::/32`) or bare address per
/// line; `#` starts a comment; blank lines are ignored. An error names the 1-based line.
pub fn parse_blocklist(text: &str) -> Result<Vec<IpNet>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let net = if line.contains('/') {
            line.parse::<IpNet>()
                .map_err(|e| (i + 1, format!("invalid CIDR {line:?}: {e}")))?
        } else {
            line.parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|e| (i + 1, format!("invalid address {line:?}: {e}")))?
        };
        out.push(net);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Registry rows marked "Globally Reachable: True" inside special blocks stay allowed:
    /// 192.0.0.9/32 (PCP anycast), 192.31.196.0/24 (AS112-v4), 2001:4:112::/48 (AS112-v6);
    /// and the edges just outside 100.64.0.0/10 and 172.16.0.0/12.
    #[test]
    fn public_addresses_pass() {
        let p = AddressPolicy::public();
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "192.0.0.9",
            "192.31.196.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2001:4:112::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(p.check(ip(s)), Ok(()), "{s}");
        }
    }

    /// One case per block of the IANA IPv4 / IPv6 Special-Purpose Address Registries (RFC 6890,
    /// "Globally Reachable: False" rows), e.g. RFC 1918 §3: "The Internet Assigned Numbers
    /// Authority (IANA) has reserved the following three blocks of the IP address space for
    /// private internets: 10.0.0.0 - 10.255.255.255 (10/8 prefix) 172.16.0.0 -
    /// 172.31.255.255 (172.16/12 prefix) 192.168.0.0 - 192.168.255.255 (192.168/16 prefix)";
    /// RFC 6598 §7: "The Shared Address Space address range is 100.64.0.0/10."; RFC 5737 §3:
    /// "The blocks 192.0.2.0/24 (TEST-NET-1), 198.51.100.0/24 (TEST-NET-2), and 203.0.113.0/24
    /// (TEST-NET-3) are provided for use in documentation."
    #[test]
    fn special_purpose_addresses_refused() {
        let p = AddressPolicy::public();
        let cases = [
            ("0.0.0.0", Refusal::Unspecified),
            ("0.1.2.3", Refusal::Reserved),
            ("10.1.2.3", Refusal::Private),
            ("100.64.0.1", Refusal::SharedCgnat),
            ("127.0.0.1", Refusal::Loopback),
            ("127.255.0.9", Refusal::Loopback),
            ("169.254.169.254", Refusal::LinkLocal),
            ("172.31.255.255", Refusal::Private),
            ("192.0.0.8", Refusal::Reserved),
            ("192.0.2.1", Refusal::Documentation),
            ("192.88.99.1", Refusal::Reserved),
            ("192.168.1.1", Refusal::Private),
            ("198.19.255.255", Refusal::Benchmarking),
            ("198.51.100.7", Refusal::Documentation),
            ("203.0.113.9", Refusal::Documentation),
            ("224.0.0.251", Refusal::Multicast),
            ("239.255.255.250", Refusal::Multicast),
            ("240.0.0.1", Refusal::Reserved),
            ("255.255.255.255", Refusal::Broadcast),
            ("::", Refusal::Unspecified),
            ("::1", Refusal::Loopback),
            ("::ffff:127.0.0.1", Refusal::Loopback),
            ("::ffff:10.0.0.1", Refusal::Private),
            ("::ffff:169.254.169.254", Refusal::LinkLocal),
            ("::127.0.0.1", Refusal::Reserved),
            ("64:ff9b::a00:1", Refusal::Private),
            ("64:ff9b:1::1", Refusal::Private),
            ("100::1", Refusal::Reserved),
            ("2001::1", Refusal::Reserved),
            ("2001:2::1", Refusal::Reserved),
            ("2001:db8::1", Refusal::Documentation),
            ("2002:7f00:1::1", Refusal::Loopback),
            ("3fff::1", Refusal::Documentation),
            ("5f00::1", Refusal::Reserved),
            ("fc00::1", Refusal::Private),
            ("fd12:3456::1", Refusal::Private),
            ("fe80::1", Refusal::LinkLocal),
            ("fec0::1", Refusal::Private),
            ("ff02::1", Refusal::Multicast),
        ];
        for (s, want) in cases {
            assert_eq!(p.check(ip(s)), Err(want), "{s}");
        }
    }

    #[test]
    fn allow_private_lifts_only_local_space() {
        let p = AddressPolicy {
            allow_private: true,
            blocklist: vec![],
        };
        for s in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
        ] {
            assert_eq!(p.check(ip(s)), Ok(()), "{s}");
        }
        for s in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "192.0.2.1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(p.check(ip(s)).is_err(), "{s}");
        }
    }

    #[test]
    fn blocklist_wins_and_sees_through_mapping() {
        let p = AddressPolicy {
            allow_private: true,
            blocklist: parse_blocklist("127.0.0.0/24\n# comment\n 8.8.8.8 # dns\n\n2001:4860::/32")
                .unwrap(),
        };
        assert_eq!(p.check(ip("127.0.0.5")), Err(Refusal::Blocklisted));
        assert_eq!(p.check(ip("::ffff:127.0.0.5")), Err(Refusal::Blocklisted));
        assert_eq!(p.check(ip("127.0.1.5")), Ok(()));
        assert_eq!(p.check(ip("8.8.8.8")), Err(Refusal::Blocklisted));
        assert_eq!(p.check(ip("8.8.4.4")), Ok(()));
        assert_eq!(p.check(ip("2001:4860::1")), Err(Refusal::Blocklisted));
    }

    /// The module's rule: NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses "are judged
    /// by the IPv4 address they embed", and the user blocklist "is honoured always" — so an
    /// IPv4 blocklist entry also refuses the IPv6 forms of its addresses (RFC 6052 §2.2: with
    /// the /96 prefix the IPv4 address is the last 32 bits; RFC 3056 §2: 2002:V4ADDR::/48).
    #[test]
    fn blocklist_sees_through_nat64_and_6to4() {
        let p = AddressPolicy {
            allow_private: false,
            blocklist: vec!["8.8.8.0/24".parse().unwrap()],
        };
        for s in [
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "64:ff9b::8.8.8.200",
            "2002:808:808::1",
            "2002:808:8ff:1::53",
        ] {
            assert_eq!(p.check(ip(s)), Err(Refusal::Blocklisted), "{s}");
        }
        // the same IPv4 address outside the prefixes, and other embedded addresses, pass
        for s in [
            "8.8.4.4",
            "64:ff9b::808:404",
            "2002:808:404::1",
            "2001:4860::808:808",
        ] {
            assert_eq!(p.check(ip(s)), Ok(()), "{s}");
        }
    }

    proptest::proptest! {
        /// RFC 4291 §2.5.5.2: an IPv4-mapped IPv6 address "is used to represent the addresses
        /// of IPv4 nodes as IPv6 addresses" — it must be judged exactly like the IPv4 address.
        #[test]
        fn mapped_addresses_are_judged_as_ipv4(x in proptest::num::u32::ANY, allow in proptest::bool::ANY) {
            let v4 = Ipv4Addr::from(x);
            let p = AddressPolicy { allow_private: allow, blocklist: vec!["203.0.113.0/24".parse().unwrap()] };
            proptest::prop_assert_eq!(p.check(IpAddr::V4(v4)), p.check(IpAddr::V6(v4.to_ipv6_mapped())));
        }

        /// Everything std calls loopback, private, link-local, multicast, broadcast,
        /// documentation or unspecified is refused on a public scan.
        #[test]
        fn std_special_ipv4_is_refused(x in proptest::num::u32::ANY) {
            let v4 = Ipv4Addr::from(x);
            let special = v4.is_loopback() || v4.is_private() || v4.is_link_local()
                || v4.is_multicast() || v4.is_broadcast() || v4.is_documentation()
                || v4.is_unspecified();
            if special {
                proptest::prop_assert!(AddressPolicy::public().check(IpAddr::V4(v4)).is_err());
            }
        }
    }

    #[test]
    fn partition_keeps_order_and_reasons() {
        let p = AddressPolicy::public();
        let (ok, refused) = p.partition(&[ip("8.8.8.8"), ip("127.0.0.1"), ip("1.1.1.1")]);
        assert_eq!(ok, vec![ip("8.8.8.8"), ip("1.1.1.1")]);
        assert_eq!(refused, vec![(ip("127.0.0.1"), Refusal::Loopback)]);
    }

    #[test]
    fn blocklist_errors_name_the_line() {
        assert_eq!(parse_blocklist("").unwrap(), vec![]);
        let err = parse_blocklist("10.0.0.0/8\n\n10.0.0.0/33\n").unwrap_err();
        assert_eq!(err.0, 3);
        let err = parse_blocklist("# x\nexample.com\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("example.com"));
    }

    #[test]
    fn refusal_strings_are_kebab_case() {
        for r in [
            Refusal::Private,
            Refusal::Loopback,
            Refusal::LinkLocal,
            Refusal::Multicast,
            Refusal::Reserved,
            Refusal::Unspecified,
            Refusal::Documentation,
            Refusal::SharedCgnat,
            Refusal::Benchmarking,
            Refusal::Broadcast,
            Refusal::Blocklisted,
        ] {
            assert!(
                r.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
        }
    }
}
