//! Factor sets: versioned directories of CSV tables with the national
//! coefficients and emission factors (see `factors/<id>/factor-set.yaml`).
//!
//! A factor set is data, never code: the pipeline reads every coefficient from
//! here, so an auditor can point at the row (and its `source_id` and `quality`)
//! behind any number. [`FactorSet::check`] is the self-check that
//! `carbonstat factors check` runs and that `run` requires to pass: it catches a
//! coefficient that does not match its calorific value, a CO2 factor that does
//! not equal NCV × carbon × oxidation × 44/12, missing rows and duplicate keys.

pub(crate) mod check;
pub(crate) mod diff;
pub(crate) mod register;
#[cfg(test)]
mod table_tests;
pub(crate) mod tables;

pub use diff::{SetDiff, diff_dirs, diff_sets};
pub use tables::{
    Category, Co2Method, CoalRateSeries, CombustionRow, EnergyRow, FactorSetMeta,
    GenerationRateRow, GridFactorRow, GridRegionRow, GridScope, HeatFactorRow, HighEnergyRow,
    NcvBasis, ProcessFactorRow, Quality, SectorCombustionRow, SectorGroup, SectorGroupRow,
    SinkFactorRow, SourceRow, SpecialSectorRow, StandardCoalRow, TceMethod, UnitRow,
};
pub use tables::{Comparator, CriterionRow, CriterionScope, Ecosystem};

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use tables::FactorTable;

/// Energy codes every factor set must define (DESIGN.md).
pub const REQUIRED_ENERGY_CODES: &[&str] = &[
    "raw_coal",
    "washed_coal",
    "coke",
    "crude_oil",
    "gasoline",
    "kerosene",
    "diesel",
    "fuel_oil",
    "lpg",
    "refinery_gas",
    "natural_gas",
    "coke_oven_gas",
    "blast_furnace_gas",
    "electricity",
    "heat",
    "hydro_power",
    "wind_power",
    "solar_power",
    "nuclear_power",
    "biomass",
];

/// kJ in one kilogram of coal equivalent (GB/T 2589).
pub const KJ_PER_KGCE: f64 = 29_307.0;

/// One file of the set with its content hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FactorFile {
    pub name: String,
    pub sha256: String,
}

/// A problem the self-check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// The tables of a factor set, declared once as (field of [`FactorSet`]: row
/// type). The struct, the loader, the duplicate-key and source checks,
/// `factors diff` and the session registration all follow this list; what
/// each table is (file key, key columns, registration) is its row type's
/// [`FactorTable`] impl.
macro_rules! factor_tables {
    ($( $(#[$doc:meta])* $field:ident: $row:ty, )+) => {
        /// A loaded factor set.
        #[derive(Debug, Clone)]
        pub struct FactorSet {
            pub dir: PathBuf,
            pub meta: FactorSetMeta,
            $( $(#[$doc])* pub $field: Vec<$row>, )+
            /// Every file in the directory with its sha256, sorted by name.
            pub files: Vec<FactorFile>,
            /// sha256 over the sorted (name, sha256) list: the identity of the content.
            pub hash: String,
        }

        /// Every table, in the order of `factor_tables!`.
        pub(crate) const TABLES: &[TableInfo] = &[$( TableInfo::of::<$row>(), )+];

        impl FactorSet {
            fn read_tables(
                dir: &Path,
                meta: FactorSetMeta,
                files: Vec<FactorFile>,
                hash: String,
            ) -> Result<Self> {
                Ok(FactorSet {
                    $( $field: match meta.files.get(<$row as FactorTable>::NAME) {
                        Some(file) => read_csv(&dir.join(file), dir)?,
                        // an optional table the set leaves out
                        None => Vec::new(),
                    }, )+
                    dir: dir.to_path_buf(),
                    meta,
                    files,
                    hash,
                })
            }

            /// Every table's rows, in the order of [`TABLES`].
            pub(crate) fn tables(&self) -> Vec<&dyn Table> {
                vec![$( &self.$field as &dyn Table, )+]
            }
        }
    };
}

factor_tables! {
    sources: SourceRow,
    energy: EnergyRow,
    units: UnitRow,
    standard_coal: StandardCoalRow,
    combustion: CombustionRow,
    grid_factors: GridFactorRow,
    grid_regions: GridRegionRow,
    heat_factors: HeatFactorRow,
    generation_rate: GenerationRateRow,
    high_energy: HighEnergyRow,
    special_sectors: SpecialSectorRow,
    /// Optional: industrial process CO2 per product.
    process_factors: ProcessFactorRow,
    /// Optional: growing-stock defaults of carbon sinks.
    sink_factors: SinkFactorRow,
    /// Optional: GB/T 4754 divisions to sector groups.
    sector_groups: SectorGroupRow,
    /// Optional: thresholds of key units, key emitters and zero-carbon parks.
    criteria: CriterionRow,
    /// Optional: a sector's own oxidation rate of an energy (power plants' coal).
    sector_combustion: SectorCombustionRow,
}

/// A table's [`FactorTable`] constants, for code that walks every table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableInfo {
    pub(crate) name: &'static str,
    pub(crate) key: &'static [&'static str],
    pub(crate) header_aliases: &'static [(&'static str, &'static str)],
    pub(crate) defaults: &'static [(&'static str, &'static str)],
    pub(crate) optional: bool,
}

impl TableInfo {
    const fn of<T: FactorTable>() -> Self {
        TableInfo {
            name: T::NAME,
            key: T::KEY,
            header_aliases: T::HEADER_ALIASES,
            defaults: T::DEFAULTS,
            optional: T::OPTIONAL,
        }
    }
}

/// The loaded rows of one table, whatever their type.
pub(crate) trait Table {
    fn info(&self) -> TableInfo;
    /// Each row's key, in file order.
    fn keys(&self) -> Vec<String>;
    /// Each row's source_id, for tables whose rows cite one.
    fn source_ids(&self) -> Vec<&str>;
    fn register(&self, set: &FactorSet, ctx: &SessionContext) -> Result<()>;
}

impl<T: FactorTable> Table for Vec<T> {
    fn info(&self) -> TableInfo {
        TableInfo::of::<T>()
    }
    fn keys(&self) -> Vec<String> {
        self.iter().map(FactorTable::key).collect()
    }
    fn source_ids(&self) -> Vec<&str> {
        self.iter().filter_map(FactorTable::source_id).collect()
    }
    fn register(&self, set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        T::register(set, ctx)
    }
}

impl FactorSet {
    /// Load a factor set directory. Malformed files fail here with file, line
    /// and what is wrong; consistency problems are reported by [`Self::check`].
    pub fn load(dir: &Path) -> Result<Self> {
        let err = |message: String| Error::FactorSet {
            dir: dir.display().to_string(),
            message,
        };
        let meta_path = dir.join("factor-set.yaml");
        let meta_raw = std::fs::read_to_string(&meta_path).map_err(|e| {
            err(format!(
                "cannot read {}: {e}; a factor set is a directory with a factor-set.yaml",
                meta_path.display()
            ))
        })?;
        let meta: FactorSetMeta =
            serde_saphyr::from_str(&meta_raw).map_err(|e| err(format!("factor-set.yaml: {e}")))?;
        for t in TABLES.iter().filter(|t| !t.optional).map(|t| t.name) {
            if !meta.files.contains_key(t) {
                return Err(err(format!(
                    "factor-set.yaml: files.{t} is missing; every set names its {t} table"
                )));
            }
        }
        if let Some(extra) = meta
            .files
            .keys()
            .find(|k| !TABLES.iter().any(|t| t.name == k.as_str()))
        {
            return Err(err(format!(
                "factor-set.yaml: files.{extra} is not a known table (known: {})",
                TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            )));
        }
        let files = hash_dir(dir)?;
        let hash = set_hash(&files);
        Self::read_tables(dir, meta, files, hash)
    }

    /// Load and require the self-check to pass.
    pub fn load_checked(dir: &Path) -> Result<Self> {
        let set = Self::load(dir)?;
        let findings = set.check();
        if findings.is_empty() {
            Ok(set)
        } else {
            Err(Error::FactorSet {
                dir: dir.display().to_string(),
                message: format!(
                    "the set fails its self-check ({} problems; `carbonstat factors check {}` lists them):\n  {}",
                    findings.len(),
                    dir.display(),
                    findings
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ),
            })
        }
    }

    pub(crate) fn file_name(&self, table: &str) -> String {
        self.meta
            .files
            .get(table)
            .cloned()
            .unwrap_or_else(|| format!("({table}: not in this set)"))
    }

    /// tonnes of standard coal per base unit of a `coefficient`-method energy.
    pub fn tce_per_base_unit(&self, energy_code: &str) -> Option<f64> {
        let energy = self.energy.iter().find(|e| e.energy_code == energy_code)?;
        let row = self
            .standard_coal
            .iter()
            .find(|r| r.energy_code == energy_code)?;
        per_base_unit(
            &self.units,
            &row.coefficient_unit,
            "kgce",
            &energy.base_unit,
        )
        .map(|f| row.coefficient * f)
    }

    /// tonnes of CO2 per base unit of a combustion-method energy.
    pub fn co2_per_base_unit(&self, energy_code: &str) -> Option<f64> {
        let row = self
            .combustion
            .iter()
            .find(|r| r.energy_code == energy_code)?;
        self.tco2_per_base_unit(energy_code, row.co2_factor, &row.co2_factor_unit)
    }

    /// The sector row of a combustion-method energy, if the set has one, and
    /// its tonnes of CO2 per base unit.
    pub fn sector_co2_per_base_unit(
        &self,
        energy_code: &str,
    ) -> Option<(&SectorCombustionRow, f64)> {
        let row = self
            .sector_combustion
            .iter()
            .find(|r| r.energy_code == energy_code)?;
        self.tco2_per_base_unit(energy_code, row.co2_factor, &row.co2_factor_unit)
            .map(|f| (row, f))
    }

    /// A CO2 factor given in `unit` (kgCO2 per some unit) as tonnes per
    /// base unit of the energy.
    fn tco2_per_base_unit(&self, energy_code: &str, factor: f64, unit: &str) -> Option<f64> {
        let energy = self.energy.iter().find(|e| e.energy_code == energy_code)?;
        per_base_unit(&self.units, unit, "kgCO2", &energy.base_unit).map(|f| factor * f)
    }

    /// GJ of calorific value per base unit of an energy that has a
    /// standard-coal row (its ncv in kJ/<unit of the base unit's dimension>):
    /// what turns a quantity of a heat-type energy into the GJ the heat
    /// factor is per.
    pub fn gj_per_base_unit(&self, energy_code: &str) -> Option<f64> {
        let energy = self.energy.iter().find(|e| e.energy_code == energy_code)?;
        let row = self
            .standard_coal
            .iter()
            .find(|r| r.energy_code == energy_code)?;
        let den = row.ncv_unit.strip_prefix("kJ/")?;
        let den = self.units.iter().find(|u| u.unit == den)?;
        let base = self.units.iter().find(|u| u.unit == energy.base_unit)?;
        if den.dimension != base.dimension {
            return None;
        }
        // kJ/den × (base.to_base / den.to_base) den per base ÷ 10^6 kJ per GJ
        Some(row.ncv * base.to_base / den.to_base / 1e6)
    }

    /// (lower-cased alias, energy code), the code itself included.
    pub fn energy_aliases(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for e in &self.energy {
            out.push((normalize_alias(&e.energy_code), e.energy_code.as_str()));
            out.push((normalize_alias(&e.name_zh), e.energy_code.as_str()));
            for a in split_aliases(&e.aliases) {
                out.push((normalize_alias(a), e.energy_code.as_str()));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// (lower-cased alias, product_code) of process_factors, the code and the
    /// Chinese name included.
    pub fn product_aliases(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for p in &self.process_factors {
            out.push((normalize_alias(&p.product_code), p.product_code.as_str()));
            out.push((normalize_alias(&p.name_zh), p.product_code.as_str()));
            for a in split_aliases(&p.aliases) {
                out.push((normalize_alias(a), p.product_code.as_str()));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// (lower-cased alias, unit), the unit itself included.
    pub fn unit_aliases(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for u in &self.units {
            out.push((normalize_alias(&u.unit), u.unit.as_str()));
            for a in split_aliases(&u.aliases) {
                out.push((normalize_alias(a), u.unit.as_str()));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// How many base units one `<numerator>/<denominator>` value is worth, in
/// tonnes of the numerator: `kgce/kg` on base unit `t` gives 1 (kgce/kg = tce/t),
/// `kgce/m3` on base unit `m3` gives 0.001.
pub(crate) fn per_base_unit(
    units: &[UnitRow],
    unit: &str,
    numerator: &str,
    base_unit: &str,
) -> Option<f64> {
    let (num, den) = unit.split_once('/')?;
    if num != numerator {
        return None;
    }
    let den = units.iter().find(|u| u.unit == den)?;
    let base = units.iter().find(|u| u.unit == base_unit)?;
    if den.dimension != base.dimension {
        return None;
    }
    // value [kg X / den] → t X / base: × (base.to_base / den.to_base) den per base / 1000 kg per t
    Some(base.to_base / den.to_base / 1000.0)
}

pub(crate) fn normalize_alias(s: &str) -> String {
    s.trim().to_lowercase()
}

pub(crate) fn split_aliases(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|a| !a.is_empty())
}

pub(crate) fn read_csv<T: DeserializeOwned>(path: &Path, dir: &Path) -> Result<Vec<T>> {
    let err = |message: String| Error::FactorSet {
        dir: dir.display().to_string(),
        message,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(format!("cannot read {name}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| err(format!("cannot read {name}: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = |e: &csv::Error| e.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
        let rec = rec.map_err(|e| err(format!("{name} line {}: {e}", line(&e))))?;
        let e = match rec.deserialize::<T>(Some(&headers)) {
            Ok(r) => {
                rows.push(r);
                continue;
            }
            Err(e) => e,
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
        let csv::ErrorKind::Deserialize { err: de, .. } = e.kind() else {
            return Err(err(format!("{name} line {line}: {e}")));
        };
        // name the column: serde reports an unknown enum value (a method,
        // scope or quality, with the allowed ones) without its field
        let message = de.kind().to_string();
        let column = de.field().map(|f| f as usize).or_else(|| {
            let value = message
                .strip_prefix("unknown variant `")?
                .split('`')
                .next()?;
            let mut at = rec.iter().enumerate().filter(|(_, v)| *v == value);
            match (at.next(), at.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        });
        let column = column
            .and_then(|f| headers.get(f))
            .map(|h| format!(", column {h}"))
            .unwrap_or_default();
        return Err(err(format!("{name} line {line}{column}: {message}")));
    }
    Ok(rows)
}

pub(crate) fn hash_dir(dir: &Path) -> Result<Vec<FactorFile>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::FactorSet {
        dir: dir.display().to_string(),
        message: format!("cannot list the directory: {e}"),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
        if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .map_err(|e| Error::io(entry.path().display().to_string(), e))?;
        files.push(FactorFile {
            name: entry.file_name().to_string_lossy().to_string(),
            sha256: sha256_hex(&bytes),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

pub(crate) fn set_hash(files: &[FactorFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.name.as_bytes());
        h.update(b"\t");
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {

    use super::*;

    fn shipped() -> FactorSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../factors/cn-2024");
        FactorSet::load(&dir).unwrap()
    }

    #[test]
    fn shipped_set_passes_its_self_check() {
        let set = shipped();
        let findings = set.check();
        assert!(findings.is_empty(), "{findings:#?}");
        assert_eq!(set.meta.id, "cn-2024");
        assert_eq!(set.hash.len(), 64);
    }

    #[test]
    fn coefficients_convert_to_base_units() {
        let set = shipped();
        // raw coal 0.7143 kgce/kg = 0.7143 tce/t
        assert!((set.tce_per_base_unit("raw_coal").unwrap() - 0.7143).abs() < 1e-12);
        // natural gas 1.3300 kgce/m3 = 0.00133 tce/m3
        assert!((set.tce_per_base_unit("natural_gas").unwrap() - 0.00133).abs() < 1e-15);
        // heat 0.03412 kgce/MJ = 34.12 kgce/GJ = 0.03412 tce/GJ
        assert!((set.tce_per_base_unit("heat").unwrap() - 0.03412).abs() < 1e-12);
        // electricity 0.1229 kgce/kWh = 0.0001229 tce/kWh
        assert!((set.tce_per_base_unit("electricity").unwrap() - 0.0001229).abs() < 1e-15);
        // raw coal 1.9003 kgCO2/kg = 1.9003 tCO2/t; natural gas 2.1622 kg/m3 = 0.0021622 t/m3
        assert!((set.co2_per_base_unit("raw_coal").unwrap() - 1.9003).abs() < 1e-12);
        assert!((set.co2_per_base_unit("natural_gas").unwrap() - 0.0021622).abs() < 1e-15);
    }

    #[test]
    fn check_catches_a_mismatched_coefficient_and_co2_factor() {
        let mut set = shipped();
        // the gas-field value 1.2143 with the oil-field NCV 38 931: 1.2143 vs 1.3284 is 8.6 % off
        set.standard_coal
            .iter_mut()
            .find(|r| r.energy_code == "natural_gas")
            .unwrap()
            .coefficient = 1.2143;
        set.combustion
            .iter_mut()
            .find(|r| r.energy_code == "diesel")
            .unwrap()
            .co2_factor = 3.2;
        let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
        assert!(
            f.iter()
                .any(|m| m.contains("natural_gas: coefficient 1.2143")),
            "{f:?}"
        );
        assert!(
            f.iter().any(|m| m.contains("diesel: CO2 factor 3.2")),
            "{f:?}"
        );
    }

    #[test]
    fn check_catches_missing_codes_duplicates_and_unknown_sources() {
        let mut set = shipped();
        set.energy.retain(|e| e.energy_code != "biomass");
        let dup = set.grid_factors[0].clone();
        set.grid_factors.push(dup);
        set.heat_factors[0].source_id = "nowhere".into();
        let f: Vec<String> = set.check().iter().map(ToString::to_string).collect();
        assert!(
            f.iter().any(|m| m.contains("'biomass' is missing")),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|m| m.contains("duplicate scope/area_code/data_year")),
            "{f:?}"
        );
        assert!(f.iter().any(|m| m.contains("source_id 'nowhere'")), "{f:?}");
    }

    #[test]
    fn aliases_resolve_chinese_names() {
        let set = shipped();
        let ea = set.energy_aliases();
        assert!(ea.contains(&("原煤".to_string(), "raw_coal")));
        assert!(ea.contains(&("electricity".to_string(), "electricity")));
        let ua = set.unit_aliases();
        assert!(ua.contains(&("万千瓦时".to_string(), "10^4 kWh")));
        assert!(ua.contains(&("kwh".to_string(), "kWh")));
    }
}
