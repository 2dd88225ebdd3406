//! Turning a file into raw rows of text: CSV (UTF-8 or GB18030, detected or
//! configured), Excel workbooks (.xlsx, .xls) with a title block above the
//! header, and Parquet. Every reader maps the file's header to the input's
//! contract columns — by the contract name, by the standard Chinese headers of
//! the enterprise energy report (统一社会信用代码, 能源名称, 消费量 …) or by the
//! config's `columns:` — and yields the same raw shape with the source file
//! and line (for Excel: the workbook, sheet and row) of every row.
//!
//! Bytes in neither encoding, a missing column or an unreadable workbook are
//! file errors that name the file and what to do; nothing in a file can make
//! a reader panic (a fuzz test throws mutated files at them).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use calamine::{Data, Reader};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, RecordBatch, StringViewArray,
    StringViewBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::{Encoding, InputOptions, SheetRef};
use crate::csv_records::{Batch, Cell, Layout, RecordReader, Records, field_column, views_column};
use crate::error::{Error, Result};
use crate::ingest::{Format, InputFile, InputSpec};

pub const BATCH_ROWS: usize = 8192;

/// A pseudo-column: a reporting period such as `2025年3月`, split into year and month.
pub const PERIOD: &str = "period";

fn file_error(spec: InputSpec, file: &str, message: String) -> Error {
    Error::InputFile {
        input: spec.name.to_string(),
        file: file.to_string(),
        message,
    }
}

/// The standard Chinese (and a few English) headers of each contract column.
fn builtin_aliases(spec: InputSpec, column: &str) -> &'static [&'static str] {
    match (spec.name, column) {
        (_, "enterprise_id") => &["统一社会信用代码", "社会信用代码", "信用代码", "uscc"],
        (_, "enterprise_name") => &["单位名称", "企业名称", "单位详细名称", "法人单位名称"],
        ("regions", "region_code") => &["区划代码", "行政区划代码", "地区代码", "代码"],
        (_, "region_code") => &["行政区划代码", "区划代码", "地区代码", "所在地区代码"],
        (_, "sector_code") => &["行业代码", "国民经济行业代码", "行业分类代码"],
        (_, "year") => &["年份", "年度", "年"],
        (_, "month") => &["月份", "月"],
        (_, PERIOD) => &["报告期", "统计期", "时期", "期别"],
        (_, "energy_code") => &["能源名称", "能源品种", "能源代码", "品种名称", "能源"],
        (_, "use") => &["用途", "用能方式", "能源用途"],
        (_, "flow") => &["流向", "消费或输出"],
        (_, "quantity") => &[
            "消费量",
            "实物量",
            "数量",
            "本期消费量",
            "本年消费量",
            "消费实物量",
        ],
        (_, "unit") => &["计量单位", "单位"],
        (_, "gdp") => &["地区生产总值", "生产总值", "gdp"],
        (_, "gdp_index") => &["地区生产总值指数", "生产总值指数", "gdp指数", "指数"],
        (_, "name") => &["名称", "区划名称", "地区名称"],
        (_, "parent_code") => &["上级代码", "上级区划代码", "上级"],
        (_, "level") => &["级别", "层级", "区划级别"],
        (_, "plan") => &["规划", "规划名称"],
        (_, "base_year") => &["基期", "基准年", "基期年份"],
        (_, "target_year") => &["目标年", "目标年份"],
        (_, "indicator") => &["指标", "指标名称"],
        (_, "value") => &["目标值", "数值"],
        _ => &[],
    }
}

/// A header cell as compared: lower case, no blanks, no BOM, without a
/// trailing unit in brackets (`消费量（吨）` is `消费量`).
pub fn normalize_header(h: &str) -> String {
    let mut s: String = h
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    for (open, close) in [('（', '）'), ('(', ')'), ('【', '】'), ('[', ']')] {
        if s.ends_with(close)
            && let Some(i) = s.rfind(open)
            && i > 0
        {
            s.truncate(i);
        }
    }
    s
}

/// Where each contract column is in the file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// per contract column (InputSpec::columns order): the file column
    pub columns: Vec<Option<usize>>,
    /// a period column to split into year and month
    pub period: Option<usize>,
}

/// Map a file's header to the contract. `shown` names the file in messages.
pub fn map_header(
    spec: InputSpec,
    header: &[String],
    options: &InputOptions,
    shown: &str,
) -> Result<Mapping> {
    let norm: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let contract: Vec<&str> = spec.columns().collect();
    let mut configured: BTreeMap<String, String> = BTreeMap::new();
    for (from, to) in &options.columns {
        if !(contract.contains(&to.as_str()) || (to == PERIOD && contract.contains(&"year"))) {
            return Err(file_error(
                spec,
                shown,
                format!(
                    "columns: '{from}' is mapped to '{to}', which is not a column of the {} input ({})",
                    spec.name,
                    contract.join(", ")
                ),
            ));
        }
        configured.insert(normalize_header(from), to.clone());
    }
    let target_of = |i: usize| -> Option<String> {
        let h = &norm[i];
        if h.is_empty() {
            return None;
        }
        if let Some(t) = configured.get(h) {
            return Some(t.clone());
        }
        if contract.contains(&h.as_str()) || (h == PERIOD && contract.contains(&"year")) {
            return Some(h.clone());
        }
        contract
            .iter()
            .copied()
            .chain(contract.contains(&"month").then_some(PERIOD))
            .find(|c| {
                builtin_aliases(spec, c)
                    .iter()
                    .any(|a| normalize_header(a) == *h)
            })
            .map(str::to_string)
    };
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..norm.len() {
        if let Some(t) = target_of(i)
            && let Some(prev) = found.insert(t.clone(), i)
        {
            return Err(file_error(
                spec,
                shown,
                format!(
                    "columns '{}' and '{}' both read as {t}; map one of them elsewhere in the config (inputs.{}.columns)",
                    header[prev], header[i], spec.name
                ),
            ));
        }
    }
    let period = found.get(PERIOD).copied();
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|c| !(found.contains_key(*c) || (*c == "year" && period.is_some())))
        .collect();
    if !missing.is_empty() {
        let unmapped: Vec<&String> = (0..header.len())
            .filter(|i| target_of(*i).is_none() && !norm[*i].is_empty())
            .map(|i| &header[i])
            .collect();
        let suggestion = missing
            .iter()
            .zip(unmapped.iter())
            .map(|(c, h)| format!("{h}: {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = if suggestion.is_empty() {
            String::new()
        } else {
            format!(
                "; if a column has another name, map it in the config, e.g. inputs.{}.columns: {{{suggestion}}}",
                spec.name
            )
        };
        return Err(file_error(
            spec,
            shown,
            format!(
                "required column(s) {} missing; the header has: {}. The {} input needs: {}{hint}",
                missing.join(", "),
                header
                    .iter()
                    .map(|h| h.trim())
                    .collect::<Vec<_>>()
                    .join(", "),
                spec.name,
                spec.required.join(", ")
            ),
        ));
    }
    let unknown: Vec<&str> = (0..header.len())
        .filter(|i| target_of(*i).is_none() && !norm[*i].is_empty())
        .map(|i| header[i].trim())
        .collect();
    if !unknown.is_empty() {
        tracing::warn!(
            input = spec.name,
            file = shown,
            "ignoring column(s) not in the {} contract: {}",
            spec.name,
            unknown.join(", ")
        );
    }
    Ok(Mapping {
        columns: contract.iter().map(|c| found.get(*c).copied()).collect(),
        period,
    })
}

/// `2025年3月`, `2025-03`, `2025/3`, `2025.03`, `202503`, `2025年`, `2025` →
/// (year, month).
pub fn parse_period(s: &str) -> Option<(i32, Option<u32>)> {
    let t = s.trim().trim_end_matches('份');
    let digits = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    let (y, m) = if let Some(rest) = t.strip_suffix('月') {
        let (y, m) = rest.split_once('年')?;
        (y, Some(m))
    } else if let Some(y) = t.strip_suffix('年') {
        (y, None)
    } else if let Some((y, m)) = t.split_once(['-', '/', '.']) {
        (y, Some(m))
    } else if t.len() == 6 && digits(t) {
        (&t[..4], Some(&t[4..]))
    } else {
        (t, None)
    };
    if !(digits(y) && y.len() == 4) {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month = match m {
        None => None,
        Some(m) if digits(m) && m.len() <= 2 => {
            Some(m.parse::<u32>().ok().filter(|m| (1..=12).contains(m))?)
        }
        Some(_) => return None,
    };
    Some((year, month))
}

/// What a period cell gives the year and month columns (when the file has a
/// period column instead of them): the year, or the cell's own text when it
/// is not a period (the year rule then rejects it); and the month, if any.
pub fn split_period(raw: &str) -> (std::result::Result<i32, &str>, Option<u32>) {
    match parse_period(raw) {
        Some((year, month)) => (Ok(year), month),
        None => (Err(raw), None),
    }
}

/// A raw batch: the contract columns, then source_file (`path` on every
/// row), source_line and row_error. Every reader ends its batches here.
fn raw_batch(
    schema: &SchemaRef,
    mut columns: Vec<ArrayRef>,
    path: &str,
    lines: Int64Array,
    row_error: ArrayRef,
) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    columns.push(Arc::new(repeated_text(path, lines.len())?));
    columns.push(Arc::new(lines));
    columns.push(row_error);
    RecordBatch::try_new(schema.clone(), columns)
}

/// Columns being filled for one batch. Text is built as Arrow string views:
/// the joins and filters downstream move 16-byte views instead of copying the
/// bytes, and a cell is appended straight from the reader's buffer (no
/// allocation per field).
pub struct BatchBuilder {
    columns: Vec<StringViewBuilder>,
    /// the file every row of the batch comes from (as shown in rejects)
    source_file: String,
    source_line: Int64Builder,
    row_error: StringViewBuilder,
    pub rows: usize,
    year_index: Option<usize>,
    month_index: Option<usize>,
}

impl BatchBuilder {
    pub fn new(spec: InputSpec, source_file: &str) -> Self {
        let cols: Vec<&str> = spec.columns().collect();
        BatchBuilder {
            columns: (0..cols.len()).map(|_| StringViewBuilder::new()).collect(),
            source_file: source_file.to_string(),
            source_line: Int64Builder::new(),
            row_error: StringViewBuilder::new(),
            rows: 0,
            year_index: cols.iter().position(|c| *c == "year"),
            month_index: cols.iter().position(|c| *c == "month"),
        }
    }

    /// Append one row: `cell(i)` is the text of file column i.
    pub fn push<'a>(
        &mut self,
        mapping: &Mapping,
        cell: impl Fn(usize) -> Option<&'a str>,
        line: i64,
        row_error: Option<String>,
    ) {
        let period = mapping.period.and_then(&cell).map(split_period);
        for (i, (col, idx)) in self.columns.iter_mut().zip(&mapping.columns).enumerate() {
            match (idx, &period) {
                (Some(i), _) => match cell(*i) {
                    Some(v) => col.append_value(v),
                    None => col.append_null(),
                },
                (None, Some((year, _))) if Some(i) == self.year_index => match year {
                    Ok(y) => col.append_value(itoa::Buffer::new().format(*y)),
                    Err(raw) => col.append_value(raw),
                },
                (None, Some((_, Some(m)))) if Some(i) == self.month_index => {
                    col.append_value(itoa::Buffer::new().format(*m))
                }
                _ => col.append_null(),
            }
        }
        self.source_line.append_value(line);
        match row_error {
            Some(e) => self.row_error.append_value(e),
            None => self.row_error.append_null(),
        }
        self.rows += 1;
    }

    pub fn finish(&mut self, schema: &SchemaRef) -> datafusion::error::Result<RecordBatch> {
        let columns = self
            .columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        self.rows = 0;
        Ok(raw_batch(
            schema,
            columns,
            &self.source_file,
            self.source_line.finish(),
            Arc::new(self.row_error.finish()),
        )?)
    }
}

/// A string-view column holding `text` `n` times: the text is stored once and
/// every row's view points at it.
fn repeated_text(
    text: &str,
    n: usize,
) -> std::result::Result<StringViewArray, datafusion::arrow::error::ArrowError> {
    let mut one = StringViewBuilder::with_capacity(1);
    one.append_value(text);
    let (views, buffers, _) = one.finish().into_parts();
    // SAFETY: every view is the view of a valid one-row array over the same
    // buffers (try_new would check the same text n times)
    Ok(unsafe { StringViewArray::new_unchecked(vec![views[0]; n].into(), buffers, None) })
}

// ------------------------------------------------------------ encodings --

/// What a scan of the bytes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Scan {
    /// Offset of the first byte that is not UTF-8, if any.
    pub first_invalid: Option<u64>,
}

/// Incremental UTF-8 validation over chunks (a sequence may span chunks).
#[derive(Default)]
pub struct Utf8Validator {
    pending: Vec<u8>,
    offset: u64,
    first_invalid: Option<u64>,
}

impl Utf8Validator {
    pub fn update(&mut self, chunk: &[u8]) {
        if self.first_invalid.is_some() {
            return;
        }
        // the chunk is checked where it is, unless a sequence began before it
        let joined;
        let buf: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            let mut b = std::mem::take(&mut self.pending);
            b.extend_from_slice(chunk);
            joined = b;
            &joined
        };
        let start = self.offset;
        match std::str::from_utf8(buf) {
            Ok(_) => self.offset += buf.len() as u64,
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    Some(_) => self.first_invalid = Some(start + valid as u64),
                    None => {
                        // an incomplete sequence at the end: wait for the next chunk
                        self.offset += valid as u64;
                        self.pending = buf[valid..].to_vec();
                    }
                }
            }
        }
    }

    pub fn finish(self) -> Utf8Scan {
        Utf8Scan {
            first_invalid: self
                .first_invalid
                .or((!self.pending.is_empty()).then_some(self.offset)),
        }
    }
}

/// The offset of the first byte sequence that is not GB18030, if any.
pub fn gb18030_first_invalid(path: &Path) -> std::io::Result<Option<u64>> {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut out = vec![0u8; (1 << 16) * 3 + 16];
    let mut pos = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        let last = n == 0;
        let mut src = &buf[..n];
        loop {
            let (result, read, _) = decoder.decode_to_utf8_without_replacement(src, &mut out, last);
            match result {
                encoding_rs::DecoderResult::InputEmpty => {
                    pos += read as u64;
                    break;
                }
                encoding_rs::DecoderResult::OutputFull => {
                    pos += read as u64;
                    src = &src[read..];
                }
                encoding_rs::DecoderResult::Malformed(bad, after) => {
                    let at = pos + read as u64 - bad as u64 - after as u64;
                    return Ok(Some(at));
                }
            }
        }
        if last {
            return Ok(None);
        }
    }
}

/// Decide a CSV file's encoding (see [`Encoding`]); a file in neither fails
/// with the offset of the first byte that does not fit.
pub fn resolve_encoding(
    spec: InputSpec,
    file: &InputFile,
    wanted: Encoding,
    utf8: Utf8Scan,
) -> Result<&'static str> {
    let gb = || {
        gb18030_first_invalid(&file.local)
            .map_err(|e| file_error(spec, &file.path, format!("cannot read: {e}")))
    };
    match wanted {
        Encoding::Utf8 => match utf8.first_invalid {
            None => Ok("utf-8"),
            Some(at) => Err(file_error(
                spec,
                &file.path,
                format!(
                    "byte offset {at} is not UTF-8 (encoding: utf-8 is configured); if the file comes from Excel or a Chinese government system it is likely GB18030: set encoding: gb18030 or auto"
                ),
            )),
        },
        Encoding::Gb18030 => match gb()? {
            None => Ok("gb18030"),
            Some(at) => Err(file_error(
                spec,
                &file.path,
                format!(
                    "byte offset {at} is not GB18030 (encoding: gb18030 is configured); save the file as UTF-8 or GB18030"
                ),
            )),
        },
        Encoding::Auto => match utf8.first_invalid {
            None => Ok("utf-8"),
            Some(u) => match gb()? {
                None => Ok("gb18030"),
                Some(g) => Err(file_error(
                    spec,
                    &file.path,
                    format!(
                        "the file is neither UTF-8 (first bad byte at offset {u}) nor GB18030 (first bad byte at offset {g}); save it as UTF-8 or GB18030 CSV"
                    ),
                )),
            },
        },
    }
}

// ------------------------------------------------------------------ CSV --

fn open_text(file: &InputFile) -> std::io::Result<Box<dyn Read + Send>> {
    let f = File::open(&file.local)?;
    Ok(match file.encoding.as_deref() {
        Some("gb18030") => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::GB18030))
                .build(f),
        ),
        // UTF-8: the bytes as they are (a BOM is stripped from the header)
        _ => Box::new(f),
    })
}

/// A CSV file's batches: [`crate::csv_records`] reads the fields of a batch
/// into one buffer, and every contract column is a string view into it.
pub struct CsvBatches {
    spec: InputSpec,
    path: String,
    reader: RecordReader,
    mapping: Mapping,
    header_len: usize,
    schema: SchemaRef,
    /// bytes of the last batch (room reserved for the next)
    last_bytes: usize,
    /// the layout of the last batch, reused by the next
    spare: Option<Layout>,
    done: bool,
}

/// A CSV reader positioned after the header, and the header.
fn open_csv(spec: InputSpec, f: &InputFile) -> Result<(RecordReader, Vec<String>)> {
    let src = open_text(f).map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
    let mut reader = RecordReader::new(src);
    let mut recs = Records::with_capacity(4096, 64);
    let more = reader
        .read_into(&mut recs)
        .map_err(|e| file_error(spec, &f.path, format!("cannot read the header line: {e}")))?;
    if !more {
        return Ok((reader, Vec::new()));
    }
    let batch = recs.finish().map_err(|e| {
        file_error(
            spec,
            &f.path,
            format!(
                "line {}: header field {} is not valid UTF-8; {ENCODING_HINT}",
                e.line,
                e.field + 1
            ),
        )
    })?;
    let header = (0..batch.at.fields(0))
        .map(|j| batch.field_text(0, j).unwrap_or_default().to_string())
        .collect();
    Ok((reader, header))
}

const ENCODING_HINT: &str =
    "set the input's encoding (gb18030 for files from Excel or Chinese systems)";

/// The header line of a CSV file, transcoded.
pub fn csv_header(spec: InputSpec, file: &InputFile) -> Result<Vec<String>> {
    Ok(open_csv(spec, file)?.1)
}

impl CsvBatches {
    pub fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        let (reader, header) = open_csv(spec, f)?;
        let mapping = map_header(spec, &header, &f.options, &f.path)?;
        Ok(CsvBatches {
            spec,
            path: f.path.clone(),
            reader,
            mapping,
            header_len: header.len(),
            schema,
            last_bytes: 1 << 16,
            spare: None,
            done: false,
        })
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let at = self
            .spare
            .take()
            .unwrap_or_else(|| Layout::with_capacity(BATCH_ROWS * self.header_len.max(1) + 1));
        let mut recs = Records::reusing(self.last_bytes + self.last_bytes / 8, at);
        while recs.at.len() < BATCH_ROWS {
            let more = self.reader.read_into(&mut recs).map_err(|e| {
                file_error(self.spec, &self.path, format!("cannot read the file: {e}"))
            })?;
            if !more {
                self.done = true;
                break;
            }
            if recs.last_is_blank() {
                recs.pop();
            }
        }
        if recs.at.is_empty() {
            return Ok(None);
        }
        self.last_bytes = recs.bytes().len();
        let batch = recs.finish().map_err(|e| {
            file_error(
                self.spec,
                &self.path,
                format!(
                    "line {}: field {} is not valid UTF-8; {ENCODING_HINT}",
                    e.line,
                    e.field + 1
                ),
            )
        })?;
        let columns = self.columns(&batch)?;
        self.spare = Some(batch.at);
        Ok(Some(columns))
    }

    /// The raw batch: every contract column, then source_file, source_line
    /// and row_error.
    fn columns(&self, batch: &Batch) -> datafusion::error::Result<RecordBatch> {
        let n = batch.at.len();
        // a period column gives the year and the month where the file has
        // none: each cell split once, for both
        let periods: Vec<_> = match self.mapping.period {
            Some(p) => (0..n)
                .map(|r| Some((batch.at.field(r, p)?, split_period(batch.field_text(r, p)?))))
                .collect(),
            None => vec![None; n],
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.mapping.columns.len() + 3);
        for (name, idx) in self.spec.columns().zip(&self.mapping.columns) {
            let column = match idx {
                Some(i) => field_column(batch, *i)?,
                None if name == "year" => views_column(batch, |r| match periods[r]? {
                    (_, (Ok(y), _)) => Some(Cell::Own(y.to_string())),
                    (at, (Err(_), _)) => Some(Cell::At(at)),
                })?,
                None if name == "month" => {
                    views_column(batch, |r| Some(Cell::Own(periods[r]?.1.1?.to_string())))?
                }
                None => views_column(batch, |_| None)?,
            };
            columns.push(Arc::new(column));
        }
        let lines = Int64Array::from_iter_values((0..n).map(|r| batch.at.line(r) as i64));
        let mut row_error = StringViewBuilder::with_capacity(n);
        for r in 0..n {
            let fields = batch.at.fields(r);
            if fields == self.header_len {
                row_error.append_null();
            } else {
                row_error.append_value(format!(
                    "the row has {fields} fields but the header has {}",
                    self.header_len
                ));
            }
        }
        Ok(raw_batch(
            &self.schema,
            columns,
            &self.path,
            lines,
            Arc::new(row_error.finish()),
        )?)
    }
}

impl Iterator for CsvBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

// ---------------------------------------------------------------- Excel --

/// A cell as the text a person sees: whole numbers without `.0`.
fn cell_text(d: &Data) -> Option<String> {
    match d {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|t| t.format("%Y-%m-%d").to_string())
            .or_else(|| Some(dt.as_f64().to_string())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}

/// A sheet, read: where each row came from and its cells as text.
pub struct Sheet {
    pub name: String,
    /// (1-based row number, cells)
    pub rows: Vec<(i64, Vec<Option<String>>)>,
}

/// Limits on a workbook: a damaged or hostile file must not exhaust memory.
const MAX_SHEET_COLUMNS: u32 = 1000;
const MAX_SHEET_CELLS: usize = 50_000_000;

fn data_ref_text(d: &calamine::DataRef<'_>) -> Option<String> {
    use calamine::DataRef as D;
    match d {
        D::SharedString(s) => Some(s.to_string()),
        D::String(s) => Some(s.clone()),
        D::Int(i) => cell_text(&Data::Int(*i)),
        D::Float(f) => cell_text(&Data::Float(*f)),
        D::Bool(b) => cell_text(&Data::Bool(*b)),
        D::DateTime(dt) => cell_text(&Data::DateTime(*dt)),
        D::DateTimeIso(s) | D::DurationIso(s) => Some(s.clone()),
        D::Error(e) => cell_text(&Data::Error(e.clone())),
        D::Empty => None,
    }
}

fn choose_sheet(
    names: &[String],
    wanted: &Option<SheetRef>,
) -> std::result::Result<String, String> {
    match wanted {
        None => names
            .first()
            .cloned()
            .ok_or_else(|| "the workbook has no sheet".to_string()),
        Some(SheetRef::Name(n)) if names.contains(n) => Ok(n.clone()),
        Some(SheetRef::Name(n)) => Err(format!(
            "no sheet '{n}'; the workbook has: {}",
            names.join(", ")
        )),
        Some(SheetRef::Index(i)) => names.get(*i).cloned().ok_or_else(|| {
            format!(
                "no sheet number {i} (0-based); the workbook has {}: {}",
                names.len(),
                names.join(", ")
            )
        }),
    }
}

/// .xlsx: cells are streamed, so memory follows the cells that exist, not the
/// sheet's declared (or damaged) dimensions.
fn read_xlsx(file: &InputFile) -> std::result::Result<Sheet, String> {
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&file.local)
        .map_err(|e| format!("not a readable Excel workbook: {e}"))?;
    let name = choose_sheet(&wb.sheet_names(), &file.options.sheet)?;
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| format!("sheet '{name}': {e}"))?;
    let mut rows: BTreeMap<u32, Vec<Option<String>>> = BTreeMap::new();
    let mut cells = 0usize;
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| format!("sheet '{name}': {e}"))?
    {
        let (r, c) = cell.get_position();
        let Some(text) = data_ref_text(cell.get_value()) else {
            continue;
        };
        if c >= MAX_SHEET_COLUMNS {
            return Err(format!(
                "sheet '{name}' has a value in column {} (row {}); carbonstat reads the first {MAX_SHEET_COLUMNS} columns: move the table left or delete the stray cell",
                c + 1,
                r + 1
            ));
        }
        cells += 1;
        if cells > MAX_SHEET_CELLS {
            return Err(format!(
                "sheet '{name}' has more than {MAX_SHEET_CELLS} cells; split the workbook or export it as CSV"
            ));
        }
        let row = rows.entry(r).or_default();
        if row.len() <= c as usize {
            row.resize(c as usize + 1, None);
        }
        row[c as usize] = Some(text);
    }
    Ok(Sheet {
        name,
        rows: rows.into_iter().map(|(r, v)| (r as i64 + 1, v)).collect(),
    })
}

/// Check the compound-file container of an .xls before the Excel reader sees
/// it: every sector chain it will follow (DIFAT, FAT, directory, mini FAT,
/// each stream) must stay inside the file and end without looping. A damaged
/// chain would otherwise make the reader allocate without bound.
pub fn cfb_precheck(bytes: &[u8]) -> std::result::Result<(), String> {
    const MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    const MAXREG: u32 = 0xFFFF_FFFA;
    const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
    const FREESECT: u32 = 0xFFFF_FFFF;
    let damaged = |what: &str| Err(format!("the .xls container is damaged ({what})"));
    if bytes.len() < 512 || bytes[..8] != MAGIC {
        return damaged("no compound-file header");
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    };
    let shift = u16_at(0x1E);
    if shift != 9 && shift != 12 {
        return damaged("sector size");
    }
    let size = 1usize << shift;
    let n_sectors = (bytes.len().saturating_sub(size)).div_ceil(size) as u32;
    let sector = |id: u32| -> Option<&[u8]> {
        let start = size.checked_mul(id as usize + 1)?;
        bytes.get(start..(start + size).min(bytes.len()))
    };
    // FAT sector ids: 109 in the header, the rest in the DIFAT chain
    let mut fat_ids: Vec<u32> = (0..109)
        .filter_map(|i| u32_at(bytes, 0x4C + 4 * i))
        .filter(|id| *id < MAXREG)
        .collect();
    let (mut difat, mut steps) = (u32_at(bytes, 0x44).unwrap_or(ENDOFCHAIN), 0u32);
    while difat < MAXREG {
        steps += 1;
        if steps > n_sectors || difat >= n_sectors {
            return damaged("DIFAT chain");
        }
        let sec = sector(difat).ok_or("DIFAT sector beyond the end")?;
        let per = size / 4 - 1;
        fat_ids.extend(
            (0..per)
                .filter_map(|i| u32_at(sec, 4 * i))
                .filter(|id| *id < MAXREG),
        );
        difat = u32_at(sec, 4 * per).unwrap_or(ENDOFCHAIN);
    }
    let mut fat: Vec<u32> = Vec::new();
    for id in &fat_ids {
        if *id >= n_sectors {
            return damaged("FAT sector beyond the end");
        }
        let sec = sector(*id).ok_or("FAT sector beyond the end")?;
        fat.extend((0..size / 4).filter_map(|i| u32_at(sec, 4 * i)));
    }
    let walk = |start: u32, table: &[u32], limit: u32| -> std::result::Result<u32, String> {
        let (mut id, mut n) = (start, 0u32);
        while id != ENDOFCHAIN && id != FREESECT {
            n += 1;
            if n > limit || id as usize >= table.len() || id >= limit {
                return Err(
                    "the .xls container is damaged (a sector chain loops or leaves the file)"
                        .into(),
                );
            }
            id = table[id as usize];
        }
        Ok(n)
    };
    let dir_start = u32_at(bytes, 0x30).unwrap_or(ENDOFCHAIN);
    walk(dir_start, &fat, n_sectors)?;
    walk(u32_at(bytes, 0x3C).unwrap_or(ENDOFCHAIN), &fat, n_sectors)?;
    // every stream of the directory: its chain, and a size its chain can hold
    let cutoff = u32_at(bytes, 0x38).unwrap_or(4096) as u64;
    let (mut id, mut n) = (dir_start, 0u32);
    while id < MAXREG && (id as usize) < fat.len() && n < n_sectors {
        let sec = sector(id).ok_or("directory sector beyond the end")?;
        for e in sec.chunks_exact(128) {
            let kind = e[0x42];
            if kind != 2 && kind != 5 {
                continue; // not a stream, not the root
            }
            let start = u32_at(e, 0x74).unwrap_or(ENDOFCHAIN);
            let len = u32_at(e, 0x78).unwrap_or(0) as u64;
            if kind == 5 || len >= cutoff {
                let sectors = walk(start, &fat, n_sectors)?;
                if len > sectors as u64 * size as u64 {
                    return damaged("a stream is longer than its sectors");
                }
            }
        }
        id = fat[id as usize];
        n += 1;
    }
    Ok(())
}

/// .xls (BIFF, at most 65 536 × 256 cells by format).
fn read_xls(file: &InputFile) -> std::result::Result<Sheet, String> {
    if file.format == Format::Xls {
        let bytes = std::fs::read(&file.local).map_err(|e| format!("cannot read: {e}"))?;
        cfb_precheck(&bytes)?;
    }
    let mut wb = calamine::open_workbook_auto(&file.local)
        .map_err(|e| format!("not a readable Excel workbook: {e}"))?;
    let name = choose_sheet(&wb.sheet_names(), &file.options.sheet)?;
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| format!("sheet '{name}': {e}"))?;
    let first_row = range.start().map_or(0, |(r, _)| r as i64);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut v: Vec<Option<String>> = vec![None; first_col];
            v.extend(cells.iter().map(cell_text));
            (first_row + i as i64 + 1, v)
        })
        .collect();
    Ok(Sheet { name, rows })
}

fn read_sheet(spec: InputSpec, file: &InputFile) -> Result<Sheet> {
    // calamine parses untrusted bytes: a panic in it is reported as a file error
    let read = std::panic::catch_unwind(|| match file.format {
        Format::Xlsx => read_xlsx(file),
        _ => read_xls(file),
    });
    match read {
        Ok(Ok(sheet)) => Ok(sheet),
        Ok(Err(m)) => Err(file_error(spec, &file.path, m)),
        Err(_) => Err(file_error(
            spec,
            &file.path,
            "the workbook is damaged (the Excel reader gave up on it); open and save it again in Excel, or export the sheet as CSV".into(),
        )),
    }
}

/// The header row of a sheet: the configured one, or the first of the top 30
/// rows that names the most contract columns (a title block above it is skipped).
fn find_header(spec: InputSpec, file: &InputFile, sheet: &Sheet) -> Result<usize> {
    let shown = format!("{} [{}]", file.path, sheet.name);
    if let Some(r) = file.options.header_row {
        return sheet
            .rows
            .iter()
            .position(|(n, _)| *n == r as i64)
            .ok_or_else(|| {
                file_error(spec, &shown, format!("header_row {r} is outside the sheet"))
            });
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, (_, cells)) in sheet.rows.iter().take(30).enumerate() {
        let header: Vec<String> = cells
            .iter()
            .map(|c| c.clone().unwrap_or_default())
            .collect();
        let probe = map_header_count(spec, &header, &file.options);
        if probe >= 2 && best.is_none_or(|(_, n)| probe > n) {
            best = Some((i, probe));
        }
    }
    best.map(|(i, _)| i).ok_or_else(|| {
        file_error(
            spec,
            &shown,
            format!(
                "no header row found in the first 30 rows (a row naming at least two of: {}); set header_row or map the columns in the config",
                spec.required.join(", ")
            ),
        )
    })
}

/// How many contract columns a candidate header row names.
fn map_header_count(spec: InputSpec, header: &[String], options: &InputOptions) -> usize {
    let contract: Vec<&str> = spec.columns().chain([PERIOD]).collect();
    let configured: Vec<String> = options
        .columns
        .keys()
        .map(|k| normalize_header(k))
        .collect();
    header
        .iter()
        .map(|h| normalize_header(h))
        .filter(|h| {
            !h.is_empty()
                && (contract.contains(&h.as_str())
                    || configured.contains(h)
                    || contract.iter().any(|c| {
                        builtin_aliases(spec, c)
                            .iter()
                            .any(|a| normalize_header(a) == *h)
                    }))
        })
        .count()
}

pub struct ExcelBatches {
    spec: InputSpec,
    shown: String,
    mapping: Mapping,
    rows: std::vec::IntoIter<(i64, Vec<Option<String>>)>,
    schema: SchemaRef,
}

/// The header of a workbook's sheet (checked when the inputs are fetched).
pub fn excel_header(spec: InputSpec, file: &InputFile) -> Result<(String, usize, Vec<String>)> {
    let sheet = read_sheet(spec, file)?;
    let h = find_header(spec, file, &sheet)?;
    let header = sheet.rows[h]
        .1
        .iter()
        .map(|c| c.clone().unwrap_or_default())
        .collect();
    Ok((sheet.name.clone(), sheet.rows[h].0 as usize, header))
}

impl ExcelBatches {
    pub fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        let sheet = read_sheet(spec, f)?;
        let h = find_header(spec, f, &sheet)?;
        let shown = format!("{} [{}]", f.path, sheet.name);
        let header: Vec<String> = sheet.rows[h]
            .1
            .iter()
            .map(|c| c.clone().unwrap_or_default())
            .collect();
        let mapping = map_header(spec, &header, &f.options, &shown)?;
        let rows: Vec<_> = sheet.rows.into_iter().skip(h + 1).collect();
        Ok(ExcelBatches {
            spec,
            shown,
            mapping,
            rows: rows.into_iter(),
            schema,
        })
    }
}

impl Iterator for ExcelBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut b = BatchBuilder::new(self.spec, &self.shown);
        for (line, cells) in self.rows.by_ref() {
            // empty rows (trailing ones, spacer rows) are not records
            if cells
                .iter()
                .all(|c| c.as_deref().is_none_or(|s| s.trim().is_empty()))
            {
                continue;
            }
            b.push(
                &self.mapping,
                |i| cells.get(i).and_then(|c| c.as_deref()),
                line,
                None,
            );
            if b.rows >= BATCH_ROWS {
                break;
            }
        }
        (b.rows > 0).then(|| b.finish(&self.schema).map_err(Error::from))
    }
}

// -------------------------------------------------------------- Parquet --

/// A Parquet file's batches: only the mapped columns are read, and each is
/// cast to text as a whole column (string columns become views of the
/// decoded pages, no copy of a cell).
pub struct ParquetBatches {
    spec: InputSpec,
    path: String,
    reader: datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    /// per contract column: its column in the projected batches
    columns: Vec<Option<usize>>,
    /// the period column in the projected batches
    period: Option<usize>,
    schema: SchemaRef,
    /// rows read so far (a row's number is its source_line)
    row: i64,
}

pub fn parquet_header(spec: InputSpec, f: &InputFile) -> Result<Vec<String>> {
    let file =
        File::open(&f.local).map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| file_error(spec, &f.path, format!("not a readable Parquet file: {e}")))?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|fl| fl.name().clone())
        .collect())
}

impl ParquetBatches {
    pub fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::parquet::arrow::ProjectionMask;
        use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
        let file = File::open(&f.local)
            .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
        let unreadable = |e| file_error(spec, &f.path, format!("not a readable Parquet file: {e}"));
        // text columns are decoded straight into string views
        let meta =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(unreadable)?;
        let views: Vec<Field> = meta
            .schema()
            .fields()
            .iter()
            .map(|fl| match fl.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => {
                    fl.as_ref().clone().with_data_type(DataType::Utf8View)
                }
                _ => fl.as_ref().clone(),
            })
            .collect();
        let meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(views))),
        )
        .map_err(unreadable)?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
        let names: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|fl| fl.name().clone())
            .collect();
        let mapping = map_header(spec, &names, &f.options, &f.path)?;
        // the file's columns that are read, in file order
        let mut read: Vec<usize> = mapping
            .columns
            .iter()
            .flatten()
            .chain(&mapping.period)
            .copied()
            .collect();
        read.sort_unstable();
        read.dedup();
        let at = |i: usize| read.binary_search(&i).ok();
        let columns = mapping.columns.iter().map(|c| c.and_then(at)).collect();
        let period = mapping.period.and_then(at);
        let mask = ProjectionMask::roots(builder.parquet_schema(), read.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| file_error(spec, &f.path, format!("cannot read: {e}")))?;
        Ok(ParquetBatches {
            spec,
            path: f.path.clone(),
            reader,
            columns,
            period,
            schema,
            row: 0,
        })
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let text = |c: usize| -> Result<ArrayRef> {
            let column = batch.column(c);
            if column.data_type() == &DataType::Utf8View {
                return Ok(column.clone());
            }
            // through Utf8: numbers and dates read as they always have been
            let utf8 = cast(column, &DataType::Utf8)
                .and_then(|a| cast(&a, &DataType::Utf8View))
                .map_err(|e| {
                    file_error(
                        self.spec,
                        &self.path,
                        format!(
                            "column '{}' cannot be read as text: {e}",
                            batch.schema().field(c).name()
                        ),
                    )
                })?;
            Ok(utf8)
        };
        // the period as text, then split into year and month
        let period = self.period.map(text).transpose()?;
        let period = period.as_ref().map(|p| p.as_string_view());
        // each period split once, for the year and the month
        let splits: Vec<_> = match period {
            Some(p) => (0..n)
                .map(|r| (!p.is_null(r)).then(|| split_period(p.value(r))))
                .collect(),
            None => Vec::new(),
        };
        let split = |r: usize| splits[r];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len() + 3);
        for (name, idx) in self.spec.columns().zip(&self.columns) {
            let column: ArrayRef = match idx {
                Some(c) => text(*c)?,
                None if name == "year" && period.is_some() => {
                    Arc::new(StringViewArray::from_iter((0..n).map(|r| {
                        split(r).map(|(year, _)| match year {
                            Ok(y) => y.to_string(),
                            Err(raw) => raw.to_string(),
                        })
                    })))
                }
                None if name == "month" && period.is_some() => Arc::new(
                    StringViewArray::from_iter((0..n).map(|r| Some(split(r)?.1?.to_string()))),
                ),
                None => datafusion::arrow::array::new_null_array(&DataType::Utf8View, n),
            };
            columns.push(column);
        }
        let lines = Int64Array::from_iter_values((self.row + 1)..=(self.row + n as i64));
        self.row += n as i64;
        raw_batch(
            &self.schema,
            columns,
            &self.path,
            lines,
            datafusion::arrow::array::new_null_array(&DataType::Utf8View, n),
        )
        .map_err(|e| file_error(self.spec, &self.path, format!("cannot read: {e}")))
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?;
        Some(
            batch
                .map_err(|e| file_error(self.spec, &self.path, format!("cannot read: {e}")))
                .and_then(|b| self.convert(b)),
        )
    }
}

/// The batches of any input file.
pub fn open_batches(
    spec: InputSpec,
    f: &InputFile,
    schema: SchemaRef,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    Ok(match f.format {
        Format::Csv => Box::new(CsvBatches::open(spec, f, schema)?),
        Format::Parquet => Box::new(ParquetBatches::open(spec, f, schema)?),
        Format::Xlsx | Format::Xls => Box::new(ExcelBatches::open(spec, f, schema)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("2025年3月"), Some((2025, Some(3))));
        assert_eq!(parse_period("2025年03月份"), Some((2025, Some(3))));
        assert_eq!(parse_period("2025-03"), Some((2025, Some(3))));
        assert_eq!(parse_period("2025/12"), Some((2025, Some(12))));
        assert_eq!(parse_period("202503"), Some((2025, Some(3))));
        assert_eq!(parse_period("2025年"), Some((2025, None)));
        assert_eq!(parse_period("2025"), Some((2025, None)));
        assert_eq!(parse_period("2025年13月"), None);
        assert_eq!(parse_period("25年3月"), None);
        assert_eq!(parse_period("三月"), None);
    }

    #[test]
    fn headers_normalize() {
        assert_eq!(normalize_header(" 消费量（吨） "), "消费量");
        assert_eq!(normalize_header("\u{feff}Enterprise_ID"), "enterprise_id");
        assert_eq!(normalize_header("计量 单位"), "计量单位");
    }

    #[test]
    fn chinese_headers_map_and_missing_ones_get_a_suggestion() {
        let h: Vec<String> = [
            "统一社会信用代码",
            "单位名称",
            "行政区划代码",
            "行业代码",
            "报告期",
            "能源名称",
            "用途",
            "计量单位",
            "消费量（万吨）",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = map_header(crate::ingest::ENERGY, &h, &InputOptions::default(), "f.csv").unwrap();
        assert_eq!(m.period, Some(4));
        let cols: Vec<&str> = crate::ingest::ENERGY.columns().collect();
        assert_eq!(
            m.columns[cols.iter().position(|c| *c == "quantity").unwrap()],
            Some(8)
        );
        assert_eq!(
            m.columns[cols.iter().position(|c| *c == "year").unwrap()],
            None
        );

        let mut h2 = h.clone();
        h2[8] = "本月实耗".into();
        let e = map_header(
            crate::ingest::ENERGY,
            &h2,
            &InputOptions::default(),
            "f.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("required column(s) quantity missing"), "{e}");
        assert!(
            e.contains("inputs.energy.columns: {本月实耗: quantity}"),
            "{e}"
        );

        let mut o = InputOptions::default();
        o.columns.insert("本月实耗".into(), "quantity".into());
        assert!(map_header(crate::ingest::ENERGY, &h2, &o, "f.csv").is_ok());
        o.columns.insert("单位名称".into(), "weight".into());
        let e = map_header(crate::ingest::ENERGY, &h2, &o, "f.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'weight', which is not a column"), "{e}");
    }

    #[test]
    fn utf8_validation_across_chunks() {
        let text = "能源,消费量\n原煤,1\n".as_bytes();
        for split in 0..text.len() {
            let mut v = Utf8Validator::default();
            v.update(&text[..split]);
            v.update(&text[split..]);
            assert_eq!(v.finish().first_invalid, None, "split at {split}");
        }
        let mut v = Utf8Validator::default();
        v.update(b"ab\xcc\xec");
        assert_eq!(v.finish().first_invalid, Some(2));
        let mut v = Utf8Validator::default();
        v.update("ab能".as_bytes().split_at(3).0);
        assert_eq!(
            v.finish().first_invalid,
            Some(2),
            "a truncated last character"
        );
    }

    /// What the CSV reader makes of a file: (line, every contract column,
    /// row_error) per row.
    fn read_csv(text: &[u8]) -> Vec<(i64, Vec<Option<String>>, Option<String>)> {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::Int64Type;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("energy.csv");
        std::fs::write(&path, text).unwrap();
        let spec = crate::ingest::ENERGY;
        let (_, batches) =
            crate::ingest::read_local_file(spec, &path, InputOptions::default()).unwrap();
        let ncols = spec.columns().count();
        let mut rows = Vec::new();
        for b in batches {
            let text = |c: usize, r: usize| {
                let a = b.column(c).as_string_view();
                (!a.is_null(r)).then(|| a.value(r).to_string())
            };
            for r in 0..b.num_rows() {
                let line = b.column(ncols + 1).as_primitive::<Int64Type>().value(r);
                rows.push((
                    line,
                    (0..ncols).map(|c| text(c, r)).collect(),
                    text(ncols + 2, r),
                ));
            }
        }
        rows
    }

    #[test]
    fn csv_rows_lines_periods_and_ragged_rows() {
        // CRLF line ends, a quoted name over two lines, a blank line, a line
        // of separators, a period column instead of year and month, a short
        // row and an unreadable period
        let text = "统一社会信用代码,企业名称,行政区划代码,行业代码,报告期,能源名称,消费量,计量单位\r\n\
            91110000100000000A,\"甲, 有限\r\n公司\",110101,C2511,2025年3月,原煤,1\"2\"3,吨\r\n\
            \r\n\
            ,,,,,,,\r\n\
            91110000100000000B,乙,110101,C2511,2025年\r\n\
            91110000100000000C,丙,110101,C2511,2025年13月,原煤,5,吨\r\n";
        let rows = read_csv(text.as_bytes());
        let cols: Vec<&str> = crate::ingest::ENERGY.columns().collect();
        let get = |row: &Vec<Option<String>>, c: &str| {
            row[cols.iter().position(|x| *x == c).unwrap()].clone()
        };
        assert_eq!(rows.len(), 3, "{rows:?}");
        let (line, row, err) = &rows[0];
        assert_eq!(*line, 2);
        assert_eq!(
            get(row, "enterprise_name").as_deref(),
            Some("甲, 有限\r\n公司")
        );
        assert_eq!(get(row, "year").as_deref(), Some("2025"));
        assert_eq!(get(row, "month").as_deref(), Some("3"));
        // a quote inside an unquoted field is kept, as the csv crate reads it
        assert_eq!(get(row, "quantity").as_deref(), Some("1\"2\"3"));
        assert_eq!(*err, None);
        let (line, row, err) = &rows[1];
        assert_eq!(
            *line, 6,
            "the line the record starts on, after a CRLF file's blank lines"
        );
        assert_eq!(get(row, "year").as_deref(), Some("2025"));
        assert_eq!(get(row, "month"), None);
        assert_eq!(get(row, "energy_code"), None);
        assert_eq!(
            err.as_deref(),
            Some("the row has 5 fields but the header has 8")
        );
        let (line, row, _) = &rows[2];
        assert_eq!(*line, 7);
        assert_eq!(
            get(row, "year").as_deref(),
            Some("2025年13月"),
            "kept for the year rule"
        );
        assert_eq!(get(row, "month"), None);
    }

    #[test]
    fn csv_bytes_that_are_not_utf8_name_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("energy.csv");
        let mut text =
            b"enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n".to_vec();
        text.extend_from_slice(b"91110000100000000A,110101,C2511,2025,raw_coal,1,t\n");
        text.extend_from_slice(b"91110000100000000A,110101,C2511,2025,raw_coal,1,\xe5\x90\n");
        std::fs::write(&path, &text).unwrap();
        // the file's encoding as decided before reading (the bytes changed
        // since, or the check was wrong): the reader still stops at them
        let file = InputFile {
            path: "energy.csv".into(),
            local: path.clone(),
            format: Format::Csv,
            size: text.len() as u64,
            sha256: String::new(),
            last_modified: String::new(),
            e_tag: None,
            options: InputOptions::default(),
            encoding: Some("utf-8".into()),
            sheet: None,
            header_row: None,
        };
        let spec = crate::ingest::ENERGY;
        let err = open_batches(spec, &file, spec.raw_schema())
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .expect_err("bytes that are not UTF-8 are a file error")
            .to_string();
        assert!(err.contains("line 3: field 7 is not valid UTF-8"), "{err}");
    }

    #[test]
    fn parquet_reads_mapped_columns_as_text_and_splits_periods() {
        use datafusion::arrow::array::{Float64Array, Int64Array as I64, StringArray};
        use datafusion::parquet::arrow::ArrowWriter;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("energy.parquet");
        let text = |v: &[Option<&str>]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
        let batch = RecordBatch::try_from_iter(vec![
            ("备注", Arc::new(I64::from(vec![7, 8, 9])) as ArrayRef),
            ("统一社会信用代码", text(&[Some("91A"), Some("91B"), None])),
            ("行政区划代码", text(&[Some("110101"); 3])),
            ("行业代码", text(&[Some("C2511"); 3])),
            (
                "报告期",
                text(&[Some("2025年3月"), Some("2025年13月"), Some("2024")]),
            ),
            ("能源名称", text(&[Some("原煤"); 3])),
            (
                "消费量",
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(2.0)])) as ArrayRef,
            ),
            ("计量单位", text(&[Some("吨"); 3])),
        ])
        .unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let spec = crate::ingest::ENERGY;
        let (_, batches) =
            crate::ingest::read_local_file(spec, &path, InputOptions::default()).unwrap();
        let b = &batches[0];
        let col = |name: &str| {
            let i = spec.columns().position(|c| c == name).unwrap();
            let a = b.column(i).as_string_view();
            (0..a.len())
                .map(|r| (!a.is_null(r)).then(|| a.value(r).to_string()))
                .collect::<Vec<_>>()
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(col("enterprise_id"), vec![s("91A"), s("91B"), None]);
        assert_eq!(col("year"), vec![s("2025"), s("2025年13月"), s("2024")]);
        assert_eq!(col("month"), vec![s("3"), None, None]);
        assert_eq!(col("quantity"), vec![s("1.5"), None, s("2.0")]);
        assert_eq!(col("use"), vec![None, None, None]);
        let lines = b
            .column(spec.columns().count() + 1)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(lines.values().to_vec(), vec![1, 2, 3]);
    }
}
