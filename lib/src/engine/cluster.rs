//! Cluster mode (cargo feature `distributed`; issue 22): carbonstat's
//! functions on Apache Ballista's scheduler and executors, and a client
//! session that sends its queries there.
//!
//! What a cluster needs from carbonstat, and where it is made here:
//! - the same functions on every process: the text and identifier UDFs are
//!   stateless and registered by name in the scheduler's session and the
//!   executors' function registry; `lookup(…)` carries its table, so the
//!   codecs ([`CarbonstatLogicalCodec`], [`CarbonstatPhysicalCodec`]) write
//!   it once into the run's table directory (Arrow IPC), name the file and
//!   its hash in the plan, and rebuild the function from it where the plan
//!   is decoded;
//! - the optimizer as the local session has it: the scheduler plans the
//!   logical plan again, so its session drops the same two rules
//!   (`extract_leaf_expressions`, `push_down_leaf_projections`) as
//!   `new_session`;
//! - the same scheduling policy on both sides: pull-staged, so an executor
//!   needs only its Flight port (`--bind`) reachable, and the scheduler only
//!   its gRPC port.
//!
//! - the pipeline on a cluster (`upgrade`, `session_for`): the raw inputs as
//!   file scans (`input::file_scan`), the small tables as Parquet in the
//!   run's table directory, recursive CTEs in the client.
//!
//! - the intermediate tables written by the executors (`write_table`: a
//!   `WriteTable` node the scheduler plans as a `PartitionWriteExec` on top
//!   of the query), lookup tables named by file and hash, remote inputs
//!   fetched by the task that reads them (`input::file_scan`).

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_core::utils::{default_config_producer, default_session_builder};
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{DataFusionError, Result as DfResult, TableReference};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::engine::lookup::{LookupUdf, Lookups, TableRef, lookup_udf};
use crate::error::{Error, Result};
use crate::input::InputSpec;
use crate::input::file_scan::{RawInputTable, raw_scan_parts, scan_plan};

/// How often an executor tells the scheduler it is alive, and after how long
/// without a word the scheduler takes it for lost (docs/distributed.md).
pub const HEARTBEAT_SECONDS: u64 = 10;
pub const EXECUTOR_TIMEOUT_SECONDS: u64 = 30;

/// The largest gRPC message (a job's plan, a task's definition) the client,
/// scheduler and executors send and accept: Ballista's 16 MiB was too small
/// for a dataset query of a 10^7-record national run (3 984 regions), whose
/// plan carries each lookup(…) call's table (docs/distributed.md).
pub const GRPC_MESSAGE_LIMIT: usize = 256 << 20;

/// The two optimizer rules carbonstat's sessions run without (see
/// `engine::session::new_session`).
const REMOVED_RULES: [&str; 2] = ["extract_leaf_expressions", "push_down_leaf_projections"];

/// The marks that begin carbonstat's own encodings in a plan (Ballista's
/// and DataFusion's are protobuf messages, which never begin so).
const RAW_INPUT: &[u8] = b"carbonstat:raw-input:1\n";
const RAW_SCAN: &[u8] = b"carbonstat:raw-scan:1\n";
const LOOKUP_REFS: &[u8] = b"carbonstat:lookup-refs:1\n";

fn write_ipc(
    schema: &SchemaRef,
    batches: &[datafusion::arrow::record_batch::RecordBatch],
    buf: &mut Vec<u8>,
) -> DfResult<()> {
    let mut w = StreamWriter::try_new(buf, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}

/// One raw input file as a plan carries it: the file as listed, with where
/// it is read from and how (which the manifest leaves out).
#[derive(serde::Serialize, serde::Deserialize)]
struct RawFile {
    file: crate::input::InputFile,
    local: std::path::PathBuf,
    options: crate::config::InputOptions,
}

/// A raw input's table or scan as a plan carries it: the input's name, its
/// files, and for a scan its file groups (indices into the files) and limit.
#[derive(serde::Serialize, serde::Deserialize)]
struct RawInput {
    input: String,
    files: Vec<RawFile>,
    groups: Vec<Vec<usize>>,
    limit: Option<usize>,
    /// the config's storage settings without secrets (remote files)
    #[serde(default)]
    storage: crate::store::Storage,
}

impl RawInput {
    fn new(
        spec: InputSpec,
        files: &[crate::input::InputFile],
        storage: &crate::store::Storage,
        groups: Vec<Vec<usize>>,
        limit: Option<usize>,
    ) -> Self {
        RawInput {
            input: spec.name.to_string(),
            files: files
                .iter()
                .map(|f| RawFile {
                    file: f.clone(),
                    local: f.local.clone(),
                    options: f.options.clone(),
                })
                .collect(),
            groups,
            limit,
            storage: storage.clone(),
        }
    }

    fn encode(&self, buf: &mut Vec<u8>) -> DfResult<()> {
        serde_json::to_writer(buf, self).map_err(|e| DataFusionError::External(Box::new(e)))
    }

    fn decode(buf: &[u8]) -> DfResult<(InputSpec, Arc<Vec<crate::input::InputFile>>, Self)> {
        let wire: RawInput =
            serde_json::from_slice(buf).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let spec = crate::input::ALL_INPUTS
            .into_iter()
            .find(|s| s.name == wire.input)
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "the plan names input {}, which this carbonstat does not have: are the client and the cluster the same version?",
                    wire.input
                ))
            })?;
        let files = wire
            .files
            .iter()
            .map(|f| {
                let mut file = f.file.clone();
                file.local = f.local.clone();
                file.options = f.options.clone();
                file
            })
            .collect();
        Ok((spec, Arc::new(files), wire))
    }
}

/// `lookup`'s tables as bytes. On a run's session (`upgrade`) each table is
/// written once as an Arrow IPC file into the run's table directory, which
/// every process of the cluster reaches, and the plan names it: the mark
/// [`LOOKUP_REFS`] and the references as JSON ([`TableRef`]: file and
/// SHA-256). A plan then stays small however large the table (a 16-province
/// national run's region tables passed gRPC's message limit when carried),
/// and a process reads each table once ([`decode_lookups`]'s cache).
/// Elsewhere (a bare client session, `client_session`) the plan carries the
/// rows: a count, then per table its name, its number of key columns and its
/// rows as an Arrow IPC stream (lengths little-endian u32/u64).
fn encode_lookups(lookups: &Lookups, buf: &mut Vec<u8>) -> DfResult<()> {
    let tables = lookups.snapshot();
    if let Some(refs) = table_refs(lookups, &tables)? {
        buf.extend_from_slice(LOOKUP_REFS);
        return serde_json::to_writer(buf, &refs)
            .map_err(|e| DataFusionError::External(Box::new(e)));
    }
    buf.extend_from_slice(&(tables.len() as u32).to_le_bytes());
    for ((name, keys), batch) in tables {
        buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&(keys as u32).to_le_bytes());
        let mut ipc = Vec::new();
        write_ipc(&batch.schema(), std::slice::from_ref(&batch), &mut ipc)?;
        buf.extend_from_slice(&(ipc.len() as u64).to_le_bytes());
        buf.extend_from_slice(&ipc);
    }
    Ok(())
}

/// The references of `tables`: the ones already written or read, and the
/// others written now into the registry's directory; `None` when a table has
/// no reference and there is no directory (the rows travel inline).
fn table_refs(
    lookups: &Lookups,
    tables: &[(
        (String, usize),
        datafusion::arrow::record_batch::RecordBatch,
    )],
) -> DfResult<Option<Vec<TableRef>>> {
    let dir = lookups.stored_in();
    let mut refs = Vec::with_capacity(tables.len());
    for ((name, keys), batch) in tables {
        if let Some(r) = lookups.table_ref(&(name.clone(), *keys)) {
            refs.push(r);
            continue;
        }
        let Some(dir) = &dir else { return Ok(None) };
        let r = store_table(dir, name, *keys, batch)?;
        lookups.set_ref(r.clone());
        refs.push(r);
    }
    Ok(Some(refs))
}

/// Write `batch` as `dir/<name>-<keys>-<sha256>.arrow` (Arrow IPC stream),
/// unless that file is there: its name is its content's hash.
fn store_table(
    dir: &std::path::Path,
    name: &str,
    keys: usize,
    batch: &datafusion::arrow::record_batch::RecordBatch,
) -> DfResult<TableRef> {
    use sha2::{Digest, Sha256};
    let mut ipc = Vec::new();
    write_ipc(&batch.schema(), std::slice::from_ref(batch), &mut ipc)?;
    let sha256 = hex::encode(Sha256::digest(&ipc));
    let path = dir.join(format!("{name}-{keys}-{sha256}.arrow"));
    if !path.exists() {
        let io = |e: std::io::Error| {
            DataFusionError::Execution(format!(
                "lookup table {name}: cannot write {}: {e}",
                path.display()
            ))
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // written whole under another name, then renamed: a process that
        // reads the path never sees half a file
        let part = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::fs::write(part.path(), &ipc).map_err(io)?;
        part.persist(&path).map_err(|e| io(e.error))?;
    }
    Ok(TableRef {
        name: name.to_string(),
        keys,
        path,
        sha256,
    })
}

/// The tables named by reference that this process has read, by the plan's
/// bytes: a scheduler plans, and an executor decodes, every task's plan with
/// the same lookup calls, and each reads and indexes a table once. The
/// oldest are dropped beyond [`DECODED_KEPT`] (a run has a few dozen).
static DECODED: std::sync::Mutex<Vec<(Vec<u8>, Arc<Lookups>)>> = std::sync::Mutex::new(Vec::new());
const DECODED_KEPT: usize = 256;

/// The tables of a plan's `lookup`: read from the files it names (checked
/// against their SHA-256) or from the rows it carries ([`encode_lookups`]).
fn decode_lookups(buf: &[u8]) -> DfResult<Arc<Lookups>> {
    if let Some(json) = buf.strip_prefix(LOOKUP_REFS) {
        if let Some((_, l)) = DECODED
            .lock()
            .expect("lookup cache")
            .iter()
            .find(|(k, _)| k.as_slice() == json)
        {
            return Ok(l.clone());
        }
        let refs: Vec<TableRef> =
            serde_json::from_slice(json).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let lookups = Arc::new(Lookups::default());
        for r in refs {
            let batch = read_table(&r)?;
            lookups.insert(&r.name, batch, r.keys)?;
            lookups.set_ref(r);
        }
        let mut cache = DECODED.lock().expect("lookup cache");
        if cache.len() >= DECODED_KEPT {
            cache.remove(0);
        }
        cache.push((json.to_vec(), lookups.clone()));
        return Ok(lookups);
    }
    decode_inline(buf).map(Arc::new)
}

/// The rows of a table named by reference, refused when the file is not the
/// one the plan was made with.
fn read_table(r: &TableRef) -> DfResult<datafusion::arrow::record_batch::RecordBatch> {
    use sha2::{Digest, Sha256};
    let shown = r.path.display();
    let ipc = std::fs::read(&r.path).map_err(|e| {
        DataFusionError::Execution(format!(
            "lookup table {}: cannot read {shown}: {e} (every scheduler and executor must reach engine.shared_dir at the client's path, docs/distributed.md)",
            r.name
        ))
    })?;
    let found = hex::encode(Sha256::digest(&ipc));
    if found != r.sha256 {
        return Err(DataFusionError::Execution(format!(
            "lookup table {}: {shown} has SHA-256 {found}, the plan was made with {}: the file was changed or half-copied; run again",
            r.name, r.sha256
        )));
    }
    let reader = StreamReader::try_new(std::io::Cursor::new(ipc), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(datafusion::arrow::compute::concat_batches(
        &schema, &batches,
    )?)
}

/// The tables a plan carries inline ([`encode_lookups`] without a directory).
fn decode_inline(buf: &[u8]) -> DfResult<Lookups> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> DfResult<&'a [u8]> {
        if buf.len() < n {
            return Err(DataFusionError::Internal(
                "lookup tables in a plan: the bytes end early".into(),
            ));
        }
        let (head, rest) = buf.split_at(n);
        *buf = rest;
        Ok(head)
    }
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
    let mut rest = buf;
    let lookups = Lookups::default();
    let count = u32_of(take(&mut rest, 4)?);
    for _ in 0..count {
        let len = u32_of(take(&mut rest, 4)?);
        let name = std::str::from_utf8(take(&mut rest, len)?)
            .map_err(|e| DataFusionError::Internal(format!("lookup table name: {e}")))?
            .to_string();
        let keys = u32_of(take(&mut rest, 4)?);
        let ipc_len = u64::from_le_bytes(take(&mut rest, 8)?.try_into().expect("8 bytes")) as usize;
        let ipc = take(&mut rest, ipc_len)?;
        let reader = StreamReader::try_new(std::io::Cursor::new(ipc), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        let batch = datafusion::arrow::compute::concat_batches(&schema, &batches)?;
        lookups.insert(&name, batch, keys)?;
    }
    Ok(lookups)
}

/// The lookup tables of `udf` when it is carbonstat's `lookup`.
fn lookups_of(udf: &ScalarUDF) -> Option<&Arc<Lookups>> {
    let inner: &dyn Any = udf.inner().as_ref();
    inner.downcast_ref::<LookupUdf>().map(LookupUdf::lookups)
}

fn encode_udf(udf: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
    match lookups_of(udf) {
        Some(lookups) => encode_lookups(lookups, buf),
        // the stateless functions travel by name
        None => Ok(()),
    }
}

fn decode_udf(name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
    if name == "lookup" {
        return Ok(Arc::new(lookup_udf(decode_lookups(buf)?)));
    }
    // a stateless function the plan names: the session's own
    let udf = stateless_udfs()
        .into_iter()
        .find(|u| u.name() == name || u.aliases().iter().any(|a| a == name));
    udf.map(Arc::new).ok_or_else(|| {
        DataFusionError::NotImplemented(format!(
            "scalar function {name}: not a carbonstat function (the plan names a function this process does not have)"
        ))
    })
}

/// carbonstat's functions without state, as a session registers them.
fn stateless_udfs() -> Vec<ScalarUDF> {
    let ctx = SessionContext::new();
    let before: Vec<String> = ctx.state().scalar_functions().keys().cloned().collect();
    crate::engine::ids::register_udfs(&ctx);
    ctx.state()
        .scalar_functions()
        .iter()
        .filter(|(name, _)| !before.contains(name))
        .map(|(_, f)| f.as_ref().clone())
        .collect()
}

/// Ballista's logical codec with carbonstat's functions.
#[derive(Debug, Default)]
pub struct CarbonstatLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for CarbonstatLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        if let Some((dir, input)) = decode_writer(buf, inputs)? {
            return Ok(Extension {
                node: Arc::new(WriteTable::new(input, dir)),
            });
        }
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        let any: &dyn Any = node.node.as_any();
        if let Some(write) = any.downcast_ref::<WriteTable>() {
            buf.extend_from_slice(WRITE_PARTS);
            buf.extend_from_slice(write.dir.as_bytes());
            return Ok(());
        }
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        if let Some(rest) = buf.strip_prefix(RAW_INPUT) {
            let (spec, files, wire) = RawInput::decode(rest)?;
            return Ok(Arc::new(RawInputTable {
                spec,
                files,
                schema,
                storage: Arc::new(wire.storage),
            }));
        }
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        let any: &dyn Any = node.as_ref();
        if let Some(raw) = any.downcast_ref::<RawInputTable>() {
            buf.extend_from_slice(RAW_INPUT);
            return RawInput::new(raw.spec, &raw.files, &raw.storage, Vec::new(), None).encode(buf);
        }
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> DfResult<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }
}

/// Ballista's physical codec with carbonstat's functions.
#[derive(Debug, Default)]
pub struct CarbonstatPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for CarbonstatPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if let Some((dir, input)) = decode_writer(buf, inputs)? {
            return Ok(Arc::new(PartitionWriteExec::new(input, dir)));
        }
        if let Some(rest) = buf.strip_prefix(RAW_SCAN) {
            let schema_len =
                u32::from_le_bytes(rest.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(
                    || DataFusionError::Internal("a raw scan without its schema".into()),
                )?) as usize;
            let truncated = || DataFusionError::Internal("a raw scan cut short in the plan".into());
            let schema_ipc = rest.get(4..4 + schema_len).ok_or_else(truncated)?;
            let schema = StreamReader::try_new(std::io::Cursor::new(schema_ipc), None)?.schema();
            let (spec, files, wire) =
                RawInput::decode(rest.get(4 + schema_len..).ok_or_else(truncated)?)?;
            return Ok(scan_plan(
                spec,
                files,
                schema,
                wire.groups,
                wire.limit,
                Arc::new(wire.storage),
            ));
        }
        self.inner.try_decode(buf, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        let any: &dyn Any = node.as_ref();
        if let Some(write) = any.downcast_ref::<PartitionWriteExec>() {
            buf.extend_from_slice(WRITE_PARTS);
            buf.extend_from_slice(write.dir.as_bytes());
            return Ok(());
        }
        if let Some(parts) = raw_scan_parts(node.as_ref()) {
            buf.extend_from_slice(RAW_SCAN);
            let mut schema = Vec::new();
            write_ipc(&parts.schema, &[], &mut schema)?;
            buf.extend_from_slice(&(schema.len() as u32).to_le_bytes());
            buf.extend_from_slice(&schema);
            return RawInput::new(
                parts.spec,
                parts.files,
                parts.storage,
                parts.groups,
                parts.limit,
            )
            .encode(buf);
        }
        self.inner.try_encode(node, buf, converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }
}

/// carbonstat's functions (`lookup` reading `lookups`) and optimizer rules
/// on a session, on top of Ballista's own.
fn add_carbonstat(ctx: &SessionContext, lookups: Arc<Lookups>) {
    crate::engine::ids::register_udfs(ctx);
    ctx.register_udf(lookup_udf(lookups));
    for rule in REMOVED_RULES {
        // Ballista's optimizer list may not have them: nothing to remove then
        ctx.remove_optimizer_rule(rule);
    }
}

/// A scheduler's or executor's session state with carbonstat's functions;
/// `lookup` is a placeholder there: a plan brings its tables (the codecs).
fn with_carbonstat(state: SessionState) -> DfResult<SessionState> {
    // the scheduler plans carbonstat's table writes (WriteTable)
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(CarbonstatQueryPlanner))
        .build();
    let ctx = SessionContext::new_with_state(state);
    add_carbonstat(&ctx, Arc::new(Lookups::default()));
    Ok(ctx.state())
}

fn logical_codec() -> Arc<dyn LogicalExtensionCodec> {
    Arc::new(CarbonstatLogicalCodec::default())
}

fn physical_codec() -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(CarbonstatPhysicalCodec::default())
}

/// Every process's session settings: Ballista's, with carbonstat's codecs.
fn config_producer() -> ConfigProducer {
    use ballista_core::extension::SessionConfigExt;
    Arc::new(|| {
        default_config_producer()
            .with_ballista_logical_extension_codec(logical_codec())
            .with_ballista_physical_extension_codec(physical_codec())
    })
}

/// Parse `host:port` into a socket address, naming the option on error. A
/// cluster's ports are fixed and known to the others: port 0 (any free one)
/// is refused.
fn socket(option: &str, value: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let address = value
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{option} {value}: not a host:port this machine can bind or reach (e.g. 127.0.0.1:50050)"
            ))
        })?;
    if address.port() == 0 {
        return Err(Error::Usage(format!(
            "{option} {value}: give the port the other processes will use (1-65534), not 0"
        )));
    }
    Ok(address)
}

/// The host a process tells the others to reach it at: its bind address,
/// unless that is 0.0.0.0 or :: (every interface), when the scheduler takes
/// the address a connection comes from.
fn advertised(address: &SocketAddr) -> Option<String> {
    (!address.ip().is_unspecified()).then(|| address.ip().to_string())
}

/// Serve as the cluster's scheduler on `bind` until the process is stopped.
pub async fn run_scheduler(bind: &str) -> Result<()> {
    let address = socket("--bind", bind)?;
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: advertised(&address).unwrap_or_else(|| "localhost".into()),
        scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PullStaged,
        override_config_producer: Some(config_producer()),
        override_session_builder: Some(Arc::new(|config: SessionConfig| {
            with_carbonstat(default_session_builder(config)?)
        })),
        override_logical_codec: Some(logical_codec()),
        override_physical_codec: Some(physical_codec()),
        // an executor that stops sending heartbeats (every HEARTBEAT_SECONDS)
        // is lost after EXECUTOR_TIMEOUT_SECONDS, not Ballista's 180: its
        // tasks, and the stages whose shuffle files it held, run again on the
        // others (a nightly batch waits half a minute, not three)
        executor_timeout_seconds: EXECUTOR_TIMEOUT_SECONDS,
        // and a job whose executors are all lost fails after as long, not
        // after Ballista's 180 s more
        no_executors_grace_period_seconds: EXECUTOR_TIMEOUT_SECONDS,
        grpc_server_max_decoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        grpc_server_max_encoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        expire_dead_executor_interval_seconds: 5,
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::Internal(format!("scheduler: {e}")))?;
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|e| Error::Internal(format!("scheduler on {address}: {e}")))
}

/// Serve as an executor of the scheduler at `scheduler` (host:port), with its
/// Flight service on `bind` and its shuffle files under `work_dir`, until the
/// process is stopped or the scheduler stops it.
pub async fn run_executor(
    scheduler: &str,
    bind: &str,
    work_dir: &std::path::Path,
    vcores: Option<usize>,
) -> Result<()> {
    let address = socket("--bind", bind)?;
    if address.port() == u16::MAX {
        return Err(Error::Usage(format!(
            "--bind {bind}: the executor also takes the port after it for its task service: give a port below 65535"
        )));
    }
    let scheduler_address = socket("--scheduler", scheduler)?;
    std::fs::create_dir_all(work_dir).map_err(|e| Error::io(work_dir.display().to_string(), e))?;
    // the remote input files its tasks fetch go there too
    let _ = crate::input::file_scan::FETCH_DIR.set(work_dir.to_path_buf());
    let registry_state = with_carbonstat(
        default_session_builder(default_config_producer())
            .map_err(|e| Error::Internal(format!("executor session: {e}")))?,
    )
    .map_err(|e| Error::Internal(format!("executor session: {e}")))?;
    let work = work_dir.display().to_string();
    let runtime_work = work.clone();
    let runtime: RuntimeProducer = Arc::new(move |_config: &SessionConfig| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(&runtime_work)
            .build_arc()
    });
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: address.ip().to_string(),
        external_host: advertised(&address),
        port: address.port(),
        // pull-staged: the scheduler never calls this port; it must still be free
        grpc_port: address.port() + 1,
        scheduler_host: scheduler_address.ip().to_string(),
        scheduler_port: scheduler_address.port(),
        scheduler_connect_timeout_seconds: 30,
        vcores: vcores.unwrap_or(defaults.vcores),
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        grpc_max_decoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        grpc_max_encoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        task_scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work),
        print_thread_info: false,
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&registry_state))),
        override_runtime_producer: Some(runtime),
        override_config_producer: Some(config_producer()),
        override_logical_codec: Some(logical_codec()),
        override_physical_codec: Some(physical_codec()),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| Error::Internal(format!("executor on {address}: {e}")))
}

/// A client session whose queries run on the cluster whose scheduler is at
/// `scheduler` (host:port), with carbonstat's functions and codecs, and
/// `partitions` target partitions. `lookup(…)` tables are read by the client
/// (`engine::run_sql` loads them) and travel in each plan.
pub async fn client_session(scheduler: &str, partitions: usize) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    use ballista_core::extension::SessionConfigExt;
    let url = format!("df://{scheduler}");
    let lookups = Arc::new(Lookups::default());
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(partitions)
        .with_ballista_logical_extension_codec(logical_codec())
        .with_ballista_physical_extension_codec(physical_codec())
        .with_extension(lookups.clone());
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    // Ballista replaces the session's functions with its own list: ours are
    // registered on what it returns
    let ctx = SessionContext::remote_with_state(&url, state)
        .await
        .map_err(|e| Error::Internal(format!("cluster at {scheduler}: {e}")))?;
    add_carbonstat(&ctx, lookups);
    Ok(ctx)
}

/// Run one query on a client session of [`client_session`] and collect its
/// rows: the tables it reads with `lookup(…)` are read first, as
/// `engine::run_sql` does for the SQL steps.
pub async fn query(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
    let lookups = ctx
        .state()
        .config()
        .get_extension::<Lookups>()
        .ok_or_else(|| {
            Error::Internal(
                "a cluster query needs a session of engine::cluster::client_session".into(),
            )
        })?;
    let statements =
        datafusion::sql::parser::DFParser::parse_sql(sql).map_err(|e| Error::sql("query", e))?;
    for statement in &statements {
        for (table, keys) in crate::engine::lookup::calls_in(statement) {
            lookups
                .load(ctx, &table, keys)
                .await
                .map_err(|e| Error::sql("query", e))?;
        }
    }
    ctx.sql(sql)
        .await
        .map_err(|e| Error::sql("query", e))?
        .collect()
        .await
        .map_err(|e| Error::sql("query", e))
}

/// `ctx` (a session of `engine::session::new_session`) with its queries sent
/// to the cluster of `scheduler` (host:port): carbonstat's codecs in its
/// config, Ballista's planner, and carbonstat's functions registered again on
/// top of Ballista's list.
pub(crate) fn upgrade(
    ctx: SessionContext,
    scheduler: &str,
    on_cluster: crate::engine::session::OnCluster,
) -> Result<SessionContext> {
    use ballista_core::extension::{SessionConfigExt, SessionStateExt};
    // the same session without the cluster, for the statements a cluster's
    // plan cannot carry (it shares the catalog with the cluster's session)
    let in_client = InClient { local: ctx.clone() };
    let state = ctx.state();
    let lookups = state
        .config()
        .get_extension::<Lookups>()
        .ok_or_else(|| Error::Internal("the session has no lookup tables".into()))?;
    // each lookup(…) call carries only its own table to the cluster, by
    // reference to a file in the run's table directory
    let tables = state
        .config()
        .get_extension::<crate::engine::session::Intermediates>()
        .map(|i| i.dir.path().join("lookups"));
    lookups.per_call(tables);
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(logical_codec())
        .with_ballista_physical_extension_codec(physical_codec())
        .with_extension(Arc::new(on_cluster))
        .with_extension(Arc::new(in_client));
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build()
        .upgrade_for_ballista(format!("http://{scheduler}"))
        .map_err(|e| Error::Internal(format!("cluster at {scheduler}: {e}")))?;
    let ctx = SessionContext::new_with_state(state);
    // the static distributed planner: the same plan every run (adaptive
    // planning chooses partitions from what it measures)
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set(
            ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
            "false",
        )
        .map_err(|e| Error::Internal(format!("cluster settings: {e}")))?;
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set(
            ballista_core::config::BALLISTA_CLIENT_GRPC_MAX_MESSAGE_SIZE,
            &GRPC_MESSAGE_LIMIT.to_string(),
        )
        .map_err(|e| Error::Internal(format!("cluster settings: {e}")))?;
    crate::engine::ids::register_udfs(&ctx);
    ctx.register_udf(lookup_udf(lookups));
    for rule in REMOVED_RULES {
        ctx.remove_optimizer_rule(rule);
    }
    Ok(ctx)
}

/// The local session beside a cluster's (same catalog, functions and
/// lookup tables): where the statements run that Ballista cannot send to an
/// executor.
struct InClient {
    local: SessionContext,
}

impl std::fmt::Debug for InClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InClient")
    }
}

/// The session `plan` runs in: the client's own for a plan Ballista 55 cannot
/// carry to its executors (a recursive CTE: its `WorkTableExec` has no
/// encoding; carbonstat's are on small tables, the regions' hierarchy and the
/// GDP chain), `ctx` for every other.
pub(crate) fn session_for(ctx: &SessionContext, plan: &LogicalPlan) -> SessionContext {
    match ctx.state().config().get_extension::<InClient>() {
        Some(c) if runs_in_client(plan) => c.local.clone(),
        _ => ctx.clone(),
    }
}

/// Make the table of `input` (a `CREATE TABLE … AS` query of session `ctx`)
/// as Parquet files in `dir`, written by the cluster's executors: the
/// scheduler plans `input` as it plans any query and puts a
/// [`PartitionWriteExec`] on top ([`WriteTable`], [`CarbonstatQueryPlanner`]),
/// so each task of the last stage writes its partition and no row of the
/// table passes through the client. The table is the files of the tasks
/// whose results the job returned (one per partition); a file of an attempt
/// that failed or ran again is removed. The rows written and the table.
/// For a query of which [`writes_on_cluster`] holds.
pub(crate) async fn write_table(
    ctx: &SessionContext,
    input: &LogicalPlan,
    dir: &std::path::Path,
) -> DfResult<(u64, Arc<dyn TableProvider>)> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::UInt64Type;
    use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
    let shown = dir.display().to_string();
    let dir_text = dir.to_str().ok_or_else(|| {
        DataFusionError::Execution(format!("{shown}: the table directory's path is not UTF-8"))
    })?;
    let write = LogicalPlan::Extension(Extension {
        node: Arc::new(WriteTable::new(input.clone(), dir_text.to_string())),
    });
    let batches = ctx.execute_logical_plan(write).await?.collect().await?;
    let mut files = std::collections::BTreeSet::new();
    let mut rows = 0u64;
    for b in &batches {
        let names = b.column(0).as_string::<i32>();
        let counts = b.column(1).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            files.insert(names.value(i).to_string());
            rows += counts.value(i);
        }
    }
    if files.is_empty() {
        return Err(DataFusionError::Internal(format!(
            "{shown}: the cluster wrote no file of the table"
        )));
    }
    // what an attempt left that the job did not return
    let io = |e: std::io::Error| DataFusionError::Execution(format!("{shown}: {e}"));
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !files.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(io)?;
        }
    }
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(dir.join(f).to_string_lossy()))
        .collect::<DfResult<Vec<_>>>()?;
    use datafusion::datasource::file_format::options::ReadOptions;
    let options = datafusion::prelude::ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    Ok((rows, Arc::new(ListingTable::try_new(config)?)))
}

/// Whether the table of `input`, a `CREATE TABLE … AS` query of session
/// `ctx`, is written by the cluster's executors ([`write_table`]): `ctx` is
/// a cluster's session and `input` is not one of the statements that run
/// in the client (`session_for`).
pub(crate) fn writes_on_cluster(ctx: &SessionContext, input: &LogicalPlan) -> bool {
    ctx.state().config().get_extension::<InClient>().is_some() && !runs_in_client(input)
}

/// The logical form of [`PartitionWriteExec`]: the rows of `input` written
/// as Parquet files into `dir`, one row per file with the rows it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WriteTable {
    input: LogicalPlan,
    dir: String,
    schema: datafusion::common::DFSchemaRef,
}

impl PartialOrd for WriteTable {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        // the schema is the same for every WriteTable
        match self.input.partial_cmp(&other.input) {
            Some(std::cmp::Ordering::Equal) => self.dir.partial_cmp(&other.dir),
            order => order,
        }
    }
}

impl WriteTable {
    fn new(input: LogicalPlan, dir: String) -> Self {
        let schema = datafusion::common::DFSchema::try_from(rows_written_schema().as_ref().clone())
            .expect("a schema of one column");
        WriteTable {
            input,
            dir,
            schema: Arc::new(schema),
        }
    }
}

impl datafusion::logical_expr::UserDefinedLogicalNodeCore for WriteTable {
    fn name(&self) -> &str {
        "WriteTable"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &datafusion::common::DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<datafusion::logical_expr::Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "WriteTable: dir={}", self.dir)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<datafusion::logical_expr::Expr>,
        inputs: Vec<LogicalPlan>,
    ) -> DfResult<Self> {
        let [input] = <[_; 1]>::try_from(inputs)
            .map_err(|_| DataFusionError::Internal("WriteTable takes one input".into()))?;
        Ok(WriteTable::new(input, self.dir.clone()))
    }
}

/// DataFusion's physical planner with [`WriteTable`] planned as a
/// [`PartitionWriteExec`]: the scheduler's query planner.
#[derive(Debug)]
struct CarbonstatQueryPlanner;

#[async_trait::async_trait]
impl datafusion::execution::context::QueryPlanner for CarbonstatQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(WriteTablePlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

struct WriteTablePlanner;

#[async_trait::async_trait]
impl datafusion::physical_planner::ExtensionPlanner for WriteTablePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn datafusion::physical_planner::PhysicalPlanner,
        node: &dyn datafusion::logical_expr::UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let any: &dyn Any = node.as_any();
        let (Some(write), [input]) = (any.downcast_ref::<WriteTable>(), physical_inputs) else {
            return Ok(None);
        };
        Ok(Some(Arc::new(PartitionWriteExec::new(
            input.clone(),
            write.dir.clone(),
        ))))
    }
}

const WRITE_PARTS: &[u8] = b"carbonstat:write-parts:1\n";

/// A table writer as a plan carries it (logical [`WriteTable`] or physical
/// [`PartitionWriteExec`]): the mark, then its directory; and its one input.
fn decode_writer<T: Clone>(buf: &[u8], inputs: &[T]) -> DfResult<Option<(String, T)>> {
    let Some(dir) = buf.strip_prefix(WRITE_PARTS) else {
        return Ok(None);
    };
    let dir = std::str::from_utf8(dir)
        .map_err(|e| DataFusionError::Internal(format!("a table writer's directory: {e}")))?;
    let [input] = inputs else {
        return Err(DataFusionError::Internal(
            "a table writer without its one input".into(),
        ));
    };
    Ok(Some((dir.to_string(), input.clone())))
}

/// Writes each partition of its input as one Parquet file of a name of its
/// own, `part-<partition>-<random>.parquet` in `dir`, with the intermediate
/// tables' encodings (`engine::steps`); its output is one row per partition,
/// the file's name and its rows ([`write_table`] keeps the files the job
/// returned). Where the task runs, there the file is written: on a cluster,
/// an executor, into the shared table directory.
#[derive(Debug)]
pub(crate) struct PartitionWriteExec {
    input: Arc<dyn ExecutionPlan>,
    /// (a `String`: it came as one from [`WriteTable`] and travels as one)
    dir: String,
    properties: Arc<datafusion::physical_plan::PlanProperties>,
}

impl PartitionWriteExec {
    fn new(input: Arc<dyn ExecutionPlan>, dir: String) -> Self {
        use datafusion::physical_expr::EquivalenceProperties;
        use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
        use datafusion::physical_plan::{Partitioning, PlanProperties};
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(rows_written_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        PartitionWriteExec {
            input,
            dir,
            properties: Arc::new(properties),
        }
    }
}

fn rows_written_schema() -> SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
    ]))
}

impl datafusion::physical_plan::DisplayAs for PartitionWriteExec {
    fn fmt_as(
        &self,
        _t: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(f, "PartitionWriteExec: dir={}", self.dir)
    }
}

impl ExecutionPlan for PartitionWriteExec {
    fn name(&self) -> &str {
        "PartitionWriteExec"
    }

    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> DfResult<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> DfResult<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("PartitionWriteExec takes one input".into()))?;
        Ok(Arc::new(PartitionWriteExec::new(input, self.dir.clone())))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<datafusion::physical_plan::SendableRecordBatchStream> {
        use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
        use futures::StreamExt;
        let mut input = self.input.execute(partition, context)?;
        let dir = std::path::PathBuf::from(&self.dir);
        let schema = self.input.schema();
        let written = async move {
            let io = |e: std::io::Error| {
                DataFusionError::Execution(format!("writing {}: {e}", dir.display()))
            };
            tokio::fs::create_dir_all(&dir).await.map_err(io)?;
            // a name of its own: the task inside a Ballista stage does not
            // know which of the stage's partitions it is (its plan is cut
            // down to its slice), and an attempt that ran again must not
            // replace the file of another; the client keeps the files of
            // the attempts whose results it received (`write_table`)
            let part = tempfile::Builder::new()
                .prefix(&format!("part-{partition}-"))
                .suffix(".parquet")
                .tempfile_in(&dir)
                .map_err(io)?
                .into_temp_path();
            let name = part
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let file = tokio::fs::File::create(&part).await.map_err(io)?;
            let properties = crate::engine::steps::intermediate_properties(&schema);
            let mut writer = datafusion::parquet::arrow::AsyncArrowWriter::try_new(
                file,
                schema.clone(),
                Some(properties),
            )?;
            let mut rows = 0u64;
            while let Some(batch) = input.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).await?;
            }
            writer.close().await?;
            part.keep().map_err(|e| io(e.error))?;
            tracing::info!(file = %dir.join(&name).display(), rows, "wrote a table file");
            let file: datafusion::arrow::array::ArrayRef =
                Arc::new(datafusion::arrow::array::StringArray::from(vec![name]));
            let rows: datafusion::arrow::array::ArrayRef =
                Arc::new(datafusion::arrow::array::UInt64Array::from(vec![rows]));
            Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                rows_written_schema(),
                vec![file, rows],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            rows_written_schema(),
            futures::stream::once(written).boxed(),
        )))
    }
}

/// Whether `plan` (with its subqueries and the views it reads) has a
/// recursive query.
fn runs_in_client(plan: &LogicalPlan) -> bool {
    use datafusion::common::tree_node::TreeNodeRecursion;
    let mut found = false;
    let _ = plan.apply_with_subqueries(|p| {
        found = match p {
            LogicalPlan::RecursiveQuery(_) => true,
            LogicalPlan::TableScan(scan) => {
                datafusion::datasource::source_as_provider(&scan.source)
                    .ok()
                    .and_then(|t| {
                        let any: &dyn Any = t.as_ref();
                        any.downcast_ref::<datafusion::catalog::view::ViewTable>()
                            .map(|v| runs_in_client(v.logical_plan()))
                    })
                    .unwrap_or(false)
            }
            _ => false,
        };
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;

    fn table(codes: &[&str], values: &[f64]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "code",
                Arc::new(StringArray::from(codes.to_vec())) as ArrayRef,
            ),
            (
                "value",
                Arc::new(Float64Array::from(values.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    /// A run's plan names a lookup table by its file and hash, not its rows:
    /// written once, read back equal, named the same way again by the
    /// process that read it (a scheduler passing the plan on to its tasks).
    #[test]
    fn a_runs_plan_names_its_lookup_table_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let codes: Vec<String> = (0..5000).map(|i| format!("1506{i:08}")).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        let values: Vec<f64> = (0..5000).map(|i| i as f64 * 0.5).collect();
        let batch = table(&codes, &values);
        let lookups = Lookups::default();
        lookups.insert("regions_big", batch.clone(), 1).unwrap();
        lookups.per_call(Some(dir.path().to_path_buf()));

        let mut plan = Vec::new();
        encode_lookups(&lookups, &mut plan).unwrap();
        assert!(plan.starts_with(LOOKUP_REFS));
        // 5 000 codes of 12 characters are 60 000 bytes of rows; the
        // reference is one file name and a hash
        assert!(plan.len() < 1000, "{} bytes", plan.len());
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);

        // encoding again writes nothing new and gives the same bytes
        let mut again = Vec::new();
        encode_lookups(&lookups, &mut again).unwrap();
        assert_eq!(again, plan);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let decoded = decode_lookups(&plan).unwrap();
        let tables = decoded.snapshot();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].0, ("regions_big".to_string(), 1));
        assert_eq!(tables[0].1, batch);
        // the scheduler's re-encoding names the same file
        let mut passed_on = Vec::new();
        encode_lookups(&decoded, &mut passed_on).unwrap();
        assert_eq!(passed_on, plan);
        // and a second decode is the same registry (read once per process)
        assert!(Arc::ptr_eq(&decoded, &decode_lookups(&plan).unwrap()));
    }

    /// A table file that is not the one the plan was made with is refused,
    /// naming the file and both hashes, never read as if it were.
    #[test]
    fn a_changed_lookup_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lookups = Lookups::default();
        lookups
            .insert("factors_changed", table(&["a", "b"], &[1.0, 2.0]), 1)
            .unwrap();
        lookups.per_call(Some(dir.path().to_path_buf()));
        let mut plan = Vec::new();
        encode_lookups(&lookups, &mut plan).unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut other = Vec::new();
        let changed = table(&["a", "b"], &[1.0, 2.5]);
        write_ipc(&changed.schema(), &[changed], &mut other).unwrap();
        std::fs::write(&file, other).unwrap();
        let e = decode_lookups(&plan).unwrap_err().to_string();
        assert!(
            e.contains("factors_changed")
                && e.contains(&file.display().to_string())
                && e.contains("SHA-256"),
            "{e}"
        );
    }

    /// A table writer writes each partition of its input as one Parquet
    /// file of its own and reports its name and rows: two partitions of 3
    /// and 2 rows are two files, 3 + 2 = 5 rows, read back whole.
    #[tokio::test]
    async fn a_table_writer_writes_each_partition_as_a_file() {
        use datafusion::arrow::array::{AsArray, Int64Array};
        use datafusion::arrow::datatypes::{Int64Type, UInt64Type};
        use datafusion::datasource::memory::MemorySourceConfig;
        let dir = tempfile::tempdir().unwrap();
        let part = |v: Vec<i64>| {
            RecordBatch::try_from_iter(vec![("x", Arc::new(Int64Array::from(v)) as ArrayRef)])
                .unwrap()
        };
        let (a, b) = (part(vec![1, 2, 3]), part(vec![4, 5]));
        let input = MemorySourceConfig::try_new_exec(&[vec![a.clone()], vec![b]], a.schema(), None)
            .unwrap();
        let t = dir.path().join("t").to_str().unwrap().to_string();
        let write = Arc::new(PartitionWriteExec::new(input, t));
        let ctx = SessionContext::new();
        let out = datafusion::physical_plan::collect(write, ctx.task_ctx())
            .await
            .unwrap();
        let mut written: Vec<(String, u64)> = Vec::new();
        for b in &out {
            let names = b.column(0).as_string::<i32>();
            let rows = b.column(1).as_primitive::<UInt64Type>();
            for i in 0..b.num_rows() {
                written.push((names.value(i).to_string(), rows.value(i)));
            }
        }
        written.sort_by_key(|w| w.1);
        assert_eq!(written.iter().map(|w| w.1).collect::<Vec<_>>(), [2, 3]);
        let mut files: Vec<String> = std::fs::read_dir(dir.path().join("t"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        files.sort();
        let mut names: Vec<String> = written.into_iter().map(|w| w.0).collect();
        names.sort();
        assert_eq!(files, names);
        ctx.register_parquet(
            "t",
            dir.path().join("t").to_str().unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
        let sum = ctx
            .sql("SELECT sum(x) FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        // 1 + 2 + 3 + 4 + 5 = 15
        assert_eq!(sum[0].column(0).as_primitive::<Int64Type>().value(0), 15);
    }

    /// Without a table directory (a bare client session) the rows travel in
    /// the plan, and come back equal.
    #[test]
    fn without_a_directory_the_rows_travel_in_the_plan() {
        let lookups = Lookups::default();
        let batch = table(&["x"], &[3.25]);
        lookups.insert("t", batch.clone(), 1).unwrap();
        let mut plan = Vec::new();
        encode_lookups(&lookups, &mut plan).unwrap();
        assert!(!plan.starts_with(LOOKUP_REFS));
        let decoded = decode_lookups(&plan).unwrap();
        assert_eq!(decoded.snapshot()[0].1, batch);
    }
}
