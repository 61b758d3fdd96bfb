//! Topology: where hosts live inside a world's `127.B.0.0/16` block, the provider host names
//! and certificates, and the pooling that keeps listeners bounded whatever the number of
//! domains.
//!
//! Address plan (B = the block octet; `127.B.0.53` is the lab DNS server and never used here):
//!
//! | range | what |
//! |---|---|
//! | `127.B.1.1–4` | shared HTTPS policy hosts (behaviour chosen by SNI/Host) |
//! | `127.B.2.1–3` | Google-like MX (`aspmx.l.gmail.lab`, `alt1.…`, `alt2.…`) |
//! | `127.B.3.1–4` | Microsoft-like MX (`<tenant>.mail.protection.outlook.lab`) |
//! | `127.B.(16+k).1–P` | self-hosted MX pool of server class k (P addresses each) |
//! | `127.B.250.x` | "refused" hosts: nothing listens |
//! | `127.B.251.x` | web (apex) addresses: nothing listens |
//! | `127.B.252.1` | the black hole: HTTPS and SMTP ports bound, connections never answered |

use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr};

use siphasher::sip::SipHasher13;

/// Google-like MX host names, in preference order.
pub const GOOGLE_MX: [&str; 3] = [
    "aspmx.l.gmail.lab",
    "alt1.aspmx.l.gmail.lab",
    "alt2.aspmx.l.gmail.lab",
];
/// The SANs of the Google-like MX certificate.
pub const GOOGLE_CERT: [&str; 2] = ["aspmx.l.gmail.lab", "*.aspmx.l.gmail.lab"];
/// Suffix of Microsoft-like tenant MX names.
pub const MS_SUFFIX: &str = ".mail.protection.outlook.lab";
/// The wildcard of the Microsoft-like MX certificate (also its policy pattern).
pub const MS_WILDCARD: &str = "*.mail.protection.outlook.lab";
/// The previous provider's MX host, listed by policies not updated after a migration.
pub const OLD_PROVIDER_MX: &str = "mx.oldmail.lab";
/// Suffix of the CNAME chain names of a hosted-policy vendor (`D.cN` + this).
pub const STS_VENDOR_SUFFIX: &str = ".stsvendor.lab";

const POLICY_HOSTS: u8 = 4;
const MS_HOSTS: u8 = 4;
const POOL_BASE: u8 = 16;
const REFUSED_OCTET: u8 = 250;
const WEB_OCTET: u8 = 251;
const BLACKHOLE_OCTET: u8 = 252;

/// A stable 64-bit hash of a name (SipHash-1-3 with a fixed key per `salt`).
pub fn name_hash(name: &str, salt: u64) -> u64 {
    let mut h = SipHasher13::new_with_keys(0x6c61_625f_776f_726c ^ salt, 0x6473_7473_7363_616e);
    h.write(name.as_bytes());
    h.finish()
}

/// The address plan of one world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The block octet B of `127.B.0.0/16`.
    pub block: u8,
    /// Addresses per self-hosted server class (1–64).
    pub pool_size: u8,
    /// Number of self-hosted server classes.
    pub classes: usize,
}

/// What lives at an address of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrRole {
    /// A shared HTTPS policy host.
    Policy,
    /// A Google-like MX.
    Google,
    /// A Microsoft-like MX.
    Microsoft,
    /// A self-hosted MX of server class k.
    Pool(usize),
    /// The black hole (connection attempts time out).
    Blackhole,
    /// Anything else (nothing listens).
    Other,
}

impl Topology {
    /// A plan for `classes` self-hosted server classes with `pool_size` addresses each.
    pub fn new(block: u8, pool_size: u8, classes: usize) -> Self {
        let max_classes = usize::from(REFUSED_OCTET - POOL_BASE);
        Topology {
            block,
            pool_size: pool_size.clamp(1, 64),
            classes: classes.min(max_classes),
        }
    }

    fn ip(&self, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, self.block, c, d))
    }

    /// The policy host address serving `mta-sts.D`.
    pub fn policy_addr(&self, domain: &str) -> IpAddr {
        self.ip(
            1,
            1 + (name_hash(domain, 1) % u64::from(POLICY_HOSTS)) as u8,
        )
    }

    /// The address of Google-like MX host `k` (0–2).
    pub fn google_addr(&self, k: usize) -> IpAddr {
        self.ip(2, 1 + (k.min(2)) as u8)
    }

    /// The two addresses of a Microsoft-like tenant MX name.
    pub fn ms_addrs(&self, host: &str) -> Vec<IpAddr> {
        let h = (name_hash(host, 2) % u64::from(MS_HOSTS)) as u8;
        let mut v = vec![self.ip(3, 1 + h), self.ip(3, 1 + (h + 1) % MS_HOSTS)];
        v.sort();
        v
    }

    /// The address of self-hosted `host` on server class `class`.
    pub fn pool_addr(&self, class: usize, host: &str) -> IpAddr {
        let c = POOL_BASE + (class.min(self.classes.saturating_sub(1))) as u8;
        self.ip(
            c,
            1 + (name_hash(host, 3) % u64::from(self.pool_size)) as u8,
        )
    }

    /// An address where nothing listens, for `name`.
    pub fn refused_addr(&self, name: &str) -> IpAddr {
        self.ip(REFUSED_OCTET, 1 + (name_hash(name, 4) % 250) as u8)
    }

    /// The black hole: connection attempts to its HTTPS and SMTP ports are never answered.
    pub fn blackhole_addr(&self) -> IpAddr {
        self.ip(BLACKHOLE_OCTET, 1)
    }

    /// Every black-hole address.
    pub fn blackhole_listeners(&self) -> Vec<IpAddr> {
        vec![self.blackhole_addr()]
    }

    /// The web (apex A) address of a domain; nothing listens there.
    pub fn web_addr(&self, domain: &str) -> IpAddr {
        self.ip(WEB_OCTET, 1 + (name_hash(domain, 5) % 250) as u8)
    }

    /// What lives at `addr`.
    pub fn role(&self, addr: IpAddr) -> AddrRole {
        let IpAddr::V4(v4) = addr else {
            return AddrRole::Other;
        };
        let [a, b, c, d] = v4.octets();
        if a != 127 || b != self.block || d == 0 {
            return AddrRole::Other;
        }
        match c {
            1 if d <= POLICY_HOSTS => AddrRole::Policy,
            2 if d <= 3 => AddrRole::Google,
            3 if d <= MS_HOSTS => AddrRole::Microsoft,
            BLACKHOLE_OCTET if d == 1 => AddrRole::Blackhole,
            c if c >= POOL_BASE
                && usize::from(c - POOL_BASE) < self.classes
                && d <= self.pool_size =>
            {
                AddrRole::Pool(usize::from(c - POOL_BASE))
            }
            _ => AddrRole::Other,
        }
    }

    /// Every HTTPS listener address.
    pub fn https_listeners(&self) -> Vec<IpAddr> {
        (1..=POLICY_HOSTS).map(|d| self.ip(1, d)).collect()
    }

    /// Every SMTP listener address.
    pub fn smtp_listeners(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = (0..3).map(|k| self.google_addr(k)).collect();
        v.extend((1..=MS_HOSTS).map(|d| self.ip(3, d)));
        for k in 0..self.classes {
            let c = POOL_BASE + k as u8;
            v.extend((1..=self.pool_size).map(|d| self.ip(c, d)));
        }
        v
    }
}

/// The Microsoft-like tenant MX name of a domain (`a.example` → `a-example.mail…`).
pub fn ms_tenant_host(domain: &str) -> String {
    format!("{}{MS_SUFFIX}", domain.replace('.', "-"))
}
