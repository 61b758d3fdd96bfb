//! The lab's private PKI (rcgen, ECDSA P-256): a root CA (the PEM clients trust), an
//! intermediate issued by it, and a second "unknown" root with its own intermediate that no
//! client trusts. Leaf certificates are made on demand for a [`CertSpec`] and cached (at most
//! [`LEAF_CACHE`] entries, oldest evicted first). All leaves share ONE key pair: signing is
//! cheap, key generation is not.
//!
//! It also provides the rustls [`ResolvesServerCert`] used by the HTTPS and SMTP servers: one
//! per listener address, asking the world which [`CertSpec`] to present for the SNI.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SigningKey};

use crate::lab::model::{CertSpec, CertVariant, World};

/// Leaf certificates kept in the cache.
pub const LEAF_CACHE: usize = 4096;

/// Subject CN of a leaf whose [`CertSpec::names`] is empty.
pub const EMPTY_NAMES_CN: &str = "stsscan lab host";

const DAY: Duration = Duration::from_secs(86_400);

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
}

impl Ca {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

struct Cache {
    map: HashMap<CertSpec, Arc<CertifiedKey>>,
    order: VecDeque<CertSpec>,
}

/// The lab PKI. Cheap to share behind an `Arc`.
pub struct Pki {
    root: Ca,
    intermediate: Ca,
    unknown_intermediate: Ca,
    unknown_root_der: CertificateDer<'static>,
    root_pem: String,
    leaf_key: KeyPair,
    leaf_signer: Arc<dyn SigningKey>,
    serial_base: u64,
    serial: AtomicU64,
    cache: Mutex<Cache>,
    capacity: usize,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

fn ca_params(cn: &str, path_len: Option<u8>) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    set_validity(&mut p, -1, 3650);
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "stsscan lab");
    p.is_ca = match path_len {
        None => IsCa::Ca(BasicConstraints::Unconstrained),
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// Sets notBefore/notAfter to now plus the given numbers of days (negative: in the past).
fn set_validity(p: &mut CertificateParams, from_days: i64, to_days: i64) {
    use chrono::{Datelike as _, Timelike as _};
    let now = chrono::Utc::now();
    let d = now.date_naive();
    let month = u8::try_from(d.month()).unwrap_or(1);
    let day = u8::try_from(d.day()).unwrap_or(1);
    let base = rcgen::date_time_ymd(d.year(), month, day)
        + Duration::from_secs(u64::from(now.num_seconds_from_midnight()));
    let shift = |days: i64| {
        let delta = DAY * u32::try_from(days.unsigned_abs()).unwrap_or(u32::MAX / 86_400);
        if days < 0 { base - delta } else { base + delta }
    };
    p.not_before = shift(from_days);
    p.not_after = shift(to_days);
}

fn new_key() -> anyhow::Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating an ECDSA P-256 key")
}

fn make_ca(cn: &str, path_len: Option<u8>, parent: Option<&Ca>) -> anyhow::Result<Ca> {
    let params = ca_params(cn, path_len)?;
    let key = new_key()?;
    let cert = match parent {
        None => params.self_signed(&key)?,
        Some(parent) => params.signed_by(&key, &parent.issuer())?,
    };
    Ok(Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        params,
        key,
    })
}

impl Pki {
    /// Makes the two roots, their intermediates and the shared leaf key; the leaf cache holds
    /// [`LEAF_CACHE`] entries.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_cache_capacity(LEAF_CACHE)
    }

    /// Like [`Pki::new`] with a leaf cache of `capacity` entries (at least 1).
    pub fn with_cache_capacity(capacity: usize) -> anyhow::Result<Self> {
        let root = make_ca("stsscan lab root CA", None, None)?;
        let root_pem = root.pem.clone();
        let intermediate = make_ca("stsscan lab intermediate CA", Some(0), Some(&root))?;
        let unknown_root = make_ca("stsscan lab unknown root CA", None, None)?;
        let unknown_intermediate = make_ca(
            "stsscan lab unknown intermediate CA",
            Some(0),
            Some(&unknown_root),
        )?;
        let leaf_key = new_key()?;
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signer = rustls::crypto::ring::sign::any_ecdsa_type(&pkcs8)
            .map_err(|e| anyhow::anyhow!("loading the leaf key into rustls: {e}"))?;
        Ok(Pki {
            unknown_root_der: unknown_root.der.clone(),
            root,
            intermediate,
            unknown_intermediate,
            root_pem,
            leaf_key,
            leaf_signer,
            serial_base: super::net::random_u64() >> 24,
            serial: AtomicU64::new(1),
            cache: Mutex::new(Cache {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            capacity: capacity.max(1),
        })
    }

    /// The root CA certificate (PEM): the one file clients trust.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root CA certificate (DER).
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.root.der
    }

    /// The intermediate CA certificate (DER) that issues valid lab leaves.
    pub fn intermediate_der(&self) -> &CertificateDer<'static> {
        &self.intermediate.der
    }

    /// The second, untrusted root (DER) behind [`CertVariant::UnknownCa`].
    pub fn unknown_root_der(&self) -> &CertificateDer<'static> {
        &self.unknown_root_der
    }

    /// The certificate chain and key to present for `spec` (cached). `Err` for
    /// [`CertVariant::NoCertificate`]: there is nothing to present.
    pub fn certified_key(&self, spec: &CertSpec) -> anyhow::Result<Arc<CertifiedKey>> {
        if spec.variant == CertVariant::NoCertificate {
            anyhow::bail!("no certificate for {:?} (handshake refused)", spec.names);
        }
        if let Some(k) = lock(&self.cache).map.get(spec) {
            return Ok(Arc::clone(k));
        }
        let chain = self.chain(spec)?;
        let key = Arc::new(CertifiedKey::new(chain, Arc::clone(&self.leaf_signer)));
        let mut cache = lock(&self.cache);
        if !cache.map.contains_key(spec) {
            while cache.map.len() >= self.capacity {
                match cache.order.pop_front() {
                    Some(old) => {
                        cache.map.remove(&old);
                    }
                    None => break,
                }
            }
            cache.order.push_back(spec.clone());
            cache.map.insert(spec.clone(), Arc::clone(&key));
        }
        Ok(key)
    }

    /// The chain (leaf first, PEM, as the server would send it) and the shared leaf private
    /// key (PKCS#8 PEM) for `spec`, for handing to an external server such as Postfix or
    /// Exim (the interop tests).
    pub fn leaf_pem(&self, spec: &CertSpec) -> anyhow::Result<LeafPem> {
        let key = self.certified_key(spec)?;
        let chain_pem = key.cert.iter().map(|c| der_to_pem(c)).collect();
        Ok(LeafPem {
            chain_pem,
            key_pem: self.leaf_key.serialize_pem(),
        })
    }

    /// Number of leaves currently cached.
    pub fn cached_leaves(&self) -> usize {
        lock(&self.cache).map.len()
    }

    /// Builds the chain (leaf first) the server sends for `spec`.
    fn chain(&self, spec: &CertSpec) -> anyhow::Result<Vec<CertificateDer<'static>>> {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.subject_alt_names = spec
            .names
            .iter()
            .filter_map(|n| n.clone().try_into().ok().map(SanType::DnsName))
            .collect();
        p.distinguished_name = rcgen::DistinguishedName::new();
        let cn = spec.names.first().map_or(EMPTY_NAMES_CN, String::as_str);
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let mut serial = self.serial_base.to_be_bytes().to_vec();
        serial.extend_from_slice(&n.to_be_bytes());
        serial[0] = (serial[0] & 0x7f) | 0x10;
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        match spec.variant {
            CertVariant::Valid
            | CertVariant::SelfSigned
            | CertVariant::UnknownCa
            | CertVariant::MissingIntermediate
            | CertVariant::WrongPurpose
            | CertVariant::NoCertificate => set_validity(&mut p, -1, 90),
            CertVariant::Expired => set_validity(&mut p, -120, -30),
            CertVariant::NotYetValid => set_validity(&mut p, 30, 120),
            CertVariant::ExpiresInDays(d) => set_validity(&mut p, -60, i64::from(d)),
        }
        if spec.variant == CertVariant::WrongPurpose {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let chain = match spec.variant {
            CertVariant::SelfSigned => {
                p.use_authority_key_identifier_extension = false;
                vec![p.self_signed(&self.leaf_key)?.der().clone()]
            }
            CertVariant::UnknownCa => vec![
                p.signed_by(&self.leaf_key, &self.unknown_intermediate.issuer())?
                    .der()
                    .clone(),
                self.unknown_intermediate.der.clone(),
            ],
            CertVariant::MissingIntermediate => vec![
                p.signed_by(&self.leaf_key, &self.intermediate.issuer())?
                    .der()
                    .clone(),
            ],
            CertVariant::Valid
            | CertVariant::Expired
            | CertVariant::NotYetValid
            | CertVariant::ExpiresInDays(_)
            | CertVariant::WrongPurpose
            | CertVariant::NoCertificate => vec![
                p.signed_by(&self.leaf_key, &self.intermediate.issuer())?
                    .der()
                    .clone(),
                self.intermediate.der.clone(),
            ],
        };
        Ok(chain)
    }
}

/// A leaf certificate chain and its private key as PEM text ([`Pki::leaf_pem`]).
#[derive(Clone)]
pub struct LeafPem {
    /// `CERTIFICATE` blocks, leaf first, then the intermediate (if the variant sends one).
    pub chain_pem: String,
    /// The `PRIVATE KEY` block (PKCS#8) of the leaf.
    pub key_pem: String,
}

impl fmt::Debug for LeafPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafPem")
            .field("chain_pem", &self.chain_pem)
            .finish_non_exhaustive()
    }
}

/// One `CERTIFICATE` PEM block (RFC 7468: base64 lines of 64 characters).
fn der_to_pem(der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Which world method a resolver asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// [`World::https_cert`].
    Https,
    /// [`World::smtp_cert`].
    Smtp,
}

/// Resolves the certificate of one listener address by asking the world.
pub(crate) struct WorldCertResolver {
    pub(crate) world: Arc<dyn World>,
    pub(crate) pki: Arc<Pki>,
    pub(crate) addr: IpAddr,
    pub(crate) service: Service,
}

impl fmt::Debug for WorldCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorldCertResolver")
            .field("addr", &self.addr)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for WorldCertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let spec = match self.service {
            Service::Https => self.world.https_cert(self.addr, sni.as_deref()),
            Service::Smtp => self.world.smtp_cert(self.addr, sni.as_deref()),
        };
        // An error here (a name rcgen cannot encode, or `NoCertificate`) aborts the handshake
        // with a fatal alert, like a server with no certificate configured for the name.
        self.pki.certified_key(&spec).ok()
    }
}

/// A rustls server configuration for one listener (ring provider, TLS 1.2 and 1.3).
pub(crate) fn server_config(
    resolver: WorldCertResolver,
    alpn: &[&[u8]],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> CertSpec {
        spec_of(name, CertVariant::Valid)
    }

    fn spec_of(name: &str, variant: CertVariant) -> CertSpec {
        CertSpec {
            names: vec![name.to_owned()],
            variant,
        }
    }

    /// The chain the lab serves for `name` with `variant`, leaf first.
    fn served(pki: &Pki, name: &str, variant: CertVariant) -> Vec<CertificateDer<'static>> {
        pki.certified_key(&spec_of(name, variant))
            .unwrap()
            .cert
            .clone()
    }

    #[test]
    fn leaf_cache_is_bounded_and_reused() {
        let pki = Pki::with_cache_capacity(3).unwrap();
        let a = pki.certified_key(&spec("a.test")).unwrap();
        let again = pki.certified_key(&spec("a.test")).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        for n in ["b.test", "c.test", "d.test", "e.test"] {
            pki.certified_key(&spec(n)).unwrap();
        }
        assert_eq!(pki.cached_leaves(), 3);
        // The oldest entry was evicted: a new leaf (with a new serial) is made.
        let a2 = pki.certified_key(&spec("a.test")).unwrap();
        assert!(!Arc::ptr_eq(&a, &a2));
        assert_ne!(a.cert[0], a2.cert[0]);
    }

    #[test]
    fn leaf_pem_round_trips_to_the_served_chain() {
        let pki = Pki::new().unwrap();
        let spec = spec("mx.interop.test");
        let pem = pki.leaf_pem(&spec).unwrap();
        let served = pki.certified_key(&spec).unwrap();
        use rustls::pki_types::pem::PemObject as _;
        let parsed: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pem.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(parsed, served.cert);
        let key = PrivateKeyDer::from_pem_slice(pem.key_pem.as_bytes()).unwrap();
        assert_eq!(key.secret_der(), pki.leaf_key.serialize_der().as_slice());
        // Lengths 0, 1 and 2 modulo 3 pad as RFC 4648 §4 says.
        assert!(der_to_pem(b"M").contains("\nTQ==\n"));
        assert!(der_to_pem(b"Ma").contains("\nTWE=\n"));
        assert!(der_to_pem(b"Man").contains("\nTWFu\n"));
    }

    /// The `WrongPurpose` leaf differs from a valid one only in its extendedKeyUsage:
    /// `clientAuth` alone, issued by and sent with the trusted intermediate, not self-issued.
    #[test]
    fn wrong_purpose_leaf_is_client_auth_only() {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let pki = Pki::new().unwrap();
        let ok = served(&pki, "mx.purpose.test", CertVariant::Valid);
        let wrong = served(&pki, "mx.purpose.test", CertVariant::WrongPurpose);
        assert_eq!(wrong[1], ok[1], "sent with the same intermediate");
        let eku = |der: &CertificateDer<'_>| {
            let (_, c) = X509Certificate::from_der(der.as_ref()).unwrap();
            let e = c.extended_key_usage().unwrap().unwrap().value.clone();
            assert_eq!(
                c.issuer(),
                X509Certificate::from_der(&ok[1]).unwrap().1.subject()
            );
            (e.server_auth, e.client_auth)
        };
        assert_eq!(eku(&ok[0]), (true, false));
        assert_eq!(eku(&wrong[0]), (false, true));
    }

    #[test]
    fn chains_have_the_documented_shape() {
        let pki = Pki::new().unwrap();
        let len = |v| served(&pki, "x.test", v).len();
        assert_eq!(len(CertVariant::Valid), 2);
        assert_eq!(len(CertVariant::Expired), 2);
        assert_eq!(len(CertVariant::ExpiresInDays(3)), 2);
        assert_eq!(len(CertVariant::UnknownCa), 2);
        assert_eq!(len(CertVariant::SelfSigned), 1);
        assert_eq!(len(CertVariant::MissingIntermediate), 1);
        assert_eq!(len(CertVariant::WrongPurpose), 2);
        // Names rcgen cannot encode are skipped, never a panic.
        let k = pki.certified_key(&CertSpec {
            names: vec!["bad\u{e9}.test".into(), String::new()],
            variant: CertVariant::Valid,
        });
        assert!(k.is_ok());
    }
}
