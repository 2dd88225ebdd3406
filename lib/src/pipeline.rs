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

use crate::config::{LoadedConfig, parse_duration};
use crate::error::{Error, Result};
use crate::factors::{FactorSet, sha256_hex};
use crate::ingest::{ListedInput, ResolvedInput, fetch_inputs, list_inputs, register_raw};
use crate::lock::Lock;
use crate::manifest::{
    ConfigRecord, EngineRecord, FactorSetRecord, InputRecord, InputTotal, MANIFEST_VERSION,
    Manifest, Program, StepRecord,
};
use crate::publish::{OutputStore, STAGING_PREFIX, commit, fault, write_all};
use crate::session::{new_session, register_run};
use crate::steps::{STEPS, run_steps, validation_and_computation};

/// What a finished run tells its caller.
#[derive(Debug)]
pub struct RunReport {
    pub manifest: Manifest,
    pub output: String,
    /// (input, rule_id, rows)
    pub rejects_by_rule: Vec<(String, String, u64)>,
    pub summary: Vec<SummaryRow>,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// A new run was published.
    Published(Box<RunReport>),
    /// The published manifest already has this run's fingerprint: nothing to do.
    UpToDate {
        manifest: Box<Manifest>,
        output: String,
    },
}

/// Called with the name of each stage as it starts (a progress display).
pub type StageHook = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone, Default)]
pub struct RunOptions {
    /// Recompute even when the published run has the same fingerprint.
    pub force: bool,
    pub on_stage: Option<StageHook>,
}

impl RunOptions {
    fn stage(&self, name: &str) {
        tracing::debug!(stage = name, "stage");
        if let Some(h) = &self.on_stage {
            h(name);
        }
    }
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

/// A session with everything registered and the validation steps done.
pub struct Prepared {
    pub ctx: SessionContext,
    pub factors: FactorSet,
    pub inputs: Vec<ResolvedInput>,
}

/// A scratch directory for fetched inputs and factor sets (in engine.spill_dir
/// when set), removed when dropped.
pub fn work_dir(cfg: &LoadedConfig) -> Result<tempfile::TempDir> {
    crate::session::scratch_dir(cfg.spill_dir()?.as_deref(), "carbonstat-")
}

/// Load the configured factor set (a remote one is copied into `work` first)
/// and require its self-check to pass.
pub async fn load_factors(cfg: &LoadedConfig, work: &std::path::Path) -> Result<FactorSet> {
    let loc = cfg.location("factors", &cfg.config.factors)?;
    if let Some(dir) = &loc.local {
        return FactorSet::load_checked(dir);
    }
    let dir = work.join("factors");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let err = |message: String| Error::FactorSet {
        dir: loc.display.clone(),
        message,
    };
    let objects = loc
        .list()
        .await
        .map_err(|e| err(format!("cannot list: {e}")))?;
    for m in objects {
        let rel = loc.relative(&m.location);
        if rel.contains('/') || rel.is_empty() {
            continue; // a set is one flat directory
        }
        loc.download(&m.location, &dir.join(&rel), &mut |_| {})
            .await
            .map_err(err)?;
    }
    FactorSet::load_checked(&dir).map_err(|e| match e {
        Error::FactorSet { message, .. } => err(message),
        other => other,
    })
}

/// Load, register and validate; shared by `run` and the tests.
pub async fn prepare(
    cfg: &LoadedConfig,
    factors: FactorSet,
    inputs: Vec<ResolvedInput>,
) -> Result<Prepared> {
    let ctx = new_session(cfg)?;
    register_run(&ctx, &cfg.config, &factors)?;
    register_raw(&ctx, &inputs)?;
    run_steps(&ctx, validation_and_computation().0).await?;
    check_region_cycles(&ctx).await?;
    Ok(Prepared {
        ctx,
        factors,
        inputs,
    })
}

/// The config as the manifest shows it: defaults filled in, secrets redacted.
fn effective_config(cfg: &LoadedConfig) -> Result<serde_json::Value> {
    let mut c = cfg.config.clone();
    c.storage = c.storage.redacted();
    serde_json::to_value(&c).map_err(|e| Error::Internal(format!("config to JSON: {e}")))
}

/// sha256 over everything that determines the published bytes. Settings that
/// cannot change a number (engine, quality gate, where the output goes, lock,
/// storage credentials) are left out, so moving the output or changing the
/// thread count does not force a recomputation.
fn fingerprint(
    program: &Program,
    effective: &serde_json::Value,
    factors: &str,
    steps: &[StepRecord],
    inputs: &[(String, String, String)],
) -> String {
    let mut config = effective.clone();
    if let Some(o) = config.as_object_mut() {
        for k in ["engine", "quality", "output", "lock_ttl", "storage"] {
            o.remove(k);
        }
    }
    let material = json!({
        "program": program,
        "config": config,
        "factor_set": factors,
        "sql": steps,
        "inputs": inputs,
    });
    hex::encode(Sha256::digest(material.to_string().as_bytes()))
}

/// Are the inputs listed now the ones the manifest recorded (same path, size,
/// modification time and ETag)? Then their recorded hashes still hold.
fn unchanged_since(listed: &[ListedInput], m: &Manifest) -> bool {
    let now: Vec<(&str, &str, u64, &str, Option<&str>)> = listed
        .iter()
        .flat_map(|i| {
            i.files.iter().map(move |f| {
                (
                    i.spec.name,
                    f.path.as_str(),
                    f.size,
                    f.last_modified.as_str(),
                    f.e_tag.as_deref(),
                )
            })
        })
        .collect();
    let then: Vec<(&str, &str, u64, &str, Option<&str>)> = m
        .inputs
        .iter()
        .map(|r| {
            (
                r.input.as_str(),
                r.file.path.as_str(),
                r.file.size,
                r.file.last_modified.as_str(),
                r.file.e_tag.as_deref(),
            )
        })
        .collect();
    !then.is_empty() && now == then && then.iter().all(|t| !t.3.is_empty())
}

/// Does every file the manifest names exist with its size?
async fn outputs_present(out: &OutputStore, m: &Manifest) -> Result<bool> {
    for f in &m.outputs {
        if out.size(&f.path).await? != Some(f.bytes) {
            tracing::warn!(path = %f.path, "a file the published manifest names is missing or changed: recomputing");
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn run(cfg: &LoadedConfig, opts: &RunOptions) -> Result<RunOutcome> {
    let started_at = chrono::Utc::now();
    opts.stage("taking the output lock");
    let out = OutputStore::open(cfg.location("output", &cfg.config.output)?)?;
    let ttl = parse_duration(&cfg.config.lock_ttl).map_err(Error::Internal)?;
    let lock = Lock::acquire(&out.loc, ttl).await?;
    crate::publish::pause("after_lock").await;
    let result = run_locked(cfg, opts, &out, started_at).await;
    lock.release().await;
    result
}

/// What a run's fingerprint is made of, besides the factor set and inputs.
pub struct Identity {
    pub program: Program,
    /// The effective config, secrets redacted.
    pub effective: serde_json::Value,
    pub steps: Vec<StepRecord>,
}

pub fn identity(cfg: &LoadedConfig) -> Result<Identity> {
    Ok(Identity {
        program: Program::this(),
        effective: effective_config(cfg)?,
        steps: STEPS
            .iter()
            .map(|s| StepRecord {
                name: s.name.to_string(),
                sha256: s.sha256(),
            })
            .collect(),
    })
}

impl Identity {
    pub fn fingerprint(&self, factors: &FactorSet, inputs: &[(String, String, String)]) -> String {
        fingerprint(
            &self.program,
            &self.effective,
            &factors.hash,
            &self.steps,
            inputs,
        )
    }
}

/// (input, path, sha256) of every fetched file: the inputs' part of the fingerprint.
pub fn input_keys(inputs: &[ResolvedInput]) -> Vec<(String, String, String)> {
    inputs
        .iter()
        .flat_map(|i| {
            i.files
                .iter()
                .map(move |f| (i.spec.name.to_string(), f.path.clone(), f.sha256.clone()))
        })
        .collect()
}

/// A computed run: every SQL step done, nothing written.
pub struct Computed {
    pub ctx: SessionContext,
    pub factors: FactorSet,
    pub inputs: Vec<ResolvedInput>,
    pub records: Vec<InputRecord>,
    pub totals: Vec<InputTotal>,
    pub rejects_by_rule: Vec<(String, String, u64)>,
}

/// Validate (with the quality gate) and compute. Shared by `run`, `verify`,
/// `explain` and `factors diff --impact`.
pub async fn compute(
    cfg: &LoadedConfig,
    factors: FactorSet,
    inputs: Vec<ResolvedInput>,
    opts: &RunOptions,
) -> Result<Computed> {
    opts.stage("validating");
    let Prepared {
        ctx,
        factors,
        inputs,
    } = prepare(cfg, factors, inputs).await?;
    let counts = input_counts(&ctx).await?;
    let rejects_by_rule = rejects_by_rule(&ctx).await?;
    let (records, totals) = input_records(&inputs, &counts);
    for t in &totals {
        tracing::info!(input = %t.input, files = t.files, rows_read = t.rows_read, rows_accepted = t.rows_accepted, rows_rejected = t.rows_rejected, "input validated");
    }
    quality_gate(cfg, &ctx, &totals).await?;
    fault("after_ingest")?;
    opts.stage("computing");
    run_steps(&ctx, validation_and_computation().1).await?;
    Ok(Computed {
        ctx,
        factors,
        inputs,
        records,
        totals,
        rejects_by_rule,
    })
}

/// Load the factor set and fetch every input of a config into `work`.
pub async fn load_all(
    cfg: &LoadedConfig,
    work: &std::path::Path,
) -> Result<(FactorSet, Vec<ResolvedInput>)> {
    let factors = load_factors(cfg, work).await?;
    let listed = list_inputs(cfg).await?;
    let inputs = fetch_inputs(&listed, work).await?;
    Ok((factors, inputs))
}

fn engine_record(cfg: &LoadedConfig, ctx: &SessionContext) -> EngineRecord {
    EngineRecord {
        target_partitions: ctx.copied_config().target_partitions(),
        threads: cfg.config.engine.threads,
        memory_limit: cfg.config.engine.memory_limit.clone(),
        spill_dir_set: cfg.config.engine.spill_dir.is_some(),
    }
}

async fn run_locked(
    cfg: &LoadedConfig,
    opts: &RunOptions,
    out: &OutputStore,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<RunOutcome> {
    let work = work_dir(cfg)?;
    opts.stage("reading the factor set");
    let factors = load_factors(cfg, work.path()).await?;
    opts.stage("listing the inputs");
    let listed = list_inputs(cfg).await?;
    let published = match out.read_manifest().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("ignoring the published manifest: {e}");
            None
        }
    };
    let id = identity(cfg)?;

    // The nightly no-op: same input metadata and same everything else.
    if !opts.force
        && let Some(m) = &published
        && unchanged_since(&listed, m)
    {
        let inputs: Vec<(String, String, String)> = m
            .inputs
            .iter()
            .map(|r| (r.input.clone(), r.file.path.clone(), r.file.sha256.clone()))
            .collect();
        let fp = id.fingerprint(&factors, &inputs);
        if fp == m.fingerprint && outputs_present(out, m).await? {
            tracing::info!(run_id = %m.run_id, fingerprint = %fp, "up to date: inputs, factor set, config and program are those of the published run");
            return Ok(RunOutcome::UpToDate {
                manifest: Box::new(m.clone()),
                output: out.url().to_string(),
            });
        }
    }

    opts.stage("reading and hashing the inputs");
    let inputs = fetch_inputs(&listed, work.path()).await?;
    let fp = id.fingerprint(&factors, &input_keys(&inputs));
    if !opts.force
        && let Some(m) = &published
        && m.fingerprint == fp
        && outputs_present(out, m).await?
    {
        tracing::info!(run_id = %m.run_id, fingerprint = %fp, "up to date: the inputs' content is that of the published run");
        return Ok(RunOutcome::UpToDate {
            manifest: Box::new(m.clone()),
            output: out.url().to_string(),
        });
    }

    let Computed {
        ctx,
        factors,
        inputs: _,
        records,
        totals,
        rejects_by_rule,
    } = compute(cfg, factors, inputs, opts).await?;
    ctx.register_object_store(&out.loc.root_url, out.loc.store.clone());

    let run_id = format!("{}-{}", started_at.format("%Y%m%dT%H%M%SZ"), &fp[..8]);
    opts.stage("writing the reports");
    let outputs = match write_all(&ctx, out, &run_id, &fp).await {
        Ok(o) => o,
        Err(e) => {
            discard_staging(out, &run_id).await;
            return Err(e);
        }
    };
    let summary = summary(&ctx).await?;
    let canonical = serde_json::to_vec(&id.effective)
        .map_err(|e| Error::Internal(format!("config to JSON: {e}")))?;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        run_id: run_id.clone(),
        program: id.program,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        fingerprint: fp,
        config: ConfigRecord {
            path: cfg.path.display().to_string(),
            base: std::path::absolute(&cfg.base_dir)
                .unwrap_or_else(|_| cfg.base_dir.clone())
                .display()
                .to_string(),
            sha256: sha256_hex(cfg.raw.as_bytes()),
            canonical_sha256: sha256_hex(&canonical),
            effective: id.effective,
        },
        engine: engine_record(cfg, &ctx),
        factor_set: FactorSetRecord {
            id: factors.meta.id.clone(),
            title: factors.meta.title.clone(),
            location: cfg.config.factors.clone(),
            sha256: factors.hash.clone(),
            files: factors.files.clone(),
        },
        sql_steps: id.steps,
        inputs: records,
        input_totals: totals,
        outputs,
    };
    opts.stage("publishing");
    if let Err(e) = commit(out, &manifest).await {
        discard_staging(out, &run_id).await;
        return Err(e);
    }
    tracing::info!(run_id = %run_id, output = %out.url(), files = manifest.outputs.len(), "published");
    Ok(RunOutcome::Published(Box::new(RunReport {
        manifest,
        output: out.url().to_string(),
        rejects_by_rule,
        summary,
    })))
}

/// Best effort after a failure: remove what this run staged. The published
/// reports and manifest were not touched; files already moved into `reports/`
/// under this run's names are removed by the next run.
async fn discard_staging(out: &OutputStore, run_id: &str) {
    let staging = format!("{STAGING_PREFIX}/{run_id}");
    let cleaned = async {
        for f in out.list(&staging).await? {
            out.delete(&f).await?;
        }
        out.prune_empty_dirs(STAGING_PREFIX)
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
    let step: String = sql.chars().take(60).collect();
    let wrap = |source| Error::sql(step.clone(), source);
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
            });
        }
    }
    Ok(out)
}
