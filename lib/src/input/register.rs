//! The raw tables: streaming tables of `target_partitions` partitions that
//! read the input files from one queue, each file with only the columns a
//! query needs; and `raw_file_rows`, the rows
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

/// Register `raw_<input>` tables: the session's target partitions reading
/// the input's files from one queue (one reader per file).
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

/// A raw table: `target_partitions` partitions reading its files from one
/// queue ([`queue_partitions`]), each file read with only the columns a
/// query needs (DataFusion's `StreamingTable` reads every column and
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
        let partitions = queue_partitions(FileQueue {
            spec: self.spec,
            files: self.files.clone(),
            schema: schema.clone(),
            projection: projection.cloned(),
            counted: self.counted.clone(),
            parts: state.config().target_partitions().max(1),
            round: Mutex::new(None),
        });
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

/// A file's batches as a reader gives them.
type Batches = Box<dyn Iterator<Item = datafusion::error::Result<RecordBatch>> + Send>;

/// The partitions of a raw table: `target` of them (none without files),
/// reading the files from one queue. A partition reads one file at a time
/// with the file's own reader; when that file ends it opens the next file
/// nobody has opened, and when none is left it shares a reader still in
/// progress, taking that file's batches in turn with the partitions already
/// there. So every core has rows to work on whatever the number of files:
///
/// * a single 10^7-row CSV file, one partition per file, kept a whole run's
///   checks and amounts on one core (`record_groups` 8.2-9.8 s against
///   5.9 s for the same rows in six files);
/// * six files, one partition each, held 55-65 MiB more at 10^7 rows than
///   the same rows in two files (each partition of the records' query holds
///   its own partial aggregation and batches in flight);
///
/// (docs/benchmarks.md, session 19). Every batch goes to exactly one
/// partition, a file's rows are counted once, as its reader reaches its
/// end, and a plan executed again reads the files again.
fn queue_partitions(queue: FileQueue) -> Vec<Arc<dyn PartitionStream>> {
    if queue.files.is_empty() {
        return Vec::new();
    }
    let queue = Arc::new(queue);
    (0..queue.parts)
        .map(|slot| {
            Arc::new(QueuePart {
                queue: queue.clone(),
                slot,
            }) as Arc<dyn PartitionStream>
        })
        .collect()
}

/// The files of a raw table and the partitions that read them (see
/// [`queue_partitions`]).
#[derive(Debug)]
struct FileQueue {
    spec: InputSpec,
    files: Vec<InputFile>,
    /// the projected schema
    schema: SchemaRef,
    /// the raw columns read (indices of the raw schema; `None`: all)
    projection: Option<Vec<usize>>,
    /// where a file's rows are recorded once it is read to its end
    counted: Arc<FileRows>,
    /// how many partitions read the files
    parts: usize,
    /// the work of the current execution of the plan and the partitions
    /// (slots) that have joined it
    round: Mutex<Option<Round>>,
}

#[derive(Debug)]
struct Round {
    work: Arc<Mutex<Work>>,
    joined: Vec<bool>,
}

/// What is left to read in one execution: the next file nobody has opened,
/// and the readers opened and not yet at their end.
struct Work {
    next_file: usize,
    open: Vec<Arc<Mutex<Batches>>>,
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work")
            .field("next_file", &self.next_file)
            .field("open", &self.open.len())
            .finish()
    }
}

impl FileQueue {
    /// Open `file`: its batches, counted for `raw_file_rows` (CSV and
    /// Parquet), or the error that it cannot be read.
    fn batches(&self, file: &InputFile) -> Batches {
        match crate::input::readers::open_projected(self.spec, file, self.projection.as_deref()) {
            Ok(it) => match file.format {
                Format::Csv | Format::Parquet => Box::new(
                    Counting {
                        inner: it,
                        input: self.spec.name,
                        path: file.path.clone(),
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

    /// The work partition `slot` takes part in: the current execution's,
    /// or, if this slot has already joined it (the plan executed again), a
    /// new one that reads every file anew.
    fn join(&self, slot: usize) -> Arc<Mutex<Work>> {
        let mut round = self.round.lock().unwrap_or_else(|p| p.into_inner());
        match round.as_mut() {
            Some(r) if !r.joined[slot] => {
                r.joined[slot] = true;
                r.work.clone()
            }
            _ => {
                let mut joined = vec![false; self.parts];
                joined[slot] = true;
                let work = Arc::new(Mutex::new(Work {
                    next_file: 0,
                    open: Vec::new(),
                }));
                *round = Some(Round {
                    work: work.clone(),
                    joined,
                });
                work
            }
        }
    }

    /// The reader a partition goes on with once its own is at its end: the
    /// next unopened file's, else one still in progress; `None` when every
    /// file has been read.
    fn next_reader(&self, work: &Mutex<Work>) -> Option<Arc<Mutex<Batches>>> {
        let lock = || work.lock().unwrap_or_else(|p| p.into_inner());
        let file = {
            let mut w = lock();
            match self.files.get(w.next_file) {
                Some(file) => {
                    w.next_file += 1;
                    file
                }
                None => return w.open.first().cloned(),
            }
        };
        // opened outside the lock (a workbook is parsed whole when opened);
        // meanwhile a partition that finds nothing to open nor to share
        // ends, and this one reads the file alone
        let reader = Arc::new(Mutex::new(Box::new(self.batches(file).fuse()) as Batches));
        lock().open.push(reader.clone());
        Some(reader)
    }
}

/// One partition of a raw table (see [`queue_partitions`]).
#[derive(Debug)]
struct QueuePart {
    queue: Arc<FileQueue>,
    slot: usize,
}

impl PartitionStream for QueuePart {
    fn schema(&self) -> &SchemaRef {
        &self.queue.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let queue = self.queue.clone();
        let work = queue.join(self.slot);
        let mut current: Option<Arc<Mutex<Batches>>> = None;
        let mut failed = false;
        let batches = std::iter::from_fn(move || {
            if failed {
                return None;
            }
            loop {
                let reader = match current.take() {
                    Some(r) => r,
                    None => queue.next_reader(&work)?,
                };
                let next = match reader.lock() {
                    Ok(mut r) => r.next(),
                    // a partition panicked while reading this file
                    Err(_) => {
                        failed = true;
                        return Some(Err(DataFusionError::Execution(
                            "a raw file's reader stopped while reading it".into(),
                        )));
                    }
                };
                match next {
                    Some(batch) => {
                        current = Some(reader);
                        return Some(batch);
                    }
                    // at its end: nobody goes on with it
                    None => work
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .open
                        .retain(|o| !Arc::ptr_eq(o, &reader)),
                }
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema().clone(),
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

    /// Every partition of `plan` executed, one batch from each in turn.
    async fn interleaved(
        plan: Arc<dyn ExecutionPlan>,
        ctx: &SessionContext,
    ) -> Vec<Vec<RecordBatch>> {
        use datafusion::physical_plan::ExecutionPlanProperties;
        use futures::StreamExt;
        let n = plan.output_partitioning().partition_count();
        let mut streams: Vec<_> = (0..n)
            .map(|i| Some(plan.execute(i, ctx.task_ctx()).unwrap()))
            .collect();
        let mut parts = vec![Vec::new(); n];
        while streams.iter().any(Option::is_some) {
            for (i, slot) in streams.iter_mut().enumerate() {
                if let Some(stream) = slot {
                    match stream.next().await {
                        Some(batch) => parts[i].push(batch.unwrap()),
                        None => *slot = None,
                    }
                }
            }
        }
        parts
    }

    /// A raw table has the session's target partitions whatever its number
    /// of files, and every record comes once, whichever partition takes
    /// which batch. Files of n records with quantities 1..=n, each file's
    /// quantities summing to n (n + 1) / 2:
    /// * 2 files (20 000 records: batches of 8 192, 8 192 and 3 616; and 5)
    ///   in 3 partitions: sums 20 000 × 20 001 / 2 = 200 010 000 and 15;
    /// * 5 files (20 000, 5, 7, 1 and 3 000 records) in 2 partitions: also
    ///   28, 1 and 3 000 × 3 001 / 2 = 4 501 500.
    ///
    /// Each plan is executed twice (it reads the files again), and each
    /// file's rows are counted once, by its reader.
    #[tokio::test]
    async fn the_partitions_read_the_files_from_one_queue() {
        use datafusion::physical_plan::{ExecutionPlanProperties, collect_partitioned};
        use datafusion::prelude::SessionConfig;
        let dir = tempfile::tempdir().unwrap();
        let header = "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n";
        let write = |name: &str, n: i64| {
            let mut text = header.to_string();
            for q in 1..=n {
                text.push_str(&format!("91A,110101,C2511,2025,raw_coal,{q},t\n"));
            }
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            (path, n)
        };
        let cases = [
            // 20 005 rows, 200 010 000 + 15
            (
                vec![write("a.csv", 20_000), write("b.csv", 5)],
                3,
                20_005,
                200_010_015,
            ),
            (
                vec![
                    write("c.csv", 20_000),
                    write("d.csv", 5),
                    write("e.csv", 7),
                    write("f.csv", 1),
                    write("g.csv", 3_000),
                ],
                2,
                // 23 013 rows, 200 010 000 + 15 + 28 + 1 + 4 501 500
                23_013,
                204_511_544,
            ),
        ];
        for (files, target, rows, total) in cases {
            let ctx = SessionContext::new_with_config(
                SessionConfig::new().with_target_partitions(target),
            );
            register_raw(
                &ctx,
                &[ResolvedInput {
                    spec: ENERGY,
                    files: files.iter().map(|(p, _)| read_file(ENERGY, p)).collect(),
                }],
            )
            .unwrap();
            let table = ctx.table_provider("raw_energy").await.unwrap();
            let plan = table.scan(&ctx.state(), None, &[], None).await.unwrap();
            assert_eq!(plan.output_partitioning().partition_count(), target);
            let schema = plan.schema();
            let file_col = schema.index_of("source_file").unwrap();
            let line_col = schema.index_of("source_line").unwrap();
            let quantity_col = schema.index_of("quantity").unwrap();
            for execution in 0..2 {
                let parts = if execution == 0 {
                    // the partitions take a batch each in turn: with 3
                    // partitions and 2 files the third shares the first
                    // file's reader, and every partition gets rows
                    let parts = interleaved(plan.clone(), &ctx).await;
                    assert!(parts.iter().all(|p| !p.is_empty()), "{parts:?}");
                    parts
                } else {
                    collect_partitioned(plan.clone(), ctx.task_ctx())
                        .await
                        .unwrap()
                };
                assert_eq!(parts.len(), target);
                // per file: the lines seen and the quantities summed
                let mut lines: HashMap<String, Vec<i64>> = HashMap::new();
                let mut sums: HashMap<String, i64> = HashMap::new();
                for b in parts.iter().flatten() {
                    let names = b.column(file_col).as_string_view();
                    let at = b.column(line_col).as_primitive::<Int64Type>();
                    let q = b.column(quantity_col).as_string_view();
                    for r in 0..b.num_rows() {
                        let f = names.value(r).to_string();
                        lines.entry(f.clone()).or_default().push(at.value(r));
                        *sums.entry(f).or_default() += q.value(r).parse::<i64>().unwrap();
                    }
                }
                let counted = counted_of(&ctx).await;
                for (path, n) in &files {
                    let name = path.display().to_string();
                    let mut seen = lines.remove(&name).unwrap();
                    seen.sort_unstable();
                    // the header is line 1
                    assert_eq!(seen, (2..=n + 1).collect::<Vec<i64>>(), "{name}");
                    assert_eq!(sums[&name], n * (n + 1) / 2, "{name}");
                    assert_eq!(counted.get("energy", &name), Some(*n as u64), "{name}");
                }
                assert!(lines.is_empty(), "{lines:?}");
            }
            // through SQL: the same rows once
            let got = ctx
                .sql("SELECT count(*), sum(CAST(quantity AS BIGINT)) FROM raw_energy")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(got[0].column(0).as_primitive::<Int64Type>().value(0), rows);
            assert_eq!(got[0].column(1).as_primitive::<Int64Type>().value(0), total);
        }
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
