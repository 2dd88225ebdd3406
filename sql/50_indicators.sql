-- 50_indicators.sql — a region's energy balance at both valuations, the
-- controlled scope, GDP at constant prices, intensities, change rates, shares.
--
-- Electricity per level (region_energy, 40_regions.sql, in kWh):
--   net_import_kwh   = bought − supplied (negative: a net exporter)
--   export_kwh       = max(0, −net_import_kwh)
--   non-fossil electricity that left = export_kwh × min(primary, supplied) / supplied:
--                      exported electricity carries the mix of what the region
--                      supplies (its generation)
--   non_fossil_consumed_kwh = primary generation − the part that left;
--                      renewable likewise (nuclear excluded)
-- At each valuation v (equivalent 0.1229 kgce/kWh; equal: the year's coal rate
-- of thermal power, electricity_rates):
--   E_v              = energy_tce_equivalent or energy_tce_equal
--   non-fossil consumed (v) = biomass + non_fossil_consumed_kwh × rate_v
-- Published:
--   energy_tce       = E_equal: the regional total (能源消费总量) of the
--                      regional energy balance, primary electricity and
--                      electricity crossing the boundary at equal value
--   energy_tce_equivalent = E_equivalent (GB/T 2589 comprehensive consumption)
--   energy_tce_controlled = E_v − controlled_deduction_tce, where
--                      v = electricity_valuation and, by controlled_scope,
--                      "2024": feedstock + non-fossil consumed (v)
--                             (发改环资〔2024〕113号; both years)
--                      "2022": feedstock + renewable electricity consumed above
--                             the 2020 level (v) (803号, 1258号: the total only)
--                      none:  nothing
--   energy_intensity = E_v / (gdp_const × 10^4)   tce per 10^4 yuan (gdp is in 10^8 yuan)
--   energy_intensity_controlled = (E_v − controlled_intensity_deduction_tce) / (gdp_const × 10^4)
--                      the deduction is the controlled one, but under "2022"
--                      feedstock only (renewables stay in the intensity)
--   co2_t            = co2_direct_t + co2_indirect_t; co2_indirect_t = the net
--                      import in MWh × the level's grid factor + net bought heat's CO2
--   co2_intensity    = co2_t / (gdp_const × 10^4)        t CO2 per 10^4 yuan
--                      (the assessment basis: energy CO2 only)
--   co2_process_t, sink_t = the region's process CO2 and sinks (region_budget,
--                      45_budget.sql); co2_net_t = co2_t + co2_process_t − sink_t
--   key_energy_units = the key energy-using units reporting in the region
--                      (region_key_units, 47_groups.sql); key_units_energy_share
--                      = their energy / the sum of every reporter's energy
--                      floored at 0 (equivalent value): a reporter that
--                      supplies more than it consumes counts 0, not less
--   co2_peak_t, co2_peak_year = the highest co2_t of the years up to this one
--                      and the earliest year it was reached (region_peak)
--   gdp_const_t      = GDP_base (current prices) × Π_{y = base+1 .. t} (gdp_index_y / 100)
--                      (for t < base: GDP_base ÷ Π_{y = t+1 .. base} (gdp_index_y / 100));
--                      a missing year or index breaks the chain: later years get NULL
--   *_change_yoy     = I_t / I_{t−1} − 1, both rounded to 4 decimals first when
--                      nbs_rounding is on (NBS practice); NULL without year t−1
--   *_change_base    = I_t / I_base − 1, rounded the same way
--   shares, always by coal substitution (equal value), of the energy the region
--   consumed: energy_mix_tce = coal_consumed + oil + gas + non-fossil consumed
--                      (equal) + max(0, net import at equal value + net heat),
--                      where coal_consumed_tce = max(0, coal − the fossil part of
--                      the exported electricity at equal value): the coal that
--                      made exported power left with it
--   coal_share, non_fossil_share = part / energy_mix_tce
--   high_energy_share = the six industries' energy (v) / E_v
--
-- Reads:  gdp_ok, region_energy, region_grid_area, regions_ok, run_params,
--         electricity_rates, area_grid_factor (15_factors.sql), region_budget
--         (45_budget.sql), region_key_units (47_groups.sql).
-- Writes: gdp_const_forward, gdp_const_backward, region_electricity,
--         region_intensity, region_peak, region_indicators (tables), gdp_const (view).

CREATE OR REPLACE TABLE gdp_const_forward AS
WITH RECURSIVE chain(region_code, year, gdp_const) AS (
    SELECT g.region_code, g.year, g.gdp
    FROM gdp_ok g JOIN run_params p ON g.year = p.base_year
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * g.gdp_index / 100.0
    FROM chain c
    JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year + 1
    WHERE g.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM chain;

-- Years before the base year: divide by the index of the year after.
CREATE OR REPLACE TABLE gdp_const_backward AS
WITH RECURSIVE chain(region_code, year, gdp_const, gdp_index) AS (
    SELECT g.region_code, g.year, g.gdp, g.gdp_index
    FROM gdp_ok g JOIN run_params p ON g.year = p.base_year
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * 100.0 / c.gdp_index, g.gdp_index
    FROM chain c
    JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year - 1
    WHERE c.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM chain;

CREATE OR REPLACE VIEW gdp_const AS
SELECT region_code, year, gdp_const FROM gdp_const_forward
UNION ALL
SELECT b.region_code, b.year, b.gdp_const
FROM gdp_const_backward b CROSS JOIN run_params p
WHERE b.year < p.base_year;

-- Each region's energy (every column of region_energy), its electricity
-- balance and what follows from it, at both valuations (small: regions ×
-- years rows).
CREATE OR REPLACE TABLE region_electricity AS
WITH k AS (
    SELECT e.*,
        CAST(e.electricity_in_kwh - e.electricity_out_kwh AS DOUBLE) AS net_import_kwh,
        CAST(e.electricity_out_kwh AS DOUBLE) AS out_kwh,
        CAST(e.primary_electricity_kwh AS DOUBLE) AS primary_kwh,
        CAST(e.renewable_electricity_kwh AS DOUBLE) AS renewable_kwh
    FROM region_energy e
),
x AS (
    SELECT k.*,
        CASE WHEN k.net_import_kwh < 0 AND k.out_kwh > 0
            THEN -k.net_import_kwh * least(greatest(k.primary_kwh, 0), k.out_kwh) / k.out_kwh
            ELSE 0 END AS non_fossil_exported_kwh,
        CASE WHEN k.net_import_kwh < 0 THEN -k.net_import_kwh ELSE 0 END AS export_kwh
    FROM k
),
c AS (
    SELECT x.*,
        x.primary_kwh - x.non_fossil_exported_kwh AS non_fossil_consumed_kwh,
        x.renewable_kwh - CASE WHEN x.primary_kwh > 0
            THEN x.non_fossil_exported_kwh * x.renewable_kwh / x.primary_kwh ELSE 0 END AS renewable_consumed_kwh,
        x.export_kwh - x.non_fossil_exported_kwh AS fossil_exported_kwh
    FROM x
),
-- the region's grid factor and the year's electricity rates by lookup(…):
-- small tables read into memory, no join (the statement stays small under a
-- tight memory limit)
l AS (
    SELECT c.*,
        lookup('area_grid_factor', get_field(lookup('region_grid_area', c.region_code), 'area_key'), c.year) AS gf,
        lookup('electricity_rates', c.year) AS er
    FROM c
)
SELECT l.* EXCLUDE (gf, er),
    base.renewable_consumed_kwh AS renewable_consumed_2020_kwh,
    get_field(l.gf, 'tco2_per_mwh') AS grid_factor,
    get_field(l.gf, 'data_year') AS grid_factor_year,
    get_field(l.gf, 'scope_area') AS grid_factor_scope,
    get_field(l.er, 'equivalent_tce_per_kwh') AS equivalent_tce_per_kwh,
    get_field(l.er, 'equal_tce_per_kwh') AS equal_tce_per_kwh,
    get_field(l.er, 'equal_rate_year') AS equal_rate_year
FROM l
-- 发改运行〔2022〕1258号 counts renewable electricity above the 2020 level
LEFT JOIN c base ON base.region_code = l.region_code AND base.year = 2020;

-- Region-year rows with their intensities, rounded as the change rates use
-- them: small (regions × years) at any scale, so kept as a table and joined to
-- itself for the previous and the base year.
CREATE OR REPLACE TABLE region_intensity AS
WITH v AS (
    SELECT
        e.region_code, e.year, p.electricity_valuation, p.controlled_scope,
        CAST(e.energy_tce_equal AS DOUBLE) AS energy_tce_equal,
        CAST(e.energy_tce_equivalent AS DOUBLE) AS energy_tce_equivalent,
        CAST(e.feedstock_tce AS DOUBLE) AS feedstock_tce,
        CAST(e.coal_tce AS DOUBLE) AS coal_tce,
        CAST(e.oil_tce AS DOUBLE) AS oil_tce,
        CAST(e.gas_tce AS DOUBLE) AS gas_tce,
        CAST(e.heat_tce AS DOUBLE) AS heat_tce,
        CAST(e.other_non_fossil_tce AS DOUBLE) AS other_non_fossil_tce,
        e.net_import_kwh, e.non_fossil_consumed_kwh, e.fossil_exported_kwh,
        e.grid_factor, e.grid_factor_year, e.grid_factor_scope,
        -- the valuation the intensities and targets use
        CASE p.electricity_valuation WHEN 'equal' THEN e.equal_tce_per_kwh ELSE e.equivalent_tce_per_kwh END
            AS rate_v,
        e.equal_tce_per_kwh AS rate_equal,
        CAST(CASE p.electricity_valuation WHEN 'equal' THEN e.energy_tce_equal ELSE e.energy_tce_equivalent END
            AS DOUBLE) AS energy_tce_v,
        CAST(CASE p.electricity_valuation WHEN 'equal' THEN e.high_energy_tce_equal ELSE e.high_energy_tce_equivalent END
            AS DOUBLE) AS high_energy_tce,
        greatest(e.renewable_consumed_kwh - e.renewable_consumed_2020_kwh, 0) AS renewable_increment_kwh,
        CAST(e.co2_direct_t AS DOUBLE) AS co2_direct_t,
        e.net_import_kwh / 1000.0 * e.grid_factor + CAST(e.co2_heat_t AS DOUBLE) AS co2_indirect_t,
        CAST(e.enterprises AS INT) AS enterprises,
        CAST(e.records AS BIGINT) AS records
    -- region_electricity carries every column of region_energy: one table
    -- read, no join (the statement stays small under a tight memory limit)
    FROM region_electricity e
    CROSS JOIN run_params p
),
d AS (
    SELECT v.*,
        -- amounts of electricity valued in tce are rounded to 1 kg of coal,
        -- as the summed amounts are (DECIMAL(38, 6) t)
        round(v.other_non_fossil_tce + v.non_fossil_consumed_kwh * v.rate_v, 6) AS non_fossil_consumed_tce,
        round(v.other_non_fossil_tce + v.non_fossil_consumed_kwh * v.rate_equal, 6) AS non_fossil_tce,
        round(greatest(v.coal_tce - v.fossil_exported_kwh * v.rate_equal, 0), 6) AS coal_consumed_tce,
        round(v.renewable_increment_kwh * v.rate_v, 6) AS renewable_increment_tce
    FROM v
),
e AS (
    SELECT
        d.region_code, d.year,
        d.energy_tce_equal AS energy_tce,
        d.energy_tce_equivalent,
        d.energy_tce_v - CASE d.controlled_scope
            WHEN '2024' THEN d.feedstock_tce + d.non_fossil_consumed_tce
            WHEN '2022' THEN d.feedstock_tce + d.renewable_increment_tce
            ELSE 0 END AS energy_tce_controlled,
        CASE d.controlled_scope
            WHEN '2024' THEN d.feedstock_tce + d.non_fossil_consumed_tce
            WHEN '2022' THEN d.feedstock_tce + d.renewable_increment_tce
            ELSE 0 END AS controlled_deduction_tce,
        CASE d.controlled_scope
            WHEN '2024' THEN d.feedstock_tce + d.non_fossil_consumed_tce
            WHEN '2022' THEN d.feedstock_tce
            ELSE 0 END AS controlled_intensity_deduction_tce,
        d.energy_tce_v,
        d.feedstock_tce,
        d.non_fossil_tce,
        d.non_fossil_consumed_tce,
        d.coal_tce,
        d.coal_consumed_tce,
        d.oil_tce,
        d.gas_tce,
        round(d.net_import_kwh * d.rate_v, 6) AS electricity_tce,
        d.net_import_kwh AS electricity_net_import_kwh,
        d.heat_tce,
        d.high_energy_tce,
        d.coal_consumed_tce + d.oil_tce + d.gas_tce + d.non_fossil_tce
            + round(greatest(greatest(d.net_import_kwh, 0) * d.rate_equal + d.heat_tce, 0), 6) AS energy_mix_tce,
        d.co2_direct_t + d.co2_indirect_t AS co2_t,
        d.co2_direct_t,
        d.co2_indirect_t,
        d.grid_factor, d.grid_factor_year, d.grid_factor_scope,
        d.electricity_valuation, d.controlled_scope,
        d.enterprises,
        d.records
    FROM d
),
i AS (
    SELECT e.*,
        rg.name AS region_name,
        rg.level,
        rg.parent_code,
        g.gdp,
        gc.gdp_const,
        e.energy_tce_v / (gc.gdp_const * 10000) AS energy_intensity,
        (e.energy_tce_v - e.controlled_intensity_deduction_tce) / (gc.gdp_const * 10000) AS energy_intensity_controlled,
        e.co2_t / (gc.gdp_const * 10000) AS co2_intensity,
        -- the region's process CO2 and sinks (region_budget, 45_budget.sql) by
        -- lookup: no hash join (the statement stays small under a tight memory limit)
        coalesce(CAST(get_field(lookup('region_budget', e.region_code, e.year), 'co2_process_t') AS DOUBLE), 0) AS co2_process_t,
        coalesce(CAST(get_field(lookup('region_budget', e.region_code, e.year), 'sink_t') AS DOUBLE), 0) AS sink_t,
        -- key energy-using units reporting in the region (region_key_units,
        -- 47_groups.sql); NULL (not known, rather than none) where nothing
        -- defines a key unit: no key_energy_unit criterion in the factor set
        -- and no key_units group
        CASE WHEN ku.defined THEN
            coalesce(get_field(lookup('region_key_units', e.region_code, e.year), 'key_energy_units'), 0)
        END AS key_energy_units,
        CASE WHEN ku.defined THEN
            coalesce(CAST(get_field(lookup('region_key_units', e.region_code, e.year), 'key_units_tce_equivalent') AS DOUBLE), 0)
            / nullif(coalesce(CAST(get_field(lookup('region_key_units', e.region_code, e.year), 'reporters_tce_equivalent') AS DOUBLE),
                e.energy_tce_equivalent), 0)
        END AS key_units_energy_share
    FROM e
    CROSS JOIN (
        SELECT (SELECT count(*) FROM criterion WHERE criterion = 'key_energy_unit')
             + (SELECT count(*) FROM groups_ok WHERE kind = 'key_units') > 0 AS defined
    ) ku
    JOIN regions_ok rg ON rg.region_code = e.region_code
    LEFT JOIN gdp_ok g ON g.region_code = e.region_code AND g.year = e.year
    LEFT JOIN gdp_const gc ON gc.region_code = e.region_code AND gc.year = e.year
),
-- the intensities the change rates are computed from (NBS: 4 decimals first)
r AS (
    SELECT i.*,
        CASE WHEN p.nbs_rounding THEN round(energy_intensity, 4) ELSE energy_intensity END AS ei_r,
        CASE WHEN p.nbs_rounding THEN round(energy_intensity_controlled, 4) ELSE energy_intensity_controlled END AS eic_r,
        CASE WHEN p.nbs_rounding THEN round(co2_intensity, 4) ELSE co2_intensity END AS ci_r,
        p.base_year,
        p.factor_set
    -- the one-row table on the left: the cross join then streams i in batches
    FROM run_params p CROSS JOIN i
)
SELECT r.*, r.co2_t + r.co2_process_t - r.sink_t AS co2_net_t FROM r;

-- The CO2 peak up to each year: the highest energy CO2 (co2_t) of the
-- region's years up to it, the earliest year with it, and how many of the
-- years after the peak (up to this year) stayed below it (60_targets.sql
-- calls a region peaked when that is at least three).
CREATE OR REPLACE TABLE region_peak AS
WITH upto AS (
    SELECT a.region_code, a.year,
        max(b.co2_t) AS co2_peak_t,
        first_value(b.year ORDER BY b.co2_t DESC NULLS LAST, b.year ASC) AS co2_peak_year
    FROM region_intensity a
    JOIN region_intensity b ON b.region_code = a.region_code AND b.year <= a.year
    GROUP BY a.region_code, a.year
)
SELECT u.region_code, u.year, u.co2_peak_t,
    -- no CO2 up to the year (no grid factor): no peak year either
    CAST(CASE WHEN u.co2_peak_t IS NOT NULL THEN u.co2_peak_year END AS INT) AS co2_peak_year,
    CAST(count(b.year) AS INT) AS co2_years_below_peak
FROM upto u
LEFT JOIN region_intensity b ON b.region_code = u.region_code AND b.year > u.co2_peak_year
    AND b.year <= u.year AND b.co2_t < u.co2_peak_t
GROUP BY u.region_code, u.year, u.co2_peak_t, u.co2_peak_year;

-- A table: 60_targets.sql, the dataset, the bulletin, the summary and the
-- impact comparison read it, and as a view each read joined region_intensity
-- with itself again (docs/benchmarks.md, session 21). A row per region and
-- year: small at any scale.
CREATE OR REPLACE TABLE region_indicators AS
SELECT
    r.region_code, r.region_name, r.level, r.parent_code, r.year,
    r.energy_tce, r.energy_tce_equivalent, r.energy_tce_controlled, r.controlled_deduction_tce,
    r.controlled_intensity_deduction_tce, r.feedstock_tce, r.non_fossil_tce, r.non_fossil_consumed_tce,
    r.coal_tce, r.coal_consumed_tce, r.oil_tce, r.gas_tce, r.electricity_tce, r.electricity_net_import_kwh,
    r.heat_tce, r.high_energy_tce, r.energy_mix_tce,
    r.co2_t, r.co2_direct_t, r.co2_indirect_t, r.grid_factor, r.grid_factor_year, r.grid_factor_scope,
    r.co2_process_t, r.sink_t, r.co2_net_t,
    get_field(lookup('region_peak', r.region_code, r.year), 'co2_peak_year') AS co2_peak_year,
    get_field(lookup('region_peak', r.region_code, r.year), 'co2_peak_t') AS co2_peak_t,
    get_field(lookup('region_peak', r.region_code, r.year), 'co2_years_below_peak') AS co2_years_below_peak,
    r.gdp, r.gdp_const,
    r.energy_intensity, r.energy_intensity_controlled, r.co2_intensity,
    r.ei_r / nullif(prev.ei_r, 0) - 1 AS energy_intensity_change_yoy,
    r.eic_r / nullif(prev.eic_r, 0) - 1 AS energy_intensity_controlled_change_yoy,
    r.ci_r / nullif(prev.ci_r, 0) - 1 AS co2_intensity_change_yoy,
    r.ei_r / nullif(base.ei_r, 0) - 1 AS energy_intensity_change_base,
    r.eic_r / nullif(base.eic_r, 0) - 1 AS energy_intensity_controlled_change_base,
    r.ci_r / nullif(base.ci_r, 0) - 1 AS co2_intensity_change_base,
    r.coal_consumed_tce / nullif(r.energy_mix_tce, 0) AS coal_share,
    r.non_fossil_tce / nullif(r.energy_mix_tce, 0) AS non_fossil_share,
    r.high_energy_tce / nullif(r.energy_tce_v, 0) AS high_energy_share,
    r.enterprises, r.key_energy_units, r.key_units_energy_share, r.records,
    r.electricity_valuation, r.controlled_scope,
    r.factor_set,
    -- not published: the intensities as the change rates and the targets
    -- (60_targets.sql) use them
    r.ei_r AS energy_intensity_rounded,
    r.eic_r AS energy_intensity_controlled_rounded,
    r.ci_r AS co2_intensity_rounded
FROM region_intensity r
LEFT JOIN region_intensity prev ON prev.region_code = r.region_code AND prev.year = r.year - 1
LEFT JOIN region_intensity base ON base.region_code = r.region_code AND base.year = r.base_year;
