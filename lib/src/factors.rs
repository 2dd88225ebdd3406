//! Factor sets: versioned directories of CSV tables with the national
//! coefficients and emission factors (see `factors/<id>/factor-set.yaml`).
//!
//! A factor set is data, never code: the pipeline reads every coefficient from
//! here, so an auditor can point at the row (and its `source_id` and `quality`)
//! behind any number. [`FactorSet::check`] is the self-check that
//! `carbonstat factors check` runs and that `run` requires to pass: it catches a
//! coefficient that does not match its calorific value, a CO2 factor that does
//! not equal NCV × carbon × oxidation × 44/12, missing rows and duplicate keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

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
/// A standard-coal coefficient may differ from NCV / 29 307 by this much.
const COEFFICIENT_TOLERANCE: f64 = 0.01;
/// A CO2 factor must equal NCV × carbon × oxidation × 44/12 within this (4-digit rounding).
const CO2_TOLERANCE: f64 = 0.0005;

const CATEGORIES: &[&str] = &["coal", "oil", "gas", "electricity", "heat", "non_fossil"];
const QUALITIES: &[&str] = &["primary", "secondary", "memory"];
const GRID_SCOPES: &[&str] = &["national", "regional", "provincial"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorSetMeta {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceRow {
    pub source_id: String,
    pub citation: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnergyRow {
    pub energy_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub fossil: bool,
    pub base_unit: String,
    /// `coefficient` (standard_coal.csv) or `electricity` (the configured valuation).
    pub tce_method: String,
    /// `combustion`, `grid`, `heat` or `none`.
    pub co2_method: String,
    pub aliases: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitRow {
    pub unit: String,
    pub dimension: String,
    pub to_base: f64,
    pub aliases: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StandardCoalRow {
    pub energy_code: String,
    pub coefficient: f64,
    pub coefficient_unit: String,
    pub ncv: f64,
    pub ncv_unit: String,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CombustionRow {
    pub energy_code: String,
    pub ncv: f64,
    pub ncv_unit: String,
    /// tC/TJ
    pub carbon_content: f64,
    pub oxidation: f64,
    pub co2_factor: f64,
    pub co2_factor_unit: String,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridFactorRow {
    pub scope: String,
    pub area_code: String,
    pub area_name: String,
    pub data_year: i32,
    pub tco2_per_mwh: f64,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridRegionRow {
    pub province_code: String,
    pub province_name: String,
    pub grid_region: String,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeatFactorRow {
    pub data_year: i32,
    pub tco2_per_gj: f64,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerationRateRow {
    pub data_year: i32,
    pub kgce_per_kwh: f64,
    pub source_id: String,
    pub quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HighEnergyRow {
    pub division: String,
    pub name_zh: String,
    pub name_en: String,
    pub source_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecialSectorRow {
    pub sector_code: String,
    pub name_zh: String,
    pub name_en: String,
    pub source_id: String,
}

/// One file of the set with its content hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FactorFile {
    pub name: String,
    pub sha256: String,
}

/// A loaded factor set.
#[derive(Debug, Clone)]
pub struct FactorSet {
    pub dir: PathBuf,
    pub meta: FactorSetMeta,
    pub sources: Vec<SourceRow>,
    pub energy: Vec<EnergyRow>,
    pub units: Vec<UnitRow>,
    pub standard_coal: Vec<StandardCoalRow>,
    pub combustion: Vec<CombustionRow>,
    pub grid_factors: Vec<GridFactorRow>,
    pub grid_regions: Vec<GridRegionRow>,
    pub heat_factors: Vec<HeatFactorRow>,
    pub generation_rate: Vec<GenerationRateRow>,
    pub high_energy: Vec<HighEnergyRow>,
    pub special_sectors: Vec<SpecialSectorRow>,
    /// Every file in the directory with its sha256, sorted by name.
    pub files: Vec<FactorFile>,
    /// sha256 over the sorted (name, sha256) list: the identity of the content.
    pub hash: String,
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

const TABLES: &[&str] = &[
    "sources",
    "energy_catalog",
    "units",
    "standard_coal",
    "combustion_co2",
    "grid_factors",
    "grid_regions",
    "heat_factors",
    "generation_coal_rate",
    "high_energy_sectors",
    "special_sectors",
];

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
        for t in TABLES {
            if !meta.files.contains_key(*t) {
                return Err(err(format!(
                    "factor-set.yaml: files.{t} is missing; every set names its {t} table"
                )));
            }
        }
        if let Some(extra) = meta.files.keys().find(|k| !TABLES.contains(&k.as_str())) {
            return Err(err(format!(
                "factor-set.yaml: files.{extra} is not a known table (known: {})",
                TABLES.join(", ")
            )));
        }
        let file = |t: &str| dir.join(&meta.files[t]);
        let files = hash_dir(dir)?;
        let hash = set_hash(&files);
        Ok(FactorSet {
            sources: read_csv(&file("sources"), dir)?,
            energy: read_csv(&file("energy_catalog"), dir)?,
            units: read_csv(&file("units"), dir)?,
            standard_coal: read_csv(&file("standard_coal"), dir)?,
            combustion: read_csv(&file("combustion_co2"), dir)?,
            grid_factors: read_csv(&file("grid_factors"), dir)?,
            grid_regions: read_csv(&file("grid_regions"), dir)?,
            heat_factors: read_csv(&file("heat_factors"), dir)?,
            generation_rate: read_csv(&file("generation_coal_rate"), dir)?,
            high_energy: read_csv(&file("high_energy_sectors"), dir)?,
            special_sectors: read_csv(&file("special_sectors"), dir)?,
            dir: dir.to_path_buf(),
            meta,
            files,
            hash,
        })
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

    fn file_name(&self, table: &str) -> String {
        self.meta.files[table].clone()
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
        let energy = self.energy.iter().find(|e| e.energy_code == energy_code)?;
        let row = self
            .combustion
            .iter()
            .find(|r| r.energy_code == energy_code)?;
        per_base_unit(
            &self.units,
            &row.co2_factor_unit,
            "kgCO2",
            &energy.base_unit,
        )
        .map(|f| row.co2_factor * f)
    }

    /// Every consistency problem of the set; empty when it is sound.
    pub fn check(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut add = |table: &str, message: String| {
            out.push(Finding {
                file: self.file_name(table),
                message,
            })
        };

        // duplicate keys
        dup_check(
            self.sources.iter().map(|r| r.source_id.clone()),
            "source_id",
            |m| add("sources", m),
        );
        dup_check(
            self.energy.iter().map(|r| r.energy_code.clone()),
            "energy_code",
            |m| add("energy_catalog", m),
        );
        dup_check(self.units.iter().map(|r| r.unit.clone()), "unit", |m| {
            add("units", m)
        });
        dup_check(
            self.standard_coal.iter().map(|r| r.energy_code.clone()),
            "energy_code",
            |m| add("standard_coal", m),
        );
        dup_check(
            self.combustion.iter().map(|r| r.energy_code.clone()),
            "energy_code",
            |m| add("combustion_co2", m),
        );
        dup_check(
            self.grid_factors
                .iter()
                .map(|r| format!("{}/{}/{}", r.scope, r.area_code, r.data_year)),
            "scope/area_code/data_year",
            |m| add("grid_factors", m),
        );
        dup_check(
            self.grid_regions.iter().map(|r| r.province_code.clone()),
            "province_code",
            |m| add("grid_regions", m),
        );
        dup_check(
            self.heat_factors.iter().map(|r| r.data_year.to_string()),
            "data_year",
            |m| add("heat_factors", m),
        );
        dup_check(
            self.generation_rate.iter().map(|r| r.data_year.to_string()),
            "data_year",
            |m| add("generation_coal_rate", m),
        );
        dup_check(
            self.high_energy.iter().map(|r| r.division.clone()),
            "division",
            |m| add("high_energy_sectors", m),
        );
        dup_check(
            self.special_sectors.iter().map(|r| r.sector_code.clone()),
            "sector_code",
            |m| add("special_sectors", m),
        );
        // an alias may name one energy (or one unit) only
        let mut energy_alias: HashMap<String, &str> = HashMap::new();
        for (alias, code) in self.energy_aliases() {
            if let Some(prev) = energy_alias.insert(alias.clone(), code)
                && prev != code
            {
                add(
                    "energy_catalog",
                    format!("alias '{alias}' names both {prev} and {code}"),
                );
            }
        }
        let mut unit_alias: HashMap<String, &str> = HashMap::new();
        for (alias, unit) in self.unit_aliases() {
            if let Some(prev) = unit_alias.insert(alias.clone(), unit)
                && prev != unit
            {
                add(
                    "units",
                    format!("alias '{alias}' names both {prev} and {unit}"),
                );
            }
        }

        // source ids and quality marks
        let source_ids: BTreeSet<&str> =
            self.sources.iter().map(|s| s.source_id.as_str()).collect();
        let refs: Vec<(&str, &str, Option<&str>)> = self
            .standard_coal
            .iter()
            .map(|r| {
                (
                    "standard_coal",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            })
            .chain(self.combustion.iter().map(|r| {
                (
                    "combustion_co2",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            }))
            .chain(self.grid_factors.iter().map(|r| {
                (
                    "grid_factors",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            }))
            .chain(self.grid_regions.iter().map(|r| {
                (
                    "grid_regions",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            }))
            .chain(self.heat_factors.iter().map(|r| {
                (
                    "heat_factors",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            }))
            .chain(self.generation_rate.iter().map(|r| {
                (
                    "generation_coal_rate",
                    r.source_id.as_str(),
                    Some(r.quality.as_str()),
                )
            }))
            .chain(
                self.high_energy
                    .iter()
                    .map(|r| ("high_energy_sectors", r.source_id.as_str(), None)),
            )
            .chain(
                self.special_sectors
                    .iter()
                    .map(|r| ("special_sectors", r.source_id.as_str(), None)),
            )
            .collect();
        for (table, source, quality) in refs {
            if !source_ids.contains(source) {
                add(table, format!("source_id '{source}' is not in sources.csv"));
            }
            if let Some(q) = quality
                && !QUALITIES.contains(&q)
            {
                add(
                    table,
                    format!("quality '{q}' must be one of {}", QUALITIES.join(", ")),
                );
            }
        }

        // units: base units exist with to_base = 1
        let units: HashMap<&str, &UnitRow> =
            self.units.iter().map(|u| (u.unit.as_str(), u)).collect();
        for u in &self.units {
            if !(u.to_base.is_finite() && u.to_base > 0.0) {
                add(
                    "units",
                    format!("{}: to_base {} must be > 0", u.unit, u.to_base),
                );
            }
        }

        // the energy catalog
        let codes: BTreeSet<&str> = self.energy.iter().map(|e| e.energy_code.as_str()).collect();
        for required in REQUIRED_ENERGY_CODES {
            if !codes.contains(required) {
                add(
                    "energy_catalog",
                    format!("energy code '{required}' is missing; every set defines it"),
                );
            }
        }
        let coal: HashMap<&str, &StandardCoalRow> = self
            .standard_coal
            .iter()
            .map(|r| (r.energy_code.as_str(), r))
            .collect();
        let comb: HashMap<&str, &CombustionRow> = self
            .combustion
            .iter()
            .map(|r| (r.energy_code.as_str(), r))
            .collect();
        for e in &self.energy {
            let code = e.energy_code.as_str();
            if !CATEGORIES.contains(&e.category.as_str()) {
                add(
                    "energy_catalog",
                    format!(
                        "{code}: category '{}' must be one of {}",
                        e.category,
                        CATEGORIES.join(", ")
                    ),
                );
            }
            let fossil_category = matches!(e.category.as_str(), "coal" | "oil" | "gas");
            if e.fossil != fossil_category {
                add(
                    "energy_catalog",
                    format!(
                        "{code}: fossil={} contradicts category {}",
                        e.fossil, e.category
                    ),
                );
            }
            match units.get(e.base_unit.as_str()) {
                Some(u) if u.to_base == 1.0 => {}
                Some(u) => add(
                    "energy_catalog",
                    format!(
                        "{code}: base unit {} has to_base {} in units.csv; a base unit has 1",
                        e.base_unit, u.to_base
                    ),
                ),
                None => add(
                    "energy_catalog",
                    format!("{code}: base unit '{}' is not in units.csv", e.base_unit),
                ),
            }
            match e.tce_method.as_str() {
                "coefficient" => match coal.get(code) {
                    None => add(
                        "standard_coal",
                        format!("{code}: no standard-coal coefficient"),
                    ),
                    Some(r) => self.check_coefficient(e, r, &mut |m| add("standard_coal", m)),
                },
                "electricity" => {
                    if e.base_unit != "kWh" {
                        add(
                            "energy_catalog",
                            format!("{code}: tce_method electricity needs base unit kWh"),
                        );
                    }
                }
                other => add(
                    "energy_catalog",
                    format!("{code}: tce_method '{other}' must be coefficient or electricity"),
                ),
            }
            match e.co2_method.as_str() {
                "combustion" => match comb.get(code) {
                    None => add(
                        "combustion_co2",
                        format!("{code}: fossil fuel without a combustion CO2 factor"),
                    ),
                    Some(r) => self.check_combustion(e, r, coal.get(code).copied(), &mut |m| {
                        add("combustion_co2", m)
                    }),
                },
                "grid" | "heat" | "none" => {}
                other => add(
                    "energy_catalog",
                    format!("{code}: co2_method '{other}' must be combustion, grid, heat or none"),
                ),
            }
            if e.fossil && e.co2_method != "combustion" {
                add(
                    "energy_catalog",
                    format!("{code}: a fossil fuel must have co2_method combustion"),
                );
            }
            if !e.fossil && e.co2_method == "combustion" {
                add(
                    "energy_catalog",
                    format!("{code}: only fossil fuels have combustion CO2"),
                );
            }
        }
        for r in &self.standard_coal {
            if !codes.contains(r.energy_code.as_str()) {
                add(
                    "standard_coal",
                    format!("{}: not in the energy catalog", r.energy_code),
                );
            }
        }
        for r in &self.combustion {
            if !codes.contains(r.energy_code.as_str()) {
                add(
                    "combustion_co2",
                    format!("{}: not in the energy catalog", r.energy_code),
                );
            }
        }
        if !coal.contains_key("electricity") {
            add(
                "standard_coal",
                "electricity: the equivalent-value coefficient (0.1229 kgce/kWh) is missing".into(),
            );
        }
        if self.generation_rate.is_empty() {
            add(
                "generation_coal_rate",
                "no rows: equal-value electricity needs at least one year".into(),
            );
        }
        for r in &self.generation_rate {
            if !(0.2..0.5).contains(&r.kgce_per_kwh) {
                add(
                    "generation_coal_rate",
                    format!(
                        "{}: {} kgce/kWh is outside the plausible 0.2-0.5",
                        r.data_year, r.kgce_per_kwh
                    ),
                );
            }
        }

        // grid and heat factors
        for r in &self.grid_factors {
            if !GRID_SCOPES.contains(&r.scope.as_str()) {
                add(
                    "grid_factors",
                    format!(
                        "scope '{}' must be one of {}",
                        r.scope,
                        GRID_SCOPES.join(", ")
                    ),
                );
            }
            if !(r.tco2_per_mwh > 0.0 && r.tco2_per_mwh < 2.0) {
                add(
                    "grid_factors",
                    format!(
                        "{} {} {}: {} tCO2/MWh is outside the plausible 0-2",
                        r.scope, r.area_code, r.data_year, r.tco2_per_mwh
                    ),
                );
            }
        }
        if !self.grid_factors.iter().any(|r| r.scope == "national") {
            add(
                "grid_factors",
                "no national grid factor: it is the fallback of every other scope".into(),
            );
        }
        let regional: BTreeSet<&str> = self
            .grid_factors
            .iter()
            .filter(|r| r.scope == "regional")
            .map(|r| r.area_code.as_str())
            .collect();
        for r in &self.grid_regions {
            if !regional.contains(r.grid_region.as_str()) {
                add(
                    "grid_regions",
                    format!(
                        "{}: grid region '{}' has no regional factor",
                        r.province_code, r.grid_region
                    ),
                );
            }
        }
        if self.heat_factors.is_empty() {
            add("heat_factors", "no rows: heat needs a factor".into());
        }
        for r in &self.heat_factors {
            if !(r.tco2_per_gj > 0.0 && r.tco2_per_gj < 1.0) {
                add(
                    "heat_factors",
                    format!(
                        "{}: {} tCO2/GJ is outside the plausible 0-1",
                        r.data_year, r.tco2_per_gj
                    ),
                );
            }
        }
        out
    }

    fn check_coefficient(&self, e: &EnergyRow, r: &StandardCoalRow, add: &mut dyn FnMut(String)) {
        let code = &e.energy_code;
        if per_base_unit(&self.units, &r.coefficient_unit, "kgce", &e.base_unit).is_none() {
            add(format!(
                "{code}: coefficient unit '{}' does not convert to the base unit {} (expected kgce/<unit of the same dimension>)",
                r.coefficient_unit, e.base_unit
            ));
            return;
        }
        let (Some(cden), Some(nden)) = (
            r.coefficient_unit.strip_prefix("kgce/"),
            r.ncv_unit.strip_prefix("kJ/"),
        ) else {
            add(format!(
                "{code}: ncv unit '{}' must be kJ/<unit>",
                r.ncv_unit
            ));
            return;
        };
        if cden != nden {
            add(format!(
                "{code}: coefficient is per {cden} but the calorific value per {nden}"
            ));
            return;
        }
        let implied = r.ncv / KJ_PER_KGCE;
        let rel = (r.coefficient - implied).abs() / implied;
        if rel > COEFFICIENT_TOLERANCE {
            add(format!(
                "{code}: coefficient {} {} differs from NCV / 29307 = {:.4} by {:.1} % (more than 1 %)",
                r.coefficient,
                r.coefficient_unit,
                implied,
                rel * 100.0
            ));
        }
    }

    fn check_combustion(
        &self,
        e: &EnergyRow,
        r: &CombustionRow,
        coal: Option<&StandardCoalRow>,
        add: &mut dyn FnMut(String),
    ) {
        let code = &e.energy_code;
        if per_base_unit(&self.units, &r.co2_factor_unit, "kgCO2", &e.base_unit).is_none() {
            add(format!(
                "{code}: CO2 factor unit '{}' does not convert to the base unit {}",
                r.co2_factor_unit, e.base_unit
            ));
            return;
        }
        if let Some(c) = coal
            && (c.ncv != r.ncv || c.ncv_unit != r.ncv_unit)
        {
            add(format!(
                "{code}: calorific value {} {} differs from standard_coal's {} {}; keep one NCV per product",
                r.ncv, r.ncv_unit, c.ncv, c.ncv_unit
            ));
        }
        if !(r.oxidation > 0.0 && r.oxidation <= 1.0) {
            add(format!(
                "{code}: oxidation {} must be in (0, 1]",
                r.oxidation
            ));
        }
        // kJ/unit × 1e-9 TJ/kJ × tC/TJ × 1000 kg/t × oxidation × 44/12 = kgCO2/unit
        let computed = r.ncv * 1e-9 * r.carbon_content * 1000.0 * r.oxidation * 44.0 / 12.0;
        let rel = (r.co2_factor - computed).abs() / computed;
        if rel > CO2_TOLERANCE {
            add(format!(
                "{code}: CO2 factor {} {} differs from NCV x carbon x oxidation x 44/12 = {:.4} ({:.3} %)",
                r.co2_factor,
                r.co2_factor_unit,
                computed,
                rel * 100.0
            ));
        }
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

    /// Register the set's tables in a session, in the shapes the SQL steps use.
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        let units: HashMap<&str, &UnitRow> =
            self.units.iter().map(|u| (u.unit.as_str(), u)).collect();
        let coal: HashMap<&str, &StandardCoalRow> = self
            .standard_coal
            .iter()
            .map(|r| (r.energy_code.as_str(), r))
            .collect();
        let comb: HashMap<&str, &CombustionRow> = self
            .combustion
            .iter()
            .map(|r| (r.energy_code.as_str(), r))
            .collect();
        let e = &self.energy;
        let tce: Vec<Option<f64>> = e
            .iter()
            .map(|r| {
                (r.tce_method == "coefficient")
                    .then(|| self.tce_per_base_unit(&r.energy_code))
                    .flatten()
            })
            .collect();
        let co2: Vec<Option<f64>> = e
            .iter()
            .map(|r| {
                (r.co2_method == "combustion")
                    .then(|| self.co2_per_base_unit(&r.energy_code))
                    .flatten()
            })
            .collect();
        register_batch(
            ctx,
            "energy_catalog",
            vec![
                (
                    "energy_code",
                    strs(e.iter().map(|r| Some(r.energy_code.as_str()))),
                ),
                ("name_zh", strs(e.iter().map(|r| Some(r.name_zh.as_str())))),
                ("name_en", strs(e.iter().map(|r| Some(r.name_en.as_str())))),
                (
                    "category",
                    strs(e.iter().map(|r| Some(r.category.as_str()))),
                ),
                (
                    "fossil",
                    Arc::new(BooleanArray::from(
                        e.iter().map(|r| r.fossil).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "base_unit",
                    strs(e.iter().map(|r| Some(r.base_unit.as_str()))),
                ),
                (
                    "dimension",
                    strs(e.iter().map(|r| {
                        units
                            .get(r.base_unit.as_str())
                            .map(|u| u.dimension.as_str())
                    })),
                ),
                (
                    "tce_method",
                    strs(e.iter().map(|r| Some(r.tce_method.as_str()))),
                ),
                (
                    "co2_method",
                    strs(e.iter().map(|r| Some(r.co2_method.as_str()))),
                ),
                ("tce_per_base_unit", Arc::new(Float64Array::from(tce))),
                (
                    "tce_source_id",
                    strs(e.iter().map(|r| {
                        coal.get(r.energy_code.as_str())
                            .map(|c| c.source_id.as_str())
                    })),
                ),
                (
                    "tce_quality",
                    strs(
                        e.iter()
                            .map(|r| coal.get(r.energy_code.as_str()).map(|c| c.quality.as_str())),
                    ),
                ),
                ("co2_t_per_base_unit", Arc::new(Float64Array::from(co2))),
                (
                    "co2_source_id",
                    strs(e.iter().map(|r| {
                        comb.get(r.energy_code.as_str())
                            .map(|c| c.source_id.as_str())
                    })),
                ),
                (
                    "co2_quality",
                    strs(
                        e.iter()
                            .map(|r| comb.get(r.energy_code.as_str()).map(|c| c.quality.as_str())),
                    ),
                ),
            ],
        )?;
        let ea = self.energy_aliases();
        register_batch(
            ctx,
            "energy_alias",
            vec![
                ("alias", strs(ea.iter().map(|(a, _)| Some(a.as_str())))),
                ("energy_code", strs(ea.iter().map(|(_, c)| Some(*c)))),
            ],
        )?;
        let u = &self.units;
        register_batch(
            ctx,
            "unit_catalog",
            vec![
                ("unit", strs(u.iter().map(|r| Some(r.unit.as_str())))),
                (
                    "dimension",
                    strs(u.iter().map(|r| Some(r.dimension.as_str()))),
                ),
                (
                    "to_base",
                    Arc::new(Float64Array::from(
                        u.iter().map(|r| r.to_base).collect::<Vec<_>>(),
                    )),
                ),
            ],
        )?;
        let ua = self.unit_aliases();
        register_batch(
            ctx,
            "unit_alias",
            vec![
                ("alias", strs(ua.iter().map(|(a, _)| Some(a.as_str())))),
                ("unit", strs(ua.iter().map(|(_, c)| Some(*c)))),
            ],
        )?;
        let g = &self.grid_factors;
        register_batch(
            ctx,
            "grid_factor",
            vec![
                ("scope", strs(g.iter().map(|r| Some(r.scope.as_str())))),
                (
                    "area_code",
                    strs(g.iter().map(|r| Some(r.area_code.as_str()))),
                ),
                ("data_year", ints(g.iter().map(|r| r.data_year))),
                ("tco2_per_mwh", floats(g.iter().map(|r| r.tco2_per_mwh))),
                (
                    "source_id",
                    strs(g.iter().map(|r| Some(r.source_id.as_str()))),
                ),
                ("quality", strs(g.iter().map(|r| Some(r.quality.as_str())))),
            ],
        )?;
        let gr = &self.grid_regions;
        register_batch(
            ctx,
            "grid_region",
            vec![
                (
                    "province_code",
                    strs(gr.iter().map(|r| Some(r.province_code.as_str()))),
                ),
                (
                    "grid_region",
                    strs(gr.iter().map(|r| Some(r.grid_region.as_str()))),
                ),
            ],
        )?;
        let h = &self.heat_factors;
        register_batch(
            ctx,
            "heat_factor",
            vec![
                ("data_year", ints(h.iter().map(|r| r.data_year))),
                ("tco2_per_gj", floats(h.iter().map(|r| r.tco2_per_gj))),
                (
                    "source_id",
                    strs(h.iter().map(|r| Some(r.source_id.as_str()))),
                ),
                ("quality", strs(h.iter().map(|r| Some(r.quality.as_str())))),
            ],
        )?;
        let gen_rate = &self.generation_rate;
        register_batch(
            ctx,
            "generation_coal_rate",
            vec![
                ("data_year", ints(gen_rate.iter().map(|r| r.data_year))),
                (
                    "kgce_per_kwh",
                    floats(gen_rate.iter().map(|r| r.kgce_per_kwh)),
                ),
                (
                    "tce_per_kwh",
                    floats(gen_rate.iter().map(|r| r.kgce_per_kwh / 1000.0)),
                ),
            ],
        )?;
        let elec_tce = self
            .tce_per_base_unit("electricity")
            .ok_or_else(|| Error::Internal("electricity coefficient missing".into()))?;
        register_batch(
            ctx,
            "electricity_equivalent",
            vec![("tce_per_kwh", floats([elec_tce].into_iter()))],
        )?;
        // two named code lists: the code, its names and its source
        let code_list = |name: &str, key: &str, rows: Vec<[&str; 4]>| {
            let column = |i: usize| strs(rows.iter().map(|r| Some(r[i])));
            register_batch(
                ctx,
                name,
                vec![
                    (key, column(0)),
                    ("name_zh", column(1)),
                    ("name_en", column(2)),
                    ("source_id", column(3)),
                ],
            )
        };
        code_list(
            "high_energy_division",
            "division",
            self.high_energy
                .iter()
                .map(|r| [&*r.division, &*r.name_zh, &*r.name_en, &*r.source_id])
                .collect(),
        )?;
        code_list(
            "special_sector",
            "sector_code",
            self.special_sectors
                .iter()
                .map(|r| [&*r.sector_code, &*r.name_zh, &*r.name_en, &*r.source_id])
                .collect(),
        )?;
        Ok(())
    }
}

/// How many base units one `<numerator>/<denominator>` value is worth, in
/// tonnes of the numerator: `kgce/kg` on base unit `t` gives 1 (kgce/kg = tce/t),
/// `kgce/m3` on base unit `m3` gives 0.001.
fn per_base_unit(units: &[UnitRow], unit: &str, numerator: &str, base_unit: &str) -> Option<f64> {
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

pub fn normalize_alias(s: &str) -> String {
    s.trim().to_lowercase()
}

fn split_aliases(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|a| !a.is_empty())
}

fn dup_check(keys: impl Iterator<Item = String>, what: &str, mut add: impl FnMut(String)) {
    let mut seen = BTreeSet::new();
    for k in keys {
        if !seen.insert(k.clone()) {
            add(format!("duplicate {what} '{k}'"));
        }
    }
}

fn read_csv<T: DeserializeOwned>(path: &Path, dir: &Path) -> Result<Vec<T>> {
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
    let mut rows = Vec::new();
    for (i, rec) in reader.deserialize::<T>().enumerate() {
        match rec {
            Ok(r) => rows.push(r),
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
                return Err(err(format!("{name} line {line}: {e}")));
            }
        }
    }
    Ok(rows)
}

fn hash_dir(dir: &Path) -> Result<Vec<FactorFile>> {
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

fn set_hash(files: &[FactorFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.name.as_bytes());
        h.update(b"\t");
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from(it.collect::<Vec<_>>()))
}

fn ints(it: impl Iterator<Item = i32>) -> ArrayRef {
    Arc::new(Int32Array::from(it.collect::<Vec<_>>()))
}

fn floats(it: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from(it.collect::<Vec<_>>()))
}

/// Register a small in-memory table (factor tables are broadcast in joins).
pub fn register_batch(
    ctx: &SessionContext,
    name: &str,
    columns: Vec<(&str, ArrayRef)>,
) -> Result<()> {
    // text as string views, like the inputs: a join then copies 16-byte
    // views per record, not the text
    let columns = columns
        .into_iter()
        .map(|(name, a)| {
            let a = match a.data_type() {
                datafusion::arrow::datatypes::DataType::Utf8 => datafusion::arrow::compute::cast(
                    &a,
                    &datafusion::arrow::datatypes::DataType::Utf8View,
                )?,
                _ => a,
            };
            Ok((name, a))
        })
        .collect::<Result<Vec<_>>>()?;
    let batch = RecordBatch::try_from_iter(columns)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
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
