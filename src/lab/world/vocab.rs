//! The closed vocabularies of the ground truth (`docs/ground-truth.md`): every value is a
//! kebab-case string with one doc comment. The scanner writes the same strings, so grading a
//! scan is a column-by-column comparison.

/// Defines a closed vocabulary: a `Copy` enum whose values map to kebab-case strings.
macro_rules! vocab {
    ($(#[doc = $tdoc:expr])* $name:ident { $( $(#[doc = $doc:expr])* $variant:ident = $s:literal, )* }) => {
        $(#[doc = $tdoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[doc = $doc])* $variant, )*
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The kebab-case string written to the ground truth.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)* }
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocab! {
    /// State of a TXT lookup (`sts_txt` for `_mta-sts`, `tlsrpt` for `_smtp._tls`).
    TxtState {
        /// No TXT RR begins with the version tag (includes NXDOMAIN and NODATA).
        Absent = "absent",
        /// Exactly one RR begins with the version tag and it is syntactically valid.
        Valid = "valid",
        /// Exactly one RR begins with the version tag and it is invalid.
        Invalid = "invalid",
        /// More than one RR begins with the version tag.
        Multiple = "multiple",
        /// The lookup failed (SERVFAIL, REFUSED, timeout).
        LookupFailed = "lookup-failed",
    }
}

vocab! {
    /// DNS status of a query.
    DnsStatus {
        /// NOERROR with records of the asked type.
        Noerror = "noerror",
        /// NOERROR without records of the asked type.
        Nodata = "nodata",
        /// The name does not exist.
        Nxdomain = "nxdomain",
        /// RCODE SERVFAIL.
        Servfail = "servfail",
        /// RCODE REFUSED.
        Refused = "refused",
        /// No answer in time.
        Timeout = "timeout",
    }
}

vocab! {
    /// Outcome of the RFC 8461 §3.3 policy fetch.
    PolicyFetch {
        /// No TXT RR begins with `v=STSv1`, so no fetch.
        NotAttempted = "not-attempted",
        /// Status 200 and a body of at most 65536 bytes, whatever the certificate.
        Ok = "ok",
        /// A status other than 200 and other than 3xx.
        HttpStatus = "http-status",
        /// A 3xx status (never followed).
        Redirect = "redirect",
        /// A body larger than 65536 bytes.
        TooLarge = "too-large",
        /// `mta-sts.D` has no A or AAAA (NXDOMAIN/NODATA).
        HostNotFound = "host-not-found",
        /// SERVFAIL, REFUSED or timeout on the policy host lookup.
        DnsError = "dns-error",
        /// TCP connection refused.
        ConnectRefused = "connect-refused",
        /// TCP connection not established in time.
        ConnectTimeout = "connect-timeout",
        /// TLS handshake failed for a reason other than the certificate.
        TlsError = "tls-error",
        /// Connected, but the response was not complete in time.
        Timeout = "timeout",
        /// The server closed the connection without a complete response.
        ConnectionClosed = "connection-closed",
    }
}

vocab! {
    /// Verdict on a certificate for a host name (RFC 6125 DNS-ID rules; a chain problem
    /// takes precedence over a name mismatch).
    CertVerdict {
        /// Chains to the trusted root, in its validity period, valid for the name.
        Valid = "valid",
        /// notAfter in the past.
        Expired = "expired",
        /// notBefore in the future.
        NotYetValid = "not-yet-valid",
        /// Chain fine, name not in the SANs.
        NameMismatch = "name-mismatch",
        /// Self-signed leaf.
        SelfSigned = "self-signed",
        /// Chains to an unknown root.
        Untrusted = "untrusted",
        /// Only the leaf was sent and its issuer is not a trust anchor.
        IncompleteChain = "incomplete-chain",
        /// Anything else.
        Invalid = "invalid",
    }
}

vocab! {
    /// The `mode` of a valid policy.
    PolicyMode {
        /// `mode: enforce`.
        Enforce = "enforce",
        /// `mode: testing`.
        Testing = "testing",
        /// `mode: none`.
        None = "none",
    }
}

vocab! {
    /// The shape of a domain's MX RRset.
    MxKind {
        /// One or more non-null MX records.
        Hosts = "hosts",
        /// Only the RFC 7505 null MX.
        Null = "null",
        /// A null MX plus other MX records.
        MixedNull = "mixed-null",
        /// NODATA for MX but the domain has an address (RFC 5321 §5.1 implicit MX).
        Implicit = "implicit",
        /// NXDOMAIN, or NODATA and no address.
        None = "none",
        /// The MX lookup failed.
        LookupFailed = "lookup-failed",
    }
}

vocab! {
    /// Outcome of a STARTTLS probe of one MX host.
    SmtpOutcome {
        /// TLS established and EHLO answered after it.
        Ok = "ok",
        /// TCP connection refused.
        ConnectRefused = "connect-refused",
        /// TCP connection not established in time.
        ConnectTimeout = "connect-timeout",
        /// The greeting did not complete in time (tarpits included).
        GreetingTimeout = "greeting-timeout",
        /// A 5xx greeting.
        GreetingRejected = "greeting-rejected",
        /// A 4xx greeting.
        GreetingTempfail = "greeting-tempfail",
        /// Garbage, over-long or endless replies, or a close before STARTTLS.
        ProtocolError = "protocol-error",
        /// EHLO and HELO both refused.
        EhloRejected = "ehlo-rejected",
        /// STARTTLS not advertised.
        StarttlsNotOffered = "starttls-not-offered",
        /// A 4xx/5xx reply to STARTTLS.
        StarttlsRefused = "starttls-refused",
        /// The server only speaks TLS 1.0/1.1.
        TlsVersionUnsupported = "tls-version-unsupported",
        /// Any other handshake failure.
        HandshakeFailed = "handshake-failed",
        /// EHLO after TLS failed.
        PostTlsError = "post-tls-error",
    }
}
