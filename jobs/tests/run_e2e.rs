//! One end-to-end run of the binary on a tiny region whose indicators are
//! worked out here by hand, plus re-run behaviour (identical bytes, no stale
//! partitions).

mod common;

use common::*;

/// Regions: province 150000 > county 150622 > town 150622100.
/// Records (annual):
///   E1 power plant in the town (D4411, division 44):
///      2020 raw coal 1 ×10^4 t, electricity output 2 000 MWh
///      2021 raw coal 11 000 t,  electricity output 2 000 MWh
///   E2 chemical plant in the county (C2614, division 26), both years:
///      raw coal 1 000 t as feedstock (原料), natural gas 10 ×10^4 m3
///   E3 wind farm in the town (D4415), both years: wind power 1 000 MWh, electricity output 1 000 MWh
///   households (sector_energy, HH): electricity 500 MWh in 2020, 600 MWh in 2021
/// GDP of the county: 10 (10^8 yuan) in 2020, real index 105 in 2021.
fn tiny_region() -> Project {
    let p = Project::new();
    let (e1, e2, e3) = (uscc(1), uscc(2), uscc(3));
    p.write(
        "regions.csv",
        "region_code,name,parent_code,level\n150000,内蒙古自治区,,province\n150622,准格尔旗,150000,county\n150622100,薛家湾镇,150622,town\n",
    )
    .write("gdp.csv", "region_code,year,gdp,gdp_index\n150622,2020,10,\n150622,2021,11.2,105\n")
    .write(
        "energy.csv",
        &format!(
            "enterprise_id,enterprise_name,region_code,sector_code,year,month,energy_code,use,flow,quantity,unit\n\
             {e1},电厂,150622100,D4411,2020,,原煤,,,1,万吨\n\
             {e1},电厂,150622100,D4411,2020,,electricity,fuel,output,2000,MWh\n\
             {e1},电厂,150622100,D4411,2021,,raw_coal,fuel,consumption,11000,t\n\
             {e1},电厂,150622100,D4411,2021,,电力,燃料,输出,200,万千瓦时\n\
             {e2},化工,150622,C2614,2020,,raw_coal,feedstock,consumption,1000,t\n\
             {e2},化工,150622,C2614,2020,,天然气,燃料,消费,10,万立方米\n\
             {e2},化工,150622,C2614,2021,,raw_coal,原料,consumption,1000,吨\n\
             {e2},化工,150622,C2614,2021,,natural_gas,fuel,consumption,100000,m3\n\
             {e3},风电,150622100,D4415,2020,,wind_power,fuel,consumption,1000,MWh\n\
             {e3},风电,150622100,D4415,2020,,electricity,fuel,output,1000,MWh\n\
             {e3},风电,150622100,D4415,2021,,风电,fuel,consumption,100,万千瓦时\n\
             {e3},风电,150622100,D4415,2021,,electricity,fuel,output,1,GWh\n"
        ),
    )
    .write(
        "sector_energy.csv",
        "region_code,sector_code,year,energy_code,use,flow,quantity,unit\n\
         150622,HH,2020,electricity,fuel,consumption,500,MWh\n\
         150622,HH,2021,electricity,fuel,consumption,60,万千瓦时\n",
    )
    .write(
        "targets.csv",
        "region_code,plan,base_year,target_year,indicator,value\n\
         150622,14th-FYP,2020,2025,energy_intensity_reduction,0.10\n\
         150622,14th-FYP,2020,2025,coal_share_max,0.85\n",
    )
    .config("");
    p
}

#[test]
fn tiny_region_indicators_match_hand_computation() {
    // judged at equivalent value (the regional total at equal value is
    // published beside it, and the shares always use coal substitution)
    let p = tiny_region();
    p.config("electricity_valuation: equivalent\n");
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));

    // --- 2020, county 150622 ------------------------------------------------
    // raw coal 10 000 t × 0.7143 = 7 143 tce; × 1.9003 = 19 003 t CO2
    // electricity out 2 000 MWh = 2 000 000 kWh × 0.0001229 = −245.8 tce;
    //   grid: Inner Mongolia provincial, 2020 is older than every factor year
    //   (2021, 2022) → the earliest, 2021: 0.7025 → −2 000 × 0.7025 = −1 405 t
    // feedstock coal 1 000 t × 0.7143 = 714.3 tce, no CO2
    // natural gas 100 000 m3 × 0.00133 = 133 tce; × 0.0021622 = 216.22 t
    // wind 1 000 MWh in (+122.9 tce) and out (−122.9 tce, −702.5 t)
    // households 500 MWh: +61.45 tce, +351.25 t
    let energy_2020 = 7143.0 - 245.8 + 714.3 + 133.0 + 122.9 - 122.9 + 61.45; // 7 805.95
    // electricity: bought 500 000 kWh, supplied 3 000 000 (plant and farm): a net
    // export of 2 500 000 kWh carrying the supply's mix, of which wind
    // 1 000 000 / 3 000 000: 833 333.33 kWh of the wind left, 166 666.67 stayed
    //   × 0.0001229 = 20.483333 tce (the controlled scope deducts only that)
    let nf_consumed_2020 = 20.483333;
    let controlled_2020 = energy_2020 - 714.3 - nf_consumed_2020; // 7 071.166667
    // at equal value (2020 coal rate 0.3049 kgce/kWh) the county's total is
    // 7 143 − 2 000 000 × 0.0003049 + 714.3 + 133 + 152.45 = 7 532.95
    let energy_equal_2020 = 7143.0 - 609.8 + 714.3 + 133.0 + 152.45;
    let co2_direct_2020 = 19003.0 + 216.22;
    let co2_indirect_2020 = -1405.0 - 702.5 + 351.25;
    let co2_2020 = co2_direct_2020 + co2_indirect_2020; // 17 462.97
    let gdp_const_2020 = 10.0; // 10^8 yuan = 100 000 × 10^4 yuan
    let ei_2020 = energy_2020 / (gdp_const_2020 * 1e4); // 0.0780595
    let eic_2020 = controlled_2020 / (gdp_const_2020 * 1e4); // 0.0707117
    let ci_2020 = co2_2020 / (gdp_const_2020 * 1e4); // 0.1746297

    let r2020 = p.rows("region_indicators", 2020);
    let county = find(&r2020, &[("region_code", "150622")]);
    close(
        county["energy_tce_equivalent"].f(),
        energy_2020,
        "energy_tce_equivalent 2020",
    );
    close(
        county["energy_tce"].f(),
        energy_equal_2020,
        "energy_tce 2020",
    );
    close(
        county["energy_tce_controlled"].f(),
        controlled_2020,
        "controlled 2020",
    );
    close(county["feedstock_tce"].f(), 714.3, "feedstock 2020");
    // non_fossil_tce by coal substitution: 166 666.67 kWh × 0.0003049
    close(county["non_fossil_tce"].f(), 50.816667, "non-fossil 2020");
    close(
        county["electricity_net_import_kwh"].f(),
        -2_500_000.0,
        "net export 2020",
    );
    close(
        county["co2_direct_t"].f(),
        co2_direct_2020,
        "co2 direct 2020",
    );
    close(
        county["co2_indirect_t"].f(),
        co2_indirect_2020,
        "co2 indirect 2020",
    );
    close(county["co2_t"].f(), co2_2020, "co2 2020");
    close(county["gdp_const"].f(), 10.0, "gdp_const 2020");
    close(county["energy_intensity"].f(), ei_2020, "EI 2020");
    close(
        county["energy_intensity_controlled"].f(),
        eic_2020,
        "EIC 2020",
    );
    close(county["co2_intensity"].f(), ci_2020, "CI 2020");
    assert_eq!(
        county["energy_intensity_change_yoy"],
        Value::Null,
        "no 2019"
    );
    close(
        county["energy_intensity_change_base"].f(),
        0.0,
        "base year vs itself",
    );
    // mix (coal substitution): the fossil part of the export, 2 500 000 −
    // 833 333.33 = 1 666 666.67 kWh × 0.0003049 = 508.166667 tce, leaves the
    // coal: 7 857.3 − 508.166667 = 7 349.133333; + gas 133 + non-fossil
    // 50.816667 = 7 532.95 (the equal-value total)
    let mix = 7349.133333 + 133.0 + 50.816667;
    close(county["energy_mix_tce"].f(), mix, "mix 2020");
    close(
        county["coal_share"].f(),
        7349.133333 / mix,
        "coal share 2020",
    );
    close(
        county["non_fossil_share"].f(),
        50.816667 / mix,
        "non-fossil share 2020",
    );
    // divisions 44 (E1, E3) and 26 (E2) are energy-intensive; households are not
    close(
        county["high_energy_share"].f(),
        (energy_2020 - 61.45) / energy_2020,
        "high-energy share",
    );
    assert_eq!(county["enterprises"].i(), 3);
    assert_eq!(county["records"].i(), 7);
    assert_eq!(county["factor_set"].s(), "cn-2024");

    // the town has E1 and E3 only; the province equals the county
    let town = find(&r2020, &[("region_code", "150622100")]);
    close(
        town["energy_tce_equivalent"].f(),
        7143.0 - 245.8,
        "town energy 2020",
    );
    assert_eq!(town["gdp_const"], Value::Null, "no GDP for the town");
    assert_eq!(town["energy_intensity"], Value::Null);
    let province = find(&r2020, &[("region_code", "150000")]);
    close(
        province["energy_tce_equivalent"].f(),
        energy_2020,
        "province = county",
    );

    // --- 2021 -----------------------------------------------------------------
    // raw coal 11 000 t: 7 857.3 tce, 20 903.3 t; output 200 ×10^4 kWh = 2 000 MWh
    // again (−245.8 tce, 2021 factor 0.7025: −1 405 t); wind 100 ×10^4 kWh = 1 GWh
    // nets to 0 tce, −702.5 t; households 60 ×10^4 kWh = 600 MWh: 73.74 tce, 421.5 t
    let energy_2021 = 7857.3 - 245.8 + 714.3 + 133.0 + 122.9 - 122.9 + 73.74; // 8 532.54
    // bought 600 000 kWh, supplied 3 000 000: 2 400 000 exported, of the wind
    // 2 400 000 × 1/3 = 800 000 kWh left, 200 000 stayed × 0.0001229 = 24.58 tce
    let controlled_2021 = energy_2021 - 714.3 - 24.58; // 7 793.66
    let co2_2021 = 20903.3 + 216.22 - 1405.0 - 702.5 + 421.5; // 19 433.52
    let gdp_const_2021 = 10.0 * 105.0 / 100.0; // 10.5, not the current-price 11.2
    let ei_2021 = energy_2021 / (gdp_const_2021 * 1e4); // 0.081262…
    let eic_2021 = controlled_2021 / (gdp_const_2021 * 1e4); // 0.073289…
    let ci_2021 = co2_2021 / (gdp_const_2021 * 1e4); // 0.185081…
    let r2021 = p.rows("region_indicators", 2021);
    let county = find(&r2021, &[("region_code", "150622")]);
    close(
        county["energy_tce_equivalent"].f(),
        energy_2021,
        "energy 2021",
    );
    close(county["co2_t"].f(), co2_2021, "co2 2021");
    close(county["gdp"].f(), 11.2, "current-price gdp as input");
    close(county["gdp_const"].f(), gdp_const_2021, "gdp_const 2021");
    close(county["energy_intensity"].f(), ei_2021, "EI 2021");
    // NBS: round to 4 decimals first: 0.0813 / 0.0781 − 1
    close(
        county["energy_intensity_change_yoy"].f(),
        0.0813 / 0.0781 - 1.0,
        "EI yoy",
    );
    close(
        county["energy_intensity_controlled_change_yoy"].f(),
        0.0742 / 0.0707 - 1.0,
        "EIC yoy",
    );
    close(
        county["co2_intensity_change_yoy"].f(),
        0.1851 / 0.1746 - 1.0,
        "CI yoy",
    );
    close(
        county["energy_intensity_change_base"].f(),
        0.0813 / 0.0781 - 1.0,
        "EI vs base",
    );
    assert!(
        (ei_2021 - 0.0813).abs() < 5e-5
            && (eic_2021 - 0.0742).abs() < 5e-5
            && (ci_2021 - 0.1851).abs() < 5e-5
    );

    // --- targets --------------------------------------------------------------
    // energy_intensity_reduction 10 % 2020→2025, judged on the controlled intensity:
    // achieved = 1 − 0.0742 / 0.0707 (it rose), required = 1 − 0.9^(1/5)
    let tp = p.rows("target_progress", 2021);
    let ei = find(&tp, &[("indicator", "energy_intensity_reduction")]);
    close(ei["achieved"].f(), 1.0 - 0.0742 / 0.0707, "achieved");
    close(
        ei["required"].f(),
        1.0 - 0.9f64.powf(1.0 / 5.0),
        "required pace",
    );
    assert_eq!(ei["warning_level"].i(), 1, "intensity rose: red");
    assert_eq!(ei["status"].s(), "red");
    let coal = find(&tp, &[("indicator", "coal_share_max")]);
    // coal share 2021 (coal substitution, 2021 rate 0.3025): the fossil part of
    // the 2 400 000 kWh export, 1 600 000 kWh × 0.0003025 = 484 tce, leaves
    // 8 571.6 − 484 = 8 087.6 of coal; non-fossil 200 000 × 0.0003025 = 60.5:
    // 8 087.6 / (8 087.6 + 133 + 60.5) > 0.85
    close(
        coal["achieved"].f(),
        8087.6 / (8087.6 + 133.0 + 60.5),
        "coal share 2021",
    );
    assert_eq!(coal["status"].s(), "not_met");
    assert_eq!(coal["warning_level"].i(), 1);

    // --- enterprise_annual keeps consumption and output apart -----------------
    let ea = p.rows("enterprise_annual", 2020);
    let e1 = uscc(1);
    let coal_in = find(&ea, &[("enterprise_id", &e1), ("energy_code", "raw_coal")]);
    close(coal_in["quantity_base"].f(), 10000.0, "10^4 t → t");
    close(coal_in["tce"].f(), 7143.0, "10 000 t × 0.7143");
    close(coal_in["co2_direct_t"].f(), 19003.0, "10 000 t × 1.9003");
    let power_out = find(
        &ea,
        &[("enterprise_id", &e1), ("energy_code", "electricity")],
    );
    assert_eq!(power_out["flow"].s(), "output");
    close(power_out["quantity_base"].f(), 2_000_000.0, "MWh → kWh");
    close(power_out["tce"].f(), -245.8, "output deducted");
    close(
        power_out["co2_indirect_t"].f(),
        -1405.0,
        "output × grid factor",
    );
    assert_eq!(
        power_out["factor_year"].i(),
        2021,
        "earliest factor year for 2020"
    );
    assert_eq!(power_out["indirect_factor_scope"].s(), "provincial");
    let feed = find(&ea, &[("enterprise_id", &uscc(2)), ("use", "feedstock")]);
    close(feed["tce"].f(), 714.3, "feedstock counted in energy");
    close(feed["co2_direct_t"].f(), 0.0, "feedstock is not burnt");

    // --- manifest -----------------------------------------------------------------
    let m = p.manifest();
    assert_eq!(m["factor_set"]["id"], "cn-2024");
    let energy = p.input_total("energy");
    assert_eq!(energy["rows_read"], 12);
    assert_eq!(energy["rows_accepted"], 12);
    assert_eq!(energy["rows_rejected"], 0);
    assert!(m["inputs"][0]["sha256"].as_str().unwrap().len() == 64);
    let summary = stdout(&out);
    assert!(
        summary.contains("150622") && summary.contains("1 red"),
        "{summary}"
    );
}

#[test]
fn equal_value_and_national_factor_options() {
    let p = tiny_region();
    p.config("electricity_valuation: equal\nelectricity_factor: national\n");
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let ea = p.rows("enterprise_annual", 2021);
    let out_2021 = find(
        &ea,
        &[("enterprise_id", &uscc(1)), ("energy_code", "electricity")],
    );
    // tce stays at equivalent value: 2 000 000 kWh × 0.0001229 = 245.8 tce;
    // tce_equal: 2021 coal rate 0.3025 kgce/kWh → 2 000 000 kWh × 0.0003025 = 605 tce
    close(out_2021["tce"].f(), -245.8, "equivalent-value electricity");
    close(out_2021["tce_equal"].f(), -605.0, "equal-value electricity");
    assert_eq!(out_2021["tce_factor_year"].i(), 2021);
    // national 2021 factor 0.5568 t/MWh: −2 000 × 0.5568
    close(
        out_2021["co2_indirect_t"].f(),
        -1113.6,
        "national grid factor",
    );
    assert_eq!(out_2021["indirect_factor_scope"].s(), "national");
    // a wind farm still nets to zero: 1 000 000 kWh × 0.0003025 in and out
    let wind = find(
        &ea,
        &[("enterprise_id", &uscc(3)), ("energy_code", "wind_power")],
    );
    close(
        wind["tce_equal"].f(),
        302.5,
        "primary electricity at equal value",
    );
}

#[test]
fn rerun_is_byte_identical_and_replaces_stale_partitions() {
    let p = tiny_region();
    assert!(p.run_pipeline().status.success());
    let first = p.manifest();
    // nothing changed: a no-op that says so
    let again = p.run_pipeline();
    assert!(again.status.success());
    assert!(
        stdout(&again).starts_with("up to date:"),
        "{}",
        stdout(&again)
    );
    assert_eq!(p.manifest(), first, "an up-to-date run publishes nothing");
    // --force recomputes: the same bytes under the same names
    let forced = p.run(&["--quiet", "run", "--config", "pipeline.yaml", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let second = p.manifest();
    assert_ne!(first["run_id"], second["run_id"]);
    assert_eq!(
        first["outputs"], second["outputs"],
        "same inputs, same bytes"
    );
    assert_eq!(first["fingerprint"], second["fingerprint"]);

    // drop 2021 from every input: its partitions must disappear, not linger
    let keep_2020 = |f: &str| {
        let text = std::fs::read_to_string(p.path(f)).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(",2021,")).collect();
        p.write(f, &(kept.join("\n") + "\n"));
    };
    keep_2020("energy.csv");
    keep_2020("sector_energy.csv");
    keep_2020("gdp.csv");
    assert!(p.run_pipeline().status.success());
    for d in ["region_indicators", "enterprise_annual"] {
        p.partition_file(d, 2020); // exactly one file: the old run's is gone
        assert!(
            !p.path(&format!("out/reports/{d}/year=2021")).exists(),
            "{d} 2021 is stale"
        );
    }
    assert!(
        !p.path("out/_staging").exists()
            || std::fs::read_dir(p.path("out/_staging"))
                .unwrap()
                .next()
                .is_none()
    );
    let third = p.manifest();
    assert!(
        third["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| !o["path"].as_str().unwrap().contains("2021"))
    );
}

/// The same records as Parquet (typed columns, as another tool would write
/// them) give the same indicators as the CSV.
#[test]
fn parquet_input_gives_the_same_numbers_as_csv() {
    use carbonstat::datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, StringArray};
    use carbonstat::datafusion::arrow::record_batch::RecordBatch;
    use carbonstat::datafusion::parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    let csv = tiny_region();
    assert!(csv.run_pipeline().status.success());

    let pq = tiny_region();
    let text = std::fs::read_to_string(pq.path("energy.csv")).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let col = |i: usize| -> Vec<Option<String>> {
        rows.iter()
            .map(|r| Some(r[i].clone()).filter(|s| !s.is_empty()))
            .collect()
    };
    let text_col = |i: usize| Arc::new(StringArray::from(col(i))) as ArrayRef;
    let batch = RecordBatch::try_from_iter(vec![
        ("enterprise_id", text_col(0)),
        ("enterprise_name", text_col(1)),
        ("region_code", text_col(2)),
        ("sector_code", text_col(3)),
        (
            "year",
            Arc::new(Int32Array::from(
                col(4)
                    .iter()
                    .map(|v| v.as_ref().map(|s| s.parse::<i32>().unwrap()))
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("energy_code", text_col(6)),
        ("use", text_col(7)),
        ("flow", text_col(8)),
        (
            "quantity",
            Arc::new(Float64Array::from(
                col(9)
                    .iter()
                    .map(|v| v.as_ref().map(|s| s.parse::<f64>().unwrap()))
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("unit", text_col(10)),
    ])
    .unwrap();
    let file = std::fs::File::create(pq.path("energy.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::remove_file(pq.path("energy.csv")).unwrap();
    let yaml = std::fs::read_to_string(pq.path("pipeline.yaml")).unwrap();
    pq.write(
        "pipeline.yaml",
        &yaml.replace("energy: energy.csv", "energy: energy.parquet"),
    );
    let out = pq.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));

    for year in [2020, 2021] {
        let a = csv.rows("region_indicators", year);
        let b = pq.rows("region_indicators", year);
        assert_eq!(a, b, "region_indicators {year}");
    }
    let m = pq.manifest();
    let input = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"] == "energy")
        .unwrap();
    assert_eq!(input["format"], "parquet");
    assert_eq!(input["rows_read"], 12);
}

/// Sums are fixed-point, rows are totally ordered: the number of partitions
/// does not change a byte of the sample's outputs.
#[test]
fn outputs_do_not_depend_on_parallelism() {
    let mut hashes = Vec::new();
    for partitions in [1, 7] {
        let p = Project::new();
        let config = sample_config("out").replace(
            "  memory_limit: 2GiB",
            &format!("  memory_limit: 2GiB\n  target_partitions: {partitions}"),
        );
        p.write("pipeline.yaml", &config);
        let out = p.run_pipeline();
        assert!(out.status.success(), "{}", stderr(&out));
        hashes.push(p.manifest()["outputs"].clone());
    }
    assert_eq!(hashes[0], hashes[1]);
}
