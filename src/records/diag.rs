//! Diagnostics shared by every parser of the records core: byte spans, fatal parse errors,
//! non-fatal findings with a severity, and rendering of a caret under the offending bytes.
//!
//! Codes are stable kebab-case strings (they appear in JSON output and Parquet columns and are
//! documented in `docs/schema.md`); messages are for people and may change.

use std::fmt;

use serde::Serialize;

/// A half-open byte range `start..end` into the input a parser was given.
///
/// An empty span (`start == end`) points between two bytes, e.g. "missing `;` here" or the
/// end of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    /// First byte covered.
    pub start: usize,
    /// One past the last byte covered.
    pub end: usize,
}

impl Span {
    /// A span covering `start..end`; the bounds are swapped if given in the wrong order.
    pub fn new(start: usize, end: usize) -> Self {
        if start <= end {
            Span { start, end }
        } else {
            Span {
                start: end,
                end: start,
            }
        }
    }

    /// An empty span at `at`.
    pub fn at(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// The same span moved `offset` bytes to the right (for sub-parsers of a larger input).
    #[must_use]
    pub fn shifted(self, offset: usize) -> Self {
        Span {
            start: self.start.saturating_add(offset),
            end: self.end.saturating_add(offset),
        }
    }
}

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Violates a MUST of the RFC, or makes the record useless to a sender, yet parsing went on.
    Error,
    /// Violates a SHOULD, or is legal but likely a mistake.
    Warning,
    /// Worth knowing; not a problem.
    Info,
}

impl Severity {
    /// The stable lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fatal parse error: the input is not a valid instance of the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// Stable kebab-case code, e.g. `sts-txt-bad-id`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Where in the input the problem is.
    pub span: Span,
}

impl ParseError {
    /// A parse error with `code` and `message` at `span`.
    pub fn new(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        ParseError {
            code,
            message: message.into(),
            span,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at bytes {}..{}): {}",
            self.code, self.span.start, self.span.end, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// A non-fatal observation about an input that parsed (or about why a sender would ignore it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable kebab-case code, e.g. `policy-lf-line-endings`.
    pub code: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Where in the input, when the finding is about specific bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

impl Finding {
    /// A finding with no location.
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            span: None,
        }
    }

    /// A finding located at `span`.
    pub fn at(
        code: &'static str,
        severity: Severity,
        message: impl Into<String>,
        span: Span,
    ) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            span: Some(span),
        }
    }
}

/// Where a span starts, for people: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// The line and column of byte offset `at` in `input` (clamped to the input's length).
pub fn position(input: &str, at: usize) -> Position {
    let at = floor_char_boundary(input, at.min(input.len()));
    let before = &input[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position { line, column }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders the line of `input` that contains `span.start`, with `^` marks under the span, in
/// the style of compilers:
///
/// ```text
///   2 | mode: enforcing
///     |       ^^^^^^^^^ unknown mode
/// ```
///
/// Control characters (CR, tab, other C0) are shown as `␍`-style escapes so the caret lines
/// up. A span that runs past the end of its line is cut at the line's end. A long line is
/// shown as a window around the span (at most [`CARET_BEFORE`] characters before it and
/// [`CARET_AFTER`] from its start, cut ends marked `…`), so a 16 MiB line of garbage prints a
/// line, not 16 MiB.
pub fn render_caret(input: &str, span: Span, label: &str) -> String {
    let start = floor_char_boundary(input, span.start.min(input.len()));
    let end = floor_char_boundary(input, span.end.min(input.len())).max(start);
    let line_start = input[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = input[start..].find('\n').map_or(input.len(), |i| start + i);
    let pos = position(input, start);
    let before: Vec<char> = input[line_start..start].chars().map(visible).collect();
    let (lead, before) = match before.len().checked_sub(CARET_BEFORE) {
        Some(cut) if cut > 0 => ("…", &before[cut..]),
        _ => ("", &before[..]),
    };
    let rest = &input[start..line_end];
    let shown_rest: String = rest.chars().take(CARET_AFTER).map(visible).collect();
    let trail = if rest.chars().nth(CARET_AFTER).is_some() {
        "…"
    } else {
        ""
    };
    let text = format!(
        "{lead}{}{shown_rest}{trail}",
        before.iter().collect::<String>()
    );
    let pad = lead.chars().count() + before.len();
    let width = input[start..end.min(line_end)]
        .chars()
        .take(CARET_AFTER)
        .count()
        .max(1);
    let gutter = pos.line.to_string().len();
    format!(
        "{:>gutter$} | {text}\n{:>gutter$} | {}{} {label}",
        pos.line,
        "",
        " ".repeat(pad),
        "^".repeat(width),
    )
}

/// Characters of a long line shown before the span in [`render_caret`].
pub const CARET_BEFORE: usize = 40;
/// Characters of a long line shown from the span's start in [`render_caret`].
pub const CARET_AFTER: usize = 80;

fn visible(c: char) -> char {
    match c {
        '\r' => '\u{240d}',
        '\t' => '\u{2409}',
        c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
        '\u{7f}' => '\u{2421}',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long line is shown as a window around the span, its cut ends marked.
    #[test]
    fn a_long_line_is_windowed() {
        let line = format!("{}BAD{}", "a".repeat(10_000), "b".repeat(10_000));
        let out = render_caret(&line, Span::new(10_000, 10_003), "here");
        assert!(out.len() < 400, "{} bytes", out.len());
        let mut lines = out.lines();
        let text = lines.next().unwrap();
        let caret = lines.next().unwrap();
        assert!(text.contains("…aaaa") && text.ends_with("b…"), "{text}");
        // the caret sits under BAD
        let col = caret.find('^').unwrap();
        assert_eq!(&text[text.char_indices().nth(col).unwrap().0..][..3], "BAD");
        // short lines are unchanged
        assert_eq!(
            render_caret("mode: x", Span::new(6, 7), "l"),
            "1 | mode: x\n  |       ^ l"
        );
    }

    #[test]
    fn position_counts_lines_and_chars() {
        let s = "version: STSv1\nmode: enforcé\n";
        assert_eq!(position(s, 0), Position { line: 1, column: 1 });
        assert_eq!(position(s, 15), Position { line: 2, column: 1 });
        assert_eq!(position(s, 21), Position { line: 2, column: 7 });
        assert_eq!(position(s, 10_000).line, 3);
    }

    #[test]
    fn caret_under_span() {
        let s = "version: STSv1\nmode: enforcing\n";
        let out = render_caret(s, Span::new(21, 30), "unknown mode");
        assert_eq!(out, "2 | mode: enforcing\n  |       ^^^^^^^^^ unknown mode");
    }

    #[test]
    fn caret_shows_cr_and_empty_span() {
        let s = "a\rb";
        let out = render_caret(s, Span::at(1), "bare CR");
        assert_eq!(out, "1 | a\u{240d}b\n  |  ^ bare CR");
    }

    #[test]
    fn caret_never_panics_on_odd_spans() {
        let s = "é\nü";
        for a in 0..8 {
            for b in 0..8 {
                let _ = render_caret(s, Span::new(a, b), "x");
            }
        }
    }
}
