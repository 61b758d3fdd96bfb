//! Extracting TLS-RPT report parts from RFC 5322 messages (RFC 8460 §5.3: a
//! `multipart/report; report-type="tlsrpt"` message whose report part is
//! `application/tlsrpt+gzip` or `application/tlsrpt+json`), and splitting mbox files into
//! messages while streaming.
//!
//! A small, bounded MIME reader: headers are unfolded, `Content-Type` parameters (quoted or
//! not) are read, multipart bodies are split on their boundary (nesting at most
//! [`MAX_DEPTH`], at most [`MAX_PARTS`] parts per message) and `base64`,
//! `quoted-printable`, `7bit`, `8bit` and `binary` transfer encodings are decoded. It never
//! panics and never allocates more than its input plus the decoded part.

use std::io::{BufRead, Read};

/// Deepest multipart nesting followed.
pub const MAX_DEPTH: usize = 8;
/// Most body parts visited per message.
pub const MAX_PARTS: usize = 64;
/// Largest message accepted (in `.eml` files and per mbox message).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Longest mbox line read at once (a longer line is read in pieces).
const MAX_LINE: u64 = 64 * 1024;

/// The media type of a report part (RFC 8460 §5.3, §6.4, §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportMediaType {
    /// `application/tlsrpt+json`.
    Json,
    /// `application/tlsrpt+gzip`.
    Gzip,
}

impl ReportMediaType {
    /// The media type named by a `Content-Type` value (parameters and case ignored).
    pub fn from_content_type(value: &str) -> Option<ReportMediaType> {
        let mt = value.split(';').next().unwrap_or("").trim();
        if mt.eq_ignore_ascii_case("application/tlsrpt+json") {
            Some(ReportMediaType::Json)
        } else if mt.eq_ignore_ascii_case("application/tlsrpt+gzip") {
            Some(ReportMediaType::Gzip)
        } else {
            None
        }
    }
}

/// A report part found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPart {
    /// 0-based index of the part among the message's leaf parts (document order).
    pub index: usize,
    /// Its media type.
    pub media_type: ReportMediaType,
    /// The decoded bytes (gzip or JSON, per `media_type`).
    pub bytes: Vec<u8>,
}

/// A message's header fields (unfolded) and body.
struct Entity<'a> {
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

fn split_entity(raw: &[u8]) -> Entity<'_> {
    // The header ends at the first empty line (CRLF CRLF or LF LF).
    let mut end = raw.len();
    let mut body_at = raw.len();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            let rest = &raw[i + 1..];
            if rest.starts_with(b"\r\n") {
                end = i + 1;
                body_at = i + 3;
                break;
            }
            if rest.starts_with(b"\n") {
                end = i + 1;
                body_at = i + 2;
                break;
            }
        }
        i += 1;
    }
    if raw.starts_with(b"\r\n") {
        end = 0;
        body_at = 2;
    } else if raw.starts_with(b"\n") {
        end = 0;
        body_at = 1;
    }
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Entity {
        headers,
        body: raw.get(body_at..).unwrap_or(&[]),
    }
}

impl Entity<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parameter of a structured header value (`boundary`, `report-type`), unquoted.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    for p in value.split(';').skip(1) {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(name) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v.to_owned());
        }
    }
    None
}

/// Every report part of a message, in document order.
pub fn report_parts(message: &[u8]) -> Vec<ReportPart> {
    let mut out = Vec::new();
    let mut leaves = 0;
    walk(message, 0, &mut leaves, &mut out);
    out
}

fn walk(raw: &[u8], depth: usize, leaves: &mut usize, out: &mut Vec<ReportPart>) {
    if *leaves >= MAX_PARTS {
        return;
    }
    let e = split_entity(raw);
    let ct = e.header("content-type").unwrap_or("text/plain");
    let mt = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mt.starts_with("multipart/") {
        if depth >= MAX_DEPTH {
            return;
        }
        let Some(boundary) = header_param(ct, "boundary").filter(|b| !b.is_empty()) else {
            return;
        };
        for part in split_multipart(e.body, boundary.as_bytes()) {
            walk(part, depth + 1, leaves, out);
            if *leaves >= MAX_PARTS {
                return;
            }
        }
        return;
    }
    let index = *leaves;
    *leaves += 1;
    if let Some(media_type) = ReportMediaType::from_content_type(ct) {
        let cte = e
            .header("content-transfer-encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        let bytes = match cte.as_str() {
            "base64" => base64_decode(e.body),
            "quoted-printable" => qp_decode(e.body),
            _ => e.body.to_vec(),
        };
        out.push(ReportPart {
            index,
            media_type,
            bytes,
        });
    }
}

/// The body parts between `--boundary` delimiter lines (RFC 2046 §5.1.1), without the CRLF
/// that precedes each delimiter.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos <= body.len() && parts.len() < MAX_PARTS {
        let line_end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i);
        let line = &body[pos..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let closing = rest.starts_with(b"--");
            if let Some(s) = start {
                // Drop the line break before the delimiter.
                let mut e = pos;
                if e > s && body[e - 1] == b'\n' {
                    e -= 1;
                    if e > s && body[e - 1] == b'\r' {
                        e -= 1;
                    }
                }
                parts.push(&body[s..e.max(s)]);
            }
            if closing {
                return parts;
            }
            start = Some((line_end + 1).min(body.len()));
        }
        if line_end >= body.len() {
            break;
        }
        pos = line_end + 1;
    }
    // Unterminated multipart: keep the last part as it is.
    if let Some(s) = start {
        if s < body.len() && parts.len() < MAX_PARTS {
            parts.push(&body[s..]);
        }
    }
    parts
}

/// Decodes base64 (RFC 2045 §6.8), skipping whitespace and any character outside the
/// alphabet, stopping at padding.
pub fn base64_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks.
pub fn qp_decode(input: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'=' {
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => i += 3,
                (Some(b'\n'), _) => i += 2,
                (Some(&a), Some(&b)) => match (hex(a), hex(b)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                },
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// One message read from an mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MboxMessage {
    /// The message (the `From ` separator line removed, `>From ` unescaped).
    Message(Vec<u8>),
    /// The message exceeded [`MAX_MESSAGE_BYTES`]; its bytes were skipped.
    TooLarge,
}

/// Streams the messages of an mbox (`From ` separator lines, mboxo/mboxrd quoting), calling
/// `f` with the 0-based message number and the message. Memory: one message (capped).
/// Stops early when `f` returns an error.
pub fn for_each_mbox_message<R: BufRead>(
    mut reader: R,
    mut f: impl FnMut(usize, MboxMessage) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut msg: Vec<u8> = Vec::new();
    let mut too_large = false;
    let mut started = false;
    let mut count = 0usize;
    let mut line = Vec::new();
    let mut at_line_start = true;
    loop {
        line.clear();
        let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let whole_line_start = at_line_start;
        at_line_start = line.ends_with(b"\n");
        if whole_line_start && line.starts_with(b"From ") {
            if started {
                let m = if too_large {
                    MboxMessage::TooLarge
                } else {
                    MboxMessage::Message(std::mem::take(&mut msg))
                };
                f(count, m)?;
                count += 1;
            }
            started = true;
            too_large = false;
            msg.clear();
            continue;
        }
        if !started {
            // Text before the first separator is not a message.
            continue;
        }
        if too_large {
            continue;
        }
        let content: &[u8] = if whole_line_start
            && line.starts_with(b">")
            && line
                .iter()
                .skip_while(|&&b| b == b'>')
                .take(5)
                .eq(b"From ".iter())
        {
            &line[1..]
        } else {
            &line
        };
        if msg.len() + content.len() > MAX_MESSAGE_BYTES {
            too_large = true;
            msg = Vec::new();
            continue;
        }
        msg.extend_from_slice(content);
    }
    if started {
        let m = if too_large {
            MboxMessage::TooLarge
        } else {
            MboxMessage::Message(msg)
        };
        f(count, m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_known_vector() {
        // RFC 4648 §10: BASE64("foobar") = "Zm9vYmFy"
        assert_eq!(base64_decode(b"Zm9v\r\nYmFy"), b"foobar");
        assert_eq!(base64_decode(b"Zm9vYg=="), b"foob");
    }

    #[test]
    fn qp_soft_breaks_and_escapes() {
        assert_eq!(qp_decode(b"a=3Db=\r\nc"), b"a=bc");
    }

    #[test]
    fn multipart_split_drops_preamble_and_epilogue() {
        let body = b"preamble\r\n--b\r\nA\r\n--b\r\nB\r\n--b--\r\nepilogue";
        assert_eq!(split_multipart(body, b"b"), vec![&b"A"[..], &b"B"[..]]);
    }

    #[test]
    fn mbox_unescapes_and_splits() {
        let mbox = b"From a\nX: 1\n\n>From here\nFrom b\nY: 2\n\nbody\n";
        let mut got = Vec::new();
        for_each_mbox_message(&mbox[..], |i, m| {
            got.push((i, m));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].1,
            MboxMessage::Message(b"X: 1\n\nFrom here\n".to_vec())
        );
        assert_eq!(got[1].1, MboxMessage::Message(b"Y: 2\n\nbody\n".to_vec()));
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b""[..],
            b"\n",
            b"Content-Type: multipart/mixed\n\n--",
            b"\r\n\r\n",
        ] {
            let _ = report_parts(input);
        }
    }

    proptest::proptest! {
        /// Untrusted messages never panic: arbitrary bodies under a multipart header, and
        /// arbitrary mbox bytes.
        #[test]
        fn arbitrary_messages_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let mut m = b"Content-Type: multipart/report; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
            m.extend_from_slice(&body);
            let parts = report_parts(&m);
            proptest::prop_assert!(parts.len() <= MAX_PARTS);
            let _ = report_parts(&body);
            let _ = for_each_mbox_message(&body[..], |_, _| Ok(()));
        }
    }
}
