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
pub async fn run_sql(ctx: &SessionContext, name: &str, sql: &str) -> Result<()> {
    use datafusion::logical_expr::{DdlStatement, LogicalPlan};
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
                    exec.write_parquet(physical.clone(), &url, Some(properties))
                        .await
                        .map_err(wrap)?;
                    ctx.register_parquet(
                        create.name.clone(),
                        &url,
                        datafusion::prelude::ParquetReadOptions::default(),
                    )
                    .await
                    .map_err(wrap)?;
                    let rows = output_rows(physical.as_ref());
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
                    (rows as usize, 0)
                }
            };
            tracing::debug!(step = name, table = %table_name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "table created");
            if spilled > 0 {
                tracing::info!(step = name, table = %table_name, spilled_bytes = spilled as u64, "spilled to disk (engine.memory_limit)");
            }
            continue;
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

/// Run the named steps in order.
pub(crate) async fn run_steps(ctx: &SessionContext, steps: &[Step]) -> Result<()> {
    for s in steps {
        let started = std::time::Instant::now();
        run_sql(ctx, s.name, s.sql).await?;
        tracing::info!(
            step = s.name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "step done"
        );
    }
    Ok(())
}
