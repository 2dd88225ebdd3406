//! Writing the datasets and publishing them.
//!
//! Files are written as Hive partitions under deterministic names
//! (`reports/<dataset>/year=<Y>/part-00000.parquet`) with fixed writer settings
//! and rows in a total order, so the same inputs give byte-identical files.
//! A run first writes everything under `_staging/<run_id>/`, then moves the
//! files into place, removes the files of partitions that no longer exist,
//! writes `manifest.json` last and removes its staging prefix: re-running never
//! doubles rows or leaves stale partitions behind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::Scalar;
use datafusion::arrow::array::{Array, Int32Array, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::factors::sha256_hex;
use crate::manifest::{MANIFEST_FILE, Manifest, OutputFile};
use crate::schema::{DATASETS, Dataset, PARTITION_COLUMN};

pub const REPORTS_PREFIX: &str = "reports";
pub const STAGING_PREFIX: &str = "_staging";

/// Where a run publishes: an object store and a root inside it.
#[derive(Debug, Clone)]
pub struct OutputStore {
    pub url: String,
    store: Arc<dyn ObjectStore>,
    /// The directory, for a local store: renames leave empty directories behind.
    local_root: Option<std::path::PathBuf>,
}

impl OutputStore {
    /// Open a local output directory (created if missing).
    pub fn open_local(dir: &std::path::Path) -> Result<Self> {
        let err = |message: String| Error::Output {
            url: dir.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create the directory: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| err(e.to_string()))?
            .with_automatic_cleanup(true);
        Ok(OutputStore {
            url: dir.display().to_string(),
            store: Arc::new(store),
            local_root: Some(dir.to_path_buf()),
        })
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&ObjectPath::from(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.store.get(&ObjectPath::from(path)).await {
            Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object below `prefix`, as paths relative to the root.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let p = ObjectPath::from(prefix);
        let metas: Vec<_> = self.store.list(Some(&p)).try_collect().await?;
        let mut out: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        out.sort();
        Ok(out)
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.store
            .rename(&ObjectPath::from(from), &ObjectPath::from(to))
            .await?;
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.store.delete(&ObjectPath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the empty directories below `prefix` (local stores only).
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
        if let Some(root) = &self.local_root {
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
                    url: format!("{}/{MANIFEST_FILE}", self.url),
                    message: format!("not a carbonstat manifest: {e}"),
                }),
        }
    }
}

/// Fixed writer settings: part of what makes files byte-identical.
pub fn writer_properties() -> WriterProperties {
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
        .build()
}

/// The final path of a dataset partition file.
pub fn partition_path(dataset: &str, year: i32) -> String {
    format!("{REPORTS_PREFIX}/{dataset}/{PARTITION_COLUMN}={year}/part-00000.parquet")
}

/// Run a dataset's query and write its partitions under `staging`.
/// Returns the files with their final paths.
pub async fn write_dataset(
    ctx: &SessionContext,
    dataset: &Dataset,
    out: &OutputStore,
    staging: &str,
) -> Result<Vec<OutputFile>> {
    let batches = ctx
        .sql(&dataset.query())
        .await
        .map_err(|source| Error::Sql {
            step: format!("dataset {}", dataset.name),
            source,
        })?
        .collect()
        .await
        .map_err(|source| Error::Sql {
            step: format!("dataset {}", dataset.name),
            source,
        })?;
    let schema = dataset.file_schema();
    let mut by_year: BTreeMap<i32, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
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
            let mask = eq(years, &Scalar::new(Int32Array::from(vec![y])))?;
            by_year
                .entry(y)
                .or_default()
                .push(filter_record_batch(&typed, &mask)?);
        }
    }
    let mut files = Vec::new();
    for (year, batches) in by_year {
        let mut buf = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buf, schema.clone(), Some(writer_properties()))?;
        let mut rows = 0u64;
        for b in &batches {
            rows += b.num_rows() as u64;
            writer.write(b)?;
        }
        writer.close()?;
        let path = partition_path(dataset.name, year);
        let file = OutputFile {
            dataset: dataset.name.to_string(),
            partition: format!("{PARTITION_COLUMN}={year}"),
            path: path.clone(),
            rows,
            bytes: buf.len() as u64,
            sha256: sha256_hex(&buf),
        };
        out.put(&format!("{staging}/{path}"), buf).await?;
        files.push(file);
    }
    Ok(files)
}

/// Write all datasets under the run's staging prefix.
pub async fn write_all(
    ctx: &SessionContext,
    out: &OutputStore,
    run_id: &str,
) -> Result<Vec<OutputFile>> {
    let staging = format!("{STAGING_PREFIX}/{run_id}");
    let mut files = Vec::new();
    for d in DATASETS {
        let started = std::time::Instant::now();
        let written = write_dataset(ctx, &d, out, &staging).await?;
        tracing::info!(
            dataset = d.name,
            partitions = written.len(),
            rows = written.iter().map(|f| f.rows).sum::<u64>(),
            bytes = written.iter().map(|f| f.bytes).sum::<u64>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "dataset written to staging"
        );
        files.extend(written);
    }
    Ok(files)
}

/// Move the staged files into place, drop what they replace, write the
/// manifest last and clean the staging prefix.
pub async fn commit(out: &OutputStore, run_id: &str, manifest: &Manifest) -> Result<()> {
    let staging = format!("{STAGING_PREFIX}/{run_id}");
    let keep: BTreeSet<&str> = manifest.outputs.iter().map(|f| f.path.as_str()).collect();
    for f in &manifest.outputs {
        out.rename(&format!("{staging}/{}", f.path), &f.path)
            .await?;
    }
    for d in DATASETS {
        for existing in out.list(&format!("{REPORTS_PREFIX}/{}", d.name)).await? {
            if !keep.contains(existing.as_str()) {
                tracing::info!(path = %existing, "removing a file the new run replaces");
                out.delete(&existing).await?;
            }
        }
    }
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
    out.put(MANIFEST_FILE, json).await?;
    for leftover in out.list(&staging).await? {
        out.delete(&leftover).await?;
    }
    out.prune_empty_dirs(STAGING_PREFIX)?;
    Ok(())
}
