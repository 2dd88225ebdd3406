//! `carbonstat factors diff <a> <b>`: which factor rows changed between two
//! sets, and (`--impact`) how every region's indicators move when the same
//! inputs are computed with each — the what-if a bureau runs when the grid
//! factors of a new year are published.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::factors::{FactorSet, TABLES, TableInfo};

pub type Row = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Changed {
    pub key: String,
    /// column → (old, new), changed columns only
    pub fields: BTreeMap<String, (String, String)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableDiff {
    pub table: String,
    pub added: Vec<Row>,
    pub removed: Vec<Row>,
    pub changed: Vec<Changed>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetDiff {
    pub a: String,
    pub b: String,
    pub a_id: String,
    pub b_id: String,
    pub tables: Vec<TableDiff>,
}

impl SetDiff {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// A table's rows as text, column → value, under the canonical column names
/// (a header alias such as grid_regions' `area_code` reads as `province_code`,
/// so sets spelling the header either way pair their rows) and with the
/// defaults of optional columns filled in.
pub(crate) fn read_rows(set: &FactorSet, table: &TableInfo) -> Result<Vec<Row>> {
    let Some(file) = set.meta.files.get(table.name) else {
        // an optional table the set leaves out has no rows
        return Ok(Vec::new());
    };
    let path = set.dir.join(file);
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| Error::FactorSet {
            dir: set.dir.display().to_string(),
            message: format!("{}: {e}", path.display()),
        })?;
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| Error::Internal(e.to_string()))?
        .iter()
        .map(|h| {
            table
                .header_aliases
                .iter()
                .find(|(alias, _)| *alias == h)
                .map_or(h, |(_, column)| *column)
                .to_string()
        })
        .collect();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::Internal(e.to_string()))?;
        let mut row: Row = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        // an optional column left out means its default: a set that spells
        // the default out does not differ from one that omits it
        for (column, value) in table.defaults {
            let v = row.entry(column.to_string()).or_default();
            if v.is_empty() {
                *v = value.to_string();
            }
        }
        out.push(row);
    }
    Ok(out)
}

/// Row-level differences between two loaded sets.
pub fn diff_sets(a: &FactorSet, b: &FactorSet) -> Result<SetDiff> {
    let mut tables = Vec::new();
    for table in TABLES {
        let key_of = |r: &Row| {
            table
                .key
                .iter()
                .map(|k| r.get(*k).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("/")
        };
        let ra: BTreeMap<String, Row> = read_rows(a, table)?
            .into_iter()
            .map(|r| (key_of(&r), r))
            .collect();
        let rb: BTreeMap<String, Row> = read_rows(b, table)?
            .into_iter()
            .map(|r| (key_of(&r), r))
            .collect();
        let mut d = TableDiff {
            table: table.name.to_string(),
            added: vec![],
            removed: vec![],
            changed: vec![],
        };
        for (k, row) in &rb {
            match ra.get(k) {
                None => d.added.push(row.clone()),
                Some(old) => {
                    // a column one set lacks (an optional one) reads as empty
                    let value = |r: &Row, c: &str| r.get(c).cloned().unwrap_or_default();
                    let fields: BTreeMap<String, (String, String)> = old
                        .keys()
                        .chain(row.keys())
                        .filter(|c| value(old, c) != value(row, c))
                        .map(|c| (c.clone(), (value(old, c), value(row, c))))
                        .collect();
                    if !fields.is_empty() {
                        d.changed.push(Changed {
                            key: k.clone(),
                            fields,
                        });
                    }
                }
            }
        }
        for (k, row) in &ra {
            if !rb.contains_key(k) {
                d.removed.push(row.clone());
            }
        }
        if !(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty()) {
            tables.push(d);
        }
    }
    Ok(SetDiff {
        a: a.dir.display().to_string(),
        b: b.dir.display().to_string(),
        a_id: a.meta.id.clone(),
        b_id: b.meta.id.clone(),
        tables,
    })
}

pub fn diff_dirs(a: &Path, b: &Path) -> Result<SetDiff> {
    diff_sets(&FactorSet::load(a)?, &FactorSet::load(b)?)
}
