//! The faults of the README's fault table that need a real process to die or
//! a real disk to fill: `kill -9` at each of the seven points of a run, the
//! output's disk full while staging, and corrupt input files. In each, no
//! published row is lost and the next run publishes. (Faults injected by
//! error at each point, the lease lost and concurrent runs are in
//! operations.rs; the store cut off mid-run in python/test_storage.py.)

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use carbonstat::publish::{FAULT_ENV, FaultPoint};
use common::*;

/// Start a run that pauses at `point`, wait until it says it is pausing
/// there, and kill it with SIGKILL: nothing of it runs after that moment.
fn kill_at(p: &Project, point: FaultPoint) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .args(["run", "--config", "pipeline.yaml", "--no-summary"])
        .current_dir(p.dir.path())
        .env(FAULT_ENV, format!("{point}:60000"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{point}: the run ended before pausing: {seen:?}"))
            .unwrap();
        if line.contains("pausing") && line.contains(point.as_str()) {
            break;
        }
        seen.push(line);
        assert!(started.elapsed() < Duration::from_secs(120), "{point}");
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "{point}: killed by a signal");
}

#[test]
fn a_run_killed_at_any_of_seven_moments_loses_nothing() {
    for point in FaultPoint::ALL {
        let p = small_project();
        assert!(p.run_pipeline().status.success());
        let published = p.manifest();
        let energy = std::fs::read_to_string(p.path("energy.csv")).unwrap();
        p.write("energy.csv", &energy.replace("1100,t", "1200,t"));

        kill_at(&p, point);
        // the dead run's lock is left behind, naming a pid that is gone
        assert!(p.path("out/_lock.json").exists(), "{point}");
        let now = p.manifest();
        if point == FaultPoint::AfterManifest {
            // killed past the commit point: the new run is the published one
            assert_ne!(now["fingerprint"], published["fingerprint"], "{point}");
            assert_manifest_intact(&p, &now);
        } else {
            assert_eq!(now, published, "{point}: the published manifest changed");
            assert_manifest_intact(&p, &published);
        }

        // the next run takes the dead run's lock over and publishes (or finds
        // the killed run's publication up to date), leaving nothing behind
        let next = p.run(&["run", "--config", "pipeline.yaml", "--no-summary"]);
        assert!(next.status.success(), "{point}: {}", stderr(&next));
        assert!(
            stderr(&next).contains("no longer running on this host"),
            "{point}: {}",
            stderr(&next)
        );
        let m = p.manifest();
        assert_ne!(m["fingerprint"], published["fingerprint"], "{point}");
        assert_manifest_intact(&p, &m);
        assert_no_strays(&p);
        // 1 200 t × 0.7143 = 857.16 tce plus 5 MWh bought at equal value
        // (2021: 5 000 kWh × 0.0003025 tce/kWh = 1.5125 tce)
        let county = p.rows("region_indicators", 2021);
        let county = find(&county, &[("region_code", "150622")]);
        close(county["energy_tce"].f(), 857.16 + 1.5125, point.as_str());
    }
}

/// Run `script` with `sh` in a mount namespace of its own (as root, or as
/// root of a user namespace): a tmpfs it mounts vanishes when it ends.
fn in_mount_namespace(script: &str, envs: &[(&str, &std::path::Path)]) -> std::process::Output {
    let mut cmd = Command::new("unshare");
    // SAFETY: geteuid has no preconditions
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("unshare (util-linux) runs")
}

#[test]
fn a_full_disk_while_staging_leaves_the_published_run_whole() {
    let p = small_project();
    let energy = std::fs::read_to_string(p.path("energy.csv")).unwrap();
    p.write("energy-changed.csv", &energy.replace("1100,t", "1200,t"));
    std::fs::create_dir_all(p.path("out")).unwrap();
    // out/ is a 16 MiB tmpfs. The first run publishes; then the disk is
    // filled up to 16 KiB and a changed input makes the second run stage new
    // files (the state is copied out after each step, the tmpfs goes with the
    // namespace); the filler is removed and a third run publishes.
    let script = r#"
        set -u
        mount -t tmpfs -o size=16m carbonstat-test "$D/out" || exit 90
        cd "$D"
        "$BIN" --quiet run --config pipeline.yaml --no-summary 2>err1; echo $? >rc1
        cp -a out published
        avail=$(df --output=avail -B1 out | tail -n 1)
        head -c $((avail - 16384)) /dev/zero > out/filler 2>/dev/null
        df --output=avail -B1 out | tail -n 1 >avail
        cp energy-changed.csv energy.csv
        "$BIN" run --config pipeline.yaml --no-summary 2>err2; echo $? >rc2
        rm out/filler
        cp -a out after-failure
        "$BIN" --quiet run --config pipeline.yaml --no-summary 2>err3; echo $? >rc3
        cp -a out final
    "#;
    let out = in_mount_namespace(
        script,
        &[
            ("D", p.dir.path()),
            (
                "BIN",
                std::path::Path::new(env!("CARGO_BIN_EXE_carbonstat")),
            ),
        ],
    );
    assert!(
        out.status.success(),
        "the namespace script failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let read = |f: &str| {
        std::fs::read_to_string(p.path(f))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(read("rc1"), "0", "{}", read("err1"));
    let free: u64 = read("avail").parse().unwrap();
    assert!(free <= 64 * 1024, "the disk was filled: {free} bytes left");
    assert_eq!(read("rc2"), "1", "{}", read("err2"));
    assert!(
        read("err2").contains("No space left on device"),
        "{}",
        read("err2")
    );

    let manifest_of = |dir: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.path(&format!("{dir}/manifest.json"))).unwrap())
            .unwrap()
    };
    let published = manifest_of("published");
    assert_eq!(manifest_of("after-failure"), published);
    for f in published["outputs"].as_array().unwrap() {
        let rel = f["path"].as_str().unwrap();
        assert_eq!(
            sha256_of(&p.path(&format!("after-failure/{rel}"))),
            f["sha256"].as_str().unwrap(),
            "{rel}"
        );
    }
    assert!(
        !p.path("after-failure/_lock.json").exists(),
        "a failed run releases its lock"
    );

    assert_eq!(read("rc3"), "0", "{}", read("err3"));
    let last = manifest_of("final");
    assert_ne!(last["fingerprint"], published["fingerprint"]);
    let named: std::collections::BTreeSet<String> = last["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let found: std::collections::BTreeSet<String> = files_under(&p.path("final"))
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(p.path("final")).unwrap();
            rel.to_string_lossy().to_string()
        })
        .filter(|rel| rel.starts_with("reports/") || rel.starts_with("bulletin/"))
        .collect();
    assert_eq!(found, named, "the third run left only its own files");
    assert!(!p.path("final/_staging").exists());
}

#[test]
fn a_corrupt_input_file_is_named_and_the_published_run_kept() {
    let p = small_project();
    assert!(p.run_pipeline().status.success());
    let published = p.manifest();
    let cases: [(&str, &[u8], &str); 3] = [
        // a Parquet file cut off in the middle of a copy
        (
            "energy.parquet",
            b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00",
            "energy.parquet",
        ),
        // a workbook that is not one (a download that saved an error page)
        (
            "energy.xlsx",
            b"<html><body>502 Bad Gateway</body></html>",
            "energy.xlsx",
        ),
        // NUL bytes: a file truncated by a crash of the writing system
        (
            "energy.csv",
            b"enterprise_id,region_code\x00\x00\x00\x00",
            "energy.csv): byte offset 25 is a NUL byte",
        ),
    ];
    let good = std::fs::read(p.path("energy.csv")).unwrap();
    for (name, bytes, shown) in cases {
        std::fs::remove_file(p.path("energy.csv")).ok();
        std::fs::write(p.path(name), bytes).unwrap();
        let cfg = std::fs::read_to_string(p.path("pipeline.yaml")).unwrap();
        let pointed = cfg.replace("energy: energy.csv", &format!("energy: {name}"));
        std::fs::write(p.path("corrupt.yaml"), pointed).unwrap();
        let out = p.run(&["--quiet", "run", "--config", "corrupt.yaml", "--no-summary"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(shown), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert_eq!(p.manifest(), published, "{name}");
        assert_manifest_intact(&p, &published);
        std::fs::remove_file(p.path(name)).unwrap();
        std::fs::write(p.path("energy.csv"), &good).unwrap();
    }
    // the good file again: up to date, nothing left behind
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_strays(&p);
}
