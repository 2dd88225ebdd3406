//! Runs `sql/tests/*.slt` (sqllogictest, as DataFusion tests its own SQL)
//! against a session with carbonstat's UDFs, the shipped factor set, the run
//! parameters and empty raw input tables. A record `RUN STEP 30_emissions.sql`
//! executes that step's statements, so a test file inserts raw rows, runs the
//! steps it needs and checks what they produce.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use carbonstat::config::LoadedConfig;
use carbonstat::datafusion::arrow::array::{Array, RecordBatch};
use carbonstat::datafusion::arrow::compute::cast;
use carbonstat::datafusion::arrow::datatypes::DataType;
use carbonstat::datafusion::arrow::util::display::ArrayFormatter;
use carbonstat::datafusion::datasource::MemTable;
use carbonstat::datafusion::prelude::SessionContext;
use carbonstat::engine::{run_sql, step};
use carbonstat::factors::FactorSet;
use carbonstat::input::ALL_INPUTS;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Db {
    ctx: SessionContext,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn err(e: impl std::fmt::Display) -> DbError {
    DbError(e.to_string())
}

async fn session() -> Result<Db, DbError> {
    let factors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../factors/cn-2024");
    let yaml = format!(
        "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: {}\noutput: out\nbase_year: 2020\nengine:\n  target_partitions: 2\n",
        factors.display()
    );
    let cfg = LoadedConfig::from_str(&yaml, Path::new("slt.yaml"), Path::new(".")).map_err(err)?;
    let ctx = carbonstat::engine::new_session(&cfg).map_err(err)?;
    let set = FactorSet::load_checked(&factors).map_err(err)?;
    carbonstat::engine::register_run(&ctx, &cfg.config, &set).map_err(err)?;
    for spec in ALL_INPUTS {
        let table = MemTable::try_new(spec.raw_schema(), vec![vec![]]).map_err(err)?;
        ctx.register_table(spec.table(), Arc::new(table))
            .map_err(err)?;
    }
    Ok(Db { ctx })
}

/// Values as sqllogictest text: NULL, (empty), floats to 10 decimals without trailing zeros.
fn format_batches(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DbError> {
    let mut rows = Vec::new();
    for b in batches {
        let cols: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
                    cast(c, &DataType::Float64)
                }
                _ => Ok(c.clone()),
            })
            .collect::<Result<_, _>>()
            .map_err(err)?;
        for r in 0..b.num_rows() {
            let mut row = Vec::new();
            for c in &cols {
                row.push(if c.is_null(r) {
                    "NULL".to_string()
                } else if let Some(f) = c
                    .as_any()
                    .downcast_ref::<carbonstat::datafusion::arrow::array::Float64Array>()
                {
                    let s = format!("{:.10}", f.value(r));
                    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
                    if s == "-0" { "0".into() } else { s }
                } else {
                    let s = ArrayFormatter::try_new(c.as_ref(), &Default::default())
                        .map_err(err)?
                        .value(r)
                        .to_string();
                    if s.is_empty() { "(empty)".into() } else { s }
                });
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        if let Some(name) = sql.trim().strip_prefix("RUN STEP ") {
            let s = step(name.trim()).ok_or_else(|| err(format!("no SQL step {name}")))?;
            run_sql(&self.ctx, s.name, s.sql).await.map_err(err)?;
            return Ok(DBOutput::StatementComplete(0));
        }
        let df = self.ctx.sql(sql).await.map_err(err)?;
        let types = vec![DefaultColumnType::Any; df.schema().fields().len()];
        let batches = df.collect().await.map_err(err)?;
        Ok(DBOutput::Rows {
            types,
            rows: format_batches(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        let mut runner = sqllogictest::Runner::new(|| async { session().await });
        if let Err(e) = runner.run_file_async(f).await {
            failures.push(format!("{}:\n{}", f.display(), e.display(false)));
        }
        println!("ran {}", f.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
