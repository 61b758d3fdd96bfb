//! POSTing a monitoring round's alerts as JSON to a user's webhook (`--webhook URL`): one
//! request, bounded by a timeout, redirects not followed, response body not read beyond its
//! status. TLS uses rustls with the *ring* provider and the Mozilla roots.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::report::WebhookPayload;

/// The default time allowed for the whole webhook request.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// POSTs `payload` to `url` (http or https) with `Content-Type: application/json`; a non-2xx
/// status or a transport failure is an `Err` naming the URL.
pub async fn post(
    url: &str,
    payload: &WebhookPayload<'_>,
    timeout: Duration,
) -> anyhow::Result<u16> {
    let parsed =
        reqwest::Url::parse(url).with_context(|| format!("--webhook {url:?}: not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--webhook {url:?}: only http and https URLs are supported");
    }
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(crate::pipeline::config::default_user_agent())
        .build()
        .context("building the webhook client")?;
    let body = serde_json::to_vec(payload)?;
    let resp = client
        .post(parsed)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST to webhook {url}"))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        bail!("webhook {url} answered HTTP {status}");
    }
    Ok(status)
}
