//! Sending the TLS 1.3 client's last handshake flight together with the first command over
//! TLS.
//!
//! In TLS 1.3 the client's handshake ends with its own flight (the middlebox-compatibility
//! change_cipher_spec and the encrypted Finished), sent after it has validated the server's
//! Finished, so nothing more from the server is needed before application data. RFC 8446
//! §4.4.4: "Once a side has sent its Finished message and has received and validated the
//! Finished message from its peer, it may begin to send and receive Application Data over the
//! connection." [`Coalesce`] holds that flight back until the dialog writes `EHLO`, so both
//! leave in one segment: one `sendto` and one packet fewer per probe for the scanner and for
//! the server.
//!
//! How the flight is recognised: during the handshake, the first write that contains an
//! `application_data` record (content type 23) can only be the TLS 1.3 client's encrypted
//! flight (TLS 1.2 encrypts its Finished as a `handshake` record and sends no application
//! data before the handshake ends). The dialog calls [`Coalesce::handshake_done`] when the
//! TLS client returns: with nothing held (TLS 1.2, or a failed handshake) the wrapper turns
//! into a plain pass-through. A held flight is written before anything else on the next
//! write, flush, read or shutdown, so it can never be lost or reordered.
//!
//! This module owns only that byte-level timing; the dialog decides what is sent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The TLS record content type `application_data` (RFC 8446 §5.1).
const APPLICATION_DATA: u8 = 23;
/// A TLS record header: type, legacy version (2), length (2).
const HEADER: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Handshake in progress: looking for the TLS 1.3 client's encrypted flight.
    Watching,
    /// The flight is held (accepted, not yet sent).
    Holding,
    /// Pass-through; anything still held is sent first.
    Off,
}

/// A stream wrapper that holds the TLS 1.3 client's last handshake flight until the next
/// write (see the module docs).
#[derive(Debug)]
pub struct Coalesce<S> {
    inner: S,
    held: Vec<u8>,
    /// How much of `held` has been written.
    sent: usize,
    state: State,
}

impl<S> Coalesce<S> {
    /// Wraps `inner`, watching the handshake writes.
    pub fn new(inner: S) -> Self {
        Coalesce {
            inner,
            held: Vec::new(),
            sent: 0,
            state: State::Watching,
        }
    }

    /// The TLS client finished (or gave up on) its handshake: stop watching. A held flight
    /// stays held until the next write, flush, read or shutdown.
    pub fn handshake_done(&mut self) {
        if self.state == State::Watching {
            self.state = State::Off;
        }
    }

    /// Whether a flight is held back right now.
    pub fn holding(&self) -> bool {
        self.sent < self.held.len()
    }
}

/// `None` if `data` is not a sequence of whole TLS records, else whether one of them is
/// `application_data`.
fn records(data: &[u8]) -> Option<bool> {
    let mut rest = data;
    let mut found = false;
    while !rest.is_empty() {
        let &[kind, _, _, hi, lo] = rest.get(..HEADER)? else {
            return None;
        };
        rest = rest.get(HEADER + usize::from(u16::from_be_bytes([hi, lo]))..)?;
        found |= kind == APPLICATION_DATA;
    }
    Some(found)
}

/// Whether the slices of one write are whole TLS records (each slice: rustls hands over one
/// chunk per record or run of records) with an `application_data` record among them.
fn flight_has_application_data(bufs: &[io::IoSlice<'_>]) -> bool {
    let mut found = false;
    for b in bufs {
        match records(b) {
            None => return false,
            Some(app) => found |= app,
        }
    }
    found
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    /// Writes what is held; `Ready(Ok)` once nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.held.get(self.sent..).filter(|r| !r.is_empty()) {
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.held = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// The write path: holds the flight while watching, joins the next write to a held
    /// flight, passes everything else through.
    fn poll_write_all_of(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        match self.state {
            State::Watching => {
                if flight_has_application_data(bufs) {
                    self.held = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                    self.sent = 0;
                    self.state = State::Holding;
                    return Poll::Ready(Ok(len));
                }
            }
            State::Holding => {
                // the first write after the handshake joins the flight: one segment
                self.held
                    .extend(bufs.iter().flat_map(|b| b.iter().copied()));
                self.state = State::Off;
                return match self.poll_drain(cx) {
                    // the bytes are ours now; a pending rest goes out on flush
                    Poll::Ready(Ok(())) | Poll::Pending => Poll::Ready(Ok(len)),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                };
            }
            State::Off => {}
        }
        if self.holding() {
            match self.poll_drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Never wait for the server while it waits for a held flight.
        if self.holding() {
            self.state = State::Off;
            if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_all_of(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_all_of(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.state == State::Holding {
            // the TLS client's end-of-handshake flush: the flight waits for the first command
            return Poll::Ready(Ok(()));
        }
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state = State::Off;
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::test_io::Calls;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn has_application_data(data: &[u8]) -> bool {
        records(data) == Some(true)
    }

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len()).unwrap().to_be_bytes();
        [&[kind, 3, 3, len[0], len[1]][..], body].concat()
    }

    #[test]
    fn only_whole_records_with_application_data_count() {
        let slices = |v: &[&Vec<u8>]| -> bool {
            let s: Vec<io::IoSlice<'_>> = v.iter().map(|b| io::IoSlice::new(b)).collect();
            flight_has_application_data(&s)
        };
        let (c, f) = (record(20, &[1]), record(23, &[9; 8]));
        assert!(slices(&[&c, &f]));
        assert!(!slices(&[&c]));
        let cut = f[..f.len() - 1].to_vec();
        assert!(!slices(&[&c, &cut]), "a partial record is never held");
        let ccs = record(20, &[1]);
        let fin = record(23, &[9; 40]);
        assert!(has_application_data(&[ccs.clone(), fin.clone()].concat()));
        assert!(has_application_data(&fin));
        assert!(!has_application_data(&ccs));
        assert!(!has_application_data(&record(22, &[1; 300])));
        assert!(!has_application_data(&fin[..fin.len() - 1]), "cut record");
        assert!(!has_application_data(&[fin.clone(), vec![23, 3]].concat()));
        assert!(!has_application_data(b""));
    }

    /// TLS 1.3: ClientHello passes through, the encrypted flight is held over the TLS
    /// client's flush and leaves with the first command, in one write.
    #[tokio::test]
    async fn the_tls13_flight_leaves_with_the_first_command() {
        let mut c = Coalesce::new(Calls::default());
        let hello = record(22, &[1; 200]);
        let flight = [record(20, &[1]), record(23, &[7; 53])].concat();
        let ehlo = record(23, &[5; 30]);
        c.write_all(&hello).await.unwrap();
        c.flush().await.unwrap();
        c.write_all(&flight).await.unwrap();
        c.flush().await.unwrap();
        assert!(c.holding());
        assert_eq!(c.inner.0, vec![hello.clone()]);
        c.handshake_done();
        c.write_all(&ehlo).await.unwrap();
        c.flush().await.unwrap();
        assert!(!c.holding());
        assert_eq!(c.inner.0, vec![hello, [flight, ehlo.clone()].concat()]);
        // afterwards: plain pass-through
        c.write_all(&ehlo).await.unwrap();
        assert_eq!(c.inner.0.len(), 3);
    }

    /// TLS 1.2: nothing is held during the handshake, and after `handshake_done` even
    /// application data passes straight through.
    #[tokio::test]
    async fn tls12_is_passed_through() {
        let mut c = Coalesce::new(Calls::default());
        let flight = [record(22, &[1; 70]), record(20, &[1]), record(22, &[2; 40])].concat();
        c.write_all(&flight).await.unwrap();
        c.flush().await.unwrap();
        assert!(!c.holding());
        c.handshake_done();
        let ehlo = record(23, &[5; 30]);
        c.write_all(&ehlo).await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(c.inner.0, vec![flight, ehlo]);
    }

    /// A held flight is never stranded: a read or a shutdown sends it first.
    #[tokio::test]
    async fn a_read_or_shutdown_releases_the_flight() {
        let flight = record(23, &[7; 53]);
        let mut c = Coalesce::new(Calls::default());
        c.write_all(&flight).await.unwrap();
        c.flush().await.unwrap();
        let mut b = [0u8; 4];
        let _ = c.read(&mut b).await.unwrap();
        assert_eq!(c.inner.0, vec![flight.clone()]);
        let mut c = Coalesce::new(Calls::default());
        c.write_all(&flight).await.unwrap();
        c.shutdown().await.unwrap();
        assert_eq!(c.inner.0, vec![flight]);
    }
}
