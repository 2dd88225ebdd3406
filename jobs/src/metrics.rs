//! `metrics.textfile`: what a monitoring system reads of the nightly job, in
//! Prometheus text format for node_exporter's textfile collector. Written
//! after every run — a failed one too — to a temporary file renamed over the
//! old one, so the collector never reads half a file. The time of the last
//! success is kept from the previous file when a run fails.
//!
//! `metrics.pushgateway`: the same metrics pushed to a Prometheus Pushgateway
//! (a Kubernetes CronJob's pod is gone before anything could scrape it). The
//! push is a POST to `<gateway>/metrics/job/<job>`, which replaces only the
//! metrics pushed: a failed run pushes no `last_success` nor row counts, so the
//! gateway keeps those of the last success.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use carbonstat::publish::Manifest;

const LAST_SUCCESS: &str = "carbonstat_last_success_timestamp_seconds";

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or_default()
}

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
    let now = unix_now();
    let text = render(result, duration, now, previous_success(path));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("prom.tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Where a push goes: `<gateway>/metrics/job/<job>`.
pub(crate) fn push_url(gateway: &str, job: &str) -> Result<reqwest::Url, String> {
    let base = reqwest::Url::parse(gateway)
        .map_err(|e| format!("metrics.pushgateway '{gateway}' is not a URL: {e}"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!(
            "metrics.pushgateway '{gateway}' must be an http:// or https:// URL"
        ));
    }
    let mut url = base;
    url.path_segments_mut()
        .map_err(|_| format!("metrics.pushgateway '{gateway}' cannot have a path"))?
        .pop_if_empty()
        .extend(["metrics", "job", job]);
    Ok(url)
}

/// Push the run's metrics to a Pushgateway (10 s at most: a gateway that is
/// down must not hold the nightly job).
pub(crate) fn push(
    gateway: &str,
    job: &str,
    result: &carbonstat::Result<Manifest>,
    duration: Duration,
) -> Result<(), String> {
    let url = push_url(gateway, job)?;
    let now = unix_now();
    // no previous success: the gateway keeps the one it has
    let body = render(result, duration, now, None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .post(url.clone())
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Err(format!("{url}: {status} {}", text.trim()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_goes_to_the_job_group() {
        assert_eq!(
            push_url("http://pushgateway:9091", "carbonstat")
                .unwrap()
                .as_str(),
            "http://pushgateway:9091/metrics/job/carbonstat"
        );
        assert_eq!(
            push_url("https://gw.example/prom/", "nightly bureau")
                .unwrap()
                .as_str(),
            "https://gw.example/prom/metrics/job/nightly%20bureau"
        );
        assert!(
            push_url("pushgateway:9091", "x")
                .unwrap_err()
                .contains("must be an http:// or https:// URL")
        );
    }

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
