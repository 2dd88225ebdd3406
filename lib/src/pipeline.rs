//! One run of the pipeline, end to end: load and check the factor set, resolve
//! and hash the inputs, validate (20_validate.sql), stop when the reject ratio
//! is too high, compute (30-60), write the datasets, publish, manifest last.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use datafusion::prelude::SessionContext;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::factors::{FactorSet, sha256_hex};
use crate::ingest::{ResolvedInput, register_raw, resolve_inputs};
use crate::manifest::{
    ConfigRecord, FactorSetRecord, InputRecord, InputTotal, MANIFEST_VERSION, Manifest, Program,
    StepRecord,
};
use crate::publish::{OutputStore, commit, write_all};
use crate::session::{new_session, register_run};
use crate::steps::{STEPS, run_steps};

/// What a finished run tells its caller.
#[derive(Debug)]
pub struct RunReport {
    pub manifest: Manifest,
    pub output: String,
    /// (input, rule_id, rows)
    pub rejects_by_rule: Vec<(String, String, u64)>,
    pub summary: Vec<SummaryRow>,
}

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
}

fn config_error(cfg: &LoadedConfig, message: String) -> Error {
    Error::Config {
        file: cfg.path.clone(),
        message,
    }
}

/// A session with everything registered and the validation steps done.
pub struct Prepared {
    pub ctx: SessionContext,
    pub factors: FactorSet,
    pub inputs: Vec<ResolvedInput>,
}

/// Load, register and validate; shared by `run` and the tests.
pub async fn prepare(cfg: &LoadedConfig) -> Result<Prepared> {
    let factors_dir = cfg
        .resolve_local(&cfg.config.factors)
        .map_err(|m| config_error(cfg, format!("factors: {m}")))?;
    let factors = FactorSet::load_checked(&factors_dir)?;
    let inputs = resolve_inputs(cfg)?;
    let ctx = new_session(&cfg.config)?;
    register_run(&ctx, &cfg.config, &factors)?;
    register_raw(&ctx, &inputs)?;
    run_steps(&ctx, &STEPS[..2]).await?;
    check_region_cycles(&ctx).await?;
    Ok(Prepared {
        ctx,
        factors,
        inputs,
    })
}

pub async fn run(cfg: &LoadedConfig) -> Result<RunReport> {
    let started_at = chrono::Utc::now();
    let out_dir = cfg
        .resolve_local(&cfg.config.output)
        .map_err(|m| config_error(cfg, format!("output: {m}")))?;
    let Prepared {
        ctx,
        factors,
        inputs,
    } = prepare(cfg).await?;

    let counts = input_counts(&ctx).await?;
    let rejects_by_rule = rejects_by_rule(&ctx).await?;
    let (records, totals) = input_records(&inputs, &counts);
    quality_gate(cfg, &ctx, &totals).await?;

    run_steps(&ctx, &STEPS[2..]).await?;

    let effective = serde_json::to_value(&cfg.config)
        .map_err(|e| Error::Internal(format!("config to JSON: {e}")))?;
    let steps: Vec<StepRecord> = STEPS
        .iter()
        .map(|s| StepRecord {
            name: s.name.to_string(),
            sha256: s.sha256(),
        })
        .collect();
    let program = Program {
        name: "carbonstat".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        datafusion: datafusion::DATAFUSION_VERSION.into(),
    };
    let fingerprint = {
        let mut h = Sha256::new();
        let material = json!({
            "program": program,
            "config": effective,
            "factor_set": factors.hash,
            "sql": steps,
            "inputs": records.iter().map(|r| json!([r.input, r.path, r.sha256])).collect::<Vec<_>>(),
        });
        h.update(material.to_string().as_bytes());
        hex::encode(h.finalize())
    };
    let run_id = format!(
        "{}-{}",
        started_at.format("%Y%m%dT%H%M%SZ"),
        &fingerprint[..8]
    );

    let out = OutputStore::open_local(&out_dir)?;
    let outputs = match write_all(&ctx, &out, &run_id).await {
        Ok(o) => o,
        Err(e) => {
            discard_staging(&out, &run_id).await;
            return Err(e);
        }
    };
    let summary = summary(&ctx).await?;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        run_id: run_id.clone(),
        program,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        fingerprint,
        config: ConfigRecord {
            path: cfg.path.display().to_string(),
            sha256: sha256_hex(cfg.raw.as_bytes()),
            effective,
        },
        factor_set: FactorSetRecord {
            id: factors.meta.id.clone(),
            title: factors.meta.title.clone(),
            location: cfg.config.factors.clone(),
            sha256: factors.hash.clone(),
            files: factors.files.clone(),
        },
        sql_steps: steps,
        inputs: records,
        input_totals: totals,
        outputs,
    };
    if let Err(e) = commit(&out, &run_id, &manifest).await {
        discard_staging(&out, &run_id).await;
        return Err(e);
    }
    tracing::info!(run_id = %run_id, output = %out.url, files = manifest.outputs.len(), "published");
    Ok(RunReport {
        manifest,
        output: out.url.clone(),
        rejects_by_rule,
        summary,
    })
}

/// Best effort after a failure: remove what this run staged. The published
/// reports and manifest were not touched.
async fn discard_staging(out: &OutputStore, run_id: &str) {
    let staging = format!("{}/{run_id}", crate::publish::STAGING_PREFIX);
    let cleaned = async {
        for f in out.list(&staging).await? {
            out.delete(&f).await?;
        }
        out.prune_empty_dirs(crate::publish::STAGING_PREFIX)
    };
    if let Err(e) = cleaned.await {
        tracing::warn!(staging = %staging, "could not remove the staged files of the failed run: {e}");
    }
}

/// Refuse a regions table whose parent links loop: a roll-up would count a
/// region twice.
async fn check_region_cycles(ctx: &SessionContext) -> Result<()> {
    let batches = collect(ctx, "SELECT region_code, parent_code FROM regions_ok").await?;
    let mut parent: HashMap<String, String> = HashMap::new();
    for b in &batches {
        let codes = text(b, 0)?;
        let parents = text(b, 1)?;
        for i in 0..b.num_rows() {
            if !parents.is_null(i) {
                parent.insert(codes.value(i).to_string(), parents.value(i).to_string());
            }
        }
    }
    let mut starts: Vec<&String> = parent.keys().collect();
    starts.sort();
    for start in starts {
        let mut path = vec![start.as_str()];
        let mut cur = start.as_str();
        while let Some(p) = parent.get(cur) {
            if p == start {
                path.push(p);
                return Err(Error::InputFile {
                    input: "regions".into(),
                    file: "regions".into(),
                    message: format!(
                        "parent_code links form a cycle: {}; a region cannot be its own ancestor",
                        path.join(" → ")
                    ),
                });
            }
            if path.len() > 64 {
                break;
            }
            path.push(p);
            cur = p;
        }
    }
    Ok(())
}

/// A text column as `Utf8`, whichever string layout the engine chose
/// (DataFusion may return `Utf8View` or `LargeUtf8`).
fn text(batch: &RecordBatch, i: usize) -> Result<StringArray> {
    let a = cast(batch.column(i), &DataType::Utf8)?;
    Ok(a.as_string::<i32>().clone())
}

pub async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let wrap = |source| Error::Sql {
        step: sql.chars().take(60).collect(),
        source,
    };
    ctx.sql(sql)
        .await
        .map_err(wrap)?
        .collect()
        .await
        .map_err(wrap)
}

/// (input, source_file) → (read, accepted, rejected)
type Counts = BTreeMap<(String, String), (u64, u64, u64)>;

async fn input_counts(ctx: &SessionContext) -> Result<Counts> {
    let batches = collect(
        ctx,
        "SELECT input, source_file, rows_read, rows_accepted, rows_rejected FROM input_counts",
    )
    .await?;
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

async fn rejects_by_rule(ctx: &SessionContext) -> Result<Vec<(String, String, u64)>> {
    let batches = collect(
        ctx,
        "SELECT input, rule_id, count(*) AS n FROM rejects GROUP BY input, rule_id ORDER BY input, rule_id",
    )
    .await?;
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

fn input_records(inputs: &[ResolvedInput], counts: &Counts) -> (Vec<InputRecord>, Vec<InputTotal>) {
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
                .get(&(input.spec.name.to_string(), f.path.clone()))
                .copied()
                .unwrap_or((0, 0, 0));
            total.rows_read += read;
            total.rows_accepted += acc;
            total.rows_rejected += rej;
            records.push(InputRecord {
                input: input.spec.name.to_string(),
                path: f.path.clone(),
                format: format!("{:?}", f.format).to_lowercase(),
                size: f.size,
                sha256: f.sha256.clone(),
                rows_read: read,
                rows_accepted: acc,
                rows_rejected: rej,
            });
        }
        totals.push(total);
    }
    (records, totals)
}

async fn quality_gate(
    cfg: &LoadedConfig,
    ctx: &SessionContext,
    totals: &[InputTotal],
) -> Result<()> {
    let max = cfg.config.quality.max_reject_ratio;
    let failing: Vec<&InputTotal> = totals
        .iter()
        .filter(|t| t.rows_read > 0 && t.rows_rejected as f64 / t.rows_read as f64 > max)
        .collect();
    if failing.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for t in &failing {
        msg.push_str(&format!(
            "input {}: {} of {} rows rejected ({:.2} %), above quality.max_reject_ratio {} ({:.2} %)\n",
            t.input,
            t.rows_rejected,
            t.rows_read,
            100.0 * t.rows_rejected as f64 / t.rows_read as f64,
            max,
            100.0 * max
        ));
    }
    let first = collect(
        ctx,
        "SELECT source_file, source_line, rule_id, column_name, message FROM rejects \
         ORDER BY input, source_file, source_line LIMIT 20",
    )
    .await?;
    msg.push_str("first rejected rows:\n");
    for b in &first {
        let file = text(b, 0)?;
        let line = b.column(1).as_primitive::<Int64Type>();
        let rule = text(b, 2)?;
        let col = text(b, 3)?;
        let m = text(b, 4)?;
        for i in 0..b.num_rows() {
            let column = if col.value(i).is_empty() {
                String::new()
            } else {
                format!(" column {}", col.value(i))
            };
            msg.push_str(&format!(
                "  {} line {}{}: [{}] {}\n",
                file.value(i),
                line.value(i),
                column,
                rule.value(i),
                m.value(i)
            ));
        }
    }
    msg.push_str(&format!(
        "nothing was published. Correct the rows (or raise quality.max_reject_ratio in {}) and run again.",
        cfg.path.display()
    ));
    Err(Error::Quality(msg))
}

async fn summary(ctx: &SessionContext) -> Result<Vec<SummaryRow>> {
    let sql = "
        WITH w AS (
            SELECT region_code, year,
                max(CASE WHEN indicator = 'energy_intensity_reduction' THEN warning_level END) AS energy_warning,
                max(CASE WHEN indicator = 'co2_intensity_reduction' THEN warning_level END) AS co2_warning
            FROM target_progress GROUP BY region_code, year
        )
        SELECT ri.region_code, ri.region_name, ri.level, ri.year, ri.energy_tce, ri.co2_t,
            CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity ELSE ri.energy_intensity_controlled END,
            CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_yoy ELSE ri.energy_intensity_controlled_change_yoy END,
            CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_base ELSE ri.energy_intensity_controlled_change_base END,
            ri.co2_intensity, ri.co2_intensity_change_yoy, ri.co2_intensity_change_base,
            CAST(w.energy_warning AS INT), CAST(w.co2_warning AS INT)
        FROM region_indicators ri
        CROSS JOIN run_params p
        LEFT JOIN w ON w.region_code = ri.region_code AND w.year = ri.year
        ORDER BY CASE ri.level WHEN 'country' THEN 0 WHEN 'province' THEN 1 WHEN 'city' THEN 2
                               WHEN 'county' THEN 3 ELSE 4 END, ri.region_code, ri.year";
    let batches = collect(ctx, sql).await?;
    let mut out = Vec::new();
    for b in &batches {
        let s = |i: usize| text(b, i);
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
                region_code: s(0)?.value(r).to_string(),
                region_name: s(1)?.value(r).to_string(),
                level: s(2)?.value(r).to_string(),
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
            });
        }
    }
    Ok(out)
}
