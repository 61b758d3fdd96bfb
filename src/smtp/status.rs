//! The closed vocabularies of the STARTTLS probe: the outcome ([`SmtpStatus`], exactly the
//! SMTP outcomes of `docs/ground-truth.md`) and the finer dialog phase ([`SmtpPhase`]).
//!
//! This module owns the strings; it must not decide outcomes (that is [`super::dialog`]).

use std::fmt;

/// Outcome of one STARTTLS probe. The strings are the `smtp` column of the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SmtpStatus {
    /// `ok`: TLS established and EHLO answered after it.
    Ok,
    /// `connect-refused`: the TCP connection was refused (or failed other than by timeout).
    ConnectRefused,
    /// `connect-timeout`: the TCP connection did not complete in time.
    ConnectTimeout,
    /// `greeting-timeout`: no complete greeting in time (includes tarpits and the
    /// whole-session deadline before the greeting completed).
    GreetingTimeout,
    /// `greeting-rejected`: a 5xx greeting (e.g. `554`).
    GreetingRejected,
    /// `greeting-tempfail`: a 4xx greeting (e.g. `421`).
    GreetingTempfail,
    /// `protocol-error`: garbage, over-long or endless replies, an unexpected reply code, or
    /// the connection closed or stalled before the STARTTLS reply.
    ProtocolError,
    /// `ehlo-rejected`: EHLO and HELO both refused.
    EhloRejected,
    /// `starttls-not-offered`: the EHLO reply does not advertise STARTTLS (or only HELO
    /// was accepted).
    StarttlsNotOffered,
    /// `starttls-refused`: a 4xx/5xx reply to STARTTLS.
    StarttlsRefused,
    /// `tls-version-unsupported`: the server only speaks TLS 1.0/1.1.
    TlsVersionUnsupported,
    /// `handshake-failed`: any other TLS handshake failure.
    HandshakeFailed,
    /// `post-tls-error`: EHLO after the TLS handshake failed.
    PostTlsError,
}

impl SmtpStatus {
    /// Every value, in declaration order.
    pub const ALL: [SmtpStatus; 13] = [
        Self::Ok,
        Self::ConnectRefused,
        Self::ConnectTimeout,
        Self::GreetingTimeout,
        Self::GreetingRejected,
        Self::GreetingTempfail,
        Self::ProtocolError,
        Self::EhloRejected,
        Self::StarttlsNotOffered,
        Self::StarttlsRefused,
        Self::TlsVersionUnsupported,
        Self::HandshakeFailed,
        Self::PostTlsError,
    ];

    /// The kebab-case string of this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ConnectRefused => "connect-refused",
            Self::ConnectTimeout => "connect-timeout",
            Self::GreetingTimeout => "greeting-timeout",
            Self::GreetingRejected => "greeting-rejected",
            Self::GreetingTempfail => "greeting-tempfail",
            Self::ProtocolError => "protocol-error",
            Self::EhloRejected => "ehlo-rejected",
            Self::StarttlsNotOffered => "starttls-not-offered",
            Self::StarttlsRefused => "starttls-refused",
            Self::TlsVersionUnsupported => "tls-version-unsupported",
            Self::HandshakeFailed => "handshake-failed",
            Self::PostTlsError => "post-tls-error",
        }
    }

    /// Parses a kebab-case string back into a status.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True when a TLS handshake completed (the chain and TLS parameters are known).
    pub fn tls_established(self) -> bool {
        matches!(self, Self::Ok | Self::PostTlsError)
    }
}

impl fmt::Display for SmtpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far the dialog got: the phase in which the outcome was decided (the command whose
/// reply, timeout or close ended the dialog), or `done` after a complete dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SmtpPhase {
    /// `connect`: opening the TCP connection.
    Connect,
    /// `greeting`: waiting for the `220` greeting.
    Greeting,
    /// `ehlo`: EHLO sent, waiting for its reply.
    Ehlo,
    /// `helo`: EHLO was refused with 5xx, HELO sent, waiting for its reply.
    Helo,
    /// `starttls`: STARTTLS sent, waiting for its reply.
    Starttls,
    /// `tls-handshake`: the TLS handshake.
    TlsHandshake,
    /// `ehlo-tls`: the second EHLO over TLS.
    EhloTls,
    /// `quit`: QUIT sent (best effort; its outcome does not change the status).
    Quit,
    /// `done`: the dialog finished.
    Done,
}

impl SmtpPhase {
    /// The kebab-case string of this phase.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::Helo => "helo",
            Self::Starttls => "starttls",
            Self::TlsHandshake => "tls-handshake",
            Self::EhloTls => "ehlo-tls",
            Self::Quit => "quit",
            Self::Done => "done",
        }
    }
}

impl fmt::Display for SmtpPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vocabulary is exactly the SMTP outcomes listed in docs/ground-truth.md.
    #[test]
    fn vocabulary_matches_ground_truth() {
        let truth = "ok connect-refused connect-timeout greeting-timeout greeting-rejected \
                     greeting-tempfail protocol-error ehlo-rejected starttls-not-offered \
                     starttls-refused tls-version-unsupported handshake-failed post-tls-error";
        let ours: Vec<&str> = SmtpStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ours, truth.split_whitespace().collect::<Vec<_>>());
        for s in SmtpStatus::ALL {
            assert_eq!(SmtpStatus::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(SmtpStatus::parse("OK"), None);
    }
}
