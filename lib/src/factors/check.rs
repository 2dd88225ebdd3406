//! The self-check of a factor set (`carbonstat factors check`; `run` requires
//! it to pass): duplicate keys, unknown sources, a
//! coefficient that does not match its calorific value, a CO2 factor that is
//! not NCV × carbon × oxidation × 44/12, missing rows.

use std::collections::{BTreeSet, HashMap};

use crate::factors::FactorSet;
use crate::factors::Finding;
use crate::factors::KJ_PER_KGCE;
use crate::factors::REQUIRED_ENERGY_CODES;
use crate::factors::per_base_unit;
use crate::factors::tables::{
    Co2Method, CoalRateSeries, CombustionRow, EnergyRow, GridScope, NcvBasis, StandardCoalRow,
    TceMethod, UnitRow,
};

/// A standard-coal coefficient may differ from NCV / 29 307 by this much.
pub(crate) const COEFFICIENT_TOLERANCE: f64 = 0.01;
/// A CO2 factor must equal NCV × carbon × oxidation × 44/12 within this (4-digit rounding).
pub(crate) const CO2_TOLERANCE: f64 = 0.0005;
/// A sink factor's t CO2 per m3 may differ from the product of its defaults
/// by this fraction (rounding of the published figure).
pub(crate) const SINK_TOLERANCE: f64 = 0.001;

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
        for t in self.tables() {
            let info = t.info();
            dup_check(t.keys().into_iter(), &info.key.join("/"), |m| {
                add(info.name, m)
            });
        }
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
        let mut product_alias: HashMap<String, &str> = HashMap::new();
        for (alias, code) in self.product_aliases() {
            if let Some(prev) = product_alias.insert(alias.clone(), code)
                && prev != code
            {
                add(
                    "process_factors",
                    format!("alias '{alias}' names both {prev} and {code}"),
                );
            }
        }
        // process factors: a positive factor and a two-digit division
        for p in &self.process_factors {
            if !(p.tco2_per_t.is_finite() && p.tco2_per_t > 0.0) {
                add(
                    "process_factors",
                    format!(
                        "{}: tco2_per_t {} must be greater than 0",
                        p.product_code, p.tco2_per_t
                    ),
                );
            }
            if p.division.len() != 2 || !p.division.bytes().all(|b| b.is_ascii_digit()) {
                add(
                    "process_factors",
                    format!(
                        "{}: division '{}' is not a two-digit GB/T 4754 division",
                        p.product_code, p.division
                    ),
                );
            }
        }
        // sink defaults: each positive (a sink removes CO2: a negative one
        // would turn forest growth into an emission), a carbon fraction of
        // at most 1, and tco2_per_m3 the product of the four
        for f in &self.sink_factors {
            for (name, v) in [
                ("bef", f.bef),
                ("wood_density", f.wood_density),
                ("carbon_fraction", f.carbon_fraction),
                ("tco2_per_m3", f.tco2_per_m3),
            ] {
                if !(v.is_finite() && v > 0.0) {
                    add(
                        "sink_factors",
                        format!("{}: {name} {v} must be greater than 0", f.ecosystem),
                    );
                }
            }
            if !(f.root_shoot_ratio.is_finite() && f.root_shoot_ratio >= 0.0) {
                add(
                    "sink_factors",
                    format!(
                        "{}: root_shoot_ratio {} must be 0 or more",
                        f.ecosystem, f.root_shoot_ratio
                    ),
                );
            }
            if f.carbon_fraction > 1.0 {
                add(
                    "sink_factors",
                    format!(
                        "{}: carbon_fraction {} is t C per t of dry matter: at most 1 (0.5 is usual)",
                        f.ecosystem, f.carbon_fraction
                    ),
                );
            }
            let product = f.product();
            if (product - f.tco2_per_m3).abs() > SINK_TOLERANCE * product.abs().max(1e-9) {
                add(
                    "sink_factors",
                    format!(
                        "{}: tco2_per_m3 {} is not bef × wood_density × (1 + root_shoot_ratio) × carbon_fraction × 44/12 = {product:.4}",
                        f.ecosystem, f.tco2_per_m3
                    ),
                );
            }
        }
        // criteria: a known indicator, a band in order
        for c in &self.criteria {
            const INDICATORS: &[&str] = &[
                "energy_tce_equivalent",
                "co2_total_t",
                "co2_per_tce",
                "clean_energy_share",
            ];
            if !INDICATORS.contains(&c.indicator.as_str()) {
                add(
                    "criteria",
                    format!(
                        "{}: indicator '{}' is not one of {}",
                        c.criterion,
                        c.indicator,
                        INDICATORS.join(", ")
                    ),
                );
            }
            if let (Some(from), Some(to)) = (c.band_from_tce, c.band_to_tce)
                && from >= to
            {
                add(
                    "criteria",
                    format!(
                        "{}: band_from_tce {from} is not below band_to_tce {to}",
                        c.criterion
                    ),
                );
            }
        }
        // sector groups: ranges in order, not overlapping
        let mut ranges: Vec<(&str, &str)> = self
            .sector_groups
            .iter()
            .map(|g| (g.division_from.as_str(), g.division_to.as_str()))
            .collect();
        ranges.sort();
        for g in &ranges {
            if g.0 > g.1 {
                add(
                    "sector_groups",
                    format!("division_from {} is after division_to {}", g.0, g.1),
                );
            }
        }
        for w in ranges.windows(2) {
            if w[1].0 <= w[0].1 {
                add(
                    "sector_groups",
                    format!(
                        "divisions {}–{} overlap {}–{}",
                        w[0].0, w[0].1, w[1].0, w[1].1
                    ),
                );
            }
        }

        // every cited source exists (quality marks and methods are checked
        // by the loader: they are enums)
        let source_ids: BTreeSet<&str> =
            self.sources.iter().map(|s| s.source_id.as_str()).collect();
        for t in self.tables() {
            for source in t.source_ids() {
                if !source_ids.contains(source) {
                    add(
                        t.info().name,
                        format!("source_id '{source}' is not in sources.csv"),
                    );
                }
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
            if e.fossil != e.category.is_fossil() {
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
            match e.tce_method {
                TceMethod::Coefficient => match coal.get(code) {
                    None => add(
                        "standard_coal",
                        format!("{code}: no standard-coal coefficient"),
                    ),
                    Some(r) => self.check_coefficient(e, r, &mut |m| add("standard_coal", m)),
                },
                TceMethod::Electricity => {
                    if e.base_unit != "kWh" {
                        add(
                            "energy_catalog",
                            format!("{code}: tce_method electricity needs base unit kWh"),
                        );
                    }
                }
            }
            match e.co2_method {
                Co2Method::Combustion => match comb.get(code) {
                    None => add(
                        "combustion_co2",
                        format!("{code}: fossil fuel without a combustion CO2 factor"),
                    ),
                    Some(r) => self.check_combustion(e, r, coal.get(code).copied(), &mut |m| {
                        add("combustion_co2", m)
                    }),
                },
                // the heat factor is per GJ: a heat-type energy in another
                // unit (steam in t) is converted with its calorific value
                Co2Method::Heat => {
                    if self.gj_per_base_unit(code).is_none() {
                        add(
                            "energy_catalog",
                            format!(
                                "{code}: co2_method heat needs a standard_coal row whose ncv (kJ/<unit>) converts to GJ per {}",
                                e.base_unit
                            ),
                        );
                    }
                }
                Co2Method::Grid | Co2Method::None => {}
            }
            if e.fossil && e.co2_method != Co2Method::Combustion {
                add(
                    "energy_catalog",
                    format!("{code}: a fossil fuel must have co2_method combustion"),
                );
            }
            if !e.fossil && e.co2_method == Co2Method::Combustion {
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
        // a sector's own oxidation: a combustion energy with a combustion
        // row, a GB/T 4754 prefix, and the factor its calorific value and
        // carbon content give at that oxidation
        for r in &self.sector_combustion {
            let code = &r.energy_code;
            let digits = r.sector_prefix.len();
            if !(2..=4).contains(&digits) || !r.sector_prefix.bytes().all(|b| b.is_ascii_digit()) {
                add(
                    "sector_combustion_co2",
                    format!(
                        "{code}: sector_prefix '{}' is not 2 to 4 digits of a GB/T 4754-2017 code (e.g. 441 for power generation)",
                        r.sector_prefix
                    ),
                );
            }
            let energy = self.energy.iter().find(|e| &e.energy_code == code);
            match (energy, comb.get(code.as_str())) {
                (Some(e), Some(c)) if e.co2_method == Co2Method::Combustion => {
                    let own = CombustionRow {
                        oxidation: r.oxidation,
                        co2_factor: r.co2_factor,
                        co2_factor_unit: r.co2_factor_unit.clone(),
                        source_id: r.source_id.clone(),
                        quality: r.quality,
                        // the calorific value is the combustion row's own
                        ncv_basis: Some(NcvBasis::Own),
                        ..(*c).clone()
                    };
                    self.check_combustion(e, &own, None, &mut |m| {
                        add(
                            "sector_combustion_co2",
                            format!(
                                "{m} (sector {}: combustion_co2's NCV {} {} and carbon {} tC/TJ at this oxidation)",
                                r.sector_prefix, c.ncv, c.ncv_unit, c.carbon_content
                            ),
                        )
                    });
                }
                _ => add(
                    "sector_combustion_co2",
                    format!(
                        "{code}: not an energy of the catalog with co2_method combustion and a combustion_co2 row"
                    ),
                ),
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
        // one series per set: equal-value electricity must not change meaning
        // from one year to the next
        let series: BTreeSet<Option<CoalRateSeries>> =
            self.generation_rate.iter().map(|r| r.series).collect();
        if series.len() > 1 {
            add(
                "generation_coal_rate",
                format!(
                    "rows of different series ({}): a set uses one",
                    series
                        .iter()
                        .map(|s| s.map_or("(none)", CoalRateSeries::as_str))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
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
        if !self
            .grid_factors
            .iter()
            .any(|r| r.scope == GridScope::National)
        {
            add(
                "grid_factors",
                "no national grid factor: it is the fallback of every other scope".into(),
            );
        }
        let regional: BTreeSet<&str> = self
            .grid_factors
            .iter()
            .filter(|r| r.scope == GridScope::Regional)
            .map(|r| r.area_code.as_str())
            .collect();
        for r in &self.grid_regions {
            if r.area_prefix().is_none() {
                add(
                    "grid_regions",
                    format!(
                        "{}: an area is a province (xx0000) or a city or league (xxxx00)",
                        r.province_code
                    ),
                );
            }
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
        // ncv_basis own: the factor comes with its own calorific value from
        // another standard (natural gas 389.31 GJ/10^4 m3 beside the
        // coefficient 1.2143 kgce/m3); only the arithmetic below applies
        if let Some(c) = coal
            && r.ncv_basis() == NcvBasis::StandardCoal
            && (c.ncv != r.ncv || c.ncv_unit != r.ncv_unit)
        {
            add(format!(
                "{code}: calorific value {} {} differs from standard_coal's {} {}; keep one NCV per product, or say ncv_basis own",
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
