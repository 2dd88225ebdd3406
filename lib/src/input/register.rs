//! The raw tables: every input file one partition of a streaming table
//! (or several, when there are fewer files than partitions), read with only
//! the columns a query needs; and `raw_file_rows`, the rows
//! of every raw file as the readers counted them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::input::InputFile;
use crate::input::InputSpec;
use crate::input::ResolvedInput;
use crate::input::{Format, readers};

/// The table of the rows of every raw file: `raw_file_rows(input,
/// source_file, rows_read)`, the relation of
///
/// ```sql
/// SELECT '<input>' AS input, source_file, count(*) AS rows_read
/// FROM raw_<input> GROUP BY source_file    -- for every input, UNION ALL
/// ```
///
/// (a file without rows has no row). A local run's readers count the rows of
/// a CSV or Parquet file as a query reads it to its end, so the table is
/// answered from those counts when the records' one read (`record_groups`,
/// `sql/21_amounts.sql`) has been made, instead of by reading every record a
/// second time; a file no query has read to its end (and every workbook,
/// whose rows are named by sheet) is read for its count. On a cluster the
/// executors read the files, so the table is that query itself.
pub const FILE_ROWS_TABLE: &str = "raw_file_rows";

/// Register `raw_<input>` tables: every file of an input is one partition,
/// or several sharing its reader when the input has fewer files than the
/// session's target partitions.
/// An input without files (an optional one that is not configured) is an
/// empty table with the same columns, so the SQL steps need no special cases.
pub fn register_raw(ctx: &SessionContext, inputs: &[ResolvedInput]) -> Result<()> {
    #[cfg(feature = "distributed")]
    let on_cluster = ctx
        .state()
        .config()
        .get_extension::<crate::engine::session::OnCluster>();
    let counted = Arc::new(FileRows::default());
    ctx.deregister_table(FILE_ROWS_TABLE)?;
    #[cfg(feature = "distributed")]
    let mut on_cluster_tables = Vec::new();
    for input in inputs {
        let schema = input.spec.raw_schema();
        ctx.deregister_table(input.spec.table())?;
        #[cfg(feature = "distributed")]
        if let Some(cluster) = &on_cluster {
            // a file scan Ballista can hand out file by file (input::file_scan)
            if let Some(f) = input.files.iter().find(|f| f.path.starts_with("memory://")) {
                return Err(Error::InputFile {
                    input: input.spec.name.to_string(),
                    file: f.path.clone(),
                    message: "memory:// is this process's own memory, which a cluster's executors cannot read: put the file on s3://, gs://, az:// or a path every executor mounts".into(),
                });
            }
            let table = Arc::new(crate::input::file_scan::RawInputTable {
                spec: input.spec,
                files: Arc::new(input.files.clone()),
                schema,
                storage: cluster.storage.clone(),
            });
            ctx.register_table(input.spec.table(), table.clone())?;
            on_cluster_tables.push((input.spec, table as Arc<dyn TableProvider>));
            continue;
        }
        let table = RawTable {
            spec: input.spec,
            files: input.files.clone(),
            schema,
            counted: counted.clone(),
        };
        ctx.register_table(input.spec.table(), Arc::new(table))?;
    }
    #[cfg(feature = "distributed")]
    if !on_cluster_tables.is_empty() {
        ctx.register_table(FILE_ROWS_TABLE, file_rows_query(&on_cluster_tables)?)?;
        return Ok(());
    }
    let table = FileRowsTable {
        inputs: inputs.iter().map(|i| (i.spec, i.files.clone())).collect(),
        counted,
    };
    ctx.register_table(FILE_ROWS_TABLE, Arc::new(table))?;
    Ok(())
}

/// The rows of each CSV and Parquet file that a scan read to its end, by
/// (input, file path): what [`FileRowsTable`] answers from. (A workbook's
/// rows are not counted here: its rows are named by sheet, not by path.)
#[derive(Debug, Default)]
struct FileRows {
    counted: Mutex<HashMap<(&'static str, String), u64>>,
}

impl FileRows {
    fn record(&self, input: &'static str, path: &str, rows: u64) {
        if let Ok(mut c) = self.counted.lock() {
            c.insert((input, path.to_string()), rows);
        }
    }

    fn get(&self, input: &'static str, path: &str) -> Option<u64> {
        let c = self.counted.lock().ok()?;
        c.get(&(input, path.to_string())).copied()
    }
}

/// A file's batches, their rows counted; the count is recorded when the
/// reader has given its last batch (a scan that stops early, or a reader
/// that fails, records nothing).
struct Counting {
    inner: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    input: &'static str,
    path: String,
    rows: u64,
    /// nothing more to record: the reader failed, or its count is recorded
    settled: bool,
    counted: Arc<FileRows>,
}

impl Iterator for Counting {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.inner.next();
        match &next {
            Some(Ok(b)) => self.rows += b.num_rows() as u64,
            Some(Err(_)) => self.settled = true,
            None if !self.settled => {
                self.counted.record(self.input, &self.path, self.rows);
                // once: a reader asked again after its end stays at its end
                self.settled = true;
            }
            None => {}
        }
        next
    }
}

/// `raw_file_rows` of a local run (see [`FILE_ROWS_TABLE`]).
#[derive(Debug)]
struct FileRowsTable {
    inputs: Vec<(InputSpec, Vec<InputFile>)>,
    counted: Arc<FileRows>,
}

fn file_rows_schema() -> SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    // the types of the query it stands for: a text literal, the raw
    // source_file, count(*)
    Arc::new(Schema::new(vec![
        Field::new("input", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8View, false),
        Field::new("rows_read", DataType::Int64, false),
    ]))
}

#[async_trait::async_trait]
impl TableProvider for FileRowsTable {
    fn schema(&self) -> SchemaRef {
        file_rows_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    /// A filter on the input (`input = '…'`, `input IN (…)`, ORs of them) is applied
    /// before any file is counted (and again by DataFusion): a query of the
    /// records' files reads no file of another input.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match inputs_named(f) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let named: Vec<Vec<String>> = filters.iter().filter_map(inputs_named).collect();
        let stream = FileRowsStream {
            inputs: self
                .inputs
                .iter()
                .filter(|(spec, _)| {
                    named
                        .iter()
                        .all(|names| names.iter().any(|n| n == spec.name))
                })
                .cloned()
                .collect(),
            counted: self.counted.clone(),
            schema: file_rows_schema(),
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            file_rows_schema(),
            vec![Arc::new(stream) as Arc<dyn PartitionStream>],
            projection,
            Vec::new(),
            false,
            limit,
        )?))
    }
}

/// The inputs a filter of `raw_file_rows` keeps, when it names them:
/// `input = 'x'` (either way round), `input IN ('x', …)`, or such filters
/// joined by OR.
fn inputs_named(filter: &Expr) -> Option<Vec<String>> {
    use datafusion::logical_expr::{BinaryExpr, Operator, expr::InList};
    let is_input = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "input");
    let text = |e: &Expr| match e {
        Expr::Literal(v, _) => v.try_as_str().flatten().map(str::to_string),
        _ => None,
    };
    match filter {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut names = inputs_named(left)?;
            names.extend(inputs_named(right)?);
            Some(names)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            if is_input(left) {
                text(right).map(|t| vec![t])
            } else if is_input(right) {
                text(left).map(|t| vec![t])
            } else {
                None
            }
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) if is_input(expr) => list.iter().map(text).collect(),
        _ => None,
    }
}

/// The one partition of `raw_file_rows`: the counts are taken when its
/// stream is first polled (after the statements before it have read the
/// files).
#[derive(Debug, Clone)]
struct FileRowsStream {
    inputs: Vec<(InputSpec, Vec<InputFile>)>,
    counted: Arc<FileRows>,
    schema: SchemaRef,
}

impl FileRowsStream {
    fn rows(&self) -> Result<RecordBatch> {
        use datafusion::arrow::array::{Int64Array, StringArray, StringViewArray};
        let mut input = Vec::new();
        let mut file = Vec::new();
        let mut rows = Vec::new();
        for (spec, files) in &self.inputs {
            for f in files {
                let counted = match f.format {
                    Format::Csv | Format::Parquet => self.counted.get(spec.name, &f.path),
                    Format::Xlsx | Format::Xls => None,
                };
                let per_name = match counted {
                    Some(n) => vec![(f.path.clone(), n)],
                    None => count_by_reading(*spec, f)?,
                };
                for (name, n) in per_name.into_iter().filter(|(_, n)| *n > 0) {
                    input.push(spec.name);
                    file.push(name);
                    rows.push(n as i64);
                }
            }
        }
        RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(StringArray::from(input)),
                Arc::new(StringViewArray::from_iter_values(file)),
                Arc::new(Int64Array::from(rows)),
            ],
        )
        .map_err(|e| Error::Internal(format!("raw_file_rows: {e}")))
    }
}

/// The rows of a file by the `source_file` its reader gives them (one name
/// per file; a workbook's names its sheet), read with that column alone.
fn count_by_reading(spec: InputSpec, f: &InputFile) -> Result<Vec<(String, u64)>> {
    use datafusion::arrow::array::AsArray;
    let column = spec.columns().count();
    let mut out: Vec<(String, u64)> = Vec::new();
    for b in readers::open_projected(spec, f, Some(&[column]))? {
        let b = b?;
        let names = b.column(0).as_string_view();
        for name in names.iter().flatten() {
            match out.last_mut() {
                Some((last, n)) if last == name => *n += 1,
                _ => match out.iter_mut().find(|(s, _)| s == name) {
                    Some((_, n)) => *n += 1,
                    None => out.push((name.to_string(), 1)),
                },
            }
        }
    }
    Ok(out)
}

impl PartitionStream for FileRowsStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let this = self.clone();
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::once(async move { this.rows().map_err(to_df) }),
        ))
    }
}

/// `raw_file_rows` as the query it stands for, over the given raw tables:
/// a cluster's (whose executors read the files) and the SQL logic tests'.
pub fn file_rows_query(
    tables: &[(InputSpec, Arc<dyn TableProvider>)],
) -> Result<Arc<dyn TableProvider>> {
    use datafusion::catalog::view::ViewTable;
    use datafusion::datasource::provider_as_source;
    use datafusion::functions_aggregate::count::count_all;
    use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
    let mut plan: Option<LogicalPlanBuilder> = None;
    for (spec, table) in tables {
        let source_file = spec.columns().count();
        let one = LogicalPlanBuilder::scan(
            spec.table(),
            provider_as_source(table.clone()),
            Some(vec![source_file]),
        )?
        .aggregate(
            vec![col("source_file")],
            vec![count_all().alias("rows_read")],
        )?
        .project(vec![
            lit(spec.name).alias("input"),
            col("source_file"),
            col("rows_read"),
        ])?;
        plan = Some(match plan {
            None => one,
            Some(p) => p.union(one.build()?)?,
        });
    }
    let plan = plan
        .ok_or_else(|| Error::Internal("raw_file_rows of no input".into()))?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// A raw table: every file one partition (several sharing its reader when
/// there are fewer files than target partitions: [`shared_partitions`]),
/// read with only the columns a query needs (DataFusion's `StreamingTable` reads every column and
/// projects afterwards: counting a Parquet file's rows decoded all its
/// pages).
#[derive(Debug)]
struct RawTable {
    spec: InputSpec,
    files: Vec<InputFile>,
    schema: SchemaRef,
    counted: Arc<FileRows>,
}

#[async_trait::async_trait]
impl TableProvider for RawTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let files: Vec<RawFileStream> = self
            .files
            .iter()
            .map(|f| RawFileStream {
                spec: self.spec,
                file: f.clone(),
                schema: schema.clone(),
                projection: projection.cloned(),
                counted: self.counted.clone(),
            })
            .collect();
        let target = state.config().target_partitions().max(1);
        let partitions: Vec<Arc<dyn PartitionStream>> = if files.is_empty() || files.len() >= target
        {
            files
                .into_iter()
                .map(|f| Arc::new(f) as Arc<dyn PartitionStream>)
                .collect()
        } else {
            shared_partitions(files, target)
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            None,
            Vec::new(),
            false,
            limit,
        )?))
    }
}

/// One file of a raw table, read with the scan's projection.
#[derive(Debug)]
pub(crate) struct RawFileStream {
    spec: InputSpec,
    file: InputFile,
    /// the projected schema
    schema: SchemaRef,
    /// the raw columns read (indices of the raw schema; `None`: all)
    projection: Option<Vec<usize>>,
    /// where the file's rows are recorded once it is read to its end
    counted: Arc<FileRows>,
}

/// A file's batches as a reader gives them.
type Batches = Box<dyn Iterator<Item = datafusion::error::Result<RecordBatch>> + Send>;

impl RawFileStream {
    /// Open the file: its batches, counted for `raw_file_rows` (CSV and
    /// Parquet), or the error that it cannot be read.
    fn batches(&self) -> Batches {
        match crate::input::readers::open_projected(
            self.spec,
            &self.file,
            self.projection.as_deref(),
        ) {
            Ok(it) => match self.file.format {
                Format::Csv | Format::Parquet => Box::new(
                    Counting {
                        inner: it,
                        input: self.spec.name,
                        path: self.file.path.clone(),
                        rows: 0,
                        settled: false,
                        counted: self.counted.clone(),
                    }
                    .map(|r| r.map_err(to_df)),
                ),
                Format::Xlsx | Format::Xls => Box::new(it.map(|r| r.map_err(to_df))),
            },
            Err(e) => Box::new(std::iter::once(Err(to_df(e)))),
        }
    }
}

impl PartitionStream for RawFileStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(self.batches()),
        ))
    }
}

/// The partitions of a raw table with fewer files than the session's target
/// partitions: partition `i` reads file `i % files`, and the partitions of
/// one file share its one reader, each taking the next batch when it needs
/// one. The file is read (parsed) by one partition at a time, but what the
/// query does with its rows runs in all of them: a single 10^7-row CSV file
/// kept a whole run's checks and amounts on one core (`record_groups` 8.2-9.8 s
/// against 5.9 s for the same rows in six files; docs/benchmarks.md, session
/// 19). Every batch goes to exactly one partition, and a file's rows are
/// still counted once, as its reader reaches its end.
fn shared_partitions(files: Vec<RawFileStream>, target: usize) -> Vec<Arc<dyn PartitionStream>> {
    let n = files.len();
    let shared: Vec<Arc<SharedFile>> = files
        .into_iter()
        .enumerate()
        .map(|(f, stream)| {
            Arc::new(SharedFile {
                stream,
                // the partitions i < target with i % n == f
                parts: (target - f).div_ceil(n),
                round: Mutex::new(None),
            })
        })
        .collect();
    (0..target)
        .map(|i| {
            Arc::new(SharedPart {
                file: shared[i % n].clone(),
                slot: i / n,
            }) as Arc<dyn PartitionStream>
        })
        .collect()
}

/// One file read for several partitions (see [`shared_partitions`]).
#[derive(Debug)]
struct SharedFile {
    stream: RawFileStream,
    /// how many partitions share the file
    parts: usize,
    /// the reader of the current execution of the plan and the partitions
    /// (slots) that have joined it
    round: Mutex<Option<Round>>,
}

struct Round {
    reader: Arc<Mutex<Batches>>,
    joined: Vec<bool>,
}

impl std::fmt::Debug for Round {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Round")
            .field("joined", &self.joined)
            .finish()
    }
}

impl SharedFile {
    /// The reader partition `slot` takes its batches from: the current
    /// one, or, if this slot has already taken from it (the plan executed
    /// again), a new one that opens the file anew.
    fn join(&self, slot: usize) -> Arc<Mutex<Batches>> {
        let mut round = self.round.lock().unwrap_or_else(|p| p.into_inner());
        match round.as_mut() {
            Some(r) if !r.joined[slot] => {
                r.joined[slot] = true;
                r.reader.clone()
            }
            _ => {
                let mut joined = vec![false; self.parts];
                joined[slot] = true;
                let reader = Arc::new(Mutex::new(self.stream.batches()));
                *round = Some(Round {
                    reader: reader.clone(),
                    joined,
                });
                reader
            }
        }
    }
}

/// A partition of a shared file (see [`shared_partitions`]).
#[derive(Debug)]
struct SharedPart {
    file: Arc<SharedFile>,
    slot: usize,
}

impl PartitionStream for SharedPart {
    fn schema(&self) -> &SchemaRef {
        &self.file.stream.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let reader = self.file.join(self.slot);
        let path = self.file.stream.file.path.clone();
        let mut failed = false;
        let batches = std::iter::from_fn(move || {
            if failed {
                return None;
            }
            match reader.lock() {
                Ok(mut r) => r.next(),
                // another partition's reader panicked while reading
                Err(_) => {
                    failed = true;
                    Some(Err(DataFusionError::Execution(format!(
                        "{path}: the reader stopped while reading the file"
                    ))))
                }
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.file.stream.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}

pub(crate) fn to_df(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::Int64Type;

    use crate::config::InputOptions;
    use crate::input::{ENERGY, read_local_file};

    /// The file at `path` as `spec`'s input, with the default options.
    fn read_file(spec: InputSpec, path: &std::path::Path) -> InputFile {
        read_local_file(spec, path, InputOptions::default())
            .unwrap()
            .0
    }

    /// The counts `ctx`'s `raw_file_rows` answers from.
    async fn counted_of(ctx: &SessionContext) -> Arc<FileRows> {
        let table = ctx.table_provider(FILE_ROWS_TABLE).await.unwrap();
        (table.as_ref() as &dyn std::any::Any)
            .downcast_ref::<FileRowsTable>()
            .unwrap()
            .counted
            .clone()
    }

    /// (source_file, rows_read) of `sql`'s rows, by file name.
    async fn counts(ctx: &SessionContext, sql: &str) -> Vec<(String, i64)> {
        let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out: Vec<(String, i64)> = batches
            .iter()
            .flat_map(|b| {
                let file = b.column(0).as_string_view().clone();
                let n = b.column(1).as_primitive::<Int64Type>().clone();
                (0..b.num_rows()).map(move |r| (file.value(r).to_string(), n.value(r)))
            })
            .collect();
        out.sort();
        out
    }

    /// `raw_file_rows` is the count query it stands for, before any read
    /// (each file read for its count) and after a whole read (answered from
    /// the readers' counts): a CSV file with a record over two lines and a
    /// short one, a CSV file of a header alone (no row), a Parquet file and
    /// an Excel workbook (its rows named by sheet).
    #[tokio::test]
    async fn file_rows_are_the_count_of_each_files_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        crate::input::readers_tests::write_energy_csv(&csv);
        let empty = dir.path().join("b.csv");
        std::fs::write(
            &empty,
            "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n",
        )
        .unwrap();
        let parquet = dir.path().join("c.parquet");
        crate::input::readers_tests::write_energy_parquet(&parquet);
        let xls =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/energy.xls");
        let files: Vec<InputFile> = [&csv, &empty, &parquet, &xls]
            .iter()
            .map(|p| read_file(ENERGY, p))
            .collect();
        let ctx = SessionContext::new();
        register_raw(
            &ctx,
            &[ResolvedInput {
                spec: ENERGY,
                files: files.clone(),
            }],
        )
        .unwrap();
        let counted = counted_of(&ctx).await;
        let defined = counts(
            &ctx,
            "SELECT source_file, count(*) FROM raw_energy GROUP BY source_file",
        )
        .await;
        // the CSV file's 3 records (lines 2-3, 4 and 5) and the Parquet
        // file's 3 rows; the header alone gives no row
        let name = |p: &std::path::Path| p.display().to_string();
        assert!(defined.contains(&(name(&csv), 3)), "{defined:?}");
        assert!(defined.contains(&(name(&parquet), 3)), "{defined:?}");
        assert!(!defined.iter().any(|(f, _)| *f == name(&empty)));
        let xls_rows = defined.iter().find(|(f, _)| f.starts_with(&name(&xls)));
        assert!(
            xls_rows.is_some_and(|(f, n)| f.ends_with(']') && *n > 0),
            "{defined:?}"
        );
        // that read went to the end of every file: the CSV and Parquet
        // files' counts are kept, the workbook's are not looked at
        assert_eq!(counted.get("energy", &name(&csv)), Some(3));
        assert_eq!(counted.get("energy", &name(&empty)), Some(0));
        assert_eq!(counted.get("energy", &name(&parquet)), Some(3));
        let answered = counts(
            &ctx,
            "SELECT source_file, rows_read FROM raw_file_rows WHERE input = 'energy'",
        )
        .await;
        assert_eq!(answered, defined);

        // a fresh session: nothing read yet, every file read for its count;
        // a scan cut short by a LIMIT keeps no count of a file it did not
        // finish (the CSV file's one batch of 3 rows is cut to 1)
        let fresh = SessionContext::new();
        register_raw(
            &fresh,
            &[ResolvedInput {
                spec: ENERGY,
                files,
            }],
        )
        .unwrap();
        fresh
            .sql("SELECT * FROM raw_energy LIMIT 1")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let counted = counted_of(&fresh).await;
        assert!(matches!(counted.get("energy", &name(&csv)), None | Some(3)));
        let read = counts(&fresh, "SELECT source_file, rows_read FROM raw_file_rows").await;
        assert_eq!(read, defined);
    }

    /// An input of fewer files than target partitions is read into every
    /// partition, each batch into one: a file of 20 000 records (batches of
    /// 8 192, 8 192 and 3 616 rows) and one of 5 records, 3 partitions.
    /// Whichever partition takes which batch, every record comes once: the
    /// lines 2..=20001 of the first file, their quantities 1..=20 000 summing
    /// to 20 000 × 20 001 / 2 = 200 010 000; the second file's 5 records sum
    /// to 1 + 2 + 3 + 4 + 5 = 15. Executed a second time, the plan reads the
    /// files again, and each file's rows are counted once, by its reader.
    #[tokio::test]
    async fn fewer_files_than_partitions_share_their_readers() {
        use datafusion::physical_plan::{ExecutionPlanProperties, collect_partitioned};
        use datafusion::prelude::SessionConfig;
        let dir = tempfile::tempdir().unwrap();
        let header = "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n";
        let rows = |n: usize| {
            let mut text = header.to_string();
            for q in 1..=n {
                text.push_str(&format!("91A,110101,C2511,2025,raw_coal,{q},t\n"));
            }
            text
        };
        let big = dir.path().join("a.csv");
        std::fs::write(&big, rows(20_000)).unwrap();
        let small = dir.path().join("b.csv");
        std::fs::write(&small, rows(5)).unwrap();
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(3));
        register_raw(
            &ctx,
            &[ResolvedInput {
                spec: ENERGY,
                files: vec![read_file(ENERGY, &big), read_file(ENERGY, &small)],
            }],
        )
        .unwrap();
        let table = ctx.table_provider("raw_energy").await.unwrap();
        let plan = table.scan(&ctx.state(), None, &[], None).await.unwrap();
        assert_eq!(plan.output_partitioning().partition_count(), 3);
        let schema = plan.schema();
        let file_col = schema.index_of("source_file").unwrap();
        let line_col = schema.index_of("source_line").unwrap();
        let quantity_col = schema.index_of("quantity").unwrap();
        for _execution in 0..2 {
            let parts = collect_partitioned(plan.clone(), ctx.task_ctx())
                .await
                .unwrap();
            assert_eq!(parts.len(), 3);
            // per file: the lines seen and the quantities summed
            let mut lines: HashMap<String, Vec<i64>> = HashMap::new();
            let mut sums: HashMap<String, i64> = HashMap::new();
            for b in parts.iter().flatten() {
                let files = b.column(file_col).as_string_view();
                let at = b.column(line_col).as_primitive::<Int64Type>();
                let q = b.column(quantity_col).as_string_view();
                for r in 0..b.num_rows() {
                    let f = files.value(r).to_string();
                    lines.entry(f.clone()).or_default().push(at.value(r));
                    *sums.entry(f).or_default() += q.value(r).parse::<i64>().unwrap();
                }
            }
            let name = |p: &std::path::Path| p.display().to_string();
            let mut a = lines.remove(&name(&big)).unwrap();
            a.sort_unstable();
            assert_eq!(a, (2..=20_001).collect::<Vec<i64>>());
            assert_eq!(sums[&name(&big)], 200_010_000);
            let mut b = lines.remove(&name(&small)).unwrap();
            b.sort_unstable();
            assert_eq!(b, vec![2, 3, 4, 5, 6]);
            assert_eq!(sums[&name(&small)], 15);
            assert!(lines.is_empty(), "{lines:?}");
            let counted = counted_of(&ctx).await;
            assert_eq!(counted.get("energy", &name(&big)), Some(20_000));
            assert_eq!(counted.get("energy", &name(&small)), Some(5));
        }
        // through SQL: the same rows once
        let got = ctx
            .sql("SELECT count(*), sum(CAST(quantity AS BIGINT)) FROM raw_energy")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(
            got[0].column(0).as_primitive::<Int64Type>().value(0),
            20_005
        );
        assert_eq!(
            got[0].column(1).as_primitive::<Int64Type>().value(0),
            200_010_015
        );
    }

    /// A filter on the input is applied before any file is counted: with a
    /// GDP file gone from the disk, the energy files' rows are still
    /// answered, and only a query that needs the GDP file fails.
    #[tokio::test]
    async fn file_rows_of_one_input_read_no_file_of_another() {
        let dir = tempfile::tempdir().unwrap();
        let energy = dir.path().join("e.parquet");
        crate::input::readers_tests::write_energy_parquet(&energy);
        let gdp = dir.path().join("g.csv");
        std::fs::write(&gdp, "region_code,year,gdp\n150622,2024,100\n").unwrap();
        let inputs = [
            ResolvedInput {
                spec: ENERGY,
                files: vec![read_file(ENERGY, &energy)],
            },
            ResolvedInput {
                spec: crate::input::GDP,
                files: vec![read_file(crate::input::GDP, &gdp)],
            },
        ];
        std::fs::remove_file(&gdp).unwrap();
        let ctx = SessionContext::new();
        register_raw(&ctx, &inputs).unwrap();
        let name = energy.display().to_string();
        for filter in [
            "input = 'energy'",
            "'energy' = input",
            "input IN ('energy', 'sector_energy')",
            "input = 'energy' OR input = 'sector_energy'",
        ] {
            let sql = format!("SELECT source_file, rows_read FROM raw_file_rows WHERE {filter}");
            // the Parquet file's 3 rows
            assert_eq!(
                counts(&ctx, &sql).await,
                vec![(name.clone(), 3)],
                "{filter}"
            );
        }
        let all = ctx.sql("SELECT * FROM raw_file_rows").await.unwrap();
        assert!(all.collect().await.is_err(), "the GDP file is gone");
    }
}
