//! Facts about a finished TLS handshake.

use rustls::pki_types::CertificateDer;
use rustls::{CommonState, ProtocolVersion};

/// What a completed handshake negotiated and what the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// Negotiated protocol version: `TLSv1.3`, `TLSv1.2`, … (None before the handshake).
    pub version: Option<String>,
    /// Negotiated cipher suite IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// The peer's chain as presented, leaf first (empty if none).
    pub chain: Vec<CertificateDer<'static>>,
}

impl TlsSession {
    /// Reads the facts from a rustls connection (`ClientConnection` derefs to
    /// [`CommonState`]; for tokio-rustls use `stream.get_ref().1`).
    pub fn from_connection(conn: &CommonState) -> Self {
        TlsSession {
            version: conn.protocol_version().map(version_name),
            cipher_suite: conn.negotiated_cipher_suite().map(|s| {
                let suite = s.suite();
                suite
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("0x{:04x}", u16::from(suite)))
            }),
            chain: conn
                .peer_certificates()
                .map(|c| c.to_vec())
                .unwrap_or_default(),
        }
    }
}

/// `TLSv1.3`-style name of a protocol version.
pub(crate) fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::SSLv2 => "SSLv2".to_owned(),
        ProtocolVersion::SSLv3 => "SSLv3".to_owned(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".to_owned(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("0x{:04x}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        assert_eq!(version_name(ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "TLSv1.2");
        assert_eq!(version_name(ProtocolVersion::Unknown(0x7f1c)), "0x7f1c");
    }
}
