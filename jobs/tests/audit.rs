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
    copy_dir(
        &root.join("factors/cn-2026-12"),
        &p.path("factors/cn-2026-12"),
    );
    let config = std::fs::read_to_string(root.join("data-samples/pipeline.yaml"))
        .unwrap()
        .replace("../factors/cn-2026-12", "factors/cn-2026-12")
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
    assert_eq!(outputs[0].as_array().unwrap().len(), 94);
}

#[test]
fn verify_a_clean_run() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let out = verify(&p, false);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("verified: 94 files, 814 rows identical"),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&verify(&p, true).stdout).unwrap();
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(json["files"], 94);
    // the run's kept manifest, manifests/<run_id>.json, is a manifest too
    let kept = format!(
        "out/manifests/{}.json",
        p.manifest()["run_id"].as_str().unwrap()
    );
    let out = p.run(&["--quiet", "verify", &kept]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("verified: 94 files, 814 rows identical"),
        "{}",
        stdout(&out)
    );
    // a file that is no manifest is a usage error that says what to give
    let out = p.run(&["--quiet", "verify", "pipeline.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pipeline.yaml is a file, not a published run"),
        "{}",
        stderr(&out)
    );
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
    let f = p.path("factors/cn-2026-12/grid_factors.csv");
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
    // the factor set moved away: the error says how to point verify to
    // where the run's files are now
    std::fs::rename(p.path("factors"), p.path("factors-moved")).unwrap();
    let out = verify(&p, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("if the run's files moved since it ran in")
            && stderr(&out).contains("carbonstat verify <manifest> --base DIR"),
        "{}",
        stderr(&out)
    );
}

fn explain_json(p: &Project, region: &str, year: i32, indicator: &str) -> serde_json::Value {
    explain_json_of(p, "--region", region, year, indicator)
}

/// `explain` of the published run, of a region, an enterprise or a group
/// (`flag`), with `extra` arguments.
fn explain_of(
    p: &Project,
    flag: &str,
    id: &str,
    year: i32,
    indicator: &str,
    extra: &[&str],
) -> std::process::Output {
    let y = year.to_string();
    let mut args = vec![
        "--quiet",
        "explain",
        "--manifest",
        "out",
        flag,
        id,
        "--year",
        &y,
        "--indicator",
        indicator,
    ];
    args.extend(extra);
    p.run(&args)
}

/// `explain --format json` of a region, an enterprise or a group.
fn explain_json_of(
    p: &Project,
    flag: &str,
    id: &str,
    year: i32,
    indicator: &str,
) -> serde_json::Value {
    let out = explain_of(p, flag, id, year, indicator, &["--format", "json"]);
    assert!(out.status.success(), "{indicator}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sum of `column` over the rows of an explanation's `table` (by_energy,
/// by_sector, top_enterprises).
fn table_sum(e: &serde_json::Value, table: &str, column: &str) -> f64 {
    e[table]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[column].as_f64().unwrap())
        .sum()
}

#[test]
fn explain_reproduces_group_and_enterprise_values_exactly() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    // the coal-chemical plant (serial 2 of data-samples/generate.py) and the
    // zero-carbon park it belongs to from 2023
    let plant = "91150622MA0EHLPTXC";
    for (flag, id, year, indicator) in [
        ("--enterprise", plant, 2024, "co2_t"),
        // 2 323 476.308854 + 998 941.588634: 3322417.8974880003 added as
        // doubles, 3322417.897488 as the DECIMAL sum enterprise_totals casts
        ("--enterprise", plant, 2025, "co2_t"),
        ("--enterprise", plant, 2024, "energy_tce_equivalent"),
        ("--group", "ZCP-01", 2025, "co2_t"),
        ("--group", "ZCP-01", 2025, "co2_electricity_t"),
        ("--group", "ZCP-01", 2025, "co2_per_tce"),
        ("--group", "ZCP-01", 2025, "clean_energy_share"),
        ("--group", "ZCP-01", 2025, "green_power_share"),
        ("--group", "ZCP-01", 2025, "electricity_use_kwh"),
        ("--group", "KU-150622", 2022, "energy_tce_equivalent"),
    ] {
        let e = explain_json_of(&p, flag, id, year, indicator);
        let published = e["published_value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{id} {indicator}: {e:#}"));
        assert_eq!(e["value"].as_f64(), Some(published), "{id} {indicator}");
        assert_eq!(
            e["formula_result"].as_f64(),
            Some(published),
            "{id} {indicator}: {}",
            e["formula_with_values"]
        );
    }
    // the park in 2025: its three members, the green power rows of the plant
    // (60 000 + 10 000 × 10^4 kWh), the factor of the power it bought
    let e = explain_json_of(&p, "--group", "ZCP-01", 2025, "co2_per_tce");
    // three members and the certified green power used, at zero
    assert_eq!(e["top_enterprises"].as_array().unwrap().len(), 4, "{e:#}");
    let green: f64 = e["budget_rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "green_power_kwh")
        .map(|r| r["amount_t"].as_f64().unwrap())
        .sum();
    assert_eq!(green, 7.0e8);
    let factors = e["factors_used"].as_array().unwrap();
    let grid = factors
        .iter()
        .find(|f| f["kind"] == "grid CO2 factor of power bought (green power at zero)")
        .unwrap();
    assert_eq!(grid["value"], 0.6096);
    assert_eq!(grid["scope"], "national_excl_market_nonfossil CN");
    assert!(
        factors
            .iter()
            .any(|f| f["energy_code"] == "park_co2_per_tce_100_plus" && f["value"] == 0.3),
        "{factors:#?}"
    );
    // the members' energy adds up to the group's
    let members = table_sum(&e, "top_enterprises", "tce");
    let rows = p.rows("group_indicators", 2025);
    let park = find(&rows, &[("group_id", "ZCP-01")]);
    close(
        members,
        park["energy_tce_equivalent"].f(),
        "members' energy",
    );
    // and the tables' CO2 to the group's co2_t as the group counts it: coal
    // 2 186 960.255 + electricity bought 939 890.094816 (1 541 814 460 kWh ×
    // 0.6096 t/MWh) + gas 136 516.053854 − green power used 426 720 (7 × 10^8
    // kWh × 0.6096 t/MWh) = 2 836 646.40367 t; the wind and solar farms' power
    // supplied to others earns no credit (0 t each)
    let co2 = |table: &str| table_sum(&e, table, "co2_t");
    close(
        co2("by_energy"),
        2_836_646.403_67,
        "the group's CO2 by energy",
    );
    close(
        co2("top_enterprises"),
        2_836_646.403_67,
        "the group's CO2 by member",
    );
    close(
        park["co2_t"].f(),
        2_836_646.403_67,
        "group_indicators.co2_t",
    );
    let green_row = e["by_energy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "green_power_used")
        .unwrap();
    close(
        green_row["co2_t"].as_f64().unwrap(),
        -426_720.0,
        "green power used",
    );
    // an enterprise's table adds up to its co2_t the same way: the wind farm
    // supplies its power to others, which earns no credit (the region's
    // net-import rule credited it −1 423 803.9 t in this table before)
    let wind = explain_json_of(&p, "--enterprise", "91150622MA047ADGKT", 2025, "co2_t");
    let by_energy = table_sum(&wind, "by_energy", "co2_t");
    assert!(by_energy >= 0.0, "{wind:#}");
    assert!(
        (by_energy - wind["value"].as_f64().unwrap()).abs() < 1e-6,
        "{wind:#}"
    );
    // a column of another dataset is refused with the list of valid ones
    let bad = explain_of(&p, "--group", "ZCP-01", 2025, "co2_intensity", &[]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        stderr(&bad).contains("'co2_intensity' is not a numeric column of group_indicators"),
        "{}",
        stderr(&bad)
    );
    // a region or group the run does not have is a usage error (exit 2)
    // that says what to check
    for (flag, id) in [("--region", "999999"), ("--group", "NOPE")] {
        let out = explain_of(&p, flag, id, 2025, "co2_t", &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{id} has no row for 2025"))
                && stderr(&out).contains("check the"),
            "{}",
            stderr(&out)
        );
    }
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
        ("150622", 2025, "co2_net_t"),
        ("150622", 2023, "co2_process_t"),
        ("150622", 2025, "sink_t"),
        ("150622", 2025, "co2_peak_t"),
        ("150622", 2025, "co2_peak_year"),
        ("150622", 2025, "co2_years_below_peak"),
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
    // the budget rows behind process CO2 and sinks, with their factors:
    // 2023 clinker with its composition 0.652 × 44/56 + 0.021 × 44/40
    // = 0.5122857143 + 0.0231 = 0.5353857143 t/t; lime at the default 0.683
    let e = explain_json(&p, "150622", 2023, "co2_process_t");
    let rows = e["budget_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{e:#}");
    close(
        rows[0]["factor"].as_f64().unwrap(),
        0.652 * 44.0 / 56.0 + 0.021 * 44.0 / 40.0,
        "clinker factor",
    );
    assert_eq!(rows[0]["source_file"], "data/production.csv");
    assert_eq!(rows[1]["key"], "lime");
    assert_eq!(rows[1]["factor"], 0.683);
    assert_eq!(rows[1]["source_id"], "provincial-inventory-process");
    let sum: f64 = rows.iter().map(|r| r["amount_t"].as_f64().unwrap()).sum();
    close(sum, e["value"].as_f64().unwrap(), "process rows");
    // 2025 sinks: 305 000 m3 × 1.8748 = 571 814 and 123 000 t reported
    let e = explain_json(&p, "150622", 2025, "sink_t");
    let rows = e["budget_rows"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "forest");
    assert_eq!(rows[0]["amount_t"], 571_814.0);
    assert_eq!(rows[0]["source_id"], "forest-stock-defaults");
    assert_eq!(rows[1]["amount_t"], 123_000.0);
    assert_eq!(e["value"], 694_814.0);

    // the sample's sectors add up to the county's totals, every year
    for year in 2020..=2025 {
        let sectors = p.rows("region_sectors", year);
        let indicators = p.rows("region_indicators", year);
        let county = find(&indicators, &[("region_code", "150622")]);
        for column in [
            "energy_tce",
            "energy_tce_equivalent",
            "co2_t",
            "co2_process_t",
            "sink_t",
        ] {
            let sum: f64 = sectors
                .iter()
                .filter(|r| r["region_code"].s() == "150622")
                .map(|r| r[column].f())
                .sum();
            close(
                sum,
                county[column].f(),
                &format!("{year} sectors' {column}"),
            );
        }
    }

    // the contributions add up to the total, and name their factor rows
    let e = explain_json(&p, "150622", 2025, "co2_intensity");
    let co2: f64 = e["terms"][0]["value"].as_f64().unwrap();
    let sum = table_sum(&e, "by_energy", "co2_t");
    close(sum, co2, "contributions by energy");
    // their standard coal is at the valuation the county is judged on (equal
    // value in the sample): the energies add up to the published energy_tce
    let tce = table_sum(&e, "by_energy", "tce");
    let r2025 = p.rows("region_indicators", 2025);
    let county = find(&r2025, &[("region_code", "150622")]);
    close(tce, county["energy_tce"].f(), "tce by energy");
    let sectors = table_sum(&e, "by_sector", "co2_t");
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
    // cn-2026-12 (grid factors as cn-2025): 2025 uses the latest published year, 2023 (公告2025年第47号)
    assert_eq!(grid["value"], 0.6479);
    assert_eq!(grid["factor_year"], 2023);
    assert_eq!(grid["scope"], "provincial 150000");
    assert_eq!(grid["source_id"], "mee-nbs-2025-47");
    // the county's own net import uses its area's factor: Inner Mongolia's
    // provincial one (150622 is in the west, the North grid's province)
    let net = e["factors_used"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "grid CO2 factor of the region's net import")
        .unwrap();
    assert_eq!(net["value"], 0.6479);
    assert_eq!(net["scope"], "provincial 150000");
    assert_eq!(net["source_id"], "mee-nbs-2025-47");
    // the power plants' raw coal at 0.99 (2.0014 t/t) and everyone else's at
    // 0.94 (1.9003), each listed once
    let coal: Vec<&serde_json::Value> = e["factors_used"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["energy_code"] == "raw_coal")
        .collect();
    let kinds: Vec<(&str, f64)> = coal
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("standard coal coefficient (equivalent value)", 0.7143),
            ("combustion CO2 factor", 1.9003),
            (
                "combustion CO2 factor of GB/T 4754 sector 441 (oxidation 0.99)",
                2.0014
            ),
        ],
        "{coal:#?}"
    );
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
    // cn-2024 has no process factors: the budget inputs would all be rejected
    let config = std::fs::read_to_string(p.path("pipeline.yaml")).unwrap();
    let config: String = config
        .lines()
        .filter(|l| !l.starts_with("  production:") && !l.starts_with("  sinks:"))
        .map(|l| format!("{l}\n"))
        .collect();
    p.write("pipeline.yaml", &config);
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
    // every numeric column of region_indicators that moves: the grid factor
    // itself and the CO2 columns (co2_t, co2_net_t, co2_peak_t, the
    // intensity and its change rates), not energy
    assert!(
        impact.iter().all(|i| {
            let ind = i["indicator"].as_str().unwrap();
            ind.starts_with("co2") || ind.starts_with("grid_factor")
        }),
        "{impact:#?}"
    );
    for moved in ["co2_t", "co2_net_t", "co2_intensity", "grid_factor"] {
        assert!(
            impact.iter().any(|i| i["region_code"] == "150622"
                && i["year"] == 2023
                && i["indicator"] == moved),
            "{moved} not listed: {impact:#?}"
        );
    }
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
    // sample's arguments are checked, not clamped or written into its config
    let out = p.run(&["sample", "--provinces", "17", "--out", "s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("1..=16"), "{}", stderr(&out));
    let out = p.run(&[
        "sample",
        "--enterprises",
        "1",
        "--factors",
        "nowhere",
        "--out",
        "s",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nowhere: no factor set there"),
        "{}",
        stderr(&out)
    );
    assert!(!p.path("s").exists());
}

/// Every `href="…"` of a page that is not a URL or an anchor.
fn local_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| !h.contains("://") && !h.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_bulletin_is_published_rendered_again_and_its_links_resolve() {
    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let m = p.manifest();
    let pages: Vec<String> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["dataset"] == "bulletin")
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    // the run's pages live in bulletin/<F>/, F the fingerprint's 16 hex digits
    let f = &m["fingerprint"].as_str().unwrap()[..16];
    for page in [
        "bulletin/index.html".to_string(),
        format!("bulletin/{f}/index.html"),
        format!("bulletin/{f}/style.css"),
        format!("bulletin/{f}/regions/150622.html"),
        format!("bulletin/{f}/regions/150622103.html"),
        format!("bulletin/{f}/sql/50_indicators.sql"),
    ] {
        assert!(pages.contains(&page), "{page} not in {pages:?}");
    }
    // the entry page leads to them
    let entry = std::fs::read_to_string(p.path("out/bulletin/index.html")).unwrap();
    assert!(entry.contains(&format!("url={f}/index.html")), "{entry}");
    // the county page states the sample's 2025 numbers (region_indicators):
    // energy intensity −6.12 % and CO2 intensity −11.20 % on 2024 (cn-2026-12:
    // 0.502537 / 0.565918 t per 10^4 yuan − 1; power plants' coal at oxidation 0.99)
    let county =
        std::fs::read_to_string(p.path(&format!("out/bulletin/{f}/regions/150622.html"))).unwrap();
    assert!(
        county.contains(
            "单位地区生产总值能耗比上年下降6.12%，单位地区生产总值二氧化碳排放比上年下降11.20%"
        ),
        "{county}"
    );
    assert_eq!(
        county.matches("<svg").count(),
        4,
        "two intensity charts, the mix, the sectors"
    );
    // the mix's bars sum to energy_mix_tce, 4 193 848.22 tce (coal consumed
    // 3 477 338.20 + oil 394 372.59 + gas 78 065.65 + non-fossil 244 071.78);
    // energy_tce, 4 183 145.73, also deducts the 10 702.49 tce of heat the
    // county's plant sends out: 4 193 848.22 − 4 183 145.73 = 10 702.49
    assert!(
        county.contains(
            "<figcaption>煤炭和非化石能源占比以各品种合计419.38万吨标准煤为分母（煤炭替代法）；\
             能源消费总量418.31万吨标准煤另扣减了调出的热力（1.07万吨标准煤）。</figcaption>"
        ),
        "{county}"
    );
    // the target table in words and per cent. 2025 is the 14th plan's target
    // year: the county's controlled energy intensity fell 16.45 % since 2020
    // against 10 % (met); 薛家湾镇's fell 8.02 % against 12 % (1 − 0.1400 /
    // 0.1522 = 0.0802): not met, although 2025 alone fell 7.35 %, more than
    // the even annual 1 − 0.88^(1/5) = 2.52 %
    assert!(
        county.contains(
            "<td>14th-FYP</td><td>单位地区生产总值能耗降低</td><td class=\"n\">10.00%</td>\
             <td class=\"n\">16.45%</td><td class=\"n\">10.00%</td>\
             <td><span class=\"tile level-3\"></span> 已完成</td>"
        ),
        "{county}"
    );
    let town = std::fs::read_to_string(p.path(&format!("out/bulletin/{f}/regions/150622100.html")))
        .unwrap();
    assert!(
        town.contains(
            "<td>单位地区生产总值能耗降低</td><td class=\"n\">12.00%</td>\
             <td class=\"n\">8.02%</td><td class=\"n\">12.00%</td>\
             <td><span class=\"tile level-2\"></span> 未完成</td>"
        ),
        "{town}"
    );
    // the overview lists the groups in their latest year: the sample's park
    // fails both pilot criteria in 2025 (group_indicators: 1.154 t CO2 per
    // tce against ≤ 0.3; clean energy 7.7 % of consumption against ≥ 90 %)
    let index = std::fs::read_to_string(p.path(&format!("out/bulletin/{f}/index.html"))).unwrap();
    for shown in [
        "零碳园区",
        "1.154 <span class=\"check check-fail\">≤ 0.3 未达标</span>",
        "7.7 % <span class=\"check check-fail\">≥ 90.0 % 未达标</span>",
        // the groups' energy is at equivalent value (the base of t CO2 per
        // tce), and says so: the key units' 4 307 568 tce is more than the
        // county's 4 183 146 tce at equal value, less than its 4 855 415
        // at equivalent value (region_indicators 2025)
        "综合能耗（当量值，万吨标准煤）",
        "地区能源消费总量按等价值计",
    ] {
        assert!(index.contains(shown), "{shown} not in {index}");
    }
    // rendered again from the manifest: the same bytes
    let out = p.run(&[
        "--quiet",
        "report",
        "--manifest",
        "out/manifest.json",
        "--out",
        "again",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let prefix = format!("bulletin/{f}/");
    for page in pages.iter().filter(|x| x.starts_with(&prefix)) {
        let rel = page.strip_prefix(&prefix).unwrap();
        assert_eq!(
            std::fs::read(p.path(&format!("out/{page}"))).unwrap(),
            std::fs::read(p.path(&format!("again/{rel}"))).unwrap(),
            "{page}"
        );
    }
    // every local link of every page resolves
    for page in pages.iter().filter(|x| x.ends_with(".html")) {
        let path = p.path(&format!("out/{page}"));
        let html = std::fs::read_to_string(&path).unwrap();
        for link in local_links(&html) {
            let target = path.parent().unwrap().join(&link);
            assert!(target.exists(), "{page}: {link} does not resolve");
        }
    }
    // in English, on request
    let out = p.run(&[
        "--quiet",
        "report",
        "--manifest",
        "out/manifest.json",
        "--out",
        "en",
        "--language",
        "en",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index = std::fs::read_to_string(p.path("en/index.html")).unwrap();
    assert!(index.contains("Energy and carbon bulletin"), "{index}");
    // a bureau's own templates replace the built-in ones file by file; a
    // directory that is not there is refused, not silently ignored
    p.write("own/style.css", "/* the bureau's own style */\n");
    let render = |dir: &str, out: &str| {
        p.run(&[
            "--quiet",
            "report",
            "--manifest",
            "out/manifest.json",
            "--out",
            out,
            "--template-dir",
            dir,
        ])
    };
    let out = render("own", "styled");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(p.path("styled/style.css")).unwrap(),
        "/* the bureau's own style */\n"
    );
    let out = render("nowhere", "unstyled");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("template directory '")
            && stderr(&out).contains("nowhere' is not a directory"),
        "{}",
        stderr(&out)
    );
    // a page no run names is removed by the next run
    p.write(&format!("out/bulletin/{f}/regions/999999.html"), "stale");
    let out = p.run(&["--quiet", "run", "--config", "pipeline.yaml", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !p.path(&format!("out/bulletin/{f}/regions/999999.html"))
            .exists()
    );
}

/// `explain` answers from what the run published with the explanation it
/// gives when it computes the run again and sums the single records: compared as JSON
/// (every f64 bit for bit) for every explainable indicator of the county in
/// 2025, and for every region and year (an intensity: its contributions,
/// factor rows and GDP chain; co2_net_t in 2023 and 2025: the production
/// and sinks rows); every enterprise in 2025, every group in every year, and
/// every column of the zero-carbon park in 2025.
#[test]
fn explain_from_published_equals_the_recomputed_explanation() {
    use carbonstat::audit::{
        PublishedTables, Subject, config_from_manifest, explain, explain_published,
        explain_subject, explain_subject_published, open_published,
    };
    use carbonstat::pipeline::{RunOptions, compute, load_all, load_factors, work_dir};

    let p = sample("");
    assert!(p.run_pipeline().status.success());
    let indicators: Vec<String> = p
        .rows("region_indicators", 2025)
        .first()
        .unwrap()
        .keys()
        .filter(|c| carbonstat::audit::indicator_column(c).is_ok())
        .cloned()
        .collect();
    assert!(indicators.len() > 40, "{indicators:?}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let out = p.path("out");
        let published = open_published(out.to_str().unwrap(), &Default::default())
            .await
            .unwrap();
        let cfg = config_from_manifest(&published.manifest, None).unwrap();
        let work = work_dir(&cfg).unwrap();
        let (factors, inputs) = load_all(&cfg, work.path()).await.unwrap();
        let opts = RunOptions {
            keep_records: true,
            ..RunOptions::default()
        };
        let computed = compute(&cfg, factors, inputs, &opts).await.unwrap();
        let mut compared = 0;
        for year in 2020..=2025 {
            let regions: Vec<String> = p
                .rows("region_indicators", year)
                .iter()
                .map(|r| r["region_code"].s().to_string())
                .collect();
            assert!(regions.len() > 5, "{year}: {regions:?}");
            for region in &regions {
                // the sections but the formula do not depend on the indicator
                let asked: Vec<&str> = match (region.as_str(), year) {
                    ("150622", 2025) => indicators.iter().map(String::as_str).collect(),
                    (_, 2023 | 2025) => vec!["co2_intensity", "co2_net_t"],
                    _ => vec!["co2_intensity"],
                };
                let tables = PublishedTables::for_region_year(
                    &published,
                    &cfg,
                    load_factors(&cfg, work.path()).await.unwrap(),
                    region,
                    year,
                )
                .await
                .unwrap();
                for indicator in asked {
                    let from_run = explain(&computed, region, year, indicator, None)
                        .await
                        .unwrap();
                    let from_files = explain_published(&tables, region, year, indicator, None)
                        .await
                        .unwrap();
                    assert_eq!(
                        serde_json::to_string_pretty(&from_files).unwrap(),
                        serde_json::to_string_pretty(&from_run).unwrap(),
                        "{region} {year} {indicator}"
                    );
                    compared += 1;
                }
            }
        }
        // the county's every indicator, and every region in every year
        assert!(compared > 40 + 6 * 5, "{compared}");

        // enterprises and groups: every enterprise in 2025, every group in
        // every year, and every column of the zero-carbon park in 2025
        let mut compared = 0;
        for year in 2020..=2025 {
            let mut asked: Vec<(Subject, String, String)> = Vec::new();
            for g in p.rows("group_indicators", year) {
                let id = g["group_id"].s().to_string();
                if id == "ZCP-01" && year == 2025 {
                    for c in g.keys() {
                        if carbonstat::audit::subject_column(Subject::Group, c).is_ok() {
                            asked.push((Subject::Group, id.clone(), c.clone()));
                        }
                    }
                } else {
                    asked.push((Subject::Group, id, "co2_per_tce".into()));
                }
            }
            if year == 2025 {
                for e in p.rows("enterprise_totals", year) {
                    let id = e["enterprise_id"].s().to_string();
                    asked.push((Subject::Enterprise, id, "co2_t".into()));
                }
            }
            for (subject, id, indicator) in asked {
                let tables = PublishedTables::for_subject_year(
                    &published,
                    &cfg,
                    load_factors(&cfg, work.path()).await.unwrap(),
                    subject,
                    &id,
                    year,
                )
                .await
                .unwrap();
                let from_run = explain_subject(&computed, subject, &id, year, &indicator, None)
                    .await
                    .unwrap();
                let from_files =
                    explain_subject_published(&tables, subject, &id, year, &indicator, None)
                        .await
                        .unwrap();
                assert_eq!(
                    serde_json::to_string_pretty(&from_files).unwrap(),
                    serde_json::to_string_pretty(&from_run).unwrap(),
                    "{subject:?} {id} {year} {indicator}"
                );
                compared += 1;
            }
        }
        assert!(compared > 20 + 6, "{compared}");
    });

    // the command reads the published run, and --recompute gives the same text
    let args = |recompute: bool| {
        let mut a = vec![
            "--quiet",
            "explain",
            "--manifest",
            "out",
            "--region",
            "150000",
            "--year",
            "2024",
            "--indicator",
            "co2_net_t",
        ];
        if recompute {
            a.push("--recompute");
        }
        p.run(&a)
    };
    let (read, recomputed) = (args(false), args(true));
    assert!(read.status.success(), "{}", stderr(&read));
    assert!(recomputed.status.success(), "{}", stderr(&recomputed));
    assert_eq!(stdout(&read), stdout(&recomputed));
    assert!(
        stdout(&read).contains("production and sinks rows"),
        "{}",
        stdout(&read)
    );

    // a run published before the explain datasets is computed again, and says so
    let manifest = p.path("out/manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["sql_steps"]
        .as_array_mut()
        .unwrap()
        .retain(|s| !s["name"].as_str().unwrap().ends_with("55_explain.sql"));
    std::fs::write(&manifest, serde_json::to_string(&m).unwrap()).unwrap();
    let old = p.run(&[
        "explain",
        "--manifest",
        "out",
        "--region",
        "150000",
        "--year",
        "2024",
        "--indicator",
        "co2_net_t",
    ]);
    assert!(old.status.success(), "{}", stderr(&old));
    assert_eq!(stdout(&old), stdout(&read));
    assert!(
        stderr(&old).contains("without the datasets explain reads"),
        "{}",
        stderr(&old)
    );
}
