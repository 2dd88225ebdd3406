//! Finding the input files (globs, local paths, URLs), fetching remote ones
//! into the work directory, hashing each and checking its encoding and header.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use crate::config::{InputOptions, LoadedConfig};
use crate::error::{Error, Result};
use crate::input::ALL_INPUTS;
use crate::input::Format;
use crate::input::InputFile;
use crate::input::InputSpec;
use crate::input::ListedFile;
use crate::input::ListedInput;
use crate::input::ResolvedInput;
use crate::input::Source;
use crate::input::encoding::{Utf8Scan, Utf8Validator, resolve_encoding};
use crate::input::{csv, excel, headers, parquet, readers};
use crate::store::{glob_prefix, is_url};
use object_store::ObjectStoreExt;

pub(crate) fn sources_of(cfg: &LoadedConfig, spec: InputSpec) -> Option<&crate::config::Sources> {
    cfg.config.inputs.get(spec.name).0
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

pub(crate) fn file_error(spec: InputSpec, file: &str, message: String) -> Error {
    Error::InputFile {
        input: spec.name.to_string(),
        file: file.to_string(),
        message,
    }
}

pub(crate) fn format_of(spec: InputSpec, shown: &str) -> Result<Format> {
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

pub(crate) fn list_local(
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

pub(crate) async fn list_remote(
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
pub(crate) fn display_path(base: &Path, p: &Path) -> String {
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
pub(crate) type Hashed = std::io::Result<(u64, String, Utf8Scan)>;

/// [`hash_file`] of every file, in order, on as many threads as there are
/// cores (at most one per file): each thread takes the next file not taken.
pub(crate) fn hash_files(paths: &[&Path]) -> Vec<Hashed> {
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
pub(crate) fn hash_file(p: &Path) -> std::io::Result<(u64, String, Utf8Scan)> {
    let mut f = File::open(p)?;
    let mut hash = crate::digest::ContentHash::default();
    let mut utf8 = Utf8Validator::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        utf8.update(&buf[..n]);
    }
    let (size, sha256) = hash.finish();
    Ok((size, sha256, utf8.finish()))
}

/// Decide how the file is read and check that its header has what the
/// contract needs: a file error (exit 2) before anything runs.
pub(crate) fn check_file(spec: InputSpec, file: &mut InputFile, utf8: Utf8Scan) -> Result<()> {
    let (mapping, shown) = match file.format {
        Format::Csv => {
            let enc = resolve_encoding(spec, file, file.options.encoding, utf8)?;
            file.encoding = Some(enc);
            let (header, delimiter) = csv::csv_header(spec, file)?;
            file.options.delimiter = delimiter;
            let mapping = headers::map_header(spec, &header, &file.options, &file.path)?;
            (mapping, file.path.clone())
        }
        Format::Parquet => {
            let header = parquet::parquet_header(spec, file)?;
            let mapping = headers::map_header(spec, &header, &file.options, &file.path)?;
            (mapping, file.path.clone())
        }
        Format::Xlsx | Format::Xls => {
            let (sheet, row, header) = excel::excel_header(spec, file)?;
            let shown = format!("{} [{sheet}]", file.path);
            let mapping = headers::map_header(spec, &header, &file.options, &shown)?;
            file.sheet = Some(sheet);
            file.header_row = Some(row);
            (mapping, shown)
        }
    };
    // once per file and run (every statement that reads the file maps its
    // header again)
    if !mapping.ignored.is_empty() {
        tracing::warn!(
            input = spec.name,
            file = shown,
            "ignoring column(s) not in the {} contract: {}",
            spec.name,
            mapping.ignored.join(", ")
        );
    }
    Ok(())
}
