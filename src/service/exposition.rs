//! The two text formats `/metrics` speaks, chosen by the scraper's `Accept`
//! header (pure).
//!
//! `prometheus-client` writes OpenMetrics 1.0 only. Scrapers that read only
//! Prometheus' text format 0.0.4 (older Prometheus servers, `promtool check
//! metrics`, many agents) reject three things in it: the `info` type, a
//! counter family named without the `_total` its samples carry, and the
//! `# UNIT` / `# EOF` lines. [`to_prometheus_text`] rewrites exactly those,
//! so both answers come from the one registry and carry the same samples.

/// What `/metrics` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// Prometheus text format 0.0.4: the default.
    Prometheus,
    /// OpenMetrics 1.0, when the scraper asks for it.
    OpenMetrics,
}

const OPENMETRICS: &str = "application/openmetrics-text";

impl Exposition {
    /// OpenMetrics when `Accept` lists `application/openmetrics-text` at a
    /// quality above 0 and at least that of `text/plain`; otherwise (no
    /// header, `*/*`, `text/plain`, anything unreadable) the text format.
    pub fn negotiate(accept: Option<&str>) -> Exposition {
        let Some(accept) = accept else {
            return Exposition::Prometheus;
        };
        let mut openmetrics: Option<f32> = None;
        let mut text: Option<f32> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q));
            let Some(q) = q else { continue };
            let best = match media.as_str() {
                OPENMETRICS => &mut openmetrics,
                "text/plain" => &mut text,
                _ => continue,
            };
            *best = Some(best.map_or(q, |b| b.max(q)));
        }
        match openmetrics {
            Some(om) if om > 0.0 && om >= text.unwrap_or(0.0) => Exposition::OpenMetrics,
            _ => Exposition::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Rewrites `prometheus-client`'s OpenMetrics text as Prometheus text
/// format 0.0.4: a counter family takes its samples' `_total` name, an
/// `info` family becomes the gauge `<name>_info` (its samples already carry
/// that name and the value 1), `# UNIT` and `# EOF` go, and HELP keeps only
/// the escapes 0.0.4 knows (`\\`, `\n`). Samples are copied unchanged.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // HELP comes before TYPE, and the family's 0.0.4 name depends on TYPE
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_string(), kind),
                _ => (name.to_string(), "untyped"),
            };
            if let Some((_, text)) = help.take() {
                out.push_str(&format!("# HELP {name} {}\n", help_text(text)));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// OpenMetrics escapes `"` in HELP; 0.0.4 does not (and refuses `\"`).
fn help_text(text: &str) -> String {
    text.replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_is_the_default_and_openmetrics_is_asked_for() {
        use Exposition::*;
        for (accept, want) in [
            (None, Prometheus),
            (Some("*/*"), Prometheus),
            (Some("text/plain"), Prometheus),
            (Some("text/plain;version=0.0.4"), Prometheus),
            (Some("application/openmetrics-text"), OpenMetrics),
            (
                Some("Application/OpenMetrics-Text; version=1.0.0"),
                OpenMetrics,
            ),
            // what Prometheus 2.x sends by default
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                OpenMetrics,
            ),
            // Prometheus with scrape_protocols preferring the text format
            (
                Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"),
                Prometheus,
            ),
            (Some("application/openmetrics-text;q=0"), Prometheus),
            (Some("application/openmetrics-text;q=banana"), Prometheus),
            (Some(",,;;="), Prometheus),
        ] {
            assert_eq!(Exposition::negotiate(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_families_become_their_text_format_names() {
        let om = "\
# HELP atsd_moves Applications moved.
# TYPE atsd_moves counter
atsd_moves_total{reason=\"no_response\"} 3
# HELP atsd_outbox_emails Emails in the outbox.
# TYPE atsd_outbox_emails gauge
atsd_outbox_emails{status=\"sent\"} 7
# HELP atsd_job_run_duration_seconds How long.
# TYPE atsd_job_run_duration_seconds histogram
# UNIT atsd_job_run_duration_seconds seconds
atsd_job_run_duration_seconds_sum{job=\"poll\"} 0.5
atsd_job_run_duration_seconds_count{job=\"poll\"} 1
atsd_job_run_duration_seconds_bucket{le=\"+Inf\",job=\"poll\"} 1
# HELP atsd_build The \\\"running\\\" version\\nof atsd.
# TYPE atsd_build info
atsd_build_info{version=\"0.1.0\"} 1
# TYPE atsd_odd unknown
atsd_odd 1
# EOF
";
        let text = to_prometheus_text(om);
        assert_eq!(
            text,
            "\
# HELP atsd_moves_total Applications moved.
# TYPE atsd_moves_total counter
atsd_moves_total{reason=\"no_response\"} 3
# HELP atsd_outbox_emails Emails in the outbox.
# TYPE atsd_outbox_emails gauge
atsd_outbox_emails{status=\"sent\"} 7
# HELP atsd_job_run_duration_seconds How long.
# TYPE atsd_job_run_duration_seconds histogram
atsd_job_run_duration_seconds_sum{job=\"poll\"} 0.5
atsd_job_run_duration_seconds_count{job=\"poll\"} 1
atsd_job_run_duration_seconds_bucket{le=\"+Inf\",job=\"poll\"} 1
# HELP atsd_build_info The \"running\" version\\nof atsd.
# TYPE atsd_build_info gauge
atsd_build_info{version=\"0.1.0\"} 1
# TYPE atsd_odd untyped
atsd_odd 1
"
        );
    }
}
