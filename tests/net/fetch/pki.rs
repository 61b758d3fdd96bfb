//! A throw-away PKI made with rcgen for the tests: a root, an intermediate, and leaves with
//! every defect the verdicts name.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use stsscan::tls::TrustAnchors;

/// A validity window, as calendar years (1 January).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Years(pub(crate) i32, pub(crate) i32);

/// In date for the test's "now" (see [`now`]) and for the real clock until 2090.
pub(crate) const CURRENT: Years = Years(2020, 2090);
/// Ended long ago.
pub(crate) const EXPIRED: Years = Years(2001, 2002);
/// Starts in the future.
pub(crate) const FUTURE: Years = Years(2095, 2099);

/// The fixed time chains are judged at in the pure tests: 2026-06-01T00:00:00Z.
pub(crate) fn now() -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_780_272_000))
}

/// A leaf with its chain (leaf first) and private key.
pub(crate) struct Leaf {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key_der: Vec<u8>,
}

impl Leaf {
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// A root and an intermediate CA.
pub(crate) struct Pki {
    pub(crate) root: CertifiedIssuer<'static, KeyPair>,
    pub(crate) inter: CertifiedIssuer<'static, KeyPair>,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "stsscan tests");
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(CURRENT.0, 1, 1);
    p.not_after = date_time_ymd(CURRENT.1, 1, 1);
    p
}

/// Leaf parameters: SAN dNSNames `sans` (written as given, wildcards included), CN `cn`.
pub(crate) fn leaf_params(sans: &[&str], cn: &str, years: Years) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = sans
        .iter()
        .map(|s| SanType::DnsName((*s).to_string().try_into().unwrap()))
        .collect();
    p.distinguished_name = dn(cn);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.not_before = date_time_ymd(years.0, 1, 1);
    p.not_after = date_time_ymd(years.1, 1, 1);
    p
}

impl Pki {
    pub(crate) fn new(name: &str) -> Pki {
        let root = CertifiedIssuer::self_signed(
            ca_params(&format!("{name} root")),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let inter = CertifiedIssuer::signed_by(
            ca_params(&format!("{name} intermediate")),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        Pki { root, inter }
    }

    /// Anchors holding only this PKI's root.
    pub(crate) fn anchors(&self) -> TrustAnchors {
        let mut a = TrustAnchors::empty();
        a.add_der(self.root.der().clone()).unwrap();
        a
    }

    /// A leaf for `sans` issued by the intermediate; chain = [leaf, intermediate].
    pub(crate) fn leaf(&self, sans: &[&str], years: Years) -> Leaf {
        self.leaf_from(leaf_params(
            sans,
            sans.first().copied().unwrap_or("leaf"),
            years,
        ))
    }

    /// A leaf from explicit parameters; chain = [leaf, intermediate].
    pub(crate) fn leaf_from(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.inter).unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.inter.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    /// A leaf issued directly by the root; chain = [leaf].
    pub(crate) fn leaf_by_root(&self, sans: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(sans, sans[0], CURRENT)
            .signed_by(&key, &self.root)
            .unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key_der: key.serialize_der(),
        }
    }
}

/// A self-signed leaf for `sans`.
pub(crate) fn self_signed(sans: &[&str], years: Years) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(sans, sans[0], years).self_signed(&key).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key_der: key.serialize_der(),
    }
}
