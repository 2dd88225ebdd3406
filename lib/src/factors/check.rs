//! The self-check of a factor set (`carbonstat factors check`; `run` requires
//! it to pass): duplicate keys, unknown sources and quality marks, a
//! coefficient that does not match its calorific value, a CO2 factor that is
//! not NCV × carbon × oxidation × 44/12, missing rows.

use std::collections::{BTreeSet, HashMap};

use crate::factors::FactorSet;
use crate::factors::Finding;
use crate::factors::KJ_PER_KGCE;
use crate::factors::REQUIRED_ENERGY_CODES;
use crate::factors::per_base_unit;
use crate::factors::tables::CombustionRow;
use crate::factors::tables::EnergyRow;
use crate::factors::tables::StandardCoalRow;
use crate::factors::tables::UnitRow;

/// A standard-coal coefficient may differ from NCV / 29 307 by this much.
pub(crate) const COEFFICIENT_TOLERANCE: f64 = 0.01;
/// A CO2 factor must equal NCV × carbon × oxidation × 44/12 within this (4-digit rounding).
pub(crate) const CO2_TOLERANCE: f64 = 0.0005;

pub(crate) const CATEGORIES: &[&str] = &["coal", "oil", "gas", "electricity", "heat", "non_fossil"];
pub(crate) const QUALITIES: &[&str] = &["primary", "secondary", "memory"];
pub(crate) const GRID_SCOPES: &[&str] = &["national", "regional", "provincial"];

impl FactorSet {
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

    pub(crate) fn check_coefficient(
        &self,
        e: &EnergyRow,
        r: &StandardCoalRow,
        add: &mut dyn FnMut(String),
    ) {
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

    pub(crate) fn check_combustion(
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
}

pub(crate) fn dup_check(
    keys: impl Iterator<Item = String>,
    what: &str,
    mut add: impl FnMut(String),
) {
    let mut seen = BTreeSet::new();
    for k in keys {
        if !seen.insert(k.clone()) {
            add(format!("duplicate {what} '{k}'"));
        }
    }
}
