//! Reading results back from the session: counts per input file, rejects
//! by rule, and the terminal summary (the queries are files of
//! `sql/queries/`, see crate::engine::queries).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use datafusion::prelude::SessionContext;

use crate::engine::queries;
use crate::error::Result;
use crate::input::ResolvedInput;
use crate::publish::manifest::{InputRecord, InputTotal};

/// One line of the terminal summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub region_code: String,
    pub region_name: String,
    pub level: String,
    pub year: i32,
    pub energy_tce: f64,
    pub co2_t: f64,
    pub energy_intensity: Option<f64>,
    pub energy_intensity_change_yoy: Option<f64>,
    pub energy_intensity_change_base: Option<f64>,
    pub co2_intensity: Option<f64>,
    pub co2_intensity_change_yoy: Option<f64>,
    pub co2_intensity_change_base: Option<f64>,
    pub energy_warning: Option<i32>,
    pub co2_warning: Option<i32>,
    /// co2_t + process CO2 − sinks
    pub co2_net_t: f64,
    pub co2_peak_year: Option<i32>,
    /// At least three years after the peak, all below it.
    pub peaked: bool,
}

/// What a statistician would stop at in the summary rows, each with what
/// explains it and where to look: a region-year with negative energy (its
/// electricity and products sent out, valued at the year's rates, exceed what
/// it consumed: possible at equal value for a region whose plants are more
/// efficient than the national average coal rate, more often an output record
/// too large) or negative CO2 (its net export of electricity credited at the
/// grid factor exceeds its direct emissions: the net-import rule). Nothing is
/// changed; the run logs each at warn and the summary lists them.
pub fn plausibility(rows: &[SummaryRow]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        if r.energy_tce < 0.0 {
            out.push(format!(
                "{} {} {}: energy {:.0} tce is negative: the electricity, heat and products it sent out (flow = output, electricity at the year's coal rate) exceed what it consumed; check its plants' output records (explain --region {} --year {} --indicator energy_tce)",
                r.region_code, r.region_name, r.year, r.energy_tce, r.region_code, r.year
            ));
        }
        if r.co2_t < 0.0 {
            out.push(format!(
                "{} {} {}: CO2 {:.0} t is negative: its net export of electricity, credited at the grid factor, exceeds its direct emissions (the net-import rule, README \"Simplifications to know\"); co2_direct_t shows what burnt there",
                r.region_code, r.region_name, r.year, r.co2_t
            ));
        }
    }
    out
}

/// The intensity targets that cannot be judged in some of their years: the
/// region has no GDP at constant prices there (`unjudged_targets.sql`), so
/// target_progress has no row for them. One note per target, with the years
/// and whether the gdp row is missing or the index chain broken; the run
/// lists them with the other notes ([`plausibility`]).
pub(crate) async fn unjudged_targets(ctx: &SessionContext) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in queries::UNJUDGED_TARGETS.collect(ctx, &[]).await? {
        let (code, name, plan, indicator) =
            (text(&b, 0)?, text(&b, 1)?, text(&b, 2)?, text(&b, 3)?);
        let base = cast(b.column(4), &DataType::Int32)?;
        let base = base.as_primitive::<Int32Type>();
        let target = cast(b.column(5), &DataType::Int32)?;
        let target = target.as_primitive::<Int32Type>();
        let (without, no_row, broken) = (text(&b, 6)?, text(&b, 7)?, text(&b, 8)?);
        let base_without = b.column(9).as_boolean();
        let base_has_row = b.column(10).as_boolean();
        for r in 0..b.num_rows() {
            let mut causes = Vec::new();
            if !no_row.value(r).is_empty() {
                causes.push(format!("the gdp input has no row for {}", no_row.value(r)));
            }
            if !broken.value(r).is_empty() {
                causes.push(format!(
                    "{} has a gdp row but a gdp_index is missing in the chain to it (region_gdp shows the chain)",
                    broken.value(r)
                ));
            }
            if base_without.value(r) && !base_has_row.value(r) {
                causes.push(format!(
                    "no energy, CO2 or GDP at all for {}",
                    base.value(r)
                ));
            }
            let scope = if base_without.value(r) {
                format!(
                    "in any year: its base year {} has no GDP at constant prices",
                    base.value(r)
                )
            } else {
                format!("in {}: no GDP at constant prices", without.value(r))
            };
            out.push(format!(
                "{} {}: target {} {} ({} → {}) is not judged {scope} ({}); target_progress has no row for those years: add the GDP and run again",
                code.value(r),
                name.value(r),
                plan.value(r),
                indicator.value(r),
                base.value(r),
                target.value(r),
                causes.join("; "),
            ));
        }
    }
    Ok(out)
}

/// Process CO2 and sinks of region-years without energy records
/// (`budget_without_energy.sql`): region_indicators has no row for them, so
/// co2_net_t does not count them. One note per region and year of the rows.
pub(crate) async fn budget_without_energy(ctx: &SessionContext) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in queries::BUDGET_WITHOUT_ENERGY.collect(ctx, &[]).await? {
        let (code, name) = (text(&b, 0)?, text(&b, 1)?);
        let year = cast(b.column(2), &DataType::Int32)?;
        let year = year.as_primitive::<Int32Type>();
        let process = cast(b.column(3), &DataType::Float64)?;
        let process = process.as_primitive::<Float64Type>();
        let sink = cast(b.column(4), &DataType::Float64)?;
        let sink = sink.as_primitive::<Float64Type>();
        let above = cast(b.column(5), &DataType::Int64)?;
        let above = above.as_primitive::<Int64Type>();
        let above_without = cast(b.column(6), &DataType::Int64)?;
        let above_without = above_without.as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let y = year.value(r);
            let (n, m) = (above.value(r), above_without.value(r));
            let reach = if n == 0 {
                String::new()
            } else if m == n {
                format!(
                    ", nor do the {n} region(s) above it: no energy records in {y} reach them, and their co2_net_t for {y} does not exist either"
                )
            } else if m == 0 {
                " (the regions above it count them: their rows sum the rows below)".to_string()
            } else {
                format!(" ({m} of the {n} region(s) above it have no row for {y} either)")
            };
            out.push(format!(
                "{} {} {y}: process CO2 {:.1} t and sinks {:.1} t, but no energy records there that year, so region_indicators has no row for it{reach}; \
                 process_emissions and region_sectors show them: add the region's energy records for {y}, or correct the region_code or year of its production and sinks rows",
                code.value(r),
                name.value(r),
                process.value(r),
                sink.value(r),
            ));
        }
    }
    Ok(out)
}

/// A group in its latest year, as the terminal summary shows it.
#[derive(Debug, Clone)]
pub struct GroupSummaryRow {
    pub group_id: String,
    pub group_name: String,
    pub kind: String,
    pub year: i32,
    pub members: i32,
    pub members_reporting: i32,
    pub energy_tce_equivalent: f64,
    pub co2_per_tce: Option<f64>,
    pub co2_per_tce_limit: Option<f64>,
    pub co2_per_tce_check: String,
    pub clean_energy_share: Option<f64>,
    pub clean_energy_share_min: Option<f64>,
    pub clean_energy_share_check: String,
    pub green_power_share: Option<f64>,
}

/// A text column as `Utf8`, whichever string layout the engine chose
/// (DataFusion may return `Utf8View` or `LargeUtf8`).
pub(crate) fn text(batch: &RecordBatch, i: usize) -> Result<StringArray> {
    let a = cast(batch.column(i), &DataType::Utf8)?;
    Ok(a.as_string::<i32>().clone())
}

/// (input, source_file) → (read, accepted, rejected)
pub(crate) type Counts = BTreeMap<(String, String), (u64, u64, u64)>;

pub(crate) async fn input_counts(ctx: &SessionContext) -> Result<Counts> {
    let batches = queries::INPUT_COUNTS.collect(ctx, &[]).await?;
    let mut out = Counts::new();
    for b in &batches {
        let input = text(b, 0)?;
        let file = text(b, 1)?;
        let read = b.column(2).as_primitive::<Int64Type>();
        let acc = b.column(3).as_primitive::<Int64Type>();
        let rej = b.column(4).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.insert(
                (input.value(i).to_string(), file.value(i).to_string()),
                (
                    read.value(i) as u64,
                    acc.value(i) as u64,
                    rej.value(i) as u64,
                ),
            );
        }
    }
    Ok(out)
}

pub(crate) async fn rejects_by_rule(ctx: &SessionContext) -> Result<Vec<(String, String, u64)>> {
    let batches = queries::REJECTS_BY_RULE.collect(ctx, &[]).await?;
    let mut out = Vec::new();
    for b in &batches {
        let input = text(b, 0)?;
        let rule = text(b, 1)?;
        let n = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.push((
                input.value(i).to_string(),
                rule.value(i).to_string(),
                n.value(i) as u64,
            ));
        }
    }
    Ok(out)
}

pub(crate) fn input_records(
    inputs: &[ResolvedInput],
    counts: &Counts,
) -> (Vec<InputRecord>, Vec<InputTotal>) {
    let mut records = Vec::new();
    let mut totals = Vec::new();
    for input in inputs {
        let mut total = InputTotal {
            input: input.spec.name.to_string(),
            files: input.files.len() as u64,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
        };
        for f in &input.files {
            let (read, acc, rej) = counts
                .get(&(input.spec.name.to_string(), f.source_name()))
                .copied()
                .unwrap_or((0, 0, 0));
            total.rows_read += read;
            total.rows_accepted += acc;
            total.rows_rejected += rej;
            records.push(InputRecord {
                input: input.spec.name.to_string(),
                file: f.clone(),
                rows_read: read,
                rows_accepted: acc,
                rows_rejected: rej,
            });
        }
        totals.push(total);
    }
    (records, totals)
}

pub(crate) async fn summary(ctx: &SessionContext) -> Result<Vec<SummaryRow>> {
    let batches = queries::SUMMARY.collect(ctx, &[]).await?;
    let mut out = Vec::new();
    for b in &batches {
        let (codes, names, levels) = (text(b, 0)?, text(b, 1)?, text(b, 2)?);
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>();
        let opt_f = |i: usize, r: usize| {
            let a = f(i);
            (!a.is_null(r)).then(|| a.value(r))
        };
        let opt_i = |i: usize, r: usize| {
            let a = b.column(i).as_primitive::<Int32Type>();
            (!a.is_null(r)).then(|| a.value(r))
        };
        for r in 0..b.num_rows() {
            out.push(SummaryRow {
                region_code: codes.value(r).to_string(),
                region_name: names.value(r).to_string(),
                level: levels.value(r).to_string(),
                year: b.column(3).as_primitive::<Int32Type>().value(r),
                energy_tce: f(4).value(r),
                co2_t: f(5).value(r),
                energy_intensity: opt_f(6, r),
                energy_intensity_change_yoy: opt_f(7, r),
                energy_intensity_change_base: opt_f(8, r),
                co2_intensity: opt_f(9, r),
                co2_intensity_change_yoy: opt_f(10, r),
                co2_intensity_change_base: opt_f(11, r),
                energy_warning: opt_i(12, r),
                co2_warning: opt_i(13, r),
                co2_net_t: f(14).value(r),
                co2_peak_year: opt_i(15, r),
                peaked: opt_i(16, r).is_some_and(|n| n >= 3),
            });
        }
    }
    Ok(out)
}

pub(crate) async fn group_summary(ctx: &SessionContext) -> Result<Vec<GroupSummaryRow>> {
    let batches = queries::SUMMARY_GROUPS.collect(ctx, &[]).await?;
    let mut out = Vec::new();
    for b in &batches {
        let (ids, names, kinds) = (text(b, 0)?, text(b, 1)?, text(b, 2)?);
        let (co2_check, clean_check) = (text(b, 9)?, text(b, 12)?);
        let int = |i: usize, r: usize| b.column(i).as_primitive::<Int32Type>().value(r);
        let opt_f = |i: usize, r: usize| {
            let a = b.column(i).as_primitive::<Float64Type>();
            (!a.is_null(r)).then(|| a.value(r))
        };
        for r in 0..b.num_rows() {
            out.push(GroupSummaryRow {
                group_id: ids.value(r).to_string(),
                group_name: names.value(r).to_string(),
                kind: kinds.value(r).to_string(),
                year: int(3, r),
                members: int(4, r),
                members_reporting: int(5, r),
                energy_tce_equivalent: opt_f(6, r).unwrap_or_default(),
                co2_per_tce: opt_f(7, r),
                co2_per_tce_limit: opt_f(8, r),
                co2_per_tce_check: co2_check.value(r).to_string(),
                clean_energy_share: opt_f(10, r),
                clean_energy_share_min: opt_f(11, r),
                clean_energy_share_check: clean_check.value(r).to_string(),
                green_power_share: opt_f(13, r),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, year: i32, energy_tce: f64, co2_t: f64) -> SummaryRow {
        SummaryRow {
            region_code: code.into(),
            region_name: "镇".into(),
            level: "town".into(),
            year,
            energy_tce,
            co2_t,
            energy_intensity: None,
            energy_intensity_change_yoy: None,
            energy_intensity_change_base: None,
            co2_intensity: None,
            co2_intensity_change_yoy: None,
            co2_intensity_change_base: None,
            energy_warning: None,
            co2_warning: None,
            co2_net_t: co2_t,
            co2_peak_year: None,
            peaked: false,
        }
    }

    #[test]
    fn negative_energy_and_co2_are_listed_with_what_explains_them() {
        // a town whose wind farm sent out 10 % more than it generated:
        // 5 000 × 10^4 kWh in, 5 500 out, at 0.3 kgce/kWh: −1 500 tce
        let rows = [
            row("150622100", 2023, 12.5, 40.0),
            row("150622101", 2023, -1500.0, 10.0),
            row("150622102", 2023, 300.0, -2500.4),
            // zero is not odd: a region with no records yet
            row("150622103", 2023, 0.0, 0.0),
        ];
        let notes = plausibility(&rows);
        assert_eq!(notes.len(), 2, "{notes:#?}");
        assert!(
            notes[0].starts_with("150622101 镇 2023: energy -1500 tce is negative:")
                && notes[0]
                    .ends_with("(explain --region 150622101 --year 2023 --indicator energy_tce)"),
            "{}",
            notes[0]
        );
        assert!(
            notes[1].starts_with(
                "150622102 镇 2023: CO2 -2500 t is negative: its net export of electricity"
            ),
            "{}",
            notes[1]
        );
    }
}
