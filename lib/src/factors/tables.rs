//! The rows of a factor set's tables, as their CSV files spell them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
