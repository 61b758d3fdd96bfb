//! A bounded, process-wide memo of successful certificate-signature verifications, used when
//! judging chains ([`super::judge_chain`]).
//!
//! Most chains on the internet (and every valid chain in the lab) end in one of a handful of
//! intermediates, so the signature of the intermediate by its root is the same bytes in
//! thousands of chains; verifying it again costs one ECDSA or RSA verification per chain (a
//! P-256 verification is about a third of a TLS client handshake's CPU). The memo remembers,
//! for each algorithm, the SHA-256 of (public key, signed message, signature) of verifications
//! that **succeeded**. A verification is a pure function of those bytes, so answering from the
//! memo cannot change any verdict: an entry is only ever created by a successful verification
//! of exactly the same bytes, and failures are always recomputed.
//!
//! Handshake signatures (TLS 1.3 CertificateVerify, TLS 1.2 ServerKeyExchange) are never
//! memoized: they sign fresh randoms and never repeat.
//!
//! Memory is bounded: two generations of at most [`GENERATION`] digests each (32 bytes per
//! digest); when the current generation is full it becomes the previous one and the old
//! previous one is dropped, and a hit in the previous generation is copied forward, so entries
//! that keep being used (intermediates) survive while one-off leaves age out.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use ring::digest::{Context, SHA256};
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};

/// Digests per generation (two generations: at most ≈ 2 × 16 384 × 32 bytes plus table
/// overhead, about 1.5 MiB).
pub const GENERATION: usize = 16_384;

type Key = [u8; 32];

#[derive(Default)]
struct Generations {
    current: HashSet<Key>,
    previous: HashSet<Key>,
}

impl Generations {
    fn contains(&mut self, key: &Key) -> bool {
        if self.current.contains(key) {
            return true;
        }
        if self.previous.remove(key) {
            self.insert(*key);
            return true;
        }
        false
    }

    fn insert(&mut self, key: Key) {
        if self.current.len() >= GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key);
    }
}

/// The memo shared by every [`Memoized`] algorithm.
struct Memo {
    seen: Mutex<Generations>,
    hits: AtomicU64,
    misses: AtomicU64,
}

static MEMO: LazyLock<Memo> = LazyLock::new(|| Memo {
    seen: Mutex::new(Generations::default()),
    hits: AtomicU64::new(0),
    misses: AtomicU64::new(0),
});

/// One of the ring provider's algorithms, answering from the memo when it can.
#[derive(Debug)]
struct Memoized {
    inner: &'static dyn SignatureVerificationAlgorithm,
    /// Position of `inner` in the provider's list: part of the digest, so a success under one
    /// algorithm never answers for another.
    index: u8,
}

impl Memoized {
    fn key(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Key {
        let mut h = Context::new(&SHA256);
        h.update(&[self.index]);
        for part in [public_key, message, signature] {
            // lengths make the concatenation unambiguous
            h.update(&(part.len() as u64).to_be_bytes());
            h.update(part);
        }
        let mut key = Key::default();
        key.copy_from_slice(h.finish().as_ref());
        key
    }
}

impl SignatureVerificationAlgorithm for Memoized {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = self.key(public_key, message, signature);
        let lock = || MEMO.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if lock().contains(&key) {
            MEMO.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        MEMO.misses.fetch_add(1, Ordering::Relaxed);
        self.inner
            .verify_signature(public_key, message, signature)?;
        lock().insert(key);
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.signature_alg_id()
    }

    fn fips(&self) -> bool {
        self.inner.fips()
    }
}

static WRAPPED: LazyLock<Vec<Memoized>> = LazyLock::new(|| {
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
        .iter()
        .enumerate()
        .map(|(i, inner)| Memoized {
            inner: *inner,
            index: u8::try_from(i).unwrap_or(u8::MAX),
        })
        .collect()
});

static ALGORITHMS: LazyLock<Vec<&'static dyn SignatureVerificationAlgorithm>> =
    LazyLock::new(|| {
        WRAPPED
            .iter()
            .map(|m| m as &'static dyn SignatureVerificationAlgorithm)
            .collect()
    });

/// The ring provider's certificate-signature algorithms, in the provider's order, each
/// answering from the memo when the same bytes verified before.
pub fn algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    ALGORITHMS.as_slice()
}

/// (hits, misses) of the memo since the process started.
pub fn stats() -> (u64, u64) {
    (
        MEMO.hits.load(Ordering::Relaxed),
        MEMO.misses.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[cfg(feature = "lab")]
    fn ecdsa_p256_sha256() -> (&'static dyn SignatureVerificationAlgorithm, usize) {
        let all = rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .all;
        let i = all
            .iter()
            .position(|a| {
                a.signature_alg_id() == rustls::pki_types::alg_id::ECDSA_SHA256
                    && a.public_key_alg_id() == rustls::pki_types::alg_id::ECDSA_P256
            })
            .unwrap();
        (algorithms()[i], i)
    }

    /// A key pair, a message and its signature, from rcgen's (ring-backed) signer.
    #[cfg(feature = "lab")]
    /// Returns (subjectPublicKey: the uncompressed point, ASN.1 ECDSA signature).
    fn signed(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use rcgen::SigningKey;
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let sig = kp.sign(message).unwrap();
        (kp.public_key_raw().to_vec(), sig)
    }

    #[test]
    #[cfg(feature = "lab")]
    fn same_answers_as_ring_and_failures_are_never_remembered() {
        let (alg, i) = ecdsa_p256_sha256();
        let inner = rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .all[i];
        let msg = b"tbsCertificate bytes of a memo test".to_vec();
        let (spki_key, sig) = signed(&msg);
        assert!(inner.verify_signature(&spki_key, &msg, &sig).is_ok());
        let (h0, _) = stats();
        assert!(alg.verify_signature(&spki_key, &msg, &sig).is_ok());
        assert!(alg.verify_signature(&spki_key, &msg, &sig).is_ok());
        let (h1, _) = stats();
        assert!(
            h1 > h0,
            "the second verification of the same bytes is a hit"
        );

        // A different message with the remembered signature still fails, every time.
        let mut other = msg.clone();
        other[0] ^= 1;
        for _ in 0..2 {
            assert!(alg.verify_signature(&spki_key, &other, &sig).is_err());
            assert!(inner.verify_signature(&spki_key, &other, &sig).is_err());
        }
        // A corrupted signature fails too.
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        assert!(alg.verify_signature(&spki_key, &msg, &bad).is_err());
    }

    #[test]
    #[cfg(feature = "lab")]
    fn a_success_under_one_algorithm_does_not_answer_for_another() {
        let (alg, i) = ecdsa_p256_sha256();
        let msg = b"signed once".to_vec();
        let (spki_key, sig) = signed(&msg);
        assert!(alg.verify_signature(&spki_key, &msg, &sig).is_ok());
        // Every other algorithm — including ECDSA P-256 with SHA-384, which accepts the same
        // key and would answer "valid" from a memo keyed without the algorithm — rejects it.
        let mut same_key = 0;
        for (j, other) in algorithms().iter().enumerate() {
            if j != i {
                same_key += usize::from(other.public_key_alg_id() == alg.public_key_alg_id());
                assert!(
                    other.verify_signature(&spki_key, &msg, &sig).is_err(),
                    "algorithm #{j}"
                );
            }
        }
        assert!(same_key > 0, "another algorithm takes a P-256 key");
    }

    #[test]
    fn generations_stay_bounded_and_keep_what_is_used() {
        let mut g = Generations::default();
        let hot = [0xAA; 32];
        g.insert(hot);
        for i in 0..(3 * GENERATION as u64) {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&i.to_be_bytes());
            g.insert(k);
            if i % 1000 == 0 {
                assert!(g.contains(&hot), "a used entry survives generation turns");
            }
            assert!(g.current.len() <= GENERATION && g.previous.len() <= GENERATION);
        }
        let mut cold = [0u8; 32];
        cold[..8].copy_from_slice(&1u64.to_be_bytes());
        assert!(!g.contains(&cold), "an unused old entry aged out");
    }
}
