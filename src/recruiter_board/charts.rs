//! The board's charts: horizontal bar charts as inline SVG, drawn here on the
//! server (no chart library, no fonts: the browser's own sans-serif draws the
//! text). Each is `role="img"` with a `<title>` and a `<desc>`; the page puts
//! the same numbers in a table beside it. Bars are told apart by shape as
//! well as colour (a hatched part, an outlined bar), and every bar carries
//! its number as text.

use std::fmt::Write;

/// One part of a bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Solid dark blue.
    Solid,
    /// Hatched dark red on white: the stale part of a stage.
    Hatched,
    /// Lighter blue with a dark outline: a second measure (the 90th percentile).
    Outlined,
}

/// One bar: its segments, drawn end to end, and the text after it.
#[derive(Clone, Debug)]
pub struct Bar {
    pub segments: Vec<(f64, Fill)>,
    pub text: String,
}

/// One row: a label and one or more bars (drawn one under the other).
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 600.0;
const LABEL_W: f64 = 110.0;
const TEXT_W: f64 = 240.0;
const BAR_H: f64 = 18.0;
const GAP: f64 = 10.0;

/// Escapes text for SVG (XML).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A horizontal bar chart; `id` makes its title and description ids unique
/// on the page.
pub fn bar_chart(id: &str, title: &str, desc: &str, rows: &[Row]) -> String {
    let max = rows
        .iter()
        .flat_map(|r| &r.bars)
        .map(|b| b.segments.iter().map(|s| s.0).sum::<f64>())
        .fold(0.0_f64, f64::max);
    let area = WIDTH - LABEL_W - TEXT_W;
    let scale = if max > 0.0 { area / max } else { 0.0 };
    let row_h = |r: &Row| r.bars.len().max(1) as f64 * (BAR_H + 4.0) - 4.0 + GAP;
    let height: f64 = rows.iter().map(row_h).sum::<f64>() + GAP;
    let id = esc(id);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"chart\" \
         viewBox=\"0 0 {WIDTH} {height}\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>\
         <defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>\
         <rect width=\"3\" height=\"6\" fill=\"#9b1c14\"/></pattern></defs>",
        esc(title),
        esc(desc)
    );
    let mut y = GAP;
    for r in rows {
        let h = row_h(r) - GAP;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"label\">{}</text>",
            LABEL_W - 8.0,
            y + h / 2.0 + 4.5,
            esc(&r.label)
        );
        for (i, b) in r.bars.iter().enumerate() {
            let by = y + i as f64 * (BAR_H + 4.0);
            let mut x = LABEL_W;
            for (v, fill) in &b.segments {
                let w = (v * scale).max(if *v > 0.0 { 2.0 } else { 0.0 });
                if w > 0.0 {
                    let paint = match fill {
                        Fill::Solid => "fill=\"#1d4f91\"".to_string(),
                        Fill::Hatched => {
                            format!(
                                "fill=\"url(#{id}-hatch)\" stroke=\"#9b1c14\" stroke-width=\"1\""
                            )
                        }
                        Fill::Outlined => {
                            "fill=\"#a9c1e6\" stroke=\"#1d4f91\" stroke-width=\"1.5\"".to_string()
                        }
                    };
                    let _ = write!(
                        s,
                        "<rect x=\"{x:.1}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\" {paint}/>"
                    );
                }
                x += w;
            }
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{}</text>",
                x + 6.0,
                by + BAR_H - 4.5,
                esc(&b.text)
            );
        }
        y += row_h(r);
    }
    s.push_str("</svg>");
    s
}

/// The `q` quantile (0..=1) of a histogram of whole days, by nearest rank:
/// the smallest value with at least `q` of the observations at or below it.
pub fn quantile(hist: &[(i64, i64)], q: f64) -> Option<i64> {
    let n: i64 = hist.iter().map(|h| h.1).sum();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as i64).clamp(1, n);
    let mut sorted = hist.to_vec();
    sorted.sort_unstable();
    let mut seen = 0;
    for (v, c) in sorted {
        seen += c;
        if seen >= rank {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        // 1,2,3,4,5,6,7,8,9,10
        let h: Vec<(i64, i64)> = (1..=10).map(|d| (d, 1)).collect();
        assert_eq!(quantile(&h, 0.5), Some(5));
        assert_eq!(quantile(&h, 0.9), Some(9));
        // 0 ×3, 7 ×1: the median is 0, the 90th percentile 7
        assert_eq!(quantile(&[(7, 1), (0, 3)], 0.5), Some(0));
        assert_eq!(quantile(&[(7, 1), (0, 3)], 0.9), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn a_chart_is_an_image_with_its_title_description_and_numbers_as_text() {
        let svg = bar_chart(
            "p1-now",
            "Applications <now>",
            "desc & more",
            &[Row {
                label: "screening".into(),
                bars: vec![Bar {
                    segments: vec![(3.0, Fill::Hatched), (9.0, Fill::Solid)],
                    text: "12 (3 stale)".into(),
                }],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"p1-now-t\">Applications &lt;now&gt;</title>"));
        assert!(svg.contains("<desc id=\"p1-now-d\">desc &amp; more</desc>"));
        assert!(svg.contains(">12 (3 stale)</text>"));
        assert!(svg.contains("url(#p1-now-hatch)"));
        // the hatched part is a quarter of the full bar
        let widths: Vec<f64> = svg
            .split("width=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next()?.parse().ok())
            .collect();
        assert!(
            widths.contains(&62.5) && widths.contains(&187.5),
            "{widths:?}"
        );
    }

    #[test]
    fn an_empty_chart_draws_no_bars() {
        let svg = bar_chart(
            "x",
            "t",
            "d",
            &[Row {
                label: "applied".into(),
                bars: vec![Bar {
                    segments: vec![(0.0, Fill::Solid)],
                    text: "0".into(),
                }],
            }],
        );
        assert!(!svg.contains("<rect x="));
        assert!(svg.contains(">0</text>"));
    }
}
