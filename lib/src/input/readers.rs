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

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;
use crate::input::csv::CsvBatches;
use crate::input::excel::ExcelBatches;
use crate::input::headers::file_error;
use crate::input::parquet::ParquetBatches;
use crate::input::{Format, InputFile, InputSpec};

/// The batches of any input file with only the raw columns a query reads
/// (`projection`: their indices in [`InputSpec::raw_schema`]; `None` is
/// every column). A CSV file is still split into all its fields (a quoted
/// field can hold the delimiter and line breaks), but only the projected
/// columns are built; a Parquet file decodes only the projected columns'
/// pages, and none at all when a query only counts rows (the row counts come
/// from the row groups).
pub(crate) fn open_projected(
    spec: InputSpec,
    f: &InputFile,
    projection: Option<&[usize]>,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    let schema = spec.raw_schema();
    let Some(projection) = projection else {
        return open_batches(spec, f, schema);
    };
    Ok(match f.format {
        Format::Csv => Box::new(CsvBatches::open(spec, f, schema)?.projected(projection)?),
        Format::Parquet => Box::new(ParquetBatches::open_projected(
            spec,
            f,
            schema,
            Some(projection),
        )?),
        // a workbook is read whole (its rows are few), then projected
        Format::Xlsx | Format::Xls => {
            let projection = projection.to_vec();
            let path = f.path.clone();
            Box::new(ExcelBatches::open(spec, f, schema)?.map(move |b| {
                b.and_then(|b| {
                    b.project(&projection)
                        .map_err(|e| file_error(spec, &path, format!("cannot read: {e}")))
                })
            }))
        }
    })
}

/// The batches of any input file.
pub(crate) fn open_batches(
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
