-- 30_emissions.sql — per accepted record: quantity in the base unit, signed
-- standard coal (tce), direct and indirect CO2, and which factor rows made them.
--
-- Rules (README "How numbers are made"):
--   quantity_base  = quantity × unit.to_base (a record given in tce is turned
--                    back into the base unit with the same coefficient)
--   sign           = +1 for consumption, −1 for output (energy supplied to others)
--   tce            = sign × quantity_base × coefficient; electricity and primary
--                    electricity (hydro, wind, solar, nuclear) at the configured
--                    valuation: equivalent 0.1229 kgce/kWh, or equal value = that
--                    year's thermal generation coal rate
--   co2_direct_t   = sign × quantity_base × fuel CO2 factor, fossil fuel burnt as
--                    fuel only (0 for feedstock, electricity, heat, non-fossil)
--   co2_indirect_t = sign × MWh × grid factor, or sign × GJ × heat factor
-- Factor years: the latest data year ≤ the record's year, or the earliest one
-- when the record is older than every factor; the year used is kept per row.
-- Grid scope: the most specific scope the config allows that has a factor for
-- the record's province (provincial → regional grid → national).
--
-- Amounts are fixed-point DECIMAL(38, 6) (1 g of coal, 1 g of CO2): sums are
-- exact, so totals are identical whatever the parallelism or the order rows
-- arrive in. They become DOUBLE in the published datasets.
--
-- Reads:  records_ok, energy_catalog, unit_catalog, grid_factor, grid_region,
--         heat_factor, generation_coal_rate, electricity_equivalent,
--         high_energy_division, run_params.
-- Writes: record_periods, grid_factor_used, heat_factor_used,
--         generation_rate_used, period_factors, record_totals (tables), records_computed,
--         enterprise_annual (views).

-- The (province, year) pairs the accepted records need factors for: one scan
-- of the records; the factor choices below are made once per pair and kept
-- as small tables (the engine then broadcasts them to every record).
CREATE OR REPLACE TABLE record_periods AS
SELECT DISTINCT concat(substr(region_code, 1, 2), '0000') AS province_code, year
FROM records_ok;

-- The grid factor row each (province, year) uses.
CREATE OR REPLACE TABLE grid_factor_used AS
WITH need AS (SELECT province_code, year FROM record_periods),
candidates AS (
    SELECT n.province_code, n.year, g.scope, g.area_code, g.data_year, g.tco2_per_mwh,
        g.source_id, g.quality,
        CASE g.scope WHEN 'provincial' THEN 1 WHEN 'regional' THEN 2 ELSE 3 END AS specificity
    FROM need n
    CROSS JOIN run_params p
    LEFT JOIN grid_region gr ON gr.province_code = n.province_code
    JOIN grid_factor g ON
        (g.scope = 'provincial' AND p.electricity_factor = 'provincial' AND g.area_code = n.province_code)
        OR (g.scope = 'regional' AND p.electricity_factor IN ('provincial', 'regional') AND g.area_code = gr.grid_region)
        OR g.scope = 'national'
),
scope_chosen AS (
    SELECT province_code, year, min(specificity) AS specificity
    FROM candidates
    GROUP BY province_code, year
),
in_scope AS (
    SELECT c.*
    FROM candidates c
    JOIN scope_chosen s
        ON s.province_code = c.province_code AND s.year = c.year AND s.specificity = c.specificity
),
year_chosen AS (
    SELECT province_code, year,
        coalesce(max(CASE WHEN data_year <= year THEN data_year END), min(data_year)) AS data_year
    FROM in_scope
    GROUP BY province_code, year
)
SELECT i.province_code, i.year, i.scope, i.area_code, i.data_year, i.tco2_per_mwh, i.source_id, i.quality
FROM in_scope i
JOIN year_chosen y
    ON y.province_code = i.province_code AND y.year = i.year AND y.data_year = i.data_year;

-- The heat factor row each year uses.
CREATE OR REPLACE TABLE heat_factor_used AS
WITH years AS (SELECT DISTINCT year FROM record_periods),
chosen AS (
    SELECT y.year,
        coalesce(max(CASE WHEN h.data_year <= y.year THEN h.data_year END), min(h.data_year)) AS data_year
    FROM years y CROSS JOIN heat_factor h
    GROUP BY y.year
)
SELECT c.year, h.data_year, h.tco2_per_gj, h.source_id, h.quality
FROM chosen c JOIN heat_factor h ON h.data_year = c.data_year;

-- The thermal generation coal rate each year uses (equal-value electricity).
CREATE OR REPLACE TABLE generation_rate_used AS
WITH years AS (SELECT DISTINCT year FROM record_periods),
chosen AS (
    SELECT y.year,
        coalesce(max(CASE WHEN g.data_year <= y.year THEN g.data_year END), min(g.data_year)) AS data_year
    FROM years y CROSS JOIN generation_coal_rate g
    GROUP BY y.year
)
SELECT c.year, g.data_year, g.tce_per_kwh
FROM chosen c JOIN generation_coal_rate g ON g.data_year = c.data_year;

-- Every factor that depends on the record's province and year, one row per
-- (province, year) pair: each record joins this one small table.
CREATE OR REPLACE TABLE period_factors AS
SELECT p.province_code, p.year,
    gr.tce_per_kwh AS generation_tce_per_kwh,
    gr.data_year AS generation_rate_year,
    gf.tco2_per_mwh,
    gf.scope AS grid_factor_scope,
    gf.area_code AS grid_factor_area,
    gf.data_year AS grid_factor_year,
    hf.tco2_per_gj,
    hf.data_year AS heat_factor_year
FROM record_periods p
LEFT JOIN generation_rate_used gr ON gr.year = p.year
LEFT JOIN grid_factor_used gf ON gf.province_code = p.province_code AND gf.year = p.year
LEFT JOIN heat_factor_used hf ON hf.year = p.year;

-- Per record (a view: computed as it is read; `record_totals` below keeps
-- what the reports need).
CREATE OR REPLACE VIEW records_computed AS
WITH f AS (
    SELECT
        r.*,
        e.category,
        e.fossil,
        e.base_unit,
        e.co2_method,
        e.co2_t_per_base_unit,
        u.dimension AS unit_dimension,
        u.to_base,
        CASE r.flow WHEN 'output' THEN -1 ELSE 1 END AS sign,
        CASE
            WHEN e.tce_method = 'electricity' AND p.electricity_valuation = 'equal' THEN pf.generation_tce_per_kwh
            WHEN e.tce_method = 'electricity' THEN ee.tce_per_kwh
            ELSE e.tce_per_base_unit
        END AS tce_per_base_unit,
        CASE WHEN e.tce_method = 'electricity' AND p.electricity_valuation = 'equal' THEN pf.generation_rate_year END
            AS tce_factor_year,
        pf.tco2_per_mwh,
        pf.grid_factor_scope,
        pf.grid_factor_area,
        pf.grid_factor_year,
        pf.tco2_per_gj,
        pf.heat_factor_year,
        hd.division IS NOT NULL AS high_energy,
        p.factor_set
    -- the small tables first: the engine keeps the left side of a join in memory
    FROM period_factors pf
    JOIN records_ok r
        ON pf.province_code = concat(substr(r.region_code, 1, 2), '0000') AND pf.year = r.year
    JOIN energy_catalog e ON e.energy_code = r.energy_code
    JOIN unit_catalog u ON u.unit = r.unit
    CROSS JOIN run_params p
    CROSS JOIN electricity_equivalent ee
    LEFT JOIN high_energy_division hd
        ON hd.division = substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
),
q AS (
    SELECT f.*,
        CASE
            WHEN unit_dimension = 'tce' THEN quantity * to_base / tce_per_base_unit
            ELSE quantity * to_base
        END AS quantity_base_f,
        CASE
            WHEN unit_dimension = 'tce' THEN quantity * to_base
            ELSE quantity * to_base * tce_per_base_unit
        END AS tce_f
    FROM f
)
SELECT
    input, enterprise_id, enterprise_name, region_code, sector_code, high_energy, year, month,
    energy_code, category, fossil, use, flow, sign, quantity, unit, base_unit,
    CAST(quantity_base_f AS DECIMAL(38, 6)) AS quantity_base,
    CAST(sign * tce_f AS DECIMAL(38, 6)) AS tce,
    CAST(CASE
        WHEN co2_method = 'combustion' AND use = 'fuel' THEN sign * quantity_base_f * co2_t_per_base_unit
        ELSE 0
    END AS DECIMAL(38, 6)) AS co2_direct_t,
    CAST(CASE co2_method
        WHEN 'grid' THEN sign * quantity_base_f / 1000 * tco2_per_mwh
        WHEN 'heat' THEN sign * quantity_base_f * tco2_per_gj
        ELSE 0
    END AS DECIMAL(38, 6)) AS co2_indirect_t,
    tce_per_base_unit,
    tce_factor_year,
    CASE co2_method WHEN 'combustion' THEN co2_t_per_base_unit END AS co2_factor,
    CASE co2_method WHEN 'grid' THEN tco2_per_mwh WHEN 'heat' THEN tco2_per_gj END AS indirect_factor,
    CASE co2_method WHEN 'grid' THEN grid_factor_scope WHEN 'heat' THEN 'heat' END AS indirect_factor_scope,
    CASE co2_method WHEN 'grid' THEN grid_factor_area END AS indirect_factor_area,
    CASE co2_method WHEN 'grid' THEN grid_factor_year WHEN 'heat' THEN heat_factor_year END AS factor_year,
    factor_set,
    source_file,
    source_line
FROM q;

-- Per input, enterprise (none for sector rows), region, sector, year, energy,
-- use and flow: the records summed over the months (a twelfth of the rows
-- for monthly data). Consumption and output stay apart, so a plant's coal in
-- and coke out are both visible. Every factor column is the same for all
-- records of a group (factors depend on province, year and energy only).
CREATE OR REPLACE TABLE record_totals AS
SELECT
    input,
    enterprise_id,
    min(enterprise_name) AS enterprise_name,
    region_code,
    sector_code,
    year,
    energy_code,
    use,
    flow,
    min(category) AS category,
    bool_and(high_energy) AS high_energy,
    min(base_unit) AS base_unit,
    sum(quantity_base) AS quantity_base,
    sum(tce) AS tce,
    sum(co2_direct_t) AS co2_direct_t,
    sum(co2_indirect_t) AS co2_indirect_t,
    count(*) AS records,
    count(month) AS months,
    max(tce_factor_year) AS tce_factor_year,
    max(factor_year) AS factor_year,
    max(indirect_factor_scope) AS indirect_factor_scope,
    min(factor_set) AS factor_set
FROM records_computed
GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow;

-- Per enterprise, year, energy, use and flow.
CREATE OR REPLACE VIEW enterprise_annual AS
SELECT
    enterprise_id, enterprise_name, region_code, sector_code, year, energy_code, use, flow, base_unit,
    CAST(quantity_base AS DOUBLE) AS quantity_base,
    CAST(tce AS DOUBLE) AS tce,
    CAST(co2_direct_t AS DOUBLE) AS co2_direct_t,
    CAST(co2_indirect_t AS DOUBLE) AS co2_indirect_t,
    CAST(co2_direct_t + co2_indirect_t AS DOUBLE) AS co2_t,
    CAST(records AS INT) AS records,
    CAST(months AS INT) AS months,
    tce_factor_year, factor_year, indirect_factor_scope, factor_set
FROM record_totals
WHERE input = 'energy';
