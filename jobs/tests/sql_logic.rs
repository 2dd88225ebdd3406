//! Runs `sql/tests/*.slt` (sqllogictest, as DataFusion tests its own SQL)
//! against a session with carbonstat's UDFs, the shipped factor set cn-2024,
//! the run parameters and empty raw input tables. A record `RUN STEP
//! 30_emissions.sql` executes that step's statements, so a test file inserts
//! raw rows, runs the steps it needs and checks what they produce; a record
//! `USE FACTORS cn-2026` first starts over on another shipped set. A query
//! record `RUN QUERY silent_members.sql` runs that file of `sql/queries/`
//! (one without parameters) and checks its rows.
//!
//! The letters of `query <types>` are checked against each result column's
//! Arrow type, with DataFusion's own letters: T text, I integer, R float or
//! decimal, B boolean, D date or time, P timestamp, ? anything else. A step
//! that changes a column's type (an integer becoming a float, a count becoming
//! text) fails here even when the printed values look the same.
//!
//! ```text
//! cargo test -p carbonstat-jobs --test sql_logic                  # every file
//! cargo test -p carbonstat-jobs --test sql_logic -- 30_emissions  # files whose name contains it
//! cargo test -p carbonstat-jobs --test sql_logic -- --complete    # rewrite expected results
//! ```
//!
//! `--complete` (or `CARBONSTAT_SLT_COMPLETE=1`) rewrites the expected rows
//! and type letters of every query, and the expected error of a failing
//! record, from what the engine returns now, keeping comments and statements:
//! for a deliberate change of output. Then read the diff and mend the
//! arithmetic comments beside the rows: it records what the SQL does, not
//! what it should do.
//!
//! The file is its own test harness (`harness = false` in jobs/Cargo.toml), so
//! that `--complete` and file-name filters reach it; libtest's own options,
//! which `cargo test --workspace -- …` passes to every test binary, are
//! accepted and ignored.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use carbonstat::config::LoadedConfig;
use carbonstat::datafusion::arrow::array::{Array, RecordBatch};
use carbonstat::datafusion::arrow::compute::cast;
use carbonstat::datafusion::arrow::datatypes::DataType;
use carbonstat::datafusion::arrow::util::display::ArrayFormatter;
use carbonstat::datafusion::catalog::TableProvider;
use carbonstat::datafusion::datasource::MemTable;
use carbonstat::datafusion::prelude::SessionContext;
use carbonstat::engine::{run_sql, step};
use carbonstat::factors::FactorSet;
use carbonstat::input::{ALL_INPUTS, InputSpec};
use sqllogictest::{ColumnType, DBOutput};

/// A result column's type as a letter of `query <types>`: the mapping of
/// DataFusion's sqllogictest runner (datafusion/sqllogictest), so that our
/// files read like theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnKind {
    Text,
    Integer,
    Float,
    Boolean,
    DateTime,
    Timestamp,
    Other,
}

impl ColumnType for ColumnKind {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'T' => Self::Text,
            'I' => Self::Integer,
            'R' => Self::Float,
            'B' => Self::Boolean,
            'D' => Self::DateTime,
            'P' => Self::Timestamp,
            _ => Self::Other,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Self::Text => 'T',
            Self::Integer => 'I',
            Self::Float => 'R',
            Self::Boolean => 'B',
            Self::DateTime => 'D',
            Self::Timestamp => 'P',
            Self::Other => '?',
        }
    }
}

impl ColumnKind {
    fn of(data_type: &DataType) -> Self {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::Text,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Self::Integer,
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(_, _)
            | DataType::Decimal64(_, _)
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => Self::Float,
            DataType::Boolean => Self::Boolean,
            DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => {
                Self::DateTime
            }
            DataType::Timestamp(_, _) => Self::Timestamp,
            _ => Self::Other,
        }
    }
}

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
    session_with("cn-2024").await
}

/// A fresh session on the factor set `id` (`USE FACTORS cn-2026` at the top
/// of a file: the tables inserted before it are gone).
async fn session_with(id: &str) -> Result<Db, DbError> {
    let factors = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../factors")
        .join(id);
    let yaml = format!(
        "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: {}\noutput: out\nbase_year: 2020\nengine:\n  target_partitions: 2\n",
        factors.display()
    );
    let cfg = LoadedConfig::from_str(&yaml, Path::new("slt.yaml"), Path::new(".")).map_err(err)?;
    let ctx = carbonstat::engine::new_session(&cfg).map_err(err)?;
    let set = FactorSet::load_checked(&factors).map_err(err)?;
    carbonstat::engine::register_run(&ctx, &cfg.config, &set).map_err(err)?;
    let mut raw: Vec<(InputSpec, Arc<dyn TableProvider>)> = Vec::new();
    for spec in ALL_INPUTS {
        let table = Arc::new(MemTable::try_new(spec.raw_schema(), vec![vec![]]).map_err(err)?);
        ctx.register_table(spec.table(), table.clone())
            .map_err(err)?;
        raw.push((spec, table));
    }
    // raw_file_rows as the query it stands for (a run's readers count the
    // rows instead: carbonstat::input::FILE_ROWS_TABLE)
    let file_rows = carbonstat::input::file_rows_query(&raw).map_err(err)?;
    ctx.register_table(carbonstat::input::FILE_ROWS_TABLE, file_rows)
        .map_err(err)?;
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
    type ColumnType = ColumnKind;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<ColumnKind>, DbError> {
        if let Some(id) = sql.trim().strip_prefix("USE FACTORS ") {
            *self = session_with(id.trim()).await?;
            return Ok(DBOutput::StatementComplete(0));
        }
        if let Some(name) = sql.trim().strip_prefix("RUN STEP ") {
            let s = step(name.trim()).ok_or_else(|| err(format!("no SQL step {name}")))?;
            run_sql(&self.ctx, s.name, s.sql).await.map_err(err)?;
            return Ok(DBOutput::StatementComplete(0));
        }
        let owned;
        let sql = match sql.trim().strip_prefix("RUN QUERY ") {
            // a file of sql/queries/ without parameters, as the binary runs it
            Some(name) => {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../sql/queries")
                    .join(name.trim());
                owned = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("{}: {e}", path.display())))?;
                owned.as_str()
            }
            None => sql,
        };
        let df = self.ctx.sql(sql).await.map_err(err)?;
        let types = df
            .schema()
            .fields()
            .iter()
            .map(|f| ColumnKind::of(f.data_type()))
            .collect();
        let batches = df.collect().await.map_err(err)?;
        Ok(DBOutput::Rows {
            types,
            rows: format_batches(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}
}

/// What the command line asks for: libtest's options are accepted and ignored
/// (`cargo test --workspace -- --nocapture` passes them to every test binary).
struct Args {
    complete: bool,
    list: bool,
    ignored: bool,
    filters: Vec<String>,
}

fn parse_args() -> Args {
    // libtest options followed by a value, which is not a file filter
    const WITH_VALUE: &[&str] = &[
        "--test-threads",
        "--skip",
        "--logfile",
        "--format",
        "--color",
        "-Z",
    ];
    let mut args = Args {
        complete: std::env::var_os("CARBONSTAT_SLT_COMPLETE").is_some_and(|v| v == "1"),
        list: false,
        ignored: false,
        filters: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--complete" => args.complete = true,
            "--list" => args.list = true,
            // no file is marked ignored, so `-- --ignored` has none to run
            "--ignored" => args.ignored = true,
            o if WITH_VALUE.contains(&o) => {
                it.next();
            }
            o if o.starts_with('-') => {}
            _ => args.filters.push(a),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    if args.ignored {
        files.clear();
    }
    files.retain(|f| {
        args.filters.is_empty() || args.filters.iter().any(|x| name(f).contains(x.as_str()))
    });
    if args.list {
        for f in &files {
            println!("{}: test", name(f));
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for f in &files {
        let mut runner = sqllogictest::Runner::new(|| async { session().await });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        let outcome = rt.block_on(async {
            if args.complete {
                runner
                    .update_test_file(
                        f,
                        " ",
                        sqllogictest::default_validator,
                        sqllogictest::default_normalizer,
                        sqllogictest::strict_column_validator,
                    )
                    .await
                    .map_err(|e| e.to_string())
            } else {
                runner
                    .run_file_async(f)
                    .await
                    .map_err(|e| e.display(false).to_string())
            }
        });
        match outcome {
            Ok(()) => println!(
                "{} {}",
                if args.complete { "completed" } else { "ok" },
                name(f)
            ),
            Err(e) => {
                println!("FAILED {}", name(f));
                failures.push(format!("{}:\n{e}", f.display()));
            }
        }
    }
    if !failures.is_empty() {
        eprintln!("{}", failures.join("\n\n"));
        std::process::exit(1);
    }
}
