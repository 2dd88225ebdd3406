//! `metrics.textfile`: what a monitoring system reads of the nightly job, in
//! Prometheus text format for node_exporter's textfile collector. Written
//! after every run — a failed one too — to a temporary file renamed over the
//! old one, so the collector never reads half a file. The time of the last
//! success is kept from the previous file when a run fails.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use carbonstat::publish::Manifest;

const LAST_SUCCESS: &str = "carbonstat_last_success_timestamp_seconds";

/// The last success recorded in an existing textfile.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(LAST_SUCCESS)?.trim().parse().ok())
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    for (labels, v) in samples {
        out.push_str(&format!("{name}{labels} {v}\n"));
    }
}

/// The textfile's content for a run that ended `now` after `duration`.
pub(crate) fn render(
    result: &carbonstat::Result<Manifest>,
    duration: Duration,
    now: f64,
    previous_success: Option<f64>,
) -> String {
    let mut s = String::new();
    let one = |v: f64| vec![(String::new(), v)];
    gauge(
        &mut s,
        "carbonstat_last_run_timestamp_seconds",
        "When the last run ended (Unix time).",
        &one(now),
    );
    let success = match result {
        Ok(_) => Some(now),
        Err(_) => previous_success,
    };
    if let Some(t) = success {
        gauge(
            &mut s,
            LAST_SUCCESS,
            "When the last successful run ended (Unix time; kept when a run fails).",
            &one(t),
        );
    }
    gauge(
        &mut s,
        "carbonstat_run_duration_seconds",
        "How long the last run took.",
        &one((duration.as_secs_f64() * 1000.0).round() / 1000.0),
    );
    let code = match result {
        Ok(_) => 0,
        Err(e) => e.exit_code(),
    };
    gauge(
        &mut s,
        "carbonstat_exit_code",
        "Exit code of the last run (0 published or up to date, 2 bad config or input file, 3 quality gate, 4 locked, 1 other).",
        &one(f64::from(code)),
    );
    if let Ok(m) = result {
        let label = |input: &str| format!("{{input=\"{input}\"}}");
        let read: Vec<(String, f64)> = m
            .input_totals
            .iter()
            .filter(|t| t.files > 0)
            .map(|t| (label(&t.input), t.rows_read as f64))
            .collect();
        let rejected: Vec<(String, f64)> = m
            .input_totals
            .iter()
            .filter(|t| t.files > 0)
            .map(|t| (label(&t.input), t.rows_rejected as f64))
            .collect();
        gauge(
            &mut s,
            "carbonstat_rows_read_total",
            "Input rows the last successful run read, per input.",
            &read,
        );
        gauge(
            &mut s,
            "carbonstat_rows_rejected_total",
            "Input rows the last successful run rejected, per input.",
            &rejected,
        );
        gauge(
            &mut s,
            "carbonstat_published_files",
            "Files the published run consists of (reports and bulletin).",
            &one(m.outputs.len() as f64),
        );
    }
    s
}

/// Write the textfile atomically (a temporary file in the same directory,
/// renamed over it).
pub(crate) fn write_textfile(
    path: &Path,
    result: &carbonstat::Result<Manifest>,
    duration: Duration,
) -> std::io::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or_default();
    let text = render(result, duration, now, previous_success(path));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("prom.tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_last_success() {
        let failed: carbonstat::Result<Manifest> =
            Err(carbonstat::Error::Quality("too many rejects".into()));
        let text = render(&failed, Duration::from_millis(1500), 2000.0, Some(1000.0));
        assert!(
            text.contains("\ncarbonstat_last_run_timestamp_seconds 2000\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncarbonstat_last_success_timestamp_seconds 1000\n"),
            "{text}"
        );
        assert!(text.contains("\ncarbonstat_exit_code 3\n"), "{text}");
        assert!(
            text.contains("\ncarbonstat_run_duration_seconds 1.5\n"),
            "{text}"
        );
        assert!(!text.contains("carbonstat_published_files"), "{text}");
        // never succeeded: no success line at all
        let text = render(&failed, Duration::ZERO, 2000.0, None);
        assert!(!text.contains(LAST_SUCCESS), "{text}");
    }

    #[test]
    fn the_previous_success_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("carbonstat.prom");
        std::fs::write(
            &p,
            "# HELP carbonstat_last_success_timestamp_seconds x\ncarbonstat_last_success_timestamp_seconds 1764640000\n",
        )
        .unwrap();
        assert_eq!(previous_success(&p), Some(1_764_640_000.0));
        assert_eq!(previous_success(&dir.path().join("missing.prom")), None);
    }
}
