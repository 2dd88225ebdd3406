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

/// A session with the engine settings of the config's `engine` section
/// (`spill_dir` resolved against the config's directory).
pub fn new_session(cfg: &LoadedConfig) -> Result<SessionContext> {
    let config = &cfg.config;
    let spill_dir = cfg.spill_dir()?;
    let partitions = config
        .engine
        .target_partitions
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut session_config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_information_schema(true);
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
    session_config =
        session_config.with_extension(Arc::new(Intermediates::new(spill_dir.as_deref())?));
    // the small tables the SQL steps read with lookup(…) (see crate::engine::lookup)
    let lookups = Arc::new(crate::engine::lookup::Lookups::default());
    session_config = session_config.with_extension(lookups.clone());
    let ctx = SessionContext::new_with_config_rt(session_config, runtime.build_arc()?);
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
    Ok(ctx)
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
