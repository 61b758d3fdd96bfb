//! Trust anchors: the Mozilla root program (via `webpki-roots`) plus operator-supplied PEM
//! anchors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The largest PEM anchor file read (the Mozilla bundle is about 200 KiB).
const MAX_PEM_FILE: u64 = 8 * 1024 * 1024;

/// A set of trust anchors against which captured chains are judged. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    roots: Arc<RootCertStore>,
    extra: usize,
    defaults: bool,
}

/// Loading anchors failed: the file named in the error is unusable.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than the 8 MiB cap.
    #[error("CA file {path} is larger than {MAX_PEM_FILE} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid PEM, or holds no certificate, or a certificate is not a usable
    /// trust anchor.
    #[error("bad CA file {source_name}: {reason}")]
    BadPem {
        /// The file name (or another label for in-memory PEM).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

impl TrustAnchors {
    /// The Mozilla root program only.
    pub fn mozilla() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        TrustAnchors {
            roots: Arc::new(roots),
            extra: 0,
            defaults: true,
        }
    }

    /// No anchors at all (every chain is then `untrusted`, `self-signed`, …).
    pub fn empty() -> Self {
        TrustAnchors {
            roots: Arc::new(RootCertStore::empty()),
            extra: 0,
            defaults: false,
        }
    }

    /// The Mozilla roots (when `include_defaults`) plus every certificate of every PEM file
    /// in `paths`. A file that cannot be read, is not PEM, holds no certificate or holds a
    /// certificate that is not a usable anchor is an error naming the file.
    pub fn from_pem_files(paths: &[PathBuf], include_defaults: bool) -> Result<Self, AnchorError> {
        let mut anchors = if include_defaults {
            Self::mozilla()
        } else {
            Self::empty()
        };
        for path in paths {
            let pem = read_capped(path)?;
            anchors.add_pem(&pem, &path.display().to_string())?;
        }
        Ok(anchors)
    }

    /// Adds every certificate of the PEM text `pem`; `source_name` names it in errors. At
    /// least one certificate must be present. Nothing is added when an error is returned.
    pub fn add_pem(&mut self, pem: &[u8], source_name: &str) -> Result<usize, AnchorError> {
        let bad = |reason: String| AnchorError::BadPem {
            source_name: source_name.to_owned(),
            reason,
        };
        let mut ders = Vec::new();
        for item in CertificateDer::pem_slice_iter(pem) {
            ders.push(item.map_err(|e| bad(format!("invalid PEM: {e}")))?);
        }
        if ders.is_empty() {
            return Err(bad("no CERTIFICATE section found".to_owned()));
        }
        let mut store = (*self.roots).clone();
        for (i, der) in ders.iter().enumerate() {
            store.add(der.clone()).map_err(|e| {
                bad(format!(
                    "certificate #{} is not a usable anchor: {e}",
                    i + 1
                ))
            })?;
        }
        self.roots = Arc::new(store);
        self.extra += ders.len();
        Ok(ders.len())
    }

    /// Adds one DER certificate as an anchor.
    pub fn add_der(&mut self, der: CertificateDer<'_>) -> Result<(), AnchorError> {
        let mut store = (*self.roots).clone();
        store.add(der).map_err(|e| AnchorError::BadPem {
            source_name: "<der>".to_owned(),
            reason: format!("not a usable anchor: {e}"),
        })?;
        self.roots = Arc::new(store);
        self.extra += 1;
        Ok(())
    }

    /// The root store (for rustls / webpki).
    pub fn roots(&self) -> &Arc<RootCertStore> {
        &self.roots
    }

    /// Number of anchors in total.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there is no anchor at all.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Number of anchors added beyond the defaults.
    pub fn extra_len(&self) -> usize {
        self.extra
    }

    /// Whether the Mozilla roots are included.
    pub fn includes_defaults(&self) -> bool {
        self.defaults
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, AnchorError> {
    use std::io::Read;
    let read_err = |source| AnchorError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut buf = Vec::new();
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(read_err)?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(AnchorError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozilla_has_roots() {
        let a = TrustAnchors::mozilla();
        assert!(a.len() > 100);
        assert_eq!(a.extra_len(), 0);
        assert!(a.includes_defaults());
        assert!(TrustAnchors::empty().is_empty());
    }

    #[test]
    fn bad_pem_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab-ca.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n%%%%\n").unwrap();
        let err = TrustAnchors::from_pem_files(std::slice::from_ref(&path), false).unwrap_err();
        assert!(err.to_string().contains("lab-ca.pem"), "{err}");

        std::fs::write(&path, "just text\n").unwrap();
        let err = TrustAnchors::from_pem_files(std::slice::from_ref(&path), true).unwrap_err();
        assert!(err.to_string().contains("lab-ca.pem"), "{err}");
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");

        let missing = dir.path().join("missing.pem");
        let err = TrustAnchors::from_pem_files(&[missing], true).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn garbage_certificate_in_valid_pem_is_rejected() {
        let pem = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let mut a = TrustAnchors::empty();
        let err = a.add_pem(pem.as_bytes(), "x.pem").unwrap_err();
        assert!(err.to_string().contains("x.pem"));
        assert!(a.is_empty());
    }
}
