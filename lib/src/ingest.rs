//! Reading the inputs (the `energy`, `sector_energy`, `gdp`, `regions` and
//! `targets` contracts) as text, exactly as the user wrote them.
//!
//! Every column is read as a string: types are decided by the validation step
//! in SQL (`sql/20_validate.sql`), so a malformed value becomes a reject row with
//! its file, line and rule instead of a failed cast or, worse, an inferred type
//! that strips the leading zeros of a code. Each raw row carries
//! `source_file` and `source_line`, and `row_error` when the row itself could
//! not be split into the header's columns.
//!
//! File-level problems — no file matches, a required column is missing, the
//! bytes are not UTF-8 — fail with an [`Error::InputFile`] that names the file
//! and says what to do.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::storage::{Location, glob_prefix, is_url};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

const BATCH_ROWS: usize = 8192;

/// The columns of one input contract.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl InputSpec {
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.required.iter().chain(self.optional.iter()).copied()
    }

    /// The raw table's name in SQL.
    pub fn table(&self) -> String {
        format!("raw_{}", self.name)
    }

    pub fn raw_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns()
            .map(|c| Field::new(c, DataType::Utf8, true))
            .collect();
        fields.push(Field::new("source_file", DataType::Utf8, false));
        fields.push(Field::new("source_line", DataType::Int64, false));
        fields.push(Field::new("row_error", DataType::Utf8, true));
        Arc::new(Schema::new(fields))
    }
}

pub const ENERGY: InputSpec = InputSpec {
    name: "energy",
    required: &[
        "enterprise_id",
        "region_code",
        "sector_code",
        "year",
        "energy_code",
        "quantity",
        "unit",
    ],
    optional: &["enterprise_name", "month", "use", "flow"],
};

pub const SECTOR_ENERGY: InputSpec = InputSpec {
    name: "sector_energy",
    required: &[
        "region_code",
        "sector_code",
        "year",
        "energy_code",
        "quantity",
        "unit",
    ],
    optional: &["use", "flow"],
};

pub const GDP: InputSpec = InputSpec {
    name: "gdp",
    required: &["region_code", "year", "gdp"],
    optional: &["gdp_index"],
};

pub const REGIONS: InputSpec = InputSpec {
    name: "regions",
    required: &["region_code", "name", "level"],
    optional: &["parent_code"],
};

pub const TARGETS: InputSpec = InputSpec {
    name: "targets",
    required: &[
        "region_code",
        "plan",
        "base_year",
        "target_year",
        "indicator",
        "value",
    ],
    optional: &[],
};

pub const ALL_INPUTS: [InputSpec; 5] = [ENERGY, SECTOR_ENERGY, GDP, REGIONS, TARGETS];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
}

/// One input file, identified by content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputFile {
    /// The path as the manifest shows it: relative to the config file when it
    /// lies below it, the URL for a remote object.
    pub path: String,
    /// Where it is read from: the file itself, or the local copy of a remote object.
    #[serde(skip)]
    pub local: PathBuf,
    pub format: Format,
    pub size: u64,
    pub sha256: String,
    /// Modification time as listed (RFC 3339), for the cheap no-change check.
    #[serde(default)]
    pub last_modified: String,
    /// The object's ETag, where the store has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

/// The files of one input.
#[derive(Debug, Clone)]
pub struct ResolvedInput {
    pub spec: InputSpec,
    pub files: Vec<InputFile>,
}

/// One input file as listed: metadata only, nothing read yet.
#[derive(Debug, Clone)]
pub struct ListedFile {
    pub path: String,
    pub format: Format,
    pub size: u64,
    pub last_modified: String,
    pub e_tag: Option<String>,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Local(PathBuf),
    Remote(Location, ObjectPath),
}

/// The listed files of one input.
#[derive(Debug, Clone)]
pub struct ListedInput {
    pub spec: InputSpec,
    pub files: Vec<ListedFile>,
}

fn sources_of(cfg: &LoadedConfig, spec: InputSpec) -> Option<&crate::config::Sources> {
    let i = &cfg.config.inputs;
    match spec.name {
        "energy" => Some(&i.energy),
        "sector_energy" => i.sector_energy.as_ref(),
        "gdp" => Some(&i.gdp),
        "regions" => Some(&i.regions),
        "targets" => i.targets.as_ref(),
        _ => None,
    }
}

/// Expand the config's patterns into files with their size and modification
/// time. Nothing is read: this is what the no-change check compares.
pub async fn list_inputs(cfg: &LoadedConfig) -> Result<Vec<ListedInput>> {
    let mut out = Vec::new();
    for spec in ALL_INPUTS {
        let mut files = Vec::new();
        if let Some(sources) = sources_of(cfg, spec) {
            for pattern in sources.patterns() {
                if is_url(pattern) && !pattern.starts_with("file://") {
                    files.extend(list_remote(cfg, spec, pattern).await?);
                } else {
                    files.extend(list_local(cfg, spec, pattern)?);
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        out.push(ListedInput { spec, files });
    }
    Ok(out)
}

/// Hash local files and copy remote ones into `work_dir` (hashing them on the
/// way), then check every file's header.
pub async fn fetch_inputs(listed: &[ListedInput], work_dir: &Path) -> Result<Vec<ResolvedInput>> {
    let mut out = Vec::new();
    for input in listed {
        let spec = input.spec;
        let mut files = Vec::new();
        for (n, f) in input.files.iter().enumerate() {
            let (local, size, sha256) = match &f.source {
                Source::Local(p) => {
                    let (size, sha) = hash_file(p).map_err(|e| {
                        file_error(spec, &f.path, format!("cannot read the file: {e}"))
                    })?;
                    (p.clone(), size, sha)
                }
                Source::Remote(loc, object) => {
                    let name = object.filename().unwrap_or("input");
                    let to = work_dir.join(format!("{}-{n}-{name}", spec.name));
                    let (size, sha) = loc
                        .download(object, &to)
                        .await
                        .map_err(|m| file_error(spec, &f.path, format!("cannot fetch: {m}")))?;
                    (to, size, sha)
                }
            };
            let file = InputFile {
                path: f.path.clone(),
                local,
                format: f.format,
                size,
                sha256,
                last_modified: f.last_modified.clone(),
                e_tag: f.e_tag.clone(),
            };
            check_header(spec, &file)?;
            files.push(file);
        }
        out.push(ResolvedInput { spec, files });
    }
    Ok(out)
}

fn file_error(spec: InputSpec, file: &str, message: String) -> Error {
    Error::InputFile {
        input: spec.name.to_string(),
        file: file.to_string(),
        message,
    }
}

fn format_of(spec: InputSpec, shown: &str) -> Result<Format> {
    let ext = shown.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Ok(Format::Csv),
        "parquet" => Ok(Format::Parquet),
        _ => Err(file_error(
            spec,
            shown,
            "unknown file type; inputs are .csv or .parquet files".into(),
        )),
    }
}

fn list_local(cfg: &LoadedConfig, spec: InputSpec, pattern: &str) -> Result<Vec<ListedFile>> {
    let local = cfg
        .location(&format!("inputs.{}", spec.name), pattern)?
        .local
        .ok_or_else(|| file_error(spec, pattern, "not a local path".into()))?;
    let local_str = local.to_string_lossy().to_string();
    let paths: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
        let matches = glob::glob(&local_str)
            .map_err(|e| file_error(spec, pattern, format!("not a valid glob pattern: {e}")))?;
        let mut v = Vec::new();
        for m in matches {
            let p = m.map_err(|e| file_error(spec, pattern, e.to_string()))?;
            if p.is_file() {
                v.push(p);
            }
        }
        if v.is_empty() {
            return Err(file_error(
                spec,
                pattern,
                format!(
                    "no file matches {local_str}; check inputs.{} in {}",
                    spec.name,
                    cfg.path.display()
                ),
            ));
        }
        v
    } else {
        if !local.is_file() {
            return Err(file_error(
                spec,
                pattern,
                format!(
                    "file {local_str} does not exist; check inputs.{} in {}",
                    spec.name,
                    cfg.path.display()
                ),
            ));
        }
        vec![local]
    };
    paths
        .into_iter()
        .map(|p| {
            let shown = display_path(&cfg.base_dir, &p);
            let format = format_of(spec, &shown)?;
            let meta = std::fs::metadata(&p)
                .map_err(|e| file_error(spec, &shown, format!("cannot read the file: {e}")))?;
            let modified: chrono::DateTime<chrono::Utc> = meta
                .modified()
                .map_err(|e| file_error(spec, &shown, e.to_string()))?
                .into();
            Ok(ListedFile {
                path: shown,
                format,
                size: meta.len(),
                last_modified: modified.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                e_tag: None,
                source: Source::Local(p),
            })
        })
        .collect()
}

async fn list_remote(
    cfg: &LoadedConfig,
    spec: InputSpec,
    pattern: &str,
) -> Result<Vec<ListedFile>> {
    let (prefix, has_glob) = glob_prefix(pattern);
    let loc = cfg.location(&format!("inputs.{}", spec.name), prefix)?;
    let metas = if has_glob {
        let glob = glob::Pattern::new(pattern)
            .map_err(|e| file_error(spec, pattern, format!("not a valid glob pattern: {e}")))?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        loc.list()
            .await
            .map_err(|e| file_error(spec, pattern, format!("cannot list: {e}")))?
            .into_iter()
            .filter(|m| glob.matches_with(&loc.show(&m.location), options))
            .collect::<Vec<_>>()
    } else {
        match loc.store.head(&loc.prefix).await {
            Ok(m) => vec![m],
            Err(object_store::Error::NotFound { .. }) => vec![],
            Err(e) => return Err(file_error(spec, pattern, format!("cannot read: {e}"))),
        }
    };
    if metas.is_empty() {
        return Err(file_error(
            spec,
            pattern,
            format!(
                "no object matches {pattern}; check inputs.{} in {}",
                spec.name,
                cfg.path.display()
            ),
        ));
    }
    metas
        .into_iter()
        .map(|m| {
            let shown = loc.show(&m.location);
            Ok(ListedFile {
                format: format_of(spec, &shown)?,
                path: shown,
                size: m.size,
                last_modified: m
                    .last_modified
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                e_tag: m.e_tag.clone(),
                source: Source::Remote(loc.clone(), m.location.clone()),
            })
        })
        .collect()
}

/// A path relative to the config directory where possible, with `/` separators.
fn display_path(base: &Path, p: &Path) -> String {
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let rel = p.strip_prefix(&base).unwrap_or(p);
    rel.to_string_lossy().replace('\\', "/")
}

fn hash_file(p: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize())))
}

fn normalize_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()
}

/// The header of a file, as normalized names.
fn read_header(spec: InputSpec, f: &InputFile) -> Result<Vec<String>> {
    match f.format {
        Format::Csv => {
            let file = File::open(&f.local)
                .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::new(file));
            let header = rdr.byte_headers().map_err(|e| {
                file_error(spec, &f.path, format!("cannot read the header line: {e}"))
            })?;
            header
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    std::str::from_utf8(h).map(normalize_header).map_err(|_| {
                        file_error(
                            spec,
                            &f.path,
                            format!(
                                "line 1, column {}: the header is not valid UTF-8; save the file as UTF-8 CSV",
                                i + 1
                            ),
                        )
                    })
                })
                .collect()
        }
        Format::Parquet => {
            let file = File::open(&f.local)
                .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                file_error(spec, &f.path, format!("not a readable Parquet file: {e}"))
            })?;
            Ok(builder
                .schema()
                .fields()
                .iter()
                .map(|fl| normalize_header(fl.name()))
                .collect())
        }
    }
}

fn check_header(spec: InputSpec, f: &InputFile) -> Result<()> {
    let header = read_header(spec, f)?;
    let mut seen = std::collections::BTreeSet::new();
    for h in &header {
        if !h.is_empty() && !seen.insert(h.as_str()) {
            return Err(file_error(
                spec,
                &f.path,
                format!("column '{h}' appears twice in the header; remove one"),
            ));
        }
    }
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(file_error(
            spec,
            &f.path,
            format!(
                "required column(s) {} missing; the header has: {}. The {} input needs: {}",
                missing.join(", "),
                header.join(", "),
                spec.name,
                spec.required.join(", ")
            ),
        ));
    }
    let unknown: Vec<&String> = header
        .iter()
        .filter(|h| !h.is_empty() && !spec.columns().any(|c| c == h.as_str()))
        .collect();
    if !unknown.is_empty() {
        tracing::warn!(
            input = spec.name,
            file = %f.path,
            "ignoring column(s) not in the {} contract: {}",
            spec.name,
            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// Register `raw_<input>` tables: every file of an input is one partition.
/// An input without files (an optional one that is not configured) is an
/// empty table with the same columns, so the SQL steps need no special cases.
pub fn register_raw(ctx: &SessionContext, inputs: &[ResolvedInput]) -> Result<()> {
    for input in inputs {
        let schema = input.spec.raw_schema();
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
        ctx.deregister_table(input.spec.table())?;
        ctx.register_table(input.spec.table(), Arc::new(table))?;
    }
    Ok(())
}

#[derive(Debug)]
struct RawFileStream {
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
            match self.file.format {
                Format::Csv => match CsvBatches::open(self.spec, &self.file, self.schema.clone()) {
                    Ok(it) => Box::new(it),
                    Err(e) => Box::new(std::iter::once(Err(to_df(e)))),
                },
                Format::Parquet => {
                    match ParquetBatches::open(self.spec, &self.file, self.schema.clone()) {
                        Ok(it) => Box::new(it),
                        Err(e) => Box::new(std::iter::once(Err(to_df(e)))),
                    }
                }
            };
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(iter),
        ))
    }
}

fn to_df(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Columns being filled for one batch.
struct BatchBuilder {
    columns: Vec<StringBuilder>,
    source_file: StringBuilder,
    source_line: Int64Builder,
    row_error: StringBuilder,
    rows: usize,
}

impl BatchBuilder {
    fn new(n: usize) -> Self {
        BatchBuilder {
            columns: (0..n).map(|_| StringBuilder::new()).collect(),
            source_file: StringBuilder::new(),
            source_line: Int64Builder::new(),
            row_error: StringBuilder::new(),
            rows: 0,
        }
    }

    fn finish(&mut self, schema: &SchemaRef) -> datafusion::error::Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(self.source_file.finish()));
        arrays.push(Arc::new(self.source_line.finish()));
        arrays.push(Arc::new(self.row_error.finish()));
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }
}

struct CsvBatches {
    spec: InputSpec,
    path: String,
    reader: csv::Reader<BufReader<File>>,
    /// For each contract column, its index in the file (None: absent optional).
    mapping: Vec<Option<usize>>,
    header_len: usize,
    schema: SchemaRef,
    record: csv::ByteRecord,
    done: bool,
}

impl CsvBatches {
    fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        let file = File::open(&f.local)
            .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let header: Vec<String> = reader
            .byte_headers()
            .map_err(|e| file_error(spec, &f.path, format!("cannot read the header: {e}")))?
            .iter()
            .map(|h| normalize_header(&String::from_utf8_lossy(h)))
            .collect();
        let mapping = spec
            .columns()
            .map(|c| header.iter().position(|h| h == c))
            .collect();
        Ok(CsvBatches {
            spec,
            path: f.path.clone(),
            reader,
            mapping,
            header_len: header.len(),
            schema,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut b = BatchBuilder::new(self.mapping.len());
        while b.rows < BATCH_ROWS {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    file_error(
                        self.spec,
                        &self.path,
                        format!("{e}; the file is not valid CSV from here on"),
                    )
                })?;
            if !more {
                self.done = true;
                break;
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0) as i64;
            // a line with nothing but separators and blanks is not a record
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            for (col, idx) in b.columns.iter_mut().zip(&self.mapping) {
                match idx.and_then(|i| self.record.get(i)) {
                    Some(bytes) => match std::str::from_utf8(bytes) {
                        Ok(s) => col.append_value(s),
                        Err(e) => {
                            return Err(file_error(
                                self.spec,
                                &self.path,
                                format!(
                                    "line {line}: byte {} of a field is not valid UTF-8; save the file as UTF-8 (GB18030 input arrives in a later version)",
                                    e.valid_up_to() + 1
                                ),
                            ));
                        }
                    },
                    None => col.append_null(),
                }
            }
            b.source_file.append_value(&self.path);
            b.source_line.append_value(line);
            if self.record.len() != self.header_len {
                b.row_error.append_value(format!(
                    "the row has {} fields but the header has {}",
                    self.record.len(),
                    self.header_len
                ));
            } else {
                b.row_error.append_null();
            }
            b.rows += 1;
        }
        if b.rows == 0 {
            return Ok(None);
        }
        Ok(Some(b.finish(&self.schema)?))
    }
}

impl Iterator for CsvBatches {
    type Item = datafusion::error::Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(to_df(e)))
            }
        }
    }
}

struct ParquetBatches {
    spec: InputSpec,
    path: String,
    reader: datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    mapping: Vec<Option<usize>>,
    schema: SchemaRef,
    row: i64,
}

impl ParquetBatches {
    fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        let file = File::open(&f.local)
            .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| file_error(spec, &f.path, format!("not a readable Parquet file: {e}")))?;
        let names: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|fl| normalize_header(fl.name()))
            .collect();
        let mapping = spec
            .columns()
            .map(|c| names.iter().position(|h| h == c))
            .collect();
        let reader = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| file_error(spec, &f.path, format!("cannot read: {e}")))?;
        Ok(ParquetBatches {
            spec,
            path: f.path.clone(),
            reader,
            mapping,
            schema,
            row: 0,
        })
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.mapping.len() + 3);
        for (idx, name) in self.mapping.iter().zip(self.spec.columns()) {
            arrays.push(match idx {
                Some(i) => cast(batch.column(*i), &DataType::Utf8).map_err(|e| {
                    file_error(
                        self.spec,
                        &self.path,
                        format!("column {name} cannot be read as text: {e}"),
                    )
                })?,
                None => datafusion::arrow::array::new_null_array(&DataType::Utf8, n),
            });
        }
        let mut files = StringBuilder::with_capacity(n, n * self.path.len());
        let mut lines = Int64Builder::with_capacity(n);
        for _ in 0..n {
            self.row += 1;
            files.append_value(&self.path);
            lines.append_value(self.row);
        }
        arrays.push(Arc::new(files.finish()));
        arrays.push(Arc::new(lines.finish()));
        arrays.push(datafusion::arrow::array::new_null_array(&DataType::Utf8, n));
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

impl Iterator for ParquetBatches {
    type Item = datafusion::error::Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?;
        Some(
            batch
                .map_err(|e| file_error(self.spec, &self.path, format!("cannot read: {e}")))
                .and_then(|b| self.convert(b))
                .map_err(to_df),
        )
    }
}
