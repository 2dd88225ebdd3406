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
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{InputOptions, LoadedConfig};
use crate::error::{Error, Result};
use crate::readers::{self, Utf8Scan, Utf8Validator, resolve_encoding};
use crate::storage::{Location, glob_prefix, is_url};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

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
            .map(|c| Field::new(c, DataType::Utf8View, true))
            .collect();
        fields.push(Field::new("source_file", DataType::Utf8View, false));
        fields.push(Field::new("source_line", DataType::Int64, false));
        fields.push(Field::new("row_error", DataType::Utf8View, true));
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
    Xlsx,
    Xls,
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
    /// How the file is read (from the config).
    #[serde(skip)]
    pub options: InputOptions,
    /// The text encoding of a CSV file, as detected or configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The sheet of a workbook that was read, and its header row (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<usize>,
}

impl InputFile {
    /// How rows of this file name their source: the path, and for a workbook
    /// the sheet too (`data/x.xlsx [能源消费]`).
    pub fn source_name(&self) -> String {
        match &self.sheet {
            Some(sheet) => format!("{} [{sheet}]", self.path),
            None => self.path.clone(),
        }
    }
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
    options: InputOptions,
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
            let options = sources.options();
            for pattern in sources.patterns() {
                if is_url(pattern) && !pattern.starts_with("file://") {
                    files.extend(list_remote(cfg, spec, pattern, &options).await?);
                } else {
                    files.extend(list_local(cfg, spec, pattern, &options)?);
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
    // local files are hashed first, several at a time (a core each)
    let local: Vec<&Path> = listed
        .iter()
        .flat_map(|i| i.files.iter())
        .filter_map(|f| match &f.source {
            Source::Local(p) => Some(p.as_path()),
            Source::Remote(..) => None,
        })
        .collect();
    let mut hashed = hash_files(&local).into_iter();
    let mut out = Vec::new();
    for input in listed {
        let spec = input.spec;
        let mut files = Vec::new();
        for (n, f) in input.files.iter().enumerate() {
            let (local, size, sha256, utf8) = match &f.source {
                Source::Local(p) => {
                    let (size, sha, utf8) = hashed
                        .next()
                        .ok_or_else(|| Error::Internal("a local input file was not hashed".into()))?
                        .map_err(|e| {
                            file_error(spec, &f.path, format!("cannot read the file: {e}"))
                        })?;
                    (p.clone(), size, sha, utf8)
                }
                Source::Remote(loc, object) => {
                    let name = object.filename().unwrap_or("input");
                    let to = work_dir.join(format!("{}-{n}-{name}", spec.name));
                    let mut validator = Utf8Validator::default();
                    let (size, sha) = loc
                        .download(object, &to, &mut |chunk| validator.update(chunk))
                        .await
                        .map_err(|m| file_error(spec, &f.path, format!("cannot fetch: {m}")))?;
                    let utf8 = validator.finish();
                    (to, size, sha, utf8)
                }
            };
            let mut file = InputFile {
                path: f.path.clone(),
                local,
                format: f.format,
                size,
                sha256,
                last_modified: f.last_modified.clone(),
                e_tag: f.e_tag.clone(),
                options: f.options.clone(),
                encoding: None,
                sheet: None,
                header_row: None,
            };
            check_file(spec, &mut file, utf8)?;
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
        "xlsx" | "xlsm" => Ok(Format::Xlsx),
        "xls" => Ok(Format::Xls),
        _ => Err(file_error(
            spec,
            shown,
            "unknown file type; inputs are .csv, .parquet, .xlsx or .xls files".into(),
        )),
    }
}

fn list_local(
    cfg: &LoadedConfig,
    spec: InputSpec,
    pattern: &str,
    options: &InputOptions,
) -> Result<Vec<ListedFile>> {
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
                options: options.clone(),
                source: Source::Local(p),
            })
        })
        .collect()
}

async fn list_remote(
    cfg: &LoadedConfig,
    spec: InputSpec,
    pattern: &str,
    options: &InputOptions,
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
                options: options.clone(),
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

/// Read one local file as an input, the way a run does (hash, encoding,
/// header, every row), without a session: for tools and tests.
pub fn read_local_file(
    spec: InputSpec,
    path: &Path,
    options: InputOptions,
) -> Result<(InputFile, Vec<RecordBatch>)> {
    let shown = path.display().to_string();
    let format = format_of(spec, &shown)?;
    let (size, sha256, utf8) = hash_file(path)
        .map_err(|e| file_error(spec, &shown, format!("cannot read the file: {e}")))?;
    let mut file = InputFile {
        path: shown,
        local: path.to_path_buf(),
        format,
        size,
        sha256,
        last_modified: String::new(),
        e_tag: None,
        options,
        encoding: None,
        sheet: None,
        header_row: None,
    };
    check_file(spec, &mut file, utf8)?;
    let batches =
        readers::open_batches(spec, &file, spec.raw_schema())?.collect::<Result<Vec<_>>>()?;
    Ok((file, batches))
}

/// Size, sha256 and UTF-8 scan of a file (see [`hash_file`]).
type Hashed = std::io::Result<(u64, String, Utf8Scan)>;

/// [`hash_file`] of every file, in order, on as many threads as there are
/// cores (at most one per file): each thread takes the next file not taken.
fn hash_files(paths: &[&Path]) -> Vec<Hashed> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len());
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(p) = paths.get(i) else { break done };
            done.push((i, hash_file(p)));
        }
    };
    let mut hashed: Vec<(usize, Hashed)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..workers).map(|_| s.spawn(take)).collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    hashed.sort_by_key(|(i, _)| *i);
    hashed.into_iter().map(|(_, h)| h).collect()
}

/// Size, sha256 and a UTF-8 scan of a file, in one pass.
fn hash_file(p: &Path) -> std::io::Result<(u64, String, Utf8Scan)> {
    let mut f = File::open(p)?;
    let mut h = Sha256::new();
    let mut utf8 = Utf8Validator::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
        utf8.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize()), utf8.finish()))
}

/// Decide how the file is read and check that its header has what the
/// contract needs: a file error (exit 2) before anything runs.
fn check_file(spec: InputSpec, file: &mut InputFile, utf8: Utf8Scan) -> Result<()> {
    match file.format {
        Format::Csv => {
            let enc = resolve_encoding(spec, file, file.options.encoding, utf8)?;
            file.encoding = Some(enc.to_string());
            let header = readers::csv_header(spec, file)?;
            readers::map_header(spec, &header, &file.options, &file.path)?;
        }
        Format::Parquet => {
            let header = readers::parquet_header(spec, file)?;
            readers::map_header(spec, &header, &file.options, &file.path)?;
        }
        Format::Xlsx | Format::Xls => {
            let (sheet, row, header) = readers::excel_header(spec, file)?;
            readers::map_header(
                spec,
                &header,
                &file.options,
                &format!("{} [{sheet}]", file.path),
            )?;
            file.sheet = Some(sheet);
            file.header_row = Some(row);
        }
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
            match crate::readers::open_batches(self.spec, &self.file, self.schema.clone()) {
                Ok(it) => Box::new(it.map(|r| r.map_err(to_df))),
                Err(e) => Box::new(std::iter::once(Err(to_df(e)))),
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
