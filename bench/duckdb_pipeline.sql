-- The computation of sql/30..50 in DuckDB, for the benchmark: the same joins to
-- the factor tables (exported by `carbonstat factors export`), signed tce and
-- CO2 with the same grid-factor rule, roll-up through the hierarchy, GDP at
-- constant prices, intensities with NBS rounding, partitioned zstd Parquet.
-- No row validation (the generated data is clean); carbonstat validates every
-- row as well, so it does more work. Placeholders: {data} {factors} {out}
-- {energy_scan} {base_year}.

CREATE TABLE energy_catalog AS SELECT * FROM read_csv('{factors}/energy_catalog.csv', header = true);
CREATE TABLE unit_catalog AS SELECT * FROM read_csv('{factors}/unit_catalog.csv', header = true);
CREATE TABLE grid_factor AS SELECT * FROM read_csv('{factors}/grid_factor.csv', header = true, types = {'area_code': 'VARCHAR'});
CREATE TABLE grid_region AS SELECT * FROM read_csv('{factors}/grid_region.csv', header = true, types = {'province_code': 'VARCHAR'});
CREATE TABLE heat_factor AS SELECT * FROM read_csv('{factors}/heat_factor.csv', header = true);
CREATE TABLE electricity_equivalent AS SELECT * FROM read_csv('{factors}/electricity_equivalent.csv', header = true);
CREATE TABLE high_energy_division AS SELECT * FROM read_csv('{factors}/high_energy_division.csv', header = true, types = {'division': 'VARCHAR'});
CREATE TABLE regions AS SELECT * FROM read_csv('{data}/regions.csv', header = true, all_varchar = true);
CREATE TABLE gdp AS SELECT region_code, CAST(year AS INT) AS year, CAST(gdp AS DOUBLE) AS gdp,
    TRY_CAST(gdp_index AS DOUBLE) AS gdp_index FROM read_csv('{data}/gdp.csv', header = true, all_varchar = true);

CREATE TABLE records AS
WITH raw AS (
    SELECT enterprise_id, region_code, sector_code, CAST(year AS INT) AS year, energy_code, use, flow,
           CAST(quantity AS DOUBLE) AS quantity, unit
    FROM {energy_scan}
    UNION ALL
    SELECT NULL, region_code, sector_code, CAST(year AS INT), energy_code, use, flow, CAST(quantity AS DOUBLE), unit
    FROM read_csv('{data}/sector_energy.csv', header = true, all_varchar = true)
),
need AS (SELECT DISTINCT substr(region_code, 1, 2) || '0000' AS province_code, year FROM raw),
cand AS (
    SELECT n.province_code, n.year, g.data_year, g.tco2_per_mwh,
           CASE g.scope WHEN 'provincial' THEN 1 WHEN 'regional' THEN 2 ELSE 3 END AS specificity
    FROM need n LEFT JOIN grid_region gr ON gr.province_code = n.province_code
    JOIN grid_factor g ON (g.scope = 'provincial' AND g.area_code = n.province_code)
        OR (g.scope = 'regional' AND g.area_code = gr.grid_region) OR g.scope = 'national'
),
best AS (SELECT province_code, year, min(specificity) AS specificity FROM cand GROUP BY ALL),
scoped AS (SELECT c.* FROM cand c JOIN best b USING (province_code, year, specificity)),
yr AS (SELECT province_code, year, coalesce(max(CASE WHEN data_year <= year THEN data_year END), min(data_year)) AS data_year
       FROM scoped GROUP BY ALL),
grid AS (SELECT s.province_code, s.year, s.tco2_per_mwh FROM scoped s JOIN yr USING (province_code, year, data_year)),
heat_yr AS (SELECT y.year, coalesce(max(CASE WHEN h.data_year <= y.year THEN h.data_year END), min(h.data_year)) AS data_year
            FROM (SELECT DISTINCT year FROM raw) y, heat_factor h GROUP BY ALL),
heat AS (SELECT hy.year, h.tco2_per_gj FROM heat_yr hy JOIN heat_factor h USING (data_year)),
f AS (
    SELECT r.*, e.category, e.co2_method, e.co2_t_per_base_unit, u.dimension, u.to_base,
        CASE WHEN r.flow = 'output' THEN -1 ELSE 1 END AS sign,
        CASE WHEN e.tce_method = 'electricity' THEN ee.tce_per_kwh ELSE e.tce_per_base_unit END AS tce_per_base,
        g.tco2_per_mwh, h.tco2_per_gj, hd.division IS NOT NULL AS high_energy
    FROM raw r
    JOIN energy_catalog e ON e.energy_code = r.energy_code
    JOIN unit_catalog u ON u.unit = r.unit
    CROSS JOIN electricity_equivalent ee
    LEFT JOIN grid g ON g.province_code = substr(r.region_code, 1, 2) || '0000' AND g.year = r.year
    LEFT JOIN heat h ON h.year = r.year
    LEFT JOIN high_energy_division hd ON hd.division = substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
)
SELECT enterprise_id, region_code, year, energy_code, use, flow, category, high_energy,
    CAST(sign * quantity * to_base * tce_per_base AS DECIMAL(38, 6)) AS tce,
    CAST(CASE WHEN co2_method = 'combustion' AND use = 'fuel' THEN sign * quantity * to_base * co2_t_per_base_unit ELSE 0 END AS DECIMAL(38, 6)) AS co2_direct_t,
    CAST(CASE co2_method WHEN 'grid' THEN sign * quantity * to_base / 1000 * tco2_per_mwh
                         WHEN 'heat' THEN sign * quantity * to_base * tco2_per_gj ELSE 0 END AS DECIMAL(38, 6)) AS co2_indirect_t
FROM f;

CREATE TABLE closure AS
WITH RECURSIVE c(region_code, ancestor_code, depth) AS (
    SELECT region_code, region_code, 0 FROM regions
    UNION ALL
    SELECT c.region_code, r.parent_code, c.depth + 1 FROM c JOIN regions r ON r.region_code = c.ancestor_code
    WHERE r.parent_code IS NOT NULL AND r.parent_code <> '' AND c.depth < 12
)
SELECT * FROM c;

CREATE TABLE gdp_const AS
WITH RECURSIVE chain(region_code, year, gdp_const) AS (
    SELECT region_code, year, gdp FROM gdp WHERE year = {base_year}
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * g.gdp_index / 100.0
    FROM chain c JOIN gdp g ON g.region_code = c.region_code AND g.year = c.year + 1 WHERE g.gdp_index IS NOT NULL
)
SELECT * FROM chain;

CREATE TABLE region_year AS
SELECT a.ancestor_code AS region_code, r.year,
    CAST(sum(r.tce) AS DOUBLE) AS energy_tce,
    CAST(sum(r.tce) - sum(CASE WHEN r.use = 'feedstock' THEN r.tce ELSE 0 END)
         - sum(CASE WHEN r.category = 'non_fossil' THEN r.tce ELSE 0 END) AS DOUBLE) AS energy_tce_controlled,
    CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2_t,
    CAST(sum(CASE WHEN r.category = 'coal' THEN r.tce ELSE 0 END) AS DOUBLE) AS coal_tce,
    CAST(sum(CASE WHEN r.high_energy THEN r.tce ELSE 0 END) AS DOUBLE) AS high_energy_tce
FROM records r JOIN closure a ON a.region_code = r.region_code
GROUP BY ALL;

CREATE TABLE region_indicators AS
WITH i AS (
    SELECT y.*, g.gdp_const,
        y.energy_tce / (g.gdp_const * 10000) AS energy_intensity,
        y.energy_tce_controlled / (g.gdp_const * 10000) AS energy_intensity_controlled,
        y.co2_t / (g.gdp_const * 10000) AS co2_intensity
    FROM region_year y LEFT JOIN gdp_const g USING (region_code, year)
)
SELECT i.*,
    round(i.energy_intensity, 4) / nullif(round(p.energy_intensity, 4), 0) - 1 AS energy_intensity_change_yoy,
    round(i.co2_intensity, 4) / nullif(round(p.co2_intensity, 4), 0) - 1 AS co2_intensity_change_yoy
FROM i LEFT JOIN i p ON p.region_code = i.region_code AND p.year = i.year - 1;

COPY (SELECT * FROM region_indicators ORDER BY year, region_code)
    TO '{out}/region_indicators' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year), OVERWRITE_OR_IGNORE true);
COPY (SELECT enterprise_id, region_code, year, energy_code, use, flow,
             CAST(sum(tce) AS DOUBLE) AS tce, CAST(sum(co2_direct_t) AS DOUBLE) AS co2_direct_t,
             CAST(sum(co2_indirect_t) AS DOUBLE) AS co2_indirect_t, count(*) AS records
      FROM records WHERE enterprise_id IS NOT NULL GROUP BY ALL ORDER BY year, enterprise_id, region_code, energy_code, use, flow)
    TO '{out}/enterprise_annual' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year), OVERWRITE_OR_IGNORE true);
