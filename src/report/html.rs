//! HTML and inline-SVG rendering of a report. Everything taken from a scan (domain names,
//! messages, hosts, statuses) goes through [`esc`]; the page loads nothing external (no CDN,
//! no script, no web font), and its Content-Security-Policy (`default-src 'none'`, inline
//! style only) makes a browser refuse anything else. This module does no I/O.

use std::fmt::Write as _;

/// HTML-escapes `s` for element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `n / total` as a percentage with two decimals (`0.00` when total is 0).
pub fn pct(n: u64, total: u64) -> String {
    if total == 0 {
        return "0.00".into();
    }
    format!("{:.2}", n as f64 * 100.0 / total as f64)
}

/// The page head and style; close with [`page_end`].
pub fn page_start(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}}\n\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}\n\
         th,td{{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}}\n\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}\n\
         .error{{color:#b00020}} .warning{{color:#a05a00}} .info{{color:#555}}\n\
         code{{font-size:90%}}\n</style>\n</head>\n<body>\n",
        esc(title)
    );
}

/// Closes what [`page_start`] opened.
pub fn page_end(out: &mut String) {
    out.push_str("</body>\n</html>\n");
}

/// A table with a header row and rows of cells; cells are escaped, and a cell whose text
/// parses as a number is right-aligned.
pub fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table>\n<thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for cell in r {
            let numeric = cell.parse::<f64>().is_ok();
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                esc(cell)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// A horizontal bar chart of `(label, value)` as inline SVG.
pub fn bar_chart(out: &mut String, title: &str, bars: &[(String, u64)]) {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (260.0, 420.0, 20.0);
    let height = 30.0 + row_h * bars.len() as f64;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" \
         role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n\
         <text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{t}</text>\n",
        w = label_w + bar_w + 90.0,
        t = esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        out.push('\n');
        let y = 26.0 + row_h * i as f64;
        let w = bar_w * (*v as f64) / (max as f64);
        let _ = write!(
            out,
            "<text x=\"{lx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\">{l}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{c}\"></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"12\">{v}</text>",
            lx = label_w - 6.0,
            ty = y + 13.0,
            l = esc(label),
            h = row_h - 4.0,
            c = COLORS[0],
            vx = label_w + w + 4.0,
        );
    }
    out.push_str("</svg>\n");
}

/// One line of a [`line_chart`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// One value per x position.
    pub values: Vec<f64>,
}

/// A line chart with one x position per label (e.g. one per scan) as inline SVG; the y axis
/// starts at 0 and its unit is `unit` (e.g. `%`).
pub fn line_chart(
    out: &mut String,
    title: &str,
    x_labels: &[String],
    series: &[Series],
    unit: &str,
) {
    let (left, top, w, h) = (60.0, 30.0, 640.0, 260.0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let max = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let n = x_labels.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + w / 2.0
        } else {
            left + w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + h - h * (v / max);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{sw}\" height=\"{sh}\" \
         role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n\
         <text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{t}</text>\n\
         <line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#888\"></line>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#888\"></line>\n\
         <text x=\"{lx}\" y=\"{tyt}\" font-size=\"11\" text-anchor=\"end\">{maxv:.2}{u}</text>\n\
         <text x=\"{lx}\" y=\"{bottom}\" font-size=\"11\" text-anchor=\"end\">0{u}</text>\n",
        sw = left + w + 220.0,
        sh = top + h + 50.0,
        t = esc(title),
        bottom = top + h,
        right = left + w,
        lx = left - 4.0,
        tyt = top + 4.0,
        maxv = max,
        u = esc(unit),
    );
    for (i, label) in x_labels.iter().enumerate() {
        out.push('\n');
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            top + h + 16.0,
            esc(label)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        out.push('\n');
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"></polyline>",
            points.join(" ")
        );
        for p in &points {
            if let Some((px, py)) = p.split_once(',') {
                let _ = write!(
                    out,
                    "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{color}\"></circle>"
                );
            }
        }
        let ly = top + 14.0 + 18.0 * k as f64;
        let _ = write!(
            out,
            "\n<rect x=\"{lx}\" y=\"{ry}\" width=\"12\" height=\"12\" fill=\"{color}\"></rect>\
             <text x=\"{tx}\" y=\"{ly}\" font-size=\"12\">{}</text>\n",
            esc(&s.name),
            lx = left + w + 16.0,
            ry = ly - 10.0,
            tx = left + w + 32.0,
        );
    }
    out.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("例え.テスト"), "例え.テスト");
    }

    #[test]
    fn pct_handles_zero_total() {
        assert_eq!(pct(1, 0), "0.00");
        assert_eq!(pct(1, 3), "33.33");
    }

    #[test]
    fn bar_chart_scales_to_the_largest_value() {
        let mut s = String::new();
        bar_chart(&mut s, "t<", &[("a".into(), 10), ("b&".into(), 5)]);
        assert!(s.contains("width=\"420.0\"") && s.contains("width=\"210.0\""));
        assert!(s.contains("t&lt;") && s.contains("b&amp;"));
    }
}
