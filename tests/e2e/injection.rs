//! The STARTTLS injection class scanned end to end: plaintext pipelined with the `220` to
//! STARTTLS (lab personality `PipelinedAfterStarttls`, scenario `smtp-starttls-injection`)
//! and plaintext arriving after it, where the ServerHello belongs
//! (`LateInjectionAfterStarttls`), graded against the lab's truth and checked field by field.

use std::sync::Arc;

use stsscan::lab::model::SmtpPersonality;
use stsscan::lab::world::spec::{HostCert, MxLayout, MxServer};
use stsscan::lab::world::{ExplicitWorld, Provider, Scenario};

use crate::common::{LabRun, assert_agreement, scan_graded};

/// RFC 3207 §4.2: "The client MUST discard any knowledge obtained from the server, such as
/// the list of SMTP service extensions, which was not obtained from the TLS negotiation
/// itself." RFC 3207 §4: "After receiving a 220 response to a STARTTLS command, the client
/// MUST start the TLS negotiation before giving any other SMTP commands." Plaintext after the
/// server's `220` is not part of the TLS negotiation: pipelined with the `220`, it is
/// discarded and the handshake succeeds (`ok`, injection recorded); arriving later, it is
/// what the TLS client reads instead of a ServerHello, so the handshake fails
/// (`handshake-failed`, injection recorded, `250 injected` in the detail). Both carry the
/// `starttls-injection` finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_injection_early_and_late() {
    let mut late = Scenario::EnforceValid.spec(Provider::SelfHosted);
    late.mx = MxLayout::SelfHosted(MxServer {
        personality: SmtpPersonality::LateInjectionAfterStarttls,
        cert: HostCert::VALID,
    });
    let builder = ExplicitWorld::builder()
        .domain("early.test", Scenario::SmtpStarttlsInjection)
        .custom("late.test", late);
    let run = LabRun::start(|octet| builder.clone().build(octet)).await;
    let list = run.write_list("domains.txt", ["early.test", "late.test"].map(String::from));
    let cfg = run.config(list, 4);
    let world = run.world.clone();
    let s = scan_graded(cfg, Arc::new(move |d| world.truth(d)), true).await;
    assert_agreement(&s, 2);

    let find = |d: &str| {
        s.rows
            .iter()
            .find(|(r, _)| r.domain.as_deref() == Some(d))
            .unwrap_or_else(|| panic!("no row for {d}"))
    };
    let has_finding =
        |r: &stsscan::output::DomainRow, code: &str| r.findings.iter().any(|f| f.code == code);

    let (d, mx) = find("early.test");
    assert_eq!(mx.len(), 1);
    assert_eq!(mx[0].smtp.as_deref(), Some("ok"), "{:?}", mx[0]);
    assert_eq!(mx[0].starttls_injection, Some(true));
    assert_eq!(mx[0].mx_cert.as_deref(), Some("valid"));
    assert!(has_finding(d, "starttls-injection"), "{:?}", d.findings);

    let (d, mx) = find("late.test");
    assert_eq!(mx.len(), 1);
    let r = &mx[0];
    assert_eq!(r.smtp.as_deref(), Some("handshake-failed"), "{r:?}");
    assert_eq!(r.starttls, Some(true));
    assert_eq!(r.starttls_injection, Some(true));
    let detail = r.smtp_detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with(
            "plaintext instead of a TLS record after the 220 to STARTTLS: \"250 injected\\r\\n\""
        ),
        "{detail}"
    );
    assert!(r.tls_version.is_none() && r.mx_cert.is_none() && r.cert_sha256.is_none());
    assert_eq!(r.rfc8460_result.as_deref(), Some("validation-failure"));
    assert!(has_finding(d, "starttls-injection"), "{:?}", d.findings);
    assert!(has_finding(d, "enforce-undeliverable"), "{:?}", d.findings);
    assert_eq!(d.enforce_deliverable, Some(false));
    assert_eq!(d.all_mx_starttls, Some(true));
    run.lab.shutdown().await;
}
