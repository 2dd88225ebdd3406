//! The DataFusion session every job runs in: bounded memory, a fixed number of
//! partitions, our UDFs, the factor tables and the run parameters.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, StringArray};
use datafusion::common::config::SpillCompression;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::config::{Config, LoadedConfig};
use crate::engine::ids::register_udfs;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::factors::register::register_batch;

/// A `DATAFUSION_*` variable that names no DataFusion option is ignored by
/// DataFusion: say so, since the user meant to tune something.
fn warn_unknown_datafusion_vars(options: &datafusion::config::ConfigOptions) {
    let known: std::collections::BTreeSet<String> = options
        .entries()
        .iter()
        .map(|e| e.key.to_uppercase().replace('.', "_"))
        .collect();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("DATAFUSION_") && !known.contains(name.as_ref()) {
            tracing::warn!(
                variable = %name,
                "not a DataFusion option: ignored (`datafusion.execution.batch_size` is DATAFUSION_EXECUTION_BATCH_SIZE)"
            );
        }
    }
}

/// A session with the engine settings of the config's `engine` section
/// (`spill_dir` resolved against the config's directory).
pub fn new_session(cfg: &LoadedConfig) -> Result<SessionContext> {
    let config = &cfg.config;
    let spill_dir = cfg.spill_dir()?;
    let partitions = config
        .engine
        .target_partitions
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // DataFusion's own options may be tuned from the environment, as in
    // datafusion-cli: DATAFUSION_EXECUTION_BATCH_SIZE=16384 sets
    // datafusion.execution.batch_size (README "Tuning"). The engine section's
    // settings below take precedence. Meant for how queries run (batch size,
    // partial aggregation, join choices): the results are exact whatever the
    // plan; an option that changes how SQL is read can break the steps.
    let mut session_config = SessionConfig::from_env()
        .map_err(|e| {
            Error::Usage(format!(
                "a DATAFUSION_* environment variable is not a DataFusion option or not of its type: {e}; unset it or correct it"
            ))
        })?
        .with_target_partitions(partitions)
        .with_information_schema(true);
    warn_unknown_datafusion_vars(session_config.options());
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = &config.engine.memory_limit {
        let bytes = limit.bytes();
        // Fair shares for the operators that can spill (sorts, aggregations):
        // under the greedy pool one of them could take the whole limit and
        // leave a hash join nothing. The tracking wrapper names the largest
        // consumers when an allocation fails.
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            std::num::NonZeroUsize::new(5).expect("5 > 0"),
        )));
        // Each sort reserves a merge buffer up front (10 MB by default): under a
        // small limit that alone exhausts the pool. Scale it so sorts spill
        // instead of failing.
        let reservation = (bytes / (8 * partitions)).clamp(64 * 1024, 10 * 1024 * 1024);
        session_config = session_config.with_sort_spill_reservation_bytes(reservation);
    }
    // Spill files compressed with LZ4: the aggregations' spilled state
    // compresses well, and LZ4 takes less time than writing and reading the
    // bytes it saves (docs/benchmarks.md).
    session_config = session_config.with_spill_compression(SpillCompression::Lz4Frame);
    if let Some(dir) = &spill_dir {
        runtime = runtime.with_temp_file_path(dir);
    }
    // the tables the SQL steps create go to disk (see Intermediates)
    session_config = session_config.with_extension(Arc::new(Intermediates::new(
        cfg.scratch_parent()?.as_deref(),
    )?));
    // the small tables the SQL steps read with lookup(…) (see crate::engine::lookup)
    let lookups = Arc::new(crate::engine::lookup::Lookups::default());
    session_config = session_config.with_extension(lookups.clone());
    let mut state = datafusion::execution::SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime.build_arc()?)
        .with_default_features();
    // Partial aggregations run over chunks of rows, so the final aggregation
    // gets a state per key of a chunk instead of holding a second copy of
    // every key (engine::chunked_aggregate). Only here: a cluster plans on
    // its scheduler, with DataFusion's own partial aggregation.
    if config.engine.cluster.is_none() {
        let rows = crate::engine::chunked_aggregate::chunk_rows().map_err(Error::Usage)?;
        if let Some(rows) = rows {
            state = state.with_physical_optimizer_rule(Arc::new(
                crate::engine::chunked_aggregate::ChunkedPartialAggregation::new(rows),
            ));
        }
    }
    let ctx = SessionContext::new_with_state(state.build());
    register_udfs(&ctx);
    ctx.register_udf(crate::engine::lookup::lookup_udf(lookups));
    // DataFusion 55's two rules that move struct field access towards the
    // scans (for nested Parquet columns, which carbonstat never reads) do
    // harm here: they inline the lookup(…) a field is taken from into every
    // field access, so a record's one lookup is computed once per field taken
    // from it, and they can replace an alias by an input column of the same
    // name (docs/benchmarks.md). Without them every expression is computed
    // where the SQL puts it.
    for rule in ["extract_leaf_expressions", "push_down_leaf_projections"] {
        if !ctx.remove_optimizer_rule(rule) {
            return Err(Error::Internal(format!(
                "DataFusion has no optimizer rule {rule} to remove: check lib/src/session.rs against this DataFusion version"
            )));
        }
    }
    match &config.engine.cluster {
        Some(value) => {
            let scheduler = scheduler_address(value).map_err(|message| Error::Config {
                file: cfg.path.clone(),
                message: format!("engine.cluster: {message}"),
            })?;
            on_cluster(cfg, ctx, &scheduler)
        }
        None => Ok(ctx),
    }
}

/// The scheduler's host:port of an `engine.cluster` value, `df://host:port`
/// (or `host:port`).
pub(crate) fn scheduler_address(value: &str) -> std::result::Result<String, String> {
    let rest = value.strip_prefix("df://").unwrap_or(value);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !rest.contains('/')
        && rest.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
    if ok {
        Ok(rest.to_string())
    } else {
        Err(format!(
            "'{value}' is not a scheduler's address: write df://host:port, e.g. df://carbonstat-scheduler:50050"
        ))
    }
}

/// The session's queries sent to the cluster of `scheduler` (engine.cluster).
#[cfg(feature = "distributed")]
fn on_cluster(cfg: &LoadedConfig, ctx: SessionContext, scheduler: &str) -> Result<SessionContext> {
    let storage = cfg.config.storage.without_secrets();
    crate::engine::cluster::upgrade(
        ctx,
        scheduler,
        OnCluster {
            storage: Arc::new(storage),
        },
    )
}

/// The session `plan` runs in: `ctx`, or on a cluster the client's own
/// session for a plan the cluster cannot run (engine::cluster::session_for).
pub(crate) fn session_for(
    ctx: &SessionContext,
    #[allow(unused_variables)] plan: &datafusion::logical_expr::LogicalPlan,
) -> SessionContext {
    #[cfg(feature = "distributed")]
    return crate::engine::cluster::session_for(ctx, plan);
    #[cfg(not(feature = "distributed"))]
    ctx.clone()
}

/// Whether the cluster's executors write the table of `input`, a `CREATE
/// TABLE … AS` query (engine::cluster::writes_on_cluster); never without
/// the feature.
pub(crate) fn writes_on_cluster(
    #[allow(unused_variables)] ctx: &SessionContext,
    #[allow(unused_variables)] input: &datafusion::logical_expr::LogicalPlan,
) -> bool {
    #[cfg(feature = "distributed")]
    return crate::engine::cluster::writes_on_cluster(ctx, input);
    #[cfg(not(feature = "distributed"))]
    false
}

/// Write the table of `input` into `dir` on the cluster (its executors
/// write the files: engine::cluster::write_table), for a query of which
/// [`writes_on_cluster`] holds; the rows written and the table of the files.
pub(crate) async fn write_on_cluster(
    #[allow(unused_variables)] ctx: &SessionContext,
    #[allow(unused_variables)] input: &datafusion::logical_expr::LogicalPlan,
    #[allow(unused_variables)] dir: &Path,
) -> datafusion::error::Result<(u64, Arc<dyn datafusion::datasource::TableProvider>)> {
    #[cfg(feature = "distributed")]
    return crate::engine::cluster::write_table(ctx, input, dir).await;
    #[cfg(not(feature = "distributed"))]
    Err(datafusion::error::DataFusionError::Internal(
        "a table written on a cluster by a build without one".into(),
    ))
}

#[cfg(not(feature = "distributed"))]
fn on_cluster(cfg: &LoadedConfig, _ctx: SessionContext, scheduler: &str) -> Result<SessionContext> {
    Err(Error::Config {
        file: cfg.path.clone(),
        message: format!(
            "engine.cluster: {scheduler}: this carbonstat was built without cluster support; build it with `cargo build --release --features distributed` (docs/distributed.md), or remove engine.cluster to run here"
        ),
    })
}

/// Where the tables of the SQL steps (`CREATE TABLE … AS`) are kept: as
/// Parquet files (LZ4) in a temporary directory under `engine.spill_dir` (or
/// the system temp dir), removed with the session. Memory then stays bounded
/// by the engine's pool whatever the input size, and a run is no slower than
/// with in-memory tables (docs/benchmarks.md).
#[derive(Debug)]
pub(crate) struct Intermediates {
    pub dir: tempfile::TempDir,
}

impl Intermediates {
    fn new(spill_dir: Option<&Path>) -> Result<Self> {
        Ok(Intermediates {
            dir: scratch_dir(spill_dir, "carbonstat-tables-")?,
        })
    }
}

/// Marks a session whose queries run on a cluster (engine.cluster): its small
/// tables are written as Parquet where the executors read them, not kept in
/// the client's memory.
#[derive(Debug)]
pub(crate) struct OnCluster {
    /// The config's `storage:` settings without secrets: executors read
    /// remote inputs with them and credentials of their own environment.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub storage: Arc<crate::store::Storage>,
}

/// `batch` written as one Parquet file in the session's table directory and
/// read from there: a small table a cluster's executors can scan (on one
/// machine; several need the directory on shared storage, docs/distributed.md).
pub(crate) fn parquet_table(
    ctx: &SessionContext,
    name: &str,
    batch: &datafusion::arrow::record_batch::RecordBatch,
) -> Result<Arc<dyn datafusion::datasource::TableProvider>> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let inter = ctx
        .state()
        .config()
        .get_extension::<Intermediates>()
        .ok_or_else(|| Error::Internal("a cluster session needs its table directory".into()))?;
    let dir = inter.dir.path().join("small").join(name);
    let shown = dir.display().to_string();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&shown, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&shown, e))?;
    let file = dir.join("part-0.parquet");
    let f = std::fs::File::create(&file).map_err(|e| Error::io(&shown, e))?;
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    let url = ListingTableUrl::parse(format!("{shown}/"))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(batch.schema());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A temporary directory under `parent` (created if missing) or the system
/// temp dir, removed when dropped.
pub(crate) fn scratch_dir(parent: Option<&Path>, prefix: &str) -> Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    match parent {
        Some(d) => {
            let shown = d.display().to_string();
            std::fs::create_dir_all(d).map_err(|e| Error::io(&shown, e))?;
            b.tempdir_in(d).map_err(|e| Error::io(&shown, e))
        }
        None => b.tempdir().map_err(|e| Error::io("temporary directory", e)),
    }
}

/// Register the factor set's tables and the one-row `run_params` table that
/// the SQL steps read their parameters from (so the SQL shows where a
/// parameter enters, and no value is spliced into SQL text).
pub fn register_run(ctx: &SessionContext, config: &Config, factors: &FactorSet) -> Result<()> {
    factors.register(ctx)?;
    // the years a record may have (the row rules reject the others): a table
    // rather than generate_series(…), whose table function a cluster's plan
    // cannot carry (docs/distributed.md)
    register_batch(
        ctx,
        "calendar_years",
        vec![(
            "year",
            Arc::new(Int32Array::from((1949..=2100).collect::<Vec<i32>>())) as ArrayRef,
        )],
    )?;
    let one = |s: &str| -> ArrayRef { Arc::new(StringArray::from(vec![s])) };
    register_batch(
        ctx,
        "run_params",
        vec![
            (
                "base_year",
                Arc::new(Int32Array::from(vec![config.base_year])),
            ),
            (
                "electricity_factor",
                one(config.electricity_factor.as_str()),
            ),
            (
                "electricity_valuation",
                one(config.electricity_valuation.as_str()),
            ),
            (
                "nbs_rounding",
                Arc::new(BooleanArray::from(vec![config.nbs_rounding])),
            ),
            (
                "energy_intensity_basis",
                one(config.energy_intensity_basis.as_str()),
            ),
            ("controlled_scope", one(config.controlled_scope.as_str())),
            ("warning_basis", one(config.warning_basis.as_str())),
            (
                "grid_factor_vintage",
                one(config.grid_factor_vintage.as_str()),
            ),
            ("factor_set", one(&factors.meta.id)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `engine.cluster` is df://host:port; anything else is refused, saying so.
    #[test]
    fn a_cluster_is_named_by_its_schedulers_address() {
        assert_eq!(
            scheduler_address("df://sched:50050").unwrap(),
            "sched:50050"
        );
        assert_eq!(
            scheduler_address("df://10.0.0.7:50050/").unwrap(),
            "10.0.0.7:50050"
        );
        assert_eq!(scheduler_address("sched:50050").unwrap(), "sched:50050");
        for bad in [
            "df://sched",
            "df://:50050",
            "df://sched:0",
            "df://sched:70000",
            "http://sched:50050",
            "df://sched:50050/x",
        ] {
            let e = scheduler_address(bad).unwrap_err();
            assert!(
                e.contains(bad) && e.contains("df://host:port"),
                "{bad}: {e}"
            );
        }
    }

    /// A relative `engine.spill_dir` is the config directory's, whatever the
    /// working directory: the intermediate tables go there.
    #[test]
    fn intermediate_tables_go_under_the_resolved_spill_dir() {
        let base = tempfile::tempdir().unwrap();
        let raw = "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: f\noutput: out\nbase_year: 2020\nengine:\n  spill_dir: scratch\n";
        let cfg = LoadedConfig::from_str(raw, &base.path().join("p.yaml"), base.path()).unwrap();
        let ctx = new_session(&cfg).unwrap();
        let inter = ctx
            .state()
            .config()
            .get_extension::<Intermediates>()
            .unwrap();
        assert!(
            inter.dir.path().starts_with(base.path().join("scratch")),
            "{}",
            inter.dir.path().display()
        );
    }
}
