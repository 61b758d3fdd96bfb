//! The dialog driven in memory against every scripted server behaviour, and a property test
//! that whatever a server sends, the dialog ends with a consistent, capped result.

use std::time::Duration;

use stsscan::smtp::{SmtpPhase, SmtpStatus, run_dialog};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::fixtures::*;

// ---------------------------------------------------------------------------------------------
// In-memory dialog tests.

/// RFC 3207 §4.2: "Upon completion of the TLS handshake, the SMTP protocol is reset to the
/// initial state (the state in SMTP after a server issues a 220 service ready greeting). The
/// server MUST discard any knowledge obtained from the client, such as the argument to the
/// EHLO command, which was not obtained from the TLS negotiation itself. The client MUST
/// discard any knowledge obtained from the server, such as the list of SMTP service
/// extensions, which was not obtained from the TLS negotiation itself. The client SHOULD send
/// an EHLO command as the first command after a successful TLS negotiation."
#[tokio::test]
async fn normal_dialog_reaches_ok_and_captures_tls() {
    let (p, log, cert) = mem(B::Normal).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::Done);
    assert_eq!(p.greeting.as_deref(), Some("220 mx.example.test ESMTP"));
    assert_eq!(p.starttls_offered, Some(true));
    let caps = p.capabilities.clone().unwrap();
    assert!(caps.starttls && caps.pipelining && caps.eightbitmime);
    assert_eq!(caps.size, Some(Some(10_240_000)));
    assert_eq!(p.starttls_code, Some(220));
    assert!(!p.starttls_injection);
    assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(p.tls_cipher.as_deref().unwrap().starts_with("TLS13_"));
    assert_eq!(p.chain, vec![cert]);
    assert_eq!(p.sni.as_deref(), Some(MX));
    assert_eq!(p.ehlo_tls_code, Some(250));
    assert!(p.ehlo_tls_lines.iter().all(|l| !l.contains("starttls")));
    assert_eq!(
        log,
        vec![
            "EHLO scanner.example.net",
            "STARTTLS",
            "sni:mx.example.test",
            "tls:EHLO scanner.example.net",
            "tls:QUIT",
        ]
    );
    assert!(!p.timed_out && p.detail.is_none());
    assert_eq!(p.injection(), Some(false));
    assert_eq!(p.starttls_after_tls(), Some(false));
}

/// RFC 3207 §4.2: "A server MUST NOT return the STARTTLS extension in response to an EHLO
/// command received after a TLS handshake has completed." Recorded, not fatal.
#[tokio::test]
async fn starttls_advertised_again_after_tls_is_recorded() {
    let (p, _, _) = mem(B::StarttlsAfterTls).await;
    assert_eq!(p.status, SmtpStatus::Ok);
    assert_eq!(p.starttls_after_tls(), Some(true));
}

/// RFC 5321 §4.1.1.1: `ehlo = "EHLO" SP ( Domain / address-literal ) CRLF`. A configured
/// name with CR LF cannot smuggle a second command.
#[tokio::test]
async fn ehlo_name_with_crlf_sends_one_command() {
    let mut cfg = dialog_cfg();
    cfg.ehlo_name = "scanner.example.net\r\nMAIL FROM:<x@y>".to_owned();
    let (p, log, _) = mem_with(B::NoStarttls, cfg, Duration::from_secs(60)).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered);
    assert_eq!(log, vec!["EHLO scanner.example.netMAILFROM:<x@y>", "QUIT"]);
}

/// RFC 5321 §4.2.1: "The format for multiline replies requires that every line, except the
/// last, begin with the reply code, followed immediately by a hyphen".
#[tokio::test]
async fn multiline_greeting() {
    let (p, _, _) = mem(B::MultilineGreeting).await;
    assert_eq!(p.status, SmtpStatus::Ok);
    assert_eq!(
        p.greeting.as_deref(),
        Some("220 mx.example.test ESMTP | no UCE | welcome")
    );
}

/// RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply code
/// and the <CRLF> is 512 octets." A longer line, or one ended by a bare LF, is tolerated and
/// recorded.
#[tokio::test]
async fn sloppy_greeting_is_tolerated_and_flagged() {
    let (p, _, _) = mem(B::SloppyGreeting).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert!(p.bare_lf && p.long_line);
    assert_eq!(p.greeting.unwrap().len(), stsscan::smtp::dialog::MAX_TEXT);
    let (p, _, _) = mem(B::Normal).await;
    assert!(!p.bare_lf && !p.long_line);
}

/// RFC 5321 §3.2: "Once the server has sent the greeting (welcoming) message and the client
/// has received it, the client normally sends the EHLO command to the server". The client
/// stays silent until the greeting arrived, however late (postscreen-style delays).
#[tokio::test]
async fn slow_greeting_is_awaited_without_speaking_first() {
    let (p, log, _) = mem(B::SlowGreeting(Duration::from_millis(500))).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(
        log.first().map(String::as_str),
        Some("silent-before-greeting")
    );
    assert!(p.elapsed >= Duration::from_millis(500));
}

/// RFC 5321 §4.5.3.2: "An SMTP client MUST provide a timeout mechanism." A tarpit trickling
/// its greeting is cut by the session deadline: greeting-timeout.
#[tokio::test]
async fn tarpit_is_cut_by_session_deadline() {
    let (p, _, _) = mem_with(
        B::Tarpit(Duration::from_millis(20)),
        dialog_cfg(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(p.status, SmtpStatus::GreetingTimeout);
    assert_eq!(p.phase, SmtpPhase::Greeting);
    assert!(p.timed_out);
    // Cut at the deadline (1 s), far before the 30 s phase timeout.
    assert!(p.elapsed >= Duration::from_secs(1) && p.elapsed < Duration::from_secs(10));
}

/// The per-phase timeout also ends a tarpit before the session deadline.
#[tokio::test]
async fn tarpit_is_cut_by_phase_timeout() {
    let mut cfg = dialog_cfg();
    cfg.phase_timeout = Duration::from_secs(1);
    let (p, _, _) = mem_with(
        B::Tarpit(Duration::from_millis(20)),
        cfg,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(p.status, SmtpStatus::GreetingTimeout);
    assert!(p.timed_out);
    assert!(p.elapsed >= Duration::from_secs(1) && p.elapsed < Duration::from_secs(30));
}

/// Every phase within its own timeout, but the whole session exceeds the deadline.
#[tokio::test]
async fn session_deadline_bounds_the_whole_dialog() {
    let mut cfg = dialog_cfg();
    cfg.phase_timeout = Duration::from_secs(2);
    let deadline = Duration::from_millis(2500);
    let (p, _, _) = mem_with(B::SlowReplies(Duration::from_secs(1)), cfg, deadline).await;
    // Greeting at 1 s, EHLO reply at 2 s, the STARTTLS reply would come at 3 s > 2.5 s.
    assert_eq!(p.status, SmtpStatus::ProtocolError, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::Starttls);
    assert!(p.timed_out);
    assert!(p.elapsed >= deadline && p.elapsed < Duration::from_secs(20));
}

/// RFC 5321 §3.1: "a 554 response MAY be given in the initial connection opening message
/// instead of the 220."; §4.2.3 lists "421 <domain> Service not available, closing
/// transmission channel".
#[tokio::test]
async fn rejected_and_tempfail_greetings() {
    let (p, log, _) = mem(B::Greeting("554 5.7.1 No SMTP service here\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingRejected);
    assert_eq!(p.greeting_code, Some(554));
    assert_eq!(p.starttls_offered, None);
    assert!(log.iter().all(|l| !l.starts_with("EHLO")));
    let (p, _, _) = mem(B::Greeting("421 4.3.2 Service not available\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingTempfail);
    assert_eq!(p.greeting_code, Some(421));
    // A multi-line 554 is still one reply.
    let (p, _, _) = mem(B::Greeting("554-go\r\n554 away\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingRejected);
    // A close before any greeting is a protocol error, not a timeout.
    let (p, _, _) = mem(B::Greeting("")).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert!(!p.timed_out);
    // A non-220 positive greeting is a protocol error.
    let (p, _, _) = mem(B::Greeting("250 hello\r\n")).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
}

/// RFC 5321 §3.1: "A server taking this approach MUST still wait for the client to send a
/// QUIT (see Section 4.1.1.10) before closing the connection"; §4.1.1.10: "The sender MUST
/// NOT intentionally close the transmission channel until it sends a QUIT command, and it
/// SHOULD wait until it receives the reply (even if there was an error response to a previous
/// command)." The prober ends a refused session with QUIT, and sends nothing else.
#[tokio::test]
async fn a_refused_greeting_gets_quit_and_nothing_else() {
    for (greeting, status) in [
        (
            "554 5.7.1 No SMTP service here\r\n",
            SmtpStatus::GreetingRejected,
        ),
        (
            "421 4.3.2 try again later\r\n",
            SmtpStatus::GreetingTempfail,
        ),
        ("250 hello\r\n", SmtpStatus::ProtocolError),
    ] {
        let (p, log, _) = mem(B::RefusingGreeting(greeting)).await;
        assert_eq!(p.status, status, "{greeting}");
        assert_eq!(log, vec!["QUIT"], "{greeting}");
    }
    // A 421 server that closed at once: the QUIT fails at once, the status is unchanged.
    let (p, log, _) = mem(B::Greeting("421 4.3.2 Service not available\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingTempfail);
    assert!(log.iter().all(|l| l == "QUIT" || l == "closed"), "{log:?}");
}

/// RFC 5321 §4.2.1: "4yz Transient Negative Completion reply: The command was not accepted,
/// and the requested action did not occur. However, the error condition is temporary". A 4xx
/// to EHLO says nothing about the extensions, so `starttls` stays unknown (null), unlike a
/// 5xx, after which HELO has none. The session still ends with QUIT (§4.1.1.10).
#[tokio::test]
async fn a_temporary_ehlo_refusal_leaves_starttls_unknown_and_quits() {
    let (p, log, _) = mem(B::EhloReply("421 4.7.0 too many connections\r\n")).await;
    assert_eq!(p.status, SmtpStatus::EhloRejected, "{p:?}");
    assert_eq!(p.ehlo_code, Some(421));
    assert_eq!(p.starttls_offered, None);
    assert_eq!(log, vec!["EHLO scanner.example.net", "QUIT"]);
    // An EHLO reply code that makes no sense is a protocol error, and still gets QUIT.
    let (p, log, _) = mem(B::EhloReply("354 go ahead\r\n")).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError, "{p:?}");
    assert_eq!(p.starttls_offered, None);
    assert_eq!(log, vec!["EHLO scanner.example.net", "QUIT"]);
}

#[tokio::test]
async fn garbage_greeting_is_protocol_error() {
    let (p, _, _) = mem(B::Garbage).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Greeting);
    assert!(p.detail.unwrap().contains("bad-code"));
}

#[tokio::test]
async fn endless_continuation_is_protocol_error() {
    let (p, _, _) = mem(B::EndlessContinuation).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Ehlo);
    assert!(p.detail.unwrap().contains("too-many-lines"));
    assert_eq!(p.starttls_offered, None);
}

/// RFC 3207 §3: "The STARTTLS keyword is used to tell the SMTP client that the SMTP server
/// is currently able to negotiate the use of TLS." Without it the client does not try.
#[tokio::test]
async fn no_starttls_offered() {
    let (p, log, _) = mem(B::NoStarttls).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered);
    assert_eq!(p.starttls_offered, Some(false));
    assert!(!log.iter().any(|l| l == "STARTTLS"));
    assert_eq!(log.last().map(String::as_str), Some("QUIT"));
}

/// RFC 3207 §4: "454 TLS not available due to temporary reason"; a 4xx/5xx to STARTTLS is
/// starttls-refused.
#[tokio::test]
async fn starttls_refused() {
    let (p, log, _) = mem(B::StarttlsReply("454 4.7.0 TLS not available\r\n")).await;
    assert_eq!(p.status, SmtpStatus::StarttlsRefused);
    assert_eq!(p.starttls_code, Some(454));
    assert_eq!(
        p.starttls_reply.as_deref(),
        Some("454 4.7.0 TLS not available")
    );
    assert_eq!(log.last().map(String::as_str), Some("QUIT"));
    let (p, _, _) = mem(B::StarttlsReply("501 5.5.4 Syntax error\r\n")).await;
    assert_eq!(p.status, SmtpStatus::StarttlsRefused);
}

#[tokio::test]
async fn close_after_ehlo_is_protocol_error() {
    let (p, _, _) = mem(B::CloseAfterEhlo).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Starttls);
    assert_eq!(p.starttls_offered, Some(true));
    assert!(!p.timed_out);
}

/// RFC 5321 §4.1.1.1: "If the EHLO command is not acceptable to the SMTP server, 501, 500,
/// 502, or 550 failure replies MUST be returned as appropriate." §2.2.1: "However, for
/// compatibility with older conforming implementations, SMTP clients and servers MUST support
/// the original HELO mechanisms as a fallback." HELO carries no service extensions, so no
/// STARTTLS.
#[tokio::test]
async fn helo_only_server() {
    let (p, log, _) = mem(B::HeloOnly).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered, "{p:?}");
    assert!(p.used_helo);
    assert_eq!(p.ehlo_code, Some(502));
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(
        log,
        vec![
            "EHLO scanner.example.net",
            "HELO scanner.example.net",
            "QUIT"
        ]
    );
    let (p, _, _) = mem(B::EhloAndHeloRejected).await;
    assert_eq!(p.status, SmtpStatus::EhloRejected);
    assert_eq!(p.phase, SmtpPhase::Helo);
}

/// Bytes after `220` to STARTTLS and before the handshake (the STARTTLS command injection
/// class, CVE-2011-0411 family): recorded, discarded (RFC 3207 §4.2 "The client MUST discard
/// any knowledge obtained from the server ... which was not obtained from the TLS negotiation
/// itself"), and the handshake proceeds.
#[tokio::test]
async fn pipelined_bytes_after_220_are_injection() {
    let (p, log, _) = mem(B::Inject(b"250 injected\r\n")).await;
    assert!(p.starttls_injection);
    assert_eq!(p.injection(), Some(true));
    assert_eq!(p.injected_bytes, b"250 injected\r\n");
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert!(log.iter().any(|l| l == "tls:EHLO scanner.example.net"));
    // Capped.
    let big: &'static [u8] = Box::leak(vec![b'A'; 5000].into_boxed_slice());
    let (p, _, _) = mem(B::Inject(big)).await;
    assert!(p.starttls_injection);
    assert_eq!(p.injected_bytes.len(), stsscan::smtp::dialog::MAX_INJECTED);
}

/// RFC 3207 §4.2: "The client MUST discard any knowledge obtained from the server, such as
/// the list of SMTP service extensions, which was not obtained from the TLS negotiation
/// itself." RFC 3207 §4 (the `220` reply): "After receiving a 220 response to a STARTTLS
/// command, the client MUST start the TLS negotiation before giving any other SMTP
/// commands" — the server's next bytes must be the TLS negotiation, so plaintext arriving a
/// moment after the `220` (here 50 ms, too late to be read with it) is what the TLS client
/// reads instead of a ServerHello. It is recorded as injection and the handshake is
/// `handshake-failed` (a sender's TLS client fails on it the same way), with the text.
#[tokio::test]
async fn plaintext_arriving_after_220_is_injection_and_handshake_failed() {
    let (p, log, _) = mem(B::InjectLate(
        Duration::from_millis(50),
        b"250 injected\r\n",
    ))
    .await;
    assert_eq!(p.status, SmtpStatus::HandshakeFailed, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::TlsHandshake);
    assert_eq!(p.starttls_code, Some(220));
    assert!(p.starttls_injection);
    assert_eq!(p.injection(), Some(true));
    assert_eq!(p.injected_bytes, b"250 injected\r\n");
    assert_eq!(p.sni.as_deref(), Some(MX));
    let detail = p.detail.as_deref().unwrap();
    assert!(
        detail.starts_with(
            "plaintext instead of a TLS record after the 220 to STARTTLS: \"250 injected\\r\\n\""
        ),
        "{detail}"
    );
    assert!(p.chain.is_empty() && p.tls_version.is_none() && !p.timed_out);
    // The plaintext came after our ClientHello (a TLS handshake record, content type 22).
    assert_eq!(
        log,
        vec!["EHLO scanner.example.net", "STARTTLS", "client-hello:0x16"]
    );

    // A server that closes after its 220 sent nothing: not injection.
    let (p, _, _) = mem(B::HandshakeAbort).await;
    assert_eq!(p.injection(), Some(false));
    assert!(p.injected_bytes.is_empty());
    // A TLS alert as the first bytes: a TLS record, not injection.
    let (p, _, _) = mem(B::ProtocolVersionAlert).await;
    assert_eq!(p.injection(), Some(false));
}

#[tokio::test]
async fn handshake_abort_is_handshake_failed() {
    let (p, _, _) = mem(B::HandshakeAbort).await;
    assert_eq!(p.status, SmtpStatus::HandshakeFailed, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::TlsHandshake);
    assert!(p.chain.is_empty() && p.tls_version.is_none());
}

/// RFC 8996: "This document formally deprecates Transport Layer Security (TLS) versions 1.0
/// (RFC 2246) and 1.1 (RFC 4346)." rustls only speaks TLS 1.2/1.3, so a server whose
/// ServerHello selects TLS 1.0 is tls-version-unsupported, not a generic handshake failure.
#[tokio::test]
async fn tls10_server_hello_is_version_unsupported() {
    let (p, _, _) = mem(B::Tls10ServerHello).await;
    assert_eq!(p.status, SmtpStatus::TlsVersionUnsupported, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::TlsHandshake);
    assert!(p.detail.unwrap().contains("ServerDoesNotSupportTls12Or13"));
}

/// RFC 8446 §6.2: "protocol_version: The protocol version the peer has attempted to
/// negotiate is recognized but not supported".
#[tokio::test]
async fn protocol_version_alert_is_version_unsupported() {
    let (p, _, _) = mem(B::ProtocolVersionAlert).await;
    assert_eq!(p.status, SmtpStatus::TlsVersionUnsupported, "{p:?}");
    assert!(p.detail.unwrap().contains("ProtocolVersion"));
}

#[tokio::test]
async fn ehlo_rejected_after_tls_is_post_tls_error() {
    let (p, log, cert) = mem(B::PostTlsReject).await;
    assert_eq!(p.status, SmtpStatus::PostTlsError);
    assert_eq!(p.phase, SmtpPhase::EhloTls);
    assert_eq!(p.ehlo_tls_code, Some(554));
    // RFC 5321 §4.1.1.10: QUIT "even if there was an error response to a previous command",
    // over TLS where the session now is.
    assert_eq!(log.last().map(String::as_str), Some("tls:QUIT"), "{log:?}");
    assert_eq!(
        p.chain,
        vec![cert],
        "the chain is kept when TLS was established"
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness: whatever the server sends, the dialog ends with a consistent, capped result.

mod props {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"220 mx ESMTP\r\n".to_vec()),
            Just(b"220-mx\r\n".to_vec()),
            Just(b"250-mx\r\n".to_vec()),
            Just(b"250-STARTTLS\r\n".to_vec()),
            Just(b"250-SIZE x\r\n".to_vec()),
            Just(b"250 ok\r\n".to_vec()),
            Just(b"250 STARTTLS\n".to_vec()),
            Just(b"220 go ahead\r\n".to_vec()),
            Just(b"421 4.7.0 bye\r\n".to_vec()),
            Just(b"454 4.7.0 no TLS\r\n".to_vec()),
            Just(b"502 5.5.2 what\r\n".to_vec()),
            Just(b"554 no\r\n".to_vec()),
            Just(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]),
            Just(tls10_server_hello()),
            proptest::collection::vec(any::<u8>(), 0..300),
            "[0-9]{3}[ -][ -~]{0,600}\r?\n".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn dialog_never_panics_and_results_are_consistent(
            greet in any::<bool>(),
            ehlo in any::<bool>(),
            frags in proptest::collection::vec(fragment(), 0..12)
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let p = rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(256 * 1024);
                // Half the cases get past the greeting, a quarter past EHLO, to reach deeper.
                let mut bytes = Vec::new();
                if greet {
                    bytes.extend_from_slice(b"220 mx ESMTP\r\n");
                    if ehlo {
                        bytes.extend_from_slice(b"250-mx\r\n250 STARTTLS\r\n");
                    }
                }
                bytes.extend(frags.concat());
                let srv = tokio::spawn(async move {
                    let _ = server.write_all(&bytes).await;
                    let _ = server.shutdown().await;
                    let mut sink = [0u8; 1024];
                    for _ in 0..1000 {
                        if !matches!(server.read(&mut sink).await, Ok(n) if n > 0) {
                            break;
                        }
                    }
                });
                let mut cfg = dialog_cfg();
                cfg.phase_timeout = Duration::from_secs(2);
                let p = tokio::time::timeout(
                    Duration::from_secs(10),
                    run_dialog(client, MX, &cfg, Instant::now() + Duration::from_secs(5)),
                )
                .await
                .expect("the dialog ends by itself");
                srv.abort();
                p
            });
            // No TLS server behind these bytes: never ok.
            prop_assert!(!p.status.tls_established());
            prop_assert!(p.chain.is_empty());
            prop_assert!(p.greeting.as_ref().is_none_or(|g| g.len() <= stsscan::smtp::dialog::MAX_TEXT));
            prop_assert!(p.ehlo_lines.len() <= stsscan::smtp::dialog::MAX_LINES);
            prop_assert!(p.injected_bytes.len() <= stsscan::smtp::dialog::MAX_INJECTED);
            prop_assert!(!p.starttls_injection || p.starttls_code == Some(220));
            if p.status == SmtpStatus::StarttlsRefused {
                prop_assert!(matches!(p.starttls_code, Some(400..=599)));
            }
            if p.status == SmtpStatus::GreetingRejected {
                prop_assert!(matches!(p.greeting_code, Some(500..=599)));
            }
            if p.starttls_code.is_some() {
                prop_assert_eq!(p.starttls_offered, Some(true));
            }
            prop_assert!(p.elapsed < Duration::from_secs(10));
        }
    }
}
