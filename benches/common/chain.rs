//! A certificate chain with the shape of the lab's and of most of the web's, shared by the
//! benchmarks: an ECDSA P-256 leaf for `mx1.provider-a.test`, issued by an intermediate, issued
//! by a root.

#![allow(
    clippy::expect_used,
    reason = "benchmark set-up: a failure aborts the benchmark"
)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::CertificateDer;

/// The chain and the leaf's private key.
pub(crate) struct LabShapedChain {
    pub(crate) root: CertificateDer<'static>,
    pub(crate) intermediate: CertificateDer<'static>,
    pub(crate) leaf: CertificateDer<'static>,
    /// The leaf's key, PKCS#8 DER.
    #[allow(
        dead_code,
        reason = "the floor serves with it; tls_judge only verifies"
    )]
    pub(crate) leaf_key_pkcs8: Vec<u8>,
}

fn ca(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

/// Generates a fresh chain (new keys every call).
pub(crate) fn lab_shaped_chain() -> LabShapedChain {
    let root_key = KeyPair::generate().expect("root key");
    let root_params = ca("bench root CA");
    let root = root_params.self_signed(&root_key).expect("root");
    let int_key = KeyPair::generate().expect("intermediate key");
    let int_params = ca("bench intermediate CA");
    let int = int_params
        .signed_by(&int_key, &Issuer::from_params(&root_params, &root_key))
        .expect("intermediate");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["mx1.provider-a.test".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &Issuer::from_params(&int_params, &int_key))
        .expect("leaf");
    LabShapedChain {
        root: root.der().clone(),
        intermediate: int.der().clone(),
        leaf: leaf.der().clone(),
        leaf_key_pkcs8: leaf_key.serialize_der(),
    }
}
