//! `carbonstat explain`: how one published number was made — the SQL file,
//! the factor rows and the input rows behind it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::ScalarValue;
use serde::Serialize;

use crate::audit::Published;
use crate::audit::published::PublishedTables;
use crate::audit::verify::batches_of;
use crate::engine::queries;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::pipeline::Computed;

/// How one published number was made.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub region_code: String,
    pub region_name: String,
    pub year: i32,
    pub indicator: String,
    pub unit: String,
    /// The value the re-computation gives (equal to the published one).
    pub value: Option<f64>,
    /// The value in the published file, when explaining a published run.
    pub published_value: Option<f64>,
    /// The formula in words, then with the numbers.
    pub formula: String,
    pub formula_with_values: String,
    /// The formula evaluated here from the terms below; equals `value` exactly.
    pub formula_result: Option<f64>,
    pub terms: Vec<Term>,
    pub rounding: Option<String>,
    pub gdp_chain: Vec<GdpYear>,
    pub by_energy: Vec<Contribution>,
    pub by_sector: Vec<Contribution>,
    pub top_enterprises: Vec<Contribution>,
    pub factors_used: Vec<FactorUsed>,
    /// The production and sinks rows behind the process CO2 and the sinks
    /// (for co2_process_t, sink_t and co2_net_t).
    pub budget_rows: Vec<BudgetRow>,
    pub sql_steps: Vec<crate::publish::manifest::StepRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub name: String,
    pub value: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GdpYear {
    pub year: i32,
    pub gdp: f64,
    pub gdp_index: Option<f64>,
    pub gdp_const: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    pub key: String,
    pub name: String,
    pub tce: f64,
    pub co2_t: f64,
    pub records: i64,
}

/// One production or sinks input row and what it adds.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetRow {
    /// co2_process_t or sink_t
    pub kind: String,
    /// the product or ecosystem
    pub key: String,
    pub name: String,
    pub source_file: String,
    pub source_line: i64,
    pub quantity: f64,
    pub unit: String,
    pub factor: f64,
    pub factor_unit: String,
    pub amount_t: f64,
    pub source_id: Option<String>,
    pub quality: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactorUsed {
    pub energy_code: String,
    pub kind: String,
    pub value: f64,
    pub unit: String,
    pub factor_year: Option<i32>,
    pub scope: Option<String>,
    pub source_id: Option<String>,
    pub quality: Option<String>,
}

pub(crate) fn f64s(b: &RecordBatch, i: usize) -> Result<Vec<Option<f64>>> {
    let a = datafusion::arrow::compute::cast(b.column(i), &DataType::Float64)?;
    let a = a.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|r| (!a.is_null(r)).then(|| a.value(r)))
        .collect())
}

pub(crate) fn strings(b: &RecordBatch, i: usize) -> Result<Vec<String>> {
    let a = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|r| {
            if a.is_null(r) {
                String::new()
            } else {
                a.value(r).to_string()
            }
        })
        .collect())
}

/// The column of region_intensity (50_indicators.sql) that holds an
/// intensity as its change rates use it: rounded to 4 decimals when
/// nbs_rounding is on. Explain shows these values and never rounds again, so
/// the rounding rule has one definition.
fn as_compared(intensity: &str) -> Option<&'static str> {
    match intensity {
        "energy_intensity" => Some("ei_r"),
        "energy_intensity_controlled" => Some("eic_r"),
        "co2_intensity" => Some("ci_r"),
        _ => None,
    }
}

/// The integer columns of region_indicators that explain can show (the
/// others are counts of rows).
const EXPLAINED_INTS: &[&str] = &["co2_peak_year", "co2_years_below_peak"];

fn explained(col: &crate::publish::schema::Column) -> bool {
    // the rounded intensities are the intensities as the change rates
    // compare them: explain the intensity itself
    (col.ty == crate::publish::schema::ColType::Float && !col.name.ends_with("_rounded"))
        || EXPLAINED_INTS.contains(&col.name)
}

/// The region_indicators column an explanation is asked for.
pub fn indicator_column(indicator: &str) -> Result<&'static crate::publish::schema::Column> {
    crate::publish::schema::REGION_INDICATORS
        .columns
        .iter()
        .find(|col| col.name == indicator && explained(col))
        .ok_or_else(|| Error::Config {
            file: PathBuf::from("--indicator"),
            message: format!(
                "'{indicator}' is not a numeric column of region_indicators; one of: {}",
                crate::publish::schema::REGION_INDICATORS
                    .columns
                    .iter()
                    .filter(|c| explained(c))
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Where a region's explanation is read from.
#[derive(Clone, Copy)]
enum Src<'a> {
    /// The run computed again in this process: the sections are summed from
    /// the single records (the explain_* queries).
    Run(&'a Computed),
    /// The published run: its datasets (the published_* queries), which
    /// give the same rows.
    Published(&'a PublishedTables),
}

impl Src<'_> {
    fn ctx(&self) -> &datafusion::prelude::SessionContext {
        match self {
            Src::Run(c) => &c.ctx,
            Src::Published(t) => &t.ctx,
        }
    }

    fn factors(&self) -> &FactorSet {
        match self {
            Src::Run(c) => &c.factors,
            Src::Published(t) => &t.factors,
        }
    }

    async fn run_params(&self) -> Result<(i32, bool)> {
        match self {
            Src::Run(c) => run_params(&c.ctx).await,
            Src::Published(t) => Ok((t.base_year, t.nbs_rounding)),
        }
    }

    /// Of two queries that give the same rows, the one of this source: from
    /// the single records of the run, or from the published files.
    fn pick(
        &self,
        run: &'static queries::Query,
        published: &'static queries::Query,
    ) -> &'static queries::Query {
        match self {
            Src::Run(_) => run,
            Src::Published(_) => published,
        }
    }

    /// A section summed from a region's records: the run's query takes the
    /// region and the year (`scope`), the published one the year only (its
    /// tables hold the region's records only).
    async fn region_records(
        &self,
        run: &'static queries::Query,
        published: &'static queries::Query,
        scope: &[ScalarValue],
    ) -> Result<Vec<RecordBatch>> {
        match self {
            Src::Run(c) => run.collect(&c.ctx, scope).await,
            Src::Published(t) => published.collect(&t.ctx, &scope[1..]).await,
        }
    }

    /// The production (`co2_process_t`) or sinks (`sink_t`) rows.
    async fn budget_rows(&self, kind: &str, scope: &[ScalarValue]) -> Result<Vec<RecordBatch>> {
        match self {
            Src::Run(c) => {
                let q = if kind == "sink_t" {
                    &queries::EXPLAIN_SINK_ROWS
                } else {
                    &queries::EXPLAIN_PROCESS_ROWS
                };
                q.collect(&c.ctx, scope).await
            }
            Src::Published(t) => {
                let mut params = scope.to_vec();
                params.push(ScalarValue::from(kind));
                queries::PUBLISHED_BUDGET_ROWS
                    .collect(&t.ctx, &params)
                    .await
            }
        }
    }
}

/// Explain `indicator` of `region` in `year` from a run computed again
/// (`explain --recompute`, `explain --config`).
pub async fn explain(
    c: &Computed,
    region: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    explain_region(Src::Run(c), region, year, indicator, published_value).await
}

/// Explain `indicator` of `region` in `year` from what the run published
/// (the tables of [`PublishedTables::for_region_year`]): the same
/// explanation as [`explain`] gives from the run computed again.
pub async fn explain_published(
    t: &PublishedTables,
    region: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    explain_region(Src::Published(t), region, year, indicator, published_value).await
}

async fn explain_region(
    src: Src<'_>,
    region: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    let ctx = src.ctx();
    let spec = indicator_column(indicator)?;
    let (base_year, nbs_rounding) = src.run_params().await?;
    let basis_year = if indicator.ends_with("_change_base") {
        base_year
    } else {
        year - 1
    };
    let region_param = || ScalarValue::from(region);
    let year_param = |y: i32| ScalarValue::Int32(Some(y));
    let rows = src
        .pick(
            &queries::EXPLAIN_REGION_YEARS,
            &queries::PUBLISHED_REGION_YEARS,
        )
        .collect(
            ctx,
            &[region_param(), year_param(year), year_param(basis_year)],
        )
        .await?;
    let mut cur: Option<BTreeMap<String, Option<f64>>> = None;
    let mut prev: Option<BTreeMap<String, Option<f64>>> = None;
    let mut region_name = String::new();
    let mut grid_scope = String::new();
    for b in &rows {
        let schema = b.schema();
        let years = f64s(b, schema.index_of("year")?)?;
        let names = strings(b, schema.index_of("region_name")?)?;
        let scopes = strings(b, schema.index_of("grid_factor_scope")?)?;
        for r in 0..b.num_rows() {
            let mut m = BTreeMap::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if matches!(
                    f.data_type(),
                    DataType::Float64 | DataType::Int32 | DataType::Int64
                ) {
                    m.insert(f.name().clone(), f64s(b, i)?[r]);
                }
            }
            if years[r] == Some(year as f64) {
                region_name = names[r].clone();
                grid_scope = scopes[r].clone();
                cur = Some(m);
            } else {
                prev = Some(m);
            }
        }
    }
    let cur = cur.ok_or_else(|| {
        Error::Usage(format!(
            "region {region} has no row for {year} in region_indicators: it is not a region of the run's regions \
             input, or it has no energy records in {year}; check the code and the year (the bulletin's overview \
             lists the run's regions, region_indicators its years)"
        ))
    })?;
    let get = |m: &BTreeMap<String, Option<f64>>, k: &str| m.get(k).copied().flatten();
    let value = get(&cur, indicator);

    let t = |name: &str, v: Option<f64>, unit: &str| Term {
        name: name.into(),
        value: v,
        unit: unit.into(),
    };
    let fmt = |v: Option<f64>| v.map_or("NULL".to_string(), |x| format!("{x}"));
    let mut rounding = None;
    let (formula, with_values, result, terms) = if let Some(base) = indicator
        .strip_suffix("_change_yoy")
        .or(indicator.strip_suffix("_change_base"))
    {
        let (now, then) = (get(&cur, base), prev.as_ref().and_then(|p| get(p, base)));
        let compared = as_compared(base)
            .ok_or_else(|| Error::Internal(format!("{indicator}: no rounded column for {base}")))?;
        let (rn, rt) = (
            get(&cur, compared),
            prev.as_ref().and_then(|p| get(p, compared)),
        );
        if nbs_rounding {
            rounding = Some(
                "both intensities rounded to 4 decimals before dividing (NBS practice)".into(),
            );
        }
        let res = match (rn, rt) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b - 1.0),
            _ => None,
        };
        (
            format!("{base}({year}) / {base}({basis_year}) - 1"),
            format!("{} / {} - 1", fmt(rn), fmt(rt)),
            res,
            vec![
                t(&format!("{base} {year}"), now, "per 10^4 yuan"),
                t(&format!("{base} {basis_year}"), then, "per 10^4 yuan"),
            ],
        )
    } else if let Some(numerator) = match indicator {
        "energy_intensity" => Some("energy_tce"),
        "energy_intensity_controlled" => Some("energy_tce_controlled"),
        "co2_intensity" => Some("co2_t"),
        _ => None,
    } {
        let (n, g) = (get(&cur, numerator), get(&cur, "gdp_const"));
        let res = match (n, g) {
            (Some(n), Some(g)) => Some(n / (g * 10000.0)),
            _ => None,
        };
        (
            format!("{numerator} / (gdp_const x 10^4)"),
            format!("{} / ({} x 10^4)", fmt(n), fmt(g)),
            res,
            vec![
                t(
                    numerator,
                    n,
                    if numerator == "co2_t" { "t CO2" } else { "tce" },
                ),
                t("gdp_const", g, "10^8 yuan at base-year prices"),
            ],
        )
    } else if let Some(part) = match indicator {
        "coal_share" => Some("coal_consumed_tce"),
        "non_fossil_share" => Some("non_fossil_tce"),
        _ => None,
    } {
        let (n, d) = (get(&cur, part), get(&cur, "energy_mix_tce"));
        let res = match (n, d) {
            (Some(n), Some(d)) if d != 0.0 => Some(n / d),
            _ => None,
        };
        (
            format!("{part} / energy_mix_tce"),
            format!("{} / {}", fmt(n), fmt(d)),
            res,
            vec![t(part, n, "tce"), t("energy_mix_tce", d, "tce")],
        )
    } else if indicator == "co2_net_t" {
        let (e, p, k) = (
            get(&cur, "co2_t"),
            get(&cur, "co2_process_t"),
            get(&cur, "sink_t"),
        );
        let res = match (e, p, k) {
            (Some(e), Some(p), Some(k)) => Some(e + p - k),
            _ => None,
        };
        (
            "co2_t + co2_process_t - sink_t".into(),
            format!("{} + {} - {}", fmt(e), fmt(p), fmt(k)),
            res,
            vec![
                t("co2_t", e, "t CO2"),
                t("co2_process_t", p, "t CO2"),
                t("sink_t", k, "t CO2"),
            ],
        )
    } else if indicator == "co2_process_t" || indicator == "sink_t" {
        (
            format!(
                "sum over the production and sinks rows of the region and the regions below it of {indicator} (budget rows below)"
            ),
            fmt(value),
            value,
            vec![t(indicator, value, spec.unit)],
        )
    } else if matches!(
        indicator,
        "co2_peak_t" | "co2_peak_year" | "co2_years_below_peak"
    ) {
        let years = queries::EXPLAIN_CO2_YEARS
            .collect(ctx, &[region_param(), year_param(year)])
            .await?;
        let mut series: Vec<(f64, Option<f64>)> = Vec::new();
        for b in &years {
            let (y, co2) = (f64s(b, 0)?, f64s(b, 1)?);
            series.extend((0..b.num_rows()).map(|r| (y[r].unwrap_or_default(), co2[r])));
        }
        // the earliest year of the highest CO2 (series is ordered by year)
        let mut peak: Option<(f64, f64)> = None;
        for &(y, c) in &series {
            if let Some(c) = c
                && peak.is_none_or(|(_, p)| c > p)
            {
                peak = Some((y, c));
            }
        }
        let terms: Vec<Term> = series
            .iter()
            .map(|&(y, c)| t(&format!("co2_t {y}"), c, "t CO2"))
            .collect();
        let res = peak.map(|(py, pc)| match indicator {
            "co2_peak_t" => pc,
            "co2_peak_year" => py,
            _ => series
                .iter()
                .filter(|&&(y, c)| y > py && c.is_some_and(|c| c < pc))
                .count() as f64,
        });
        (
            match indicator {
                "co2_peak_t" => format!("max of co2_t over the years up to {year}"),
                "co2_peak_year" => format!("the earliest year of the highest co2_t up to {year}"),
                _ => "years after co2_peak_year whose co2_t is below the peak".into(),
            },
            fmt(res),
            res,
            terms,
        )
    } else if indicator == "high_energy_share" {
        let (n, d) = (get(&cur, "high_energy_tce"), get(&cur, "energy_tce"));
        let res = match (n, d) {
            (Some(n), Some(d)) if d != 0.0 => Some(n / d),
            _ => None,
        };
        (
            "high_energy_tce / energy_tce".into(),
            format!("{} / {}", fmt(n), fmt(d)),
            res,
            vec![t("high_energy_tce", n, "tce"), t("energy_tce", d, "tce")],
        )
    } else {
        // a total: the sum of the records below, shown by energy and sector
        (
            format!("sum over the region's records of {indicator}"),
            fmt(value),
            value,
            vec![t(indicator, value, spec.unit)],
        )
    };

    // the GDP chain from the base year to this year
    let gdp = src
        .pick(&queries::EXPLAIN_GDP_CHAIN, &queries::PUBLISHED_GDP_CHAIN)
        .collect(ctx, &[region_param()])
        .await?;
    let mut gdp_chain = Vec::new();
    for b in &gdp {
        let (y, g, i, k) = (f64s(b, 0)?, f64s(b, 1)?, f64s(b, 2)?, f64s(b, 3)?);
        for r in 0..b.num_rows() {
            gdp_chain.push(GdpYear {
                year: y[r].unwrap_or_default() as i32,
                gdp: g[r].unwrap_or_default(),
                gdp_index: i[r],
                gdp_const: k[r],
            });
        }
    }

    // contributions: records of the region and every region below it
    let scope = [region_param(), year_param(year)];
    let section = |run, published| src.region_records(run, published, &scope);
    let by_energy =
        read_contrib(section(&queries::EXPLAIN_BY_ENERGY, &queries::PUBLISHED_BY_ENERGY).await?)?;
    let by_sector =
        read_contrib(section(&queries::EXPLAIN_BY_SECTOR, &queries::PUBLISHED_BY_SECTOR).await?)?;
    let top_enterprises = read_contrib(
        section(
            &queries::EXPLAIN_TOP_ENTERPRISES,
            &queries::PUBLISHED_TOP_REPORTERS,
        )
        .await?,
    )?;

    // the factor rows the records used
    let factors = section(&queries::EXPLAIN_FACTORS, &queries::PUBLISHED_FACTORS).await?;
    let mut factors_used = read_factor_rows(src.factors(), &factors)?;
    // the grid factor of the region's own net import of electricity: its
    // area's, which for a league in another grid than its province's is not
    // the one its records used (50_indicators.sql)
    if let Some(v) = cur.get("grid_factor").copied().flatten() {
        let data_year = cur
            .get("grid_factor_year")
            .copied()
            .flatten()
            .map(|y| y as i32);
        let row = grid_scope.split_once(' ').and_then(|(scope, area)| {
            src.factors().grid_factors.iter().find(|g| {
                g.scope.as_str() == scope && g.area_code == area && Some(g.data_year) == data_year
            })
        });
        factors_used.push(FactorUsed {
            energy_code: "electricity".into(),
            kind: "grid CO2 factor of the region's net import".into(),
            value: v,
            unit: "t CO2 per MWh".into(),
            factor_year: data_year,
            scope: (!grid_scope.is_empty()).then(|| grid_scope.clone()),
            source_id: row.map(|g| g.source_id.clone()),
            quality: row.map(|g| g.quality.to_string()),
        });
    }
    // the production and sinks rows behind the budget
    let mut budget_rows = Vec::new();
    if matches!(indicator, "co2_process_t" | "sink_t" | "co2_net_t") {
        let mut rows = Vec::new();
        if indicator != "sink_t" {
            rows.extend(src.budget_rows("co2_process_t", &scope).await?);
        }
        if indicator != "co2_process_t" {
            rows.extend(src.budget_rows("sink_t", &scope).await?);
        }
        budget_rows = read_budget_rows(&rows)?;
    }
    let steps = sql_steps();
    Ok(Explanation {
        region_code: region.to_string(),
        region_name,
        year,
        indicator: indicator.to_string(),
        unit: spec.unit.to_string(),
        value,
        published_value,
        formula,
        formula_with_values: with_values,
        formula_result: result,
        terms,
        rounding,
        gdp_chain,
        by_energy,
        by_sector,
        top_enterprises,
        factors_used,
        budget_rows,
        sql_steps: steps,
    })
}

/// The SQL steps an explained number comes from (every step but the targets').
fn sql_steps() -> Vec<crate::publish::manifest::StepRecord> {
    crate::engine::steps::STEPS
        .iter()
        .filter(|s| s.name != "60_targets.sql" && s.name != "55_explain.sql")
        .map(|s| crate::publish::manifest::StepRecord {
            name: format!("sql/{}", s.name),
            sha256: s.sha256(),
        })
        .collect()
}

/// Each (key, name, tce, CO2, records) row of a contributions query.
fn read_contrib(batches: Vec<RecordBatch>) -> Result<Vec<Contribution>> {
    let mut out = Vec::new();
    for b in &batches {
        let (k, n, tce, co2, cnt) = (
            strings(b, 0)?,
            strings(b, 1)?,
            f64s(b, 2)?,
            f64s(b, 3)?,
            f64s(b, 4)?,
        );
        for r in 0..b.num_rows() {
            out.push(Contribution {
                key: k[r].clone(),
                name: n[r].clone(),
                tce: tce[r].unwrap_or_default(),
                co2_t: co2[r].unwrap_or_default(),
                records: cnt[r].unwrap_or_default() as i64,
            });
        }
    }
    Ok(out)
}

/// The factor rows of an explain_*factors query, one entry per factor kind.
fn read_factor_rows(set: &FactorSet, factors: &[RecordBatch]) -> Result<Vec<FactorUsed>> {
    let mut factors_used = Vec::new();
    let electricity = set
        .standard_coal
        .iter()
        .find(|r| r.energy_code == "electricity");
    for b in factors {
        let code = strings(b, 0)?;
        let (tce, unit, tyear, co2, ind) = (
            f64s(b, 1)?,
            strings(b, 2)?,
            f64s(b, 3)?,
            f64s(b, 4)?,
            f64s(b, 5)?,
        );
        let (iscope, iarea, fyear) = (strings(b, 6)?, strings(b, 7)?, f64s(b, 8)?);
        let (tsrc, tq, csrc, cq, isrc, iq) = (
            strings(b, 9)?,
            strings(b, 10)?,
            strings(b, 11)?,
            strings(b, 12)?,
            strings(b, 13)?,
            strings(b, 14)?,
        );
        let tce_equal = f64s(b, 15)?;
        for r in 0..b.num_rows() {
            let some = |s: &String| (!s.is_empty()).then(|| s.clone());
            if let Some(v) = tce[r] {
                // equivalent value; primary electricity is valued like
                // electricity: that row's source
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: "standard coal coefficient (equivalent value)".into(),
                    value: v,
                    unit: format!("tce per {}", unit[r]),
                    factor_year: None,
                    scope: None,
                    source_id: some(&tsrc[r]).or_else(|| electricity.map(|e| e.source_id.clone())),
                    quality: some(&tq[r]).or_else(|| electricity.map(|e| e.quality.to_string())),
                });
            }
            if let (Some(year), Some(v)) = (tyear[r], tce_equal[r]) {
                // equal value: the coal rate of thermal power of that data year
                let rate = set
                    .generation_rate
                    .iter()
                    .find(|g| f64::from(g.data_year) == year);
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: "coal rate of thermal power (equal value)".into(),
                    value: v,
                    unit: format!("tce per {}", unit[r]),
                    factor_year: Some(year as i32),
                    scope: rate.and_then(|g| g.series.map(|s| s.to_string())),
                    source_id: rate.map(|g| g.source_id.clone()),
                    quality: rate.map(|g| g.quality.to_string()),
                });
            }
            if let Some(v) = co2[r] {
                // a sector's own factor of the fuel (sector_combustion_co2)
                let sector = set
                    .sector_co2_per_base_unit(&code[r])
                    .filter(|(_, f)| *f == v)
                    .map(|(row, _)| (row.sector_prefix.clone(), row.oxidation));
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: match sector {
                        Some((prefix, oxidation)) => format!(
                            "combustion CO2 factor of GB/T 4754 sector {prefix} (oxidation {oxidation})"
                        ),
                        None => "combustion CO2 factor".into(),
                    },
                    value: v,
                    unit: format!("t CO2 per {}", unit[r]),
                    factor_year: None,
                    scope: None,
                    source_id: some(&csrc[r]),
                    quality: some(&cq[r]),
                });
            }
            if let Some(v) = ind[r] {
                let heat = iscope[r] == "heat";
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: if heat {
                        "heat CO2 factor".into()
                    } else {
                        "grid CO2 factor".into()
                    },
                    value: v,
                    unit: if heat {
                        "t CO2 per GJ".into()
                    } else {
                        "t CO2 per MWh".into()
                    },
                    factor_year: fyear[r].map(|y| y as i32),
                    scope: some(&iscope[r]).map(|s| {
                        if iarea[r].is_empty() {
                            s
                        } else {
                            format!("{s} {}", iarea[r])
                        }
                    }),
                    source_id: some(&isrc[r]),
                    quality: some(&iq[r]),
                });
            }
        }
    }
    // a fuel burnt by a sector with its own factor and by others gives two
    // rows of the query that share their other factors: list each factor once
    let mut seen = std::collections::HashSet::new();
    factors_used.retain(|f| {
        seen.insert(format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}",
            f.energy_code,
            f.kind,
            f.value.to_bits(),
            f.factor_year,
            f.scope
        ))
    });
    Ok(factors_used)
}

/// The rows of the explain_*_rows queries (production, sinks, green power).
fn read_budget_rows(rows: &[RecordBatch]) -> Result<Vec<BudgetRow>> {
    let mut budget_rows = Vec::new();
    for b in rows {
        let (kind, key, name, file) = (
            strings(b, 0)?,
            strings(b, 1)?,
            strings(b, 2)?,
            strings(b, 3)?,
        );
        let (line, qty, unit, factor, funit, amount) = (
            f64s(b, 4)?,
            f64s(b, 5)?,
            strings(b, 6)?,
            f64s(b, 7)?,
            strings(b, 8)?,
            f64s(b, 9)?,
        );
        let (src, q) = (strings(b, 10)?, strings(b, 11)?);
        for r in 0..b.num_rows() {
            let some = |s: &String| (!s.is_empty()).then(|| s.clone());
            budget_rows.push(BudgetRow {
                kind: kind[r].clone(),
                key: key[r].clone(),
                name: name[r].clone(),
                source_file: file[r].clone(),
                source_line: line[r].unwrap_or_default() as i64,
                quantity: qty[r].unwrap_or_default(),
                unit: unit[r].clone(),
                factor: factor[r].unwrap_or_default(),
                factor_unit: funit[r].clone(),
                amount_t: amount[r].unwrap_or_default(),
                source_id: some(&src[r]),
                quality: some(&q[r]),
            });
        }
    }
    Ok(budget_rows)
}

/// The base year and whether intensities are rounded before a change rate.
async fn run_params(ctx: &datafusion::prelude::SessionContext) -> Result<(i32, bool)> {
    let b = queries::EXPLAIN_RUN_PARAMS.collect(ctx, &[]).await?;
    let b = b
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| Error::Internal("run_params has no row".into()))?;
    let base_year = f64s(b, 0)?[0].unwrap_or_default() as i32;
    let nbs_rounding = b.column(1).as_boolean().value(0);
    Ok((base_year, nbs_rounding))
}

/// The published value of `indicator` for a region and year, read from the
/// published file the manifest names.
pub async fn published_value(
    p: &Published,
    region: &str,
    year: i32,
    indicator: &str,
) -> Result<Option<f64>> {
    published_value_in(
        p,
        "region_indicators",
        "region_code",
        region,
        year,
        indicator,
    )
    .await
}

/// What an explanation is about besides a region: one enterprise of
/// `enterprise_totals` or one group of `group_indicators`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Enterprise,
    Group,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Subject::Enterprise => "enterprise",
            Subject::Group => "group",
        }
    }

    /// The dataset a subject's numbers are published in.
    pub fn dataset(self) -> &'static crate::publish::schema::Dataset {
        match self {
            Subject::Enterprise => &crate::publish::schema::ENTERPRISE_TOTALS,
            Subject::Group => &crate::publish::schema::GROUP_INDICATORS,
        }
    }

    /// The dataset's key column (its id).
    pub fn key_column(self) -> &'static str {
        match self {
            Subject::Enterprise => "enterprise_id",
            Subject::Group => "group_id",
        }
    }
}

/// The numeric column of a subject's dataset an explanation is asked for.
pub fn subject_column(
    subject: Subject,
    indicator: &str,
) -> Result<&'static crate::publish::schema::Column> {
    let d = subject.dataset();
    let numeric = |c: &&crate::publish::schema::Column| {
        c.ty == crate::publish::schema::ColType::Float
            && !c.name.ends_with("_limit")
            && !c.name.ends_with("_min")
    };
    d.columns
        .iter()
        .filter(numeric)
        .find(|c| c.name == indicator)
        .ok_or_else(|| Error::Config {
            file: PathBuf::from("--indicator"),
            message: format!(
                "'{indicator}' is not a numeric column of {}; one of: {}",
                d.name,
                d.columns
                    .iter()
                    .filter(numeric)
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Explain `indicator` of an enterprise or a group in `year` from a computed
/// run: the formula over the row's own columns, the members' records by
/// energy and by member, the factor rows they used (and for a group the grid
/// factor of its purchased power and the park criteria), the production and
/// green-power rows.
pub async fn explain_subject(
    c: &Computed,
    subject: Subject,
    id: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    explain_subject_in(Src::Run(c), subject, id, year, indicator, published_value).await
}

/// Explain an enterprise or a group from what the run published (the tables
/// of [`PublishedTables::for_subject_year`]): the same explanation as
/// [`explain_subject`] gives from the run computed again.
pub async fn explain_subject_published(
    t: &PublishedTables,
    subject: Subject,
    id: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    explain_subject_in(
        Src::Published(t),
        subject,
        id,
        year,
        indicator,
        published_value,
    )
    .await
}

async fn explain_subject_in(
    src: Src<'_>,
    subject: Subject,
    id: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    let ctx = src.ctx();
    let spec = subject_column(subject, indicator)?;
    let params = [
        ScalarValue::from(subject.as_str()),
        ScalarValue::from(id),
        ScalarValue::Int32(Some(year)),
    ];
    // each query of the subject's sections: from the single records, or
    // from the published datasets (the row itself: one query for both)
    let q = |run, published| src.pick(run, published);
    let rows = queries::EXPLAIN_SUBJECT_ROW.collect(ctx, &params).await?;
    let mut cur: Option<BTreeMap<String, Option<f64>>> = None;
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for b in &rows {
        let schema = b.schema();
        if b.num_rows() == 0 {
            continue;
        }
        let mut m = BTreeMap::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if matches!(f.data_type(), DataType::Float64) {
                m.insert(f.name().clone(), f64s(b, i)?[0]);
            } else {
                texts.insert(f.name().clone(), strings(b, i)?[0].clone());
            }
        }
        cur = Some(m);
    }
    let cur = cur.ok_or_else(|| {
        Error::Usage(format!(
            "{} {id} has no row for {year} in {}: {}; check the id and the year",
            subject.as_str(),
            subject.dataset().name,
            match subject {
                Subject::Enterprise => {
                    "the run has no energy records or production rows of it that year (the id is the 18-character \
                     credit code, as in enterprise_annual)"
                }
                Subject::Group => "no group of that id is in the groups input in force that year",
            }
        ))
    })?;
    let get = |k: &str| cur.get(k).copied().flatten();
    let value = get(indicator);
    let t = |name: &str, v: Option<f64>, unit: &str| Term {
        name: name.into(),
        value: v,
        unit: unit.into(),
    };
    let fmt = |v: Option<f64>| v.map_or("NULL".to_string(), |x| format!("{x}"));
    let ratio = |n: &str, d: &str, nu: &str, du: &str| {
        let (a, b) = (get(n), get(d));
        let res = match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        (
            format!("{n} / {d}"),
            format!("{} / {}", fmt(a), fmt(b)),
            res,
            vec![t(n, a, nu), t(d, b, du)],
        )
    };
    let (formula, with_values, result, terms) = match (subject, indicator) {
        (Subject::Enterprise, "co2_t") => {
            let (d, i) = (get("co2_direct_t"), get("co2_indirect_t"));
            (
                "co2_direct_t + co2_indirect_t".to_string(),
                format!("{} + {}", fmt(d), fmt(i)),
                // enterprise_totals adds the two as DECIMAL(38, 6) sums and
                // casts the total: added as doubles they can differ in the
                // last bit (3322417.8974880003 for 2323476.308854 +
                // 998941.588634)
                d.zip(i).map(|(d, i)| fixed_point_sum(&[d, i])),
                vec![
                    t("co2_direct_t", d, "t CO2"),
                    t("co2_indirect_t", i, "t CO2"),
                ],
            )
        }
        (Subject::Group, "co2_t") => {
            let (d, e, h) = (
                get("co2_direct_t"),
                get("co2_electricity_t"),
                get("co2_heat_t"),
            );
            let res = match (d, e, h) {
                (Some(d), Some(e), Some(h)) => Some(d + e + h),
                _ => None,
            };
            (
                "co2_direct_t + co2_electricity_t + co2_heat_t".to_string(),
                format!("{} + {} + {}", fmt(d), fmt(e), fmt(h)),
                res,
                vec![
                    t("co2_direct_t", d, "t CO2"),
                    t("co2_electricity_t", e, "t CO2"),
                    t("co2_heat_t", h, "t CO2"),
                ],
            )
        }
        (Subject::Group, "co2_electricity_t") => {
            let (i, g, f) = (
                get("electricity_in_kwh"),
                get("green_power_used_kwh"),
                get("grid_factor"),
            );
            let res = match (i, g, f) {
                (Some(i), Some(g), Some(f)) => Some((i - g) / 1000.0 * f),
                _ => None,
            };
            (
                "(electricity_in_kwh - green_power_used_kwh) / 1000 x grid_factor".to_string(),
                format!("({} - {}) / 1000 x {}", fmt(i), fmt(g), fmt(f)),
                res,
                vec![
                    t("electricity_in_kwh", i, "kWh"),
                    t("green_power_used_kwh", g, "kWh"),
                    t("grid_factor", f, "t CO2 per MWh"),
                ],
            )
        }
        (Subject::Group, "electricity_use_kwh") => {
            let (i, n, o) = (
                get("electricity_in_kwh"),
                get("non_fossil_generation_kwh"),
                get("electricity_out_kwh"),
            );
            let res = match (i, n, o) {
                (Some(i), Some(n), Some(o)) => Some(i + (n - o).max(0.0)),
                _ => None,
            };
            (
                "electricity_in_kwh + max(non_fossil_generation_kwh - electricity_out_kwh, 0)"
                    .to_string(),
                format!("{} + max({} - {}, 0)", fmt(i), fmt(n), fmt(o)),
                res,
                vec![
                    t("electricity_in_kwh", i, "kWh"),
                    t("non_fossil_generation_kwh", n, "kWh"),
                    t("electricity_out_kwh", o, "kWh"),
                ],
            )
        }
        (Subject::Group, "co2_per_tce") => ratio("co2_t", "energy_tce_equivalent", "t CO2", "tce"),
        (Subject::Group, "clean_energy_share") => {
            ratio("clean_energy_tce", "energy_consumed_tce", "tce", "tce")
        }
        (Subject::Group, "green_power_share") => {
            ratio("green_power_used_kwh", "electricity_use_kwh", "kWh", "kWh")
        }
        _ => (
            match (subject, indicator) {
                (_, "co2_process_t") => {
                    "sum of the production rows below (quantity x process factor)".to_string()
                }
                (Subject::Group, "green_power_kwh") => {
                    "sum of the members' green_power rows below".to_string()
                }
                (Subject::Group, "green_power_used_kwh") => {
                    "sum over members of min(its green power, its electricity bought)".to_string()
                }
                (Subject::Group, "clean_energy_tce") => "natural gas + biomass consumed + (green_power_used_kwh + non-fossil power the members generated and used) x the year's coal rate".to_string(),
                (Subject::Group, _) => format!("sum over the members' records of {indicator}"),
                (Subject::Enterprise, _) => {
                    format!("sum over the enterprise's records of {indicator}")
                }
            },
            fmt(value),
            value,
            vec![t(indicator, value, spec.unit)],
        ),
    };

    let by_energy = read_contrib(
        q(
            &queries::EXPLAIN_MEMBER_BY_ENERGY,
            &queries::PUBLISHED_MEMBER_BY_ENERGY,
        )
        .collect(ctx, &params)
        .await?,
    )?;
    let top_enterprises = read_contrib(
        q(&queries::EXPLAIN_MEMBER_TOP, &queries::PUBLISHED_MEMBER_TOP)
            .collect(ctx, &params)
            .await?,
    )?;
    let mut factors_used = read_factor_rows(
        src.factors(),
        &q(
            &queries::EXPLAIN_MEMBER_FACTORS,
            &queries::PUBLISHED_MEMBER_FACTORS,
        )
        .collect(ctx, &params)
        .await?,
    )?;
    if subject == Subject::Group {
        // the factor of the power the group bought, and a park's criteria
        factors_used.push(FactorUsed {
            energy_code: "electricity".into(),
            kind: "grid CO2 factor of power bought (green power at zero)".into(),
            value: get("grid_factor").unwrap_or_default(),
            unit: "t CO2 per MWh".into(),
            factor_year: get("grid_factor_year").map(|y| y as i32),
            scope: texts.get("grid_factor_scope").cloned(),
            source_id: texts.get("grid_factor_source_id").cloned(),
            quality: texts.get("grid_factor_quality").cloned(),
        });
        for cr in &src.factors().criteria {
            if cr.applies_to != crate::factors::CriterionScope::ZeroCarbonPark {
                continue;
            }
            let limit = match cr.indicator.as_str() {
                "co2_per_tce" => get("co2_per_tce_limit"),
                "clean_energy_share" => get("clean_energy_share_min"),
                _ => None,
            };
            // the criterion the park was judged by (its band)
            if limit == Some(cr.threshold) {
                factors_used.push(FactorUsed {
                    energy_code: cr.criterion.clone(),
                    kind: format!(
                        "zero-carbon park criterion ({} {})",
                        cr.indicator, cr.comparator
                    ),
                    value: cr.threshold,
                    unit: cr.unit.clone(),
                    factor_year: None,
                    scope: Some(format!(
                        "band {}-{} tce",
                        cr.band_from_tce.map_or(String::new(), |v| v.to_string()),
                        cr.band_to_tce.map_or(String::new(), |v| v.to_string())
                    )),
                    source_id: Some(cr.source_id.clone()),
                    quality: Some(cr.quality.to_string()),
                });
            }
        }
    }
    let mut rows = q(
        &queries::EXPLAIN_MEMBER_PROCESS_ROWS,
        &queries::PUBLISHED_MEMBER_PROCESS_ROWS,
    )
    .collect(ctx, &params)
    .await?;
    rows.extend(
        q(
            &queries::EXPLAIN_MEMBER_GREEN_ROWS,
            &queries::PUBLISHED_MEMBER_GREEN_ROWS,
        )
        .collect(ctx, &params)
        .await?,
    );
    let budget_rows = read_budget_rows(&rows)?;
    let steps = sql_steps();
    Ok(Explanation {
        region_code: id.to_string(),
        region_name: texts.get("subject_name").cloned().unwrap_or_default(),
        year,
        indicator: indicator.to_string(),
        unit: spec.unit.to_string(),
        value,
        published_value,
        formula,
        formula_with_values: with_values,
        formula_result: result,
        terms,
        rounding: None,
        gdp_chain: Vec::new(),
        by_energy,
        by_sector: Vec::new(),
        top_enterprises,
        factors_used,
        budget_rows,
        sql_steps: steps,
    })
}

/// The published value of `column` in the row of `dataset` whose
/// `key_column` is `key`, in the partition of `year`.
pub async fn published_value_in(
    p: &Published,
    dataset: &str,
    key_column: &str,
    key: &str,
    year: i32,
    column: &str,
) -> Result<Option<f64>> {
    let Some(f) = p
        .manifest
        .outputs
        .iter()
        .find(|o| o.dataset == dataset && o.partition == format!("year={year}"))
    else {
        return Ok(None);
    };
    let Some(bytes) = p.out.get(&f.path).await? else {
        return Ok(None);
    };
    for b in batches_of(&bytes)? {
        let schema = b.schema();
        let keys = strings(&b, schema.index_of(key_column)?)?;
        let values = f64s(&b, schema.index_of(column)?)?;
        if let Some(r) = keys.iter().position(|c| c == key) {
            return Ok(values[r]);
        }
    }
    Ok(None)
}

/// The sum of amounts published as doubles of 6-decimal fixed-point values,
/// as SQL adds them: each back to its micro-units, added as integers, and
/// cast to a double as Arrow casts a DECIMAL(38, 6) (the integer over 10^6).
fn fixed_point_sum(terms: &[f64]) -> f64 {
    let micro: i128 = terms.iter().map(|t| (t * 1e6).round() as i128).sum();
    micro as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::prelude::SessionContext;

    /// The sum of 6-decimal amounts is the double SQL gives for their
    /// DECIMAL(38, 6) sum, bit for bit, where adding the doubles is not:
    /// 2323476.308854 + 998941.588634 = 3322417.8974880003 as doubles.
    #[test]
    fn fixed_point_sums_are_those_of_sql() {
        let cases: [&[f64]; 5] = [
            &[2323476.308854, 998941.588634],
            &[0.1, 0.2],
            &[-1187910.745418, 939890.094816, 0.000001],
            &[123456789.123456, -0.654321, 7.0],
            &[1e-6, 1e-6, 1e-6],
        ];
        assert_ne!(2323476.308854 + 998941.588634, 3322417.897488);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            for terms in cases {
                let sql = format!(
                    "SELECT CAST({} AS DOUBLE)",
                    terms
                        .iter()
                        .map(|t| format!("CAST({t} AS DECIMAL(38, 6))"))
                        .collect::<Vec<_>>()
                        .join(" + ")
                );
                let b: Vec<RecordBatch> = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                let sql_sum = b[0].column(0).as_primitive::<Float64Type>().value(0);
                assert_eq!(
                    super::fixed_point_sum(terms).to_bits(),
                    sql_sum.to_bits(),
                    "{sql}"
                );
            }
        });
        assert_eq!(
            super::fixed_point_sum(&[2323476.308854, 998941.588634]),
            3322417.897488
        );
    }
}
