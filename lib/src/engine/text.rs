//! Text normalisation for 10_normalize.sql, as vectorised UDFs. Each is
//! exactly a composition of DataFusion built-ins (the SQL comments name it),
//! done in one pass over a string-view array: an unchanged value keeps its
//! bytes where they are (no copy), a value is copied only when trimming,
//! case or a thousands separator changes it. `clean_code`, `parse_year` and
//! `parse_month` work out a run of the same text once (an enterprise's rows
//! repeat its codes and the year).
//!
//! | UDF                 | the same as                                                   |
//! |---------------------|---------------------------------------------------------------|
//! | `clean_code(t)`     | `upper(nullif(trim(t), ''))`                                  |
//! | `fold_key(t)`       | `lower(trim(t))`                                              |
//! | `parse_year(t)`     | `try_cast(nullif(trim(t), '') AS INT)`, else the year of `2025年`, `2025年度`, `2025.0` (`parse_written_builtins`) |
//! | `parse_month(t)`    | `try_cast(nullif(trim(t), '') AS INT)`, else the month of `3月`, `03月份`, `3.0` (`parse_written_builtins`) |
//! | `parse_number(t)`   | `try_cast(replace(nullif(trim(t), ''), ',', '') AS DOUBLE)` where every comma groups thousands (see below), else NULL |
//! | `is_sector_code(t)` | `regexp_like(t, '^[A-T]?[0-9]{2,4}$')`                        |
//!
//! SQL's `trim` removes spaces (not tabs); so do these. `parse_year` and
//! `parse_month` also read full-width digits (`２０２５`, as a Chinese input
//! method types them in full-width mode), as the period column does
//! (`input::headers::parse_period`): a workbook's year column written
//! `2025年` is the same year as its period column written `2025年3月`.
//!
//! `code_hint(t)`, `number_hint(t)` and `period_hint(t)` are for messages only (the row rules
//! call them on rejected rows): what a spreadsheet did to a code it took for
//! a number, and why a number with a comma is none; or ''.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, StringViewArray, StringViewBuilder,
};
use datafusion::arrow::compute::kernels::cast_utils::Parser;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type};
use datafusion::common::cast::as_string_view_array;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

/// `s` without leading and trailing spaces, and where it starts in `s`.
fn trim_spaces(s: &str) -> (&str, usize) {
    let start = s.len() - s.trim_start_matches(' ').len();
    (s[start..].trim_end_matches(' '), start)
}

/// What a mapping makes of one value.
#[derive(Clone, Copy)]
enum Mapped {
    Null,
    /// The bytes `start..start + len` of the input value, unchanged.
    Same(usize, usize),
    /// A new value: the scratch string.
    New,
}

/// Whether a column's values come in runs of the same text.
#[derive(Clone, Copy, PartialEq)]
enum Runs {
    Expected,
    Rare,
}

/// Map every value of a string-view array; unchanged (sub)strings point into
/// the input's buffers.
fn map_views(
    input: &StringViewArray,
    mut f: impl FnMut(&str, &mut String) -> Mapped,
    runs: Runs,
) -> DfResult<StringViewArray> {
    let mut out = StringViewBuilder::with_capacity(input.len());
    let blocks: Vec<u32> = input
        .data_buffers()
        .iter()
        .map(|b| out.append_block(b.clone()))
        .collect();
    let mut scratch = String::new();
    // records come in runs (an enterprise's rows share its id, region and
    // sector): a value equal to the row before's gets that row's answer,
    // without mapping it again (`scratch` still holds a new value)
    let mut last: Option<(usize, Mapped)> = None;
    for i in 0..input.len() {
        if input.is_null(i) {
            out.append_null();
            continue;
        }
        let value = input.value(i);
        let mapped = match last {
            Some((j, m)) if runs == Runs::Expected && same_text(input, i, j) => m,
            _ => {
                scratch.clear();
                f(value, &mut scratch)
            }
        };
        last = Some((i, mapped));
        match mapped {
            Mapped::Null => out.append_null(),
            Mapped::New => out.append_value(&scratch),
            Mapped::Same(start, len) if len <= 12 => {
                out.append_value(&value[start..start + len]);
            }
            Mapped::Same(start, len) => {
                // a long value: its view names a buffer and an offset
                let view = input.views()[i];
                let buffer = (view >> 64) as u32;
                let offset = (view >> 96) as u32;
                out.try_append_view(blocks[buffer as usize], offset + start as u32, len as u32)?;
            }
        }
    }
    Ok(out.finish())
}

/// Whether values `i` and `j` (not NULL) are the same text: a string of up
/// to 12 bytes lives in its view (length, then the bytes, zero-padded), a
/// longer one is compared by length, then bytes.
fn same_text(input: &StringViewArray, i: usize, j: usize) -> bool {
    let (a, b) = (input.views()[i], input.views()[j]);
    if (a as u32) <= 12 || (b as u32) <= 12 {
        a == b
    } else {
        (a as u32) == (b as u32) && input.value(i) == input.value(j)
    }
}

/// `f` of every value, NULL for a NULL: worked out once per run of the same
/// text, the value equal to the row before's gets that row's answer.
pub(crate) fn per_run<'a, T: Clone + 'a>(
    input: &'a StringViewArray,
    mut f: impl FnMut(&str) -> T + 'a,
) -> impl Iterator<Item = Option<T>> + 'a {
    let mut last: Option<(usize, T)> = None;
    (0..input.len()).map(move |i| {
        if input.is_null(i) {
            return None;
        }
        let answer = match last.take() {
            Some((j, a)) if same_text(input, i, j) => a,
            _ => f(input.value(i)),
        };
        last = Some((i, answer.clone()));
        Some(answer)
    })
}

/// `upper(nullif(trim(t), ''))`
fn clean_code_one(value: &str, scratch: &mut String) -> Mapped {
    match trim_spaces(value) {
        ("", _) => Mapped::Null,
        (t, start) => recase(t, start, Case::Upper, scratch),
    }
}

/// `lower(trim(t))`
fn fold_key_one(value: &str, scratch: &mut String) -> Mapped {
    let (t, start) = trim_spaces(value);
    recase(t, start, Case::Lower, scratch)
}

#[derive(Clone, Copy)]
enum Case {
    Upper,
    Lower,
}

/// `t` (which starts at byte `start` of its value) in upper or lower case:
/// the same bytes when nothing changes, else the new text in `scratch`.
fn recase(t: &str, start: usize, case: Case, scratch: &mut String) -> Mapped {
    if t.is_ascii() {
        let changes = match case {
            Case::Upper => t.bytes().any(|b| b.is_ascii_lowercase()),
            Case::Lower => t.bytes().any(|b| b.is_ascii_uppercase()),
        };
        if !changes {
            return Mapped::Same(start, t.len());
        }
        scratch.push_str(t);
        match case {
            Case::Upper => scratch.make_ascii_uppercase(),
            Case::Lower => scratch.make_ascii_lowercase(),
        }
        return Mapped::New;
    }
    scratch.push_str(&match case {
        Case::Upper => t.to_uppercase(),
        Case::Lower => t.to_lowercase(),
    });
    if scratch == t {
        Mapped::Same(start, t.len())
    } else {
        Mapped::New
    }
}

/// A UDF of one text argument (string views) in one pass over the array.
pub(crate) fn text_udf(
    name: &str,
    returns: DataType,
    f: impl Fn(&StringViewArray) -> DfResult<ArrayRef> + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8View],
        returns,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            Ok(ColumnarValue::Array(f(as_string_view_array(&arrays[0])?)?))
        }),
    )
}

/// The trimmed text of a cell, None when blank (`nullif(trim(t), '')`).
fn non_blank(s: &str) -> Option<&str> {
    Some(trim_spaces(s).0).filter(|t| !t.is_empty())
}

/// `try_cast(nullif(trim(t), '') AS INT)`.
fn plain_int(v: &str) -> Option<i32> {
    non_blank(v).and_then(Int32Type::parse)
}

/// `s` with full-width digits (U+FF10-U+FF19) written as ASCII digits.
pub(crate) fn half_width_digits(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            c => c,
        })
        .collect::<String>()
        .into()
}

/// Whether `s` is one or more ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The digits of a whole number a float column wrote (`2024.0`, `150622.00`:
/// digits, a point and zeros), if `t` is one.
fn whole_number(t: &str) -> Option<&str> {
    let (int, frac) = t.split_once('.')?;
    (is_digits(int) && !frac.is_empty() && frac.bytes().all(|b| b == b'0')).then_some(int)
}

/// The number of a year or month written with its unit: the digits of
/// `trim(t)` (full-width ones as ASCII) followed by one of `units`, by a
/// point and zeros (`2024.0`: a whole number a float column wrote, as pandas
/// writes a year column with blanks to Parquet) or by nothing; None for
/// anything else.
fn written_int(v: &str, units: &[&str]) -> Option<i32> {
    let t = half_width_digits(trim_spaces(v).0);
    let digits = units
        .iter()
        .find_map(|u| t.strip_suffix(u))
        .or_else(|| whole_number(&t))
        .unwrap_or(&t);
    is_digits(digits).then(|| digits.parse().ok()).flatten()
}

/// The year's units, the longer first.
const YEAR_UNITS: [&str; 2] = ["年度", "年"];
/// The month's units, the longer first.
const MONTH_UNITS: [&str; 2] = ["月份", "月"];

/// `parse_year(t)`: `parse_written_builtins(&YEAR_UNITS)`.
fn parse_year(input: &StringViewArray) -> DfResult<ArrayRef> {
    parse_written(input, &YEAR_UNITS)
}

/// `parse_month(t)`: `parse_written_builtins(&MONTH_UNITS)`.
fn parse_month(input: &StringViewArray) -> DfResult<ArrayRef> {
    parse_written(input, &MONTH_UNITS)
}

/// A plain integer, else the integer written with one of `units`.
fn parse_written(input: &StringViewArray, units: &[&str]) -> DfResult<ArrayRef> {
    // a year repeats row after row: parsed once per run of the same text
    let out: Int32Array = per_run(input, |v| plain_int(v).or_else(|| written_int(v, units)))
        .map(Option::flatten)
        .collect();
    Ok(Arc::new(out))
}

/// What `parse_year` (YEAR_UNITS) or `parse_month` (MONTH_UNITS) is, in
/// built-ins (the test compares them value by value).
#[cfg(test)]
fn parse_written_builtins(units: &[&str]) -> String {
    format!(
        "coalesce(try_cast(nullif(trim(t), '') AS INT), \
         try_cast(regexp_replace(translate(trim(t), '０１２３４５６７８９', '0123456789'), \
         '^([0-9]+)([.]0+|{})?$', '${{1}}') AS INT))",
        units.join("|")
    )
}

/// `parse_number(t)`: `try_cast(replace(nullif(trim(t), ''), ',', '') AS DOUBLE)`
/// when every comma of `trim(t)` groups thousands (`PARSE_NUMBER_BUILTINS` in built-ins),
/// else NULL: `1,234.5` is 1234.5, but `12,5` (a decimal comma) and `1,23`
/// are no number. Taking the commas out of those read `0,5` as 5.
fn parse_number(input: &StringViewArray) -> DfResult<ArrayRef> {
    let mut scratch = String::new();
    let out: Float64Array = input
        .iter()
        .map(|v| {
            let t = v.and_then(non_blank)?;
            if !t.contains(',') {
                return Float64Type::parse(t);
            }
            if !commas_group_thousands(t) {
                return None;
            }
            scratch.clear();
            scratch.extend(t.split(','));
            Float64Type::parse(&scratch)
        })
        .collect();
    Ok(Arc::new(out))
}

/// `code_hint(t)`: for a region code a spreadsheet wrote as a number, what
/// happened and what to do, starting with "; "; '' otherwise. Excel writes a
/// number of 12 digits or more in scientific notation (`1.50622E+11`: the
/// digits after the sixth are gone), and pandas writes a code read as a float
/// with `.0`.
fn code_hint(input: &StringViewArray) -> DfResult<ArrayRef> {
    hints(input, |t| {
        let t = trim_spaces(t).0;
        if let Some((mantissa, exponent)) = t.split_once(['e', 'E']) {
            let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
            let mantissa_ok = match mantissa.split_once('.') {
                Some((a, b)) => is_digits(a) && is_digits(b),
                None => is_digits(mantissa),
            };
            if mantissa_ok && is_digits(exponent) {
                return "; it is a number in scientific notation, as Excel writes long numbers, and its last \
                        digits are lost: format the column as text in the workbook, enter the codes again and export";
            }
        }
        if whole_number(t).is_some() {
            return "; it was written as a decimal number: a code is text, without '.0' (read the column as text)";
        }
        ""
    })
}

/// `number_hint(t)`, for a value `parse_number` read as no number: with a
/// comma (a comma only groups thousands), how to write a decimal comma; with
/// a per cent sign, that a share is a fraction; with full-width digits, that
/// they are; '' otherwise.
fn number_hint(input: &StringViewArray) -> DfResult<ArrayRef> {
    hints(input, |t| {
        let t = trim_spaces(t).0;
        if t.contains(',') {
            " (a comma only groups thousands, as in 1,234.5: write a decimal comma as a point, 12.5)"
        } else if t.ends_with(['%', '％']) {
            " (a number is written without a per cent sign: a share or a reduction as a fraction, 13.5 % as 0.135)"
        } else if t.chars().any(|c| ('０'..='９').contains(&c)) {
            " (its digits are full-width, as a Chinese input method types them in full-width mode: write them \
             half-width, 0-9)"
        } else {
            ""
        }
    })
}

/// `period_hint(t)`: for a period cell the year rule rejects (its text is
/// in the year column) whose year is readable, '; ' and what is wrong with
/// its month (`2023年13月`); '' otherwise.
fn period_hint(input: &StringViewArray) -> DfResult<ArrayRef> {
    hints(input, |t| {
        crate::input::headers::period_month_problem(t).map_or(String::new(), |p| format!("; {p}"))
    })
}

/// The hint of every value (NULL for NULL).
fn hints<S: AsRef<str>>(input: &StringViewArray, hint: impl Fn(&str) -> S) -> DfResult<ArrayRef> {
    let out: StringViewArray = input.iter().map(|v| v.map(&hint)).collect();
    Ok(Arc::new(out))
}

/// What `parse_number` is, in built-ins (the test below compares them).
#[cfg(test)]
const PARSE_NUMBER_BUILTINS: &str = "CASE WHEN strpos(trim(t), ',') = 0 \
     OR regexp_like(trim(t), '^[+-]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?([eE][+-]?[0-9]+)?$') \
     THEN try_cast(replace(nullif(trim(t), ''), ',', '') AS DOUBLE) END";

/// Whether the commas of `t` group thousands: an optional sign, 1-3 digits,
/// then groups of a comma and 3 digits up to the decimal point or the
/// exponent, and no comma after them.
fn commas_group_thousands(t: &str) -> bool {
    let b = t.as_bytes();
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let end = b
        .iter()
        .position(|&c| matches!(c, b'.' | b'e' | b'E'))
        .unwrap_or(b.len());
    let (int, rest) = b.split_at(end);
    if rest.contains(&b',') {
        return false;
    }
    let mut groups = int.split(|&c| c == b',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && first.iter().all(u8::is_ascii_digit)
        && groups.all(|g| g.len() == 3 && g.iter().all(u8::is_ascii_digit))
}

/// `is_sector_code(t)`: `regexp_like(t, '^[A-T]?[0-9]{2,4}$')`, the form of
/// a GB/T 4754-2017 code (a section letter, then 2-4 digits), without a regex
/// engine per record.
fn is_sector_code(input: &StringViewArray) -> DfResult<ArrayRef> {
    let out: BooleanArray = input
        .iter()
        .map(|v| {
            v.map(|t| {
                let digits = match t.as_bytes() {
                    [b'A'..=b'T', rest @ ..] => rest,
                    all => all,
                };
                (2..=4).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// The UDFs of this module.
pub(crate) fn udfs() -> Vec<ScalarUDF> {
    let recased = |one: fn(&str, &mut String) -> Mapped, runs: Runs| {
        move |input: &StringViewArray| -> DfResult<ArrayRef> {
            Ok(Arc::new(map_views(input, one, runs)?))
        }
    };
    vec![
        // codes (an enterprise's id, region, sector) repeat row after row;
        // the energy and the unit change from one row to the next, where
        // looking back only costs (docs/benchmarks.md, session 13)
        text_udf(
            "clean_code",
            DataType::Utf8View,
            recased(clean_code_one, Runs::Expected),
        ),
        text_udf(
            "fold_key",
            DataType::Utf8View,
            recased(fold_key_one, Runs::Rare),
        ),
        text_udf("parse_year", DataType::Int32, parse_year),
        text_udf("parse_month", DataType::Int32, parse_month),
        text_udf("parse_number", DataType::Float64, parse_number),
        text_udf("is_sector_code", DataType::Boolean, is_sector_code),
        text_udf("code_hint", DataType::Utf8View, code_hint),
        text_udf("number_hint", DataType::Utf8View, number_hint),
        text_udf("period_hint", DataType::Utf8View, period_hint),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{BooleanArray, RecordBatch};
    use datafusion::prelude::SessionContext;

    /// What a hint UDF gives each value of `input`.
    fn hinted(
        udf: fn(
            &datafusion::arrow::array::StringViewArray,
        ) -> datafusion::error::Result<datafusion::arrow::array::ArrayRef>,
        input: datafusion::arrow::array::StringViewArray,
    ) -> Vec<Option<String>> {
        use datafusion::arrow::array::AsArray;
        udf(&input)
            .unwrap()
            .as_string_view()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    /// A code a spreadsheet wrote as a number gets a hint; any other text
    /// none, and NULL stays NULL.
    #[test]
    fn code_hints_name_what_a_spreadsheet_did() {
        use datafusion::arrow::array::StringViewArray;
        let input = StringViewArray::from(vec![
            Some("1.50622E+11"),
            Some(" 1.5e11 "),
            Some("150622.0"),
            Some("150622.00"),
            Some("150622"),
            Some("15062A.0"),
            Some("150622.5"),
            Some("e5"),
            Some("1.5E+"),
            None,
        ]);
        let got = hinted(super::code_hint, input);
        let got: Vec<Option<&str>> = got.iter().map(Option::as_deref).collect();
        let sci = Some(
            "; it is a number in scientific notation, as Excel writes long numbers, and its last \
             digits are lost: format the column as text in the workbook, enter the codes again and export",
        );
        let dec = Some(
            "; it was written as a decimal number: a code is text, without '.0' (read the column as text)",
        );
        assert_eq!(
            got,
            vec![
                sci,
                sci,
                dec,
                dec,
                Some(""),
                Some(""),
                Some(""),
                Some(""),
                Some(""),
                None
            ]
        );
    }

    /// A number written with a decimal comma, a per cent sign or full-width
    /// digits gets a hint of what to write; any other text none.
    #[test]
    fn number_hints_say_how_to_write_the_number() {
        use datafusion::arrow::array::StringViewArray;
        let input = StringViewArray::from(vec![
            Some("12,5x"),
            Some(" 10% "),
            Some("13.5％"),
            Some("１２.５"),
            Some("lots"),
            None,
        ]);
        let got = hinted(super::number_hint, input);
        let got: Vec<Option<&str>> = got.iter().map(Option::as_deref).collect();
        let pct = Some(
            " (a number is written without a per cent sign: a share or a reduction as a fraction, 13.5 % as 0.135)",
        );
        assert_eq!(
            got,
            vec![
                Some(
                    " (a comma only groups thousands, as in 1,234.5: write a decimal comma as a point, 12.5)"
                ),
                pct,
                pct,
                Some(
                    " (its digits are full-width, as a Chinese input method types them in full-width mode: write \
                     them half-width, 0-9)"
                ),
                Some(""),
                None
            ]
        );
    }

    /// A period cell whose year is readable says what is wrong with its
    /// month; other text gets no hint.
    #[test]
    fn period_hints_name_the_month() {
        use datafusion::arrow::array::StringViewArray;
        let input =
            StringViewArray::from(vec![Some("2023年13月"), Some("20x0"), Some("2023"), None]);
        let got = hinted(super::period_hint, input);
        let got: Vec<Option<&str>> = got.iter().map(Option::as_deref).collect();
        assert_eq!(
            got,
            vec![
                Some(
                    "; read as a period, its year is 2023 and its month '13' is not 1-12: correct the month"
                ),
                Some(""),
                Some(""),
                None
            ]
        );
    }

    /// Every UDF gives exactly what the built-ins it replaces give, value by
    /// value, on text made to catch the edge cases (long values that point
    /// into a buffer, spaces, tabs, case, non-ASCII, separators, odd numbers).
    #[test]
    fn each_udf_equals_the_builtins_it_replaces() {
        let values = [
            "91350100M000100Y43",
            "  91350100m000100y43  ",
            "c3011",
            " C3011",
            "",
            "   ",
            "\t2020",
            "2020 ",
            " 2,020",
            "+7",
            "-0",
            "13",
            "１２",
            "1,234.5",
            " 1,234,567.25 ",
            "12,5",
            "0,5",
            "1,23",
            "1,2345",
            "1,234,56",
            "-1,234",
            "+12,345.",
            "1,234.5,6",
            "12,345e2",
            ",123",
            "1,,234",
            "1e5",
            "inf",
            "-Infinity",
            "NaN",
            "lots",
            "1.2.3",
            ",",
            "0x10",
            " 10^4 kWh ",
            "万千瓦时",
            "  Natural Gas  ",
            "Ünïcödé straße",
            "ǅemal",
            "a fairly long value with Mixed Case and spaces   ",
            "C2511",
            "2511",
            "C25",
            "T99",
            "C25111",
            "c2511",
            "U2511",
            "A1",
            "HH",
            "C 2511",
            "２５１１",
            "C2511\n",
            "CC2511",
            "2025年",
            " 2025年度 ",
            "２０２５",
            "２０２５年",
            "2025 年",
            "2025年年",
            "年",
            "+7年",
            "2025年3月",
            "3月",
            "03月份",
            "１２月",
            "月份",
            "99999999999年",
            "0003月",
            "2024.0",
            "3.00",
            "2024.",
            "2024.5",
            ".0",
            "２０２４.０",
            "2024.0年",
        ];
        // each value twice in a row (the second is answered from the
        // first: a run of the same text), a NULL, then each once more
        let cell = |v: &&str| format!("('{}')", v.replace('\'', "''"));
        let rows: Vec<String> = values
            .iter()
            .flat_map(|v| [cell(v), cell(v)])
            .chain(["(NULL)".to_string()])
            .chain(values.iter().rev().map(cell))
            .chain(["(NULL)".to_string()])
            .collect();
        let number_check = format!(
            "coalesce((parse_number(t) IS NOT DISTINCT FROM ({b})) OR (isnan(parse_number(t)) AND isnan({b})), false)",
            b = super::PARSE_NUMBER_BUILTINS
        );
        let year_check = format!(
            "parse_year(t) IS NOT DISTINCT FROM {}",
            super::parse_written_builtins(&super::YEAR_UNITS)
        );
        let month_check = format!(
            "parse_month(t) IS NOT DISTINCT FROM {}",
            super::parse_written_builtins(&super::MONTH_UNITS)
        );
        let checks = [
            "clean_code(t) IS NOT DISTINCT FROM upper(nullif(trim(t), ''))",
            "fold_key(t) IS NOT DISTINCT FROM lower(trim(t))",
            year_check.as_str(),
            month_check.as_str(),
            number_check.as_str(),
            "is_sector_code(t) IS NOT DISTINCT FROM regexp_like(t, '^[A-T]?[0-9]{2,4}$')",
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            for f in super::udfs() {
                ctx.register_udf(f);
            }
            for check in checks {
                let sql = format!(
                    "SELECT t, {check} AS same FROM (SELECT arrow_cast(column1, 'Utf8View') AS t FROM (VALUES {})) v",
                    rows.join(", ")
                );
                let batches: Vec<RecordBatch> =
                    ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                let mut seen = 0;
                for b in &batches {
                    let same = b
                        .column(1)
                        .as_any()
                        .downcast_ref::<BooleanArray>()
                        .unwrap();
                    for i in 0..b.num_rows() {
                        let t = datafusion::arrow::util::display::array_value_to_string(
                            b.column(0),
                            i,
                        )
                        .unwrap();
                        assert!(same.value(i), "{check} differs for {t:?}");
                        seen += 1;
                    }
                }
                assert_eq!(seen, rows.len()); // 2 × 75 + 1 + 75 + 1 = 227 rows
            }
        });
    }
}
