//! Every reject rule on a row built to break it, the quality gate (exit 3),
//! and file-level errors (exit 2) with messages that name the file and the fix.

mod common;

use common::*;

const REGIONS: &str = "region_code,name,parent_code,level\n\
150000,内蒙古自治区,,province\n\
150622,准格尔旗,150000,county\n\
150622100,薛家湾镇,150622,town\n";

fn project_with_energy(energy_rows: &str) -> Project {
    let p = Project::new();
    p.write("regions.csv", REGIONS)
        .write("gdp.csv", "region_code,year,gdp,gdp_index\n150622,2020,10,\n")
        .write(
            "energy.csv",
            &format!(
                "enterprise_id,enterprise_name,region_code,sector_code,year,month,energy_code,use,flow,quantity,unit\n{energy_rows}"
            ),
        )
        .config("quality:\n  max_reject_ratio: 1.0\n");
    p
}

/// A county with a 2020 raw-coal record of its own enterprise (`uscc(7)`),
/// its GDP, and the production and sinks files given, on the cn-2026-12
/// factor set (its process and sink factors).
fn project_with_budget(production: &str, sinks: &str, quality: &str) -> Project {
    let factors = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../factors/cn-2026-12")
        .canonicalize()
        .unwrap();
    let p = Project::new();
    p.write("regions.csv", REGIONS)
        .write("gdp.csv", "region_code,year,gdp,gdp_index\n150622,2020,10,\n")
        .write(
            "energy.csv",
            &format!(
                "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n{},150622,C3011,2020,raw_coal,100,t\n",
                uscc(7)
            ),
        )
        .write("production.csv", production)
        .write("sinks.csv", sinks)
        .write(
            "pipeline.yaml",
            &format!(
                "inputs:\n  energy: energy.csv\n  gdp: gdp.csv\n  regions: regions.csv\n  production: production.csv\n  sinks: sinks.csv\nfactors: {}\noutput: out\nbase_year: 2020\n{quality}",
                factors.display()
            ),
        );
    p
}

#[test]
fn every_energy_rule_rejects_its_row() {
    let ok = uscc(7);
    let bad_check = {
        let mut s = ok.clone();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        s
    };
    // line numbers: the header is line 1
    let rows = [
        /* 2 */ format!("{ok},A,150622,C3011,2020,1,raw_coal,fuel,consumption,100,t"),
        /* 3 */ format!("{ok},A,150622,C3011,2020,2,raw_coal,fuel,consumption,100"),
        /* 4 */ ",A,150622,C3011,2020,3,raw_coal,fuel,consumption,100,t".to_string(),
        /* 5 */ format!("{bad_check},A,150622,C3011,2020,4,raw_coal,fuel,consumption,100,t"),
        /* 6 */ format!("{ok},A,150699,C3011,2020,5,raw_coal,fuel,consumption,100,t"),
        /* 7 */ format!("{ok},A,150622,C30X1,2020,6,raw_coal,fuel,consumption,100,t"),
        /* 8 */ format!("{ok},A,150622,C3011,20x0,7,raw_coal,fuel,consumption,100,t"),
        /* 9 */ format!("{ok},A,150622,C3011,2020,13,raw_coal,fuel,consumption,100,t"),
        /* 10 */ format!("{ok},A,150622,C3011,2020,8,peat,fuel,consumption,100,t"),
        /* 11 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,burn,consumption,100,t"),
        /* 12 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,import,100,t"),
        /* 13 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,consumption,100,barrel"),
        /* 14 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,consumption,100,kWh"),
        /* 15 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,consumption,lots,t"),
        /* 16 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,consumption,NaN,t"),
        /* 17 */ format!("{ok},A,150622,C3011,2020,8,raw_coal,fuel,consumption,-5,t"),
        /* 18 */
        format!("{ok},A,150622,C3011,2020,8,electricity,feedstock,consumption,5,kWh"),
        /* 19 */ format!("{ok},A,150622,C3011,2020,1,原煤,燃料,消费,100,吨"),
        /* 20 */ format!("{ok},A,150622,C3011,2020,,raw_coal,fuel,consumption,1200,t"),
        /* 21 */ format!("{ok},A,150622,C3011,2020,9,raw_coal,fuel,consumption,inf,t"),
        // 10^12 × 10^4 t = 10^16 t: more than 10^15 t
        /* 22 */
        format!("{ok},A,150622,C3011,2020,10,raw_coal,fuel,consumption,1e12,万吨"),
        // a decimal comma: not 5 t (the commas were once dropped)
        /* 23 */
        format!("{ok},A,150622,C3011,2020,11,raw_coal,fuel,consumption,\"0,5\",t"),
    ];
    let p = project_with_energy(&(rows.join("\n") + "\n"));
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let rejects = p.all_rejects();
    let rule_of = |line: i64| -> (String, String, String) {
        let r = rejects
            .iter()
            .find(|r| r["source_line"].i() == line)
            .unwrap_or_else(|| panic!("line {line} was not rejected: {rejects:#?}"));
        assert_eq!(r["source_file"].s(), "energy.csv");
        assert_eq!(r["input"].s(), "energy");
        (
            r["rule_id"].s().to_string(),
            r["column_name"].s().to_string(),
            r["message"].s().to_string(),
        )
    };
    let expect = [
        (3, "malformed_row", ""),
        (4, "missing_value", "enterprise_id"),
        (5, "uscc_invalid", "enterprise_id"),
        (6, "region_unknown", "region_code"),
        (7, "sector_invalid", "sector_code"),
        (8, "period_invalid", "year"),
        (9, "period_invalid", "month"),
        (10, "energy_unknown", "energy_code"),
        (11, "vocabulary_invalid", "use"),
        (12, "vocabulary_invalid", "flow"),
        (13, "unit_invalid", "unit"),
        (14, "unit_invalid", "unit"),
        (15, "quantity_invalid", "quantity"),
        (16, "quantity_invalid", "quantity"),
        (17, "quantity_negative", "quantity"),
        (18, "feedstock_invalid", "use"),
        (19, "duplicate_key", ""),
        (20, "period_overlap", "month"),
        (21, "quantity_invalid", "quantity"),
        (22, "quantity_invalid", "quantity"),
        (23, "quantity_invalid", "quantity"),
    ];
    for (line, rule, column) in expect {
        let (r, c, m) = rule_of(line);
        assert_eq!((r.as_str(), c.as_str()), (rule, column), "line {line}: {m}");
        assert!(!m.is_empty());
    }
    // messages say what is wrong and what to do
    assert!(
        rule_of(3).2.contains("10 fields but the header has 11"),
        "{}",
        rule_of(3).2
    );
    assert!(rule_of(5).2.contains("check character"), "{}", rule_of(5).2);
    assert!(
        rule_of(14).2.contains("measures electricity but raw_coal"),
        "{}",
        rule_of(14).2
    );
    assert!(
        rule_of(19).2.contains("energy.csv line 2"),
        "{}",
        rule_of(19).2
    );
    assert!(rule_of(17).2.contains("flow = output"), "{}", rule_of(17).2);
    assert_eq!(
        rule_of(22).2,
        "quantity 1e12 万吨 is more than 10^15 t in one record, beyond any real quantity; check the unit and the decimal point"
    );
    assert_eq!(
        rule_of(23).2,
        "quantity '0,5' is not a finite number (a comma only groups thousands, as in 1,234.5: write a decimal comma as a point, 12.5)"
    );
    // every reject repeats its row as written: a row-rule reject, and the rows
    // the key checks reject (read again from the input)
    let raw = |line: i64| {
        rejects
            .iter()
            .find(|r| r["source_line"].i() == line)
            .map(|r| r["raw_record"].s().to_string())
            .unwrap()
    };
    assert_eq!(
        raw(13),
        format!(
            "enterprise_id={ok}; enterprise_name=A; region_code=150622; sector_code=C3011; year=2020; \
             month=8; energy_code=raw_coal; use=fuel; flow=consumption; quantity=100; unit=barrel"
        )
    );
    assert!(
        raw(19).contains("energy_code=原煤; use=燃料; flow=消费; quantity=100; unit=吨"),
        "{}",
        raw(19)
    );
    assert!(
        raw(20).contains("month=; energy_code=raw_coal"),
        "{}",
        raw(20)
    );
    // line 2 (the first of the duplicates) is accepted; nothing is lost
    assert!(rejects.iter().all(|r| r["source_line"].i() != 2));
    let energy = p.input_total("energy");
    assert_eq!(energy["rows_read"], 22);
    assert_eq!(energy["rows_rejected"], 21);
    assert_eq!(energy["rows_accepted"], 1);
    assert_eq!(rejects.len(), 21);
}

#[test]
fn gdp_regions_and_targets_rules() {
    let p = Project::new();
    p.write(
        "regions.csv",
        "region_code,name,parent_code,level\n\
         150000,内蒙古自治区,,province\n\
         150622,准格尔旗,150000,县\n\
         15062,短码,150000,county\n\
         150623,孤儿,159999,county\n\
         150624,乡,150000,village\n\
         150622,重复,150000,county\n\
         1.50622E+11,镇,150622,town\n\
         150624001,村,150624,town\n\
         150624001001,组,150624001,town\n",
    )
    .write(
        "gdp.csv",
        "region_code,year,gdp,gdp_index\n\
         150622,2020,10,\n\
         150622,2021,10.5,1.05\n\
         150622,2022,-3,104\n\
         150699,2020,10,\n\
         150622,2020,11,\n\
         150622.0,2021,12,\n\
         150622,2023,1e-320,\n\
         150622,2024,1.7e308,\n\
         150624,2020,5,\n",
    )
    .write(
        "energy.csv",
        &format!(
            "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n{},150622,C3011,2020,raw_coal,100,t\n",
            uscc(1)
        ),
    )
    .write(
        "targets.csv",
        "region_code,plan,base_year,target_year,indicator,value\n\
         150622,P,2020,2025,energy_intensity_reduction,13.5\n\
         150622,P,2020,2025,energy_intensity_target,0.1\n\
         150622,P,2025,2020,co2_intensity_reduction,0.1\n\
         150622,P,2020,2025,co2_total_max,1000000\n",
    )
    .config("quality:\n  max_reject_ratio: 1.0\n");
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let all = p.all_rejects();
    let rule = |input: &str, line: i64| -> String {
        all.iter()
            .find(|r| r["input"].s() == input && r["source_line"].i() == line)
            .map(|r| r["rule_id"].s().to_string())
            .unwrap_or_else(|| "accepted".into())
    };
    assert_eq!(
        rule("regions", 3),
        "accepted",
        "县 is the Chinese level name for county"
    );
    assert_eq!(rule("regions", 4), "region_code_invalid");
    assert_eq!(rule("regions", 5), "parent_unknown");
    assert_eq!(rule("regions", 6), "vocabulary_invalid");
    assert_eq!(rule("regions", 7), "duplicate_key");
    assert_eq!(rule("gdp", 2), "accepted");
    assert_eq!(rule("gdp", 3), "number_invalid",);
    assert_eq!(rule("gdp", 4), "number_invalid");
    assert_eq!(rule("gdp", 5), "region_unknown");
    assert_eq!(rule("gdp", 6), "duplicate_key");
    // codes a spreadsheet wrote as numbers: the message says what happened
    let message = |input: &str, line: i64| {
        all.iter()
            .find(|r| r["input"].s() == input && r["source_line"].i() == line)
            .map(|r| r["message"].s().to_string())
            .unwrap()
    };
    assert_eq!(rule("regions", 8), "region_code_invalid");
    assert!(
        message("regions", 8).ends_with(
            "; it is a number in scientific notation, as Excel writes long numbers, and its last digits \
             are lost: format the column as text in the workbook, enter the codes again and export"
        ),
        "{}",
        message("regions", 8)
    );
    assert_eq!(rule("gdp", 7), "region_unknown");
    assert_eq!(
        message("gdp", 7),
        "region '150622.0' is not in the regions input; add it there or correct the code; it was written as a \
         decimal number: a code is text, without '.0' (read the column as text)"
    );
    // below a rejected region (150624, level 'village'): rejected down the
    // tree, or their totals would add up to no region above them
    assert_eq!(rule("regions", 9), "parent_unknown");
    assert_eq!(
        message("regions", 9),
        "parent '150624' is rejected: this region would add up to no region above it; correct the rejected \
         row (its reject says why)"
    );
    assert_eq!(rule("regions", 10), "parent_unknown");
    assert!(
        message("regions", 10)
            .starts_with("parent '150624001' is rejected (its region 150624 is rejected)"),
        "{}",
        message("regions", 10)
    );
    // a GDP no region has (a wrong unit or digits): rejected, not an
    // intensity of 10^30 or a GDP at constant prices of inf
    assert_eq!(rule("gdp", 8), "number_invalid");
    assert_eq!(rule("gdp", 9), "number_invalid");
    assert_eq!(
        message("gdp", 8),
        "gdp 1e-320 is not a GDP in 100 million yuan (亿元): a region's lies between 0.0001 and 10000000; \
         check the unit (万元 is 0.0001 亿元) and the digits"
    );
    // a row naming a region the regions input has but rejects says so
    assert_eq!(rule("gdp", 10), "region_unknown");
    assert_eq!(
        message("gdp", 10),
        "region '150624' is rejected in the regions input (regions.csv line 6, vocabulary_invalid): correct that row"
    );
    assert_eq!(rule("targets", 2), "number_invalid");
    assert_eq!(rule("targets", 3), "vocabulary_invalid");
    assert_eq!(rule("targets", 4), "period_invalid");
    assert_eq!(rule("targets", 5), "accepted");
    let msg = all
        .iter()
        .find(|r| r["input"].s() == "targets" && r["source_line"].i() == 2)
        .unwrap()["message"]
        .s()
        .to_string();
    assert!(msg.contains("write 13.5 % as 0.135"), "{msg}");
}

/// A quote never closed (line 3's name) is closed by line 4's opening
/// quote: csv_core then reads lines 3 and 4 as one record of the header's 11
/// fields, line 3's id with line 4's month and quantity, and line 3's own
/// month was lost without a trace. Now line 3 alone is rejected and line 4
/// is read on its own.
#[test]
fn a_quote_not_closed_rejects_its_line_and_keeps_the_lines_after_it() {
    let ok = uscc(1);
    let rows = [
        /* 2 */ format!("{ok},\"A\",150622,C3011,2020,1,raw_coal,fuel,consumption,100,t"),
        /* 3 */ format!("{ok},\"A,150622,C3011,2020,2,raw_coal,fuel,consumption,200,t"),
        /* 4 */ format!("{ok},\"A\",150622,C3011,2020,3,raw_coal,fuel,consumption,300,t"),
        /* 5 */ format!("{ok},\"A\",150622,C3011,2020,4,raw_coal,fuel,consumption,400,t"),
        // a name over two lines, quoted right, is one record
        /* 6-7 */
        format!("{ok},\"A\n公司\",150622,C3011,2020,5,raw_coal,fuel,consumption,500,t"),
    ];
    let p = project_with_energy(&(rows.join("\n") + "\n"));
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let rejects = p.rows("rejects", 0);
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    let r = &rejects[0];
    assert_eq!(r["source_line"].i(), 3);
    assert_eq!(r["rule_id"].s(), "malformed_row");
    assert!(
        r["message"]
            .s()
            .starts_with("a quote opened on this line is not closed on it"),
        "{}",
        r["message"].s()
    );
    // the line as written, its quote-opened name running to the line's end
    assert!(
        r["raw_record"]
            .s()
            .contains("enterprise_name=A,150622,C3011,2020,2,raw_coal,fuel,consumption,200,t;"),
        "{}",
        r["raw_record"].s()
    );
    let energy = p.input_total("energy");
    assert_eq!(energy["rows_read"], 5);
    assert_eq!(energy["rows_rejected"], 1);
    assert_eq!(energy["rows_accepted"], 4);
    // months 1, 3, 4 and 5: 100 + 300 + 400 + 500 = 1 300 t
    let ea = p.rows("enterprise_annual", 2020);
    assert_eq!(ea.len(), 1, "{ea:#?}");
    assert_eq!(ea[0]["months"].i(), 4);
    assert!((ea[0]["quantity_base"].f() - 1300.0).abs() < 1e-9);
}

/// Parent codes that loop are refused before the roll-up, naming the file,
/// the lines and the fix.
#[test]
fn a_cycle_of_parent_codes_names_the_file_and_its_lines() {
    let p = project_with_energy(&format!(
        "{},A,150622,C3011,2020,1,raw_coal,fuel,consumption,100,t\n",
        uscc(1)
    ));
    p.write(
        "regions.csv",
        "region_code,name,parent_code,level\n\
         150000,内蒙古自治区,,province\n\
         150622,准格尔旗,150000,county\n\
         150622100,甲镇,150622101,town\n\
         150622101,乙镇,150622100,town\n",
    );
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "input regions (regions.csv): parent_code links form a cycle: 150622100 → 150622101 → 150622100 \
             (line 4: 150622100 under 150622101, line 5: 150622101 under 150622100); a region cannot be its own \
             ancestor: correct the parent_code of one of these rows"
        ),
        "{err}"
    );
}

/// Process CO2 and sinks of a region-year without energy records are in no
/// row of region_indicators: the run says so, per region and year, and
/// whether the regions above count them.
#[test]
fn process_co2_and_sinks_without_energy_records_are_named() {
    // energy of 2020, reported at the county; lime of its town in 2030 (no
    // energy anywhere that year): 1 000 t × 0.683 = 683 t; a reported sink
    // of the town in 2020 (energy only at the county)
    let p = project_with_budget(
        "enterprise_id,region_code,year,product_code,quantity,unit,cao,mgo\n,150622100,2030,lime,1000,t,,\n",
        "region_code,year,ecosystem,method,quantity,unit\n150622100,2020,forest,reported,500,t\n",
        "",
    );
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "150622100 薛家湾镇 2020: process CO2 0.0 t and sinks 500.0 t, but no energy records there that year, \
             so region_indicators has no row for it (the regions above it count them: their rows sum the rows below)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "150622100 薛家湾镇 2030: process CO2 683.0 t and sinks 0.0 t, but no energy records there that year, \
             so region_indicators has no row for it, nor do the 2 region(s) above it"
        ),
        "{err}"
    );
    // the county's 2020 row counts the town's sink: 500 t
    let county: Vec<_> = p
        .rows("region_indicators", 2020)
        .into_iter()
        .filter(|r| r["region_code"].s() == "150622")
        .collect();
    assert!(
        (county[0]["sink_t"].f() - 500.0).abs() < 1e-9,
        "{county:#?}"
    );
}

/// A base_year the gdp input has no row for would leave every intensity
/// empty: the config is refused, naming the key and the gdp input's years.
#[test]
fn a_base_year_without_gdp_is_a_config_error() {
    let p = project_with_energy(&format!(
        "{},A,150622,C3011,2020,1,raw_coal,fuel,consumption,100,t\n",
        uscc(1)
    ));
    let config = std::fs::read_to_string(p.path("pipeline.yaml")).unwrap();
    p.write(
        "pipeline.yaml",
        &config.replace("base_year: 2020", "base_year: 2015"),
    );
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("base_year: 2015 has no row in the gdp input (its years: 2020-2020)"),
        "{}",
        stderr(&out)
    );
}

/// Years and months written as a Chinese workbook writes them (`2020年`,
/// `3月份`, full-width digits) are read as the period column reads them, and
/// so are whole numbers a float column wrote (`2020.0`);
/// what is still no year or month is rejected with the text as written.
#[test]
fn years_and_months_written_with_their_units_are_read() {
    let ok = uscc(2);
    let rows = [
        /* 2 */ format!("{ok},A,150622,C3011,2020年,1月,raw_coal,fuel,consumption,100,t"),
        /* 3 */ format!("{ok},A,150622,C3011,２０２０,２,raw_coal,fuel,consumption,200,t"),
        /* 4 */
        format!("{ok},A,150622,C3011,2020年度,03月份,raw_coal,fuel,consumption,300,t"),
        /* 5 */ format!("{ok},A,150622,C3011,2020,4,raw_coal,fuel,consumption,400,t"),
        /* 6 */ format!("{ok},A,150622,C3011,2020年,13月,raw_coal,fuel,consumption,500,t"),
        /* 7 */ format!("{ok},A,150622,C3011,2020年x,5,raw_coal,fuel,consumption,600,t"),
        // as pandas writes a year or month column with blanks (a float)
        /* 8 */
        format!("{ok},A,150622,C3011,2020.0,5.0,raw_coal,fuel,consumption,500,t"),
    ];
    let p = project_with_energy(&(rows.join("\n") + "\n"));
    p.write(
        "gdp.csv",
        "region_code,year,gdp,gdp_index\n150622,2020年,10,\n",
    );
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    // line 6 (2020, month 13) is in the 2020 partition, line 7 (no year) in
    // year 0
    let rejects = p.all_rejects();
    let got: Vec<(i64, String, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["source_line"].i(),
                r["rule_id"].s().to_string(),
                r["message"].s().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                6,
                "period_invalid".to_string(),
                "month '13月' is not 1-12; leave it empty for an annual record".to_string()
            ),
            (
                7,
                "period_invalid".to_string(),
                "year '2020年x' is not a year between 1949 and 2100".to_string()
            ),
        ]
    );
    // months 1-5: 100 + 200 + 300 + 400 + 500 = 1 500 t of raw coal in 2020
    let ea = p.rows("enterprise_annual", 2020);
    assert_eq!(ea.len(), 1, "{ea:#?}");
    assert_eq!(ea[0]["months"].i(), 5);
    assert!((ea[0]["quantity_base"].f() - 1500.0).abs() < 1e-9);
    // the gdp row of `2020年` is the county's 2020 GDP: 10 (10^8 yuan)
    let gdp = p.rows("region_gdp", 2020);
    let county: Vec<_> = gdp
        .iter()
        .filter(|r| r["region_code"].s() == "150622")
        .collect();
    assert_eq!(county.len(), 1, "{gdp:#?}");
    assert!((county[0]["gdp"].f() - 10.0).abs() < 1e-9, "{gdp:#?}");
}

/// An intensity target in years without GDP at constant prices is not
/// judged there; the run says which target, which years and why (no gdp row,
/// or a gdp_index missing in the chain), under "to look at" and at warn.
#[test]
fn an_intensity_target_without_gdp_is_named_with_its_years_and_cause() {
    let ok = uscc(1);
    let rows: Vec<String> = (2020..=2023)
        .map(|y| format!("{ok},A,150622,C3011,{y},,raw_coal,fuel,consumption,1000,t"))
        .collect();
    let p = project_with_energy(&(rows.join("\n") + "\n"));
    // 2020 and 2021 chained (index 105); 2022 given without its index, so
    // the chain breaks there; 2023 not given at all
    p.write(
        "gdp.csv",
        "region_code,year,gdp,gdp_index\n150622,2020,10,\n150622,2021,11,105\n150622,2022,12,\n",
    )
    .write(
        "targets.csv",
        "region_code,plan,base_year,target_year,indicator,value\n\
         150622,14th-FYP,2020,2025,energy_intensity_reduction,0.1\n\
         150622,15th-FYP,2019,2025,co2_intensity_reduction,0.2\n",
    )
    .config("quality:\n  max_reject_ratio: 1.0\n");
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let err = stderr(&out);
    let note = "150622 准格尔旗: target 14th-FYP energy_intensity_reduction (2020 → 2025) is not judged \
                in 2022, 2023: no GDP at constant prices (the gdp input has no row for 2023; 2022 has a \
                gdp row but a gdp_index is missing in the chain to it (region_gdp shows the chain)); \
                target_progress has no row for those years: add the GDP and run again";
    assert!(stdout.contains(note), "{stdout}");
    assert!(err.contains(note), "{err}");
    // the 15th plan's base year 2019 has no data at all: no year is judged
    let note = "150622 准格尔旗: target 15th-FYP co2_intensity_reduction (2019 → 2025) is not judged \
                in any year: its base year 2019 has no GDP at constant prices (the gdp input has no row \
                for 2023; 2022 has a gdp row but a gdp_index is missing in the chain to it (region_gdp \
                shows the chain); no energy, CO2 or GDP at all for 2019)";
    assert!(stdout.contains(note), "{stdout}");
    // target_progress judges 2021 (GDP chained) and not 2022 or 2023
    assert_eq!(p.rows("target_progress", 2021).len(), 1);
    assert!(!p.path("out/reports/target_progress/year=2022").exists());
}

#[test]
fn too_many_rejects_fail_with_exit_3_and_publish_nothing() {
    let p = project_with_energy(&format!(
        "{},A,150622,C3011,2020,1,raw_coal,fuel,consumption,100,t\n{},A,150622,C3011,2020,2,raw_coal,fuel,consumption,-1,t\n",
        uscc(1),
        uscc(1)
    ));
    p.config("quality:\n  max_reject_ratio: 0.01\n");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("input energy: 1 of 2 rows rejected (50.00 %)"),
        "{err}"
    );
    assert!(
        err.contains("energy.csv line 3 column quantity: [quantity_negative]"),
        "{err}"
    );
    assert!(err.contains("nothing was published"), "{err}");
    assert!(!p.path("out/manifest.json").exists());
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_column_is_a_file_error_naming_file_and_columns() {
    let p = Project::new();
    p.write("regions.csv", REGIONS)
        .write("gdp.csv", "region_code,year,gdp_value\n150622,2020,10\n")
        .write(
            "energy.csv",
            &format!("enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n{},150622,C3011,2020,raw_coal,1,t\n", uscc(1)),
        )
        .config("");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("input gdp (gdp.csv)"), "{err}");
    assert!(err.contains("required column(s) gdp missing"), "{err}");
    assert!(
        err.contains("the header has: region_code, year, gdp_value"),
        "{err}"
    );
    // an empty file says so (it said 'the header has: .')
    p.write("gdp.csv", "");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "input gdp (gdp.csv): the file has no header line (it is empty, or its first line is blank): the gdp \
             input needs a header with region_code, year, gdp"
        ),
        "{err}"
    );
}

#[test]
fn missing_file_and_bad_config_exit_2() {
    let p = Project::new();
    p.write("regions.csv", REGIONS)
        .write("gdp.csv", "region_code,year,gdp\n")
        .config("");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("energy.csv does not exist; check inputs.energy"),
        "{}",
        stderr(&out)
    );

    p.write(
        "energy.csv",
        "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n",
    )
    .config("electricity_factors: national\n");
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("pipeline.yaml") && err.contains("electricity_factors"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let out = p.run(&["run", "--config", "nowhere.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nowhere.yaml: cannot read the file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gb18030_is_detected_and_bytes_in_neither_encoding_are_named() {
    let p = Project::new();
    p.write("regions.csv", REGIONS)
        .write("gdp.csv", "region_code,year,gdp\n150622,2020,10\n")
        .config("");
    let header = "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n";
    let row_start = format!("{},150622,C3011,2020,", uscc(1));
    // 天然气,10,万立方米 in GBK/GB18030: not UTF-8
    let gbk_row: &[u8] = &[
        0xcc, 0xec, 0xc8, 0xbb, 0xc6, 0xf8, b',', b'1', b'0', b',', 0xcd, 0xf2, 0xc1, 0xa2, 0xb7,
        0xbd, 0xc3, 0xd7, b'\n',
    ];
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(row_start.as_bytes());
    bytes.extend_from_slice(gbk_row);
    std::fs::write(p.path("energy.csv"), &bytes).unwrap();
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    // 10 ×10^4 m3 of natural gas × 0.00133 tce/m3 = 133 tce
    let county = p.rows("region_indicators", 2020);
    close(
        find(&county, &[("region_code", "150622")])["energy_tce"].f(),
        133.0,
        "read as GB18030",
    );
    let m = p.manifest();
    let energy = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"] == "energy")
        .unwrap();
    assert_eq!(energy["encoding"], "gb18030");

    // configured as UTF-8: a file error naming the byte offset and the fix
    let yaml = std::fs::read_to_string(p.path("pipeline.yaml")).unwrap();
    p.write(
        "pipeline.yaml",
        &yaml.replace(
            "  energy: energy.csv",
            "  energy:\n    path: energy.csv\n    encoding: utf-8",
        ),
    );
    let out = p.run(&["--quiet", "run", "--config", "pipeline.yaml", "--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let offset = header.len() + row_start.len();
    assert!(
        stderr(&out).contains(&format!("byte offset {offset} is not UTF-8")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("set encoding: gb18030"),
        "{}",
        stderr(&out)
    );

    // bytes that are neither: 0xFF never starts a character in either encoding
    p.write("pipeline.yaml", &yaml);
    let mut bad = header.as_bytes().to_vec();
    bad.extend_from_slice(row_start.as_bytes());
    bad.extend_from_slice(&[0xff, 0xfe, b',', b'1', b',', b't', b'\n']);
    std::fs::write(p.path("energy.csv"), &bad).unwrap();
    let out = p.run_pipeline();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("input energy (energy.csv)"), "{err}");
    assert!(err.contains(&format!("neither UTF-8 (first bad byte at offset {offset}) nor GB18030 (first bad byte at offset {offset})")), "{err}");
}

#[test]
fn factor_set_check_passes_and_catches_a_broken_set() {
    let p = Project::new();
    let out = p.run(&["factors", "check", factors_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("factor set cn-2024 ok"));

    // copy the set and break the diesel CO2 factor
    let broken = p.path("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for e in std::fs::read_dir(factors_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), broken.join(e.file_name())).unwrap();
    }
    let co2 = std::fs::read_to_string(broken.join("combustion_co2.csv")).unwrap();
    std::fs::write(
        broken.join("combustion_co2.csv"),
        co2.replace("3.0959", "3.2959"),
    )
    .unwrap();
    let out = p.run(&["factors", "check", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("diesel: CO2 factor 3.2959"),
        "{}",
        stdout(&out)
    );

    // a sink factor below zero (its product consistent) would make forest
    // growth an emission: refused
    let sinks_set = p.path("negative-sink");
    std::fs::create_dir_all(&sinks_set).unwrap();
    let set = factors_dir().join("../cn-2026-12");
    for e in std::fs::read_dir(&set).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), sinks_set.join(e.file_name())).unwrap();
    }
    let sf = std::fs::read_to_string(sinks_set.join("sink_factors.csv")).unwrap();
    std::fs::write(
        sinks_set.join("sink_factors.csv"),
        sf.replace(
            "1.785,0.462,0.24,0.5,1.8748",
            "1.785,-0.462,0.24,0.5,-1.8748",
        ),
    )
    .unwrap();
    let out = p.run(&["factors", "check", sinks_set.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("forest: wood_density -0.462 must be greater than 0")
            && stdout(&out).contains("forest: tco2_per_m3 -1.8748 must be greater than 0"),
        "{}",
        stdout(&out)
    );

    let out = p.run(&["factors", "list", factors_dir().to_str().unwrap()]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("raw_coal") && stdout(&out).contains("原煤"));
}

#[test]
fn production_and_sinks_with_chinese_headers_count_or_reject_each_row() {
    let ok = uscc(7);
    let p = project_with_budget(
        &format!(
            "统一社会信用代码,行政区划代码,年份,产品名称,产量（吨）,计量单位,氧化钙含量,氧化镁含量\n\
             {ok},150622,2020,水泥熟料,1000,吨,0.65,\n\
             ,150622,2020,水泥,10,吨,,\n\
             {ok},150622,2021,水泥熟料,2e11,万吨,0.65,\n"
        ),
        "行政区划代码,年份,生态系统,核算方法,碳汇量,计量单位\n\
         150622,2020,森林,蓄积量变化,100,立方米\n\
         150622,2020,海洋,上报,5,吨\n\
         150622,2021,森林,蓄积量变化,2e11,万立方米\n",
        "quality:\n  max_reject_ratio: 1.0\n",
    );
    let out = p.run_pipeline();
    assert!(out.status.success(), "{}", stderr(&out));
    let rejects = p.rows("rejects", 2020);
    let rule = |input: &str, line: i64| {
        let r = rejects
            .iter()
            .find(|r| r["input"].s() == input && r["source_line"].i() == line)
            .unwrap_or_else(|| panic!("{input} line {line} was not rejected: {rejects:#?}"));
        (
            r["rule_id"].s().to_string(),
            r["source_file"].s().to_string(),
        )
    };
    assert_eq!(
        rule("production", 3),
        ("product_unknown".into(), "production.csv".into())
    );
    assert_eq!(
        rule("sinks", 3),
        ("ecosystem_unknown".into(), "sinks.csv".into())
    );
    assert_eq!(rejects.len(), 2, "{rejects:#?}");
    // 2 × 10^11 × 10^4 = 2 × 10^15 t (m3): more than any real quantity
    let later = p.rows("rejects", 2021);
    let messages: Vec<(&str, &str, &str)> = later
        .iter()
        .map(|r| (r["input"].s(), r["rule_id"].s(), r["message"].s()))
        .collect();
    assert_eq!(
        messages,
        vec![
            (
                "production",
                "quantity_invalid",
                "quantity 2e11 万吨 is more than 10^15 t in one record, beyond any real quantity; check the unit and the decimal point"
            ),
            (
                "sinks",
                "quantity_invalid",
                "quantity 2e11 万立方米 is more than 10^15 m3 in one record, beyond any real quantity; check the unit and the decimal point"
            ),
        ]
    );
    // the accepted rows: 1 000 t clinker × 0.65 × 44/56 = 510.714286 t
    // (mgo empty: 0); 100 m3 of forest stock × 1.8748 = 187.48 t removed
    let county = p.rows("region_indicators", 2020);
    let county = find(&county, &[("region_code", "150622")]);
    close(county["co2_process_t"].f(), 510.714286, "process CO2");
    close(county["sink_t"].f(), 187.48, "sinks");
    // 100 t coal × 1.9003 = 190.03 t; net = 190.03 + 510.714286 − 187.48
    close(
        county["co2_net_t"].f(),
        190.03 + 510.714286 - 187.48,
        "net CO2",
    );
    let m = p.manifest();
    let counts: Vec<(String, u64, u64)> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["input"] == "production" || i["input"] == "sinks")
        .map(|i| {
            (
                i["input"].as_str().unwrap().to_string(),
                i["rows_read"].as_u64().unwrap(),
                i["rows_rejected"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![("production".into(), 3, 2), ("sinks".into(), 3, 2)]
    );
}

/// A binary built without the `distributed` feature says how to get one that has
/// the cluster's commands, with exit 2 (a usage error), and starts nothing.
#[cfg(not(feature = "distributed"))]
#[test]
fn the_cluster_commands_need_the_distributed_feature() {
    for args in [
        vec!["scheduler", "--bind", "127.0.0.1:0"],
        vec![
            "executor",
            "--scheduler",
            "127.0.0.1:1",
            "--bind",
            "127.0.0.1:0",
            "--work-dir",
            "w",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_carbonstat"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("built without cluster support: build it with `cargo build --release --features distributed`"),
            "{stderr}"
        );
    }
}
