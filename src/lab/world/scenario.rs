//! The scenario catalog: a closed list of named domain configurations drawn from the
//! misconfiguration classes seen on the real internet (`/work/shared/scenarios.md`). Each
//! scenario is a kebab-case name, a realistic weight (per million domains) and a [`Spec`]
//! — the behaviour — from which the ground truth follows by declaration (see [`super::spec`]).
//!
//! Scenarios whose MX set is "hosted somewhere ordinary" take a [`Provider`] so generated
//! worlds can concentrate them on Google-like and Microsoft-like providers.

use super::spec::{
    CertNames, ContentType, Fault, HostCert, MaxAge, MxLayout, MxServer, PolicyBody, PolicyHost,
    PolicyHttp, PolicyMx, PolicySyntax, Provider, Spec, StsTxt, TlsRpt,
};
use super::vocab::PolicyMode;
use crate::lab::model::{BodyFraming, CertVariant, SmtpPersonality};

macro_rules! catalog {
    ($( $(#[doc = $doc:expr])* $v:ident = $name:literal, $w:expr; )*) => {
        /// A scenario of the catalog. The doc of each value says what the domain serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scenario {
            $( $(#[doc = $doc])* $v, )*
        }
        impl Scenario {
            /// Every scenario, in catalog order.
            pub const ALL: &'static [Scenario] = &[$(Scenario::$v,)*];
            /// The kebab-case name (the `scenario` column of the ground truth).
            pub fn name(self) -> &'static str {
                match self { $(Scenario::$v => $name,)* }
            }
            /// Weight in the `realistic` mix, per million domains (see `docs/lab.md`).
            pub fn realistic_weight(self) -> u32 {
                match self { $(Scenario::$v => $w,)* }
            }
        }
    };
}

catalog! {
    // ---- no MTA-STS -------------------------------------------------------------------
    /// No MTA-STS, no TLS-RPT; MX at a provider (the common case).
    NoSts = "no-sts", 579_630;
    /// No MTA-STS but a valid TLS-RPT record (TLS-RPT without MTA-STS).
    NoStsTlsrpt = "no-sts-tlsrpt", 8_000;
    /// No MTA-STS, no MX, the apex has an address (implicit MX; nothing listens on 25).
    NoStsImplicitMx = "no-sts-implicit-mx", 250_000;
    /// No MTA-STS, no MX and no address (not a mail domain).
    NoStsNoMail = "no-sts-no-mail", 120_000;
    /// Only a null MX (RFC 7505), no MTA-STS.
    NullMx = "null-mx", 15_000;
    /// A null MX next to a real MX (RFC 7505 §3 says not to), no MTA-STS.
    NullMxMixed = "null-mx-mixed", 500;
    /// The MX lookup gets SERVFAIL.
    MxServfail = "mx-servfail", 950;
    /// A valid enforce policy (usable), but the MX lookup gets SERVFAIL: whether a sender
    /// could deliver is unknown, not "undeliverable".
    MxServfailWithPolicy = "mx-servfail-with-policy", 50;
    /// The MX lookup gets REFUSED.
    MxRefused = "mx-refused", 300;
    /// The MX lookup is never answered.
    MxTimeout = "mx-timeout", 500;
    /// The MX answer is truncated over UDP and complete over TCP.
    MxTruncatedTcp = "mx-truncated-tcp", 200;
    // ---- TLS-RPT classes (no MTA-STS) ---------------------------------------------------
    /// Valid TLS-RPT with an https rua.
    TlsrptHttps = "tlsrpt-https", 1_000;
    /// TLS-RPT record without `v=TLSRPTv1` (so no record).
    TlsrptMissingVersion = "tlsrpt-missing-version", 300;
    /// `v=TLSRPTv1;` without rua.
    TlsrptNoRua = "tlsrpt-no-rua", 200;
    /// rua that is not a URI (`tlsrpt@D`).
    TlsrptInvalidRua = "tlsrpt-invalid-rua", 200;
    /// rua with the `http:` scheme.
    TlsrptHttpRua = "tlsrpt-http-rua", 100;
    /// rua with an unencoded `!` (`mailto:…!10m`).
    TlsrptUnencodedBang = "tlsrpt-unencoded-bang", 100;
    /// Two `v=TLSRPTv1` records.
    TlsrptMultiple = "tlsrpt-multiple", 100;
    /// The TLS-RPT lookup gets SERVFAIL.
    TlsrptServfail = "tlsrpt-servfail", 100;
    /// The TLS-RPT lookup gets REFUSED.
    TlsrptRefused = "tlsrpt-refused", 50;
    /// The TLS-RPT lookup is never answered.
    TlsrptTimeout = "tlsrpt-timeout", 50;
    /// The TLS-RPT answer is truncated over UDP and complete over TCP.
    TlsrptTruncatedTcp = "tlsrpt-truncated-tcp", 50;
    // ---- valid MTA-STS ------------------------------------------------------------------
    /// Valid TXT, valid enforce policy (CRLF) covering every MX, valid certificates, TLS-RPT.
    EnforceValid = "enforce-valid", 6_000;
    /// As `enforce-valid` with LF-only line endings.
    EnforceValidLf = "enforce-valid-lf", 2_000;
    /// As `enforce-valid`, the policy sent with chunked framing.
    EnforceValidChunked = "enforce-valid-chunked", 300;
    /// Valid testing policy.
    TestingValid = "testing-valid", 3_000;
    /// Valid `mode: none` policy with mx lines (decommissioning).
    NoneValid = "none-valid", 400;
    /// Valid `mode: none` policy without mx lines.
    NoneNoMx = "none-no-mx", 100;
    /// Policy host certificate valid but expiring in 10 days.
    PolicyCertExpiring = "policy-cert-expiring", 300;
    /// Policy host certificate is a valid `*.D` wildcard.
    PolicyCertWildcard = "policy-cert-wildcard", 300;
    /// Policy with an extension field.
    PolicyExtensionField = "policy-extension-field", 30;
    /// `mode` given twice (first wins).
    PolicyDuplicateMode = "policy-duplicate-mode", 30;
    /// Policy served as `text/html`.
    PolicyContentTypeHtml = "policy-content-type-html", 150;
    /// Policy served as `application/octet-stream`.
    PolicyContentTypeOctetStream = "policy-content-type-octet-stream", 100;
    /// Policy served without Content-Type.
    PolicyContentTypeMissing = "policy-content-type-missing", 100;
    /// `max_age: 3600` (under a day; valid).
    MaxAgeShort = "max-age-short", 150;
    /// `max_age: 31557600` (the maximum; valid).
    MaxAgeMax = "max-age-max", 100;
    // ---- TXT classes ----------------------------------------------------------------------
    /// `v=STS1; id=…` (not `v=STSv1`: no record); policy host served anyway.
    TxtWrongVersion = "txt-wrong-version", 60;
    /// `v=STSv1;` without id.
    TxtMissingId = "txt-missing-id", 300;
    /// id containing `-`.
    TxtIdHyphen = "txt-id-hyphen", 200;
    /// id of 33 characters.
    TxtIdTooLong = "txt-id-too-long", 100;
    /// The record wrapped in literal quotes (no record begins with `v=STSv1`).
    TxtLeadingJunk = "txt-leading-junk", 60;
    /// `v=STSv1 ; id=…` (whitespace before `;`: valid per the §3.1 ABNF, errata 6285).
    TxtSpaceBeforeSemicolon = "txt-space-before-semicolon", 100;
    /// Two `v=STSv1` records.
    TxtMultiple = "txt-multiple", 200;
    /// One record split over two character-strings.
    TxtMultiString = "txt-multi-string", 100;
    /// A valid record next to an unrelated TXT record.
    TxtWithUnrelated = "txt-with-unrelated", 200;
    /// A valid record with an extension field.
    TxtExtensionField = "txt-extension-field", 50;
    /// `_mta-sts` CNAME'd to a policy vendor, one hop.
    TxtCname1 = "txt-cname-1", 600;
    /// `_mta-sts` CNAME chain of two hops.
    TxtCname2 = "txt-cname-2", 150;
    /// `_mta-sts` CNAME chain of three hops.
    TxtCname3 = "txt-cname-3", 50;
    /// `_mta-sts` CNAME to a name that does not exist.
    TxtCnameDangling = "txt-cname-dangling", 40;
    /// The TXT answer is truncated over UDP and complete over TCP.
    TxtTruncatedTcp = "txt-truncated-tcp", 50;
    /// The `_mta-sts` lookup gets SERVFAIL.
    TxtServfail = "txt-servfail", 100;
    /// The `_mta-sts` lookup gets REFUSED.
    TxtRefused = "txt-refused", 50;
    /// The `_mta-sts` lookup is never answered.
    TxtTimeout = "txt-timeout", 50;
    /// A policy is served but no TXT exists (an orphan).
    PolicyWithoutTxt = "policy-without-txt", 150;
    // ---- policy host ----------------------------------------------------------------------
    /// Valid TXT, `mta-sts.D` does not exist.
    PolicyHostNoAddress = "policy-host-no-address", 800;
    /// Valid TXT, nothing listens on `mta-sts.D`:443.
    PolicyHostRefused = "policy-host-refused", 300;
    /// Valid TXT, the `mta-sts.D` lookup gets SERVFAIL.
    PolicyHostServfail = "policy-host-servfail", 50;
    /// Valid TXT, `mta-sts.D`:443 never answers the connection attempt (filtered port).
    PolicyConnectTimeout = "policy-connect-timeout", 50;
    /// Valid TXT, the policy host aborts the TLS handshake with a fatal alert (no
    /// certificate configured for `mta-sts.D`).
    PolicyTlsAlert = "policy-tls-alert", 30;
    /// Policy host certificate self-signed.
    PolicyCertSelfSigned = "policy-cert-self-signed", 300;
    /// Policy host certificate expired.
    PolicyCertExpired = "policy-cert-expired", 300;
    /// Policy host certificate not yet valid.
    PolicyCertNotYetValid = "policy-cert-not-yet-valid", 30;
    /// Policy host certificate from an untrusted CA.
    PolicyCertUntrusted = "policy-cert-untrusted", 100;
    /// Policy host sends its leaf without the intermediate.
    PolicyCertMissingIntermediate = "policy-cert-missing-intermediate", 200;
    /// Policy host certificate for `clientAuth` only (no `serverAuth` purpose).
    PolicyCertWrongPurpose = "policy-cert-wrong-purpose", 20;
    /// Policy host certificate for `D` and `www.D` instead of `mta-sts.D`.
    PolicyCertApex = "policy-cert-apex", 300;
    /// The policy URL answers 404.
    PolicyHttp404 = "policy-http-404", 500;
    /// The policy URL answers 403 (bot protection).
    PolicyHttp403 = "policy-http-403", 100;
    /// The policy URL answers 500.
    PolicyHttp500 = "policy-http-500", 100;
    /// The policy URL answers 503.
    PolicyHttp503 = "policy-http-503", 50;
    /// The policy URL answers 301 to another https URL.
    PolicyRedirect301 = "policy-redirect-301", 150;
    /// The policy URL answers 302 to another https URL.
    PolicyRedirect302 = "policy-redirect-302", 100;
    /// The policy host reads the request and never answers.
    PolicyStall = "policy-stall", 30;
    /// The policy host closes after the TLS handshake.
    PolicyClose = "policy-close", 30;
    // ---- policy syntax --------------------------------------------------------------------
    /// Policy without `version`.
    PolicyMissingVersion = "policy-missing-version", 100;
    /// Policy without `mode`.
    PolicyMissingMode = "policy-missing-mode", 50;
    /// Policy without `max_age`.
    PolicyMissingMaxAge = "policy-missing-max-age", 100;
    /// `mode: enforcing`.
    PolicyUnknownMode = "policy-unknown-mode", 50;
    /// `nmx:` instead of `mx:` in an enforce policy (no mx: invalid).
    PolicyNmxTypo = "policy-nmx-typo", 50;
    /// An HTML page served as the policy.
    PolicyHtmlBody = "policy-html-body", 200;
    /// A UTF-8 BOM before `version`.
    PolicyBom = "policy-bom", 50;
    /// Bare CR line endings.
    PolicyBareCr = "policy-bare-cr", 30;
    /// A policy over 64 KiB with Content-Length.
    PolicyTooLargeLength = "policy-too-large-length", 20;
    /// A policy over 64 KiB, chunked.
    PolicyTooLargeChunked = "policy-too-large-chunked", 20;
    /// `max_age: 31557601` (over the maximum).
    MaxAgeOutOfRange = "max-age-out-of-range", 30;
    /// `max_age: 1w` (not a number).
    MaxAgeNonNumeric = "max-age-non-numeric", 50;
    // ---- MX coverage ----------------------------------------------------------------------
    /// Enforce policy listing only the old provider after a migration: no MX covered.
    EnforceAllUncovered = "enforce-all-uncovered", 300;
    /// Policy covering `mx.D` but not `mx2.D`.
    MxPartlyCovered = "mx-partly-covered", 200;
    /// Enforce policy `*.mx.D`, MX `a.b.mx.D` (a wildcard covers one label only).
    MxWildcardTooDeep = "mx-wildcard-too-deep", 50;
    /// MX target `mail.D` is a CNAME to `mx.D`.
    MxCname = "mx-cname", 50;
    /// Null MX with an enforce policy published.
    MxNullWithPolicy = "mx-null-with-policy", 50;
    /// No MX and no address, with an enforce policy (zero MX hosts).
    EnforceZeroMx = "enforce-zero-mx", 50;
    /// Enforce policy, the only MX presents a self-signed certificate.
    EnforceAllBadCerts = "enforce-all-bad-certs", 150;
    // ---- MX certificates (testing policy) -------------------------------------------------
    /// MX certificate self-signed.
    MxCertSelfSigned = "mx-cert-self-signed", 150;
    /// MX certificate expired.
    MxCertExpired = "mx-cert-expired", 150;
    /// MX certificate not yet valid.
    MxCertNotYetValid = "mx-cert-not-yet-valid", 20;
    /// MX certificate for another name.
    MxCertNameMismatch = "mx-cert-name-mismatch", 150;
    /// MX certificate from an untrusted CA.
    MxCertUntrusted = "mx-cert-untrusted", 50;
    /// MX sends its leaf without the intermediate.
    MxCertMissingIntermediate = "mx-cert-missing-intermediate", 50;
    /// MX certificate for `clientAuth` only (no `serverAuth` purpose).
    MxCertWrongPurpose = "mx-cert-wrong-purpose", 20;
    /// MX presents the shared self-signed "demo" certificate.
    MxCertDemo = "mx-cert-demo", 150;
    // ---- SMTP personalities ---------------------------------------------------------------
    /// Multi-line `220-` greeting (fine).
    SmtpMultilineGreeting = "smtp-multiline-greeting", 100;
    /// Greeting after 2 s (postscreen-like; fine).
    SmtpSlowGreeting = "smtp-slow-greeting", 100;
    /// 421 above 4 concurrent connections (fine for one probe).
    SmtpConnectionLimit = "smtp-connection-limit", 50;
    /// Plaintext pipelined after `220` to STARTTLS.
    SmtpStarttlsInjection = "smtp-starttls-injection", 50;
    /// EHLO without STARTTLS.
    SmtpNoStarttls = "smtp-no-starttls", 100;
    /// STARTTLS answered 454.
    SmtpStarttlsRefused = "smtp-starttls-refused", 30;
    /// Connection closed instead of a TLS handshake.
    SmtpHandshakeAbort = "smtp-handshake-abort", 30;
    /// Only TLS 1.0/1.1.
    SmtpLegacyTls = "smtp-legacy-tls", 30;
    /// Greeting trickled one byte at a time (tarpit).
    SmtpTarpit = "smtp-tarpit", 20;
    /// 554 greeting.
    SmtpRejectGreeting = "smtp-reject-greeting", 20;
    /// 421 greeting.
    SmtpTempfailGreeting = "smtp-tempfail-greeting", 20;
    /// Binary garbage instead of a greeting.
    SmtpGarbage = "smtp-garbage", 20;
    /// Endless `250-` continuation to EHLO.
    SmtpEndlessContinuation = "smtp-endless-continuation", 10;
    /// Closes right after EHLO.
    SmtpCloseAfterEhlo = "smtp-close-after-ehlo", 20;
    /// EHLO refused, HELO accepted.
    SmtpHeloOnly = "smtp-helo-only", 20;
    /// EHLO and HELO both refused with 550.
    SmtpEhloRejected = "smtp-ehlo-rejected", 20;
    /// TLS handshake completes, then the server closes instead of answering EHLO.
    SmtpCloseAfterTls = "smtp-close-after-tls", 20;
    /// TLS handshake completes, then EHLO over TLS is answered 554.
    SmtpRejectAfterTls = "smtp-reject-after-tls", 10;
    /// Nothing listens on the MX address.
    SmtpRefused = "smtp-refused", 50;
    /// The MX address never answers the connection attempt on port 25 (filtered port).
    SmtpConnectTimeout = "smtp-connect-timeout", 50;
    // ---- over time (epoch 0: enforce-valid; the change from epoch 1 on) -------------------
    /// From epoch 1 the policy says `mode: testing` but the TXT `id` is not bumped.
    OverTimePolicyEditedIdKept = "over-time-policy-edited-id-kept", 100;
    /// From epoch 1 the TXT `id` changes while the policy stays the same.
    OverTimeIdBumpedNoChange = "over-time-id-bumped-no-change", 100;
    /// From epoch 1 the TXT is removed while the enforce policy stays (no `mode: none` first).
    OverTimeTxtRemoved = "over-time-txt-removed", 50;
    /// Self-hosted `mx.D`; from epoch 1 the MX moves to the Google-like provider while the
    /// enforce policy still lists only `mx.D` (delivery breaks).
    OverTimeMxMoved = "over-time-mx-moved", 50;
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn body(syntax: PolicySyntax, mode: PolicyMode) -> PolicyBody {
    PolicyBody {
        syntax,
        mode,
        max_age: MaxAge::Week,
        mx: PolicyMx::Cover,
    }
}

fn serve(body: PolicyBody) -> PolicyHttp {
    PolicyHttp::Serve {
        body,
        content_type: ContentType::TextPlain,
        framing: BodyFraming::ContentLength,
    }
}

fn served(http: PolicyHttp) -> PolicyHost {
    PolicyHost::Served {
        cert: HostCert::VALID,
        http,
    }
}

fn cert(variant: CertVariant, names: CertNames) -> HostCert {
    HostCert { variant, names }
}

/// The valid enforce baseline.
fn sts(p: Provider) -> Spec {
    Spec {
        sts: StsTxt::Valid,
        sts_fault: Fault::None,
        host: served(serve(body(PolicySyntax::Crlf, PolicyMode::Enforce))),
        mx: MxLayout::Provider(p),
        mx_fault: Fault::None,
        tlsrpt: TlsRpt::Mailto,
        tlsrpt_fault: Fault::None,
        id_generation: 0,
    }
}

/// No MTA-STS baseline.
fn no_sts(p: Provider) -> Spec {
    Spec {
        sts: StsTxt::Absent,
        host: PolicyHost::NoAddress,
        tlsrpt: TlsRpt::Absent,
        ..sts(p)
    }
}

fn with_body(p: Provider, body: PolicyBody) -> Spec {
    Spec {
        host: served(serve(body)),
        ..sts(p)
    }
}

fn with_http(p: Provider, http: PolicyHttp) -> Spec {
    Spec {
        host: served(http),
        ..sts(p)
    }
}

fn with_policy_cert(p: Provider, c: HostCert) -> Spec {
    Spec {
        host: PolicyHost::Served {
            cert: c,
            http: serve(body(PolicySyntax::Crlf, PolicyMode::Enforce)),
        },
        ..sts(p)
    }
}

fn with_mx(mx: MxLayout, mode: PolicyMode, pmx: PolicyMx) -> Spec {
    Spec {
        mx,
        host: served(serve(PolicyBody {
            mx: pmx,
            ..body(PolicySyntax::Crlf, mode)
        })),
        ..sts(Provider::SelfHosted)
    }
}

fn server(personality: SmtpPersonality, c: HostCert) -> MxLayout {
    MxLayout::SelfHosted(MxServer {
        personality,
        cert: c,
    })
}

fn mx_cert(c: HostCert) -> Spec {
    with_mx(
        server(SmtpPersonality::Normal, c),
        PolicyMode::Testing,
        PolicyMx::Cover,
    )
}

fn smtp(personality: SmtpPersonality, mode: PolicyMode) -> Spec {
    with_mx(server(personality, HostCert::VALID), mode, PolicyMx::Cover)
}

impl Scenario {
    /// The scenario with this name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Whether the scenario's MX set is hosted by the given [`Provider`] (so generated
    /// worlds choose one); otherwise the provider argument of [`Scenario::spec`] is ignored.
    pub fn uses_provider(self) -> bool {
        matches!(self.spec(Provider::SelfHosted).mx, MxLayout::Provider(_))
    }

    /// The configuration this scenario serves, with MX at `p` where it applies.
    pub fn spec(self, p: Provider) -> Spec {
        use CertVariant as V;
        use PolicyMode as M;
        use PolicySyntax as S;
        use Scenario::*;
        use SmtpPersonality as P;
        match self {
            NoSts => no_sts(p),
            NoStsTlsrpt => Spec {
                tlsrpt: TlsRpt::Mailto,
                ..no_sts(p)
            },
            NoStsImplicitMx => Spec {
                mx: MxLayout::Implicit,
                ..no_sts(p)
            },
            NoStsNoMail => Spec {
                mx: MxLayout::NoMail,
                ..no_sts(p)
            },
            NullMx => Spec {
                mx: MxLayout::Null,
                ..no_sts(p)
            },
            NullMxMixed => Spec {
                mx: MxLayout::MixedNull,
                ..no_sts(p)
            },
            MxServfail => Spec {
                mx_fault: Fault::ServFail,
                ..no_sts(p)
            },
            MxServfailWithPolicy => Spec {
                mx_fault: Fault::ServFail,
                ..sts(p)
            },
            MxRefused => Spec {
                mx_fault: Fault::Refused,
                ..no_sts(p)
            },
            MxTimeout => Spec {
                mx_fault: Fault::Timeout,
                ..no_sts(p)
            },
            MxTruncatedTcp => Spec {
                mx_fault: Fault::TruncateUdp,
                ..no_sts(p)
            },
            TlsrptHttps => tlsrpt(p, TlsRpt::Https, Fault::None),
            TlsrptMissingVersion => tlsrpt(p, TlsRpt::MissingVersion, Fault::None),
            TlsrptNoRua => tlsrpt(p, TlsRpt::NoRua, Fault::None),
            TlsrptInvalidRua => tlsrpt(p, TlsRpt::InvalidRua, Fault::None),
            TlsrptHttpRua => tlsrpt(p, TlsRpt::HttpRua, Fault::None),
            TlsrptUnencodedBang => tlsrpt(p, TlsRpt::UnencodedBang, Fault::None),
            TlsrptMultiple => tlsrpt(p, TlsRpt::Multiple, Fault::None),
            TlsrptServfail => tlsrpt(p, TlsRpt::Two, Fault::ServFail),
            TlsrptRefused => tlsrpt(p, TlsRpt::Two, Fault::Refused),
            TlsrptTimeout => tlsrpt(p, TlsRpt::Two, Fault::Timeout),
            TlsrptTruncatedTcp => tlsrpt(p, TlsRpt::Two, Fault::TruncateUdp),
            EnforceValid => sts(p),
            EnforceValidLf => with_body(p, body(S::Lf, M::Enforce)),
            EnforceValidChunked => with_http(
                p,
                PolicyHttp::Serve {
                    body: body(S::Crlf, M::Enforce),
                    content_type: ContentType::TextPlain,
                    framing: BodyFraming::Chunked,
                },
            ),
            TestingValid => with_body(p, body(S::Crlf, M::Testing)),
            NoneValid => with_body(p, body(S::Crlf, M::None)),
            NoneNoMx => with_body(
                p,
                PolicyBody {
                    mx: PolicyMx::Empty,
                    ..body(S::Crlf, M::None)
                },
            ),
            PolicyCertExpiring => with_policy_cert(p, cert(V::ExpiresInDays(10), CertNames::Host)),
            PolicyCertWildcard => with_policy_cert(p, cert(V::Valid, CertNames::ParentWildcard)),
            PolicyExtensionField => with_body(p, body(S::ExtensionField, M::Enforce)),
            PolicyDuplicateMode => with_body(p, body(S::DuplicateMode, M::Enforce)),
            PolicyContentTypeHtml => content_type(p, ContentType::Html),
            PolicyContentTypeOctetStream => content_type(p, ContentType::OctetStream),
            PolicyContentTypeMissing => content_type(p, ContentType::Missing),
            MaxAgeShort => max_age(p, MaxAge::Short),
            MaxAgeMax => max_age(p, MaxAge::Max),
            TxtWrongVersion => txt(p, StsTxt::WrongVersion, Fault::None),
            TxtMissingId => txt(p, StsTxt::MissingId, Fault::None),
            TxtIdHyphen => txt(p, StsTxt::IdHyphen, Fault::None),
            TxtIdTooLong => txt(p, StsTxt::IdTooLong, Fault::None),
            TxtLeadingJunk => txt(p, StsTxt::LeadingJunk, Fault::None),
            TxtSpaceBeforeSemicolon => txt(p, StsTxt::SpaceBeforeSemicolon, Fault::None),
            TxtMultiple => txt(p, StsTxt::Multiple, Fault::None),
            TxtMultiString => txt(p, StsTxt::MultiString, Fault::None),
            TxtWithUnrelated => txt(p, StsTxt::WithUnrelated, Fault::None),
            TxtExtensionField => txt(p, StsTxt::ExtensionField, Fault::None),
            TxtCname1 => txt(p, StsTxt::Cname(1), Fault::None),
            TxtCname2 => txt(p, StsTxt::Cname(2), Fault::None),
            TxtCname3 => txt(p, StsTxt::Cname(3), Fault::None),
            TxtCnameDangling => txt(p, StsTxt::CnameDangling, Fault::None),
            TxtTruncatedTcp => txt(p, StsTxt::Valid, Fault::TruncateUdp),
            TxtServfail => txt(p, StsTxt::Valid, Fault::ServFail),
            TxtRefused => txt(p, StsTxt::Valid, Fault::Refused),
            TxtTimeout => txt(p, StsTxt::Valid, Fault::Timeout),
            PolicyWithoutTxt => txt(p, StsTxt::Absent, Fault::None),
            PolicyHostNoAddress => Spec {
                host: PolicyHost::NoAddress,
                ..sts(p)
            },
            PolicyHostRefused => Spec {
                host: PolicyHost::Refused,
                ..sts(p)
            },
            PolicyHostServfail => Spec {
                host: PolicyHost::DnsError,
                ..sts(p)
            },
            PolicyConnectTimeout => Spec {
                host: PolicyHost::Blackhole,
                ..sts(p)
            },
            PolicyTlsAlert => Spec {
                host: PolicyHost::HandshakeRefused,
                ..sts(p)
            },
            PolicyCertSelfSigned => with_policy_cert(p, cert(V::SelfSigned, CertNames::Host)),
            PolicyCertExpired => with_policy_cert(p, cert(V::Expired, CertNames::Host)),
            PolicyCertNotYetValid => with_policy_cert(p, cert(V::NotYetValid, CertNames::Host)),
            PolicyCertUntrusted => with_policy_cert(p, cert(V::UnknownCa, CertNames::Host)),
            PolicyCertMissingIntermediate => {
                with_policy_cert(p, cert(V::MissingIntermediate, CertNames::Host))
            }
            PolicyCertWrongPurpose => with_policy_cert(p, cert(V::WrongPurpose, CertNames::Host)),
            PolicyCertApex => with_policy_cert(p, cert(V::Valid, CertNames::Apex)),
            PolicyHttp404 => with_http(p, PolicyHttp::Status(404)),
            PolicyHttp403 => with_http(p, PolicyHttp::Status(403)),
            PolicyHttp500 => with_http(p, PolicyHttp::Status(500)),
            PolicyHttp503 => with_http(p, PolicyHttp::Status(503)),
            PolicyRedirect301 => with_http(p, PolicyHttp::Redirect(301)),
            PolicyRedirect302 => with_http(p, PolicyHttp::Redirect(302)),
            PolicyStall => with_http(p, PolicyHttp::Stall),
            PolicyClose => with_http(p, PolicyHttp::Close),
            PolicyMissingVersion => with_body(p, body(S::MissingVersion, M::Enforce)),
            PolicyMissingMode => with_body(p, body(S::MissingMode, M::Enforce)),
            PolicyMissingMaxAge => with_body(p, body(S::MissingMaxAge, M::Enforce)),
            PolicyUnknownMode => with_body(p, body(S::UnknownMode, M::Enforce)),
            PolicyNmxTypo => with_body(p, body(S::NmxTypo, M::Enforce)),
            PolicyHtmlBody => with_body(p, body(S::HtmlBody, M::Enforce)),
            PolicyBom => with_body(p, body(S::Bom, M::Enforce)),
            PolicyBareCr => with_body(p, body(S::BareCr, M::Enforce)),
            PolicyTooLargeLength => with_http(p, PolicyHttp::TooLarge(BodyFraming::ContentLength)),
            PolicyTooLargeChunked => with_http(p, PolicyHttp::TooLarge(BodyFraming::Chunked)),
            MaxAgeOutOfRange => max_age(p, MaxAge::OutOfRange),
            MaxAgeNonNumeric => max_age(p, MaxAge::NonNumeric),
            EnforceAllUncovered => with_mx(
                MxLayout::Provider(Provider::GoogleLike),
                M::Enforce,
                PolicyMx::OldProvider,
            ),
            MxPartlyCovered => with_mx(MxLayout::Pair, M::Enforce, PolicyMx::FirstOnly),
            MxWildcardTooDeep => with_mx(MxLayout::Deep, M::Enforce, PolicyMx::ShallowWildcard),
            MxCname => with_mx(MxLayout::Cname, M::Enforce, PolicyMx::Cover),
            MxNullWithPolicy => with_mx(MxLayout::Null, M::Enforce, PolicyMx::ShallowWildcard),
            EnforceZeroMx => with_mx(MxLayout::NoMail, M::Enforce, PolicyMx::ShallowWildcard),
            EnforceAllBadCerts => with_mx(
                server(P::Normal, cert(V::SelfSigned, CertNames::Host)),
                M::Enforce,
                PolicyMx::Cover,
            ),
            MxCertSelfSigned => mx_cert(cert(V::SelfSigned, CertNames::Host)),
            MxCertExpired => mx_cert(cert(V::Expired, CertNames::Host)),
            MxCertNotYetValid => mx_cert(cert(V::NotYetValid, CertNames::Host)),
            MxCertNameMismatch => mx_cert(cert(V::Valid, CertNames::Unrelated)),
            MxCertUntrusted => mx_cert(cert(V::UnknownCa, CertNames::Host)),
            MxCertMissingIntermediate => mx_cert(cert(V::MissingIntermediate, CertNames::Host)),
            MxCertWrongPurpose => mx_cert(cert(V::WrongPurpose, CertNames::Host)),
            MxCertDemo => mx_cert(cert(V::SelfSigned, CertNames::Demo)),
            SmtpMultilineGreeting => smtp(P::MultilineGreeting, M::Enforce),
            SmtpSlowGreeting => smtp(P::SlowGreeting { delay_ms: 2000 }, M::Enforce),
            SmtpConnectionLimit => smtp(P::ConnectionLimit { limit: 4 }, M::Enforce),
            SmtpStarttlsInjection => smtp(P::PipelinedAfterStarttls, M::Enforce),
            SmtpNoStarttls => smtp(P::NoStarttls, M::Testing),
            SmtpStarttlsRefused => smtp(P::StarttlsRefused, M::Testing),
            SmtpHandshakeAbort => smtp(P::HandshakeAbort, M::Testing),
            SmtpLegacyTls => smtp(P::LegacyTlsOnly, M::Testing),
            SmtpTarpit => smtp(P::Tarpit { interval_ms: 1000 }, M::Testing),
            SmtpRejectGreeting => smtp(P::RejectGreeting, M::Testing),
            SmtpTempfailGreeting => smtp(P::TempFailGreeting, M::Testing),
            SmtpGarbage => smtp(P::Garbage, M::Testing),
            SmtpEndlessContinuation => smtp(P::EndlessContinuation, M::Testing),
            SmtpCloseAfterEhlo => smtp(P::CloseAfterEhlo, M::Testing),
            SmtpHeloOnly => smtp(P::HeloOnly, M::Testing),
            SmtpEhloRejected => smtp(P::RejectEhloAndHelo, M::Testing),
            SmtpCloseAfterTls => smtp(P::CloseAfterTls, M::Testing),
            SmtpRejectAfterTls => smtp(P::RejectEhloAfterTls, M::Testing),
            SmtpRefused => with_mx(MxLayout::Refused, M::Testing, PolicyMx::Cover),
            SmtpConnectTimeout => with_mx(MxLayout::Blackhole, M::Testing, PolicyMx::Cover),
            OverTimePolicyEditedIdKept | OverTimeIdBumpedNoChange | OverTimeTxtRemoved => sts(p),
            OverTimeMxMoved => with_mx(
                MxLayout::Provider(Provider::SelfHosted),
                M::Enforce,
                PolicyMx::SelfHostedName,
            ),
        }
    }

    /// The configuration at `epoch` (0 is the start). Only the "over time" scenarios change,
    /// from epoch 1 on; a monitoring scan of epoch 0 and then epoch 1 sees the change.
    pub fn spec_at(self, p: Provider, epoch: u32) -> Spec {
        let start = self.spec(p);
        if epoch == 0 {
            return start;
        }
        match self {
            Scenario::OverTimePolicyEditedIdKept => {
                with_body(p, body(PolicySyntax::Crlf, PolicyMode::Testing))
            }
            Scenario::OverTimeIdBumpedNoChange => Spec {
                id_generation: 1,
                ..start
            },
            Scenario::OverTimeTxtRemoved => Spec {
                sts: StsTxt::Absent,
                ..start
            },
            Scenario::OverTimeMxMoved => Spec {
                mx: MxLayout::Provider(Provider::GoogleLike),
                ..start
            },
            _ => start,
        }
    }
}

fn tlsrpt(p: Provider, t: TlsRpt, fault: Fault) -> Spec {
    Spec {
        tlsrpt: t,
        tlsrpt_fault: fault,
        ..no_sts(p)
    }
}

fn txt(p: Provider, t: StsTxt, fault: Fault) -> Spec {
    Spec {
        sts: t,
        sts_fault: fault,
        ..sts(p)
    }
}

fn content_type(p: Provider, ct: ContentType) -> Spec {
    with_http(
        p,
        PolicyHttp::Serve {
            body: body(PolicySyntax::Crlf, PolicyMode::Enforce),
            content_type: ct,
            framing: BodyFraming::ContentLength,
        },
    )
}

fn max_age(p: Provider, m: MaxAge) -> Spec {
    with_body(
        p,
        PolicyBody {
            max_age: m,
            ..body(PolicySyntax::Crlf, PolicyMode::Enforce)
        },
    )
}

/// Every self-hosted server class the catalog uses, in a fixed order (the pool index of a
/// class is its position here).
pub fn catalog_servers() -> Vec<MxServer> {
    let mut v = vec![MxServer::NORMAL];
    for s in Scenario::ALL {
        if let MxLayout::SelfHosted(srv) = s.spec(Provider::SelfHosted).mx {
            if !v.contains(&srv) {
                v.push(srv);
            }
        }
    }
    v
}
