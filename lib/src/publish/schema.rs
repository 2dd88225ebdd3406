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
    Bool,
}

impl ColType {
    pub(crate) fn arrow(self) -> DataType {
        match self {
            ColType::Text => DataType::Utf8,
            ColType::Int => DataType::Int32,
            ColType::BigInt => DataType::Int64,
            ColType::Float => DataType::Float64,
            ColType::Bool => DataType::Boolean,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ColType::Text => "string",
            ColType::Int => "int32",
            ColType::BigInt => "int64",
            ColType::Float => "float64",
            ColType::Bool => "bool",
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

use ColType::{BigInt, Bool, Float, Int, Text};

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
    /// Sorted one year at a time (a query per year) instead of in one sort:
    /// for the datasets with a row per enterprise, whose one sort held all
    /// years at once (at 10^7 input rows enterprise_annual's one sort took
    /// the run to 488 MiB, one year at a time to 250 MiB; docs/benchmarks.md,
    /// session 11). The others are small, and their views are computed
    /// again by every query.
    pub per_year: bool,
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

    /// The queries that produce the dataset, partition column first, in a
    /// total order: one, or (`per_year`) one per year of `years`, each
    /// ordered the same way within its year.
    pub(crate) fn queries(&self, years: &[i32]) -> Vec<String> {
        if !self.per_year {
            return vec![self.query()];
        }
        years.iter().map(|y| self.query_of(Some(*y))).collect()
    }

    /// The years a `per_year` dataset has rows for, ascending.
    pub(crate) fn years_query(&self) -> String {
        format!(
            "SELECT DISTINCT CAST({PARTITION_COLUMN} AS INT) AS {PARTITION_COLUMN} FROM {} ORDER BY 1",
            self.view
        )
    }

    /// The query that produces the dataset, partition column first, in a total order.
    pub(crate) fn query(&self) -> String {
        self.query_of(None)
    }

    /// The query of the rows of one year, or of all.
    fn query_of(&self, year: Option<i32>) -> String {
        let cols: Vec<String> = std::iter::once(format!(
            "CAST({PARTITION_COLUMN} AS INT) AS {PARTITION_COLUMN}"
        ))
        .chain(self.columns.iter().map(|c| format!("\"{}\"", c.name)))
        .collect();
        let order: Vec<String> = std::iter::once(PARTITION_COLUMN.to_string())
            .chain(self.sort_key.iter().map(|k| format!("\"{k}\"")))
            .collect();
        let filter = year
            .map(|y| format!(" WHERE {PARTITION_COLUMN} = {y}"))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {}",
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
    per_year: false,
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
            "parent_code",
            Text,
            "",
            "The region's parent in the regions input (empty for the top)",
        ),
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
            "co2_process_t",
            Float,
            "t CO2",
            "Industrial process CO2 (cement clinker, lime, calcium carbide …: production × the factor set's process factor, or the clinker's CaO × 44/56 + MgO × 44/40); beside, not in, co2_t",
        ),
        col(
            "sink_t",
            Float,
            "t CO2",
            "Carbon removed by sinks (forest, grassland, wetland, farmland), as a positive number: reported removals, or growing-stock growth in m3 × BEF × wood density × (1 + root-shoot ratio) × carbon fraction × 44/12",
        ),
        col(
            "co2_net_t",
            Float,
            "t CO2",
            "Net emissions: co2_t + co2_process_t − sink_t (the CO2 intensity and its targets stay on co2_t, the official assessment basis)",
        ),
        col(
            "co2_peak_year",
            Int,
            "year",
            "The year of the highest co2_t of the region's years up to this one (the earliest, if reached twice)",
        ),
        col(
            "co2_peak_t",
            Float,
            "t CO2",
            "The highest co2_t of the region's years up to this one",
        ),
        col(
            "co2_years_below_peak",
            Int,
            "count",
            "Years after co2_peak_year, up to this one, whose co2_t stayed below the peak (a region has peaked when this is at least 3)",
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
            "key_energy_units",
            Int,
            "count",
            "Key energy-using units (重点用能单位) with records in the region: ≥ the factor set's key_energy_unit threshold (10 000 tce at equivalent value in cn-2026) or listed in a key_units group. NULL when nothing defines a key unit (a factor set without the criterion and no key_units group): not known, rather than none",
        ),
        col(
            "key_units_energy_share",
            Float,
            "fraction",
            "The key units' energy / the sum of every reporter's energy floored at 0 (both at equivalent value): a wind farm that supplies more than it consumes counts 0, so the share stays within 0-1. NULL with `key_energy_units`",
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
        col(
            "energy_intensity_rounded",
            Float,
            "tce per 10^4 yuan",
            "energy_intensity as the change rates and the targets compare it: rounded to 4 decimals when nbs_rounding is on (NBS practice), else equal to it",
        ),
        col(
            "energy_intensity_controlled_rounded",
            Float,
            "tce per 10^4 yuan",
            "energy_intensity_controlled as the change rates and the targets compare it (rounded like energy_intensity_rounded)",
        ),
        col(
            "co2_intensity_rounded",
            Float,
            "t CO2 per 10^4 yuan",
            "co2_intensity as the change rates and the targets compare it (rounded like energy_intensity_rounded)",
        ),
    ],
};

pub(crate) const TARGET_PROGRESS: Dataset = Dataset {
    name: "target_progress",
    view: "target_progress",
    description: "Progress of each region against each plan target, per year between the target's base and target year, with the warning level.",
    sort_key: &["region_code", "plan", "indicator"],
    per_year: false,
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
            "energy_intensity_reduction, co2_intensity_reduction, non_fossil_share_min, coal_share_max, energy_total_max, co2_total_max or co2_peak_by",
        ),
        col("base_year", Int, "year", "Base year of the target"),
        col("target_year", Int, "year", "Year the target must be met"),
        col(
            "target",
            Float,
            "fraction, tce or t CO2",
            "Target value as input: a reduction or share as a fraction, a cap in tce or t CO2, the peak deadline as a year",
        ),
        col(
            "achieved",
            Float,
            "fraction, tce or t CO2",
            "Reductions: 1 − I_t / I_base (cumulative); shares and caps: the value of the year; co2_peak_by: co2_peak_year",
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
            "Intensity change against the previous year (intensity targets); co2_t's change (co2_peak_by)",
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
            "1 red: intensity rose (or share or cap missed); 2 yellow: fell, but by less than required_annual (warning_basis annual) or achieved < required (cumulative), and in the target year achieved < target; 3 green: on track (or met). co2_peak_by: 3 peaked or not rising, 2 still rising, 1 rising within 3 years of the deadline or peak after it. Empty on a base-year row",
        ),
        col(
            "status",
            Text,
            "",
            "red, yellow or green for intensity targets, met or not_met in their target year (achieved ≥ target); met or not_met for share and total caps; peaked (three years after the peak all below it, peak by the deadline), not_yet, at_risk or not_met for co2_peak_by; base_year on the row of a plan's base year when it is the region's latest year (the outlook of a plan just begun)",
        ),
        col(
            "required_change_remaining",
            Float,
            "fraction per year",
            "The annual change still needed in each year left to meet the target from this year (−0.0265 = fall 2.65 % a year): reductions ((1 − target) × I_base / I_t)^(1 / years left) − 1; caps (cap / value)^(1 / years left) − 1. Empty in the target year and for shares and co2_peak_by",
        ),
        col(
            "projected_achieved",
            Float,
            "fraction, tce or t CO2",
            "Where the trend leads by the target year: the value × (1 + g)^(years left), g the compound annual change over the last three years (fewer when the data start later), as achieved reads it (1 − projected I / I_base for reductions; the value for caps)",
        ),
        col(
            "projected_warning_level",
            Int,
            "level",
            "Reductions: 3 the projection meets the target, 2 short but falling, 1 rising; caps: 3 within the cap, 1 over it",
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
    per_year: true,
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
    per_year: false,
    columns: &[
        col(
            "input",
            Text,
            "",
            "energy, sector_energy, gdp, regions, targets, production, sinks, groups or green_power",
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

pub(crate) const REGION_SECTORS: Dataset = Dataset {
    name: "region_sectors",
    view: "region_sectors",
    description: "The carbon budget of each region (every level) and year by sector group — agriculture, industry (each of the six energy-intensive divisions, and the rest), construction, transport, services, households — with process CO2 in the product's division and sinks per ecosystem. Its energy, CO2, process CO2 and sinks add up to region_indicators' energy_tce, energy_tce_equivalent, co2_t, co2_process_t and sink_t, in every region-year with energy records (region_indicators has a row only there; process CO2 or sinks of a region-year without energy records are listed under \"to look at\" by `run`).",
    sort_key: &["region_code", "sector_group", "subsector"],
    per_year: false,
    columns: &[
        col("region_code", Text, "", "Region code"),
        col("region_name", Text, "", "Region name"),
        col("level", Text, "", "country, province, city, county or town"),
        col(
            "sector_group",
            Text,
            "",
            "agriculture, industry, construction, transport, services, households (the factor set's sector_groups), unclassified (a division no range holds), or sinks",
        ),
        col(
            "subsector",
            Text,
            "",
            "industry: the GB/T 4754 division of an energy-intensive industry (25, 26, 30, 31, 32, 44) or other; sinks: the ecosystem; otherwise empty",
        ),
        col("sector_name", Text, "", "Chinese name of the row"),
        col(
            "energy_tce",
            Float,
            "tce",
            "Energy consumption at equal value (等价值), energy supplied to others deducted",
        ),
        col(
            "energy_tce_equivalent",
            Float,
            "tce",
            "Energy consumption at equivalent value (当量值)",
        ),
        col(
            "co2_direct_t",
            Float,
            "t CO2",
            "Fossil fuel combustion CO2 of the sector",
        ),
        col(
            "electricity_net_kwh",
            Float,
            "kWh",
            "Electricity bought − electricity supplied to others by the sector (negative: the power sector of an exporting region)",
        ),
        col(
            "co2_indirect_t",
            Float,
            "t CO2",
            "electricity_net_kwh / 1000 × the region's grid factor + the sector's net heat CO2",
        ),
        col("co2_t", Float, "t CO2", "co2_direct_t + co2_indirect_t"),
        col(
            "co2_process_t",
            Float,
            "t CO2",
            "Process CO2 of the products the division makes",
        ),
        col(
            "sink_t",
            Float,
            "t CO2",
            "Removals of the ecosystem (sinks rows only)",
        ),
        col("records", BigInt, "count", "Input records summed"),
    ],
};

pub(crate) const PROCESS_EMISSIONS: Dataset = Dataset {
    name: "process_emissions",
    view: "process_emissions",
    description: "Industrial process CO2 per production row: an enterprise's in its own rows, a region's without an enterprise, with the factor and its source.",
    sort_key: &["region_code", "enterprise_id", "product_code"],
    per_year: false,
    columns: &[
        col("region_code", Text, "", "Region code of the production"),
        col(
            "enterprise_id",
            Text,
            "",
            "Unified Social Credit Code of the producer; empty for a region's total",
        ),
        col(
            "product_code",
            Text,
            "",
            "Product of the factor set's process_factors (cement_clinker, lime, calcium_carbide …)",
        ),
        col("product_name", Text, "", "Chinese name of the product"),
        col(
            "division",
            Text,
            "",
            "GB/T 4754 division that makes the product",
        ),
        col("quantity_t", Float, "t", "Production in tonnes"),
        col(
            "tco2_per_t",
            Float,
            "t CO2 per t",
            "Process factor used: the clinker's CaO × 44/56 + MgO × 44/40 when given, else the factor set's default",
        ),
        col("factor_method", Text, "", "composition or default"),
        col(
            "cao",
            Float,
            "fraction",
            "CaO mass fraction of the clinker, as input",
        ),
        col(
            "mgo",
            Float,
            "fraction",
            "MgO mass fraction of the clinker, as input",
        ),
        col("co2_process_t", Float, "t CO2", "quantity_t × tco2_per_t"),
        col(
            "factor_source_id",
            Text,
            "",
            "source_id of the process factor row (sources.csv)",
        ),
        col("factor_quality", Text, "", "primary, secondary or memory"),
        col("source_file", Text, "", "Input file of the production row"),
        col(
            "source_line",
            BigInt,
            "",
            "Line of the production row in its file",
        ),
        col(
            "quantity",
            Float,
            "",
            "Production as input, in `unit` (quantity_t is it in tonnes)",
        ),
        col("unit", Text, "", "Unit of the production as input"),
    ],
};

pub(crate) const ENTERPRISE_TOTALS: Dataset = Dataset {
    name: "enterprise_totals",
    view: "enterprise_totals",
    description: "Per enterprise and year: its energy at both valuations, energy and process CO2, and whether it is a key energy-using unit (重点用能单位) or a key emitter (重点排放单位).",
    sort_key: &["enterprise_id"],
    per_year: true,
    columns: &[
        col(
            "enterprise_id",
            Text,
            "",
            "Unified Social Credit Code (统一社会信用代码)",
        ),
        col(
            "enterprise_name",
            Text,
            "",
            "Enterprise name as input (empty when it only reports production)",
        ),
        col(
            "region_code",
            Text,
            "",
            "Region code of its records (the lowest, if several)",
        ),
        col(
            "sector_code",
            Text,
            "",
            "GB/T 4754 code of its records (the lowest, if several)",
        ),
        col(
            "energy_tce_equivalent",
            Float,
            "tce",
            "Comprehensive energy consumption at equivalent value (当量值, GB/T 2589): consumption − energy supplied to others; what the key-unit rule reads",
        ),
        col(
            "energy_tce",
            Float,
            "tce",
            "The same at equal value (等价值), beside it",
        ),
        col("co2_direct_t", Float, "t CO2", "Fossil fuel combustion CO2"),
        col(
            "co2_indirect_t",
            Float,
            "t CO2",
            "Electricity it bought × its province's grid factor + heat it bought × heat factor; what it supplies to others is not credited",
        ),
        col("co2_t", Float, "t CO2", "co2_direct_t + co2_indirect_t"),
        col(
            "co2_process_t",
            Float,
            "t CO2",
            "Process CO2 of its production rows (process_emissions)",
        ),
        col(
            "key_energy_unit",
            Bool,
            "",
            "energy_tce_equivalent ≥ the factor set's key_energy_unit threshold (10 000 tce, 重点用能单位节能管理办法), or listed in a key_units group that year; empty when the set has no criteria",
        ),
        col(
            "key_energy_unit_basis",
            Text,
            "",
            "Why: '≥ 10000 tce', 'listed in <group ids>', or both",
        ),
        col(
            "key_emitter",
            Bool,
            "",
            "co2_t + co2_process_t ≥ the factor set's key_emitter threshold (26 000 t CO2, 碳排放权交易管理暂行条例); empty when the set has no criteria",
        ),
        col(
            "groups",
            Text,
            "",
            "The groups it is a member of that year, comma-separated",
        ),
        col("records", Int, "count", "Input records summed"),
    ],
};

pub(crate) const GROUP_INDICATORS: Dataset = Dataset {
    name: "group_indicators",
    view: "group_indicators",
    description: "Per group of enterprises (zero-carbon park, key units, custom) and year: members, energy, CO2 with certified green power at zero, CO2 per tce, clean-energy and green-power shares, and for zero-carbon parks the national pilot criteria with pass or fail.",
    sort_key: &["group_id"],
    per_year: false,
    columns: &[
        col("group_id", Text, "", "Group id as input"),
        col("group_name", Text, "", "Group name as input"),
        col("kind", Text, "", "zero_carbon_park, key_units or custom"),
        col(
            "members",
            Int,
            "count",
            "Enterprises whose membership is in force that year",
        ),
        col(
            "members_reporting",
            Int,
            "count",
            "Of them, enterprises with energy records that year (members − members_reporting did not report)",
        ),
        col(
            "energy_tce_equivalent",
            Float,
            "tce",
            "Members' comprehensive energy consumption at equivalent value (当量值)",
        ),
        col(
            "energy_tce",
            Float,
            "tce",
            "The same at equal value (等价值)",
        ),
        col(
            "energy_consumed_tce",
            Float,
            "tce",
            "Members' energy consumption at equal value before deducting what they supply to others: the base of clean_energy_share",
        ),
        col(
            "co2_direct_t",
            Float,
            "t CO2",
            "Members' fossil fuel combustion CO2",
        ),
        col(
            "co2_electricity_t",
            Float,
            "t CO2",
            "(electricity bought − green_power_used_kwh) / 1000 × grid_factor: green power at zero, electricity supplied to others not credited (power one member sells another counts at the buyer too)",
        ),
        col(
            "co2_heat_t",
            Float,
            "t CO2",
            "Heat the members bought × heat factor",
        ),
        col(
            "co2_t",
            Float,
            "t CO2",
            "co2_direct_t + co2_electricity_t + co2_heat_t (energy CO2; process CO2 beside it)",
        ),
        col("co2_process_t", Float, "t CO2", "Members' process CO2"),
        col(
            "co2_per_tce",
            Float,
            "t CO2 per tce",
            "co2_t / energy_tce_equivalent: the core indicator of the zero-carbon park pilot (单位能耗碳排放)",
        ),
        col(
            "electricity_in_kwh",
            Float,
            "kWh",
            "Electricity the members bought",
        ),
        col(
            "electricity_out_kwh",
            Float,
            "kWh",
            "Electricity the members supplied to others",
        ),
        col(
            "non_fossil_generation_kwh",
            Float,
            "kWh",
            "Hydro, wind, solar and nuclear generation of members",
        ),
        col(
            "electricity_use_kwh",
            Float,
            "kWh",
            "electricity_in_kwh + the non-fossil generation not supplied to others (max(generation − out, 0)): the electricity the group used",
        ),
        col(
            "green_power_kwh",
            Float,
            "kWh",
            "Certified green power the members bought (green_certificate and green_power_trade)",
        ),
        col(
            "green_power_used_kwh",
            Float,
            "kWh",
            "Σ over members of min(its green power, its electricity bought): a member's certificates cover its own purchases only",
        ),
        col(
            "clean_energy_tce",
            Float,
            "tce",
            "Natural gas + biomass + (green power used + non-fossil generation used by the members themselves) × the year's coal rate (equal value)",
        ),
        col(
            "clean_energy_share",
            Float,
            "fraction",
            "clean_energy_tce / energy_consumed_tce (清洁能源消费占比: gas and non-fossil, by coal substitution)",
        ),
        col(
            "green_power_share",
            Float,
            "fraction",
            "green_power_used_kwh / electricity_use_kwh",
        ),
        col(
            "grid_factor",
            Float,
            "t CO2 per MWh",
            "Factor of the power bought: the national factor excluding market-traded non-fossil power (the latest data year up to the year), else the national average",
        ),
        col("grid_factor_year", Int, "year", "Data year of grid_factor"),
        col(
            "grid_factor_scope",
            Text,
            "",
            "Scope and area of grid_factor",
        ),
        col(
            "grid_factor_source_id",
            Text,
            "",
            "source_id of the grid factor row (sources.csv)",
        ),
        col(
            "grid_factor_quality",
            Text,
            "",
            "primary, secondary or memory",
        ),
        col(
            "co2_per_tce_limit",
            Float,
            "t CO2 per tce",
            "Zero-carbon parks: the core limit of the park's energy band in the factor set's criteria (≤ 0.2 for 20万-100万 tce, ≤ 0.3 above, 发改环资〔2025〕910号); empty for parks below the lowest band and other groups",
        ),
        col(
            "co2_per_tce_check",
            Text,
            "",
            "pass, fail, or empty when no limit applies",
        ),
        col(
            "clean_energy_share_min",
            Float,
            "fraction",
            "Zero-carbon parks: the guidance minimum of the clean-energy share (0.9 in cn-2026)",
        ),
        col(
            "clean_energy_share_check",
            Text,
            "",
            "pass, fail, or empty when no minimum applies",
        ),
        col(
            "criteria_source",
            Text,
            "",
            "source_id of the criteria rows applied (sources.csv)",
        ),
    ],
};

pub(crate) const TARGET_ALLOCATION: Dataset = Dataset {
    name: "target_allocation",
    view: "target_allocation",
    description: "For every target whose region's child regions have targets of the same plan and indicator (分解到乡镇和年度): what the children's targets imply for the parent, and whether they add up to it. Partitioned by the target year.",
    sort_key: &["region_code", "plan", "indicator"],
    per_year: false,
    columns: &[
        col("region_code", Text, "", "The parent region"),
        col("region_name", Text, "", "Its name"),
        col("plan", Text, "", "Plan of the targets"),
        col(
            "indicator",
            Text,
            "",
            "energy_intensity_reduction, co2_intensity_reduction, energy_total_max or co2_total_max",
        ),
        col("base_year", Int, "year", "Base year of the parent's target"),
        col(
            "target_year",
            Int,
            "year",
            "Target year of the parent's target",
        ),
        col(
            "target",
            Float,
            "fraction, tce or t CO2",
            "The parent's target",
        ),
        col(
            "implied",
            Float,
            "fraction, tce or t CO2",
            "Reductions: Σ w_i × R_i / Σ w_i over the children with targets, w_i the child's base-year energy (on the energy_intensity_basis) or co2_t — equal GDP growth assumed; caps: Σ of the children's caps. Empty when a child has no base-year data",
        ),
        col(
            "consistent",
            Bool,
            "",
            "Reductions: implied ≥ target; caps: implied ≤ target",
        ),
        col(
            "children_with_targets",
            Int,
            "count",
            "Child regions with a target of the plan and indicator",
        ),
        col(
            "children",
            Int,
            "count",
            "Child regions in the regions input",
        ),
        col(
            "coverage",
            Float,
            "fraction",
            "Σ w_i / the parent's own base-year value: below 1 when children without targets or statistics kept at the parent's level carry part of it",
        ),
        col("method", Text, "", "How implied is computed"),
    ],
};

pub(crate) const SECTOR_ANNUAL: Dataset = Dataset {
    name: "sector_annual",
    view: "sector_annual",
    description: "The sector_energy records (a sector's energy without an enterprise: households, transport …) per region, sector, year, energy, use and flow, as enterprise_annual has the enterprises' (55_explain.sql). Together they hold every accepted record, summed over the months.",
    sort_key: &["region_code", "sector_code", "energy_code", "use", "flow"],
    // enterprise_annual's columns after the enterprise's id and name
    per_year: false,
    columns: ENTERPRISE_ANNUAL.columns.split_at(2).1,
};

pub(crate) const REGION_BUDGET_ROWS: Dataset = Dataset {
    name: "region_budget_rows",
    view: "region_budget_rows",
    description: "The production and sinks input rows behind a region's co2_process_t and sink_t (the region and every region below it), with file and line, for `carbonstat explain` (55_explain.sql).",
    sort_key: &["region_code", "kind", "source_file", "source_line"],
    per_year: false,
    columns: &[
        col("region_code", Text, "", "Region code (every level)"),
        col(
            "kind",
            Text,
            "",
            "co2_process_t (a production row) or sink_t (a sinks row)",
        ),
        col(
            "key",
            Text,
            "",
            "The product (process_factors) or the ecosystem",
        ),
        col(
            "name",
            Text,
            "",
            "The product's name, how its factor was chosen and the producer; or the sink's method",
        ),
        col("source_file", Text, "", "Input file of the row"),
        col("source_line", BigInt, "", "Line of the row in its file"),
        col("quantity", Float, "", "Quantity as input, in `unit`"),
        col("unit", Text, "", "Unit as input"),
        col(
            "factor",
            Float,
            "",
            "t CO2 per t of product, per m3 of stock change, or 1 for a reported removal",
        ),
        col("factor_unit", Text, "", "The factor's unit"),
        col(
            "amount_t",
            Float,
            "t CO2",
            "Process CO2 or CO2 removed by the row",
        ),
        col(
            "source_id",
            Text,
            "",
            "source_id of the factor row (sources.csv); the IPCC equation for a clinker's own composition",
        ),
        col("quality", Text, "", "primary, secondary, memory or input"),
    ],
};

pub(crate) const REGION_GDP: Dataset = Dataset {
    name: "region_gdp",
    view: "region_gdp",
    description: "A region's GDP as input, its index and GDP at constant (base-year) prices, every year with GDP: the chain behind gdp_const (50_indicators.sql), for `carbonstat explain`.",
    sort_key: &["region_code"],
    per_year: false,
    columns: &[
        col("region_code", Text, "", "Region code"),
        col("gdp", Float, "10^8 yuan", "GDP at current prices, as input"),
        col(
            "gdp_index",
            Float,
            "previous year = 100",
            "GDP index at comparable prices, as input",
        ),
        col(
            "gdp_const",
            Float,
            "10^8 yuan at base-year prices",
            "GDP at base-year prices: the base year's GDP chained by the indices; NULL when the chain is broken",
        ),
    ],
};

pub(crate) const GROUP_MEMBERS: Dataset = Dataset {
    name: "group_members",
    view: "group_member_years",
    description: "The members of each group (groups input) in each year of the data, also those without records, for `carbonstat explain --group` (55_explain.sql).",
    sort_key: &["group_id", "enterprise_id"],
    per_year: false,
    columns: &[
        col("group_id", Text, "", "Group id from the groups input"),
        col(
            "enterprise_id",
            Text,
            "",
            "Unified Social Credit Code of the member",
        ),
    ],
};

pub(crate) const GREEN_POWER: Dataset = Dataset {
    name: "green_power",
    view: "green_power_rows",
    description: "The accepted green-power rows (green_power input) as given, with file and line, for `carbonstat explain --enterprise` and `--group` (55_explain.sql).",
    sort_key: &["enterprise_id", "source_file", "source_line"],
    per_year: false,
    columns: &[
        col(
            "enterprise_id",
            Text,
            "",
            "Unified Social Credit Code of the buyer",
        ),
        col("kind", Text, "", "green_certificate or green_power_trade"),
        col("quantity", Float, "", "Quantity as input, in `unit`"),
        col("unit", Text, "", "Unit as input"),
        col("source_file", Text, "", "Input file of the row"),
        col("source_line", BigInt, "", "Line of the row in its file"),
    ],
};

/// The datasets published for `carbonstat explain` (55_explain.sql): the
/// bulletin does not read them.
pub(crate) const EXPLAIN_DATASETS: [&str; 5] = [
    SECTOR_ANNUAL.name,
    REGION_BUDGET_ROWS.name,
    REGION_GDP.name,
    GROUP_MEMBERS.name,
    GREEN_POWER.name,
];

pub const DATASETS: [Dataset; 14] = [
    REGION_INDICATORS,
    TARGET_PROGRESS,
    ENTERPRISE_ANNUAL,
    REJECTS,
    REGION_SECTORS,
    PROCESS_EMISSIONS,
    ENTERPRISE_TOTALS,
    GROUP_INDICATORS,
    TARGET_ALLOCATION,
    SECTOR_ANNUAL,
    REGION_BUDGET_ROWS,
    REGION_GDP,
    GROUP_MEMBERS,
    GREEN_POWER,
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
    fn a_per_year_dataset_has_a_query_per_year_in_the_same_order() {
        // enterprise_totals is sorted one year at a time: a query for each
        // of 2020 and 2022, each the query of all rows with its year's filter
        let all = ENTERPRISE_TOTALS.query();
        let each = ENTERPRISE_TOTALS.queries(&[2020, 2022]);
        assert_eq!(each.len(), 2);
        for (q, y) in each.iter().zip([2020, 2022]) {
            let (select, order) = all.split_once(" ORDER BY ").unwrap();
            assert_eq!(*q, format!("{select} WHERE year = {y} ORDER BY {order}"));
        }
        assert!(all.ends_with(" FROM enterprise_totals ORDER BY year, \"enterprise_id\""));
        // no year, no query
        assert!(ENTERPRISE_TOTALS.queries(&[]).is_empty());
        // the others keep one query, whatever the years
        assert_eq!(
            REGION_INDICATORS.queries(&[2020, 2021]),
            vec![REGION_INDICATORS.query()]
        );
        let per_year: Vec<&str> = DATASETS
            .iter()
            .filter(|d| d.per_year)
            .map(|d| d.name)
            .collect();
        assert_eq!(per_year, ["enterprise_annual", "enterprise_totals"]);
    }

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
