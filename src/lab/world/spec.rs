//! The building blocks of a domain's configuration ([`Spec`]): what its `_mta-sts` TXT, policy
//! host, MX set and TLS-RPT record look like. Each block knows BOTH what it serves on the wire
//! and what an RFC-exact scanner must conclude from it — the conclusion is *declared* next to
//! the bytes (e.g. the body with an `nmx:` typo is declared invalid), never parsed back, so
//! the lab can catch a scanner's parsing mistakes.
//!
//! This module must not use the scanner's `records` or `assess` modules.

use bytes::Bytes;

use super::vocab::{CertVerdict, PolicyMode, SmtpOutcome, TxtState};
use crate::lab::model::{BodyFraming, CertSpec, CertVariant, SmtpPersonality};

/// The whole configuration of one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The `_mta-sts.D` TXT record.
    pub sts: StsTxt,
    /// DNS fault on the `_mta-sts.D` TXT lookup.
    pub sts_fault: Fault,
    /// The policy host `mta-sts.D`.
    pub host: PolicyHost,
    /// The MX set.
    pub mx: MxLayout,
    /// DNS fault on the MX lookup.
    pub mx_fault: Fault,
    /// The `_smtp._tls.D` TXT record.
    pub tlsrpt: TlsRpt,
    /// DNS fault on the `_smtp._tls.D` TXT lookup.
    pub tlsrpt_fault: Fault,
    /// Generation of the policy `id` (bumped by "over time" scenarios).
    pub id_generation: u8,
}

impl Spec {
    /// The `_mta-sts` records served and what they mean, with this spec's `id` generation.
    pub fn sts_setup(&self, domain: &str) -> TxtSetup {
        self.sts.setup_generation(domain, self.id_generation)
    }
}

/// A DNS fault injected on one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// RCODE SERVFAIL.
    ServFail,
    /// RCODE REFUSED.
    Refused,
    /// No answer (the client times out).
    Timeout,
    /// Over UDP an empty truncated answer; the real answer only over TCP.
    TruncateUdp,
}

/// The `_mta-sts.D` TXT record set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsTxt {
    /// No record: `_mta-sts.D` is NXDOMAIN.
    Absent,
    /// `v=STSv1; id=<id>;`
    Valid,
    /// `v=STS1; id=<id>;` (wrong version tag: does not begin with `v=STSv1`).
    WrongVersion,
    /// `v=STSv1;` without an `id`.
    MissingId,
    /// `id` with a `-` (only ALPHA / DIGIT allowed).
    IdHyphen,
    /// `id` of 33 characters (at most 32 allowed).
    IdTooLong,
    /// The record is wrapped in literal quote characters (copy-paste junk before `v=`).
    LeadingJunk,
    /// `v=STSv1 ; id=<id>` — whitespace before `;` (allowed by the §3.1 ABNF, errata 6285).
    SpaceBeforeSemicolon,
    /// Two records beginning with `v=STSv1`.
    Multiple,
    /// One record split into two character-strings.
    MultiString,
    /// A valid record next to an unrelated TXT record.
    WithUnrelated,
    /// A valid record with an extension field.
    ExtensionField,
    /// `_mta-sts.D` is a CNAME chain of this many hops (1–3) to a vendor name with the record.
    Cname(u8),
    /// `_mta-sts.D` is a CNAME to a name that does not exist.
    CnameDangling,
}

/// The TXT answer and the declared truth of a [`StsTxt`] or [`TlsRpt`] record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtSetup {
    /// The TXT RRs at the final name, each a list of character-strings.
    pub records: Vec<Vec<Vec<u8>>>,
    /// The name does not exist (NXDOMAIN).
    pub nxdomain: bool,
    /// Declared verdict.
    pub state: TxtState,
    /// The `id` (MTA-STS) when valid.
    pub id: Option<String>,
    /// The rua URIs (TLS-RPT) when valid.
    pub rua: Vec<String>,
    /// Some RR begins with the version tag (for MTA-STS: the policy fetch is attempted).
    pub tagged: bool,
}

fn txt(s: &str) -> Vec<Vec<u8>> {
    vec![s.as_bytes().to_vec()]
}

/// The policy id a domain publishes: 16 lowercase hex digits derived from its name and the
/// id generation.
pub fn sts_id(domain: &str, generation: u8) -> String {
    format!(
        "{:016x}",
        super::providers::name_hash(domain, 0x5d + u64::from(generation))
    )
}

impl StsTxt {
    /// The records served and what they mean (RFC 8461 §3.1), first id generation.
    pub fn setup(self, domain: &str) -> TxtSetup {
        self.setup_generation(domain, 0)
    }

    /// The records served and what they mean (RFC 8461 §3.1), for an id generation.
    pub fn setup_generation(self, domain: &str, generation: u8) -> TxtSetup {
        let id = sts_id(domain, generation);
        let valid = |records: Vec<Vec<Vec<u8>>>| TxtSetup {
            records,
            nxdomain: false,
            state: TxtState::Valid,
            id: Some(id.clone()),
            rua: Vec::new(),
            tagged: true,
        };
        let with = |records: Vec<Vec<Vec<u8>>>, state: TxtState, tagged: bool| TxtSetup {
            records,
            nxdomain: false,
            state,
            id: None,
            rua: Vec::new(),
            tagged,
        };
        let plain = format!("v=STSv1; id={id};");
        match self {
            StsTxt::Absent | StsTxt::CnameDangling => TxtSetup {
                nxdomain: true,
                ..with(Vec::new(), TxtState::Absent, false)
            },
            StsTxt::Valid | StsTxt::Cname(_) => valid(vec![txt(&plain)]),
            StsTxt::WrongVersion => with(
                vec![txt(&format!("v=STS1; id={id};"))],
                TxtState::Absent,
                false,
            ),
            StsTxt::MissingId => with(vec![txt("v=STSv1;")], TxtState::Invalid, true),
            StsTxt::IdHyphen => with(
                vec![txt("v=STSv1; id=2025-06-01;")],
                TxtState::Invalid,
                true,
            ),
            StsTxt::IdTooLong => with(
                vec![txt(&format!("v=STSv1; id={id}{id}0;"))],
                TxtState::Invalid,
                true,
            ),
            StsTxt::LeadingJunk => {
                with(vec![txt(&format!("\"{plain}\""))], TxtState::Absent, false)
            }
            StsTxt::SpaceBeforeSemicolon => valid(vec![txt(&format!("v=STSv1 ; id={id}"))]),
            StsTxt::Multiple => with(
                vec![txt(&plain), txt(&format!("v=STSv1; id={id}b;"))],
                TxtState::Multiple,
                true,
            ),
            StsTxt::MultiString => valid(vec![vec![
                b"v=STSv1; ".to_vec(),
                format!("id={id};").into_bytes(),
            ]]),
            StsTxt::WithUnrelated => valid(vec![txt("site-verification=8f2a0c1d"), txt(&plain)]),
            StsTxt::ExtensionField => valid(vec![txt(&format!("v=STSv1; id={id}; ext=lab1"))]),
        }
    }

    /// The number of CNAME hops before the final name (0 when not aliased).
    pub fn cname_depth(self) -> u8 {
        match self {
            StsTxt::Cname(n) => n.clamp(1, 3),
            StsTxt::CnameDangling => 1,
            _ => 0,
        }
    }
}

/// The `_smtp._tls.D` TXT record set (RFC 8460 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRpt {
    /// No record (NXDOMAIN).
    Absent,
    /// `v=TLSRPTv1; rua=mailto:tlsrpt@D`
    Mailto,
    /// `v=TLSRPTv1; rua=https://reports.D/tlsrpt`
    Https,
    /// A mailto and an https URI.
    Two,
    /// `rua=mailto:…` without the version tag.
    MissingVersion,
    /// `v=TLSRPTv1;` without `rua`.
    NoRua,
    /// `rua=tlsrpt@D` (not a URI: no scheme).
    InvalidRua,
    /// `rua=http://…` (only `mailto:` and `https:` are defined).
    HttpRua,
    /// `rua=mailto:tlsrpt@D!10m` (an unencoded `!`).
    UnencodedBang,
    /// Two records beginning with `v=TLSRPTv1`.
    Multiple,
}

impl TlsRpt {
    /// The records served and what they mean (RFC 8460 §3).
    pub fn setup(self, domain: &str) -> TxtSetup {
        let mailto = format!("mailto:tlsrpt@{domain}");
        let https = format!("https://reports.{domain}/tlsrpt");
        let one = |r: String, state: TxtState, tagged: bool, rua: Vec<String>| TxtSetup {
            records: vec![txt(&r)],
            nxdomain: false,
            state,
            id: None,
            rua,
            tagged,
        };
        match self {
            TlsRpt::Absent => TxtSetup {
                records: Vec::new(),
                nxdomain: true,
                state: TxtState::Absent,
                id: None,
                rua: Vec::new(),
                tagged: false,
            },
            TlsRpt::Mailto => one(
                format!("v=TLSRPTv1; rua={mailto}"),
                TxtState::Valid,
                true,
                vec![mailto],
            ),
            TlsRpt::Https => one(
                format!("v=TLSRPTv1; rua={https}"),
                TxtState::Valid,
                true,
                vec![https],
            ),
            TlsRpt::Two => one(
                format!("v=TLSRPTv1; rua={mailto},{https}"),
                TxtState::Valid,
                true,
                vec![mailto, https],
            ),
            TlsRpt::MissingVersion => {
                one(format!("rua={mailto}"), TxtState::Absent, false, Vec::new())
            }
            TlsRpt::NoRua => one("v=TLSRPTv1;".into(), TxtState::Invalid, true, Vec::new()),
            TlsRpt::InvalidRua => one(
                format!("v=TLSRPTv1; rua=tlsrpt@{domain}"),
                TxtState::Invalid,
                true,
                Vec::new(),
            ),
            TlsRpt::HttpRua => one(
                format!("v=TLSRPTv1; rua=http://reports.{domain}/tlsrpt"),
                TxtState::Invalid,
                true,
                Vec::new(),
            ),
            TlsRpt::UnencodedBang => one(
                format!("v=TLSRPTv1; rua={mailto}!10m"),
                TxtState::Invalid,
                true,
                Vec::new(),
            ),
            TlsRpt::Multiple => TxtSetup {
                records: vec![
                    txt(&format!("v=TLSRPTv1; rua={mailto}")),
                    txt(&format!("v=TLSRPTv1; rua={https}")),
                ],
                nxdomain: false,
                state: TxtState::Multiple,
                id: None,
                rua: Vec::new(),
                tagged: true,
            },
        }
    }
}

/// The policy host `mta-sts.D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyHost {
    /// `mta-sts.D` does not exist (NXDOMAIN).
    NoAddress,
    /// The `mta-sts.D` lookup gets SERVFAIL.
    DnsError,
    /// `mta-sts.D` points at an address where nothing listens.
    Refused,
    /// `mta-sts.D` points at the black hole: the TCP connection is never answered (a
    /// filtered port), so the fetch ends in a connect timeout.
    Blackhole,
    /// `mta-sts.D` is on the shared policy hosts, which have no certificate for it and abort
    /// the TLS handshake with a fatal alert (a TLS failure that is not a certificate problem).
    HandshakeRefused,
    /// Served by the shared HTTPS policy hosts.
    Served {
        /// The certificate presented for `mta-sts.D`.
        cert: HostCert,
        /// What the host answers.
        http: PolicyHttp,
    },
}

/// The names a lab certificate is issued for, relative to the host it is presented for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertNames {
    /// Exactly the host name (the SNI).
    Host,
    /// `*.D` for a host `x.D` (a valid wildcard).
    ParentWildcard,
    /// The apex and `www` (`D`, `www.D`) instead of the host: a name mismatch.
    Apex,
    /// An unrelated lab name: a name mismatch.
    Unrelated,
    /// The one self-signed "demo" certificate reused on many hosts (`demo.mail.lab`).
    Demo,
}

/// A certificate a policy or MX host presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCert {
    /// How it is made.
    pub variant: CertVariant,
    /// Which names it carries.
    pub names: CertNames,
}

impl HostCert {
    /// A valid certificate for the host.
    pub const VALID: HostCert = HostCert {
        variant: CertVariant::Valid,
        names: CertNames::Host,
    };

    /// The declared verdict for the host it is presented for. Combinations where both the
    /// chain and the name are wrong only occur with [`CertNames::Demo`] (self-signed): a chain
    /// problem takes precedence over a name mismatch.
    pub fn verdict(self) -> CertVerdict {
        if self.names == CertNames::Demo {
            return CertVerdict::SelfSigned;
        }
        let chain = match self.variant {
            CertVariant::Valid | CertVariant::ExpiresInDays(_) => None,
            CertVariant::Expired => Some(CertVerdict::Expired),
            CertVariant::NotYetValid => Some(CertVerdict::NotYetValid),
            CertVariant::SelfSigned => Some(CertVerdict::SelfSigned),
            CertVariant::UnknownCa => Some(CertVerdict::Untrusted),
            CertVariant::MissingIntermediate => Some(CertVerdict::IncompleteChain),
            CertVariant::WrongPurpose => Some(CertVerdict::Invalid),
            // Never presented (the handshake is refused, see `PolicyHost::HandshakeRefused`);
            // should a verdict be asked for, it is "anything else".
            CertVariant::NoCertificate => Some(CertVerdict::Invalid),
        };
        match (chain, self.names) {
            (Some(v), _) => v,
            (None, CertNames::Host | CertNames::ParentWildcard) => CertVerdict::Valid,
            (None, _) => CertVerdict::NameMismatch,
        }
    }

    /// The certificate the lab presents for `host`.
    pub fn cert_spec(self, host: &str) -> CertSpec {
        CertSpec {
            names: self.san_names(host),
            variant: if self.names == CertNames::Demo {
                CertVariant::SelfSigned
            } else {
                self.variant
            },
        }
    }

    /// The SAN list for a certificate presented for `host` (a name `x.D`).
    pub fn san_names(self, host: &str) -> Vec<String> {
        let parent = host.split_once('.').map_or(host, |(_, p)| p);
        match self.names {
            CertNames::Host => vec![host.to_owned()],
            CertNames::ParentWildcard => vec![format!("*.{parent}")],
            CertNames::Apex => vec![parent.to_owned(), format!("www.{parent}")],
            CertNames::Unrelated => vec!["wrong-host.lab".to_owned()],
            CertNames::Demo => vec!["demo.mail.lab".to_owned()],
        }
    }
}

/// What the policy host answers for `/.well-known/mta-sts.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyHttp {
    /// Status 200 with a policy body.
    Serve {
        /// The body.
        body: PolicyBody,
        /// The Content-Type header.
        content_type: ContentType,
        /// How the body is framed.
        framing: BodyFraming,
    },
    /// This non-200, non-3xx status (e.g. 403, 404, 500, 503) with an HTML body.
    Status(u16),
    /// This 3xx status with a `Location` to another https URL.
    Redirect(u16),
    /// Status 200 with a valid policy padded past 65536 bytes.
    TooLarge(BodyFraming),
    /// Reads the request and never answers.
    Stall,
    /// Closes right after the TLS handshake.
    Close,
}

/// The Content-Type of a served policy (RFC 8461 §3.3: `text/plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `text/plain; charset=utf-8`
    TextPlain,
    /// `text/html`
    Html,
    /// `application/octet-stream`
    OctetStream,
    /// No Content-Type header.
    Missing,
}

impl ContentType {
    /// The header value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            ContentType::TextPlain => Some("text/plain; charset=utf-8"),
            ContentType::Html => Some("text/html"),
            ContentType::OctetStream => Some("application/octet-stream"),
            ContentType::Missing => None,
        }
    }
}

/// A policy body: its syntax class, mode, max_age and which MX it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyBody {
    /// The syntax class (line endings and defects).
    pub syntax: PolicySyntax,
    /// The mode written.
    pub mode: PolicyMode,
    /// The max_age written.
    pub max_age: MaxAge,
    /// Which MX patterns are listed.
    pub mx: PolicyMx,
}

/// Syntax class of a policy body (RFC 8461 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySyntax {
    /// Well-formed, CRLF line endings.
    Crlf,
    /// Well-formed, LF-only line endings (accepted).
    Lf,
    /// No `version` field.
    MissingVersion,
    /// No `mode` field.
    MissingMode,
    /// No `max_age` field.
    MissingMaxAge,
    /// `mode: enforcing` (not a defined mode).
    UnknownMode,
    /// `nmx:` instead of `mx:` — an extension field, so the policy has no `mx` (invalid
    /// unless the mode is `none`).
    NmxTypo,
    /// An HTML page instead of a policy.
    HtmlBody,
    /// A UTF-8 byte-order mark before `version`.
    Bom,
    /// Bare CR line endings.
    BareCr,
    /// `mode` given twice; the first occurrence wins.
    DuplicateMode,
    /// Well-formed with an extension field (`ext_field: lab`).
    ExtensionField,
}

/// The `max_age` written in a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// One week (604800).
    Week,
    /// One hour (3600), less than a day.
    Short,
    /// The maximum, 31557600.
    Max,
    /// 31557601: above the maximum.
    OutOfRange,
    /// `1w`: not a number.
    NonNumeric,
}

impl MaxAge {
    /// The text written and the declared value when valid.
    fn text(self) -> (&'static str, Option<u32>) {
        match self {
            MaxAge::Week => ("604800", Some(604_800)),
            MaxAge::Short => ("3600", Some(3600)),
            MaxAge::Max => ("31557600", Some(31_557_600)),
            MaxAge::OutOfRange => ("31557601", None),
            MaxAge::NonNumeric => ("1w", None),
        }
    }
}

/// Which MX patterns the policy lists, relative to the domain's MX hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyMx {
    /// Patterns covering every MX host.
    Cover,
    /// Only the first MX host's pattern (the others are not covered).
    FirstOnly,
    /// Only the previous provider's host (`mx.oldmail.lab`): nothing is covered.
    OldProvider,
    /// `*.mx.D`, which does not cover deeper names such as `a.b.mx.D`.
    ShallowWildcard,
    /// No `mx` lines at all.
    Empty,
    /// Only `mx.D` (what a self-hosted domain listed before moving its MX elsewhere).
    SelfHostedName,
}

/// The body bytes and the declared §3.2 verdict of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRender {
    /// The body.
    pub body: Bytes,
    /// Declared: the body is a valid policy.
    pub valid: bool,
    /// Declared mode when valid.
    pub mode: Option<PolicyMode>,
    /// Declared max_age when valid.
    pub max_age: Option<u32>,
    /// The `mx` patterns as written, when valid.
    pub mx: Vec<String>,
}

impl PolicyBody {
    /// Renders the body for the given `mx` patterns and declares its verdict.
    pub fn render(self, patterns: &[String]) -> PolicyRender {
        let (age_text, age) = self.max_age.text();
        let mode = self.mode.as_str();
        let mut lines: Vec<String> = Vec::new();
        let mut eol = "\r\n";
        let mut prefix = "";
        let mut valid = age.is_some() && (self.mode == PolicyMode::None || !patterns.is_empty());
        let mut mx_key = "mx";
        match self.syntax {
            PolicySyntax::Crlf | PolicySyntax::DuplicateMode | PolicySyntax::ExtensionField => {}
            PolicySyntax::Lf => eol = "\n",
            PolicySyntax::BareCr => {
                eol = "\r";
                valid = false;
            }
            PolicySyntax::Bom => {
                prefix = "\u{feff}";
                valid = false;
            }
            PolicySyntax::NmxTypo => {
                mx_key = "nmx";
                valid = valid && self.mode == PolicyMode::None;
            }
            PolicySyntax::MissingVersion
            | PolicySyntax::MissingMode
            | PolicySyntax::MissingMaxAge
            | PolicySyntax::UnknownMode => valid = false,
            PolicySyntax::HtmlBody => {
                return PolicyRender {
                    body: Bytes::from_static(
                        b"<!DOCTYPE html>\n<html><head><title>MTA-STS</title></head>\n<body><p>version: STSv1</p></body></html>\n",
                    ),
                    valid: false,
                    mode: None,
                    max_age: None,
                    mx: Vec::new(),
                };
            }
        }
        if self.syntax != PolicySyntax::MissingVersion {
            lines.push("version: STSv1".into());
        }
        match self.syntax {
            PolicySyntax::MissingMode => {}
            PolicySyntax::UnknownMode => lines.push("mode: enforcing".into()),
            _ => lines.push(format!("mode: {mode}")),
        }
        for p in patterns {
            lines.push(format!("{mx_key}: {p}"));
        }
        if self.syntax != PolicySyntax::MissingMaxAge {
            lines.push(format!("max_age: {age_text}"));
        }
        if self.syntax == PolicySyntax::DuplicateMode {
            let other = if self.mode == PolicyMode::Testing {
                "none"
            } else {
                "testing"
            };
            lines.push(format!("mode: {other}"));
        }
        if self.syntax == PolicySyntax::ExtensionField {
            lines.push("ext_field: lab".into());
        }
        let mut text = String::from(prefix);
        for l in &lines {
            text.push_str(l);
            text.push_str(eol);
        }
        PolicyRender {
            body: Bytes::from(text),
            valid,
            mode: valid.then_some(self.mode),
            max_age: if valid { age } else { None },
            mx: if valid && mx_key == "mx" {
                patterns.to_vec()
            } else {
                Vec::new()
            },
        }
    }
}

/// A valid enforce policy padded with extension fields past 65536 bytes.
pub fn oversized_policy(patterns: &[String]) -> Bytes {
    let mut text = String::from("version: STSv1\r\nmode: enforce\r\n");
    for p in patterns {
        text.push_str(&format!("mx: {p}\r\n"));
    }
    text.push_str("max_age: 604800\r\n");
    let mut i = 0u32;
    while text.len() <= 70_000 {
        text.push_str(&format!("padding{i}: {}\r\n", "x".repeat(100)));
        i += 1;
    }
    Bytes::from(text)
}

/// The MX set of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MxLayout {
    /// No MX and no address (NODATA).
    NoMail,
    /// No MX, but an A record (implicit MX; nothing listens on 25 there).
    Implicit,
    /// Only the null MX `0 .` (RFC 7505).
    Null,
    /// The null MX plus `10 mx.D`.
    MixedNull,
    /// Hosted by a provider.
    Provider(Provider),
    /// `10 mx.D` on this self-hosted server class.
    SelfHosted(MxServer),
    /// `10 mx.D` and `20 mx2.D`, both normal self-hosted servers.
    Pair,
    /// `10 a.b.mx.D` on a normal self-hosted server.
    Deep,
    /// `10 mail.D`, where `mail.D` is a CNAME to `mx.D` (RFC 2181 §10.3 violation).
    Cname,
    /// `10 mx.D` on an address where nothing listens.
    Refused,
    /// `10 mx.D` on the black hole: the TCP connection to port 25 is never answered.
    Blackhole,
}

/// Who hosts a domain's mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Google-like: three shared MX names on three addresses, one valid certificate.
    GoogleLike,
    /// Microsoft-like: `<tenant>.mail.protection.outlook.lab` on a few shared addresses
    /// behind one wildcard certificate.
    MicrosoftLike,
    /// Self-hosted `mx.D` on a pool of normal servers with a valid certificate.
    SelfHosted,
}

/// A self-hosted SMTP server class: its personality and the certificate it presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MxServer {
    /// How the server behaves.
    pub personality: SmtpPersonality,
    /// The certificate after STARTTLS.
    pub cert: HostCert,
}

impl MxServer {
    /// A normal server with a valid certificate.
    pub const NORMAL: MxServer = MxServer {
        personality: SmtpPersonality::Normal,
        cert: HostCert::VALID,
    };
}

/// The declared probe outcome of one MX host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTruth {
    /// The probe outcome.
    pub smtp: SmtpOutcome,
    /// STARTTLS advertised in the EHLO reply (None if EHLO never answered).
    pub starttls: Option<bool>,
    /// The certificate verdict when a handshake completed.
    pub cert: Option<CertVerdict>,
    /// Plaintext pipelined after `220` to STARTTLS (None if STARTTLS never got `220`).
    pub injection: Option<bool>,
}

/// The declared outcome of probing a server with `personality` presenting `cert` (assumes
/// the scanner's greeting timeout exceeds the 2 s slow greeting and that it opens at most a
/// few connections per address at once).
pub fn probe_truth(personality: SmtpPersonality, cert: CertVerdict) -> ProbeTruth {
    use SmtpOutcome as O;
    use SmtpPersonality as P;
    let t = |smtp, starttls, cert, injection| ProbeTruth {
        smtp,
        starttls,
        cert,
        injection,
    };
    match personality {
        P::Normal | P::MultilineGreeting | P::SlowGreeting { .. } | P::ConnectionLimit { .. } => {
            t(O::Ok, Some(true), Some(cert), Some(false))
        }
        P::PipelinedAfterStarttls => t(O::Ok, Some(true), Some(cert), Some(true)),
        P::LateInjectionAfterStarttls => t(O::HandshakeFailed, Some(true), None, Some(true)),
        P::NoStarttls | P::HeloOnly => t(O::StarttlsNotOffered, Some(false), None, None),
        P::StarttlsRefused => t(O::StarttlsRefused, Some(true), None, None),
        P::HandshakeAbort => t(O::HandshakeFailed, Some(true), None, Some(false)),
        P::LegacyTlsOnly => t(O::TlsVersionUnsupported, Some(true), None, Some(false)),
        P::Tarpit { .. } => t(O::GreetingTimeout, None, None, None),
        P::RejectGreeting => t(O::GreetingRejected, None, None, None),
        P::TempFailGreeting => t(O::GreetingTempfail, None, None, None),
        P::Garbage | P::EndlessContinuation => t(O::ProtocolError, None, None, None),
        P::CloseAfterEhlo => t(O::ProtocolError, Some(true), None, None),
        P::RejectEhloAndHelo => t(O::EhloRejected, Some(false), None, None),
        P::CloseAfterTls | P::RejectEhloAfterTls => {
            t(O::PostTlsError, Some(true), Some(cert), Some(false))
        }
    }
}
