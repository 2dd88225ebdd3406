//! CSV files (UTF-8 or GB18030) read in batches of string views.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringViewBuilder};
use datafusion::arrow::datatypes::SchemaRef;

use crate::config::Delimiter;
use crate::error::Result;
use crate::input::batch::BATCH_ROWS;
use crate::input::batch::{batch_of, projected_columns, repeated_text};
use crate::input::csv_records::{
    Batch, Cell, Layout, RecordReader, Records, field_column, views_column,
};
use crate::input::headers::Mapping;
use crate::input::headers::file_error;
use crate::input::headers::map_header;
use crate::input::headers::split_period;
use crate::input::{InputFile, InputSpec, TextEncoding};

pub(crate) fn open_text(file: &InputFile) -> std::io::Result<Box<dyn Read + Send>> {
    let f = File::open(&file.local)?;
    Ok(match file.encoding {
        Some(TextEncoding::Gb18030) => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::GB18030))
                .build(f),
        ),
        // UTF-8: the bytes as they are (a BOM is stripped from the header)
        _ => Box::new(f),
    })
}

/// A CSV file's batches: [`crate::input::csv_records`] reads the fields of a batch
/// into one buffer, and every contract column is a string view into it.
pub(crate) struct CsvBatches {
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
    /// the raw columns read (indices of the raw schema; `None`: all);
    /// `schema` is the raw schema projected
    projection: Option<Vec<usize>>,
}

/// A CSV reader positioned after the header, and the header, read with the
/// file's separator ([`csv_header`] decided it when the run resolved its
/// inputs).
pub(crate) fn open_csv(spec: InputSpec, f: &InputFile) -> Result<(RecordReader, Vec<String>)> {
    read_header(spec, f, f.options.delimiter.byte().unwrap_or(b','))
}

/// The separator other than `used` that occurs most often in `line` (a
/// header read as one field), if any does.
fn sniff(line: &str, used: u8) -> Option<u8> {
    [b',', b'\t', b';', b'|']
        .into_iter()
        .filter(|&d| d != used)
        .map(|d| (line.bytes().filter(|&b| b == d).count(), d))
        .filter(|&(n, _)| n > 0)
        .max_by_key(|&(n, _)| n)
        .map(|(_, d)| d)
}

/// A separator in words, and as the config writes it.
fn separator(d: u8) -> (&'static str, &'static str) {
    match d {
        b'\t' => ("tabs", "tab"),
        b',' => ("commas", "','"),
        b';' => ("semicolons", "';'"),
        _ => ("bars (|)", "'|'"),
    }
}

/// The file opened and its first record read with `delimiter`.
fn read_header(
    spec: InputSpec,
    f: &InputFile,
    delimiter: u8,
) -> Result<(RecordReader, Vec<String>)> {
    let src = open_text(f).map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
    let mut reader = RecordReader::with_delimiter(src, delimiter);
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
    let header: Vec<String> = (0..batch.at.fields(0))
        .map(|j| batch.field_text(0, j).unwrap_or_default().to_string())
        .collect();
    reader.expect_fields(header.len());
    Ok((reader, header))
}

/// The row error of a line whose quote is not closed on it (read alone;
/// the lines after it are rows of their own).
pub(crate) const UNCLOSED_QUOTE: &str = "a quote opened on this line is not closed on it \
     (the lines after it are read as rows of their own; a \" inside a quoted field is written \"\")";

pub(crate) const ENCODING_HINT: &str =
    "set the input's encoding (gb18030 for files from Excel or Chinese systems)";

/// The header line of a CSV file, transcoded, and the separator the file is
/// read with: the configured one, or (`delimiter: auto`) a comma, unless the
/// header line has no comma and a tab, semicolon or bar splits it (exports of
/// Excel's "Text (Tab delimited)", of European locales, of some reporting
/// systems). A header of one field that another separator would split is an
/// error that names the separator to set. Called once per file, when the run
/// resolves its inputs: the file's options keep the separator, as the file
/// keeps its encoding.
pub(crate) fn csv_header(spec: InputSpec, file: &InputFile) -> Result<(Vec<String>, Delimiter)> {
    let configured = file.options.delimiter.byte();
    let used = configured.unwrap_or(b',');
    let (_, header) = read_header(spec, file, used)?;
    let found = match header.as_slice() {
        [one] => sniff(one, used),
        _ => None,
    };
    let Some(found) = found else {
        return Ok((header, Delimiter::of(used)));
    };
    if configured.is_none() {
        tracing::info!(input = spec.name, file = %file.path, "fields separated by {}", separator(found).0);
        // the header again, from the start of the file
        let (_, header) = read_header(spec, file, found)?;
        return Ok((header, Delimiter::of(found)));
    }
    Err(file_error(
        spec,
        &file.path,
        format!(
            "the header line is one field, '{}': the file is separated by {}, not {}; set inputs.{}.delimiter: {} (or leave it out: auto finds it)",
            header[0],
            separator(found).0,
            separator(used).0,
            spec.name,
            separator(found).1,
        ),
    ))
}

impl CsvBatches {
    pub(crate) fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
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
            projection: None,
        })
    }

    /// Only the raw columns `projection` names (indices of the raw schema):
    /// every record is still split into its fields (a quoted field can hold
    /// the delimiter and line breaks), but only those columns are built.
    pub(crate) fn projected(mut self, projection: &[usize]) -> Result<Self> {
        self.schema = Arc::new(
            self.schema
                .project(projection)
                .map_err(|e| file_error(self.spec, &self.path, format!("cannot read: {e}")))?,
        );
        self.mapping.narrow_to(self.spec, projection);
        self.projection = Some(projection.to_vec());
        Ok(self)
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

    /// The raw batch (every contract column, then source_file, source_line
    /// and row_error), only the projected columns of it.
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
        let contract: Vec<&str> = self.spec.columns().collect();
        let column = |i: usize| -> datafusion::error::Result<ArrayRef> {
            let Some(name) = contract.get(i) else {
                return Ok(match i - contract.len() {
                    0 => Arc::new(repeated_text(&self.path, n)?),
                    1 => Arc::new(Int64Array::from_iter_values(
                        (0..n).map(|r| batch.at.line(r) as i64),
                    )),
                    _ => {
                        let mut row_error = StringViewBuilder::with_capacity(n);
                        for r in 0..n {
                            let fields = batch.at.fields(r);
                            if batch.at.unclosed(r) {
                                row_error.append_value(UNCLOSED_QUOTE);
                            } else if fields == self.header_len {
                                row_error.append_null();
                            } else {
                                row_error.append_value(format!(
                                    "the row has {fields} fields but the header has {}",
                                    self.header_len
                                ));
                            }
                        }
                        Arc::new(row_error.finish())
                    }
                });
            };
            Ok(Arc::new(match self.mapping.columns[i] {
                Some(c) => field_column(batch, c)?,
                None if *name == "year" => views_column(batch, |r| match periods[r]? {
                    (_, (Ok(y), _)) => Some(Cell::Own(y.to_string())),
                    (at, (Err(_), _)) => Some(Cell::At(at)),
                })?,
                None if *name == "month" => {
                    views_column(batch, |r| Some(Cell::Own(periods[r]?.1.1?.to_string())))?
                }
                None => views_column(batch, |_| None)?,
            }))
        };
        let columns = projected_columns(self.projection.as_deref(), contract.len() + 3, column)?;
        Ok(batch_of(&self.schema, columns, n)?)
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
