//! The SQL steps, in the order they run. They are compiled into the binary (a
//! cron job runs one static file) and their hashes go into the manifest; the
//! readable sources are `sql/*.sql` in the repository.

use std::collections::VecDeque;

use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};

use crate::digest::sha256_hex;
use crate::engine::metrics::output_rows;
use crate::engine::metrics::show_analyzed;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub name: &'static str,
    pub sql: &'static str,
    /// Which part of the run the step belongs to: the quality gate
    /// (`quality.max_reject_ratio`) runs between the last validation step and
    /// the first computation step.
    pub phase: Phase,
}

/// The two parts of a run, split by the quality gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Normalise, choose factors, apply the row and key rules: every reject
    /// and every input count is known at its end.
    Validation,
    /// Compute the indicators from the accepted rows.
    Computation,
}

impl Step {
    pub(crate) fn sha256(&self) -> String {
        sha256_hex(self.sql.as_bytes())
    }
}

pub const STEPS: &[Step] = &[
    Step {
        name: "10_normalize.sql",
        sql: include_str!("../../../sql/10_normalize.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "15_factors.sql",
        sql: include_str!("../../../sql/15_factors.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "20_validate.sql",
        sql: include_str!("../../../sql/20_validate.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "21_amounts.sql",
        sql: include_str!("../../../sql/21_amounts.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "22_budget_inputs.sql",
        sql: include_str!("../../../sql/22_budget_inputs.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "23_group_inputs.sql",
        sql: include_str!("../../../sql/23_group_inputs.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "27_key_rules.sql",
        sql: include_str!("../../../sql/27_key_rules.sql"),
        phase: Phase::Validation,
    },
    Step {
        name: "30_emissions.sql",
        sql: include_str!("../../../sql/30_emissions.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "40_regions.sql",
        sql: include_str!("../../../sql/40_regions.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "45_budget.sql",
        sql: include_str!("../../../sql/45_budget.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "47_groups.sql",
        sql: include_str!("../../../sql/47_groups.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "50_indicators.sql",
        sql: include_str!("../../../sql/50_indicators.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "55_explain.sql",
        sql: include_str!("../../../sql/55_explain.sql"),
        phase: Phase::Computation,
    },
    Step {
        name: "60_targets.sql",
        sql: include_str!("../../../sql/60_targets.sql"),
        phase: Phase::Computation,
    },
];

/// The steps that validate the inputs (the quality gate runs after the last
/// of them) and the steps that compute from the accepted rows.
pub(crate) fn validation_and_computation() -> (&'static [Step], &'static [Step]) {
    let validated = STEPS
        .iter()
        .position(|s| s.phase == Phase::Computation)
        .unwrap_or(STEPS.len());
    STEPS.split_at(validated)
}

pub fn step(name: &str) -> Option<&'static Step> {
    STEPS
        .iter()
        .find(|s| s.name == name || s.name.trim_end_matches(".sql") == name)
}

fn parse(name: &str, sql: &str) -> Result<VecDeque<Statement>> {
    DFParser::parse_sql(sql).map_err(|source| Error::sql(name, source))
}

/// Run every statement of a SQL text, in order (CREATE VIEW / CREATE TABLE …).
/// A `CREATE TABLE … AS` is executed here rather than by the engine, so its
/// duration, rows and spilled bytes are logged per statement.
///
/// A `SET datafusion.…` in the text lasts until its `RESET` or the end of
/// the text, whichever comes first; then the option has the value it had
/// before (the run's, e.g. from a `DATAFUSION_*` environment variable), not
/// DataFusion's default.
pub async fn run_sql(ctx: &SessionContext, name: &str, sql: &str) -> Result<()> {
    let mut scoped = ScopedSettings::default();
    let ran = run_statements(ctx, name, sql, &mut scoped).await;
    let restored = scoped.restore_all(ctx);
    ran?;
    restored.map_err(|source| Error::sql(format!("{name}: restoring the options it set"), source))
}

/// The value an option of the session has now (None: unset).
fn option_value(ctx: &SessionContext, key: &str) -> Option<String> {
    ctx.state()
        .config()
        .options()
        .entries()
        .into_iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value)
}

/// The options a SQL text has set, with the values they had before.
#[derive(Default)]
struct ScopedSettings {
    previous: Vec<(String, Option<String>)>,
}

impl ScopedSettings {
    /// Remember the value `key` has now, unless already remembered.
    fn remember(&mut self, ctx: &SessionContext, key: &str) {
        if !self.previous.iter().any(|(k, _)| k == key) {
            self.previous
                .push((key.to_string(), option_value(ctx, key)));
        }
    }

    /// Put `key` back to its remembered value; false when it was not set
    /// by this text.
    fn restore(&mut self, ctx: &SessionContext, key: &str) -> datafusion::error::Result<bool> {
        let Some(at) = self.previous.iter().position(|(k, _)| k == key) else {
            return Ok(false);
        };
        let (key, value) = self.previous.remove(at);
        put_back(ctx, &key, value)?;
        Ok(true)
    }

    fn restore_all(&mut self, ctx: &SessionContext) -> datafusion::error::Result<()> {
        while let Some((key, value)) = self.previous.pop() {
            put_back(ctx, &key, value)?;
        }
        Ok(())
    }
}

/// The rows of the Parquet files a statement wrote at `url`, from their
/// footers (no row is read); None when they cannot be counted: only the
/// debug log shows it.
async fn count_files(exec: &SessionContext, url: &str) -> Option<usize> {
    exec.read_parquet(url, datafusion::prelude::ParquetReadOptions::default())
        .await
        .ok()?
        .count()
        .await
        .ok()
}

/// Set option `key` to `value`, or to DataFusion's default when None.
fn put_back(
    ctx: &SessionContext,
    key: &str,
    value: Option<String>,
) -> datafusion::error::Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    match value {
        Some(v) => options.set(key, &v),
        None => datafusion::common::config::ConfigField::reset(options, key),
    }
}

async fn run_statements(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
    scoped: &mut ScopedSettings,
) -> Result<()> {
    use datafusion::logical_expr::{DdlStatement, LogicalPlan, Statement as Stmt};
    let lookups = ctx
        .state()
        .config()
        .get_extension::<crate::engine::lookup::Lookups>();
    for (i, statement) in parse(name, sql)?.into_iter().enumerate() {
        let head: String = statement.to_string().chars().take(60).collect();
        let wrap = |source| Error::sql(format!("{name} statement {} ({head}…)", i + 1), source);
        // the tables this statement reads with lookup(…) are read into memory
        // before it is planned (the UDF's type is that of the table's columns)
        for (table, keys) in crate::engine::lookup::calls_in(&statement) {
            let Some(lookups) = &lookups else {
                return Err(Error::Internal(
                    "lookup(…) needs a session made by carbonstat::engine::session::new_session"
                        .into(),
                ));
            };
            lookups.load(ctx, &table, keys).await.map_err(wrap)?;
        }
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(wrap)?;
        if let LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) = &plan {
            let started = std::time::Instant::now();
            // on a cluster the executors write the table's files themselves
            // (engine::cluster::write_table); here, and for a statement a
            // cluster cannot run, this process plans it and writes them
            let here = if crate::engine::session::writes_on_cluster(ctx, &create.input) {
                None
            } else {
                let exec = crate::engine::session::session_for(ctx, &create.input);
                let physical = exec
                    .execute_logical_plan((*create.input).clone())
                    .await
                    .map_err(wrap)?
                    .create_physical_plan()
                    .await
                    .map_err(wrap)?;
                Some((exec, physical))
            };
            let table_name = create.name.to_string();
            if let Some(lookups) = &lookups {
                lookups.forget(&table_name);
            }
            if create.or_replace {
                ctx.deregister_table(create.name.clone()).map_err(wrap)?;
            }
            // stream the rows to Parquet files in the session's table
            // directory and read them back from there (bounded memory)
            let inter = ctx
                .state()
                .config()
                .get_extension::<crate::engine::session::Intermediates>()
                .ok_or_else(|| {
                    Error::Internal(
                        "SQL steps need a session made by carbonstat::engine::session::new_session"
                            .into(),
                    )
                })?;
            let dir = inter.dir.path().join(&table_name);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| Error::io(dir.display().to_string(), e))?;
            }
            let url = dir.display().to_string();
            let (rows, spilled) = match here {
                Some((exec, physical)) => {
                    let properties = intermediate_properties(&physical.schema());
                    match clustered_by(&table_name) {
                        Some(column) => {
                            write_clustered(
                                exec.task_ctx(),
                                physical.clone(),
                                &dir,
                                column,
                                properties,
                            )
                            .await
                        }
                        None => {
                            exec.write_parquet(physical.clone(), &url, Some(properties))
                                .await
                        }
                    }
                    .map_err(wrap)?;
                    ctx.register_parquet(
                        create.name.clone(),
                        &url,
                        datafusion::prelude::ParquetReadOptions::default(),
                    )
                    .await
                    .map_err(wrap)?;
                    // for the debug log: a plan whose top operator keeps no
                    // row count (a ScalarSubqueryExec: region_intensity) is
                    // counted from the files' footers, by the session that
                    // wrote them
                    let rows = match output_rows(physical.as_ref()) {
                        Some(rows) => Some(rows),
                        None if tracing::enabled!(tracing::Level::DEBUG) => {
                            count_files(&exec, &url).await
                        }
                        None => None,
                    };
                    let rows = rows.map_or_else(|| "?".to_string(), |n| n.to_string());
                    show_analyzed(physical.as_ref(), || {
                        format!(
                            "{name}: {table_name} ({rows} rows, {} ms)",
                            started.elapsed().as_millis()
                        )
                    });
                    (
                        rows,
                        crate::engine::metrics::spilled_bytes(physical.as_ref()),
                    )
                }
                None => {
                    let (rows, table) =
                        crate::engine::session::write_on_cluster(ctx, &create.input, &dir)
                            .await
                            .map_err(wrap)?;
                    ctx.register_table(create.name.clone(), table)
                        .map_err(wrap)?;
                    (rows.to_string(), 0)
                }
            };
            tracing::debug!(step = name, table = %table_name, rows = %rows, elapsed_ms = started.elapsed().as_millis() as u64, "table created");
            if spilled > 0 {
                tracing::info!(step = name, table = %table_name, spilled_bytes = spilled as u64, "spilled to disk (engine.memory_limit)");
            }
            continue;
        }
        match &plan {
            LogicalPlan::Statement(Stmt::SetVariable(set))
                if !set.variable.starts_with("datafusion.runtime.") =>
            {
                scoped.remember(ctx, &set.variable);
            }
            LogicalPlan::Statement(Stmt::ResetVariable(reset))
                if scoped.restore(ctx, &reset.variable).map_err(wrap)? =>
            {
                continue;
            }
            _ => {}
        }
        if let (LogicalPlan::Ddl(DdlStatement::CreateView(view)), Some(lookups)) = (&plan, &lookups)
        {
            lookups.forget(&view.name.to_string());
        }
        let df = ctx.execute_logical_plan(plan).await.map_err(wrap)?;
        df.collect().await.map_err(wrap)?;
    }
    Ok(())
}

/// Intermediate tables on disk: fast to write and read, they live only for
/// the run. Text is dictionary-encoded and LZ4-compressed (written once,
/// read back as views into the dictionary); integers are delta-encoded
/// (source_line is a run of +1 steps, year and month repeat); floats and
/// decimals are written plain and uncompressed, since their values rarely
/// repeat: a dictionary or LZ4 only costs time there (docs/benchmarks.md has
/// the column costs). No column statistics: the tables are read whole, so
/// min/max per page would be computed for nothing (the row counts the
/// planner uses are in the footer anyway).
pub(crate) fn intermediate_properties(
    schema: &datafusion::arrow::datatypes::Schema,
) -> datafusion::parquet::file::properties::WriterProperties {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::parquet::basic::{Compression, Encoding};
    use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
    use datafusion::parquet::schema::types::ColumnPath;
    let mut b = WriterProperties::builder()
        // the writer holds a row group's pages in memory until it is
        // complete, outside DataFusion's memory pool: 64Ki rows (the
        // default is 1Mi) keep that to a few MiB per writer
        // (docs/benchmarks.md, session 10)
        .set_max_row_group_row_count(Some(64 * 1024))
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::None);
    for field in schema.fields() {
        let column = || ColumnPath::from(field.name().as_str());
        let t = field.data_type();
        if t.is_integer() {
            b = b
                .set_column_dictionary_enabled(column(), false)
                .set_column_encoding(column(), Encoding::DELTA_BINARY_PACKED);
        } else if t.is_floating()
            || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
        {
            b = b
                .set_column_dictionary_enabled(column(), false)
                .set_column_compression(column(), Compression::UNCOMPRESSED);
        }
    }
    b.build()
}

/// The tables written clustered by a column: a file per value of the
/// column and output partition ([`write_clustered`]), the column's minimum
/// and maximum kept in each file's footer. A query of one value then reads
/// that value's files only: enterprise_annual is published one year at a
/// time (`publish::schema::Dataset::per_year`), and each year's query read
/// all of record_groups, every year's rows, to keep a sixth of them
/// (docs/benchmarks.md, session 18). (DataFusion does not skip a file of
/// NULLs: in record_groups it holds the rejected rows' counts, a row per
/// file with rejects.) What a table holds is the same either way: only its
/// files differ. On a cluster the executors write the tables unclustered
/// (engine::cluster::write_table). enterprise_totals, published the same
/// way, is not clustered: at 10^8 input rows writing it so cost as much as
/// its per-year queries saved.
pub(crate) const CLUSTERED_TABLES: &[(&str, &str)] = &[("record_groups", "year")];

/// The column table `name` is clustered by, if it is.
pub(crate) fn clustered_by(name: &str) -> Option<&'static str> {
    CLUSTERED_TABLES
        .iter()
        .find(|(table, _)| *table == name)
        .map(|(_, column)| *column)
}

/// Write the rows of `plan` into `dir` clustered by the integer column
/// `column`: each output partition's rows of one value of the column go to
/// `part-<partition>-<value>.parquet` (`null` for NULL), with the column's
/// statistics, so a filter on a value skips the other values' files. The
/// properties are those of every intermediate table (row groups of 64Ki
/// rows) with the column's statistics; a writer holds its row group until it
/// ends, so with six years and two partitions the run holds up to twelve
/// (docs/benchmarks.md, session 18: +35-47 MiB at 10^7 input rows; smaller
/// row groups, or a writer per value shared by the partitions, made the run
/// slower). A partition without rows writes an empty `part-<partition>.parquet`,
/// which keeps the table's schema when no row at all is written.
pub(crate) async fn write_clustered(
    task_ctx: std::sync::Arc<datafusion::execution::TaskContext>,
    plan: std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    dir: &std::path::Path,
    column: &str,
    properties: datafusion::parquet::file::properties::WriterProperties,
) -> datafusion::error::Result<()> {
    use std::collections::BTreeMap;
    use std::collections::btree_map::Entry;

    use datafusion::common::runtime::SpawnedTask;
    use datafusion::error::DataFusionError;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::physical_plan::ExecutionPlanProperties;
    use futures::StreamExt;

    type Writer = ArrowWriter<std::io::BufWriter<std::fs::File>>;
    let schema = plan.schema();
    let index = schema.index_of(column)?;
    if !schema.field(index).data_type().is_integer() {
        return Err(DataFusionError::Internal(format!(
            "a table is clustered by an integer column; {column} is {}",
            schema.field(index).data_type()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let properties = clustered_properties(properties, column);
    let open = {
        let (dir, schema) = (dir.to_path_buf(), schema.clone());
        move |name: String| -> datafusion::error::Result<Writer> {
            let file = std::fs::File::create(dir.join(name))?;
            Ok(ArrowWriter::try_new(
                std::io::BufWriter::new(file),
                schema.clone(),
                Some(properties.clone()),
            )?)
        }
    };
    let mut tasks = Vec::new();
    for partition in 0..plan.output_partitioning().partition_count() {
        let mut stream = plan.execute(partition, task_ctx.clone())?;
        let open = open.clone();
        tasks.push(SpawnedTask::spawn(async move {
            let mut writers: BTreeMap<Option<i64>, Writer> = BTreeMap::new();
            while let Some(batch) = stream.next().await {
                for (value, rows) in split_by_value(&batch?, index)? {
                    let writer = match writers.entry(value) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(e) => {
                            let shown = value.map_or_else(|| "null".to_string(), |v| v.to_string());
                            e.insert(open(format!("part-{partition}-{shown}.parquet"))?)
                        }
                    };
                    writer.write(&rows)?;
                }
            }
            if writers.is_empty() {
                open(format!("part-{partition}.parquet"))?.close()?;
            }
            for writer in writers.into_values() {
                writer.close()?;
            }
            Ok::<(), DataFusionError>(())
        }));
    }
    // a task dropped on an error is stopped; a panic goes on in this one
    for task in tasks {
        task.join_unwind()
            .await
            .map_err(|e| DataFusionError::ExecutionJoin(Box::new(e)))??;
    }
    Ok(())
}

/// The intermediate tables' properties with the minimum and maximum of
/// `column` kept per row group, which a filter on it is checked against.
fn clustered_properties(
    properties: datafusion::parquet::file::properties::WriterProperties,
    column: &str,
) -> datafusion::parquet::file::properties::WriterProperties {
    use datafusion::parquet::file::properties::EnabledStatistics;
    use datafusion::parquet::schema::types::ColumnPath;
    properties
        .into_builder()
        .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::Chunk)
        .build()
}

/// The rows of `batch` per value of integer column `index` (NULL apart), in
/// the order of the values' first rows; the whole batch when it has one value.
fn split_by_value(
    batch: &datafusion::arrow::record_batch::RecordBatch,
    index: usize,
) -> datafusion::error::Result<Vec<(Option<i64>, datafusion::arrow::record_batch::RecordBatch)>> {
    use datafusion::arrow::array::{Array, AsArray, UInt32Array};
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let values = datafusion::arrow::compute::cast(batch.column(index), &DataType::Int64)?;
    let values = values.as_primitive::<Int64Type>();
    let value = |i: usize| (!values.is_null(i)).then(|| values.value(i));
    let first = value(0);
    if (1..batch.num_rows()).all(|i| value(i) == first) {
        return Ok(vec![(first, batch.clone())]);
    }
    let mut rows: Vec<(Option<i64>, Vec<u32>)> = Vec::new();
    for i in 0..batch.num_rows() {
        let v = value(i);
        match rows.iter_mut().find(|(seen, _)| *seen == v) {
            Some((_, of)) => of.push(i as u32),
            None => rows.push((v, vec![i as u32])),
        }
    }
    rows.into_iter()
        .map(|(v, of)| {
            let taken =
                datafusion::arrow::compute::take_record_batch(batch, &UInt32Array::from(of))?;
            Ok((v, taken))
        })
        .collect()
}

/// Run the named steps in order.
pub(crate) async fn run_steps(ctx: &SessionContext, steps: &[Step]) -> Result<()> {
    for s in steps {
        let started = std::time::Instant::now();
        run_sql(ctx, s.name, s.sql).await?;
        crate::engine::memory::give_back_if_large(ctx);
        tracing::info!(
            step = s.name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "step done"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    use crate::config::LoadedConfig;

    use super::option_value as option;

    /// Run a SQL text as a step would.
    async fn run(ctx: &datafusion::prelude::SessionContext, sql: &str) {
        super::run_sql(ctx, "t", sql).await.unwrap();
    }

    /// The batches of a query.
    async fn query(
        ctx: &datafusion::prelude::SessionContext,
        sql: &str,
    ) -> Vec<datafusion::arrow::array::RecordBatch> {
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    /// A `SET` in a SQL text lasts until its `RESET` or the end of the text;
    /// then the option has the value it had before the text (here 0.5, as a
    /// `DATAFUSION_*` variable would set it), not DataFusion's default (0.8).
    #[tokio::test]
    async fn a_set_lasts_until_its_reset_or_the_end_of_the_text() {
        const KEY: &str = "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold";
        let ctx = datafusion::prelude::SessionContext::new();
        query(&ctx, &format!("SET {KEY} = 0.5")).await;
        run(
            &ctx,
            &format!("SET {KEY} = 0.0; CREATE VIEW v AS SELECT 1 AS one; RESET {KEY};"),
        )
        .await;
        assert_eq!(option(&ctx, KEY).as_deref(), Some("0.5"));
        // no RESET: the end of the text puts it back (and a second SET of
        // the same option does not make the first value forgotten)
        run(
            &ctx,
            &format!("SET {KEY} = 0.0; SET {KEY} = 0.1; CREATE VIEW w AS SELECT 1 AS one;"),
        )
        .await;
        assert_eq!(option(&ctx, KEY).as_deref(), Some("0.5"));
        // a RESET of an option the text did not set is DataFusion's own
        run(&ctx, &format!("RESET {KEY};")).await;
        assert_eq!(option(&ctx, KEY).as_deref(), Some("0.8"));
    }

    /// A session as a run makes it, its tables under a temporary spill directory.
    fn run_session(spill: &Path) -> datafusion::prelude::SessionContext {
        let yaml = format!(
            "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: f\noutput: out\nbase_year: 2020\nengine:\n  target_partitions: 1\n  spill_dir: {}\n",
            spill.display()
        );
        let cfg = LoadedConfig::from_str(&yaml, Path::new("t.yaml"), Path::new(".")).unwrap();
        crate::engine::new_session(&cfg).unwrap()
    }

    /// The statements between a SET and the end of the text run with the
    /// value set: the table made there recorded it.
    #[tokio::test]
    async fn the_statements_after_a_set_run_with_its_value() {
        let spill = tempfile::tempdir().unwrap();
        let ctx = run_session(spill.path());
        run(
            &ctx,
            "SET datafusion.execution.batch_size = 1234;
             CREATE TABLE seen AS SELECT value FROM information_schema.df_settings
             WHERE name = 'datafusion.execution.batch_size';",
        )
        .await;
        assert_eq!(
            option(&ctx, "datafusion.execution.batch_size").as_deref(),
            Some("8192")
        );
        let batches = query(&ctx, "SELECT value FROM seen").await;
        let value = datafusion::arrow::compute::cast(
            batches[0].column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        assert_eq!(value.as_string::<i32>().value(0), "1234");
    }

    /// The files of a table a step created.
    fn table_files(
        ctx: &datafusion::prelude::SessionContext,
        table: &str,
    ) -> Vec<std::path::PathBuf> {
        let inter = ctx
            .state()
            .config()
            .get_extension::<crate::engine::session::Intermediates>()
            .unwrap();
        std::fs::read_dir(inter.dir.path().join(table))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    /// The rows a query's scan of a table gave (its DataSourceExec's output).
    fn scanned_rows(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> Option<usize> {
        if plan.name() == "DataSourceExec" {
            return plan.metrics().and_then(|m| m.output_rows());
        }
        plan.children()
            .into_iter()
            .find_map(|c| scanned_rows(c.as_ref()))
    }

    /// record_groups is written clustered by year: a file per year (and
    /// output partition; NULL apart), each with the year's minimum and
    /// maximum in its footer. It reads back whole, and a query of one year
    /// scans that year's rows only.
    #[tokio::test]
    async fn a_clustered_table_is_a_file_per_value() {
        use datafusion::parquet::file::statistics::Statistics;
        let spill = tempfile::tempdir().unwrap();
        let ctx = run_session(spill.path());
        // value % 4: 0 → 2020, 1 → 2021, 2 → 2022, 3 → NULL; 25 000 rows
        // each, given by two partitions (the two sides of the UNION ALL):
        // 12 500 of each year in each
        let rows = |from: u32, to: u32| {
            format!(
                "SELECT CAST(CASE WHEN value % 4 = 3 THEN NULL ELSE 2020 + value % 4 END AS INT) AS year, value AS v FROM generate_series({from}, {to})"
            )
        };
        run(
            &ctx,
            &format!(
                "CREATE TABLE record_groups AS {} UNION ALL {}",
                rows(1, 50_000),
                rows(50_001, 100_000)
            ),
        )
        .await;
        let mut files = Vec::new();
        for path in table_files(&ctx, "record_groups") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            for g in reader.metadata().row_groups() {
                let shown = match g.column(0).statistics() {
                    Some(Statistics::Int32(s)) if s.null_count_opt() == Some(0) => {
                        assert_eq!(s.min_opt(), s.max_opt(), "{name}");
                        format!("{}", s.min_opt().unwrap())
                    }
                    Some(s) if s.null_count_opt() == Some(g.num_rows() as u64) => {
                        "null".to_string()
                    }
                    other => panic!("{name}: {other:?}"),
                };
                assert!(
                    [0, 1]
                        .iter()
                        .any(|p| name == format!("part-{p}-{shown}.parquet")),
                    "{name}"
                );
            }
            assert_eq!(
                reader.metadata().file_metadata().num_rows(),
                12_500,
                "{name}"
            );
            files.push(name);
        }
        files.sort();
        assert_eq!(
            files,
            [
                "part-0-2020.parquet",
                "part-0-2021.parquet",
                "part-0-2022.parquet",
                "part-0-null.parquet",
                "part-1-2020.parquet",
                "part-1-2021.parquet",
                "part-1-2022.parquet",
                "part-1-null.parquet"
            ]
        );
        // 2020: 4 + 8 + … + 100 000 = 4 × (25 000 × 25 001 / 2) = 1 250 050 000;
        // 2021: Σ (4k + 1), k = 0 … 24 999 = 4 × 312 487 500 + 25 000 = 1 249 975 000;
        // 2022: + 25 000 more = 1 250 000 000; NULL: + 25 000 more = 1 250 025 000
        // (together 100 000 × 100 001 / 2 = 5 000 050 000)
        let batches = query(
            &ctx,
            "SELECT CAST(year AS BIGINT) AS y, count(*), sum(v) FROM record_groups GROUP BY year ORDER BY y NULLS LAST",
        )
        .await;
        let b = &batches[0];
        let col = |i: usize| -> Vec<Option<i64>> {
            b.column(i).as_primitive::<Int64Type>().iter().collect()
        };
        assert_eq!(col(0), [Some(2020), Some(2021), Some(2022), None]);
        assert_eq!(col(1), [Some(25_000); 4]);
        assert_eq!(
            col(2),
            [
                Some(1_250_050_000),
                Some(1_249_975_000),
                Some(1_250_000_000),
                Some(1_250_025_000)
            ]
        );
        // a query of 2021 scans the 25 000 rows of its files and the 25 000
        // of the NULL files, not 100 000: DataFusion does not skip a row
        // group whose column is all NULL (in record_groups those are the
        // rejected rows' counts, one row per file with rejects)
        let df = ctx
            .sql("SELECT sum(v) FROM record_groups WHERE year = 2021")
            .await
            .unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let got = datafusion::physical_plan::collect(plan.clone(), ctx.task_ctx())
            .await
            .unwrap();
        assert_eq!(
            got[0].column(0).as_primitive::<Int64Type>().value(0),
            1_249_975_000
        );
        assert_eq!(scanned_rows(plan.as_ref()), Some(50_000));
        // a clustered table without rows keeps its columns
        run(
            &ctx,
            "CREATE OR REPLACE TABLE record_groups AS SELECT CAST(1 AS INT) AS year, 'x' AS k WHERE false",
        )
        .await;
        let empty = query(&ctx, "SELECT year, k FROM record_groups").await;
        assert_eq!(empty.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    }

    /// A table a step creates is written in row groups of at most 64Ki rows
    /// (the writer holds a whole row group in memory), and reads back whole.
    #[tokio::test]
    async fn intermediate_tables_are_written_in_small_row_groups() {
        let spill = tempfile::tempdir().unwrap();
        let ctx = run_session(spill.path());
        run(
            &ctx,
            "CREATE TABLE big AS SELECT value AS v FROM generate_series(1, 150000)",
        )
        .await;
        let mut groups = Vec::new();
        for path in table_files(&ctx, "big") {
            let file = std::fs::File::open(path).unwrap();
            let reader = SerializedFileReader::new(file).unwrap();
            for g in reader.metadata().row_groups() {
                groups.push(g.num_rows());
            }
        }
        // 150 000 rows in one partition: 65 536 + 65 536 + 18 928
        groups.sort_unstable();
        assert_eq!(groups, vec![18_928, 65_536, 65_536]);
        let batches = query(&ctx, "SELECT count(*) AS n, sum(v) AS s FROM big").await;
        // 1 + 2 + … + 150 000 = 150 000 × 150 001 / 2 = 11 250 075 000
        let n = batches[0].column(0).as_primitive::<Int64Type>().value(0);
        let s: &Int64Array = batches[0].column(1).as_primitive::<Int64Type>();
        assert_eq!((n, s.value(0)), (150_000, 11_250_075_000));
    }
}
