//! Text encodings of CSV inputs: UTF-8 checked in place while the file is
//! hashed, GB18030 detected or configured.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Encoding;
use crate::error::Result;
use crate::input::headers::file_error;
use crate::input::{InputFile, InputSpec};

/// The encoding a CSV file is read in, as configured or detected
/// ([`Encoding::Auto`] resolved); the manifest shows it per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    /// With or without a BOM.
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "gb18030")]
    Gb18030,
}

/// What a scan of the bytes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utf8Scan {
    /// Offset of the first byte that is not UTF-8, if any.
    pub first_invalid: Option<u64>,
    /// Offset of the first NUL byte, if any: no text CSV has one.
    pub first_nul: Option<u64>,
}

/// Incremental UTF-8 validation over chunks (a sequence may span chunks).
#[derive(Default)]
pub(crate) struct Utf8Validator {
    pending: Vec<u8>,
    offset: u64,
    first_invalid: Option<u64>,
    /// Bytes seen so far (the NUL search's own offset).
    seen: u64,
    first_nul: Option<u64>,
}

impl Utf8Validator {
    pub(crate) fn update(&mut self, chunk: &[u8]) {
        if self.first_nul.is_none()
            && let Some(i) = memchr::memchr(0, chunk)
        {
            self.first_nul = Some(self.seen + i as u64);
        }
        self.seen += chunk.len() as u64;
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

    pub(crate) fn finish(self) -> Utf8Scan {
        Utf8Scan {
            first_invalid: self
                .first_invalid
                .or((!self.pending.is_empty()).then_some(self.offset)),
            first_nul: self.first_nul,
        }
    }
}

/// The offset of the first byte sequence that is not GB18030, if any.
pub(crate) fn gb18030_first_invalid(path: &Path) -> std::io::Result<Option<u64>> {
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
pub(crate) fn resolve_encoding(
    spec: InputSpec,
    file: &InputFile,
    wanted: Encoding,
    utf8: Utf8Scan,
) -> Result<TextEncoding> {
    if let Some(at) = utf8.first_nul {
        return Err(file_error(
            spec,
            &file.path,
            format!(
                "byte offset {at} is a NUL byte, which no UTF-8 or GB18030 CSV has: the file is UTF-16 \
                 (Excel's \"Unicode text\": save it as \"CSV UTF-8\" instead), binary, or was cut off \
                 or padded by a crash of the system that wrote it; export it again"
            ),
        ));
    }
    let gb = || {
        gb18030_first_invalid(&file.local)
            .map_err(|e| file_error(spec, &file.path, format!("cannot read: {e}")))
    };
    match wanted {
        Encoding::Utf8 => match utf8.first_invalid {
            None => Ok(TextEncoding::Utf8),
            Some(at) => Err(file_error(
                spec,
                &file.path,
                format!(
                    "byte offset {at} is not UTF-8 (encoding: utf-8 is configured); if the file comes from Excel or a Chinese government system it is likely GB18030: set encoding: gb18030 or auto"
                ),
            )),
        },
        Encoding::Gb18030 => match gb()? {
            None => Ok(TextEncoding::Gb18030),
            Some(at) => Err(file_error(
                spec,
                &file.path,
                format!(
                    "byte offset {at} is not GB18030 (encoding: gb18030 is configured){}",
                    if utf8.first_invalid.is_none() {
                        ", but the file is UTF-8: remove the encoding setting (auto finds it) or set encoding: utf-8"
                    } else {
                        "; save the file as UTF-8 or GB18030"
                    }
                ),
            )),
        },
        Encoding::Auto => match utf8.first_invalid {
            None => Ok(TextEncoding::Utf8),
            Some(u) => match gb()? {
                None => Ok(TextEncoding::Gb18030),
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
