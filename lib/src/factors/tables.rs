//! The rows of a factor set's tables, as their CSV files spell them, and what
//! each table is to the loader, the self-check, `factors diff` and the SQL
//! steps ([`FactorTable`]). The list of tables itself is `factor_tables!` in
//! `factors/mod.rs`.
//!
//! Every closed vocabulary (an energy's category and methods, a quality mark,
//! a grid scope …) is an enum: a value outside it fails the load with the
//! file, the line and the values allowed, so no later step meets a method it
//! does not know.

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::factors::FactorSet;
use crate::factors::register;

/// What the loader, the self-check, `factors diff` and the session need to
/// know of one table. Implemented by each row type; `factor_tables!` lists
/// the tables once and everything iterates that list.
pub(crate) trait FactorTable: serde::de::DeserializeOwned + Sized {
    /// The table's entry under `files:` in factor-set.yaml.
    const NAME: &'static str;
    /// The columns that identify a row (as the CSV header spells them): two
    /// rows with the same key are a duplicate, and `factors diff` pairs rows
    /// of two sets by it.
    const KEY: &'static [&'static str];
    /// Other spellings a header may use for a column: (alias, column).
    const HEADER_ALIASES: &'static [(&'static str, &'static str)] = &[];
    /// What an optional column means when a file leaves it out or empty:
    /// (column, value). `factors diff` compares rows with these filled in.
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[];
    /// A table a set may leave out of factor-set.yaml (tables added after
    /// the first published sets, which are immutable): absent, it is empty.
    const OPTIONAL: bool = false;

    /// The values of [`Self::KEY`], joined with '/'.
    fn key(&self) -> String;
    /// The source the row cites (every table but sources.csv itself).
    fn source_id(&self) -> Option<&str>;
    /// Register what the SQL steps read of this table. Tables that only feed
    /// another table's columns register nothing of their own.
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()>;
}

/// A closed vocabulary read from a CSV column: one spelling per value serves
/// serde (so an unknown value is a load error listing the allowed ones), the
/// SQL registration and the messages.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// The value as the CSV files and the SQL steps spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The energy mix groups of an energy (coal share, non-fossil share …).
    Category {
        Coal = "coal",
        Oil = "oil",
        Gas = "gas",
        Electricity = "electricity",
        Heat = "heat",
        NonFossil = "non_fossil",
    }
}

impl Category {
    /// Coal, oil and gas: the categories of fossil fuels.
    pub fn is_fossil(self) -> bool {
        matches!(self, Category::Coal | Category::Oil | Category::Gas)
    }
}

vocabulary! {
    /// How an energy's standard coal is made.
    TceMethod {
        /// quantity × the coefficient of standard_coal.csv
        Coefficient = "coefficient",
        /// the configured valuation of electricity (equivalent or equal value)
        Electricity = "electricity",
    }
}

vocabulary! {
    /// How an energy's CO2 is made.
    Co2Method {
        /// direct: quantity × combustion_co2.csv's factor
        Combustion = "combustion",
        /// indirect: kWh × the grid factor
        Grid = "grid",
        /// indirect: GJ × the heat factor
        Heat = "heat",
        /// no CO2 (non-fossil energy)
        None = "none",
    }
}

vocabulary! {
    /// How well a row is sourced (sources.csv says where from).
    Quality {
        /// read in the official text
        Primary = "primary",
        /// read in a copy quoting it
        Secondary = "secondary",
        /// not found in a text: to be confirmed
        Memory = "memory",
    }
}

vocabulary! {
    /// Which grid a grid factor averages.
    GridScope {
        National = "national",
        Regional = "regional",
        Provincial = "provincial",
        /// the national factor without market-traded non-fossil power
        NationalExclMarketNonfossil = "national_excl_market_nonfossil",
        /// fossil-fired power only
        NationalFossil = "national_fossil",
    }
}

vocabulary! {
    /// Which coal consumption rate of thermal power a row is.
    CoalRateSeries {
        /// per kWh generated (NBS 发电煤耗): what equal-value electricity means
        Generation = "generation",
        /// per kWh sent out (CEC 供电煤耗): a few per cent higher
        Supply = "supply",
    }
}

vocabulary! {
    /// The sector groups of a region's energy balance (region_sectors).
    SectorGroup {
        Agriculture = "agriculture",
        Industry = "industry",
        Construction = "construction",
        Transport = "transport",
        Services = "services",
        Households = "households",
    }
}

vocabulary! {
    /// The ecosystems of carbon sinks.
    Ecosystem {
        Forest = "forest",
        Grassland = "grassland",
        Wetland = "wetland",
        Farmland = "farmland",
        Other = "other",
    }
}

vocabulary! {
    /// What a criterion judges.
    CriterionScope {
        /// every enterprise (key energy-using units, key emitters)
        Enterprise = "enterprise",
        /// groups of kind zero_carbon_park
        ZeroCarbonPark = "zero_carbon_park",
    }
}

vocabulary! {
    /// How a value meets a threshold.
    Comparator {
        /// value ≥ threshold
        Min = "min",
        /// value ≤ threshold
        Max = "max",
    }
}

vocabulary! {
    /// Which calorific value a combustion CO2 factor is computed from.
    NcvBasis {
        /// standard_coal.csv's: one NCV per product, checked to be equal
        StandardCoal = "standard_coal",
        /// its own, from another standard (the row's ncv column)
        Own = "own",
    }
}

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
    pub category: Category,
    pub fossil: bool,
    pub base_unit: String,
    pub tce_method: TceMethod,
    pub co2_method: Co2Method,
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
    pub quality: Quality,
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
    pub quality: Quality,
    /// Absent (or empty): [`NcvBasis::StandardCoal`].
    #[serde(default)]
    pub ncv_basis: Option<NcvBasis>,
}

impl CombustionRow {
    pub fn ncv_basis(&self) -> NcvBasis {
        self.ncv_basis.unwrap_or(NcvBasis::StandardCoal)
    }
}

/// A sector whose combustion of an energy has its own oxidation rate
/// (sector_combustion_co2.csv): the energy's calorific value and carbon
/// content (combustion_co2.csv) with this oxidation make the factor the
/// sector's records of it burnt as fuel use. Power generation's coal at 0.99
/// (MEE's guideline for power generation facilities) against the provincial
/// inventory's 0.94 is the case. One sector per energy: the key is the
/// energy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SectorCombustionRow {
    /// The leading digits of the GB/T 4754-2017 code (2 to 4: division,
    /// group or class); a record's sector code matches with or without its
    /// section letter (D4411 and 4411 are in 441).
    pub sector_prefix: String,
    pub energy_code: String,
    pub oxidation: f64,
    pub co2_factor: f64,
    pub co2_factor_unit: String,
    pub source_id: String,
    pub quality: Quality,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridFactorRow {
    pub scope: GridScope,
    pub area_code: String,
    pub area_name: String,
    pub data_year: i32,
    pub tco2_per_mwh: f64,
    pub source_id: String,
    pub quality: Quality,
}

/// The grid region of a province (`xx0000`) or of a city or league
/// (`xxxx00`) whose grid differs from its province's. The header may say
/// `area_code,area_name` instead of `province_code,province_name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridRegionRow {
    #[serde(alias = "area_code")]
    pub province_code: String,
    #[serde(alias = "area_name")]
    pub province_name: String,
    pub grid_region: String,
    pub source_id: String,
    pub quality: Quality,
}

impl GridRegionRow {
    /// The leading digits a region code shares with the area: 2 for a
    /// province `xx0000`, 4 for a city `xxxx00`; None for any other code.
    /// SQL matches a record to the area with the longest prefix.
    pub fn area_prefix(&self) -> Option<&str> {
        let code = self.province_code.as_str();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if code.ends_with("0000") {
            Some(&code[..2])
        } else if code.ends_with("00") {
            Some(&code[..4])
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeatFactorRow {
    pub data_year: i32,
    pub tco2_per_gj: f64,
    pub source_id: String,
    pub quality: Quality,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerationRateRow {
    pub data_year: i32,
    pub kgce_per_kwh: f64,
    /// Absent when the set does not say which rate its rows are.
    #[serde(default)]
    pub series: Option<CoalRateSeries>,
    pub source_id: String,
    pub quality: Quality,
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

/// An industrial process and its CO2 per tonne of product (process_factors.csv).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessFactorRow {
    pub product_code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The GB/T 4754 division that makes it (region_sectors counts its CO2 there).
    pub division: String,
    /// t CO2 per t of product.
    pub tco2_per_t: f64,
    /// true: a production row that gives the clinker's CaO and MgO mass
    /// fractions uses CaO × 44/56 + MgO × 44/40 instead of tco2_per_t.
    pub composition: bool,
    /// Other names of the product, ';'-separated (熟料 …).
    pub aliases: String,
    pub source_id: String,
    pub quality: Quality,
}

/// The defaults that turn an ecosystem's growing-stock change (m3) into CO2
/// removed (sink_factors.csv): ΔV × bef × wood_density × (1 + root_shoot_ratio)
/// × carbon_fraction × 44/12 = ΔV × tco2_per_m3.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SinkFactorRow {
    pub ecosystem: Ecosystem,
    /// biomass expansion factor (whole tree / stem), dimensionless
    pub bef: f64,
    /// basic wood density, t dry matter per m3
    pub wood_density: f64,
    pub root_shoot_ratio: f64,
    /// t C per t dry matter
    pub carbon_fraction: f64,
    /// the product, t CO2 per m3 of stock growth (checked)
    pub tco2_per_m3: f64,
    pub source_id: String,
    pub quality: Quality,
}

impl SinkFactorRow {
    /// bef × wood_density × (1 + root_shoot_ratio) × carbon_fraction × 44/12.
    pub fn product(&self) -> f64 {
        self.bef * self.wood_density * (1.0 + self.root_shoot_ratio) * self.carbon_fraction * 44.0
            / 12.0
    }
}

/// A range of GB/T 4754 divisions (or a special sector code, from = to) and
/// its sector group (sector_groups.csv).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SectorGroupRow {
    pub division_from: String,
    pub division_to: String,
    pub sector_group: SectorGroup,
    pub name_zh: String,
    pub source_id: String,
}

/// A threshold an enterprise or a park is judged against (criteria.csv):
/// for parks, optionally only within a band of annual energy consumption
/// (tce at equivalent value, from inclusive, to exclusive).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriterionRow {
    pub criterion: String,
    pub applies_to: CriterionScope,
    /// energy_tce_equivalent, co2_total_t, co2_per_tce or clean_energy_share
    pub indicator: String,
    #[serde(default)]
    pub band_from_tce: Option<f64>,
    #[serde(default)]
    pub band_to_tce: Option<f64>,
    pub comparator: Comparator,
    pub threshold: f64,
    pub unit: String,
    pub source_id: String,
    pub quality: Quality,
}

impl FactorTable for SourceRow {
    const NAME: &'static str = "sources";
    const KEY: &'static [&'static str] = &["source_id"];
    fn key(&self) -> String {
        self.source_id.clone()
    }
    fn source_id(&self) -> Option<&str> {
        None
    }
    /// Sources are cited by the other tables, never joined.
    fn register(_: &FactorSet, _: &SessionContext) -> Result<()> {
        Ok(())
    }
}

impl FactorTable for EnergyRow {
    const NAME: &'static str = "energy_catalog";
    const KEY: &'static [&'static str] = &["energy_code"];
    fn key(&self) -> String {
        self.energy_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        None
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::energy_catalog(set, ctx)
    }
}

impl FactorTable for UnitRow {
    const NAME: &'static str = "units";
    const KEY: &'static [&'static str] = &["unit"];
    fn key(&self) -> String {
        self.unit.clone()
    }
    fn source_id(&self) -> Option<&str> {
        None
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::unit_catalog(set, ctx)
    }
}

impl FactorTable for StandardCoalRow {
    const NAME: &'static str = "standard_coal";
    const KEY: &'static [&'static str] = &["energy_code"];
    fn key(&self) -> String {
        self.energy_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    /// Its coefficients are energy_catalog's tce_per_base_unit; electricity's
    /// is also the one-row electricity_equivalent.
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::electricity_equivalent(set, ctx)
    }
}

impl FactorTable for CombustionRow {
    const NAME: &'static str = "combustion_co2";
    const KEY: &'static [&'static str] = &["energy_code"];
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[("ncv_basis", "standard_coal")];
    fn key(&self) -> String {
        self.energy_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    /// Its factors are energy_catalog's co2_t_per_base_unit.
    fn register(_: &FactorSet, _: &SessionContext) -> Result<()> {
        Ok(())
    }
}

impl FactorTable for SectorCombustionRow {
    const NAME: &'static str = "sector_combustion_co2";
    const KEY: &'static [&'static str] = &["energy_code"];
    const OPTIONAL: bool = true;
    fn key(&self) -> String {
        self.energy_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    // its factors are columns of energy_catalog (register::energy_catalog)
    fn register(_: &FactorSet, _: &SessionContext) -> Result<()> {
        Ok(())
    }
}

impl FactorTable for GridFactorRow {
    const NAME: &'static str = "grid_factors";
    const KEY: &'static [&'static str] = &["scope", "area_code", "data_year"];
    fn key(&self) -> String {
        format!("{}/{}/{}", self.scope, self.area_code, self.data_year)
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::grid_factor(set, ctx)
    }
}

impl FactorTable for GridRegionRow {
    const NAME: &'static str = "grid_regions";
    const KEY: &'static [&'static str] = &["province_code"];
    const HEADER_ALIASES: &'static [(&'static str, &'static str)] = &[
        ("area_code", "province_code"),
        ("area_name", "province_name"),
    ];
    fn key(&self) -> String {
        self.province_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::grid_region(set, ctx)
    }
}

impl FactorTable for HeatFactorRow {
    const NAME: &'static str = "heat_factors";
    const KEY: &'static [&'static str] = &["data_year"];
    fn key(&self) -> String {
        self.data_year.to_string()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::heat_factor(set, ctx)
    }
}

impl FactorTable for GenerationRateRow {
    const NAME: &'static str = "generation_coal_rate";
    const KEY: &'static [&'static str] = &["data_year"];
    fn key(&self) -> String {
        self.data_year.to_string()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::generation_coal_rate(set, ctx)
    }
}

impl FactorTable for HighEnergyRow {
    const NAME: &'static str = "high_energy_sectors";
    const KEY: &'static [&'static str] = &["division"];
    fn key(&self) -> String {
        self.division.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::high_energy_division(set, ctx)
    }
}

impl FactorTable for SpecialSectorRow {
    const NAME: &'static str = "special_sectors";
    const KEY: &'static [&'static str] = &["sector_code"];
    fn key(&self) -> String {
        self.sector_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::special_sector(set, ctx)
    }
}

impl FactorTable for ProcessFactorRow {
    const NAME: &'static str = "process_factors";
    const KEY: &'static [&'static str] = &["product_code"];
    const OPTIONAL: bool = true;
    fn key(&self) -> String {
        self.product_code.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::process_factors(set, ctx)
    }
}

impl FactorTable for SinkFactorRow {
    const NAME: &'static str = "sink_factors";
    const KEY: &'static [&'static str] = &["ecosystem"];
    const OPTIONAL: bool = true;
    fn key(&self) -> String {
        self.ecosystem.to_string()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::sink_factors(set, ctx)
    }
}

impl FactorTable for SectorGroupRow {
    const NAME: &'static str = "sector_groups";
    const KEY: &'static [&'static str] = &["division_from"];
    const OPTIONAL: bool = true;
    fn key(&self) -> String {
        self.division_from.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::sector_groups(set, ctx)
    }
}

impl FactorTable for CriterionRow {
    const NAME: &'static str = "criteria";
    const KEY: &'static [&'static str] = &["criterion"];
    const OPTIONAL: bool = true;
    fn key(&self) -> String {
        self.criterion.clone()
    }
    fn source_id(&self) -> Option<&str> {
        Some(&self.source_id)
    }
    fn register(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
        register::criteria(set, ctx)
    }
}
