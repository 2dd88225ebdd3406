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
