//! The raw tables: every input file one partition of a streaming table,
//! read with only the columns a query needs.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::input::InputFile;
use crate::input::InputSpec;
use crate::input::ResolvedInput;

/// Register `raw_<input>` tables: every file of an input is one partition.
/// An input without files (an optional one that is not configured) is an
/// empty table with the same columns, so the SQL steps need no special cases.
pub fn register_raw(ctx: &SessionContext, inputs: &[ResolvedInput]) -> Result<()> {
    #[cfg(feature = "distributed")]
    let on_cluster = ctx
        .state()
        .config()
        .get_extension::<crate::engine::session::OnCluster>();
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
            let table = crate::input::file_scan::RawInputTable {
                spec: input.spec,
                files: Arc::new(input.files.clone()),
                schema,
                storage: cluster.storage.clone(),
            };
            ctx.register_table(input.spec.table(), Arc::new(table))?;
            continue;
        }
        let table = RawTable {
            spec: input.spec,
            files: input.files.clone(),
            schema,
        };
        ctx.register_table(input.spec.table(), Arc::new(table))?;
    }
    Ok(())
}

/// A raw table: every file one partition, read with only the columns a
/// query needs (DataFusion's `StreamingTable` reads every column and
/// projects afterwards: counting a Parquet file's rows decoded all its
/// pages).
#[derive(Debug)]
struct RawTable {
    spec: InputSpec,
    files: Vec<InputFile>,
    schema: SchemaRef,
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
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let partitions: Vec<Arc<dyn PartitionStream>> = self
            .files
            .iter()
            .map(|f| {
                Arc::new(RawFileStream {
                    spec: self.spec,
                    file: f.clone(),
                    schema: schema.clone(),
                    projection: projection.cloned(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
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
}

impl PartitionStream for RawFileStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let iter: Box<dyn Iterator<Item = datafusion::error::Result<RecordBatch>> + Send> =
            match crate::input::readers::open_projected(
                self.spec,
                &self.file,
                self.projection.as_deref(),
            ) {
                Ok(it) => Box::new(it.map(|r| r.map_err(to_df))),
                Err(e) => Box::new(std::iter::once(Err(to_df(e)))),
            };
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(iter),
        ))
    }
}

pub(crate) fn to_df(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
