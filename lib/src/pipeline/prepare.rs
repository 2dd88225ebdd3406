//! Before the SQL runs: the work directory, the factor set (fetched when it
//! is a URL, self-checked), the session with every input and table
//! registered.

use datafusion::prelude::SessionContext;

use crate::config::LoadedConfig;
use crate::engine::session::{new_session, register_run};
use crate::engine::steps::{run_sql, run_steps, validation_and_computation};
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::input::{ResolvedInput, fetch_inputs, list_inputs, register_raw};
use crate::pipeline::RunOptions;
use crate::pipeline::quality::check_region_cycles;
use crate::pipeline::quality::quality_gate;
use crate::pipeline::readback::input_counts;
use crate::pipeline::readback::input_records;
use crate::pipeline::readback::rejects_by_rule;
use crate::publish::manifest::{EngineRecord, InputRecord, InputTotal};
use crate::publish::{FaultPoint, fault_point};

/// A session with everything registered and the validation steps done.
pub(crate) struct Prepared {
    pub ctx: SessionContext,
    pub factors: FactorSet,
    pub inputs: Vec<ResolvedInput>,
}

/// A scratch directory for fetched inputs and factor sets (in engine.spill_dir
/// when set), removed when dropped. It is the client's own, also on a
/// cluster: executors fetch remote inputs themselves (`input::file_scan`),
/// and the factor tables reach them as Parquet in the run's table directory.
pub fn work_dir(cfg: &LoadedConfig) -> Result<tempfile::TempDir> {
    crate::engine::session::scratch_dir(cfg.spill_dir()?.as_deref(), "carbonstat-")
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
pub(crate) async fn prepare(
    cfg: &LoadedConfig,
    factors: FactorSet,
    inputs: Vec<ResolvedInput>,
    keep_records: bool,
) -> Result<Prepared> {
    let ctx = new_session(cfg)?;
    register_run(&ctx, &cfg.config, &factors)?;
    register_raw(&ctx, &inputs)?;
    for step in validation_and_computation().0 {
        run_steps(&ctx, std::slice::from_ref(step)).await?;
        // the views of the later steps read the table from here on (a view
        // keeps the table it was made over)
        if keep_records && step.name == "20_validate.sql" {
            run_sql(
                &ctx,
                "keeping the records (RunOptions::keep_records)",
                "CREATE OR REPLACE TABLE records_rows AS SELECT * FROM records_rows",
            )
            .await?;
        }
    }
    check_region_cycles(&ctx).await?;
    Ok(Prepared {
        ctx,
        factors,
        inputs,
    })
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
    } = prepare(cfg, factors, inputs, opts.keep_records).await?;
    let counts = input_counts(&ctx).await?;
    let rejects_by_rule = rejects_by_rule(&ctx).await?;
    let (records, totals) = input_records(&inputs, &counts);
    for t in &totals {
        tracing::info!(input = %t.input, files = t.files, rows_read = t.rows_read, rows_accepted = t.rows_accepted, rows_rejected = t.rows_rejected, "input validated");
    }
    quality_gate(cfg, &ctx, &totals).await?;
    crate::pipeline::quality::check_base_year(cfg, &ctx).await?;
    fault_point(FaultPoint::AfterIngest).await?;
    opts.stage("computing");
    run_steps(&ctx, validation_and_computation().1).await?;
    warn_silent_members(&ctx).await?;
    if opts.keep_records {
        keep_written_join_order(&ctx);
    }
    Ok(Computed {
        ctx,
        factors,
        inputs,
        records,
        totals,
        rejects_by_rule,
    })
}

/// Have the queries over a run whose records are kept
/// (`RunOptions::keep_records`: explain's sql/queries/explain_*.sql) join in
/// the order they are written: each names the small side first (the regions
/// below the one explained, the members, the key rejects, the sector table),
/// and DataFusion builds a join's hash table from its first side. Kept as a
/// table, the records have a known size, and DataFusion misjudges what a join
/// over them yields: it took the join of the records with the regions below
/// the one explained to be the smaller side and built its hash table from a
/// year's records. At 10^8 input rows `explain --recompute` then failed at
/// the 1536MiB limit (HashJoinInput 1.5 GB; docs/benchmarks.md, session 20).
/// Called once the SQL steps are done: their joins of tables of known size
/// are written for DataFusion's choice (with reordering off for the whole
/// run, region_energy failed the same way).
fn keep_written_join_order(ctx: &SessionContext) {
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .optimizer
        .join_reordering = false;
}

/// A warning for each group member without any accepted energy record.
async fn warn_silent_members(ctx: &SessionContext) -> Result<()> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    for b in crate::engine::queries::SILENT_MEMBERS
        .collect(ctx, &[])
        .await?
    {
        let text = |i: usize| datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8);
        let (group, enterprise, file) = (text(0)?, text(1)?, text(2)?);
        let (group, enterprise, file) = (
            group.as_string::<i32>(),
            enterprise.as_string::<i32>(),
            file.as_string::<i32>(),
        );
        let line = datafusion::arrow::compute::cast(b.column(3), &DataType::Int64)?;
        let line = line.as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            if group.is_null(r) {
                continue;
            }
            tracing::warn!(
                group = group.value(r),
                enterprise = enterprise.value(r),
                file = file.value(r),
                line = line.value(r),
                "a member of the group has no energy record in any year: check the member list or the energy input"
            );
        }
    }
    Ok(())
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

pub(crate) fn engine_record(cfg: &LoadedConfig, ctx: &SessionContext) -> EngineRecord {
    EngineRecord {
        target_partitions: ctx.copied_config().target_partitions(),
        threads: cfg.config.engine.threads,
        memory_limit: cfg.config.engine.memory_limit.clone(),
        spill_dir_set: cfg.config.engine.spill_dir.is_some(),
    }
}
