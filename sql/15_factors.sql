-- 15_factors.sql — which factor row every record will use, chosen once per
-- province and year and once per energy and unit, before any record is read:
-- the choice depends on the factor set, the config and the regions only.
--
-- Every choice is made here, once per province, year and energy; the records
-- are only looked up (lookup(…), lib/src/engine/lookup.rs).
--
-- Choices (README "How numbers are made"):
--   factor years  the latest data year ≤ the reference year (the record's
--                 year, or the base year with grid_factor_vintage = base_year),
--                 or the earliest one when older than every factor; the year
--                 used is kept per row
--   grid scope    the most specific scope the config allows that has a factor
--                 for the area (provincial → regional grid → national); an area
--                 is a province, a city or league with a grid of its own, or
--                 the country
--   electricity   both valuations, always: equivalent value (0.1229 kgce/kWh,
--                 tce_per_base_unit) and equal value (the year's coal rate of
--                 thermal power, tce_equal_per_base_unit)
--
-- Every province the regions input names × every year a record may have
-- (1949-2100, the row rules reject the others): a few thousand rows, small
-- enough for the engine to keep in memory beside every record.
--
-- Reads:  regions_norm (10_normalize.sql), energy_catalog, unit_catalog,
--         grid_factor, grid_region, heat_factor, generation_coal_rate,
--         electricity_equivalent, run_params (factor set and config),
--         calendar_years (1949-2100, engine::session::register_run).
-- Writes: factor_periods, grid_areas, grid_factor_used, area_grid_factor, yearly_factor_years,
--         electricity_rates, period_factors, energy_factors, amount_factors
--         (tables).

CREATE OR REPLACE TABLE factor_periods AS
SELECT concat(p.province_prefix, '0000') AS province_code, p.province_prefix, y.year
FROM (
    SELECT DISTINCT substr(region_code, 1, 2) AS province_prefix
    FROM regions_norm
    WHERE region_code IS NOT NULL
) p
CROSS JOIN calendar_years y;

-- Every area a grid factor is chosen for: each province of the regions (its
-- two-digit prefix), each city or league the factor set maps to a grid region
-- of its own (its four-digit prefix, e.g. the eastern leagues of Inner
-- Mongolia in the Northeast grid) and the country ('CN'), with the grid
-- region of the area's province beside its own. A record's own electricity
-- uses its province's factor; a region's net import across its boundary uses
-- its area's (40_regions.sql).
CREATE OR REPLACE TABLE grid_areas AS
WITH provinces AS (
    SELECT p.province_prefix, p.province_code, gr.grid_region
    FROM (SELECT DISTINCT province_prefix, province_code FROM factor_periods) p
    LEFT JOIN grid_region gr ON gr.area_prefix = p.province_prefix
)
SELECT province_prefix AS area_key, province_code, grid_region, grid_region AS province_grid_region
FROM provinces
UNION ALL
SELECT gr.area_prefix, p.province_code, gr.grid_region, p.grid_region
FROM grid_region gr
JOIN provinces p ON p.province_prefix = substr(gr.area_prefix, 1, 2)
WHERE length(gr.area_prefix) = 4
UNION ALL
-- (from the one-row run_params: a branch without FROM does not run on a
-- cluster, docs/distributed.md)
SELECT 'CN', CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
FROM run_params;

-- The grid factor row each (area, year) uses: the most specific scope the
-- config allows that has a factor for the area (provincial → regional grid →
-- national; the country has the national one only), and of its data years
-- the latest ≤ the reference year, or the earliest when the reference year
-- is older than all of them. The reference year is the record's year
-- (grid_factor_vintage = record_year) or the base year for every year
-- (base_year: a plan judged on one vintage, so that a cleaner grid elsewhere
-- does not count as local effort).
CREATE OR REPLACE TABLE grid_factor_used AS
WITH years AS (
    SELECT DISTINCT year FROM factor_periods
),
candidates AS (
    SELECT a.area_key, a.province_code, y.year,
        CASE WHEN p.grid_factor_vintage = 'base_year' THEN p.base_year ELSE y.year END AS ref_year,
        g.scope, g.area_code, g.data_year, g.tco2_per_mwh, g.source_id, g.quality,
        CASE g.scope WHEN 'provincial' THEN 1 WHEN 'regional' THEN 2 ELSE 3 END AS specificity
    FROM grid_areas a
    CROSS JOIN years y
    CROSS JOIN run_params p
    JOIN grid_factor g ON
        -- a province's factor is the average of the grid(s) its plants feed:
        -- it describes a city or league of the province only when that area
        -- is in the province's own grid region. The eastern leagues of Inner
        -- Mongolia (Northeast grid) take the Northeast factor, not Inner
        -- Mongolia's, which MEE + NBS publish as one row dominated by the
        -- western (North grid) plants.
        (g.scope = 'provincial' AND p.electricity_factor = 'provincial' AND g.area_code = a.province_code
            AND a.grid_region IS NOT DISTINCT FROM a.province_grid_region)
        OR (g.scope = 'regional' AND p.electricity_factor IN ('provincial', 'regional') AND g.area_code = a.grid_region)
        OR g.scope = 'national'
),
scope_chosen AS (
    SELECT area_key, year, min(specificity) AS specificity
    FROM candidates
    GROUP BY area_key, year
),
in_scope AS (
    SELECT c.*
    FROM candidates c
    JOIN scope_chosen s
        ON s.area_key = c.area_key AND s.year = c.year AND s.specificity = c.specificity
),
year_chosen AS (
    SELECT area_key, year,
        coalesce(max(CASE WHEN data_year <= ref_year THEN data_year END), min(data_year)) AS data_year
    FROM in_scope
    GROUP BY area_key, year
)
SELECT i.area_key, i.province_code, i.year, i.scope, i.area_code, i.data_year, i.tco2_per_mwh, i.source_id, i.quality
FROM in_scope i
JOIN year_chosen y
    ON y.area_key = i.area_key AND y.year = i.year AND y.data_year = i.data_year;

-- The grid factor of each (area, year), keyed for lookup(…): what a region's
-- net import of electricity is multiplied by (50_indicators.sql).
CREATE OR REPLACE TABLE area_grid_factor AS
SELECT area_key, year, tco2_per_mwh, data_year, concat(scope, ' ', area_code) AS scope_area
FROM grid_factor_used;

-- The data year each year uses of the factors that depend on the year only:
-- the heat factor and the thermal generation coal rate (equal-value
-- electricity).
CREATE OR REPLACE TABLE yearly_factor_years AS
WITH data_years AS (
    SELECT DISTINCT 'heat' AS factor, data_year FROM heat_factor
    UNION ALL
    SELECT DISTINCT 'generation_rate', data_year FROM generation_coal_rate
)
SELECT d.factor, y.year,
    coalesce(max(CASE WHEN d.data_year <= y.year THEN d.data_year END), min(d.data_year)) AS data_year
FROM (SELECT DISTINCT year FROM factor_periods) y
CROSS JOIN data_years d
GROUP BY d.factor, y.year;

-- Electricity per year at both valuations (tce per kWh): the equivalent
-- value (当量值, GB/T 2589: 0.1229 kgce/kWh, the same every year) and the
-- equal value (等价值: that year's coal consumption rate of thermal power,
-- with the data year it was taken from). The region totals value primary
-- electricity and the net import of electricity with these (40_regions.sql).
CREATE OR REPLACE TABLE electricity_rates AS
SELECT y.year, ee.tce_per_kwh AS equivalent_tce_per_kwh, gr.tce_per_kwh AS equal_tce_per_kwh,
    gr.data_year AS equal_rate_year
FROM yearly_factor_years y
JOIN generation_coal_rate gr ON gr.data_year = y.data_year
CROSS JOIN electricity_equivalent ee
WHERE y.factor = 'generation_rate';

-- Every factor that depends on the record's province and year, one row per
-- (province, year). Its key is its first two columns: row_amounts
-- (20_validate.sql) finds a record's row with lookup('period_factors', …).
CREATE OR REPLACE TABLE period_factors AS
SELECT p.province_prefix, p.year, p.province_code,
    gr.tce_per_kwh AS generation_tce_per_kwh,
    gr.data_year AS generation_rate_year,
    gf.tco2_per_mwh,
    gf.scope AS grid_factor_scope,
    gf.area_code AS grid_factor_area,
    gf.data_year AS grid_factor_year,
    hf.tco2_per_gj,
    hf.data_year AS heat_factor_year
FROM factor_periods p
LEFT JOIN yearly_factor_years gy ON gy.factor = 'generation_rate' AND gy.year = p.year
LEFT JOIN generation_coal_rate gr ON gr.data_year = gy.data_year
LEFT JOIN grid_factor_used gf ON gf.area_key = p.province_prefix AND gf.year = p.year
LEFT JOIN yearly_factor_years hy ON hy.factor = 'heat' AND hy.year = p.year
LEFT JOIN heat_factor hf ON hf.data_year = hy.data_year;

-- Every factor of a province, year and energy (provinces × years × energies
-- rows): what a record's amounts are made with (amount_factors below) and what
-- the sums per enterprise and energy report beside them. The key is the first
-- three columns (row_amounts looks records up here).
CREATE OR REPLACE TABLE energy_factors AS
SELECT
    pf.province_prefix,
    pf.year,
    e.energy_code,
    e.category,
    e.fossil,
    e.dimension,
    e.base_unit,
    e.co2_method,
    e.gj_per_base_unit,
    e.tce_method,
    -- equivalent value (当量值): what enterprise comprehensive consumption uses
    CASE WHEN e.tce_method = 'electricity' THEN ee.tce_per_kwh ELSE e.tce_per_base_unit END
        AS tce_per_base_unit,
    -- equal value (等价值): electricity and primary electricity at the year's
    -- coal rate of thermal power, what a region's energy balance uses
    CASE WHEN e.tce_method = 'electricity' THEN pf.generation_tce_per_kwh ELSE e.tce_per_base_unit END
        AS tce_equal_per_base_unit,
    CASE WHEN e.tce_method = 'electricity' THEN pf.generation_rate_year END AS tce_factor_year,
    CASE e.co2_method WHEN 'combustion' THEN e.co2_t_per_base_unit END AS co2_factor,
    -- a sector's own factor of the fuel (sector_combustion_co2: power
    -- generation's coal at its own oxidation rate) and the GB/T 4754 prefix
    -- of the sector codes that use it; NULL for every other energy
    CASE e.co2_method WHEN 'combustion' THEN e.co2_sector_prefix END AS co2_sector_prefix,
    CASE e.co2_method WHEN 'combustion' THEN e.sector_co2_t_per_base_unit END AS sector_co2_factor,
    CASE e.co2_method WHEN 'grid' THEN pf.tco2_per_mwh WHEN 'heat' THEN pf.tco2_per_gj END AS indirect_factor,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_scope WHEN 'heat' THEN 'heat' END AS indirect_factor_scope,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_area END AS indirect_factor_area,
    CASE e.co2_method WHEN 'grid' THEN pf.grid_factor_year WHEN 'heat' THEN pf.heat_factor_year END AS factor_year,
    p.factor_set
FROM period_factors pf
CROSS JOIN energy_catalog e
CROSS JOIN run_params p
CROSS JOIN electricity_equivalent ee;

-- The numbers the amounts of a record need, per (province, year, energy):
-- the key is the first three columns, row_amounts (21_amounts.sql) looks
-- every record up here. The amounts are
--   q              = quantity × the unit's to_base (unit_catalog)
--   quantity_base  = q ÷ tce_per_base_unit for a unit of standard coal, else q
--   tce            = q for a unit of standard coal, else q × tce_per_base_unit
--   direct CO2     = sign × quantity_base × direct_factor, for fuel (0 for
--                    feedstock); sector_direct_factor instead for a record
--                    whose sector code is under co2_sector_prefix
--   indirect CO2   = sign × quantity_base ÷ indirect_divisor × indirect_factor
-- where direct_factor is the fuel's CO2 factor for an energy burnt (0 for the
-- others) and indirect_factor the period's grid or heat factor for electricity
-- and heat bought (0 for the others; 1000 kWh per MWh for the grid factor):
-- multipliers, so that no CASE is evaluated per record.
CREATE OR REPLACE TABLE amount_factors AS
SELECT
    province_prefix,
    year,
    energy_code,
    tce_per_base_unit,
    tce_equal_per_base_unit,
    CASE WHEN co2_method = 'combustion' THEN co2_factor ELSE 0.0 END AS direct_factor,
    co2_sector_prefix,
    sector_co2_factor AS sector_direct_factor,
    CASE co2_method WHEN 'grid' THEN 1000.0 WHEN 'heat' THEN coalesce(1.0 / gj_per_base_unit, 1.0) ELSE 1.0 END
        AS indirect_divisor,
    CASE WHEN co2_method IN ('grid', 'heat') THEN indirect_factor ELSE 0.0 END AS indirect_factor
FROM energy_factors;
