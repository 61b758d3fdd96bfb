//! STARTTLS injection seen from the client: plaintext the server sends after its `220` to
//! STARTTLS, where the first bytes of a TLS handshake must be.
//!
//! RFC 3207 §4.2: "The client MUST discard any knowledge obtained from the server, such as
//! the list of SMTP service extensions, which was not obtained from the TLS negotiation
//! itself." Plaintext the server sends after its `220` is such knowledge (the server-side
//! mirror of the CVE-2011-0411 command-injection class). [`super::dialog`] catches it in two
//! places: bytes that arrive with or right after the `220` line (read before the handshake
//! starts, discarded, the handshake proceeds) and bytes that arrive a moment later, which
//! reach the TLS client as its first bytes. For the latter, [`Recorder`] wraps the stream
//! during the handshake and keeps the first bytes read; [`late_plaintext`] decides whether
//! they were a TLS record at all.
//!
//! This module owns that recording and the decision; it does not decide the outcome (the
//! dialog does: the handshake failed, so `handshake-failed` with the injection flag set).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// TLS record content types a server may legitimately start with (RFC 8446 §5.1 / RFC 5246
/// §6.2.1: change_cipher_spec 20, alert 21, handshake 22, application_data 23).
pub const TLS_CONTENT_TYPES: std::ops::RangeInclusive<u8> = 0x14..=0x17;

/// A stream that keeps a copy of the first `cap` bytes read through it; reads and writes are
/// otherwise passed through unchanged.
#[derive(Debug)]
pub struct Recorder<S> {
    inner: S,
    first: Vec<u8>,
    cap: usize,
}

impl<S> Recorder<S> {
    /// Wraps `inner`, recording at most `cap` bytes.
    pub fn new(inner: S, cap: usize) -> Self {
        Recorder {
            inner,
            first: Vec::new(),
            cap,
        }
    }

    /// The wrapped stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The first bytes read so far (at most `cap`).
    pub fn first_bytes(&self) -> &[u8] {
        &self.first
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let room = self.cap.saturating_sub(self.first.len());
            if room > 0 {
                let new = buf.filled().get(before..).unwrap_or_default();
                let take = new.get(..room.min(new.len())).unwrap_or_default();
                self.first.extend_from_slice(take);
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    // Passed through so a TLS flight of several records (TLS 1.3: the middlebox-compatibility
    // change_cipher_spec and the Finished) leaves in one `writev`; the default would write
    // the first record alone and the rest in further calls, one segment each.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The plaintext at the start of what the TLS client read, if it did not start with a TLS
/// record: `None` when nothing was read or the first byte is a TLS content type. The text is
/// cut where a TLS record starts after a line end (a server that sends `250 injected\r\n`
/// and then its ServerHello), so the result is the injected text alone.
pub fn late_plaintext(first: &[u8]) -> Option<&[u8]> {
    let lead = *first.first()?;
    if TLS_CONTENT_TYPES.contains(&lead) {
        return None;
    }
    let end = first
        .windows(2)
        .position(|w| matches!(w, [b'\n', t] if TLS_CONTENT_TYPES.contains(t)))
        .map_or(first.len(), |i| i + 1);
    first.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::test_io::Calls;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn tls_records_are_not_plaintext() {
        assert_eq!(late_plaintext(b""), None);
        for t in 0x14..=0x17u8 {
            assert_eq!(late_plaintext(&[t, 3, 3, 0, 2]), None);
        }
        assert_eq!(
            late_plaintext(b"250 injected\r\n"),
            Some(&b"250 injected\r\n"[..])
        );
        assert_eq!(
            late_plaintext(b"250 injected\r\n\x16\x03\x03\x00\x7a\x02"),
            Some(&b"250 injected\r\n"[..])
        );
        // Binary junk without a line end is returned whole.
        assert_eq!(late_plaintext(b"\x00\x01\x16"), Some(&b"\x00\x01\x16"[..]));
    }

    /// A flight of two records (change_cipher_spec + Finished) reaches the socket in one call.
    #[tokio::test]
    async fn recorder_passes_vectored_writes_through_whole() {
        let mut r = Recorder::new(Calls::default(), 4);
        assert!(r.is_write_vectored());
        let ccs = [0x14, 3, 3, 0, 1, 1];
        let fin = [0x17, 3, 3, 0, 2, 9, 9];
        let n = r
            .write_vectored(&[io::IoSlice::new(&ccs), io::IoSlice::new(&fin)])
            .await
            .unwrap();
        assert_eq!(n, ccs.len() + fin.len());
        assert_eq!(r.inner.0, vec![[&ccs[..], &fin[..]].concat()]);
    }

    #[tokio::test]
    async fn recorder_keeps_only_the_first_bytes() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut r = Recorder::new(a, 4);
        b.write_all(b"abcdef").await.unwrap();
        let mut buf = [0u8; 3];
        r.read_exact(&mut buf).await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"def");
        assert_eq!(r.first_bytes(), b"abcd");
        r.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        b.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"x");
    }
}
