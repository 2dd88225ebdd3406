//! The raw batch every reader yields: the contract columns as text, then
//! source_file, source_line and row_error.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, Int64Builder, RecordBatch, RecordBatchOptions, StringViewArray,
    StringViewBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;

use crate::input::InputSpec;
use crate::input::headers::Mapping;
use crate::input::headers::split_period;

pub(crate) const BATCH_ROWS: usize = 8192;

/// A raw batch: the contract columns, then source_file (`path` on every
/// row), source_line and row_error. Every reader ends its batches here.
pub(crate) fn raw_batch(
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

/// The raw columns `projection` names (indices of the raw schema; `None`:
/// all `width` of them), each made by `column(i)` only when it is read.
pub(crate) fn projected_columns<E>(
    projection: Option<&[usize]>,
    width: usize,
    mut column: impl FnMut(usize) -> std::result::Result<ArrayRef, E>,
) -> std::result::Result<Vec<ArrayRef>, E> {
    match projection {
        Some(p) => p.iter().map(|&i| column(i)).collect(),
        None => (0..width).map(column).collect(),
    }
}

/// A batch of `rows` rows of `columns` (which may be none: a query that
/// only counts rows).
pub(crate) fn batch_of(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

/// Columns being filled for one batch. Text is built as Arrow string views:
/// the joins and filters downstream move 16-byte views instead of copying the
/// bytes, and a cell is appended straight from the reader's buffer (no
/// allocation per field).
pub(crate) struct BatchBuilder {
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
    pub(crate) fn new(spec: InputSpec, source_file: &str) -> Self {
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
    pub(crate) fn push<'a>(
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

    pub(crate) fn finish(&mut self, schema: &SchemaRef) -> datafusion::error::Result<RecordBatch> {
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
pub(crate) fn repeated_text(
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
