//! Registering a factor set's tables in a session, in the shapes the SQL
//! steps read (`energy_catalog`, `grid_factor`, `generation_coal_rate` …):
//! one function per table, called through its `FactorTable::register`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::factors::tables::{
    Co2Method, CoalRateSeries, CombustionRow, GridRegionRow, SectorCombustionRow, StandardCoalRow,
    TceMethod, UnitRow,
};

impl FactorSet {
    /// Register the set's tables in a session, in the shapes the SQL steps use.
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        for t in self.tables() {
            t.register(self, ctx)?;
        }
        Ok(())
    }
}

/// `energy_catalog` (the catalog with tce and CO2 per base unit, their
/// sources and the calorific value in GJ per base unit) and `energy_alias`.
pub(crate) fn energy_catalog(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let units: HashMap<&str, &UnitRow> = set.units.iter().map(|u| (u.unit.as_str(), u)).collect();
    let coal: HashMap<&str, &StandardCoalRow> = set
        .standard_coal
        .iter()
        .map(|r| (r.energy_code.as_str(), r))
        .collect();
    let comb: HashMap<&str, &CombustionRow> = set
        .combustion
        .iter()
        .map(|r| (r.energy_code.as_str(), r))
        .collect();
    let e = &set.energy;
    let tce: Vec<Option<f64>> = e
        .iter()
        .map(|r| {
            (r.tce_method == TceMethod::Coefficient)
                .then(|| set.tce_per_base_unit(&r.energy_code))
                .flatten()
        })
        .collect();
    let co2: Vec<Option<f64>> = e
        .iter()
        .map(|r| {
            (r.co2_method == Co2Method::Combustion)
                .then(|| set.co2_per_base_unit(&r.energy_code))
                .flatten()
        })
        .collect();
    let gj: Vec<Option<f64>> = e
        .iter()
        .map(|r| set.gj_per_base_unit(&r.energy_code))
        .collect();
    // a sector's own factor of a combustion energy (sector_combustion_co2)
    let sector: Vec<Option<(&SectorCombustionRow, f64)>> = e
        .iter()
        .map(|r| {
            (r.co2_method == Co2Method::Combustion)
                .then(|| set.sector_co2_per_base_unit(&r.energy_code))
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
            ("gj_per_base_unit", Arc::new(Float64Array::from(gj))),
            (
                "co2_sector_prefix",
                strs(
                    sector
                        .iter()
                        .map(|s| s.map(|(r, _)| r.sector_prefix.as_str())),
                ),
            ),
            (
                "sector_co2_t_per_base_unit",
                Arc::new(Float64Array::from(
                    sector.iter().map(|s| s.map(|(_, f)| f)).collect::<Vec<_>>(),
                )),
            ),
            (
                "sector_co2_source_id",
                strs(sector.iter().map(|s| s.map(|(r, _)| r.source_id.as_str()))),
            ),
            (
                "sector_co2_quality",
                strs(sector.iter().map(|s| s.map(|(r, _)| r.quality.as_str()))),
            ),
        ],
    )?;
    let ea = set.energy_aliases();
    register_batch(
        ctx,
        "energy_alias",
        vec![
            ("alias", strs(ea.iter().map(|(a, _)| Some(a.as_str())))),
            ("energy_code", strs(ea.iter().map(|(_, c)| Some(*c)))),
        ],
    )
}

/// `unit_catalog` and `unit_alias`.
pub(crate) fn unit_catalog(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let u = &set.units;
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
    let ua = set.unit_aliases();
    register_batch(
        ctx,
        "unit_alias",
        vec![
            ("alias", strs(ua.iter().map(|(a, _)| Some(a.as_str())))),
            ("unit", strs(ua.iter().map(|(_, c)| Some(*c)))),
        ],
    )
}

/// `electricity_equivalent`: one row, electricity's standard-coal
/// coefficient (equivalent value) in tce/kWh.
pub(crate) fn electricity_equivalent(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let elec_tce = set
        .tce_per_base_unit("electricity")
        .ok_or_else(|| Error::Internal("electricity coefficient missing".into()))?;
    register_batch(
        ctx,
        "electricity_equivalent",
        vec![("tce_per_kwh", floats([elec_tce].into_iter()))],
    )
}

pub(crate) fn grid_factor(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let g = &set.grid_factors;
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
    )
}

/// `grid_region`: province_code holds the area's code (a province or a
/// city), area_prefix its 2 or 4 leading digits for a longest-prefix match.
pub(crate) fn grid_region(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let gr = &set.grid_regions;
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
            (
                "area_prefix",
                strs(gr.iter().map(GridRegionRow::area_prefix)),
            ),
        ],
    )
}

pub(crate) fn heat_factor(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let h = &set.heat_factors;
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
    )
}

pub(crate) fn generation_coal_rate(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let g = &set.generation_rate;
    register_batch(
        ctx,
        "generation_coal_rate",
        vec![
            ("data_year", ints(g.iter().map(|r| r.data_year))),
            ("kgce_per_kwh", floats(g.iter().map(|r| r.kgce_per_kwh))),
            (
                "tce_per_kwh",
                floats(g.iter().map(|r| r.kgce_per_kwh / 1000.0)),
            ),
            (
                "series",
                strs(g.iter().map(|r| r.series.map(CoalRateSeries::as_str))),
            ),
        ],
    )
}

pub(crate) fn high_energy_division(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    code_list(
        ctx,
        "high_energy_division",
        "division",
        set.high_energy
            .iter()
            .map(|r| [&*r.division, &*r.name_zh, &*r.name_en, &*r.source_id])
            .collect(),
    )
}

pub(crate) fn special_sector(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    code_list(
        ctx,
        "special_sector",
        "sector_code",
        set.special_sectors
            .iter()
            .map(|r| [&*r.sector_code, &*r.name_zh, &*r.name_en, &*r.source_id])
            .collect(),
    )
}

/// `process_factor` (CO2 per t of product, the division that makes it, the
/// row's source) and `product_alias` (folded name → product_code).
pub(crate) fn process_factors(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let p = &set.process_factors;
    register_batch(
        ctx,
        "process_factor",
        vec![
            (
                "product_code",
                strs(p.iter().map(|r| Some(&*r.product_code))),
            ),
            ("name_zh", strs(p.iter().map(|r| Some(&*r.name_zh)))),
            ("name_en", strs(p.iter().map(|r| Some(&*r.name_en)))),
            ("division", strs(p.iter().map(|r| Some(&*r.division)))),
            ("tco2_per_t", floats(p.iter().map(|r| r.tco2_per_t))),
            (
                "composition",
                Arc::new(BooleanArray::from(
                    p.iter().map(|r| r.composition).collect::<Vec<_>>(),
                )),
            ),
            ("source_id", strs(p.iter().map(|r| Some(&*r.source_id)))),
            ("quality", strs(p.iter().map(|r| Some(r.quality.as_str())))),
        ],
    )?;
    let pa = set.product_aliases();
    register_batch(
        ctx,
        "product_alias",
        vec![
            ("alias", strs(pa.iter().map(|(a, _)| Some(a.as_str())))),
            ("product_code", strs(pa.iter().map(|(_, c)| Some(*c)))),
        ],
    )
}

/// `sink_factor`: per ecosystem, the growing-stock defaults and their product
/// (t CO2 per m3 of stock growth).
pub(crate) fn sink_factors(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let s = &set.sink_factors;
    register_batch(
        ctx,
        "sink_factor",
        vec![
            (
                "ecosystem",
                strs(s.iter().map(|r| Some(r.ecosystem.as_str()))),
            ),
            ("bef", floats(s.iter().map(|r| r.bef))),
            ("wood_density", floats(s.iter().map(|r| r.wood_density))),
            (
                "root_shoot_ratio",
                floats(s.iter().map(|r| r.root_shoot_ratio)),
            ),
            (
                "carbon_fraction",
                floats(s.iter().map(|r| r.carbon_fraction)),
            ),
            ("tco2_per_m3", floats(s.iter().map(|r| r.tco2_per_m3))),
            ("source_id", strs(s.iter().map(|r| Some(&*r.source_id)))),
            ("quality", strs(s.iter().map(|r| Some(r.quality.as_str())))),
        ],
    )
}

/// `sector_group`: division ranges (and special sector codes) with their group.
pub(crate) fn sector_groups(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let g = &set.sector_groups;
    register_batch(
        ctx,
        "sector_group",
        vec![
            (
                "division_from",
                strs(g.iter().map(|r| Some(&*r.division_from))),
            ),
            ("division_to", strs(g.iter().map(|r| Some(&*r.division_to)))),
            (
                "sector_group",
                strs(g.iter().map(|r| Some(r.sector_group.as_str()))),
            ),
            ("name_zh", strs(g.iter().map(|r| Some(&*r.name_zh)))),
            ("source_id", strs(g.iter().map(|r| Some(&*r.source_id)))),
        ],
    )
}

/// `criterion`: the thresholds, with their bands (NULL: open) and sources.
pub(crate) fn criteria(set: &FactorSet, ctx: &SessionContext) -> Result<()> {
    let c = &set.criteria;
    let opt = |it: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(it)) };
    register_batch(
        ctx,
        "criterion",
        vec![
            ("criterion", strs(c.iter().map(|r| Some(&*r.criterion)))),
            (
                "applies_to",
                strs(c.iter().map(|r| Some(r.applies_to.as_str()))),
            ),
            ("indicator", strs(c.iter().map(|r| Some(&*r.indicator)))),
            (
                "band_from_tce",
                opt(c.iter().map(|r| r.band_from_tce).collect()),
            ),
            (
                "band_to_tce",
                opt(c.iter().map(|r| r.band_to_tce).collect()),
            ),
            (
                "comparator",
                strs(c.iter().map(|r| Some(r.comparator.as_str()))),
            ),
            ("threshold", floats(c.iter().map(|r| r.threshold))),
            ("unit", strs(c.iter().map(|r| Some(&*r.unit)))),
            ("source_id", strs(c.iter().map(|r| Some(&*r.source_id)))),
            ("quality", strs(c.iter().map(|r| Some(r.quality.as_str())))),
        ],
    )
}

/// A named code list: the code, its names and its source.
fn code_list(ctx: &SessionContext, name: &str, key: &str, rows: Vec<[&str; 4]>) -> Result<()> {
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
}

pub(crate) fn strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from(it.collect::<Vec<_>>()))
}

pub(crate) fn ints(it: impl Iterator<Item = i32>) -> ArrayRef {
    Arc::new(Int32Array::from(it.collect::<Vec<_>>()))
}

pub(crate) fn floats(it: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from(it.collect::<Vec<_>>()))
}

/// Register a small in-memory table (factor tables are broadcast in joins).
pub(crate) fn register_batch(
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
    ctx.deregister_table(name)?;
    if ctx
        .state()
        .config()
        .get_extension::<crate::engine::session::OnCluster>()
        .is_some()
    {
        // a cluster's executors read it from the session's table directory
        ctx.register_table(
            name,
            crate::engine::session::parquet_table(ctx, name, &batch)?,
        )?;
        return Ok(());
    }
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}
