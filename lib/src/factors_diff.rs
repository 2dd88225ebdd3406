//! `carbonstat factors diff <a> <b>`: which factor rows changed between two
//! sets, and (`--impact`) how every region's indicators move when the same
//! inputs are computed with each — the what-if a bureau runs when the grid
//! factors of a new year are published.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::Serialize;

use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::pipeline::{RunOptions, collect, compute, load_all, work_dir};

/// The key columns of each table: rows with the same key are "the same row".
const KEYS: &[(&str, &[&str])] = &[
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

fn read_rows(set: &FactorSet, table: &str) -> Result<Vec<Row>> {
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

/// How one region's indicator moves from set a to set b.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    pub region_code: String,
    pub region_name: String,
    pub year: i32,
    pub indicator: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b / a − 1
    pub change: Option<f64>,
}

pub const IMPACT_INDICATORS: &[&str] = &[
    "energy_tce",
    "energy_tce_controlled",
    "co2_t",
    "energy_intensity",
    "energy_intensity_controlled",
    "co2_intensity",
    "coal_share",
    "non_fossil_share",
];

type Values = BTreeMap<(String, i32), (String, Vec<Option<f64>>)>;

async fn indicators(cfg: &LoadedConfig, factors_location: &str) -> Result<Values> {
    let mut cfg = cfg.clone();
    cfg.config.factors = factors_location.to_string();
    let work = work_dir(&cfg)?;
    let (factors, inputs) = load_all(&cfg, work.path()).await?;
    let c = compute(&cfg, factors, inputs, &RunOptions::default()).await?;
    let sql = format!(
        "SELECT region_code, region_name, year, {} FROM region_indicators ORDER BY region_code, year",
        IMPACT_INDICATORS.join(", ")
    );
    let mut out = Values::new();
    for b in collect(&c.ctx, &sql).await? {
        let codes = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let names = datafusion::arrow::compute::cast(b.column(1), &DataType::Utf8)?;
        let years = datafusion::arrow::compute::cast(b.column(2), &DataType::Float64)?;
        let (codes, names, years) = (
            codes.as_string::<i32>(),
            names.as_string::<i32>(),
            years.as_primitive::<Float64Type>(),
        );
        let cols: Vec<_> = (0..IMPACT_INDICATORS.len())
            .map(|i| datafusion::arrow::compute::cast(b.column(3 + i), &DataType::Float64))
            .collect::<std::result::Result<_, _>>()?;
        for r in 0..b.num_rows() {
            let vals = cols
                .iter()
                .map(|c| {
                    let c = c.as_primitive::<Float64Type>();
                    (!c.is_null(r)).then(|| c.value(r))
                })
                .collect();
            out.insert(
                (codes.value(r).to_string(), years.value(r) as i32),
                (names.value(r).to_string(), vals),
            );
        }
    }
    Ok(out)
}

/// Compute the config's inputs with set `a` and with set `b`; every indicator
/// that moves, region by region and year by year.
pub async fn impact(cfg: &LoadedConfig, a: &str, b: &str) -> Result<Vec<Impact>> {
    let va = indicators(cfg, a).await?;
    let vb = indicators(cfg, b).await?;
    let mut out = Vec::new();
    for (key, (name, xs)) in &va {
        let Some((_, ys)) = vb.get(key) else { continue };
        for (i, ind) in IMPACT_INDICATORS.iter().enumerate() {
            if xs[i] != ys[i] {
                out.push(Impact {
                    region_code: key.0.clone(),
                    region_name: name.clone(),
                    year: key.1,
                    indicator: ind.to_string(),
                    a: xs[i],
                    b: ys[i],
                    change: match (xs[i], ys[i]) {
                        (Some(x), Some(y)) if x != 0.0 => Some(y / x - 1.0),
                        _ => None,
                    },
                });
            }
        }
    }
    Ok(out)
}
