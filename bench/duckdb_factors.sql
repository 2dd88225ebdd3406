-- The factor tables both DuckDB formulations of the benchmark compute from the
-- factor set carbonstat exports (bench/run_bench.py puts this file where a
-- formulation has its factor_tables placeholder). Reads regions_ok and the factor CSVs.

-- Every factor a record's amounts need, per (province, year, energy), for the
-- provinces of the regions and the years 1949-2100: the latest data year ≤ the
-- year (else the earliest); the grid factor of the most specific scope with a
-- factor for the area (a province, a city with a grid of its own, 'CN').
CREATE TABLE years AS SELECT CAST(range AS INT) AS year FROM range(1949, 2101);
CREATE TABLE grid_areas AS
SELECT p.prefix AS area_key, p.prefix || '0000' AS province_code, gr.grid_region
FROM (SELECT DISTINCT substr(region_code, 1, 2) AS prefix FROM regions_ok) p
LEFT JOIN grid_region gr ON gr.area_prefix = p.prefix
UNION ALL
SELECT gr.area_prefix, substr(gr.area_prefix, 1, 2) || '0000', gr.grid_region
FROM grid_region gr
WHERE length(gr.area_prefix) = 4 AND substr(gr.area_prefix, 1, 2) IN (SELECT substr(region_code, 1, 2) FROM regions_ok)
UNION ALL
SELECT 'CN', NULL, NULL;
CREATE TABLE area_grid_factor AS
WITH cand AS (
    SELECT a.area_key, y.year, g.scope, g.data_year, g.tco2_per_mwh,
        CASE g.scope WHEN 'provincial' THEN 1 WHEN 'regional' THEN 2 ELSE 3 END AS specificity
    FROM grid_areas a CROSS JOIN years y
    JOIN grid_factor g ON (g.scope = 'provincial' AND g.area_code = a.province_code)
        OR (g.scope = 'regional' AND g.area_code = a.grid_region) OR g.scope = 'national'
),
scoped AS (SELECT * FROM cand QUALIFY specificity = min(specificity) OVER (PARTITION BY area_key, year))
SELECT area_key, year, scope, data_year, tco2_per_mwh FROM scoped
QUALIFY data_year = coalesce(max(CASE WHEN data_year <= year THEN data_year END) OVER (PARTITION BY area_key, year),
                             min(data_year) OVER (PARTITION BY area_key, year));
CREATE TABLE electricity_rates AS
SELECT y.year, g.data_year, g.tce_per_kwh AS equal_tce_per_kwh
FROM years y, generation_coal_rate g
QUALIFY g.data_year = coalesce(max(CASE WHEN g.data_year <= y.year THEN g.data_year END) OVER (PARTITION BY y.year),
                               min(g.data_year) OVER (PARTITION BY y.year));
CREATE TABLE heat_rates AS
SELECT y.year, h.data_year, h.tco2_per_gj
FROM years y, heat_factor h
QUALIFY h.data_year = coalesce(max(CASE WHEN h.data_year <= y.year THEN h.data_year END) OVER (PARTITION BY y.year),
                               min(h.data_year) OVER (PARTITION BY y.year));
CREATE TABLE amount_factors AS
SELECT a.area_key AS prefix, y.year, CAST(y.year AS VARCHAR) AS year_text, e.energy_code, e.category, e.tce_method,
    e.base_unit, e.dimension AS energy_dimension,
    CASE WHEN e.tce_method = 'electricity' THEN ee.tce_per_kwh ELSE e.tce_per_base_unit END AS tce_per,
    CASE WHEN e.tce_method = 'electricity' THEN er.equal_tce_per_kwh ELSE e.tce_per_base_unit END AS tce_equal_per,
    CASE WHEN e.co2_method = 'combustion' THEN e.co2_t_per_base_unit ELSE 0.0 END AS direct_factor,
    CASE e.co2_method WHEN 'grid' THEN 1000.0 WHEN 'heat' THEN coalesce(1.0 / e.gj_per_base_unit, 1.0) ELSE 1.0 END
        AS indirect_divisor,
    CASE e.co2_method WHEN 'grid' THEN gf.tco2_per_mwh WHEN 'heat' THEN hr.tco2_per_gj ELSE 0.0 END AS indirect_factor,
    CASE WHEN e.tce_method = 'electricity' THEN er.data_year END AS tce_factor_year,
    CASE e.co2_method WHEN 'grid' THEN gf.data_year WHEN 'heat' THEN hr.data_year END AS factor_year,
    CASE e.co2_method WHEN 'grid' THEN gf.scope WHEN 'heat' THEN 'heat' END AS indirect_factor_scope
FROM grid_areas a
CROSS JOIN years y
CROSS JOIN energy_catalog e
CROSS JOIN electricity_equivalent ee
LEFT JOIN electricity_rates er ON er.year = y.year
LEFT JOIN heat_rates hr ON hr.year = y.year
LEFT JOIN area_grid_factor gf ON gf.area_key = a.area_key AND gf.year = y.year
WHERE length(a.area_key) = 2;
