//! Parquet inputs: only the mapped columns are read, text straight into
//! string views, other types cast to text column by column.

use std::fs::File;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::Result;
use crate::input::batch::BATCH_ROWS;
use crate::input::batch::{batch_of, projected_columns, repeated_text};
use crate::input::headers::file_error;
use crate::input::headers::map_header;
use crate::input::headers::split_period;
use crate::input::{InputFile, InputSpec};

/// A Parquet file's batches: only the mapped columns are read, and each is
/// cast to text as a whole column (string columns become views of the
/// decoded pages, no copy of a cell).
pub(crate) struct ParquetBatches {
    spec: InputSpec,
    path: String,
    reader: datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    /// per contract column: its column in the projected batches
    columns: Vec<Option<usize>>,
    /// the period column in the projected batches
    period: Option<usize>,
    /// the batches' schema: the raw schema, projected
    schema: SchemaRef,
    /// the raw columns read (indices of the raw schema; `None`: all)
    projection: Option<Vec<usize>>,
    /// rows read so far (a row's number is its source_line)
    row: i64,
}

pub(crate) fn parquet_header(spec: InputSpec, f: &InputFile) -> Result<Vec<String>> {
    let file =
        File::open(&f.local).map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| file_error(spec, &f.path, format!("not a readable Parquet file ({e}): a copy cut off, or not Parquet at all; copy or export it again")))?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|fl| fl.name().clone())
        .collect())
}

impl ParquetBatches {
    pub(crate) fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
        Self::open_projected(spec, f, schema, None)
    }

    /// As [`ParquetBatches::open`], with only the raw columns `projection`
    /// names (indices of `schema`, the raw schema; `None`: all): only their
    /// pages are decoded, and none at all for no column (the batches then
    /// only count rows).
    pub(crate) fn open_projected(
        spec: InputSpec,
        f: &InputFile,
        schema: SchemaRef,
        projection: Option<&[usize]>,
    ) -> Result<Self> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::parquet::arrow::ProjectionMask;
        use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
        let file = File::open(&f.local)
            .map_err(|e| file_error(spec, &f.path, format!("cannot open: {e}")))?;
        let unreadable = |e| {
            file_error(
                spec,
                &f.path,
                format!(
                    "not a readable Parquet file ({e}): a copy cut off, or not Parquet at all; copy or export it again"
                ),
            )
        };
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
        let mut mapping = map_header(spec, &names, &f.options, &f.path)?;
        // the header is checked whole; only the projected columns are read
        let schema = match projection {
            Some(p) => {
                mapping.narrow_to(spec, p);
                Arc::new(
                    schema
                        .project(p)
                        .map_err(|e| file_error(spec, &f.path, format!("cannot read: {e}")))?,
                )
            }
            None => schema,
        };
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
            projection: projection.map(<[usize]>::to_vec),
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
        let contract: Vec<&str> = self.spec.columns().collect();
        let first = self.row + 1;
        let column = |i: usize| -> Result<ArrayRef> {
            let Some(name) = contract.get(i) else {
                return Ok(match i - contract.len() {
                    0 => Arc::new(repeated_text(&self.path, n).map_err(|e| {
                        file_error(self.spec, &self.path, format!("cannot read: {e}"))
                    })?),
                    1 => Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
                    // row_error: a Parquet row is always whole
                    _ => datafusion::arrow::array::new_null_array(&DataType::Utf8View, n),
                });
            };
            Ok(match self.columns[i] {
                Some(c) => text(c)?,
                None if *name == "year" && period.is_some() => {
                    Arc::new(StringViewArray::from_iter((0..n).map(|r| {
                        split(r).map(|(year, _)| match year {
                            Ok(y) => y.to_string(),
                            Err(raw) => raw.to_string(),
                        })
                    })))
                }
                None if *name == "month" && period.is_some() => Arc::new(
                    StringViewArray::from_iter((0..n).map(|r| Some(split(r)?.1?.to_string()))),
                ),
                None => datafusion::arrow::array::new_null_array(&DataType::Utf8View, n),
            })
        };
        let columns = projected_columns(self.projection.as_deref(), contract.len() + 3, column)?;
        self.row += n as i64;
        batch_of(&self.schema, columns, n)
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
