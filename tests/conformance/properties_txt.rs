//! Property tests for the TXT-record grammars, MX patterns and domain names: generated valid
//! values survive `parse(display(x)) == x`, and arbitrary input never panics.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use stsscan::records::domain::normalize;
use stsscan::records::mx::{MxPattern, classify};
use stsscan::records::sts_txt::{self, StsTxt};
use stsscan::records::tlsrpt_txt::{self, RuaScheme, RuaUri, TlsRptTxt};

const EXT_NAME: &str = "[A-Za-z0-9][A-Za-z0-9_.-]{0,31}";
const EXT_VALUE: &str = "[\\x21-\\x3a\\x3c\\x3e-\\x7e]{1,24}";

fn extensions(reserved: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    btree_map(EXT_NAME, EXT_VALUE, 0..6).prop_map(move |m| {
        m.into_iter()
            .filter(|(k, _)| !reserved.contains(&k.as_str()))
            .collect()
    })
}

fn sts_txt() -> impl Strategy<Value = StsTxt> {
    ("[A-Za-z0-9]{1,32}", extensions(&["id", "v"]))
        .prop_map(|(id, extensions)| StsTxt { id, extensions })
}

fn rua_uri() -> impl Strategy<Value = RuaUri> {
    prop_oneof![
        ("[a-z0-9._+-]{1,12}", "[a-z0-9-]{1,12}").prop_map(|(l, d)| RuaUri {
            uri: format!("mailto:{l}@{d}.example"),
            scheme: RuaScheme::Mailto,
        }),
        ("[a-z0-9-]{1,12}", "[a-zA-Z0-9/._~%-]{0,16}").prop_map(|(h, p)| RuaUri {
            uri: format!("https://{h}.example/{}", p.replace('%', "%25")),
            scheme: RuaScheme::Https,
        }),
    ]
}

fn tlsrpt_txt() -> impl Strategy<Value = TlsRptTxt> {
    (vec(rua_uri(), 1..5), extensions(&["rua", "v"])).prop_map(|(mut rua, extensions)| {
        let mut seen = std::collections::HashSet::new();
        rua.retain(|u| seen.insert(u.uri.clone()));
        TlsRptTxt { rua, extensions }
    })
}

/// An LDH host name whose last label starts with a letter (so it is not all digits).
fn host_name() -> impl Strategy<Value = String> {
    (
        vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 0..4),
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?",
    )
        .prop_map(|(mut labels, tld)| {
            labels.push(tld);
            labels.join(".")
        })
}

proptest! {
    #[test]
    fn sts_txt_round_trips(x in sts_txt()) {
        let text = x.to_string();
        let parsed = sts_txt::parse_record(text.as_bytes());
        prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
        if let Ok(p) = parsed {
            prop_assert_eq!(p.record, x);
        }
    }

    #[test]
    fn tlsrpt_txt_round_trips(x in tlsrpt_txt()) {
        let text = x.to_string();
        let parsed = tlsrpt_txt::parse_record(text.as_bytes());
        prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
        if let Ok(p) = parsed {
            prop_assert_eq!(p.record, x);
        }
    }

    #[test]
    fn mx_pattern_round_trips_and_matches(wild in any::<bool>(), base in host_name(), left in "[a-z0-9]{1,10}") {
        let text = if wild { format!("*.{base}") } else { base.clone() };
        let p = MxPattern::parse(&text);
        prop_assert!(p.is_ok(), "{text:?}: {p:?}");
        if let Ok(p) = p {
            prop_assert_eq!(MxPattern::parse(&p.to_string()), Ok(p.clone()));
            let one_more = format!("{left}.{base}");
            let two_more = format!("{left}.{left}.{base}");
            prop_assert_eq!(p.matches(&one_more), wild);
            prop_assert_eq!(p.matches(&format!("{}.", one_more.to_uppercase())), wild);
            prop_assert_eq!(p.matches(&base), !wild);
            prop_assert!(!p.matches(&two_more));
        }
    }

    #[test]
    fn domain_normalize_is_idempotent(name in host_name(), upper in any::<bool>(), dot in any::<bool>()) {
        let mut input = if upper { name.to_uppercase() } else { name.clone() };
        if dot {
            input.push('.');
        }
        let d = normalize(&input);
        prop_assert!(d.is_ok(), "{input:?}: {d:?}");
        if let Ok(d) = d {
            prop_assert_eq!(d.as_str(), name.as_str());
            prop_assert_eq!(normalize(d.as_str()), Ok(d.clone()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        let _ = sts_txt::parse_record(&bytes);
        let _ = tlsrpt_txt::parse_record(&bytes);
        let _ = sts_txt::evaluate_rrset(&[vec![bytes.clone()], vec![bytes.clone(), bytes.clone()]]);
        let _ = tlsrpt_txt::evaluate_rrset(&[vec![bytes.clone()]]);
    }

    #[test]
    fn record_like_input_never_panics(s in "(v=STSv1|v=TLSRPTv1)[ \t;=a-z0-9:@/.,!%\u{e9}-]{0,60}") {
        let _ = sts_txt::parse_record(s.as_bytes());
        let _ = tlsrpt_txt::parse_record(s.as_bytes());
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>(), host in any::<String>(), pref in any::<u16>()) {
        if let Ok(d) = normalize(&s) {
            prop_assert_eq!(normalize(d.as_str()), Ok(d.clone()));
        }
        if let Ok(p) = MxPattern::parse(&s) {
            let _ = p.matches(&host);
        }
        let _ = classify(&s, &[(pref, host.as_str()), (0, ".")]);
    }
}
