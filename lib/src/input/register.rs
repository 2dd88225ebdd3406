//! The raw tables: every input file one partition of a streaming table.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
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
        let partitions: Vec<Arc<dyn PartitionStream>> = input
            .files
            .iter()
            .map(|f| {
                Arc::new(RawFileStream {
                    spec: input.spec,
                    file: f.clone(),
                    schema: schema.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        let table = StreamingTable::try_new(schema, partitions)?;
        ctx.register_table(input.spec.table(), Arc::new(table))?;
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct RawFileStream {
    spec: InputSpec,
    file: InputFile,
    schema: SchemaRef,
}

impl PartitionStream for RawFileStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let iter: Box<dyn Iterator<Item = datafusion::error::Result<RecordBatch>> + Send> =
            match crate::input::readers::open_batches(self.spec, &self.file, self.schema.clone()) {
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
