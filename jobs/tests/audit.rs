//! Auditors: byte-identical re-runs (1, 2, 8 partitions; spilling), `verify`
//! (clean, tampered input, tampered output, changed factor set), `explain`
//! reproducing published values exactly, `factors diff` and its impact.

mod common;

use std::path::Path;

use common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The sample county in a project of its own: data, factor set and config
/// that a test may change.
fn sample(extra: &str) -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = Project::new();
    copy_dir(&root.join("data-samples/data"), &p.path("data"));
    copy_dir(&root.join("factors/cn-2025"), &p.path("factors/cn-2025"));
    let config = std::fs::read_to_string(root.join("data-samples/pipeline.yaml"))
        .unwrap()
        .replace("../factors/cn-2025", "factors/cn-2025")
        .replace("output: ../out", "output: out")
        .replace("  memory_limit: 2GiB\n", extra);
    p.write("pipeline.yaml", &config);
    p
}

fn verify(p: &Project, json: bool) -> std::process::Output {
    let mut args = vec!["--quiet", "verify", "out/manifest.json"];
    if json {
        args.extend(["--format", "json"]);
    }
    p.run(&args)
}

#[test]
fn identical_bytes_with_1_2_8_partitions_and_when_spilling() {
    let mut outputs = Vec::new();
    for (engine, spills) in [
        ("  target_partitions: 1\n", false),
        ("  target_partitions: 2\n", false),
        ("  target_partitions: 8\n", false),
        // sorts and aggregations spill under this limit (it is logged; with
        // the data samples up to 24 MiB spill and complete; below 16 MiB the
        // hash joins of the regional balance, which cannot spill, may not fit);
        // one worker thread: which partition takes its share of the small pool
        // first does not depend on scheduling
        (
            "  target_partitions: 2\n  threads: 1\n  memory_limit: 16MiB\n",
            true,
        ),
    ] {
        let p = sample(engine);
        let out = p.run(&[
            "--log-format",
            "json",
            "run",
            "--config",
            "pipeline.yaml",
            "--no-summary",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        assert_eq!(stderr(&out).contains("spilled to disk"), spills, "{engine}");
        let m = p.manifest();
        assert_eq!(
            m["engine"]["target_partitions"],
            engine[21..22].parse::<u64>().unwrap()
        );
        outputs.push(m["outputs"].clone());
    }
    for o in &outputs[1..] {
        assert_eq!(
            o, &outputs[0],
            "every file, every byte (sha256), the same names"
        );
    }
    assert_eq!(outputs[0].as_array().unwrap().len(), 18);
}

#[test]
fn verify_a_clean_run() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let out = verify(&p, false);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("verified: 18 files, 255 rows identical"),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&verify(&p, true).stdout).unwrap();
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(json["files"], 18);
}

#[test]
fn verify_names_a_tampered_input_and_shows_the_rows() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    // one cement-plant month of 2024 made bigger
    let f = p.path("data/energy/energy_2023-2025.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("青山建材") && l.contains(",2024,3,raw_coal,"))
        .unwrap()
        .to_string();
    let fields: Vec<&str> = line.split(',').collect();
    let bigger = line.replace(&format!(",{},t", fields[9]), ",99999,t");
    std::fs::write(&f, text.replace(&line, &bigger)).unwrap();

    let out = verify(&p, false);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("input energy data/energy/energy_2023-2025.csv changed: sha256"),
        "{report}"
    );
    assert!(
        report.contains("region_indicators year=2024 differs"),
        "{report}"
    );
    assert!(
        report.contains("region_code=150622 ") || report.contains("region_code=150622101"),
        "{report}"
    );
    assert!(
        report.contains("energy_tce: published") && report.contains("| re-run"),
        "{report}"
    );
    assert!(
        !report.contains("year=2022 differs"),
        "other years are unchanged: {report}"
    );
    assert!(stderr(&out).contains("not verified"), "{}", stderr(&out));
}

#[test]
fn verify_names_a_tampered_output_file() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let m = p.manifest();
    let target = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["dataset"] == "region_indicators" && o["partition"] == "year=2025")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    let other = p.partition_file("region_indicators", 2024);
    std::fs::copy(other, p.path(&format!("out/{target}"))).unwrap();
    let out = verify(&p, true);
    assert_eq!(out.status.code(), Some(5));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["published_file_changed"], "{json:#}");
    assert_eq!(json["findings"][0]["path"], target);
}

#[test]
fn verify_names_a_changed_factor_set() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let f = p.path("factors/cn-2025/grid_factors.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.replace("2022,0.6849,", "2022,0.7001,")).unwrap();
    let out = verify(&p, false);
    assert_eq!(out.status.code(), Some(5));
    let report = stdout(&out);
    assert!(
        report.contains("factor set file grid_factors.csv:"),
        "{report}"
    );
    assert!(report.contains("co2_indirect_t: published"), "{report}");
    // data years 2022 onwards use the 2022 factor; 2020 and 2021 use 2021's
    assert!(
        report.contains("region_indicators year=2022 differs"),
        "{report}"
    );
    assert!(
        !report.contains("region_indicators year=2021 differs"),
        "{report}"
    );
}

fn explain_json(p: &Project, region: &str, year: i32, indicator: &str) -> serde_json::Value {
    let y = year.to_string();
    let out = p.run(&[
        "--quiet",
        "explain",
        "--manifest",
        "out",
        "--region",
        region,
        "--year",
        &y,
        "--indicator",
        indicator,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{indicator}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn explain_reproduces_published_values_exactly() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    for (region, year, indicator) in [
        ("150622", 2025, "co2_intensity"),
        ("150622", 2025, "energy_intensity_controlled"),
        ("150622", 2025, "energy_intensity_controlled_change_base"),
        ("150622", 2023, "co2_intensity_change_yoy"),
        ("150622103", 2022, "energy_intensity_change_yoy"),
        ("150622", 2024, "coal_share"),
        ("150622", 2024, "non_fossil_share"),
        ("150622", 2021, "high_energy_share"),
        ("150622", 2025, "energy_tce"),
    ] {
        let e = explain_json(&p, region, year, indicator);
        let published = e["published_value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{indicator}: {e:#}"));
        // f64 values round-trip through JSON exactly: these are bit equalities
        assert_eq!(e["value"].as_f64(), Some(published), "{indicator}");
        assert_eq!(
            e["formula_result"].as_f64(),
            Some(published),
            "{indicator}: {}",
            e["formula_with_values"]
        );
    }
    // the contributions add up to the total, and name their factor rows
    let e = explain_json(&p, "150622", 2025, "co2_intensity");
    let co2: f64 = e["terms"][0]["value"].as_f64().unwrap();
    let sum: f64 = e["by_energy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["co2_t"].as_f64().unwrap())
        .sum();
    close(sum, co2, "contributions by energy");
    // their standard coal is at the valuation the county is judged on (equal
    // value in the sample): the energies add up to the published energy_tce
    let tce: f64 = e["by_energy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tce"].as_f64().unwrap())
        .sum();
    let r2025 = p.rows("region_indicators", 2025);
    let county = find(&r2025, &[("region_code", "150622")]);
    close(tce, county["energy_tce"].f(), "tce by energy");
    let sectors: f64 = e["by_sector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["co2_t"].as_f64().unwrap())
        .sum();
    close(sectors, co2, "contributions by sector");
    let chain = e["gdp_chain"].as_array().unwrap();
    assert_eq!(chain.len(), 6);
    // 2025's gdp_const = 2024's × 105.2 / 100
    close(
        chain[5]["gdp_const"].as_f64().unwrap(),
        chain[4]["gdp_const"].as_f64().unwrap() * 105.2 / 100.0,
        "GDP chain",
    );
    let grid = e["factors_used"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "grid CO2 factor")
        .unwrap();
    // cn-2025: 2025 uses the latest published year, 2023 (公告2025年第47号)
    assert_eq!(grid["value"], 0.6479);
    assert_eq!(grid["factor_year"], 2023);
    assert_eq!(grid["scope"], "provincial 150000");
    assert_eq!(grid["source_id"], "mee-nbs-2025-47");
    let steps: Vec<&str> = e["sql_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"sql/50_indicators.sql"));

    // the text form, for people
    let out = p.run(&[
        "--quiet",
        "explain",
        "--manifest",
        "out",
        "--region",
        "150622",
        "--year",
        "2023",
        "--indicator",
        "co2_intensity_change_yoy",
    ]);
    let text = stdout(&out);
    assert!(text.contains("reproduced exactly"), "{text}");
    assert!(text.contains("rounded to 4 decimals"), "{text}");
    assert!(text.contains("GDP chain"), "{text}");

    // an unknown indicator is a clear error
    let bad = p.run(&[
        "explain",
        "--manifest",
        "out",
        "--region",
        "150622",
        "--year",
        "2025",
        "--indicator",
        "co2",
    ]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        stderr(&bad).contains("'co2' is not a numeric column of region_indicators"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn factors_diff_lists_rows_and_the_impact() {
    let p = sample("");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    copy_dir(&root.join("factors/cn-2024"), &p.path("factors/cn-2024"));
    copy_dir(&p.path("factors/cn-2024"), &p.path("factors/cn-test"));
    let yaml = std::fs::read_to_string(p.path("factors/cn-test/factor-set.yaml")).unwrap();
    p.write(
        "factors/cn-test/factor-set.yaml",
        &yaml.replace("id: cn-2024", "id: cn-test"),
    );
    let grid = std::fs::read_to_string(p.path("factors/cn-test/grid_factors.csv")).unwrap();
    p.write(
        "factors/cn-test/grid_factors.csv",
        &(grid.replace(
            "national,CN,全国 national,2021,0.5568,",
            "national,CN,全国 national,2021,0.5570,",
        ) + "provincial,150000,内蒙古 Inner Mongolia,2023,0.6600,mee-nbs-2024-dec,memory\n"),
    );
    let out = p.run(&["factors", "diff", "factors/cn-2024", "factors/cn-test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("grid_factors: 1 changed, 1 added, 0 removed"),
        "{text}"
    );
    assert!(
        text.contains("~ national/CN/2021: tco2_per_mwh 0.5568 -> 0.5570"),
        "{text}"
    );
    assert!(
        text.contains("+ area_code=150000") && text.contains("data_year=2023"),
        "{text}"
    );

    let out = p.run(&[
        "--quiet",
        "factors",
        "diff",
        "factors/cn-2024",
        "factors/cn-test",
        "--impact",
        "--config",
        "pipeline.yaml",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let impact = json["impact"].as_array().unwrap();
    // the config uses provincial factors: the national change moves nothing;
    // Inner Mongolia's 2023 factor moves 2023-2025 CO2 and nothing else
    assert!(!impact.is_empty());
    assert!(
        impact.iter().all(|i| i["year"].as_i64().unwrap() >= 2023),
        "{impact:#?}"
    );
    assert!(
        impact
            .iter()
            .all(|i| i["indicator"].as_str().unwrap().starts_with("co2")),
        "{impact:#?}"
    );
    let county_2023 = impact
        .iter()
        .find(|i| i["region_code"] == "150622" && i["year"] == 2023 && i["indicator"] == "co2_t")
        .unwrap();
    assert!(county_2023["change"].as_f64().unwrap() != 0.0);
}

#[test]
fn every_command_parses_its_help() {
    // clap checks a command's arguments when it is built: a clash panics
    let p = Project::new();
    for cmd in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["verify", "--help"],
        vec!["explain", "--help"],
        vec!["factors", "diff", "--help"],
        vec!["schema", "--help"],
    ] {
        let out = p.run(&cmd);
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    }
}
