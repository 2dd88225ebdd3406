//! CSV records read a batch at a time into one byte buffer, and turned into
//! Arrow string-view columns that point into that buffer.
//!
//! The `csv` crate's `StringRecord` reader copies every record out of its
//! buffer, checks its UTF-8, and the batch builder then copies every cell
//! again. Here `csv_core` unquotes the fields of a whole batch straight into
//! one buffer, the buffer's UTF-8 is checked once, and each column is only a
//! vector of 16-byte views: a cell of at most 12 bytes is held in its view,
//! a longer one is an offset into the shared buffer (no copy of any cell).
//!
//! The dialect is the `csv` crate's default (comma, `"` quotes doubled inside
//! quoted fields, `\n` or `\r\n`, a UTF-8 byte-order mark skipped, blank
//! lines skipped), and a record's line is the line its first byte is on
//! (the `csv` crate gives the line before it in a file with `\r\n` line
//! ends).

use std::io::{ErrorKind, Read};

use csv_core::ReadRecordResult;
use datafusion::arrow::array::StringViewArray;
use datafusion::arrow::array::builder::NullBufferBuilder;
use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::buffer::{Buffer, ScalarBuffer};
use datafusion::arrow::error::ArrowError;

type Result<T, E = ArrowError> = std::result::Result<T, E>;

/// How much of the file is read from the source at a time.
const INPUT_BYTES: usize = 1 << 20;

/// Where the fields and records of a batch are in its bytes.
pub(crate) struct Layout {
    /// the end of every field in the bytes
    ends: Vec<usize>,
    /// entries of `ends` in use
    nends: usize,
    /// per record: where its bytes start and its first entry in `ends`
    starts: Vec<(usize, usize)>,
    /// per record: the line it starts on (1-based)
    lines: Vec<u64>,
    /// the records (ascending) that are one line whose quote is not closed
    /// on it: [`RecordReader`] read the lines after it again on their own
    unclosed: Vec<usize>,
}

impl Layout {
    /// An empty layout with room for about `fields` field ends.
    pub(crate) fn with_capacity(fields: usize) -> Self {
        Layout {
            ends: vec![0; fields.max(8)],
            nends: 0,
            starts: Vec::new(),
            lines: Vec::new(),
            unclosed: Vec::new(),
        }
    }

    /// Empty again, keeping its room: a reader hands the layout of one batch
    /// to the next instead of allocating (and zeroing) the field ends anew.
    pub(crate) fn clear(&mut self) {
        self.nends = 0;
        self.starts.clear();
        self.lines.clear();
        self.unclosed.clear();
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The line record `r` starts on.
    pub(crate) fn line(&self, r: usize) -> u64 {
        self.lines[r]
    }

    /// Whether record `r` is a line with a quote not closed on it.
    pub(crate) fn unclosed(&self, r: usize) -> bool {
        self.unclosed.binary_search(&r).is_ok()
    }

    /// Number of fields of record `r`.
    pub(crate) fn fields(&self, r: usize) -> usize {
        let next = self.starts.get(r + 1).map_or(self.nends, |s| s.1);
        next - self.starts[r].1
    }

    /// Byte range of field `j` of record `r`, `None` when the record has
    /// fewer fields.
    pub(crate) fn field(&self, r: usize, j: usize) -> Option<(usize, usize)> {
        let (start, first) = self.starts[r];
        if j >= self.fields(r) {
            return None;
        }
        let s = if j == 0 {
            start
        } else {
            self.ends[first + j - 1]
        };
        Some((s, self.ends[first + j]))
    }

    /// The record and field (both 0-based) that byte `at` belongs to.
    pub(crate) fn locate(&self, at: usize) -> (usize, usize) {
        let r = self
            .starts
            .partition_point(|&(start, _)| start <= at)
            .saturating_sub(1);
        let j = (0..self.fields(r))
            .find(|&j| self.field(r, j).is_some_and(|(_, e)| at < e))
            .unwrap_or(0);
        (r, j)
    }
}

/// The records of one batch being read: the unquoted bytes of every field
/// one after the other, and their [`Layout`].
pub(crate) struct Records {
    data: Vec<u8>,
    /// bytes of `data` in use (the rest is room for the parser to write into)
    len: usize,
    pub at: Layout,
}

impl Records {
    /// Room for about `bytes` bytes and `fields` fields before growing.
    pub(crate) fn with_capacity(bytes: usize, fields: usize) -> Self {
        Self::reusing(bytes, Layout::with_capacity(fields))
    }

    /// Room for about `bytes` bytes, in the (cleared) room of `at`, the
    /// layout of a batch already turned into columns.
    pub(crate) fn reusing(bytes: usize, mut at: Layout) -> Self {
        at.clear();
        Records {
            data: vec![0; bytes.max(64)],
            len: 0,
            at,
        }
    }

    /// Bytes of all fields.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Field `j` of record `r` as bytes.
    pub(crate) fn field_bytes(&self, r: usize, j: usize) -> Option<&[u8]> {
        self.at.field(r, j).map(|(s, e)| &self.data[s..e])
    }

    /// Whether every field of the last record is empty or white space (a line
    /// of nothing but separators is not a record).
    pub(crate) fn last_is_blank(&self) -> bool {
        let Some(&(start, _)) = self.at.starts.last() else {
            return false;
        };
        let bytes = &self.data[start..self.len];
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        // white space beyond ASCII (the ideographic space U+3000, …) is rare:
        // only a record with no printable ASCII byte needs the full test
        if bytes.iter().any(|b| b.is_ascii_graphic()) {
            return false;
        }
        let r = self.at.len() - 1;
        (0..self.at.fields(r)).all(|j| {
            self.field_bytes(r, j)
                .is_some_and(|f| std::str::from_utf8(f).is_ok_and(|t| t.trim().is_empty()))
        })
    }

    /// One call of `core` on `input` for the record that starts at byte
    /// `start`, the buffers grown first when full: what it found, and how
    /// many input bytes it took.
    fn parse_step(
        &mut self,
        core: &mut csv_core::Reader,
        input: &[u8],
        start: usize,
    ) -> (ReadRecordResult, usize) {
        let at = &mut self.at;
        if self.len == self.data.len() {
            self.data.resize(self.data.len() * 2, 0);
        }
        if at.nends == at.ends.len() {
            at.ends.resize(at.ends.len() * 2, 0);
        }
        let (res, nin, nout, nend) =
            core.read_record(input, &mut self.data[self.len..], &mut at.ends[at.nends..]);
        self.len += nout;
        // csv_core counts a record's field ends from the record's start
        for e in &mut at.ends[at.nends..at.nends + nend] {
            *e += start;
        }
        at.nends += nend;
        (res, nin)
    }

    /// Drop the last record.
    pub(crate) fn pop(&mut self) {
        if let Some((start, first)) = self.at.starts.pop() {
            self.len = start;
            self.at.nends = first;
            self.at.lines.pop();
            if self.at.unclosed.last() == Some(&self.at.starts.len()) {
                self.at.unclosed.pop();
            }
        }
    }

    /// The bytes as an Arrow buffer (no copy), with their layout, once every
    /// field is known to be UTF-8: otherwise where the first field that is
    /// not is.
    ///
    /// The bytes are checked as a whole, and then every field boundary must
    /// fall between two characters (no field starts with a continuation
    /// byte): a valid text cut between characters gives valid pieces. The
    /// second test matters: `"a\xE4,\xB8\xAD"` is not UTF-8 but its fields
    /// written one after the other are.
    pub(crate) fn finish(mut self) -> std::result::Result<Batch, NotUtf8> {
        let bytes = self.bytes();
        let bad = match std::str::from_utf8(bytes) {
            Err(e) => Some(e.valid_up_to()),
            Ok(_) => self.at.ends[..self.at.nends]
                .iter()
                .copied()
                .find(|&e| bytes.get(e).is_some_and(|b| b & 0xC0 == 0x80)),
        };
        if let Some(at) = bad {
            let (record, field) = self.at.locate(at);
            return Err(NotUtf8 {
                record,
                field,
                line: self.at.line(record),
            });
        }
        self.data.truncate(self.len);
        Ok(Batch {
            buffer: Buffer::from_vec(self.data),
            at: self.at,
        })
    }
}

/// The first field of a batch that is not UTF-8: its record and field
/// (0-based) and the line the record starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    pub record: usize,
    pub field: usize,
    pub line: u64,
}

/// Records whose bytes are UTF-8, in an Arrow buffer.
pub(crate) struct Batch {
    pub buffer: Buffer,
    pub at: Layout,
}

impl Batch {
    /// Field `j` of record `r` as text.
    pub(crate) fn field_text(&self, r: usize, j: usize) -> Option<&str> {
        // every field is UTF-8 (Records::finish); this check cannot fail
        let (s, e) = self.at.field(r, j)?;
        std::str::from_utf8(&self.buffer.as_slice()[s..e]).ok()
    }
}

/// The most of one record kept as read, to read its lines again when a
/// quote in it was not closed (see [`RecordReader::read_into`]); a longer
/// record of that kind fails the read.
const MAX_REREAD: usize = 64 << 20;

/// A CSV source read record by record into [`Records`].
pub(crate) struct RecordReader {
    src: Box<dyn Read + Send>,
    core: csv_core::Reader,
    input: Box<[u8]>,
    pos: usize,
    filled: usize,
    eof: bool,
    /// the bytes of the record being read that were in `input` before it
    /// was filled again (empty for a record within one fill)
    carry: Vec<u8>,
    /// whether `carry` stopped at `max_reread`
    carry_full: bool,
    /// [`MAX_REREAD`] (smaller in tests)
    max_reread: usize,
    /// fields of a whole record (the header's), 0 until it is known
    expect: usize,
    /// the field separator
    delimiter: u8,
}

impl RecordReader {
    /// A reader of comma-separated records.
    #[cfg(test)]
    pub(crate) fn new(src: Box<dyn Read + Send>) -> Self {
        Self::with_delimiter(src, b',')
    }

    /// A reader of records whose fields `delimiter` separates.
    pub(crate) fn with_delimiter(src: Box<dyn Read + Send>, delimiter: u8) -> Self {
        RecordReader {
            src,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            input: vec![0; INPUT_BYTES].into_boxed_slice(),
            pos: 0,
            filled: 0,
            eof: false,
            carry: Vec::new(),
            carry_full: false,
            max_reread: MAX_REREAD,
            expect: 0,
            delimiter,
        }
    }

    /// The number of fields of a whole record (the header's): from now on a
    /// record over several lines that does not look whole is read again line
    /// by line (see [`RecordReader::read_into`]).
    pub(crate) fn expect_fields(&mut self, fields: usize) {
        self.expect = fields;
    }

    fn fill(&mut self) -> std::io::Result<()> {
        loop {
            match self.src.read(&mut self.input) {
                Ok(n) => {
                    self.pos = 0;
                    self.filled = n;
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Skip the line ends before a record. csv_core takes the `\n` of a
    /// `\r\n` (and blank lines) as the start of the next record, so its line
    /// count before a record can be short of the line the record starts on.
    fn skip_line_ends(&mut self) -> std::io::Result<()> {
        loop {
            if self.pos == self.filled {
                if self.eof {
                    return Ok(());
                }
                self.fill()?;
                continue;
            }
            match self.input[self.pos] {
                b'\n' => self.core.set_line(self.core.line() + 1),
                b'\r' => {}
                _ => return Ok(()),
            }
            self.pos += 1;
        }
    }

    /// Append the next record to `out`; `false` at the end of the file.
    ///
    /// A quoted field may hold line breaks (a name typed over two lines in a
    /// spreadsheet cell), but a quote that is never closed takes the lines
    /// after it into its field, up to the next quote in the file (the
    /// opening quote of a later field, which then closes it) or to the end
    /// of the file. The record it makes can even have the header's number
    /// of fields, the first line's leading fields and a later line's
    /// trailing ones: that line's values would be taken under the first
    /// line's enterprise, and the lines between would be gone. So a record
    /// over several lines that has another number of fields than the header,
    /// or is not quoted as RFC 4180 has it ([`strictly_quoted`]), is taken
    /// as a quote not closed: its first line alone becomes the record (marked
    /// [`Layout::unclosed`]: a reject row), and the lines after it are read
    /// again as records of their own.
    pub(crate) fn read_into(&mut self, out: &mut Records) -> std::io::Result<bool> {
        self.skip_line_ends()?;
        let line = self.core.line();
        let start = out.len;
        let first = out.at.nends;
        // where the record's bytes start in `input`
        let mut raw_start = self.pos;
        self.carry.clear();
        self.carry_full = false;
        loop {
            if self.pos == self.filled && !self.eof {
                if self.carry.len() + (self.filled - raw_start) <= self.max_reread {
                    self.carry
                        .extend_from_slice(&self.input[raw_start..self.filled]);
                } else {
                    self.carry_full = true;
                }
                raw_start = 0;
                self.fill()?;
            }
            let (res, nin) =
                out.parse_step(&mut self.core, &self.input[self.pos..self.filled], start);
            self.pos += nin;
            match res {
                ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull
                | ReadRecordResult::OutputEndsFull => continue,
                ReadRecordResult::Record => {
                    // the line breaks inside the record (csv_core counts
                    // every `\n` it reads, the one ending the record too)
                    let ends_line = nin > 0 && self.input[self.pos - 1] == b'\n';
                    let inner = self.core.line() - line - u64::from(ends_line);
                    if inner > 0 && self.expect > 0 {
                        if self.carry_full {
                            return Err(std::io::Error::other(format!(
                                "line {line}: a record holds {inner} line breaks and more than {} MiB: \
                                 a quote not closed? Close it (a \" inside a quoted field is written \"\")",
                                self.max_reread >> 20,
                            )));
                        }
                        let mut raw = std::mem::take(&mut self.carry);
                        raw.extend_from_slice(&self.input[raw_start..self.pos]);
                        if out.at.nends - first != self.expect
                            || !strictly_quoted(&raw, self.delimiter)
                        {
                            self.reread_lines(out, start, first, line, &raw);
                            return Ok(true);
                        }
                    }
                    out.at.starts.push((start, first));
                    out.at.lines.push(line);
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    /// The record just read (from `start` in `out`, its bytes `raw` as read)
    /// is a quote not closed: its first line alone goes to `out` in its
    /// place, marked unclosed, and the lines after it are put back to be
    /// read.
    fn reread_lines(
        &mut self,
        out: &mut Records,
        start: usize,
        first: usize,
        line: u64,
        raw: &[u8],
    ) {
        // the first line break is inside the quoted field (outside quotes
        // it would have ended the record)
        let cut = memchr::memchr(b'\n', raw).unwrap_or(raw.len());
        let first_line = raw[..cut].strip_suffix(b"\r").unwrap_or(&raw[..cut]);
        // the record is dropped, its first line read alone in its place
        out.len = start;
        out.at.nends = first;
        let mut core = csv_core::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .build();
        // the empty input after the line is the end of the input: the
        // record ends there
        let mut input = first_line;
        loop {
            let (res, nin) = out.parse_step(&mut core, input, start);
            input = &input[nin..];
            if matches!(res, ReadRecordResult::Record | ReadRecordResult::End) {
                break;
            }
        }
        out.at.unclosed.push(out.at.starts.len());
        out.at.starts.push((start, first));
        out.at.lines.push(line);
        // the lines after the first are read next, then the rest of `input`
        let rest = raw.get(cut + 1..).unwrap_or_default();
        let mut again = Vec::with_capacity((rest.len() + self.filled - self.pos).max(INPUT_BYTES));
        again.extend_from_slice(rest);
        again.extend_from_slice(&self.input[self.pos..self.filled]);
        self.filled = again.len();
        self.pos = 0;
        again.resize(again.capacity(), 0);
        self.input = again.into_boxed_slice();
        self.core.set_line(line + 1);
    }
}

/// Whether the bytes of a record, as read, are quoted as RFC 4180 has it:
/// a field that starts with a quote ends at a quote (a doubled quote inside
/// it is one quote) that is followed by the separator `d`, the line end or
/// the end of the input. csv_core reads more: the text after a closing quote joins the
/// field (`"ab"c` is `abc`) and a field still open at the end of the input
/// ends there. Both are what a quote that is never closed leaves (it is
/// closed by the next field's opening quote, or not at all).
fn strictly_quoted(raw: &[u8], d: u8) -> bool {
    let mut i = 0;
    loop {
        if raw.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let Some(k) = memchr::memchr(b'"', &raw[i..]) else {
                    return false;
                };
                i += k + 1;
                if raw.get(i) != Some(&b'"') {
                    break;
                }
                i += 1;
            }
            match raw.get(i) {
                Some(&b) if b == d => i += 1,
                None | Some(b'\r' | b'\n') => return true,
                Some(_) => return false,
            }
        } else {
            match memchr::memchr3(d, b'\r', b'\n', &raw[i..]) {
                Some(k) if raw[i + k] == d => i += k + 1,
                _ => return true,
            }
        }
    }
}

/// What a view holds: a range of the batch's bytes, or short text of its own.
pub(crate) enum Cell {
    At((usize, usize)),
    Own(String),
}

/// The view of `bytes[s..e]` as a cell of buffer 0, what [`make_view`] gives,
/// from one 16-byte load where 16 bytes from `s` are in `bytes` (make_view
/// copies the cell byte by length, through a call per cell). `bytes` is at
/// most u32::MAX long.
#[inline]
fn view_at(bytes: &[u8], s: usize, e: usize) -> u128 {
    let len = e - s;
    match bytes.get(s..s + 16) {
        Some(chunk) => {
            let mut word = [0u8; 16];
            word.copy_from_slice(chunk);
            let word = u128::from_le_bytes(word);
            if len <= 12 {
                // the length, then the cell's bytes, then zeros
                let cell = word & ((1u128 << (8 * len)) - 1);
                len as u128 | cell << 32
            } else {
                // the length, the first 4 bytes, buffer 0, the offset
                len as u128 | (word & 0xFFFF_FFFF) << 32 | (s as u128) << 96
            }
        }
        None => make_view(&bytes[s..e], 0, s as u32),
    }
}

/// A string-view column of the batch's field `field` (NULL where a record has
/// fewer fields).
pub(crate) fn field_column(batch: &Batch, field: usize) -> Result<StringViewArray> {
    views_column(batch, |r| batch.at.field(r, field).map(Cell::At))
}

/// A string-view column with `cell(r)` for every record `r` (NULL for
/// `None`); `Own` text must be at most 12 bytes. A column whose cells all fit
/// in their views does not hold the batch's buffer.
#[inline]
pub(crate) fn views_column(
    batch: &Batch,
    cell: impl Fn(usize) -> Option<Cell>,
) -> Result<StringViewArray> {
    let n = batch.at.len();
    let bytes = batch.buffer.as_slice();
    if u32::try_from(bytes.len()).is_err() {
        return Err(ArrowError::InvalidArgumentError(
            "a batch of CSV records is larger than 4 GiB".to_string(),
        ));
    }
    let mut views = Vec::with_capacity(n);
    let mut nulls = NullBufferBuilder::new(n);
    let mut uses_buffer = false;
    for r in 0..n {
        match cell(r) {
            Some(Cell::At((s, e))) => {
                uses_buffer |= e - s > 12;
                views.push(view_at(bytes, s, e));
                nulls.append_non_null();
            }
            Some(Cell::Own(text)) if text.len() <= 12 => {
                views.push(make_view(text.as_bytes(), 0, 0));
                nulls.append_non_null();
            }
            Some(Cell::Own(_)) => {
                return Err(ArrowError::InvalidArgumentError(
                    "a view's own text is at most 12 bytes".to_string(),
                ));
            }
            None => {
                views.push(0);
                nulls.append_null();
            }
        }
    }
    let buffers = if uses_buffer {
        vec![batch.buffer.clone()]
    } else {
        vec![]
    };
    // SAFETY: every view is what `make_view` makes of a cell (`view_at` gives
    // the same, a test compares them), and a cell is
    // UTF-8 (`Own` is a String; an `At` range is a field of a `Batch`, whose
    // fields `Records::finish` checked) of at most 12 bytes, held in the view,
    // or a range of `batch.buffer` (buffer 0, offset and length within it).
    // The null buffer has one entry per view. `StringViewArray::try_new`
    // would check the same cell by cell, at a quarter of the reader's time.
    Ok(unsafe {
        StringViewArray::new_unchecked(ScalarBuffer::from(views), buffers, nulls.finish())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    fn read_all(text: &[u8]) -> Records {
        read_chunked(text, usize::MAX).unwrap()
    }

    /// A source that gives at most `chunk` bytes a read: records cross the
    /// reader's refills.
    struct Trickle(std::io::Cursor<Vec<u8>>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    /// All records of `text` read `chunk` bytes at a time, the first one's
    /// number of fields taken as the header's.
    fn read_chunked(text: &[u8], chunk: usize) -> std::io::Result<Records> {
        let src = Trickle(std::io::Cursor::new(text.to_vec()), chunk);
        let mut rr = RecordReader::new(Box::new(src));
        // tiny buffers: every growth path is taken
        let mut recs = Records::with_capacity(1, 1);
        while rr.read_into(&mut recs)? {
            if recs.at.len() == 1 {
                rr.expect_fields(recs.at.fields(0));
            }
            if recs.last_is_blank() {
                recs.pop();
            }
        }
        Ok(recs)
    }

    /// The records, each with whether it is a line with an unclosed quote.
    fn unclosed(recs: &Records) -> Vec<bool> {
        (0..recs.at.len()).map(|r| recs.at.unclosed(r)).collect()
    }

    fn row(line: u64, fields: &[&str]) -> (u64, Vec<String>) {
        (line, fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn a_quote_not_closed_takes_no_line_away() {
        for chunk in [usize::MAX, 1, 3, 7] {
            // the quote runs to the end of the file: without the check, one
            // record of 2 fields held lines 3 to 5
            let recs = read_chunked(b"a,b,c\n1,p,q\n2,\"x,y\n3,r,s\n4,t,u\n", chunk).unwrap();
            assert_eq!(
                texts(&recs),
                vec![
                    row(1, &["a", "b", "c"]),
                    row(2, &["1", "p", "q"]),
                    row(3, &["2", "x,y"]),
                    row(4, &["3", "r", "s"]),
                    row(5, &["4", "t", "u"]),
                ],
                "chunk {chunk}"
            );
            assert_eq!(unclosed(&recs), [false, false, true, false, false]);

            // every name quoted, line 3's not closed: the next quote (line
            // 4's first) closes it, and the record has the header's 3
            // fields: line 3's "2", then `n2,z⏎3,` + `n3"`, then line 4's
            // "z". Line 4's values would have been taken under line 3's id.
            // With CRLF line ends too.
            for nl in ["\n", "\r\n"] {
                let text = [
                    "a,b,c",
                    "1,\"n1\",z",
                    "2,\"n2,z",
                    "3,\"n3\",z",
                    "4,\"n4\",z",
                    "",
                ]
                .join(nl);
                let recs = read_chunked(text.as_bytes(), chunk).unwrap();
                assert_eq!(
                    texts(&recs),
                    vec![
                        row(1, &["a", "b", "c"]),
                        row(2, &["1", "n1", "z"]),
                        row(3, &["2", "n2,z"]),
                        row(4, &["3", "n3", "z"]),
                        row(5, &["4", "n4", "z"]),
                    ],
                    "chunk {chunk} {nl:?}"
                );
                assert_eq!(unclosed(&recs), [false, false, true, false, false]);
            }

            // the quote opened in the last field: line 3 alone has the
            // header's fields, and is still marked
            let recs = read_chunked(b"a,b,c\n1,p,\"q\n2,r,s\n", chunk).unwrap();
            assert_eq!(
                texts(&recs),
                vec![
                    row(1, &["a", "b", "c"]),
                    row(2, &["1", "p", "q"]),
                    row(3, &["2", "r", "s"])
                ]
            );
            assert_eq!(unclosed(&recs), [false, true, false]);

            // a name over two lines is one record, commas and quotes in it
            // or not, and at the end of the file too
            let recs = read_chunked(
                b"a,b,c\n1,\"multi, \"\"x\"\"\r\nline\",w\n2,p,q\n3,\"m\nl\",\"\"",
                chunk,
            )
            .unwrap();
            assert_eq!(
                texts(&recs),
                vec![
                    row(1, &["a", "b", "c"]),
                    row(2, &["1", "multi, \"x\"\r\nline", "w"]),
                    row(4, &["2", "p", "q"]),
                    row(5, &["3", "m\nl", ""]),
                ]
            );
            assert_eq!(unclosed(&recs), [false, false, false, false]);
        }
    }

    #[test]
    fn a_quote_not_closed_beyond_the_limit_fails_the_read() {
        let mut text = b"a,b\n1,\"x\n".to_vec();
        for i in 0..200 {
            text.extend_from_slice(format!("{i},y\n").as_bytes());
        }
        let src = Trickle(std::io::Cursor::new(text), 16);
        let mut rr = RecordReader::new(Box::new(src));
        rr.max_reread = 1 << 20;
        let mut recs = Records::with_capacity(1, 1);
        assert!(rr.read_into(&mut recs).unwrap());
        rr.expect_fields(2);
        // 1 MiB is more than the file: the lines are read again
        assert!(rr.read_into(&mut recs).unwrap());
        assert!(recs.at.unclosed(1));

        let mut text = b"a,b\n1,\"x\n".to_vec();
        for i in 0..200 {
            text.extend_from_slice(format!("{i},y\n").as_bytes());
        }
        let src = Trickle(std::io::Cursor::new(text), 16);
        let mut rr = RecordReader::new(Box::new(src));
        // a limit of 64 bytes: the record (over 1 000 bytes) is not kept
        rr.max_reread = 64;
        let mut recs = Records::with_capacity(1, 1);
        assert!(rr.read_into(&mut recs).unwrap());
        rr.expect_fields(2);
        let err = rr.read_into(&mut recs).unwrap_err().to_string();
        assert!(
            err.starts_with("line 2: a record holds 201 line breaks and more than 0 MiB"),
            "{err}"
        );
    }

    fn texts(recs: &Records) -> Vec<(u64, Vec<String>)> {
        (0..recs.at.len())
            .map(|r| {
                let fields = (0..recs.at.fields(r))
                    .map(|j| String::from_utf8(recs.field_bytes(r, j).unwrap().to_vec()).unwrap())
                    .collect();
                (recs.at.line(r), fields)
            })
            .collect()
    }

    #[test]
    fn fields_lines_quotes_and_blank_records() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",z\n\n , ,\u{3000}\n2,\"multi\nline\",w\n3,short\n4,长的名字超过十二个字节,v";
        let recs = read_all(text.as_bytes());
        assert_eq!(
            texts(&recs),
            vec![
                (1, vec!["a".into(), "b".into(), "c".into()]),
                (2, vec!["1".into(), "x, \"y\"".into(), "z".into()]),
                (5, vec!["2".into(), "multi\nline".into(), "w".into()]),
                (7, vec!["3".into(), "short".into()]),
                (
                    8,
                    vec!["4".into(), "长的名字超过十二个字节".into(), "v".into()]
                ),
            ]
        );
        assert_eq!(recs.at.field(3, 2), None);
        let batch = recs.finish().ok().unwrap();
        assert_eq!(batch.field_text(2, 1), Some("multi\nline"));
        let col = field_column(&batch, 1).unwrap();
        let got: Vec<Option<&str>> = col.iter().collect();
        assert_eq!(
            got,
            vec![
                Some("b"),
                Some("x, \"y\""),
                Some("multi\nline"),
                Some("short"),
                Some("长的名字超过十二个字节")
            ]
        );
        let col = field_column(&batch, 2).unwrap();
        assert_eq!(col.null_count(), 1);
        // only short cells: the column does not hold the batch's bytes
        assert!(col.data_buffers().is_empty());
        let own = views_column(&batch, |r| {
            Some(Cell::Own(if r == 0 { "2024" } else { "x" }.to_string()))
        })
        .unwrap();
        assert_eq!(own.value(0), "2024");
        assert!(views_column(&batch, |_| Some(Cell::Own("thirteen byte".to_string()))).is_err());
    }

    #[test]
    fn invalid_utf8_is_located() {
        let recs = read_all(b"a,b\n1,2\n3,x\xff\n");
        assert_eq!(recs.at.line(2), 3);
        assert_eq!(
            recs.finish().err().map(|e| (e.record, e.field)),
            Some((2, 1))
        );
        // a character cut by a separator: the fields together are UTF-8
        // ("\xE4\xB8\xAD" is 中), each alone is not
        let recs = read_all(b"a,b\n1,x\xE4\n\xB8\xAD,y\n");
        assert!(std::str::from_utf8(recs.bytes()).is_ok());
        assert_eq!(
            recs.finish().err().map(|e| (e.record, e.field)),
            Some((2, 0))
        );
        let recs = read_all(b"a,b\n1,\"x\xE4\",\"\xB8\xAD\"\n");
        assert_eq!(
            recs.finish().err().map(|e| (e.record, e.field)),
            Some((1, 2))
        );
    }

    #[test]
    fn views_are_those_of_make_view() {
        let bytes: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
        for s in 0..bytes.len() {
            for e in s..bytes.len() {
                assert_eq!(
                    view_at(&bytes, s, e),
                    make_view(&bytes[s..e], 0, s as u32),
                    "{s}..{e}"
                );
            }
        }
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(read_all(b"").at.is_empty());
        assert!(read_all(b"\n\n").at.is_empty());
    }
}
