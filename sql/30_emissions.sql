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
-- Reads:  records_ok, records_rows, energy_catalog, unit_catalog, grid_factor, grid_region,
--         heat_factor, generation_coal_rate, electricity_equivalent,
--         high_energy_division, run_params.
-- Writes: record_periods, grid_factor_used, heat_factor_used,
--         generation_rate_used, period_factors, energy_factors, record_factors,
--         record_totals (tables), record_amounts, records_computed,
--         enterprise_annual (views).

-- The (province, year) pairs the accepted records need factors for: one scan
-- of the records; the factor choices below are made once per pair and kept
-- as small tables (the engine then broadcasts them to every record). The key
-- checks never reject every record of a pair (of duplicates the first is
-- kept, beside an annual record its months are), so the rows the row rules
-- accept give the same pairs.
CREATE OR REPLACE TABLE record_periods AS
SELECT concat(province_prefix, '0000') AS province_code, year
FROM (
    SELECT DISTINCT substr(region_code, 1, 2) AS province_prefix, year
    FROM records_rows
    WHERE row_reject IS NULL
) p;

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

-- Every factor a record of a province, year and energy uses, chosen once
-- (provinces × years × energies rows).
CREATE OR REPLACE TABLE energy_factors AS
SELECT
    substr(pf.province_code, 1, 2) AS province_prefix,
    pf.year,
    e.energy_code,
    e.category,
    e.fossil,
    e.dimension,
    e.base_unit,
    e.co2_method,
    CASE
        WHEN e.tce_method = 'electricity' AND p.electricity_valuation = 'equal' THEN pf.generation_tce_per_kwh
        WHEN e.tce_method = 'electricity' THEN ee.tce_per_kwh
        ELSE e.tce_per_base_unit
    END AS tce_per_base_unit,
    CASE WHEN e.tce_method = 'electricity' AND p.electricity_valuation = 'equal' THEN pf.generation_rate_year END
        AS tce_factor_year,
    CASE e.co2_method WHEN 'combustion' THEN e.co2_t_per_base_unit END AS co2_factor,
    CASE e.co2_method WHEN 'grid' THEN pf.tco2_per_mwh WHEN 'heat' THEN pf.tco2_per_gj END AS indirect_factor,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_scope WHEN 'heat' THEN 'heat' END AS indirect_factor_scope,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_area END AS indirect_factor_area,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_year WHEN 'heat' THEN pf.heat_factor_year END AS factor_year,
    p.factor_set
FROM period_factors pf
CROSS JOIN energy_catalog e
CROSS JOIN run_params p
CROSS JOIN electricity_equivalent ee;

-- The same for every unit a record of that energy may be given in, with the
-- arithmetic reduced to multipliers:
--   quantity_base = quantity × to_base ÷ base_divisor   (tce_per_base_unit for a
--                   unit of standard coal, else 1)
--   tce           = quantity × to_base × tce_multiplier (1 for a unit of
--                   standard coal, else tce_per_base_unit)
--   indirect CO2  = sign × quantity_base ÷ indirect_divisor × indirect_factor
--                   (1000 kWh per MWh for the grid factor, else 1)
-- Dividing or multiplying by 1 is exact: the amounts are the ones the rules
-- above give, to the last bit.
CREATE OR REPLACE TABLE record_factors AS
SELECT f.*, u.unit, u.dimension AS unit_dimension, u.to_base,
    CASE WHEN u.dimension = 'tce' THEN f.tce_per_base_unit ELSE 1.0 END AS base_divisor,
    CASE WHEN u.dimension = 'tce' THEN 1.0 ELSE f.tce_per_base_unit END AS tce_multiplier,
    f.co2_method = 'combustion' AS burnt,
    f.co2_method IN ('grid', 'heat') AS bought,
    CASE f.co2_method WHEN 'grid' THEN 1000.0 ELSE 1.0 END AS indirect_divisor
FROM energy_factors f
JOIN unit_catalog u ON u.dimension = f.dimension OR u.dimension = 'tce';

-- Per accepted record: quantity_base, signed tce, direct and indirect CO2. One
-- join to the small record_factors table (written first: the engine keeps the
-- left side of a join in memory).
CREATE OR REPLACE VIEW record_amounts AS
WITH q AS (
    SELECT
        r.input, r.enterprise_id, r.enterprise_name, r.region_code, r.sector_code, r.year, r.month,
        r.energy_code, r.use, r.flow, r.quantity, r.unit, r.source_file, r.source_line,
        f.category, f.fossil, f.base_unit, f.burnt, f.bought, f.indirect_divisor,
        f.tce_per_base_unit, f.tce_factor_year, f.co2_factor, f.indirect_factor, f.indirect_factor_scope,
        f.indirect_factor_area, f.factor_year, f.factor_set,
        CASE r.flow WHEN 'output' THEN -1 ELSE 1 END AS sign,
        r.quantity * f.to_base / f.base_divisor AS quantity_base_f,
        r.quantity * f.to_base * f.tce_multiplier AS tce_f
    FROM record_factors f
    JOIN records_ok r
        ON f.province_prefix = substr(r.region_code, 1, 2) AND f.year = r.year
        AND f.energy_code = r.energy_code AND f.unit = r.unit
)
SELECT
    input, enterprise_id, enterprise_name, region_code, sector_code, year, month,
    energy_code, category, fossil, use, flow, sign, quantity, unit, base_unit,
    CAST(quantity_base_f AS DECIMAL(38, 6)) AS quantity_base,
    CAST(sign * tce_f AS DECIMAL(38, 6)) AS tce,
    CAST(CASE WHEN burnt AND use = 'fuel' THEN sign * quantity_base_f * co2_factor ELSE 0 END
        AS DECIMAL(38, 6)) AS co2_direct_t,
    CAST(CASE WHEN bought THEN sign * quantity_base_f / indirect_divisor * indirect_factor ELSE 0 END
        AS DECIMAL(38, 6)) AS co2_indirect_t,
    tce_per_base_unit, tce_factor_year, co2_factor, indirect_factor, indirect_factor_scope,
    indirect_factor_area, factor_year, factor_set, source_file, source_line
FROM q;

-- Per record, with the high-energy flag of its sector (a view: computed as it
-- is read; `record_totals` below keeps what the reports need).
CREATE OR REPLACE VIEW records_computed AS
SELECT
    a.input, a.enterprise_id, a.enterprise_name, a.region_code, a.sector_code,
    hd.division IS NOT NULL AS high_energy,
    a.year, a.month, a.energy_code, a.category, a.fossil, a.use, a.flow, a.sign, a.quantity, a.unit,
    a.base_unit, a.quantity_base, a.tce, a.co2_direct_t, a.co2_indirect_t, a.tce_per_base_unit,
    a.tce_factor_year, a.co2_factor, a.indirect_factor, a.indirect_factor_scope, a.indirect_factor_area,
    a.factor_year, a.factor_set, a.source_file, a.source_line
FROM record_amounts a
LEFT JOIN high_energy_division hd
    ON hd.division = substr(regexp_replace(a.sector_code, '^[A-Z]', ''), 1, 2);

-- Per input, enterprise (none for sector rows), region, sector, year, energy,
-- use and flow: the records summed over the months (a twelfth of the rows
-- for monthly data). Consumption and output stay apart, so a plant's coal in
-- and coke out are both visible. The factor columns, the category and the
-- high-energy flag depend on province, year, energy and sector only: they are
-- joined to the sums, not carried through them.
CREATE OR REPLACE TABLE record_totals AS
WITH t AS (
    SELECT
        input, enterprise_id, min(enterprise_name) AS enterprise_name, region_code, sector_code, year,
        energy_code, use, flow,
        sum(quantity_base) AS quantity_base,
        sum(tce) AS tce,
        sum(co2_direct_t) AS co2_direct_t,
        sum(co2_indirect_t) AS co2_indirect_t,
        count(*) AS records,
        count(month) AS months
    FROM record_amounts
    GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow
)
SELECT
    t.input, t.enterprise_id, t.enterprise_name, t.region_code, t.sector_code, t.year, t.energy_code,
    t.use, t.flow, f.category, hd.division IS NOT NULL AS high_energy, f.base_unit,
    t.quantity_base, t.tce, t.co2_direct_t, t.co2_indirect_t, t.records, t.months,
    f.tce_factor_year, f.factor_year, f.indirect_factor_scope, f.factor_set
FROM energy_factors f
JOIN t ON f.province_prefix = substr(t.region_code, 1, 2) AND f.year = t.year AND f.energy_code = t.energy_code
LEFT JOIN high_energy_division hd
    ON hd.division = substr(regexp_replace(t.sector_code, '^[A-Z]', ''), 1, 2);

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
