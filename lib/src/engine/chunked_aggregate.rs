//! Partial aggregation over chunks of rows.
//!
//! DataFusion aggregates in two phases: a partial aggregation per input
//! partition, then a final one over their states. Its partial aggregation
//! keeps every group it has seen until its input ends (or until the memory
//! pool refuses it more, and then it emits everything at once), so with
//! many groups it holds a second copy of the final aggregation's groups for
//! the whole read — `21_amounts.sql` once skipped it for that reason, and
//! handed the final aggregation every record as a one-row state.
//!
//! [`ChunkedAggregateExec`] runs the partial aggregation over a chunk of
//! [`chunk_rows`] input rows at a time: it aggregates the chunk, emits its
//! groups, drops them and starts again on the next rows. The records of one
//! enterprise come one after another, so a chunk sums a key's months in one
//! state and the final aggregation gets about one state per key instead of
//! one per record, while the partial aggregation holds no more than a
//! chunk's groups. Where rows do not group (a key per row), a chunk emits
//! as many states as it read rows: the chunks are smaller than the 100 000
//! rows after which DataFusion's probe would turn a partial aggregation into
//! a pass-through (`datafusion.execution.skip_partial_aggregation_probe_*`),
//! so that setting does not act on a chunked aggregation. The results are those of the plain plan: the final aggregation merges
//! whatever states it is given (DECIMAL sums and counts are exact whatever
//! the chunking).
//!
//! [`ChunkedPartialAggregation`] is the physical optimizer rule that puts
//! every unordered grouped partial aggregation of a local plan under one
//! (`engine::session::new_session`; a cluster plans on its scheduler, where
//! DataFusion's own partial aggregation runs).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, Partitioning, PlanProperties,
    RecordBatchStream, SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};

/// Input rows per chunk: 64 Ki. At 10^7 records (an enterprise's 216
/// records in a row, 12 to a key) a chunk holds about 5.5 K keys, a few MiB
/// of groups, in each of the files read at once; the final aggregation gets
/// 0.84 M states instead of 10 M one-row ones (docs/benchmarks.md, session
/// 15). `CARBONSTAT_PARTIAL_AGGREGATION_ROWS` overrides it (for
/// measurements; 0 turns the chunking off).
pub const DEFAULT_CHUNK_ROWS: usize = 64 * 1024;

/// The chunk size of this process: [`DEFAULT_CHUNK_ROWS`] or the
/// `CARBONSTAT_PARTIAL_AGGREGATION_ROWS` environment variable (None: 0, no
/// chunking). An unreadable value is an error, not a silent default.
pub fn chunk_rows() -> std::result::Result<Option<usize>, String> {
    match std::env::var("CARBONSTAT_PARTIAL_AGGREGATION_ROWS") {
        Err(std::env::VarError::NotPresent) => Ok(Some(DEFAULT_CHUNK_ROWS)),
        Err(e) => Err(format!("CARBONSTAT_PARTIAL_AGGREGATION_ROWS: {e}")),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(format!(
                "CARBONSTAT_PARTIAL_AGGREGATION_ROWS is '{v}': give a number of rows (0 turns the chunked partial aggregation off), or unset it"
            )),
        },
    }
}

/// The rule: every grouped partial aggregation over unordered input runs
/// chunk by chunk. (An aggregation over sorted input already emits a group
/// when its key ends; one with a LIMIT stops by itself.)
#[derive(Debug)]
pub struct ChunkedPartialAggregation {
    rows: usize,
}

impl ChunkedPartialAggregation {
    pub fn new(rows: usize) -> Self {
        ChunkedPartialAggregation { rows }
    }
}

impl PhysicalOptimizerRule for ChunkedPartialAggregation {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let chunked = node.downcast_ref::<AggregateExec>().is_some_and(|agg| {
                *agg.mode() == AggregateMode::Partial
                    && !agg.group_expr().is_empty()
                    && !agg.group_expr().has_grouping_set()
                    && *agg.input_order_mode() == InputOrderMode::Linear
                    && agg.limit_options().is_none()
            });
            if chunked {
                Ok(Transformed::yes(
                    Arc::new(ChunkedAggregateExec::new(node, self.rows)?) as Arc<dyn ExecutionPlan>,
                ))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "chunked_partial_aggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partial [`AggregateExec`] run over `rows` input rows at a time (see the
/// module). Its one child is the aggregation's input; the aggregation is
/// kept as the template each chunk's aggregation is made from.
#[derive(Debug)]
pub struct ChunkedAggregateExec {
    aggregate: Arc<dyn ExecutionPlan>,
    rows: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl ChunkedAggregateExec {
    /// `aggregate` must be an [`AggregateExec`] with one input; a chunk has
    /// at least one row.
    pub fn new(aggregate: Arc<dyn ExecutionPlan>, rows: usize) -> Result<Self> {
        if aggregate.children().len() != 1 {
            return Err(DataFusionError::Internal(
                "a chunked aggregation of a plan without one input".into(),
            ));
        }
        Ok(ChunkedAggregateExec {
            aggregate,
            rows: rows.max(1),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The aggregation's one input.
    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        self.aggregate.children()[0]
    }
}

impl DisplayAs for ChunkedAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "ChunkedAggregateExec: rows_per_chunk={}, ", self.rows)?;
        self.aggregate.fmt_as(t, f)
    }
}

impl ExecutionPlan for ChunkedAggregateExec {
    fn name(&self) -> &str {
        "ChunkedAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.aggregate.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.aggregate.maintains_input_order()
    }

    fn input_distribution_requirements(
        &self,
    ) -> datafusion::physical_plan::InputDistributionRequirements {
        self.aggregate.input_distribution_requirements()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate).replace_children(children, options)?;
        Ok(Arc::new(ChunkedAggregateExec::new(aggregate, self.rows)?))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input().execute(partition, Arc::clone(&context))?;
        let context = chunk_context(&context, partition);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let chunks = MetricBuilder::new(&self.metrics).counter("chunks", partition);
        let input_rows = MetricBuilder::new(&self.metrics).counter("input_rows", partition);
        Ok(Box::pin(ChunkedStream {
            schema: self.aggregate.schema(),
            input_schema: self.input().schema(),
            aggregate: Arc::clone(&self.aggregate),
            source: Arc::new(Mutex::new(Source {
                stream: Some(input),
                rows: 0,
            })),
            rows: self.rows,
            context,
            current: None,
            done: false,
            chunk_start: 0,
            baseline,
            chunks,
            input_rows,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The task context the chunks' aggregations of one partition run in: the
/// session's, but for a memory pool of their own ([`ChunkPool`]).
fn chunk_context(context: &Arc<TaskContext>, partition: usize) -> Arc<TaskContext> {
    let shadow = MemoryConsumer::new(format!("ChunkedAggregateExec[{partition}]"))
        .register(context.memory_pool());
    let runtime = RuntimeEnv {
        memory_pool: Arc::new(ChunkPool { shadow }),
        ..context.runtime_env().as_ref().clone()
    };
    Arc::new(TaskContext::new(
        context.task_id(),
        context.session_id(),
        context.session_config().clone(),
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        Arc::new(runtime),
    ))
}

/// The memory of one partition's chunk aggregations, reserved in the
/// session's pool by one reservation that cannot spill. A chunk's groups
/// are few and short-lived, and a partial aggregation emits its groups when
/// refused memory rather than spilling them; counted as a spilling operator
/// in DataFusion's fair pool, each of them (one per file being read) would
/// take a share of the pool from the operators that do spill — at 10^7
/// records the final aggregation of `record_groups` got a tenth of the pool
/// and spilled its groups twice (docs/benchmarks.md, session 15).
#[derive(Debug)]
struct ChunkPool {
    shadow: MemoryReservation,
}

impl std::fmt::Display for ChunkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkPool({} bytes reserved)", self.shadow.size())
    }
}

impl MemoryPool for ChunkPool {
    fn name(&self) -> &str {
        "ChunkPool"
    }

    fn grow(&self, _reservation: &MemoryReservation, additional: usize) {
        self.shadow.grow(additional)
    }

    fn shrink(&self, _reservation: &MemoryReservation, shrink: usize) {
        self.shadow.shrink(shrink)
    }

    fn try_grow(&self, _reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.shadow.try_grow(additional)
    }

    fn reserved(&self) -> usize {
        self.shadow.size()
    }
}

/// The input of one partition, shared by its chunks in turn.
struct Source {
    /// None once it has ended.
    stream: Option<SendableRecordBatchStream>,
    /// Rows read from it so far.
    rows: usize,
}

/// The shared input, locked (one chunk reads it at a time, so never waited for).
fn lock(source: &Mutex<Source>) -> Result<std::sync::MutexGuard<'_, Source>> {
    source
        .lock()
        .map_err(|_| DataFusionError::Internal("a chunk's input lock is poisoned".into()))
}

/// A leaf that hands its one reader the shared input until `rows` more rows
/// have passed (a whole batch at a time) or the input ends.
#[derive(Debug)]
struct ChunkSourceExec {
    source: Arc<Mutex<Source>>,
    rows: usize,
    properties: Arc<PlanProperties>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Source(rows={}, ended={})",
            self.rows,
            self.stream.is_none()
        )
    }
}

impl ChunkSourceExec {
    fn new(source: Arc<Mutex<Source>>, rows: usize, schema: SchemaRef) -> Self {
        ChunkSourceExec {
            source,
            rows,
            properties: Arc::new(PlanProperties::new(
                EquivalenceProperties::new(schema),
                Partitioning::UnknownPartitioning(1),
                EmissionType::Incremental,
                Boundedness::Bounded,
            )),
        }
    }
}

impl DisplayAs for ChunkSourceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "ChunkSourceExec: rows={}", self.rows)
    }
}

impl ExecutionPlan for ChunkSourceExec {
    fn name(&self) -> &str {
        "ChunkSourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "ChunkSourceExec has no inputs".into(),
            ))
        }
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let start = lock(&self.source)?.rows;
        Ok(Box::pin(ChunkInput {
            schema: self.schema(),
            source: Arc::clone(&self.source),
            until: start.saturating_add(self.rows),
        }))
    }
}

/// The rows of one chunk: the shared input's batches until `until` rows of
/// it have been read.
struct ChunkInput {
    schema: SchemaRef,
    source: Arc<Mutex<Source>>,
    until: usize,
}

impl Stream for ChunkInput {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut source = match lock(&self.source) {
            Ok(source) => source,
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        if source.rows >= self.until {
            return Poll::Ready(None);
        }
        let Some(stream) = source.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match stream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                source.rows += batch.num_rows();
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(None) => {
                source.stream = None;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl RecordBatchStream for ChunkInput {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// The output of one partition: each chunk's aggregation in turn.
struct ChunkedStream {
    schema: SchemaRef,
    input_schema: SchemaRef,
    aggregate: Arc<dyn ExecutionPlan>,
    source: Arc<Mutex<Source>>,
    rows: usize,
    context: Arc<TaskContext>,
    /// The running chunk's aggregation and its plan (for its metrics).
    current: Option<(Arc<dyn ExecutionPlan>, SendableRecordBatchStream)>,
    /// Whether the last chunk has been emitted.
    done: bool,
    /// The input's rows read when the running chunk started.
    chunk_start: usize,
    baseline: BaselineMetrics,
    chunks: Count,
    input_rows: Count,
}

impl ChunkedStream {
    /// The next chunk's aggregation, started.
    fn start_chunk(&mut self) -> Result<()> {
        let leaf: Arc<dyn ExecutionPlan> = Arc::new(ChunkSourceExec::new(
            Arc::clone(&self.source),
            self.rows,
            Arc::clone(&self.input_schema),
        ));
        // the template's properties hold: only the input is new
        let plan = Arc::clone(&self.aggregate).replace_children(
            vec![leaf],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
        )?;
        let stream = plan.execute(0, Arc::clone(&self.context))?;
        self.chunk_start = lock(&self.source)?.rows;
        self.current = Some((plan, stream));
        Ok(())
    }

    /// A finished chunk's aggregation time added to ours, and the chunk
    /// counted if it had rows (the input's end is found by a chunk that
    /// gets none).
    fn finish_chunk(&mut self, rows_read: usize) {
        if rows_read > self.chunk_start {
            self.chunks.add(1);
        }
        if let Some((plan, _)) = self.current.take()
            && let Some(ns) = plan.metrics().and_then(|m| m.elapsed_compute())
        {
            self.baseline
                .elapsed_compute()
                .add_duration(std::time::Duration::from_nanos(ns as u64));
        }
    }
}

impl Stream for ChunkedStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some((_, stream)) = self.current.as_mut() {
                match stream.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(batch))) => {
                        self.baseline.record_output(batch.num_rows());
                        return Poll::Ready(Some(Ok(batch)));
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {}
                    Poll::Pending => return Poll::Pending,
                }
            }
            let (rows_read, ended) = match lock(&self.source) {
                Ok(source) => (source.rows, source.stream.is_none()),
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if self.current.is_some() {
                self.finish_chunk(rows_read);
            }
            if ended {
                self.input_rows.add(rows_read);
                self.baseline.done();
                self.done = true;
                return Poll::Ready(None);
            }
            if let Err(e) = self.start_chunk() {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl RecordBatchStream for ChunkedStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn batch(schema: &SchemaRef, rows: &[(&str, i64)]) -> RecordBatch {
        let keys: StringArray = rows.iter().map(|r| Some(r.0)).collect();
        let values: Int64Array = rows.iter().map(|r| Some(r.1)).collect();
        RecordBatch::try_new(Arc::clone(schema), vec![Arc::new(keys), Arc::new(values)]).unwrap()
    }

    /// A session of two partitions over the table t(k, v): partition 0 has
    /// the batches (a 1, a 2, b 3) and (a 4, b 5, b 6), partition 1 the
    /// batch (c 7, c 8); with `rows`, the rule that chunks partial
    /// aggregations.
    fn session(rows: Option<usize>) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let partitions = vec![
            vec![
                batch(&schema, &[("a", 1), ("a", 2), ("b", 3)]),
                batch(&schema, &[("a", 4), ("b", 5), ("b", 6)]),
            ],
            vec![batch(&schema, &[("c", 7), ("c", 8)])],
        ];
        let mut state = SessionStateBuilder::new()
            .with_config(SessionConfig::new().with_target_partitions(2))
            .with_default_features();
        if let Some(rows) = rows {
            state =
                state.with_physical_optimizer_rule(Arc::new(ChunkedPartialAggregation::new(rows)));
        }
        let ctx = SessionContext::new_with_state(state.build());
        ctx.register_table(
            "t",
            Arc::new(MemTable::try_new(schema, partitions).unwrap()),
        )
        .unwrap();
        ctx
    }

    const QUERY: &str = "SELECT k, sum(v) AS s, count(*) AS n FROM t GROUP BY k ORDER BY k";

    /// The first chunked aggregation of a plan.
    fn chunked(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<ChunkedAggregateExec>().is_some() {
            return Some(Arc::clone(plan));
        }
        plan.children().into_iter().find_map(chunked)
    }

    async fn run(ctx: &SessionContext) -> (String, Arc<dyn ExecutionPlan>) {
        let plan = ctx
            .sql(QUERY)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let batches = datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx())
            .await
            .unwrap();
        let shown = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        (shown, plan)
    }

    /// Chunks of 3 rows: partition 0's two batches are two chunks, with the
    /// states a 1+2, b 3 and a 4, b 5+6; partition 1's batch one chunk, c
    /// 7+8: 3 chunks, 5 states from 8 rows (unchunked, the partial
    /// aggregations would give 2 + 1 = 3). The final sums are those of the
    /// plain plan: a 1+2+4 = 7 (3 rows), b 3+5+6 = 14 (3), c 7+8 = 15 (2).
    #[tokio::test]
    async fn chunks_give_the_plain_plans_results() {
        let (plain, plain_plan) = run(&session(None)).await;
        assert!(chunked(&plain_plan).is_none());
        let (shown, plan) = run(&session(Some(3))).await;
        let expected = "\
+---+----+---+
| k | s  | n |
+---+----+---+
| a | 7  | 3 |
| b | 14 | 3 |
| c | 15 | 2 |
+---+----+---+";
        assert_eq!(shown, expected);
        assert_eq!(plain, expected);
        let metrics = chunked(&plan)
            .expect("the partial aggregation is chunked")
            .metrics()
            .unwrap();
        let sum = |name: &str| metrics.sum_by_name(name).map(|v| v.as_usize());
        assert_eq!(sum("chunks"), Some(3));
        assert_eq!(sum("input_rows"), Some(8));
        assert_eq!(metrics.output_rows(), Some(5));
    }

    /// A chunk as large as the input: one chunk per partition, as DataFusion's
    /// own partial aggregation (a 7, b 14 from partition 0; c 15 from 1).
    #[tokio::test]
    async fn one_chunk_is_the_plain_partial_aggregation() {
        let (shown, plan) = run(&session(Some(1000))).await;
        assert!(shown.contains("| a | 7  | 3 |"), "{shown}");
        let metrics = chunked(&plan).unwrap().metrics().unwrap();
        assert_eq!(metrics.sum_by_name("chunks").map(|v| v.as_usize()), Some(2));
        assert_eq!(metrics.output_rows(), Some(3));
    }

    /// What a chunk's aggregation reserves is reserved in the session's pool
    /// as memory that cannot spill: in a fair pool of 10 000 bytes, a chunk
    /// holding 6 000 leaves a spilling operator 10 000 − 6 000 = 4 000 (were
    /// the chunk a spilling consumer of the pool, the two would have a fair
    /// share of 10 000 / 2 = 5 000 each, and 4 001 would be granted).
    #[test]
    fn a_chunks_memory_is_unspillable_in_the_sessions_pool() {
        use datafusion::execution::memory_pool::FairSpillPool;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(10_000)))
            .build_arc()
            .unwrap();
        let session = Arc::new(TaskContext::default().with_runtime(runtime));
        let chunk = chunk_context(&session, 0);
        let partial = MemoryConsumer::new("partial")
            .with_can_spill(true)
            .register(chunk.memory_pool());
        partial.try_grow(6_000).unwrap();
        assert_eq!(session.memory_pool().reserved(), 6_000);
        let fin = MemoryConsumer::new("final")
            .with_can_spill(true)
            .register(session.memory_pool());
        fin.try_grow(4_000).unwrap();
        assert!(fin.try_grow(1).is_err());
        // the chunk done, its memory is the pool's again
        drop(partial);
        assert_eq!(session.memory_pool().reserved(), 4_000);
        fin.try_grow(6_000).unwrap();
    }

    /// The chunk size from the environment's value: a number, 0 for none,
    /// anything else an error that says what to write.
    #[test]
    fn chunk_rows_reads_a_number_or_says_what_is_wrong() {
        // (the variable is read by name; this test is the only one that sets it)
        let read = |v: &str| {
            // SAFETY: tests of this module do not read the variable concurrently
            unsafe { std::env::set_var("CARBONSTAT_PARTIAL_AGGREGATION_ROWS", v) };
            let r = chunk_rows();
            unsafe { std::env::remove_var("CARBONSTAT_PARTIAL_AGGREGATION_ROWS") };
            r
        };
        assert_eq!(read("1000"), Ok(Some(1000)));
        assert_eq!(read("0"), Ok(None));
        let err = read("lots").unwrap_err();
        assert!(
            err.contains("'lots'") && err.contains("give a number of rows"),
            "{err}"
        );
    }
}
