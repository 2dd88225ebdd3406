//! Identifier checks. The Unified Social Credit Code (统一社会信用代码,
//! GB 32100-2015) check runs in Rust because SQL cannot express it readably; the
//! SQL steps call it as the UDF `uscc_error(enterprise_id)`, which returns NULL
//! for a valid code and otherwise says what is wrong. It works on whole Arrow
//! arrays, one pass, no per-row allocation for valid codes.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// The 31 symbols of a USCC, in value order (no I, O, Z, S, V).
pub(crate) const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1-17: 3^i mod 31.
pub(crate) const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The value of every byte: its position in [`USCC_CHARSET`], or 255.
const USCC_VALUES: [u8; 256] = {
    let mut t = [255u8; 256];
    let mut i = 0;
    while i < USCC_CHARSET.len() {
        t[USCC_CHARSET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn value_of(c: u8) -> Option<u32> {
    match USCC_VALUES[c as usize] {
        255 => None,
        v => Some(v as u32),
    }
}

/// The check character for the first 17 characters, or None if one is not a
/// USCC symbol.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in b.iter().enumerate() {
        sum += value_of(c)? * USCC_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[check as usize] as char)
}

/// None if `code` is a valid USCC, otherwise what is wrong with it.
pub(crate) fn uscc_error(code: &str) -> Option<String> {
    let b = code.as_bytes();
    if b.len() != 18 {
        return Some(format!(
            "'{code}' has {} characters; a Unified Social Credit Code has 18",
            code.chars().count()
        ));
    }
    if let Some((i, c)) = code
        .char_indices()
        .find(|(_, c)| !c.is_ascii() || value_of(*c as u8).is_none())
    {
        return Some(format!(
            "'{code}': character '{c}' at position {} is not allowed (digits and A-Y without I, O, S, V, Z)",
            i + 1
        ));
    }
    let expected = uscc_check_char(&code[..17])?;
    let got = b[17] as char;
    (got != expected).then(|| {
        format!(
            "'{code}': check character is '{got}' but the first 17 characters give '{expected}'"
        )
    })
}

/// `uscc_error(text) -> text`: NULL when valid (or NULL input).
pub(crate) fn uscc_error_udf() -> ScalarUDF {
    crate::engine::text::text_udf("uscc_error", DataType::Utf8, |input| {
        // valid codes (nearly all) only add a null bit: no allocation per row
        let mut out = StringBuilder::with_capacity(input.len(), 0);
        // an enterprise's records come one after another: its code is
        // checked once per run of rows
        for error in crate::engine::text::per_run(input, uscc_error) {
            match error.flatten() {
                Some(msg) => out.append_value(msg),
                None => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()) as ArrayRef)
    })
}

/// Register every carbonstat UDF in a session.
pub(crate) fn register_udfs(ctx: &SessionContext) {
    ctx.register_udf(uscc_error_udf());
    for f in crate::engine::text::udfs() {
        ctx.register_udf(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UDF checks a run of the same code once and answers every row of
    /// it: each row's answer is that of `uscc_error` on its own value.
    #[test]
    fn the_udf_answers_every_row_of_a_run() {
        use datafusion::arrow::array::{AsArray, StringViewArray};
        use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
        let codes = [
            Some("91350100M000100Y43"),
            Some("91350100M000100Y43"),
            Some("91350100M000100Y44"),
            Some("91350100M000100Y44"),
            None,
            Some("91350100M000100Y44"),
            Some("91350100M000100Y43"),
        ];
        let input = Arc::new(StringViewArray::from(codes.to_vec())) as ArrayRef;
        let udf = uscc_error_udf();
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(input)],
            arg_fields: vec![Arc::new(datafusion::arrow::datatypes::Field::new(
                "t",
                DataType::Utf8View,
                true,
            ))],
            number_rows: codes.len(),
            return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                "e",
                DataType::Utf8,
                true,
            )),
            config_options: Arc::new(Default::default()),
        };
        let ColumnarValue::Array(out) = udf.invoke_with_args(args).unwrap() else {
            panic!("an array")
        };
        let out = out.as_string::<i32>();
        let got: Vec<Option<&str>> = (0..out.len())
            .map(|i| (!out.is_null(i)).then(|| out.value(i)))
            .collect();
        let expected: Vec<Option<String>> = codes.iter().map(|c| c.and_then(uscc_error)).collect();
        assert_eq!(
            got,
            expected.iter().map(|e| e.as_deref()).collect::<Vec<_>>()
        );
        // the valid code gives no error, the wrong check character one
        assert_eq!(got[0], None);
        assert!(got[3].unwrap().contains("check character is '4'"));
        assert_eq!(got[6], None);
    }

    #[test]
    fn known_valid_code() {
        // domain.md §8: 91350100M000100Y43 is valid.
        assert_eq!(uscc_error("91350100M000100Y43"), None);
        assert_eq!(uscc_check_char("91350100M000100Y4"), Some('3'));
    }

    #[test]
    fn worked_check_digit() {
        // 91150622MA0N000000 → first 17 "91150622MA0N00000":
        // values 9,1,1,5,0,6,2,2,21(M),10(A),0,22(N),0,0,0,0,0
        // × weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28
        // = 9+3+9+135+0+156+32+34+420+290+0+286+0+0+0+0+0 = 1374
        // 1374 mod 31 = 10 (31×44 = 1364); 31 − 10 = 21 → 'M'
        assert_eq!(uscc_check_char("91150622MA0N00000"), Some('M'));
        assert_eq!(uscc_error("91150622MA0N00000M"), None);
    }

    #[test]
    fn wrong_check_digit_is_named() {
        let e = uscc_error("91350100M000100Y44").unwrap();
        assert!(e.contains("'4'") && e.contains("'3'"), "{e}");
    }

    #[test]
    fn wrong_length_and_characters() {
        assert!(
            uscc_error("91350100M000100Y4")
                .unwrap()
                .contains("17 characters")
        );
        // 'I' is not a USCC symbol
        assert!(
            uscc_error("91350100I000100Y43")
                .unwrap()
                .contains("'I' at position 9")
        );
        assert!(
            uscc_error("91350100m000100Y43")
                .unwrap()
                .contains("position 9")
        );
        assert!(uscc_error("9135010０M000100Y4").is_some());
    }

    #[test]
    fn sum_divisible_by_31_gives_check_0() {
        // find a prefix whose sum is ≡ 0 mod 31: check = (31 − 0) % 31 = 0 → '0'
        assert_eq!(uscc_check_char("00000000000000000"), Some('0'));
    }
}
