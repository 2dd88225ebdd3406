//! The published datasets: one place defines each one's columns, types, units
//! and meaning. The Parquet files carry the unit and description of every
//! column in the Arrow field metadata (`unit`, `description`), and the README
//! data dictionary is generated from here (`carbonstat schema --markdown`), so
//! the three never disagree.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    Int,
    BigInt,
    Float,
}

impl ColType {
    pub(crate) fn arrow(self) -> DataType {
        match self {
            ColType::Text => DataType::Utf8,
            ColType::Int => DataType::Int32,
            ColType::BigInt => DataType::Int64,
            ColType::Float => DataType::Float64,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ColType::Text => "string",
            ColType::Int => "int32",
            ColType::BigInt => "int64",
            ColType::Float => "float64",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub unit: &'static str,
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    ty: ColType,
    unit: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        unit,
        description,
    }
}

use ColType::{BigInt, Float, Int, Text};

#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub name: &'static str,
    /// The SQL view that produces it.
    pub view: &'static str,
    pub description: &'static str,
    /// Sort key inside a partition (unique per row): files are deterministic.
    pub sort_key: &'static [&'static str],
    /// Columns stored in the files (the partition column `year` is in the path).
    pub columns: &'static [Column],
}

/// The Hive partition column of every dataset.
pub const PARTITION_COLUMN: &str = "year";

impl Dataset {
    /// The Arrow schema of the files, with unit and description metadata.
    pub(crate) fn file_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    let mut md = HashMap::new();
                    if !c.unit.is_empty() {
                        md.insert("unit".to_string(), c.unit.to_string());
                    }
                    md.insert("description".to_string(), c.description.to_string());
                    Field::new(c.name, c.ty.arrow(), true).with_metadata(md)
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The query that produces the dataset, partition column first, in a total order.
    pub(crate) fn query(&self) -> String {
        let cols: Vec<String> = std::iter::once(format!(
            "CAST({PARTITION_COLUMN} AS INT) AS {PARTITION_COLUMN}"
        ))
        .chain(self.columns.iter().map(|c| format!("\"{}\"", c.name)))
        .collect();
        let order: Vec<String> = std::iter::once(PARTITION_COLUMN.to_string())
            .chain(self.sort_key.iter().map(|k| format!("\"{k}\"")))
            .collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            self.view,
            order.join(", ")
        )
    }
}

pub(crate) const REGION_INDICATORS: Dataset = Dataset {
    name: "region_indicators",
    view: "region_indicators",
    description: "Energy, CO2, GDP, intensities, change rates and energy mix per region (every level of the hierarchy) and year.",
    sort_key: &["region_code"],
    columns: &[
        col(
            "region_code",
            Text,
            "",
            "GB/T 2260 region code (6 digits) or 统计用区划代码 (9 or 12 digits)",
        ),
        col(
            "region_name",
            Text,
            "",
            "Region name from the regions input",
        ),
        col("level", Text, "", "country, province, city, county or town"),
        col(
            "energy_tce",
            Float,
            "tce",
            "Total energy consumption (能源消费总量) of the regional energy balance at equal value (等价值): primary electricity and electricity crossing the region's boundary at the year's coal rate of thermal power; energy supplied to others deducted",
        ),
        col(
            "energy_tce_equivalent",
            Float,
            "tce",
            "The same at equivalent value (当量值, GB/T 2589: electricity 0.1229 kgce/kWh): the sum of the enterprises' comprehensive consumption",
        ),
        col(
            "energy_tce_controlled",
            Float,
            "tce",
            "The total the controlled scope (双控口径) judges: energy_tce or energy_tce_equivalent (as electricity_valuation says) minus controlled_deduction_tce",
        ),
        col(
            "controlled_deduction_tce",
            Float,
            "tce",
            "Deducted from the total by controlled_scope: 2024: feedstock_tce + non_fossil_consumed_tce; 2022: feedstock_tce + renewable electricity consumed above its 2020 level; none: 0",
        ),
        col(
            "controlled_intensity_deduction_tce",
            Float,
            "tce",
            "Deducted from the total for energy_intensity_controlled: as controlled_deduction_tce, but feedstock only under 2022 (renewables stay in the intensity)",
        ),
        col(
            "feedstock_tce",
            Float,
            "tce",
            "Energy used as raw material (原料用能), included in energy_tce",
        ),
        col(
            "non_fossil_tce",
            Float,
            "tce",
            "Non-fossil energy consumed in the region by coal substitution (equal value): biomass, and hydro, wind, solar and nuclear generation less the part of it that left the region with exported electricity",
        ),
        col(
            "non_fossil_consumed_tce",
            Float,
            "tce",
            "The same at the valuation electricity_valuation names (what the 2024 controlled scope deducts)",
        ),
        col(
            "coal_tce",
            Float,
            "tce",
            "Coal and coal products (raw and washed coal, coke, coke oven and blast furnace gas …), net of output",
        ),
        col(
            "coal_consumed_tce",
            Float,
            "tce",
            "coal_tce less the coal that made exported electricity (the fossil part of the net export at equal value), at least 0",
        ),
        col(
            "oil_tce",
            Float,
            "tce",
            "Crude oil and oil products, net of output",
        ),
        col("gas_tce", Float, "tce", "Natural gas, net of output"),
        col(
            "electricity_tce",
            Float,
            "tce",
            "Net import of electricity (bought minus supplied) at the valuation electricity_valuation names; negative for a net exporter",
        ),
        col(
            "electricity_net_import_kwh",
            Float,
            "kWh",
            "Electricity bought minus electricity supplied to others by the region's reporters: its net import across its own boundary",
        ),
        col(
            "heat_tce",
            Float,
            "tce",
            "Heat consumed minus heat supplied to others",
        ),
        col(
            "high_energy_tce",
            Float,
            "tce",
            "Energy of the six energy-intensive industries (GB/T 4754 divisions 25, 26, 30, 31, 32, 44) at the valuation electricity_valuation names",
        ),
        col(
            "energy_mix_tce",
            Float,
            "tce",
            "Base of the energy-mix shares (equal value): coal_consumed_tce + oil + gas + non_fossil_tce + net imported electricity and heat (0 when the region exports them)",
        ),
        col("co2_t", Float, "t CO2", "co2_direct_t + co2_indirect_t"),
        col(
            "co2_direct_t",
            Float,
            "t CO2",
            "Fossil fuel combustion (feedstock excluded), net of the carbon in fossil products supplied to others",
        ),
        col(
            "co2_indirect_t",
            Float,
            "t CO2",
            "The region's net import of electricity in MWh × its grid factor (negative for a net exporter) + net purchased heat × heat factor",
        ),
        col(
            "grid_factor",
            Float,
            "t CO2 per MWh",
            "Grid emission factor of the region's net electricity import (its province's, grid region's or the national one, as electricity_factor allows; the country: national)",
        ),
        col(
            "grid_factor_year",
            Int,
            "year",
            "Data year of grid_factor (the record year's latest, or the base year's with grid_factor_vintage: base_year)",
        ),
        col(
            "grid_factor_scope",
            Text,
            "",
            "Scope and area of grid_factor, e.g. provincial 150000, regional north, national CN",
        ),
        col(
            "gdp",
            Float,
            "10^8 yuan",
            "GDP at current prices (亿元), as input",
        ),
        col(
            "gdp_const",
            Float,
            "10^8 yuan",
            "GDP at base-year prices, chained from the real index",
        ),
        col(
            "energy_intensity",
            Float,
            "tce per 10^4 yuan",
            "energy_tce or energy_tce_equivalent (as electricity_valuation says) / (gdp_const × 10^4)",
        ),
        col(
            "energy_intensity_controlled",
            Float,
            "tce per 10^4 yuan",
            "(energy_tce or energy_tce_equivalent − controlled_intensity_deduction_tce) / (gdp_const × 10^4)",
        ),
        col(
            "co2_intensity",
            Float,
            "t CO2 per 10^4 yuan",
            "co2_t / (gdp_const × 10^4)",
        ),
        col(
            "energy_intensity_change_yoy",
            Float,
            "fraction",
            "energy_intensity_t / energy_intensity_{t-1} − 1, each rounded to 4 decimals first (NBS); −0.03 = 3 % lower",
        ),
        col(
            "energy_intensity_controlled_change_yoy",
            Float,
            "fraction",
            "Same for energy_intensity_controlled",
        ),
        col(
            "co2_intensity_change_yoy",
            Float,
            "fraction",
            "Same for co2_intensity",
        ),
        col(
            "energy_intensity_change_base",
            Float,
            "fraction",
            "energy_intensity_t / energy_intensity_base − 1 (rounded like the yoy change)",
        ),
        col(
            "energy_intensity_controlled_change_base",
            Float,
            "fraction",
            "Same for energy_intensity_controlled",
        ),
        col(
            "co2_intensity_change_base",
            Float,
            "fraction",
            "Same for co2_intensity",
        ),
        col(
            "coal_share",
            Float,
            "fraction",
            "coal_consumed_tce / energy_mix_tce (coal substitution)",
        ),
        col(
            "non_fossil_share",
            Float,
            "fraction",
            "non_fossil_tce / energy_mix_tce (coal substitution, whatever electricity_valuation says)",
        ),
        col(
            "high_energy_share",
            Float,
            "fraction",
            "high_energy_tce / the total electricity_valuation names",
        ),
        col(
            "enterprises",
            Int,
            "count",
            "Distinct enterprises with accepted records in the region and year",
        ),
        col(
            "records",
            BigInt,
            "count",
            "Accepted input records (energy and sector_energy) behind the row",
        ),
        col(
            "electricity_valuation",
            Text,
            "",
            "equal or equivalent: the total the intensities, the controlled scope and the targets use (config electricity_valuation)",
        ),
        col(
            "controlled_scope",
            Text,
            "",
            "2024, 2022 or none: the rule energy_tce_controlled follows (config controlled_scope)",
        ),
        col(
            "factor_set",
            Text,
            "",
            "Factor set id the numbers were computed with",
        ),
    ],
};

pub(crate) const TARGET_PROGRESS: Dataset = Dataset {
    name: "target_progress",
    view: "target_progress",
    description: "Progress of each region against each plan target, per year between the target's base and target year, with the warning level.",
    sort_key: &["region_code", "plan", "indicator"],
    columns: &[
        col("region_code", Text, "", "Region code"),
        col("region_name", Text, "", "Region name"),
        col(
            "plan",
            Text,
            "",
            "Plan the target belongs to, as input (e.g. 14th-FYP)",
        ),
        col(
            "indicator",
            Text,
            "",
            "energy_intensity_reduction, co2_intensity_reduction, non_fossil_share_min, coal_share_max, energy_total_max or co2_total_max",
        ),
        col("base_year", Int, "year", "Base year of the target"),
        col("target_year", Int, "year", "Year the target must be met"),
        col(
            "target",
            Float,
            "fraction, tce or t CO2",
            "Target value as input: a reduction or share as a fraction, a cap in tce or t CO2",
        ),
        col(
            "achieved",
            Float,
            "fraction, tce or t CO2",
            "Reductions: 1 − I_t / I_base (cumulative); shares and caps: the value of the year",
        ),
        col(
            "required",
            Float,
            "fraction, tce or t CO2",
            "Reductions: 1 − (1 − target)^((t − base) / (target_year − base)), the even path; shares: the linear path from the base-year value to the target; caps: the target",
        ),
        col(
            "required_annual",
            Float,
            "fraction",
            "Reductions: the year's requirement, an annual target row (base year t − 1) or the even annual rate 1 − (1 − target)^(1 / (target_year − base))",
        ),
        col(
            "change_yoy",
            Float,
            "fraction",
            "Intensity change against the previous year (intensity targets only)",
        ),
        col(
            "measured_on",
            Text,
            "",
            "The region_indicators column the target is judged on",
        ),
        col(
            "warning_level",
            Int,
            "level",
            "1 red: intensity rose (or share or cap missed); 2 yellow: fell, but by less than required_annual (warning_basis annual) or achieved < required (cumulative); 3 green: on track (or met)",
        ),
        col(
            "status",
            Text,
            "",
            "red, yellow or green for intensity targets; met or not_met for share and total caps",
        ),
    ],
};

pub(crate) const ENTERPRISE_ANNUAL: Dataset = Dataset {
    name: "enterprise_annual",
    view: "enterprise_annual",
    description: "Per enterprise, year, energy, use and flow: quantity in the base unit, standard coal and CO2, with the factor years used. Consumption and output stay separate rows.",
    sort_key: &[
        "enterprise_id",
        "region_code",
        "sector_code",
        "energy_code",
        "use",
        "flow",
    ],
    columns: &[
        col(
            "enterprise_id",
            Text,
            "",
            "Unified Social Credit Code (check digit validated)",
        ),
        col("enterprise_name", Text, "", "Enterprise name as input"),
        col("region_code", Text, "", "Region code of the records"),
        col(
            "sector_code",
            Text,
            "",
            "GB/T 4754-2017 industry code as input",
        ),
        col(
            "energy_code",
            Text,
            "",
            "Energy code of the factor set's catalog",
        ),
        col("use", Text, "", "fuel, feedstock or transformation"),
        col(
            "flow",
            Text,
            "",
            "consumption or output (energy supplied to others)",
        ),
        col(
            "base_unit",
            Text,
            "",
            "Base unit of quantity_base (t, m3, kWh or GJ)",
        ),
        col(
            "quantity_base",
            Float,
            "base_unit",
            "Quantity in the base unit, unsigned",
        ),
        col(
            "tce",
            Float,
            "tce",
            "Standard coal at equivalent value (GB/T 2589 comprehensive consumption, electricity 0.1229 kgce/kWh), signed: negative for output",
        ),
        col(
            "tce_equal",
            Float,
            "tce",
            "Standard coal at equal value (electricity and primary electricity at the year's coal rate of thermal power), signed",
        ),
        col(
            "co2_direct_t",
            Float,
            "t CO2",
            "Combustion CO2, signed (0 for feedstock, energy transformation, electricity, heat and non-fossil energy)",
        ),
        col(
            "co2_indirect_t",
            Float,
            "t CO2",
            "Electricity or heat CO2, signed",
        ),
        col("co2_t", Float, "t CO2", "co2_direct_t + co2_indirect_t"),
        col("records", Int, "count", "Input records summed"),
        col(
            "months",
            Int,
            "count",
            "Of those, monthly records (0 = an annual record)",
        ),
        col(
            "tce_factor_year",
            Int,
            "year",
            "Data year of the coal rate of thermal power behind tce_equal (electricity and primary electricity only)",
        ),
        col(
            "factor_year",
            Int,
            "year",
            "Data year of the grid or heat factor used (electricity and heat only)",
        ),
        col(
            "indirect_factor_scope",
            Text,
            "",
            "national, regional or provincial grid factor, or heat",
        ),
        col("factor_set", Text, "", "Factor set id"),
    ],
};

pub(crate) const REJECTS: Dataset = Dataset {
    name: "rejects",
    view: "rejects",
    description: "Every input row that failed validation, with where it came from, the rule and what to do. year=0 holds rows without a valid year and the rejects of the regions input.",
    sort_key: &["input", "source_file", "source_line"],
    columns: &[
        col(
            "input",
            Text,
            "",
            "energy, sector_energy, gdp, regions or targets",
        ),
        col(
            "source_file",
            Text,
            "",
            "Input file, relative to the config file",
        ),
        col(
            "source_line",
            BigInt,
            "line",
            "Line the record starts on in the file (1 = header; a quoted value may span lines); row number for Parquet",
        ),
        col(
            "rule_id",
            Text,
            "",
            "Stable id of the rule the row broke (README: Reject rules)",
        ),
        col(
            "column_name",
            Text,
            "",
            "Column at fault ('' when the whole row is)",
        ),
        col("message", Text, "", "What is wrong and what to do"),
        col("raw_record", Text, "", "The row's values as written"),
    ],
};

pub const DATASETS: [Dataset; 4] = [
    REGION_INDICATORS,
    TARGET_PROGRESS,
    ENTERPRISE_ANNUAL,
    REJECTS,
];

/// The data dictionary as Markdown (the README section is this text).
pub fn dictionary_markdown() -> String {
    let mut s = String::new();
    for d in DATASETS {
        s.push_str(&format!(
            "#### `{}`\n\n{} Partitioned by `year` (in the path: `reports/{}/year=YYYY/part-<F>.parquet`); rows sorted by {}.\n\n",
            d.name,
            d.description,
            d.name,
            d.sort_key.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ));
        s.push_str("| column | type | unit | meaning |\n|---|---|---|---|\n");
        s.push_str("| `year` | int32 (partition) | year | Statistical year |\n");
        for c in d.columns {
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.name,
                c.ty.name(),
                c.unit,
                c.description.replace('|', "\\|")
            ));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_data_dictionary_is_generated_from_here() {
        let readme = include_str!("../../../README.md");
        let dict = dictionary_markdown();
        assert!(
            readme.contains(dict.trim_end()),
            "README.md's data dictionary is out of date: replace the section between the \
             DATA DICTIONARY markers with the output of `carbonstat schema --markdown`"
        );
    }

    #[test]
    fn every_dataset_has_documented_columns_and_a_sort_key_among_them() {
        for d in DATASETS {
            for c in d.columns {
                assert!(!c.description.is_empty(), "{}.{}", d.name, c.name);
            }
            for k in d.sort_key {
                assert!(d.columns.iter().any(|c| c.name == *k), "{}: {k}", d.name);
            }
            assert_eq!(d.file_schema().fields().len(), d.columns.len());
        }
    }
}
