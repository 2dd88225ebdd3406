//! Writing the datasets and publishing them atomically.
//!
//! The commit protocol, for any store (local disk, S3, GCS, Azure):
//! 1. every partition file is written under `_staging/<run_id>/` — invisible
//!    to readers of `reports/`;
//! 2. each is moved to its final path, `reports/<dataset>/year=<Y>/part-<F>.parquet`,
//!    where `<F>` is the first 16 hex digits of the run's fingerprint: a new
//!    run never overwrites a file the published manifest names (only identical
//!    bytes of an identical run), so readers that follow `manifest.json` never
//!    see a mix of two runs;
//! 3. the manifest is kept as `manifests/<run_id>.json`, then `manifest.json`
//!    is replaced — the commit point;
//! 4. files under `reports/` that the new manifest does not name, and anything
//!    left under `_staging/`, are removed.
//!
//! A run that dies anywhere before 3 leaves the published manifest and every
//! file it names untouched; the next run removes what it left. Files are
//! written with fixed writer settings and rows in a total order, so the same
//! inputs give byte-identical files.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, Int32Array, RecordBatch, Scalar};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::SessionContext;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::factors::sha256_hex;
use crate::manifest::{MANIFEST_FILE, Manifest, OutputFile};
use crate::schema::{DATASETS, Dataset, PARTITION_COLUMN};
use crate::storage::Location;

pub const REPORTS_PREFIX: &str = "reports";
pub const STAGING_PREFIX: &str = "_staging";
pub const MANIFESTS_PREFIX: &str = "manifests";

/// The environment variable that makes a run fail on purpose at named points
/// (comma-separated): after_ingest, mid_write, before_commit, mid_commit,
/// before_manifest. For fault-injection tests and drills.
pub const FAULT_ENV: &str = "CARBONSTAT_FAULT_INJECT";
pub const FAULT_POINTS: &[&str] = &[
    "after_ingest",
    "mid_write",
    "before_commit",
    "mid_commit",
    "before_manifest",
];

/// Pause here for `<ms>` if the fault-injection variable names `<point>:<ms>`
/// (for tests that need a run to hold its lock a while).
pub async fn pause(point: &str) {
    let Ok(v) = std::env::var(FAULT_ENV) else {
        return;
    };
    for entry in v.split(',') {
        if let Some((p, ms)) = entry.trim().split_once(':')
            && p == point
            && let Ok(ms) = ms.parse::<u64>()
        {
            tracing::warn!(point, ms, "pausing ({FAULT_ENV})");
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
}

/// Fail here if the fault-injection variable names this point.
pub fn fault(point: &str) -> Result<()> {
    if let Ok(v) = std::env::var(FAULT_ENV)
        && v.split(',').any(|p| p.trim() == point)
    {
        return Err(Error::Internal(format!(
            "fault injected at {point} ({FAULT_ENV}); the published reports were not changed"
        )));
    }
    Ok(())
}

/// Where a run publishes.
#[derive(Debug, Clone)]
pub struct OutputStore {
    pub loc: Location,
}

impl OutputStore {
    /// Open an output location; a local directory is created if missing.
    pub fn open(loc: Location) -> Result<Self> {
        if let Some(dir) = &loc.local {
            std::fs::create_dir_all(dir).map_err(|e| Error::Output {
                url: loc.display.clone(),
                message: format!("cannot create the directory: {e}"),
            })?;
        }
        Ok(OutputStore { loc })
    }

    pub fn url(&self) -> &str {
        &self.loc.display
    }

    fn err(&self, path: &str, e: object_store::Error) -> Error {
        Error::Output {
            url: format!("{}/{path}", self.loc.display),
            message: e.to_string(),
        }
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.loc
            .store
            .put(&self.loc.join(path), PutPayload::from(bytes))
            .await
            .map_err(|e| self.err(path, e))?;
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.loc.store.get(&self.loc.join(path)).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| self.err(path, e))?.to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Size of an object, None if it does not exist.
    pub async fn size(&self, path: &str) -> Result<Option<u64>> {
        match self.loc.store.head(&self.loc.join(path)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Every object below `prefix`, relative to the output root.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let p = self.loc.join(prefix);
        let metas: Vec<_> = self
            .loc
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| self.err(prefix, e))?;
        let mut out: Vec<String> = metas
            .iter()
            .map(|m| self.loc.relative(&m.location))
            .collect();
        out.sort();
        Ok(out)
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.loc
            .store
            .rename(&self.loc.join(from), &self.loc.join(to))
            .await
            .map_err(|e| self.err(from, e))
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.loc.store.delete(&self.loc.join(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Remove the empty directories below `prefix` (a local store keeps them).
    pub fn prune_empty_dirs(&self, prefix: &str) -> Result<()> {
        fn prune(dir: &std::path::Path) -> std::io::Result<bool> {
            let mut empty = true;
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    empty &= prune(&entry.path())?;
                } else {
                    empty = false;
                }
            }
            if empty {
                std::fs::remove_dir(dir)?;
            }
            Ok(empty)
        }
        if let Some(root) = &self.loc.local {
            let dir = root.join(prefix);
            if dir.is_dir() {
                prune(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
            }
        }
        Ok(())
    }

    /// The manifest of the last published run, if any.
    pub async fn read_manifest(&self) -> Result<Option<Manifest>> {
        match self.get(MANIFEST_FILE).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Output {
                    url: format!("{}/{MANIFEST_FILE}", self.loc.display),
                    message: format!("not a carbonstat manifest: {e}"),
                }),
        }
    }
}

/// Fixed writer settings: part of what makes files byte-identical.
pub fn writer_properties() -> WriterProperties {
    writer_settings().build()
}

/// [`writer_properties`] for a dataset's file: its measures (DOUBLE columns)
/// without a dictionary. They hardly repeat, so a dictionary only costs: every
/// value is hashed into it (a third of the encoder's time) and it grows to
/// the size of the values.
pub fn dataset_writer_properties(
    schema: &datafusion::arrow::datatypes::Schema,
) -> WriterProperties {
    use datafusion::parquet::schema::types::ColumnPath;
    schema
        .fields()
        .iter()
        .filter(|f| f.data_type() == &datafusion::arrow::datatypes::DataType::Float64)
        .fold(writer_settings(), |b, f| {
            b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false)
        })
        .build()
}

fn writer_settings() -> datafusion::parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1_000_000))
        .set_created_by(format!(
            "carbonstat {} (parquet-rs, DataFusion {})",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION
        ))
}

/// The final path of a dataset partition file of a run.
pub fn partition_path(dataset: &str, year: i32, fingerprint: &str) -> String {
    let f = &fingerprint[..16.min(fingerprint.len())];
    format!("{REPORTS_PREFIX}/{dataset}/{PARTITION_COLUMN}={year}/part-{f}.parquet")
}

fn staged(run_id: &str, path: &str) -> String {
    format!("{STAGING_PREFIX}/{run_id}/{path}")
}

/// Run a dataset's query and stage its partitions. Returns the files with
/// their final paths.
///
/// The query is ordered by year first, so one Parquet file is open at a time
/// (memory: one year's compressed file, not the dataset). Encoding and
/// compressing run on their own thread while the engine merges the sorted
/// rows: the two overlap instead of taking turns.
pub async fn write_dataset(
    ctx: &SessionContext,
    dataset: &Dataset,
    out: &OutputStore,
    run_id: &str,
    fingerprint: &str,
) -> Result<Vec<OutputFile>> {
    use futures::StreamExt;
    let step = format!("dataset {}", dataset.name);
    let plan = ctx
        .sql(&dataset.query())
        .await
        .map_err(|e| Error::sql(&step, e))?
        .create_physical_plan()
        .await
        .map_err(|e| Error::sql(&step, e))?;
    let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx.task_ctx())
        .map_err(|e| Error::sql(&step, e))?;
    let schema = dataset.file_schema();
    let (batches, mut encoded, thread) = encoder(schema.clone());
    let mut files = Vec::new();
    let mut last_year: Option<i32> = None;
    'stream: while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| Error::sql(&step, e))?;
        if batch.num_rows() == 0 {
            continue;
        }
        let years = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .ok_or_else(|| Error::Internal(format!("{}: year is not int32", dataset.name)))?;
        if years.null_count() > 0 {
            return Err(Error::Internal(format!(
                "{}: a row without a year cannot be partitioned",
                dataset.name
            )));
        }
        let distinct: BTreeSet<i32> = years.values().iter().copied().collect();
        // cast the stored columns to the declared types, with their metadata
        let columns = dataset
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| cast(batch.column(i + 1), &c.ty.arrow()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let typed = RecordBatch::try_new(schema.clone(), columns)?;
        for y in distinct {
            if let Some(last) = last_year.filter(|last| *last > y) {
                return Err(Error::Internal(format!(
                    "{}: rows of {y} after rows of {last}: the query must be ordered by year",
                    dataset.name
                )));
            }
            last_year = Some(y);
            let part = if years.values().iter().all(|v| *v == y) {
                typed.clone()
            } else {
                let mask = eq(years, &Scalar::new(Int32Array::from(vec![y])))?;
                filter_record_batch(&typed, &mask)?
            };
            if batches.send((y, part)).await.is_err() {
                break 'stream; // the encoder stopped: its error follows below
            }
        }
        // stage the years the encoder has finished meanwhile
        while let Ok(done) = encoded.try_recv() {
            files.push(done?.stage(dataset, out, run_id, fingerprint).await?);
        }
    }
    drop(batches);
    while let Some(done) = encoded.recv().await {
        files.push(done?.stage(dataset, out, run_id, fingerprint).await?);
    }
    // it has finished (it dropped its sender): joining does not wait
    thread
        .join()
        .map_err(|_| Error::Internal(format!("{}: the Parquet encoder failed", dataset.name)))?;
    let spilled = spilled_bytes(plan.as_ref());
    if spilled > 0 {
        tracing::info!(
            dataset = dataset.name,
            spilled_bytes = spilled as u64,
            "spilled to disk (engine.memory_limit)"
        );
    }
    crate::steps::show_analyzed(plan.as_ref(), || format!("dataset {}", dataset.name));
    Ok(files)
}

/// A finished year file, or why the encoder stopped.
type Encoded = Result<YearFile>;

/// A thread that encodes the batches of each year into one Parquet file and
/// hands back every finished file. It ends when the batch sender is dropped,
/// or at the first error (which it hands back).
fn encoder(
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> (
    tokio::sync::mpsc::Sender<(i32, RecordBatch)>,
    tokio::sync::mpsc::UnboundedReceiver<Encoded>,
    std::thread::JoinHandle<()>,
) {
    let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel::<(i32, RecordBatch)>(4);
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<Encoded>();
    let thread = std::thread::spawn(move || {
        let mut encode = || -> Result<()> {
            let mut open: Option<OpenYear> = None;
            while let Some((year, part)) = batch_rx.blocking_recv() {
                if let Some(previous) = open.take_if(|o| o.year != year)
                    && done_tx.send(Ok(previous.finish()?)).is_err()
                {
                    return Ok(()); // nobody waits for the files any more
                }
                let o = match &mut open {
                    Some(o) => o,
                    None => open.insert(OpenYear::new(year, schema.clone())?),
                };
                o.rows += part.num_rows() as u64;
                o.writer.write(&part)?;
            }
            if let Some(o) = open {
                let _ = done_tx.send(Ok(o.finish()?));
            }
            Ok(())
        };
        if let Err(e) = encode() {
            let _ = done_tx.send(Err(e));
        }
    });
    (batch_tx, done_rx, thread)
}

/// The Parquet file of one year partition being written.
struct OpenYear {
    year: i32,
    rows: u64,
    writer: ArrowWriter<Vec<u8>>,
}

impl OpenYear {
    fn new(year: i32, schema: datafusion::arrow::datatypes::SchemaRef) -> Result<Self> {
        Ok(OpenYear {
            year,
            rows: 0,
            writer: ArrowWriter::try_new(
                Vec::new(),
                schema.clone(),
                Some(dataset_writer_properties(&schema)),
            )?,
        })
    }

    fn finish(self) -> Result<YearFile> {
        Ok(YearFile {
            year: self.year,
            rows: self.rows,
            bytes: self.writer.into_inner()?,
        })
    }
}

/// The Parquet file of one year partition, written.
struct YearFile {
    year: i32,
    rows: u64,
    bytes: Vec<u8>,
}

impl YearFile {
    /// Put the file under the run's staging prefix.
    async fn stage(
        self,
        dataset: &Dataset,
        out: &OutputStore,
        run_id: &str,
        fingerprint: &str,
    ) -> Result<OutputFile> {
        let path = partition_path(dataset.name, self.year, fingerprint);
        let file = OutputFile {
            dataset: dataset.name.to_string(),
            partition: format!("{PARTITION_COLUMN}={}", self.year),
            path: path.clone(),
            rows: self.rows,
            bytes: self.bytes.len() as u64,
            sha256: sha256_hex(&self.bytes),
        };
        out.put(&staged(run_id, &path), self.bytes).await?;
        fault("mid_write")?;
        Ok(file)
    }
}

/// Bytes the operators of a finished plan spilled to disk.
pub fn spilled_bytes(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> usize {
    plan.metrics().and_then(|m| m.spilled_bytes()).unwrap_or(0)
        + plan
            .children()
            .iter()
            .map(|c| spilled_bytes(c.as_ref()))
            .sum::<usize>()
}

/// Write all datasets under the run's staging prefix.
pub async fn write_all(
    ctx: &SessionContext,
    out: &OutputStore,
    run_id: &str,
    fingerprint: &str,
) -> Result<Vec<OutputFile>> {
    let mut files = Vec::new();
    for d in DATASETS {
        let started = std::time::Instant::now();
        let written = write_dataset(ctx, &d, out, run_id, fingerprint).await?;
        tracing::info!(
            dataset = d.name,
            partitions = written.len(),
            rows = written.iter().map(|f| f.rows).sum::<u64>(),
            bytes = written.iter().map(|f| f.bytes).sum::<u64>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "dataset staged"
        );
        files.extend(written);
    }
    Ok(files)
}

/// Move the staged files into place, switch the manifest, remove what the new
/// run replaced.
pub async fn commit(out: &OutputStore, manifest: &Manifest) -> Result<()> {
    let run_id = &manifest.run_id;
    fault("before_commit")?;
    for (i, f) in manifest.outputs.iter().enumerate() {
        out.rename(&staged(run_id, &f.path), &f.path).await?;
        if i == 0 {
            fault("mid_commit")?;
        }
    }
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
    out.put(&format!("{MANIFESTS_PREFIX}/{run_id}.json"), json.clone())
        .await?;
    fault("before_manifest")?;
    out.put(MANIFEST_FILE, json).await?;
    tracing::info!(run_id = %run_id, "manifest.json replaced: the run is published");
    collect_garbage(out, manifest).await
}

/// Remove files under `reports/` that `manifest` does not name, and all of
/// `_staging/` (only ever called while holding the lock).
pub async fn collect_garbage(out: &OutputStore, manifest: &Manifest) -> Result<()> {
    let keep: BTreeSet<&str> = manifest.outputs.iter().map(|f| f.path.as_str()).collect();
    let mut removed = 0usize;
    for existing in out.list(REPORTS_PREFIX).await? {
        if !keep.contains(existing.as_str()) {
            out.delete(&existing).await?;
            removed += 1;
        }
    }
    for leftover in out.list(STAGING_PREFIX).await? {
        out.delete(&leftover).await?;
        removed += 1;
    }
    out.prune_empty_dirs(REPORTS_PREFIX)?;
    out.prune_empty_dirs(STAGING_PREFIX)?;
    if removed > 0 {
        tracing::info!(files = removed, "removed files no manifest names");
    }
    Ok(())
}
