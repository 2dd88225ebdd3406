//! Nightly operation on the local filesystem: faults at every point of the
//! publish protocol leave the published run intact and the next run repairs
//! the state; one run at a time (exit 4); the no-op; memory limit; JSON logs.
//! (The same operations against S3 are in jobs/tests/python/test_storage.py.)

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_fault_at_any_point_leaves_the_published_run_intact() {
    for point in carbonstat::publish::FaultPoint::ALL {
        let p = small_project();
        assert!(p.run_pipeline().status.success());
        let published = p.manifest();

        // a changed input: the next run has work to do, and fails at `point`
        let energy = std::fs::read_to_string(p.path("energy.csv")).unwrap();
        p.write("energy.csv", &energy.replace("1100,t", "1200,t"));
        let failed = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
            .args(["--quiet", "run", "--config", "pipeline.yaml"])
            .current_dir(p.dir.path())
            .env(carbonstat::publish::FAULT_ENV, point.as_str())
            .output()
            .unwrap();
        assert_eq!(
            failed.status.code(),
            Some(1),
            "{point}: {}",
            stderr(&failed)
        );
        assert!(
            stderr(&failed).contains(&format!("fault injected at {point}")),
            "{}",
            stderr(&failed)
        );
        if point == carbonstat::publish::FaultPoint::AfterManifest {
            // past the commit point: the new run is published, whole; the
            // files of the one it replaced are still there until the next
            // run, which finds it up to date and removes them
            let m = p.manifest();
            assert_ne!(m["fingerprint"], published["fingerprint"]);
            assert_manifest_intact(&p, &m);
            let next = p.run_pipeline();
            assert!(next.status.success(), "{}", stderr(&next));
            assert!(
                String::from_utf8_lossy(&next.stdout).contains("up to date"),
                "{}",
                String::from_utf8_lossy(&next.stdout)
            );
            assert_eq!(p.manifest(), m);
            assert_no_strays(&p);
            continue;
        }
        assert_eq!(
            p.manifest(),
            published,
            "{point}: the published manifest changed"
        );
        assert_manifest_intact(&p, &published);
        // readable: every file of the published run still parses
        for f in published["outputs"].as_array().unwrap() {
            if f["dataset"] == "bulletin" {
                continue; // HTML, CSS and SQL: their sha256 is checked above
            }
            read_parquet(&p.path(&format!("out/{}", f["path"].as_str().unwrap())));
        }

        let next = p.run_pipeline();
        assert!(next.status.success(), "{point}: {}", stderr(&next));
        let m = p.manifest();
        assert_ne!(m["fingerprint"], published["fingerprint"]);
        assert_manifest_intact(&p, &m);
        assert_no_strays(&p);
        // 1 200 t × 0.7143 = 857.16 tce plus 5 MWh bought: at equal value
        // (2021 coal rate 0.3025 kgce/kWh) 5 000 × 0.0003025 = 1.5125 tce
        let county = p.rows("region_indicators", 2021);
        let county = find(&county, &[("region_code", "150622")]);
        close(
            county["energy_tce"].f(),
            857.16 + 1.5125,
            &format!("{point}: the new run's numbers"),
        );
    }
}

#[test]
fn a_held_lock_stops_a_second_run_with_exit_4() {
    let p = small_project();
    std::fs::create_dir_all(p.path("out")).unwrap();
    let now = chrono_now();
    p.write(
        "out/_lock.json",
        &format!(r#"{{"host":"other-host","pid":4242,"started_at":"{now}","token":"t"}}"#),
    );
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("locked by another carbonstat run (pid 4242 on other-host since"),
        "{err}"
    );
    assert!(!p.path("out/manifest.json").exists());
    assert!(
        p.path("out/_lock.json").exists(),
        "someone else's lock is not ours to remove"
    );

    // the same lock two days old: taken over with a warning
    p.write(
        "out/_lock.json",
        r#"{"host":"other-host","pid":4242,"started_at":"2020-01-01T00:00:00Z","token":"t"}"#,
    );
    let out = p.run(&["run", "--config", "pipeline.yaml", "--no-summary"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("taking over a lock whose lease has expired"),
        "{}",
        stderr(&out)
    );
    assert!(!p.path("out/_lock.json").exists());
}

fn spawn_run(p: &Project, fault: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .args(["run", "--config", "pipeline.yaml", "--no-summary"])
        .current_dir(p.dir.path())
        .env(carbonstat::publish::FAULT_ENV, fault)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, deadline: Duration, ready: impl Fn() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(t.elapsed() < deadline, "waited {deadline:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_slow_run_keeps_its_lock_by_renewing_its_lease() {
    // lock_ttl 3 s: the lease is renewed every 750 ms. The first run works for
    // more than 8 s; a second run started 4.5 s in (past the TTL of the
    // first run's start) finds the lease current and exits 4.
    let p = small_project();
    p.config("lock_ttl: 3s\n");
    let started = Instant::now();
    let slow = spawn_run(&p, "after_lock:8000");
    wait_for("the lock", Duration::from_secs(30), || {
        p.path("out/_lock.json").exists()
    });
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("out/_lock.json")).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(4500).saturating_sub(started.elapsed()));
    let second = p.run(&["run", "--config", "pipeline.yaml", "--no-summary"]);
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!(
            "locked by another carbonstat run (pid {} on ",
            first["pid"]
        )),
        "{}",
        stderr(&second)
    );
    let renewed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("out/_lock.json")).unwrap()).unwrap();
    assert_eq!(renewed["token"], first["token"]);
    assert_eq!(renewed["started_at"], first["started_at"]);
    // RFC 3339 in UTC with milliseconds: text order is time order
    assert!(
        renewed["lease_expires_at"].as_str() > first["lease_expires_at"].as_str(),
        "{renewed} not renewed since {first}"
    );
    let slow = slow.wait_with_output().unwrap();
    assert!(slow.status.success(), "{}", stderr(&slow));
    assert!(
        started.elapsed() > Duration::from_secs(8),
        "the first run paused 8 s"
    );
    assert_no_strays(&p);
}

#[test]
fn a_run_whose_lock_was_taken_over_publishes_nothing() {
    let p = small_project();
    assert!(p.run_pipeline().status.success());
    let published = p.manifest();
    let energy = std::fs::read_to_string(p.path("energy.csv")).unwrap();
    p.write("energy.csv", &energy.replace("1100,t", "1200,t"));
    // the run pauses with every file moved into reports/ and manifest.json
    // not yet replaced; meanwhile someone writes their own lock over its own
    // (with the default lock_ttl of 10 min the heartbeat renews only every
    // minute: the check before manifest.json is what catches it)
    let run = spawn_run(&p, "before_manifest:4000");
    let reports = |p: &Project| files_under(&p.path("out/reports")).len();
    let before = reports(&p);
    wait_for("the commit to start", Duration::from_secs(60), || {
        reports(&p) > before
    });
    let thief = r#"{"host":"other-host","pid":99,"started_at":"2026-01-01T00:00:00Z","token":"stolen","lease_expires_at":"2999-01-01T00:00:00.000Z"}"#;
    p.write("out/_lock.json", thief);
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lost the lock of")
            && stderr(&out).contains(
                "before manifest.json: another run took it over (pid 99 on other-host since"
            ),
        "{}",
        stderr(&out)
    );
    assert_eq!(p.manifest(), published, "nothing of it published");
    assert_manifest_intact(&p, &published);
    assert_eq!(
        std::fs::read_to_string(p.path("out/_lock.json")).unwrap(),
        thief,
        "the other run's lock is left alone"
    );
    // once the other run is done, the next run publishes and removes what the
    // run that lost its lock had moved into reports/
    std::fs::remove_file(p.path("out/_lock.json")).unwrap();
    let next = p.run_pipeline();
    assert!(next.status.success(), "{}", stderr(&next));
    assert_ne!(p.manifest()["fingerprint"], published["fingerprint"]);
    assert_no_strays(&p);
}

#[test]
fn a_dead_process_of_this_host_does_not_hold_the_lock() {
    let p = small_project();
    std::fs::create_dir_all(p.path("out")).unwrap();
    // a pid that cannot be running: above the kernel's pid_max
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    p.write(
        "out/_lock.json",
        &format!(
            r#"{{"host":"{}","pid":4194305,"started_at":"{}","token":"t"}}"#,
            host.trim(),
            chrono_now()
        ),
    );
    let out = p.run(&["run", "--config", "pipeline.yaml", "--no-summary"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no longer running on this host"),
        "{}",
        stderr(&out)
    );
}

fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // RFC 3339 in UTC without pulling chrono into the tests
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[test]
fn of_concurrent_runs_exactly_one_holds_the_output() {
    let p = small_project();
    // four runs started together; each holds the lock 1.5 s once it has it
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_carbonstat"))
                .args([
                    "--quiet",
                    "run",
                    "--config",
                    "pipeline.yaml",
                    "--no-summary",
                ])
                .current_dir(p.dir.path())
                .env(carbonstat::publish::FAULT_ENV, "after_lock:1500")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    assert!(started.elapsed() < Duration::from_secs(60));
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(4)).count(),
        3,
        "{codes:?}"
    );
    for o in outputs.iter().filter(|o| o.status.code() == Some(4)) {
        assert!(
            stderr(o).contains("locked by another carbonstat run (pid "),
            "{}",
            stderr(o)
        );
    }
    assert_no_strays(&p);
}

#[test]
fn over_the_memory_limit_the_message_says_what_to_raise() {
    let p = small_project();
    p.config("engine:\n  memory_limit: 100KiB\n");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("raise engine.memory_limit"),
        "{}",
        stderr(&out)
    );
    assert!(!p.path("out/manifest.json").exists());
    assert!(
        !p.path("out/_lock.json").exists(),
        "a failed run releases its lock"
    );
}

#[test]
fn json_logs_are_one_object_a_line_with_stage_figures() {
    let p = small_project();
    let out = p.run(&[
        "--log-format",
        "json",
        "run",
        "--config",
        "pipeline.yaml",
        "--no-summary",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let has = |msg: &str| lines.iter().any(|l| l["fields"]["message"] == msg);
    assert!(
        has("step done") && has("input validated") && has("dataset staged") && has("published")
    );
    let staged = lines
        .iter()
        .find(|l| l["fields"]["message"] == "dataset staged")
        .unwrap();
    assert!(
        staged["fields"]["rows"].is_u64()
            && staged["fields"]["bytes"].is_u64()
            && staged["fields"]["elapsed_ms"].is_u64()
    );
    // no terminal: no spinner characters, no colour codes
    assert!(!stderr(&out).contains('\u{1b}'));

    // a failure is a JSON line too, with its exit code
    p.config("electricity_factor: city\n");
    let out = p.run(&["--log-format", "json", "run", "--config", "pipeline.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let last: serde_json::Value =
        serde_json::from_str(stderr(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["fields"]["exit_code"], 2);
}

/// The value of a sample (name with its labels) in a Prometheus textfile.
fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_metrics_textfile_tells_a_success_from_a_failure() {
    let p = small_project();
    p.config("metrics:\n  textfile: metrics/carbonstat.prom\n");
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(p.path("metrics/carbonstat.prom")).unwrap();
    // the project's energy.csv: 3 rows read, none rejected
    assert_eq!(metric(&text, "carbonstat_exit_code"), Some(0.0), "{text}");
    assert_eq!(
        metric(&text, "carbonstat_rows_read_total{input=\"energy\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "carbonstat_rows_rejected_total{input=\"energy\"}"),
        Some(0.0),
        "{text}"
    );
    let files = p.manifest()["outputs"].as_array().unwrap().len() as f64;
    assert_eq!(
        metric(&text, "carbonstat_published_files"),
        Some(files),
        "{text}"
    );
    let success = metric(&text, "carbonstat_last_success_timestamp_seconds").unwrap();
    assert_eq!(
        metric(&text, "carbonstat_last_run_timestamp_seconds"),
        Some(success)
    );
    assert!(metric(&text, "carbonstat_run_duration_seconds").unwrap() > 0.0);
    assert!(
        !p.path("metrics")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains(".tmp.") })
    );
    // a run the quality gate stops (one bad row of four > 1 %): exit 3, the
    // success of the first run kept
    std::thread::sleep(Duration::from_millis(1100));
    let energy = std::fs::read_to_string(p.path("energy.csv")).unwrap();
    p.write(
        "energy.csv",
        &format!("{energy}{},150622,C3011,2021,peat,1,t\n", uscc(1)),
    );
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = std::fs::read_to_string(p.path("metrics/carbonstat.prom")).unwrap();
    assert_eq!(metric(&text, "carbonstat_exit_code"), Some(3.0), "{text}");
    assert_eq!(
        metric(&text, "carbonstat_last_success_timestamp_seconds"),
        Some(success),
        "{text}"
    );
    assert!(metric(&text, "carbonstat_last_run_timestamp_seconds").unwrap() > success);
    assert_eq!(metric(&text, "carbonstat_published_files"), None, "{text}");
}
