//! Excel workbooks (.xlsx, .xls) with a title block above the header: the
//! workbook, sheet and row of every row.

use std::collections::BTreeMap;

use calamine::{Data, Reader};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::config::{InputOptions, SheetRef};
use crate::error::{Error, Result};
use crate::input::batch::BATCH_ROWS;
use crate::input::batch::BatchBuilder;
use crate::input::headers::Mapping;
use crate::input::headers::PERIOD;
use crate::input::headers::builtin_aliases;
use crate::input::headers::file_error;
use crate::input::headers::map_header;
use crate::input::headers::normalize_header;
use crate::input::{Format, InputFile, InputSpec};

/// A cell as the text a person sees: whole numbers without `.0`.
pub(crate) fn cell_text(d: &Data) -> Option<String> {
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
pub(crate) struct Sheet {
    pub name: String,
    /// (1-based row number, cells)
    pub rows: Vec<(i64, Vec<Option<String>>)>,
}

/// Limits on a workbook: a damaged or hostile file must not exhaust memory.
pub(crate) const MAX_SHEET_COLUMNS: u32 = 1000;
pub(crate) const MAX_SHEET_CELLS: usize = 50_000_000;

pub(crate) fn data_ref_text(d: &calamine::DataRef<'_>) -> Option<String> {
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

pub(crate) fn choose_sheet(
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
pub(crate) fn read_xlsx(file: &InputFile) -> std::result::Result<Sheet, String> {
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&file.local)
        .map_err(|e| format!("not a readable Excel workbook ({e}): a download or copy cut off, or not a workbook at all (an error page saved as .xlsx); export it again"))?;
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
pub(crate) fn cfb_precheck(bytes: &[u8]) -> std::result::Result<(), String> {
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
pub(crate) fn read_xls(file: &InputFile) -> std::result::Result<Sheet, String> {
    if file.format == Format::Xls {
        let bytes = std::fs::read(&file.local).map_err(|e| format!("cannot read: {e}"))?;
        cfb_precheck(&bytes)?;
    }
    let mut wb = calamine::open_workbook_auto(&file.local)
        .map_err(|e| format!("not a readable Excel workbook ({e}): a download or copy cut off, or not a workbook at all (an error page saved as .xlsx); export it again"))?;
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

pub(crate) fn read_sheet(spec: InputSpec, file: &InputFile) -> Result<Sheet> {
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
pub(crate) fn find_header(spec: InputSpec, file: &InputFile, sheet: &Sheet) -> Result<usize> {
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
pub(crate) fn map_header_count(
    spec: InputSpec,
    header: &[String],
    options: &InputOptions,
) -> usize {
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

pub(crate) struct ExcelBatches {
    spec: InputSpec,
    shown: String,
    mapping: Mapping,
    rows: std::vec::IntoIter<(i64, Vec<Option<String>>)>,
    schema: SchemaRef,
}

/// The header of a workbook's sheet (checked when the inputs are fetched).
pub(crate) fn excel_header(
    spec: InputSpec,
    file: &InputFile,
) -> Result<(String, usize, Vec<String>)> {
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
    pub(crate) fn open(spec: InputSpec, f: &InputFile, schema: SchemaRef) -> Result<Self> {
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
