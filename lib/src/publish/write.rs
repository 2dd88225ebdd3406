//! Writing the datasets: one deterministic Parquet file per dataset and
//! year, staged under `_staging/<run_id>/`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::{Array, Int32Array, RecordBatch, Scalar};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::SessionContext;

use crate::digest::{ContentHash, sha256_hex};
use crate::engine::metrics::spilled_bytes;
use crate::error::{Error, Result};
use crate::publish::OutputStore;
use crate::publish::REPORTS_PREFIX;
use crate::publish::STAGING_PREFIX;
use crate::publish::faults::{FaultPoint, fault_point};
use crate::publish::manifest::OutputFile;
use crate::publish::schema::{DATASETS, Dataset, PARTITION_COLUMN};

/// Fixed writer settings: part of what makes files byte-identical.
pub(crate) fn writer_properties() -> WriterProperties {
    writer_settings().build()
}

/// [`writer_properties`] for a dataset's file: no column with a dictionary.
/// Its measures (DOUBLE columns) hardly repeat, so a dictionary only costs:
/// every value is hashed into it and it grows to the size of the values.
/// Its text columns do repeat, but zstd takes the repeats out of the plain
/// pages as well: without dictionaries every dataset is smaller and encoded
/// faster (docs/benchmarks.md, sessions 16 and 17). Readers see the same
/// values and types either way.
pub(crate) fn dataset_writer_properties() -> WriterProperties {
    writer_settings().set_dictionary_enabled(false).build()
}

pub(crate) fn writer_settings() -> datafusion::parquet::file::properties::WriterPropertiesBuilder {
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
pub(crate) fn partition_path(dataset: &str, year: i32, fingerprint: &str) -> String {
    let f = &fingerprint[..16.min(fingerprint.len())];
    format!("{REPORTS_PREFIX}/{dataset}/{PARTITION_COLUMN}={year}/part-{f}.parquet")
}

pub(crate) fn staged(run_id: &str, path: &str) -> String {
    format!("{STAGING_PREFIX}/{run_id}/{path}")
}

/// Run a dataset's query and stage its partitions. Returns the files with
/// their final paths.
///
/// The query is ordered by year first (a `per_year` dataset has a query per
/// year, so one sort holds one year), so one Parquet file is open at a time
/// (memory: the row group being encoded, not the year's file), written where
/// [`YearPlace`] says. Encoding and
/// compressing run on their own thread while the engine merges the sorted
/// rows: the two overlap instead of taking turns.
pub(crate) async fn write_dataset(
    ctx: &SessionContext,
    dataset: &Dataset,
    out: &OutputStore,
    run_id: &str,
    fingerprint: &str,
) -> Result<Vec<OutputFile>> {
    use futures::StreamExt;
    let step = format!("dataset {}", dataset.name);
    let years = if dataset.per_year {
        dataset_years(ctx, dataset, &step).await?
    } else {
        Vec::new()
    };
    let schema = dataset.file_schema();
    let place = YearPlace::for_output(out, run_id, dataset, fingerprint, || {
        ctx.state()
            .config()
            .get_extension::<crate::engine::session::Intermediates>()
            .map(|i| i.dir.path().to_path_buf())
            .unwrap_or_else(std::env::temp_dir)
    })?;
    let mut encoder = Encoder::start(schema.clone(), place);
    let mut files = Vec::new();
    let mut last_year: Option<i32> = None;
    let mut spilled = 0;
    'queries: for query in dataset.queries(&years) {
        let plan = ctx
            .sql(&query)
            .await
            .map_err(|e| Error::sql(&step, e))?
            .create_physical_plan()
            .await
            .map_err(|e| Error::sql(&step, e))?;
        let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx.task_ctx())
            .map_err(|e| Error::sql(&step, e))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| Error::sql(&step, e))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let years = year_column(&batch, dataset)?;
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
                if !encoder.send(y, part).await {
                    break 'queries; // the encoder stopped: its error follows below
                }
            }
            // stage the years the encoder has finished meanwhile
            while let Ok(done) = encoder.encoded.try_recv() {
                files.push(done?.stage(dataset, out, run_id, fingerprint).await?);
            }
        }
        spilled += spilled_bytes(plan.as_ref());
        crate::engine::metrics::show_analyzed(plan.as_ref(), || {
            format!("dataset {}", dataset.name)
        });
    }
    encoder.close();
    while let Some(done) = encoder.encoded.recv().await {
        files.push(done?.stage(dataset, out, run_id, fingerprint).await?);
    }
    encoder
        .join()
        .map_err(|_| Error::Internal(format!("{}: the Parquet encoder failed", dataset.name)))?;
    if spilled > 0 {
        tracing::info!(
            dataset = dataset.name,
            spilled_bytes = spilled as u64,
            "spilled to disk (engine.memory_limit)"
        );
    }
    Ok(files)
}

/// The years a `per_year` dataset has rows for, ascending.
async fn dataset_years(ctx: &SessionContext, dataset: &Dataset, step: &str) -> Result<Vec<i32>> {
    let batches = ctx
        .sql(&dataset.years_query())
        .await
        .map_err(|e| Error::sql(step, e))?
        .collect()
        .await
        .map_err(|e| Error::sql(step, e))?;
    let mut years = Vec::new();
    for b in &batches {
        years.extend(year_column(b, dataset)?.values().iter().copied());
    }
    Ok(years)
}

/// The year of every row of a batch of a dataset's query (its first
/// column): a row without one could not be partitioned.
fn year_column<'a>(batch: &'a RecordBatch, dataset: &Dataset) -> Result<&'a Int32Array> {
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
    Ok(years)
}

/// A finished year file, or why the encoder stopped.
pub(crate) type Encoded = Result<YearFile>;

/// A thread that encodes the batches of each year into one Parquet file and
/// hands back every finished file ([`Encoder::encoded`]). It ends when no
/// more batches come ([`Encoder::close`]), or at the first error (which it
/// hands back).
///
/// Dropped before it is joined (the dataset's query or a staging failed),
/// it stops the thread and waits for it: the thread finishes no more files
/// once told to stop, so nothing more is written into a local output's
/// staging area that the failed run's clean-up is about to remove. The wait
/// is at most the encoding of the batch in hand.
pub(crate) struct Encoder {
    batches: Option<tokio::sync::mpsc::Sender<(i32, RecordBatch)>>,
    pub(crate) encoded: tokio::sync::mpsc::UnboundedReceiver<Encoded>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Encoder {
    pub(crate) fn start(schema: datafusion::arrow::datatypes::SchemaRef, place: YearPlace) -> Self {
        let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel::<(i32, RecordBatch)>(4);
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<Encoded>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let stopped = || stopped.load(Ordering::SeqCst);
            let mut encode = || -> Result<()> {
                let mut open: Option<OpenYear> = None;
                while let Some((year, part)) = batch_rx.blocking_recv() {
                    if stopped() {
                        return Ok(()); // the open file is dropped unfinished
                    }
                    if let Some(previous) = open.take_if(|o| o.year != year)
                        && done_tx.send(Ok(previous.finish()?)).is_err()
                    {
                        return Ok(()); // nobody waits for the files any more
                    }
                    let o = match &mut open {
                        Some(o) => o,
                        None => open.insert(OpenYear::new(year, schema.clone(), &place)?),
                    };
                    o.rows += part.num_rows() as u64;
                    o.writer.write(&part)?;
                }
                if let Some(o) = open
                    && !stopped()
                {
                    let _ = done_tx.send(Ok(o.finish()?));
                }
                Ok(())
            };
            if let Err(e) = encode() {
                let _ = done_tx.send(Err(e));
            }
        });
        Encoder {
            batches: Some(batch_tx),
            encoded: done_rx,
            stop,
            thread: Some(thread),
        }
    }

    /// Hand the thread a year's rows; false when it has stopped (its error
    /// is in [`Encoder::encoded`]) or the encoder is closed.
    pub(crate) async fn send(&self, year: i32, part: RecordBatch) -> bool {
        match &self.batches {
            Some(batches) => batches.send((year, part)).await.is_ok(),
            None => false,
        }
    }

    /// No more rows: the thread finishes the open file and ends.
    pub(crate) fn close(&mut self) {
        self.batches = None;
    }

    /// Wait for the thread, once [`Encoder::encoded`] has been read to its
    /// end (it has ended then: joining does not wait). Err if it panicked.
    pub(crate) fn join(mut self) -> std::result::Result<(), ()> {
        self.batches = None;
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| ()),
            None => Ok(()),
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // the thread waiting for rows sees the channel closed
            self.batches = None;
            let _ = thread.join();
        }
    }
}

/// Where the encoder writes the file of each year.
pub(crate) enum YearPlace {
    /// A local output: in place, at the file's path under the run's staging
    /// directory (`staging`, the output's `_staging/<run>/`), which nothing
    /// reads before the commit moves it: the file is not copied afterwards.
    /// A year of enterprise_annual was written to a temporary file, read
    /// back and written again (33 MB at 10^7 input rows, about 3.3 GB at
    /// 10^9). What a failed run wrote there is removed by its clean-up once
    /// the encoder has stopped ([`Encoder`]'s drop), and what a run that died
    /// wrote by the next run's, as with the bulletin's pages.
    Staged {
        staging: std::path::PathBuf,
        dataset: &'static str,
        fingerprint: String,
    },
    /// An object store: a temporary file in this directory, put under the
    /// staging prefix when it is finished ([`OutputStore::put_file`]) and
    /// removed then.
    Temporary(std::path::PathBuf),
}

impl YearPlace {
    /// In place in a local output, else in a temporary file of the
    /// directory `temporary` gives (the session's table directory).
    fn for_output(
        out: &OutputStore,
        run_id: &str,
        dataset: &Dataset,
        fingerprint: &str,
        temporary: impl FnOnce() -> std::path::PathBuf,
    ) -> Result<Self> {
        Ok(match out.local_path(&staged(run_id, ""))? {
            Some(staging) => YearPlace::Staged {
                staging,
                dataset: dataset.name,
                fingerprint: fingerprint.to_string(),
            },
            None => YearPlace::Temporary(temporary()),
        })
    }
}

/// The Parquet file of one year partition being written.
pub(crate) struct OpenYear {
    year: i32,
    rows: u64,
    /// The temporary file's path ([`YearPlace::Temporary`]), which removes
    /// it when dropped; None for a file written in place.
    temporary: Option<tempfile::TempPath>,
    writer: ArrowWriter<HashedFile>,
}

impl OpenYear {
    fn new(
        year: i32,
        schema: datafusion::arrow::datatypes::SchemaRef,
        place: &YearPlace,
    ) -> Result<Self> {
        let (file, temporary) = match place {
            YearPlace::Staged {
                staging,
                dataset,
                fingerprint,
            } => {
                let path = staging.join(partition_path(dataset, year, fingerprint));
                let io = |e| Error::io(path.display().to_string(), e);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                (std::fs::File::create(&path).map_err(io)?, None)
            }
            YearPlace::Temporary(dir) => {
                let (file, temporary) = tempfile::Builder::new()
                    .prefix("carbonstat-year-")
                    .suffix(".parquet")
                    .tempfile_in(dir)
                    .map_err(|e| Error::io(dir.display().to_string(), e))?
                    .into_parts();
                (file, Some(temporary))
            }
        };
        Ok(OpenYear {
            year,
            rows: 0,
            temporary,
            writer: ArrowWriter::try_new(
                HashedFile {
                    out: std::io::BufWriter::with_capacity(1 << 20, file),
                    hash: ContentHash::default(),
                },
                schema.clone(),
                Some(dataset_writer_properties()),
            )?,
        })
    }

    fn finish(self) -> Result<YearFile> {
        let hashed = self.writer.into_inner()?;
        let (len, sha256) = hashed.hash.finish();
        let file = hashed
            .out
            .into_inner()
            .map_err(|e| Error::Internal(format!("cannot write a year file: {}", e.error())))?;
        Ok(YearFile {
            year: self.year,
            rows: self.rows,
            file,
            temporary: self.temporary,
            len,
            sha256,
        })
    }
}

/// A file that hashes what is written to it (SHA-256, the manifest's
/// checksum), so the file is not read back to be hashed.
pub(crate) struct HashedFile {
    out: std::io::BufWriter<std::fs::File>,
    hash: ContentHash,
}

impl std::io::Write for HashedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The Parquet file of one year partition, written (a temporary file is
/// removed when dropped, staged or not).
pub(crate) struct YearFile {
    year: i32,
    rows: u64,
    file: std::fs::File,
    temporary: Option<tempfile::TempPath>,
    len: u64,
    sha256: String,
}

impl YearFile {
    /// Put the file under the run's staging prefix, unless it was written
    /// there.
    async fn stage(
        mut self,
        dataset: &Dataset,
        out: &OutputStore,
        run_id: &str,
        fingerprint: &str,
    ) -> Result<OutputFile> {
        let path = partition_path(dataset.name, self.year, fingerprint);
        if self.temporary.is_some() {
            out.put_file(&staged(run_id, &path), &mut self.file, self.len)
                .await?;
        }
        fault_point(FaultPoint::MidWrite).await?;
        Ok(OutputFile {
            dataset: dataset.name.to_string(),
            partition: format!("{PARTITION_COLUMN}={}", self.year),
            path,
            rows: self.rows,
            bytes: self.len,
            sha256: self.sha256,
        })
    }
}

/// The manifest's dataset name of the bulletin's files (their partition is
/// the path below `bulletin/<F>/`, or `index.html` for the entry page).
pub(crate) const BULLETIN_DATASET: &str = "bulletin";

/// Write all datasets under the run's staging prefix, then the bulletin
/// rendered from them.
pub(crate) async fn write_all(
    ctx: &SessionContext,
    out: &OutputStore,
    run_id: &str,
    fingerprint: &str,
    report: &crate::config::ReportOptions,
) -> Result<Vec<OutputFile>> {
    let mut files = Vec::new();
    for d in DATASETS {
        let started = std::time::Instant::now();
        let written = write_dataset(ctx, &d, out, run_id, fingerprint).await?;
        crate::engine::memory::give_back_if_large(ctx);
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
    let started = std::time::Instant::now();
    let fp16 = &fingerprint[..16.min(fingerprint.len())];
    let bulletin = crate::report::render(ctx, fp16, report).await?;
    let pages = bulletin.len();
    // the pages rendered; the rest of elapsed_ms is staging them
    let render_ms = started.elapsed().as_millis() as u64;
    let mut puts = Vec::with_capacity(pages);
    for (rel, bytes) in bulletin {
        let path = format!("{}/{fp16}/{rel}", crate::report::BULLETIN_PREFIX);
        files.push(OutputFile {
            dataset: BULLETIN_DATASET.to_string(),
            partition: rel,
            path: path.clone(),
            rows: 0,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        puts.push((staged(run_id, &path), bytes));
    }
    out.concurrently(puts, |(path, bytes)| async move {
        out.put_staged(&path, bytes).await
    })
    .await?;
    // the entry page leading to this run's pages: not staged, commit writes
    // it right after manifest.json (its bytes follow from the fingerprint)
    let entry = crate::report::entry_html(fp16);
    files.push(OutputFile {
        dataset: BULLETIN_DATASET.to_string(),
        partition: "index.html".to_string(),
        path: crate::report::BULLETIN_ENTRY.to_string(),
        rows: 0,
        bytes: entry.len() as u64,
        sha256: sha256_hex(&entry),
    });
    tracing::info!(
        files = pages,
        render_ms,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "bulletin staged"
    );
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Float64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::store::{Location, Storage};

    fn stores(root: &std::path::Path) -> (OutputStore, OutputStore) {
        let local =
            OutputStore::open(Location::parse(root, "out", &Storage::default()).unwrap()).unwrap();
        (local, OutputStore::in_memory("year-files"))
    }

    fn region_gdp() -> &'static Dataset {
        DATASETS.iter().find(|d| d.name == "region_gdp").unwrap()
    }

    const FINGERPRINT: &str = "0123456789abcdef0123";

    fn schema() -> datafusion::arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("year", DataType::Int32, false),
            Field::new("value", DataType::Float64, false),
        ]))
    }

    fn batch(years: Vec<i32>, values: Vec<f64>) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int32Array::from(years)),
                Arc::new(Float64Array::from(values)),
            ],
        )
        .unwrap()
    }

    /// A dataset's year files are encoded where they are staged in a local
    /// output (the file is there, whole, before staging, and staging leaves
    /// the same inode: no copy, no rename) and through a temporary file
    /// elsewhere (memory://: nothing in the store before staging, the
    /// temporary file removed after): the same bytes either way, with the
    /// length, SHA-256 and rows recorded for them. Three rows: 2 of 2020 and
    /// 1 of 2021, one file per year.
    #[tokio::test]
    async fn year_files_are_encoded_in_place_locally_and_put_from_a_temporary_file_elsewhere() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let temporary = tempfile::tempdir().unwrap();
        let (local, memory) = stores(root.path());
        let dataset = region_gdp();
        let in_place = root
            .path()
            .join("out/_staging/r/reports/region_gdp/year=2020/part-0123456789abcdef.parquet");
        let mut published = Vec::new();
        for out in [&local, &memory] {
            let place = YearPlace::for_output(out, "r", dataset, FINGERPRINT, || {
                temporary.path().to_path_buf()
            })
            .unwrap();
            let mut encoder = Encoder::start(schema(), place);
            assert!(
                encoder
                    .send(2020, batch(vec![2020, 2020], vec![1.5, 2.5]))
                    .await
            );
            assert!(encoder.send(2021, batch(vec![2021], vec![3.0])).await);
            encoder.close();
            let mut files = Vec::new();
            while let Some(done) = encoder.encoded.recv().await {
                let year = done.unwrap();
                let staged_path =
                    staged("r", &partition_path("region_gdp", year.year, FINGERPRINT));
                let inode = if out.loc.is_local() {
                    assert!(year.temporary.is_none());
                    let on_disk = std::fs::metadata(root.path().join("out").join(&staged_path))
                        .expect("the year file is in place before staging");
                    assert_eq!(on_disk.len(), year.len);
                    Some(on_disk.ino())
                } else {
                    // (the thread may have opened the next year's file already)
                    let Some(file) = &year.temporary else {
                        panic!("a year file for an object store was written in place");
                    };
                    assert_eq!(file.parent(), Some(temporary.path()));
                    assert_eq!(std::fs::metadata(file).unwrap().len(), year.len);
                    assert_eq!(out.get(&staged_path).await.unwrap(), None);
                    None
                };
                files.push(year.stage(dataset, out, "r", FINGERPRINT).await.unwrap());
                if let Some(inode) = inode {
                    let after =
                        std::fs::metadata(root.path().join("out").join(&staged_path)).unwrap();
                    assert_eq!(
                        after.ino(),
                        inode,
                        "staging replaced the file written in place"
                    );
                }
            }
            encoder.join().unwrap();
            assert_eq!(
                std::fs::read_dir(temporary.path()).unwrap().count(),
                0,
                "a temporary file is left"
            );
            let mut bytes = Vec::new();
            assert_eq!(files.len(), 2);
            for (file, (year, rows)) in files.iter().zip([(2020, 2), (2021, 1)]) {
                assert_eq!(
                    file.path,
                    format!("reports/region_gdp/year={year}/part-0123456789abcdef.parquet")
                );
                assert_eq!(file.rows, rows);
                let staged_bytes = out.get(&staged("r", &file.path)).await.unwrap().unwrap();
                assert_eq!(staged_bytes.len() as u64, file.bytes);
                assert_eq!(sha256_hex(&staged_bytes), file.sha256);
                let read: usize = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(
                    staged_bytes.clone(),
                ))
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
                assert_eq!(read as u64, rows);
                bytes.push(staged_bytes);
            }
            published.push(bytes);
        }
        assert!(
            published[0] == published[1],
            "the two ways wrote different bytes"
        );
        assert!(in_place.is_file());
    }

    /// An encoder dropped before it is closed (the dataset's query failed)
    /// stops its thread and waits for it: the year it has open is not
    /// finished into a Parquet file in the staging area (without the stop,
    /// the thread would finish 2021's file once the rows stopped coming),
    /// and the drop returns.
    #[tokio::test]
    async fn a_dropped_encoder_finishes_no_more_files() {
        let root = tempfile::tempdir().unwrap();
        let (local, _) = stores(root.path());
        let place = YearPlace::for_output(&local, "r", region_gdp(), FINGERPRINT, || {
            unreachable!("a local output has no temporary file")
        })
        .unwrap();
        let mut encoder = Encoder::start(schema(), place);
        assert!(encoder.send(2020, batch(vec![2020], vec![1.0])).await);
        assert!(encoder.send(2021, batch(vec![2021], vec![2.0])).await);
        // 2020 is finished when 2021's rows arrive
        let first = encoder.encoded.recv().await.unwrap().unwrap();
        assert_eq!(first.year, 2020);
        drop(encoder);
        let open = root
            .path()
            .join("out/_staging/r/reports/region_gdp/year=2021/part-0123456789abcdef.parquet");
        if let Ok(bytes) = std::fs::read(&open) {
            assert!(
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).is_err(),
                "the year open when the encoder was dropped was finished"
            );
        }
    }
}
