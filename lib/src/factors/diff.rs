//! `carbonstat factors diff <a> <b>`: which factor rows changed between two
//! sets, and (`--impact`) how every region's indicators move when the same
//! inputs are computed with each — the what-if a bureau runs when the grid
//! factors of a new year are published.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::factors::FactorSet;

/// The key columns of each table: rows with the same key are "the same row".
pub(crate) const KEYS: &[(&str, &[&str])] = &[
    ("sources", &["source_id"]),
    ("energy_catalog", &["energy_code"]),
    ("units", &["unit"]),
    ("standard_coal", &["energy_code"]),
    ("combustion_co2", &["energy_code"]),
    ("grid_factors", &["scope", "area_code", "data_year"]),
    ("grid_regions", &["province_code"]),
    ("heat_factors", &["data_year"]),
    ("generation_coal_rate", &["data_year"]),
    ("high_energy_sectors", &["division"]),
    ("special_sectors", &["sector_code"]),
];

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

pub(crate) fn read_rows(set: &FactorSet, table: &str) -> Result<Vec<Row>> {
    let path = set.dir.join(&set.meta.files[table]);
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| Error::FactorSet {
            dir: set.dir.display().to_string(),
            message: format!("{}: {e}", path.display()),
        })?;
    let headers = r
        .headers()
        .map_err(|e| Error::Internal(e.to_string()))?
        .clone();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::Internal(e.to_string()))?;
        out.push(
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        );
    }
    Ok(out)
}

/// Row-level differences between two loaded sets.
pub fn diff_sets(a: &FactorSet, b: &FactorSet) -> Result<SetDiff> {
    let mut tables = Vec::new();
    for (table, keys) in KEYS {
        let key_of = |r: &Row| {
            keys.iter()
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
            table: table.to_string(),
            added: vec![],
            removed: vec![],
            changed: vec![],
        };
        for (k, row) in &rb {
            match ra.get(k) {
                None => d.added.push(row.clone()),
                Some(old) if old != row => {
                    let fields = old
                        .keys()
                        .chain(row.keys())
                        .filter(|c| old.get(*c) != row.get(*c))
                        .map(|c| {
                            (
                                c.clone(),
                                (
                                    old.get(c).cloned().unwrap_or_default(),
                                    row.get(c).cloned().unwrap_or_default(),
                                ),
                            )
                        })
                        .collect();
                    d.changed.push(Changed {
                        key: k.clone(),
                        fields,
                    });
                }
                _ => {}
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
