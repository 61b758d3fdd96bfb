//! SMTP reply framing, sans-I/O (RFC 5321 §4.2).
//!
//! This module owns turning the bytes a server sends into complete [`Reply`] values. It does no
//! I/O and keeps no clock: the caller feeds bytes with [`ReplyParser::feed`] and pulls replies
//! with [`ReplyParser::next_reply`]. It must never panic on any input and never buffer more
//! than its [`ReplyLimits`] allow (plus whatever a single `feed` call hands it; callers feed
//! bounded chunks and drain with `next_reply` after each one).
//!
//! Grammar (RFC 5321 §4.2):
//!
//! ```text
//! Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
//!                  Reply-code [ SP textstring ] CRLF
//! Reply-code     = %x32-35 %x30-35 %x30-39
//! textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
//! ```
//!
//! Decisions: a bare LF ends a line (flagged in [`Reply::bare_lf`]); a line longer than the
//! RFC 5321 §4.5.3.1.5 limit of 512 octets (including CRLF) is accepted up to
//! [`ReplyLimits::max_line`] and flagged in [`Reply::long_line`]; a second digit outside
//! `0-5` is accepted (the class is carried by the first digit) and flagged in
//! [`Reply::nonstandard_code`]; text octets outside the `textstring` set are kept (lossily
//! decoded as UTF-8) and flagged in [`Reply::nonprintable`]. Anything else that breaks the
//! grammar is a [`ReplyError`], after which the parser stays failed.

use std::fmt;

/// RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply code
/// and the `<CRLF>` is 512 octets."
pub const RFC_MAX_REPLY_LINE: usize = 512;

/// Caps applied while framing replies from an untrusted server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest accepted line in octets, including the line terminator (default 2048).
    pub max_line: usize,
    /// Largest accepted reply in octets, all lines included (default 64 KiB).
    pub max_reply_bytes: usize,
    /// Most lines accepted in one reply (default 200).
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            max_line: 2048,
            max_reply_bytes: 64 * 1024,
            max_lines: 200,
        }
    }
}

/// One complete SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (200..=599).
    pub code: u16,
    /// The text of each line, after the code and separator, without the line terminator.
    pub lines: Vec<String>,
    /// At least one line ended in a bare LF instead of CRLF.
    pub bare_lf: bool,
    /// At least one line was longer than 512 octets (RFC 5321 §4.5.3.1.5).
    pub long_line: bool,
    /// The second digit of the code is outside `0-5` (RFC 5321 §4.2 `Reply-code`).
    pub nonstandard_code: bool,
    /// Some text octet is outside HT, SP and printable US-ASCII (RFC 5321 §4.2 `textstring`).
    pub nonprintable: bool,
    /// Octets the reply occupied on the wire.
    pub wire_len: usize,
}

impl Reply {
    /// The first digit of the code: 2 positive, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// `2yz`: positive completion.
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// `4yz`: transient negative completion.
    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }

    /// `5yz`: permanent negative completion.
    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// The reply as one line of text (`code text | text ...`), cut to at most `max` chars.
    pub fn summary(&self, max: usize) -> String {
        let mut s = self.code.to_string();
        for (i, line) in self.lines.iter().enumerate() {
            s.push_str(if i == 0 { " " } else { " | " });
            s.push_str(line);
            if s.len() > max {
                break;
            }
        }
        cut(&s, max)
    }
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Why bytes from the server are not a well-formed reply (a closed vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyError {
    /// `bad-code`: the line does not start with three ASCII digits.
    BadCode,
    /// `code-out-of-range`: the first digit is not `2`..`5` (RFC 5321 §4.2 `Reply-code`).
    CodeOutOfRange,
    /// `bad-separator`: the code is followed by something other than SP, `-` or the line end.
    BadSeparator,
    /// `code-mismatch`: a line of a multi-line reply carries a different code.
    CodeMismatch,
    /// `line-too-long`: a line exceeds [`ReplyLimits::max_line`].
    LineTooLong,
    /// `reply-too-long`: a reply exceeds [`ReplyLimits::max_reply_bytes`].
    ReplyTooLong,
    /// `too-many-lines`: a reply exceeds [`ReplyLimits::max_lines`].
    TooManyLines,
}

impl ReplyError {
    /// The kebab-case name of this error.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadCode => "bad-code",
            Self::CodeOutOfRange => "code-out-of-range",
            Self::BadSeparator => "bad-separator",
            Self::CodeMismatch => "code-mismatch",
            Self::LineTooLong => "line-too-long",
            Self::ReplyTooLong => "reply-too-long",
            Self::TooManyLines => "too-many-lines",
        }
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ReplyError {}

/// Incremental reply parser: feed bytes, pull complete replies.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    limits: ReplyLimits,
    buf: Vec<u8>,
    /// Leading bytes of `buf` already searched for a line end (none found): a server that
    /// trickles a line byte by byte costs linear, not quadratic, time.
    searched: usize,
    partial: Option<Reply>,
    failed: Option<ReplyError>,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new(ReplyLimits::default())
    }
}

impl ReplyParser {
    /// A parser with the given caps.
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
            searched: 0,
            partial: None,
            failed: None,
        }
    }

    /// Appends bytes received from the server.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes received but not yet part of a returned reply (an unfinished line, or lines
    /// after the last returned reply).
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// True when no bytes are waiting: no unfinished line and no unfinished reply.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.partial.is_none()
    }

    /// Lines already received of the reply in progress.
    pub fn partial_lines(&self) -> usize {
        self.partial.as_ref().map_or(0, |r| r.lines.len())
    }

    /// The next complete reply, `None` if more bytes are needed, or the framing error. After
    /// an error every further call returns the same error.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        if let Some(e) = self.failed {
            return Some(Err(e));
        }
        match self.parse() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = Some(e);
                self.buf = Vec::new();
                self.partial = None;
                Some(Err(e))
            }
        }
    }

    fn parse(&mut self) -> Result<Option<Reply>, ReplyError> {
        let mut consumed = 0usize;
        let result = loop {
            let rest = &self.buf[consumed..];
            let skip = if consumed == 0 { self.searched } else { 0 };
            let found = rest
                .get(skip..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'));
            let Some(nl) = found.map(|i| i + skip) else {
                // Unfinished line: bounded by the line cap.
                if rest.len() > self.limits.max_line {
                    break Err(ReplyError::LineTooLong);
                }
                let unfinished = rest.len();
                self.buf.drain(..consumed);
                self.searched = unfinished;
                return Ok(None);
            };
            let wire = nl + 1;
            if wire > self.limits.max_line {
                break Err(ReplyError::LineTooLong);
            }
            let (content, bare_lf) = match rest[..nl].strip_suffix(b"\r") {
                Some(c) => (c, false),
                None => (&rest[..nl], true),
            };
            let line = parse_line(content)?;
            consumed += wire;
            let reply = self.partial.get_or_insert_with(|| Reply {
                code: line.code,
                lines: Vec::new(),
                bare_lf: false,
                long_line: false,
                nonstandard_code: false,
                nonprintable: false,
                wire_len: 0,
            });
            if reply.code != line.code {
                break Err(ReplyError::CodeMismatch);
            }
            reply.wire_len += wire;
            if reply.wire_len > self.limits.max_reply_bytes {
                break Err(ReplyError::ReplyTooLong);
            }
            if reply.lines.len() >= self.limits.max_lines {
                break Err(ReplyError::TooManyLines);
            }
            reply.bare_lf |= bare_lf;
            reply.long_line |= wire > RFC_MAX_REPLY_LINE;
            reply.nonstandard_code |= line.nonstandard;
            reply.nonprintable |= line.nonprintable;
            reply.lines.push(line.text);
            if line.last {
                break Ok(self.partial.take());
            }
        };
        self.buf.drain(..consumed);
        self.searched = 0;
        result
    }
}

struct Line {
    code: u16,
    last: bool,
    text: String,
    nonstandard: bool,
    nonprintable: bool,
}

fn parse_line(content: &[u8]) -> Result<Line, ReplyError> {
    let digits = content.get(..3).ok_or(ReplyError::BadCode)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::BadCode);
    }
    if !(b'2'..=b'5').contains(&digits[0]) {
        return Err(ReplyError::CodeOutOfRange);
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let nonstandard = digits[1] > b'5';
    let (last, text) = match content.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &content[4..]),
        Some(b'-') => (false, &content[4..]),
        Some(_) => return Err(ReplyError::BadSeparator),
    };
    let nonprintable = text.iter().any(|&b| !(b == 9 || (32..=126).contains(&b)));
    Ok(Line {
        code,
        last,
        text: String::from_utf8_lossy(text).into_owned(),
        nonstandard,
        nonprintable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::default();
        p.feed(input);
        let mut out = Vec::new();
        for _ in 0..1000 {
            match p.next_reply() {
                Some(r) => {
                    let err = r.is_err();
                    out.push(r);
                    if err {
                        break;
                    }
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn single_line() {
        let r = all(b"220 mx.example ESMTP\r\n");
        assert_eq!(r.len(), 1);
        let r = r[0].as_ref().unwrap();
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, vec!["mx.example ESMTP"]);
        assert!(!r.bare_lf && !r.long_line);
        assert_eq!(r.wire_len, 22);
    }

    /// RFC 5321 §4.2.1: "The format for multiline replies requires that every line, except
    /// the last, begin with the reply code, followed immediately by a hyphen, "-" (also known
    /// as minus), followed by text. The last line will begin with the reply code, followed
    /// immediately by <SP>, optionally some text, and <CRLF>."
    #[test]
    fn multiline() {
        let r = all(b"250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n250 The last line\r\n");
        assert_eq!(r.len(), 1);
        let r = r[0].as_ref().unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 4);
        assert_eq!(r.lines[2], "234 Text beginning with numbers");
    }

    /// RFC 5321 §4.2.1: "As noted above, servers SHOULD send the <SP> if subsequent text is
    /// not sent, but clients MUST be prepared for it to be omitted."
    #[test]
    fn code_only_line() {
        let r = all(b"250\r\n");
        assert_eq!(r[0].as_ref().unwrap().lines, vec![""]);
        let r = all(b"250-a\r\n250\r\n");
        assert_eq!(r[0].as_ref().unwrap().lines, vec!["a", ""]);
    }

    /// RFC 5321 §4.2.1: "In a multiline reply, the reply code on each of the lines MUST be
    /// the same."
    #[test]
    fn mismatched_codes() {
        let r = all(b"250-a\r\n251 b\r\n");
        assert_eq!(r, vec![Err(ReplyError::CodeMismatch)]);
    }

    /// RFC 5321 §4.2: "Reply-code = %x32-35 %x30-35 %x30-39".
    #[test]
    fn code_range() {
        assert_eq!(all(b"120 x\r\n"), vec![Err(ReplyError::CodeOutOfRange)]);
        assert_eq!(all(b"620 x\r\n"), vec![Err(ReplyError::CodeOutOfRange)]);
        assert_eq!(all(b"2a0 x\r\n"), vec![Err(ReplyError::BadCode)]);
        assert_eq!(all(b"22\r\n"), vec![Err(ReplyError::BadCode)]);
        assert_eq!(all(b"220x\r\n"), vec![Err(ReplyError::BadSeparator)]);
        let r = all(b"290 odd\r\n");
        assert!(r[0].as_ref().unwrap().nonstandard_code);
    }

    #[test]
    fn bare_lf_tolerated_and_flagged() {
        let r = all(b"250-a\n250 b\r\n");
        let r = r[0].as_ref().unwrap();
        assert!(r.bare_lf);
        assert_eq!(r.lines, vec!["a", "b"]);
    }

    /// RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply
    /// code and the <CRLF> is 512 octets." Longer lines are tolerated up to the cap, flagged.
    #[test]
    fn long_lines() {
        let mut ok = b"250 ".to_vec();
        ok.extend(std::iter::repeat_n(b'a', 512 - 6));
        ok.extend_from_slice(b"\r\n");
        assert_eq!(ok.len(), 512);
        assert!(!all(&ok)[0].as_ref().unwrap().long_line);
        let mut long = b"250 ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 513 - 6));
        long.extend_from_slice(b"\r\n");
        assert!(all(&long)[0].as_ref().unwrap().long_line);
        let mut huge = b"250 ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 3000));
        huge.extend_from_slice(b"\r\n");
        assert_eq!(all(&huge), vec![Err(ReplyError::LineTooLong)]);
        // Without a line end at all: rejected once the cap is passed, not buffered forever.
        let mut p = ReplyParser::default();
        for _ in 0..10 {
            p.feed(&[b'x'; 1000]);
            if let Some(r) = p.next_reply() {
                assert_eq!(r, Err(ReplyError::LineTooLong));
                assert!(p.buffered().is_empty());
                return;
            }
        }
        panic!("unterminated line never rejected");
    }

    #[test]
    fn endless_continuation_capped() {
        let mut p = ReplyParser::default();
        let mut got = None;
        for _ in 0..10_000 {
            p.feed(b"250-more\r\n");
            if let Some(r) = p.next_reply() {
                got = Some(r);
                break;
            }
        }
        assert_eq!(got, Some(Err(ReplyError::TooManyLines)));
        let mut p = ReplyParser::new(ReplyLimits {
            max_line: 2048,
            max_reply_bytes: 64 * 1024,
            max_lines: 100_000,
        });
        let line = format!("250-{}\r\n", "b".repeat(1000));
        let mut got = None;
        for _ in 0..1000 {
            p.feed(line.as_bytes());
            if let Some(r) = p.next_reply() {
                got = Some(r);
                break;
            }
        }
        assert_eq!(got, Some(Err(ReplyError::ReplyTooLong)));
    }

    #[test]
    fn byte_at_a_time_and_leftover() {
        let input = b"220-hello\r\n220 there\r\n250 ok\r\nEXTRA";
        let mut p = ReplyParser::default();
        let mut replies = Vec::new();
        for b in input {
            p.feed(&[*b]);
            while let Some(r) = p.next_reply() {
                replies.push(r.unwrap());
            }
        }
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].lines, vec!["hello", "there"]);
        assert_eq!(replies[1].code, 250);
        assert_eq!(p.buffered(), b"EXTRA");
    }

    #[test]
    fn leftover_after_reply_is_kept() {
        let mut p = ReplyParser::default();
        p.feed(b"220 go ahead\r\n\x16\x03\x01junk");
        assert_eq!(p.next_reply().unwrap().unwrap().code, 220);
        assert_eq!(p.buffered(), b"\x16\x03\x01junk");
        assert!(!p.is_idle());
    }

    #[test]
    fn binary_garbage_is_error_and_sticky() {
        let mut p = ReplyParser::default();
        p.feed(b"\x00\xff\xfe garbage\n");
        assert_eq!(p.next_reply(), Some(Err(ReplyError::BadCode)));
        p.feed(b"220 ok\r\n");
        assert_eq!(p.next_reply(), Some(Err(ReplyError::BadCode)));
    }

    #[test]
    fn nonprintable_flagged() {
        let r = all("250 caf\u{e9}\r\n".as_bytes());
        let r = r[0].as_ref().unwrap();
        assert!(r.nonprintable);
        assert_eq!(r.lines, vec!["caf\u{e9}"]);
    }

    #[test]
    fn summary_is_capped() {
        let r = all(b"250-a\r\n250 b\r\n");
        assert_eq!(r[0].as_ref().unwrap().summary(100), "250 a | b");
        assert_eq!(r[0].as_ref().unwrap().summary(5), "250 a");
        assert_eq!(cut("h\u{e9}llo", 2), "h");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_stays_bounded(
                chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..20)
            ) {
                let limits = ReplyLimits { max_line: 256, max_reply_bytes: 2048, max_lines: 8 };
                let mut p = ReplyParser::new(limits);
                for c in &chunks {
                    p.feed(c);
                    for _ in 0..1000 {
                        match p.next_reply() {
                            Some(Ok(r)) => {
                                prop_assert!((200..600).contains(&r.code));
                                prop_assert!(r.lines.len() <= 8);
                                prop_assert!(r.wire_len <= 2048);
                            }
                            Some(Err(_)) => break,
                            None => break,
                        }
                    }
                    // After draining, at most one unfinished line (or the rest of a chunk) stays.
                    prop_assert!(p.buffered().len() <= 256 + 600);
                }
            }

            #[test]
            fn well_formed_roundtrip(
                code in 200u16..600,
                texts in proptest::collection::vec("[ -~]{0,40}", 1..10),
                split in 1usize..50,
            ) {
                let mut wire = Vec::new();
                for (i, t) in texts.iter().enumerate() {
                    let sep = if i + 1 == texts.len() { ' ' } else { '-' };
                    wire.extend_from_slice(format!("{code}{sep}{t}\r\n").as_bytes());
                }
                let mut p = ReplyParser::default();
                let mut got = Vec::new();
                for c in wire.chunks(split) {
                    p.feed(c);
                    while let Some(r) = p.next_reply() {
                        got.push(r);
                    }
                }
                prop_assert_eq!(got.len(), 1);
                let r = got.pop().unwrap().unwrap();
                prop_assert_eq!(r.code, code);
                prop_assert_eq!(&r.lines, &texts);
                prop_assert_eq!(r.wire_len, wire.len());
                prop_assert!(p.is_idle());
            }
        }
    }
}
