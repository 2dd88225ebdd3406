//! The raw tables of a run on a cluster (feature `distributed`): every input
//! file one file group of a DataFusion file scan (`DataSourceExec` over a
//! `FileScanConfig`) instead of one partition of a streaming table.
//!
//! Why: Ballista's scheduler gives each task of a stage its own partitions by
//! cutting the plan's leaves down to them, and it knows how to cut a file
//! scan (its file groups) but not a streaming table, so every task of a raw
//! stage would read every file. Read here, a file is read by the task whose
//! file group holds it, with the same reader, into the same rows as the
//! streaming table of `register::register_raw` gives a local run.
//!
//! A file of the scan is named by its index in the input's file list (the
//! list travels with the plan, `engine::cluster`'s codecs), so a task reads
//! it from the path the client resolved: on one machine the file itself; on
//! several, a path every executor reaches (docs/distributed.md).

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableProvider;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::StreamExt;
use object_store::ObjectStore;

use crate::input::register::to_df;
use crate::input::{InputFile, InputSpec};
use crate::store::Storage;

/// A raw input whose scan reads each file as one file group.
#[derive(Debug)]
pub(crate) struct RawInputTable {
    pub(crate) spec: InputSpec,
    pub(crate) files: Arc<Vec<InputFile>>,
    pub(crate) schema: SchemaRef,
    /// The config's storage settings without secrets, for remote files.
    pub(crate) storage: Arc<Storage>,
}

#[async_trait]
impl TableProvider for RawInputTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            // an optional input that is not configured: no rows
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
                schema,
            )));
        }
        let groups = (0..self.files.len()).map(|i| vec![i]).collect();
        let scan = scan_plan(
            self.spec,
            self.files.clone(),
            self.schema.clone(),
            groups,
            limit,
            self.storage.clone(),
        );
        match projection {
            None => Ok(scan),
            Some(columns) => {
                use datafusion::physical_plan::projection::ProjectionExec;
                let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = columns
                    .iter()
                    .map(|&i| {
                        let name = self.schema.field(i).name().clone();
                        let col: Arc<dyn PhysicalExpr> = Arc::new(
                            datafusion::physical_expr::expressions::Column::new(&name, i),
                        );
                        (col, name)
                    })
                    .collect();
                Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
            }
        }
    }
}

/// The file scan of `files` of input `spec`: a file group per entry of
/// `groups` (indices into `files`), at most `limit` rows.
pub(crate) fn scan_plan(
    spec: InputSpec,
    files: Arc<Vec<InputFile>>,
    schema: SchemaRef,
    groups: Vec<Vec<usize>>,
    limit: Option<usize>,
    storage: Arc<Storage>,
) -> Arc<dyn ExecutionPlan> {
    let source = Arc::new(RawSource {
        spec,
        files,
        storage,
        table_schema: TableSchema::from(schema),
        metrics: ExecutionPlanMetricsSet::new(),
    });
    let groups = groups
        .into_iter()
        .map(|g| {
            FileGroup::new(
                g.into_iter()
                    .map(|i| PartitionedFile::new(i.to_string(), 0))
                    .collect(),
            )
        })
        .collect();
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
        .with_file_groups(groups)
        .with_limit(limit)
        .build();
    DataSourceExec::from_data_source(config)
}

/// What a raw file scan is made of, to write it into a plan and back: the
/// input, its files, the file groups (indices) and the limit.
pub(crate) struct RawScanParts<'a> {
    pub spec: InputSpec,
    pub files: &'a [InputFile],
    pub schema: SchemaRef,
    pub groups: Vec<Vec<usize>>,
    pub limit: Option<usize>,
    pub storage: &'a Storage,
}

/// The parts of `plan` if it is a raw file scan.
pub(crate) fn raw_scan_parts(plan: &dyn ExecutionPlan) -> Option<RawScanParts<'_>> {
    let any: &dyn Any = plan;
    let exec = any.downcast_ref::<DataSourceExec>()?;
    let source: &dyn Any = exec.data_source().as_ref();
    let config = source.downcast_ref::<FileScanConfig>()?;
    let raw = config.file_source().downcast_ref::<RawSource>()?;
    // the files are named by their index (scan_plan); anything else is not
    // a scan of ours
    let groups = config
        .file_groups
        .iter()
        .map(|g| {
            g.files()
                .iter()
                .map(|f| f.object_meta.location.as_ref().parse::<usize>().ok())
                .collect::<Option<Vec<usize>>>()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RawScanParts {
        spec: raw.spec,
        files: &raw.files,
        schema: raw.table_schema.file_schema().clone(),
        groups,
        limit: config.limit,
        storage: &raw.storage,
    })
}

#[derive(Clone)]
struct RawSource {
    spec: InputSpec,
    files: Arc<Vec<InputFile>>,
    storage: Arc<Storage>,
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl FileSource for RawSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> DfResult<Arc<dyn FileOpener>> {
        Ok(Arc::new(RawOpener {
            spec: self.spec,
            files: self.files.clone(),
            storage: self.storage.clone(),
            schema: self.table_schema.file_schema().clone(),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        // the readers cut their batches themselves, as in a local run
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "carbonstat-raw"
    }

    /// One file, one partition: a file is never split by byte range (the
    /// readers number its lines from the top).
    fn supports_repartitioning(&self) -> bool {
        false
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}

struct RawOpener {
    spec: InputSpec,
    files: Arc<Vec<InputFile>>,
    storage: Arc<Storage>,
    schema: SchemaRef,
}

impl FileOpener for RawOpener {
    fn open(&self, file: PartitionedFile) -> DfResult<FileOpenFuture> {
        let name = file.object_meta.location.as_ref();
        let file = name
            .parse::<usize>()
            .ok()
            .and_then(|i| self.files.get(i))
            .cloned()
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "raw input {}: the plan names file {name}, which its list does not have",
                    self.spec.name
                ))
            })?;
        let (spec, schema, storage) = (self.spec, self.schema.clone(), self.storage.clone());
        Ok(Box::pin(async move {
            let mut file = file;
            // a remote file is fetched by the task that reads it, from the
            // store itself, and checked against the client's hash
            let fetched = match is_remote(&file.path) {
                true => Some(fetch(spec, &file, &storage).await.map_err(to_df)?),
                false => None,
            };
            if let Some(copy) = &fetched {
                file.local = copy.to_path_buf();
            }
            let batches = crate::input::readers::open_batches(spec, &file, schema)
                .map_err(to_df)?
                // the stream holds the fetched copy: it is removed once read
                .map(move |r| {
                    let _copy = &fetched;
                    r.map_err(to_df)
                });
            Ok(futures::stream::iter(batches).boxed())
        }))
    }
}

/// Where a process of the cluster puts the remote input files it fetches:
/// an executor's `--work-dir` (set by `engine::cluster::run_executor`), else
/// the system's temporary directory.
pub(crate) static FETCH_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn is_remote(path: &str) -> bool {
    crate::store::is_url(path) && !path.starts_with("file://")
}

/// Copy remote input `file` from its store into [`FETCH_DIR`] and check it
/// is the object the client hashed when the run started (size and SHA-256):
/// a task reads exactly the bytes the manifest records, whoever fetched them.
async fn fetch(
    spec: InputSpec,
    file: &InputFile,
    storage: &Storage,
) -> crate::error::Result<tempfile::TempPath> {
    use crate::input::resolve::file_error;
    let loc = crate::store::Location::parse(std::path::Path::new("/"), &file.path, storage)
        .map_err(|m| file_error(spec, &file.path, m))?;
    let dir = FETCH_DIR.get().cloned().unwrap_or_else(std::env::temp_dir);
    let copy = tempfile::Builder::new()
        .prefix("carbonstat-input-")
        .tempfile_in(&dir)
        .map_err(|e| crate::error::Error::io(dir.display().to_string(), e))?
        .into_temp_path();
    let (size, sha256) = loc.download(&loc.prefix, &copy, &mut |_| {}).await.map_err(|m| {
        file_error(
            spec,
            &file.path,
            format!(
                "this executor cannot fetch it: {m} (executors read remote inputs themselves, with the config's storage settings and the credentials of their own environment, AWS_*, GOOGLE_*, AZURE_*: docs/distributed.md)"
            ),
        )
    })?;
    if sha256 != file.sha256 || size != file.size {
        return Err(file_error(
            spec,
            &file.path,
            format!(
                "the object changed while the run was going: this executor read {size} bytes with SHA-256 {sha256}, the run started from {} bytes with SHA-256 {}; run again once the input is settled",
                file.size, file.sha256
            ),
        ));
    }
    tracing::info!(
        input = spec.name,
        file = %file.path,
        bytes = size,
        "fetched a remote input from its store, SHA-256 as the run recorded"
    );
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InputOptions;
    use crate::input::Format;
    use object_store::ObjectStoreExt;

    fn remote(path: &str, size: u64, sha256: &str) -> InputFile {
        InputFile {
            path: path.into(),
            local: "/the/client's/copy".into(),
            format: Format::Csv,
            size,
            sha256: sha256.into(),
            last_modified: String::new(),
            e_tag: None,
            options: InputOptions::default(),
            encoding: None,
            sheet: None,
            header_row: None,
        }
    }

    /// A task fetches a remote input from its store and reads it only when
    /// it is the object the run hashed; a changed object is a file error that
    /// says so, never read as if it were the recorded one.
    #[tokio::test]
    async fn a_task_fetches_a_remote_input_and_checks_its_hash() {
        let text = b"a,b\n1,2\n".to_vec();
        // what the run recorded for an object that has changed since
        let sha = "04ab5a5c5cf4a2a9c1e3bd8ea7fa8e6a4f6ba1f0a3a8e3d2f62e6a39b4b8b73b";
        let url = "memory:///inputs/fetch-test/energy.csv";
        let loc =
            crate::store::Location::parse(std::path::Path::new("/"), url, &Storage::default())
                .unwrap();
        loc.store
            .put(&loc.prefix, text.clone().into())
            .await
            .unwrap();
        let real = {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(&text))
        };
        let spec = crate::input::ENERGY;

        let copy = fetch(spec, &remote(url, 8, &real), &Storage::default())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), text);
        let path = copy.to_path_buf();
        drop(copy);
        assert!(
            !path.exists(),
            "the fetched copy is removed with its stream"
        );

        let e = fetch(spec, &remote(url, 8, sha), &Storage::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(url) && e.contains("changed") && e.contains(sha) && e.contains(&real),
            "{e}"
        );
        let e = fetch(
            spec,
            &remote("memory:///inputs/none.csv", 8, &real),
            &Storage::default(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot fetch"), "{e}");
    }
}
