//! The table descriptors, the vocabularies and the schema extensions of
//! factor sets, on both shipped sets.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

use super::diff::{diff_sets, read_rows};
use super::*;

fn set_dir(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../factors")
        .join(id)
}

fn load(id: &str) -> FactorSet {
    FactorSet::load(&set_dir(id)).unwrap()
}

/// A copy of a shipped set with one file rewritten by `edit`.
fn edited_copy(id: &str, file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(set_dir(id)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(tmp.path().join(file)).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit must change {file}");
    std::fs::write(tmp.path().join(file), edited).unwrap();
    tmp
}

fn load_error(dir: &Path) -> String {
    match FactorSet::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn both_shipped_sets_pass_their_self_check() {
    for id in ["cn-2024", "cn-2025", "cn-2026", "cn-2026-12"] {
        let set = load(id);
        assert_eq!(set.meta.id, id);
        let findings = set.check();
        assert!(findings.is_empty(), "{id}: {findings:#?}");
    }
}

#[test]
fn every_table_is_declared_once_with_keys_that_match_its_file() {
    // cn-2026-12 names every table, the optional ones included
    let set = load("cn-2026-12");
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let mut yaml: Vec<&str> = set.meta.files.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort();
    yaml.sort();
    assert_eq!(sorted, yaml);
    assert_eq!(set.tables().len(), TABLES.len());
    for (t, info) in set.tables().into_iter().zip(TABLES) {
        assert_eq!(t.info().name, info.name);
        // a row's key() is the text of its KEY columns in the file
        let from_file: Vec<String> = read_rows(&set, info)
            .unwrap()
            .iter()
            .map(|r| {
                info.key
                    .iter()
                    .map(|k| r[*k].clone())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(t.keys(), from_file, "{}", info.name);
    }
}

#[test]
fn the_duplicate_check_covers_every_declared_table() {
    let mut set = load("cn-2026-12");
    // one duplicated row in each of the sixteen tables
    fn dup<T: Clone>(v: &mut Vec<T>) {
        v.push(v[0].clone());
    }
    dup(&mut set.sources);
    dup(&mut set.energy);
    dup(&mut set.units);
    dup(&mut set.standard_coal);
    dup(&mut set.combustion);
    dup(&mut set.grid_factors);
    dup(&mut set.grid_regions);
    dup(&mut set.heat_factors);
    dup(&mut set.generation_rate);
    dup(&mut set.high_energy);
    dup(&mut set.special_sectors);
    dup(&mut set.process_factors);
    dup(&mut set.sink_factors);
    dup(&mut set.sector_groups);
    dup(&mut set.criteria);
    dup(&mut set.sector_combustion);
    let findings = set.check();
    for info in TABLES {
        let file = &set.meta.files[info.name];
        let what = format!("duplicate {} '", info.key.join("/"));
        assert!(
            findings
                .iter()
                .any(|f| &f.file == file && f.message.starts_with(&what)),
            "{}: {findings:#?}",
            info.name
        );
    }
    assert!(
        findings
            .iter()
            .any(|f| f.message == "duplicate scope/area_code/data_year 'national/CN/2021'"),
        "{findings:#?}"
    );
}

#[test]
fn a_set_without_the_optional_tables_loads_them_empty() {
    // cn-2025 predates process_factors, sink_factors and sector_groups
    let set = load("cn-2025");
    assert!(set.process_factors.is_empty());
    assert!(set.sink_factors.is_empty());
    assert!(set.sector_groups.is_empty());
    assert!(set.criteria.is_empty());
    assert!(set.sector_combustion.is_empty());
    // a required table left out still fails the load, naming it
    let tmp = edited_copy("cn-2025", "factor-set.yaml", |t| {
        t.replace("  heat_factors: heat_factors.csv\n", "")
    });
    let e = load_error(tmp.path());
    assert!(e.contains("files.heat_factors is missing"), "{e}");
}

#[test]
fn the_budget_tables_are_checked() {
    let mut set = load("cn-2026");
    // 1.785 × 0.462 × 1.24 × 0.5 × 44/12 = 1.87475: 1.9 is off by 1.3 %
    set.sink_factors[0].tco2_per_m3 = 1.9;
    set.process_factors[0].division = "3".into();
    set.sector_groups[1].division_from = "04".into();
    let findings = set.check();
    let has = |file: &str, text: &str| {
        findings
            .iter()
            .any(|f| f.file == file && f.message.contains(text))
    };
    assert!(
        has("sink_factors.csv", "forest: tco2_per_m3 1.9 is not"),
        "{findings:#?}"
    );
    assert!(
        has("process_factors.csv", "division '3' is not a two-digit"),
        "{findings:#?}"
    );
    // 01–05 and 04–46 overlap
    assert!(
        has("sector_groups.csv", "divisions 01–05 overlap 04–46"),
        "{findings:#?}"
    );
}

#[test]
fn an_unknown_method_scope_or_quality_fails_the_load_naming_file_line_and_values() {
    // energy_catalog.csv line 2 is raw_coal
    let tmp = edited_copy("cn-2024", "energy_catalog.csv", |t| {
        t.replacen(
            "t,coefficient,combustion,原煤",
            "t,coefficient,burning,原煤",
            1,
        )
    });
    let e = load_error(tmp.path());
    assert!(
        e.contains("energy_catalog.csv line 2, column co2_method: unknown variant `burning`, expected one of `combustion`, `grid`, `heat`, `none`"),
        "{e}"
    );

    let tmp = edited_copy("cn-2024", "energy_catalog.csv", |t| {
        t.replacen(
            "electricity,false,kWh,electricity,grid",
            "electricity,false,kWh,valuation,grid",
            1,
        )
    });
    let e = load_error(tmp.path());
    assert!(
        e.contains("energy_catalog.csv line 15, column tce_method: unknown variant `valuation`, expected `coefficient` or `electricity`"),
        "{e}"
    );

    // grid_factors.csv line 3 is the first regional row
    let tmp = edited_copy("cn-2024", "grid_factors.csv", |t| {
        t.replacen("regional,north,", "grid_region,north,", 1)
    });
    let e = load_error(tmp.path());
    assert!(
        e.contains("grid_factors.csv line 4, column scope: unknown variant `grid_region`, expected one of `national`, `regional`, `provincial`, `national_excl_market_nonfossil`, `national_fossil`"),
        "{e}"
    );

    let tmp = edited_copy("cn-2024", "heat_factors.csv", |t| {
        t.replace("heat-default,memory", "heat-default,guess")
    });
    let e = load_error(tmp.path());
    assert!(
        e.contains("heat_factors.csv line 2, column quality: unknown variant `guess`, expected one of `primary`, `secondary`, `memory`"),
        "{e}"
    );
    assert!(e.starts_with("factor set "), "{e}");

    let tmp = edited_copy("cn-2024", "energy_catalog.csv", |t| {
        t.replacen("raw coal,coal,true", "raw coal,solid,true", 1)
    });
    let e = load_error(tmp.path());
    assert!(
        e.contains("line 2, column category: unknown variant `solid`, expected one of `coal`, `oil`, `gas`, `electricity`, `heat`, `non_fossil`"),
        "{e}"
    );
}

#[test]
fn ncv_basis_own_skips_only_the_equal_ncv_check() {
    let mut set = load("cn-2025");
    fn gas(set: &mut FactorSet) -> &mut CombustionRow {
        set.combustion
            .iter_mut()
            .find(|r| r.energy_code == "natural_gas")
            .unwrap()
    }
    // natural gas: 38 931 kJ/m3 (389.31 GJ/10^4 m3) × 10^-9 TJ/kJ × 15.3 tC/TJ
    // × 1000 kg/t × 0.99 × 44/12 = 2.16219 kgCO2/m3, beside the coefficient's
    // 35 544 kJ/m3 (1.2143 kgce/m3)
    assert_eq!(gas(&mut set).ncv_basis(), NcvBasis::Own);
    assert!(set.check().is_empty(), "{:#?}", set.check());

    gas(&mut set).ncv_basis = Some(NcvBasis::StandardCoal);
    let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
    assert_eq!(
        f,
        [
            "combustion_co2.csv: natural_gas: calorific value 38931 kJ/m3 differs from standard_coal's 35544 kJ/m3; keep one NCV per product, or say ncv_basis own"
        ]
    );

    // own still checks NCV × carbon × oxidation × 44/12
    gas(&mut set).ncv_basis = Some(NcvBasis::Own);
    gas(&mut set).co2_factor = 2.3;
    let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].contains("natural_gas: CO2 factor 2.3 kgCO2/m3 differs from NCV x carbon x oxidation x 44/12 = 2.1622"),
        "{f:?}"
    );

    // an absent column (cn-2024) is standard_coal
    let old = load("cn-2024");
    assert!(old.combustion.iter().all(|r| r.ncv_basis.is_none()));
    assert!(
        old.combustion
            .iter()
            .all(|r| r.ncv_basis() == NcvBasis::StandardCoal)
    );
}

#[test]
fn gj_per_base_unit_from_the_calorific_value() {
    let set = load("cn-2025");
    // heat: 1000 kJ/MJ × (1 GJ / 0.001 GJ per MJ) MJ per GJ ÷ 10^6 kJ/GJ = 1
    assert_eq!(set.gj_per_base_unit("heat"), Some(1.0));
    // steam: 3763 kJ/kg × (1 t / 0.001 t per kg) kg per t ÷ 10^6 kJ/GJ = 3.763 GJ/t
    assert!((set.gj_per_base_unit("steam").unwrap() - 3.763).abs() < 1e-12);
    // natural gas: 35 544 kJ/m3 × 1 ÷ 10^6 = 0.035544 GJ/m3
    assert!((set.gj_per_base_unit("natural_gas").unwrap() - 0.035544).abs() < 1e-15);
    // no standard-coal row: no calorific value
    assert_eq!(set.gj_per_base_unit("wind_power"), None);

    // steam's heat CO2 needs the conversion: an NCV per m3 cannot give GJ per t
    let mut broken = set.clone();
    let steam = broken
        .standard_coal
        .iter_mut()
        .find(|r| r.energy_code == "steam")
        .unwrap();
    steam.ncv_unit = "kJ/m3".into();
    let f: Vec<String> = broken.check().iter().map(ToString::to_string).collect();
    assert!(
        f.iter().any(|m| m.contains(
            "steam: co2_method heat needs a standard_coal row whose ncv (kJ/<unit>) converts to GJ per t"
        )),
        "{f:?}"
    );
}

#[test]
fn grid_regions_take_area_headers_and_city_codes() {
    let set = load("cn-2025");
    let prefix = |code: &str| {
        set.grid_regions
            .iter()
            .find(|r| r.province_code == code)
            .and_then(GridRegionRow::area_prefix)
    };
    assert_eq!(prefix("150000"), Some("15"));
    assert_eq!(prefix("150400"), Some("1504"));
    assert_eq!(prefix("152200"), Some("1522"));

    let tmp = edited_copy("cn-2025", "grid_regions.csv", |t| {
        t.replace("150700,", "150702,")
    });
    let f: Vec<String> = FactorSet::load(tmp.path())
        .unwrap()
        .check()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        f,
        ["grid_regions.csv: 150702: an area is a province (xx0000) or a city or league (xxxx00)"]
    );
}

#[test]
fn coal_rate_series_and_new_grid_scopes() {
    let set = load("cn-2025");
    assert!(
        set.generation_rate
            .iter()
            .all(|r| r.series == Some(CoalRateSeries::Supply))
    );
    assert!(
        load("cn-2024")
            .generation_rate
            .iter()
            .all(|r| r.series.is_none())
    );
    for scope in [
        GridScope::NationalExclMarketNonfossil,
        GridScope::NationalFossil,
    ] {
        assert_eq!(
            set.grid_factors.iter().filter(|r| r.scope == scope).count(),
            2,
            "{scope}"
        );
    }

    // a set mixing the series fails its check
    let mut mixed = set.clone();
    mixed.generation_rate[0].series = Some(CoalRateSeries::Generation);
    let f: Vec<String> = mixed.check().iter().map(ToString::to_string).collect();
    assert_eq!(
        f,
        ["generation_coal_rate.csv: rows of different series (generation, supply): a set uses one"]
    );
}

#[tokio::test]
async fn registered_tables_carry_the_new_columns() {
    let ctx = SessionContext::new();
    load("cn-2025").register(&ctx).unwrap();
    let one = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            assert_eq!(
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
                1,
                "{sql}"
            );
            batches.into_iter().find(|b| b.num_rows() == 1).unwrap()
        }
    };
    let b = one("SELECT gj_per_base_unit FROM energy_catalog WHERE energy_code = 'steam'").await;
    let gj = b.column(0).as_primitive::<Float64Type>().value(0);
    assert!((gj - 3.763).abs() < 1e-12);
    let b =
        one("SELECT gj_per_base_unit FROM energy_catalog WHERE energy_code = 'electricity'").await;
    // 3600 kJ/kWh = 0.0036 GJ/kWh
    let gj = b.column(0).as_primitive::<Float64Type>().value(0);
    assert!((gj - 0.0036).abs() < 1e-15);
    let b =
        one("SELECT gj_per_base_unit FROM energy_catalog WHERE energy_code = 'wind_power'").await;
    assert!(b.column(0).is_null(0));
    let text = |b: &RecordBatch| array_value_to_string(b.column(0), 0).unwrap();
    let b = one("SELECT area_prefix FROM grid_region WHERE province_code = '150700'").await;
    assert_eq!(text(&b), "1507");
    let b = one("SELECT area_prefix FROM grid_region WHERE province_code = '150000'").await;
    assert_eq!(text(&b), "15");
    let b = one("SELECT series FROM generation_coal_rate WHERE data_year = 2024").await;
    assert_eq!(text(&b), "supply");
    let b = one("SELECT co2_method || '/' || tce_method || '/' || category \
         FROM energy_catalog WHERE energy_code = 'steam'")
    .await;
    assert_eq!(text(&b), "heat/coefficient/heat");
    let b = one("SELECT scope || '/' || quality FROM grid_factor \
         WHERE scope = 'national_fossil' AND data_year = 2023")
    .await;
    assert_eq!(text(&b), "national_fossil/secondary");

    // cn-2024 has no series column: NULL
    let ctx = SessionContext::new();
    load("cn-2024").register(&ctx).unwrap();
    let batches = ctx
        .sql("SELECT count(*) FROM generation_coal_rate WHERE series IS NULL")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let n = batches[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(n, 5);
}

#[test]
fn diff_pairs_rows_across_header_spellings_and_new_columns() {
    let d = diff_sets(&load("cn-2024"), &load("cn-2025")).unwrap();
    let table = |name: &str| d.tables.iter().find(|t| t.table == name).unwrap();
    // area_code/area_name read as province_code/province_name: only the four leagues are new
    let regions = table("grid_regions");
    assert_eq!(
        (
            regions.added.len(),
            regions.changed.len(),
            regions.removed.len()
        ),
        (4, 0, 0)
    );
    // 2019 keeps its value and gains series=supply
    let rates = table("generation_coal_rate");
    let y2019 = rates.changed.iter().find(|c| c.key == "2019").unwrap();
    assert_eq!(
        y2019.fields.get("series"),
        Some(&(String::new(), "supply".to_string()))
    );
    assert_eq!(y2019.fields.len(), 1, "{:?}", y2019.fields);
    // 2019-2023 in both, 2015 and 2024 new: 2 added
    assert_eq!(rates.added.len(), 2);
    // an ncv_basis spelling out the default (raw coal) is no change; natural
    // gas's own basis is
    let co2 = table("combustion_co2");
    assert!(co2.changed.iter().all(|c| c.key != "raw_coal"), "{co2:?}");
    let gas = co2.changed.iter().find(|c| c.key == "natural_gas").unwrap();
    assert_eq!(
        gas.fields.get("ncv_basis"),
        Some(&("standard_coal".to_string(), "own".to_string()))
    );
    // the untouched tables do not appear
    for same in ["units", "high_energy_sectors", "special_sectors"] {
        assert!(d.tables.iter().all(|t| t.table != same), "{same}");
    }
}

#[test]
fn a_sectors_own_oxidation_is_checked_against_the_fuels_combustion_row() {
    let mut set = load("cn-2026-12");
    assert!(set.check().is_empty(), "{:#?}", set.check());
    // power generation's raw coal: 20 908 kJ/kg × 26.37 tC/TJ × 0.99 × 44/12
    // = 2.00137 kgCO2/kg = 2.0014 t/t (the fuel's own row: 0.94 → 1.9003)
    let (row, per_t) = set.sector_co2_per_base_unit("raw_coal").unwrap();
    assert_eq!(row.sector_prefix, "441");
    assert!((per_t - 2.0014).abs() < 1e-12, "{per_t}");
    assert!((set.co2_per_base_unit("raw_coal").unwrap() - 1.9003).abs() < 1e-12);

    fn coal(set: &mut FactorSet) -> &mut SectorCombustionRow {
        set.sector_combustion
            .iter_mut()
            .find(|r| r.energy_code == "raw_coal")
            .unwrap()
    }
    // a factor that is not its oxidation's product: 2.0014 at 0.98 would be
    // 20 908 × 26.37 × 0.98 × 44/12 × 1e-6 = 1.9812
    coal(&mut set).oxidation = 0.98;
    let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with("sector_combustion_co2.csv: raw_coal: CO2 factor 2.0014 kgCO2/kg differs from NCV x carbon x oxidation x 44/12 = 1.9812")
            && f[0].ends_with("(sector 441: combustion_co2's NCV 20908 kJ/kg and carbon 26.37 tC/TJ at this oxidation)"),
        "{f:?}"
    );
    coal(&mut set).oxidation = 0.99;
    // not a GB/T 4754 prefix; an energy without combustion CO2
    let mut wind = coal(&mut set).clone();
    wind.energy_code = "wind_power".into();
    set.sector_combustion.push(wind);
    coal(&mut set).sector_prefix = "D441".into();
    let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
    assert_eq!(
        f,
        [
            "sector_combustion_co2.csv: raw_coal: sector_prefix 'D441' is not 2 to 4 digits of a GB/T 4754-2017 code (e.g. 441 for power generation)",
            "sector_combustion_co2.csv: wind_power: not an energy of the catalog with co2_method combustion and a combustion_co2 row",
        ]
    );
}
