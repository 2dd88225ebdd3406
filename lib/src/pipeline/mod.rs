//! One run of the pipeline, end to end: load and check the factor set, resolve
//! and hash the inputs, validate (20_validate, 21_amounts, 27_key_rules), stop when the reject ratio
//! is too high, compute (30-60), write the datasets, publish, manifest last.

pub(crate) mod identity;
pub(crate) mod impact;
pub(crate) mod prepare;
pub(crate) mod quality;
pub(crate) mod readback;

pub(crate) use identity::{identity, input_keys};
pub use impact::{Impact, impact, impact_indicators};
pub use prepare::{Computed, compute, load_all, load_factors, work_dir};
pub use readback::{GroupSummaryRow, SummaryRow};

use crate::config::LoadedConfig;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::input::{fetch_inputs, list_inputs};
use crate::pipeline::identity::outputs_present;
use crate::pipeline::identity::unchanged_since;
use crate::pipeline::prepare::engine_record;
use crate::pipeline::readback::summary;
use crate::publish::lock::Lock;
use crate::publish::manifest::{ConfigRecord, FactorSetRecord, MANIFEST_VERSION, Manifest};
use crate::publish::{
    FaultPoint, OutputStore, STAGING_PREFIX, collect_garbage, commit, fault_point, write_all,
};

/// What a finished run tells its caller.
#[derive(Debug)]
pub struct RunReport {
    pub manifest: Manifest,
    pub output: String,
    /// (input, rule_id, rows)
    pub rejects_by_rule: Vec<(String, String, u64)>,
    pub summary: Vec<SummaryRow>,
    /// Every group in its latest year.
    pub groups: Vec<GroupSummaryRow>,
    /// Numbers a statistician would question, with what explains them
    /// ([`readback::plausibility`]); also logged at warn.
    pub plausibility: Vec<String>,
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
    /// Keep every record the row rules judged as a table (`records_rows`)
    /// instead of a view: for a caller that reads the records again and again
    /// (`explain --recompute`: a dozen queries over them), whose queries then
    /// join in the order they are written (`keep_written_join_order`). A run
    /// reads them through the rules once (21_amounts.sql) and needs no such
    /// table.
    pub keep_records: bool,
}

impl RunOptions {
    fn stage(&self, name: &str) {
        tracing::debug!(stage = name, "stage");
        if let Some(h) = &self.on_stage {
            h(name);
        }
    }
}

pub async fn run(cfg: &LoadedConfig, opts: &RunOptions) -> Result<RunOutcome> {
    let started_at = chrono::Utc::now();
    opts.stage("taking the output lock");
    let out = OutputStore::open(cfg.location("output", &cfg.config.output)?)?;
    let lock = Lock::acquire(&out.loc, cfg.config.lock_ttl.get()).await?;
    let result = match fault_point(FaultPoint::AfterLock).await {
        Ok(()) => run_locked(cfg, opts, &out, &lock, started_at).await,
        Err(e) => Err(e),
    };
    lock.release().await;
    result
}

pub(crate) async fn run_locked(
    cfg: &LoadedConfig,
    opts: &RunOptions,
    out: &OutputStore,
    lock: &Lock,
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
            collect_garbage(out, m).await?;
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
        collect_garbage(out, m).await?;
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
    let outputs = match write_all(&ctx, out, &run_id, &fp, &cfg.report_options()).await {
        Ok(o) => o,
        Err(e) => {
            discard_staging(out, &run_id).await;
            return Err(e);
        }
    };
    let summary = summary(&ctx).await?;
    let groups = readback::group_summary(&ctx).await?;
    let unjudged = readback::unjudged_targets(&ctx).await?;
    let unbudgeted = readback::budget_without_energy(&ctx).await?;
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
    if let Err(e) = commit(out, &manifest, lock).await {
        discard_staging(out, &run_id).await;
        return Err(e);
    }
    tracing::info!(run_id = %run_id, output = %out.url(), files = manifest.outputs.len(), "published");
    let mut plausibility = readback::plausibility(&summary);
    plausibility.extend(unjudged);
    plausibility.extend(unbudgeted);
    for note in &plausibility {
        tracing::warn!("{note}");
    }
    Ok(RunOutcome::Published(Box::new(RunReport {
        manifest,
        output: out.url().to_string(),
        rejects_by_rule,
        summary,
        groups,
        plausibility,
    })))
}

/// Best effort after a failure: remove what this run staged. The published
/// reports and manifest were not touched; files already moved into `reports/`
/// under this run's names are removed by the next run.
pub(crate) async fn discard_staging(out: &OutputStore, run_id: &str) {
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
