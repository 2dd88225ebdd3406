//! Tests of the readers: headers, periods, encodings, CSV, Excel, Parquet.

use super::{encoding::*, headers::*, readers::*};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};

use crate::config::InputOptions;
use crate::error::Result;
use crate::input::{Format, InputFile};

#[test]
fn periods() {
    assert_eq!(parse_period("2025年3月"), Some((2025, Some(3))));
    assert_eq!(parse_period("2025年03月份"), Some((2025, Some(3))));
    assert_eq!(parse_period("2025-03"), Some((2025, Some(3))));
    assert_eq!(parse_period("2025/12"), Some((2025, Some(12))));
    assert_eq!(parse_period("202503"), Some((2025, Some(3))));
    assert_eq!(parse_period("2025年"), Some((2025, None)));
    assert_eq!(parse_period("2025"), Some((2025, None)));
    assert_eq!(parse_period("2025年度"), Some((2025, None)));
    // full-width digits, as a Chinese input method types them
    assert_eq!(parse_period("２０２５年３月"), Some((2025, Some(3))));
    assert_eq!(parse_period("２０２５－０３"), None); // a full-width dash is no separator
    assert_eq!(parse_period("２０２５年度"), Some((2025, None)));
    assert_eq!(parse_period("2025年度3月"), None);
    // what is wrong, where the year is readable
    assert_eq!(
        period_month_problem("2023年13月").as_deref(),
        Some(
            "read as a period, its year is 2023 and its month '13' is not 1-12: correct the month"
        )
    );
    assert_eq!(
        period_month_problem("2023-0").as_deref(),
        Some("read as a period, its year is 2023 and its month '0' is not 1-12: correct the month")
    );
    assert_eq!(period_month_problem("2023年3月"), None);
    assert_eq!(period_month_problem("23年3月"), None);
    assert_eq!(period_month_problem("三月"), None);
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
    let m = map_header(crate::input::ENERGY, &h, &InputOptions::default(), "f.csv").unwrap();
    assert_eq!(m.period, Some(4));
    let cols: Vec<&str> = crate::input::ENERGY.columns().collect();
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
    let e = map_header(crate::input::ENERGY, &h2, &InputOptions::default(), "f.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("required column(s) quantity missing"), "{e}");
    assert!(
        e.contains("inputs.energy.columns: {本月实耗: quantity}"),
        "{e}"
    );

    let mut o = InputOptions::default();
    o.columns.insert("本月实耗".into(), "quantity".into());
    assert!(map_header(crate::input::ENERGY, &h2, &o, "f.csv").is_ok());
    o.columns.insert("单位名称".into(), "weight".into());
    let e = map_header(crate::input::ENERGY, &h2, &o, "f.csv")
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
    // a NUL byte in the second chunk: offset 3 + 2 = 5 (NUL is valid UTF-8)
    let mut v = Utf8Validator::default();
    v.update(b"a,b");
    v.update(b"\nc\0\0");
    let scan = v.finish();
    assert_eq!(scan.first_nul, Some(5));
    assert_eq!(scan.first_invalid, None);
}

/// What the CSV reader makes of a file: (line, every contract column,
/// row_error) per row.
fn read_csv(text: &[u8]) -> Vec<(i64, Vec<Option<String>>, Option<String>)> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("energy.csv");
    std::fs::write(&path, text).unwrap();
    let spec = crate::input::ENERGY;
    let (_, batches) = crate::input::read_local_file(spec, &path, InputOptions::default()).unwrap();
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
    let cols: Vec<&str> = crate::input::ENERGY.columns().collect();
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
        encoding: Some(TextEncoding::Utf8),
        sheet: None,
        header_row: None,
    };
    let spec = crate::input::ENERGY;
    let err = open_batches(spec, &file, spec.raw_schema())
        .unwrap()
        .collect::<Result<Vec<_>>>()
        .expect_err("bytes that are not UTF-8 are a file error")
        .to_string();
    assert!(err.contains("line 3: field 7 is not valid UTF-8"), "{err}");
}

#[test]
fn parquet_reads_mapped_columns_as_text_and_splits_periods() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("energy.parquet");
    write_energy_parquet(&path);
    let spec = crate::input::ENERGY;
    let (_, batches) = crate::input::read_local_file(spec, &path, InputOptions::default()).unwrap();
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

/// A query that reads some columns of a raw table gets the same values as
/// a whole read, projected: CSV (period column, quoted line breaks, a short
/// row) and Parquet, for no column at all (a row count), the file name
/// alone, the period's two halves, and columns out of order.
#[test]
fn projected_reads_are_whole_reads_projected() {
    use datafusion::arrow::compute::concat_batches;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("energy.csv");
    write_energy_csv(&csv);
    let parquet = dir.path().join("energy.parquet");
    write_energy_parquet(&parquet);

    let spec = crate::input::ENERGY;
    let schema = spec.raw_schema();
    let at = |name: &str| schema.index_of(name).unwrap();
    let projections = [
        vec![],
        vec![at("source_file")],
        vec![at("month"), at("year")],
        vec![at("row_error"), at("quantity"), at("source_line")],
        (0..schema.fields().len()).collect(),
    ];
    for path in [&csv, &parquet] {
        let (file, whole) =
            crate::input::read_local_file(spec, path, InputOptions::default()).unwrap();
        let whole = concat_batches(&schema, &whole).unwrap();
        // both files hold 3 records (the CSV's first spans two lines, its
        // second is short of fields)
        assert_eq!(whole.num_rows(), 3);
        for p in &projections {
            let got: Vec<RecordBatch> = open_projected(spec, &file, Some(p))
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            let expected = whole.project(p).unwrap();
            let got = concat_batches(&expected.schema(), &got).unwrap();
            assert_eq!(got.num_rows(), 3, "{path:?} {p:?}");
            assert_eq!(got, expected, "{path:?} {p:?}");
        }
    }
}

/// An energy file in CSV of 3 records with Chinese headers and a period
/// column: the first spans two lines (a quoted line break), the second is
/// short of fields, the third has a month 13.
pub(crate) fn write_energy_csv(path: &std::path::Path) {
    std::fs::write(
        path,
        "统一社会信用代码,企业名称,行政区划代码,行业代码,报告期,能源名称,消费量,计量单位\r\n\
         91110000100000000A,\"甲, 有限\r\n公司\",110101,C2511,2025年3月,原煤,1,吨\r\n\
         91110000100000000B,乙,110101,C2511,2025年\r\n\
         91110000100000000C,丙,110101,C2511,2025年13月,原煤,5,吨\r\n",
    )
    .unwrap();
}

/// An energy file in Parquet of 3 rows with Chinese headers, a period
/// column, a numeric quantity and a column the contract does not map.
pub(crate) fn write_energy_parquet(path: &std::path::Path) {
    use datafusion::arrow::array::{Float64Array, Int64Array as I64, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;
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
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Separators other than the comma: found from the header line (a tab file
/// in GB18030 as Excel's "Text (Tab delimited)" writes it on a Chinese
/// system, a semicolon file with a quoted value holding a semicolon and a
/// line break), or configured; a configured one that leaves the header one
/// field names the file's.
#[test]
fn separators_are_found_or_named() {
    use crate::config::Delimiter;
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::input::ENERGY;
    let rows_of = |name: &str, bytes: &[u8], delimiter: Delimiter| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let options = InputOptions {
            delimiter,
            ..InputOptions::default()
        };
        crate::input::read_local_file(spec, &path, options).map(|(_, b)| {
            let b = datafusion::arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
            let name = b.column(spec.columns().position(|c| c == "enterprise_name").unwrap());
            let quantity = b.column(spec.columns().position(|c| c == "quantity").unwrap());
            (0..b.num_rows())
                .map(|r| {
                    (
                        name.as_string_view().value(r).to_string(),
                        quantity.as_string_view().value(r).to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let tab = "统一社会信用代码\t单位名称\t行政区划代码\t行业代码\t报告期\t能源名称\t消费量\t计量单位\r\n\
               91110000100000000A\t甲, 有限公司\t110101\tC2511\t2025年3月\t原煤\t1,234.5\t吨\r\n";
    let (gbk, _, _) = encoding_rs::GB18030.encode(tab);
    let expected = vec![("甲, 有限公司".to_string(), "1,234.5".to_string())];
    assert_eq!(rows_of("tab.csv", &gbk, Delimiter::Auto).unwrap(), expected);
    assert_eq!(rows_of("tab.csv", &gbk, Delimiter::Tab).unwrap(), expected);

    let semi = "enterprise_id;enterprise_name;region_code;sector_code;year;month;energy_code;quantity;unit\n\
                91110000100000000A;\"甲; 有限\n公司\";110101;C2511;2025;3;raw_coal;12,5;t\n\
                91110000100000000B;乙;110101;C2511;2025;3;raw_coal;7;t\n";
    let expected = vec![
        ("甲; 有限\n公司".to_string(), "12,5".to_string()),
        ("乙".to_string(), "7".to_string()),
    ];
    assert_eq!(
        rows_of("semi.csv", semi.as_bytes(), Delimiter::Auto).unwrap(),
        expected
    );
    assert_eq!(
        rows_of("semi.csv", semi.as_bytes(), Delimiter::Semicolon).unwrap(),
        expected
    );

    // configured wrong: the error names the file's separator and the setting
    let e = rows_of("semi.csv", semi.as_bytes(), Delimiter::Comma)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "the file is separated by semicolons, not commas; set inputs.energy.delimiter: ';'"
        ),
        "{e}"
    );
    let comma = "enterprise_id,enterprise_name,region_code,sector_code,year,month,energy_code,quantity,unit\n";
    let e = rows_of("comma.csv", comma.as_bytes(), Delimiter::Tab)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("separated by commas, not tabs; set inputs.energy.delimiter: ','"),
        "{e}"
    );
    // a comma file is read with commas, whatever else its header holds
    let mixed = "enterprise_id,enterprise_name,region_code,sector_code,year,month,energy_code,quantity,unit,备注;说明\n\
                 91110000100000000A,甲;乙,110101,C2511,2025,3,raw_coal,1,t,a;b\n";
    assert_eq!(
        rows_of("mixed.csv", mixed.as_bytes(), Delimiter::Auto).unwrap(),
        vec![("甲;乙".to_string(), "1".to_string())]
    );
}
