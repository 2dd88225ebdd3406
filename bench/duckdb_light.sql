-- The computation of sql/15..50 in DuckDB, for the benchmark: computation
-- only. The records are cast, not validated (no row rules, no key checks, no
-- enterprise dataset): the generated data is clean. The official method, as
-- carbonstat computes it with its default config (electricity_factor
-- provincial, electricity_valuation equal, controlled_scope 2024,
-- grid_factor_vintage record_year, nbs_rounding on):
--   per record     quantity in the base unit, signed tce at equivalent value
--                  (当量值) and at equal value (等价值: electricity and primary
--                  electricity at the year's coal rate of thermal power), direct
--                  CO2 (fuel burnt) and CO2 of bought heat, as DECIMAL(38, 6)
--   per region     summed per region and year, rolled up through the hierarchy;
--                  electricity kept in kWh (bought, supplied, primary generation)
--   per level      net import across the region's boundary × its area's grid
--                  factor; the non-fossil electricity that stayed in the region
--                  (generation minus its share of the net export)
--   energy_tce     the equal-value total; energy_tce_controlled = energy_tce −
--                  feedstock − non-fossil energy consumed (equal value)
--   GDP            at constant prices of the base year (index chain both ways);
--                  intensities per 10^4 yuan, change rates of intensities
--                  rounded to 4 decimals (NBS)
-- Written as partitioned zstd Parquet. Placeholders: {data} {factors} {out}
-- {energy_scan} {base_year}; bench/duckdb_factors.sql goes where the factor_tables placeholder stands.

CREATE TABLE energy_catalog AS SELECT * FROM read_csv('{factors}/energy_catalog.csv', header = true);
CREATE TABLE unit_catalog AS SELECT * FROM read_csv('{factors}/unit_catalog.csv', header = true);
CREATE TABLE grid_factor AS SELECT * FROM read_csv('{factors}/grid_factor.csv', header = true, types = {'area_code': 'VARCHAR'});
CREATE TABLE grid_region AS SELECT * FROM read_csv('{factors}/grid_region.csv', header = true, all_varchar = true);
CREATE TABLE heat_factor AS SELECT * FROM read_csv('{factors}/heat_factor.csv', header = true);
CREATE TABLE generation_coal_rate AS SELECT * FROM read_csv('{factors}/generation_coal_rate.csv', header = true);
CREATE TABLE electricity_equivalent AS SELECT * FROM read_csv('{factors}/electricity_equivalent.csv', header = true);
CREATE TABLE high_energy_division AS SELECT * FROM read_csv('{factors}/high_energy_division.csv', header = true, types = {'division': 'VARCHAR'});
CREATE TABLE regions AS SELECT * FROM read_csv('{data}/regions.csv', header = true, all_varchar = true);
CREATE TABLE gdp AS SELECT region_code, CAST(year AS INT) AS year, CAST(gdp AS DOUBLE) AS gdp,
    TRY_CAST(gdp_index AS DOUBLE) AS gdp_index FROM read_csv('{data}/gdp.csv', header = true, all_varchar = true);

-- (the computation only takes every region as it is written)
CREATE VIEW regions_ok AS SELECT * FROM regions;
{factor_tables}

-- Per record, summed per region and year at once (regions × years rows).
CREATE TABLE by_region AS
WITH raw AS (
    SELECT region_code, sector_code, CAST(year AS INT) AS year, energy_code, use, flow,
           CAST(quantity AS DOUBLE) AS quantity, unit
    FROM {energy_scan}
    UNION ALL
    SELECT region_code, sector_code, CAST(year AS INT), energy_code, use, flow, CAST(quantity AS DOUBLE), unit
    FROM read_csv('{data}/sector_energy.csv', header = true, all_varchar = true)
),
f AS (
    SELECT r.region_code, r.year, r.energy_code, r.use, r.flow, a.category, a.tce_method,
        CASE WHEN r.flow = 'output' THEN -1 ELSE 1 END AS sign,
        u.dimension = 'tce' AS unit_is_tce, r.quantity * u.to_base AS q,
        a.tce_per, a.tce_equal_per, a.direct_factor, a.indirect_divisor, a.indirect_factor,
        hd.division IS NOT NULL AS high_energy
    FROM raw r
    JOIN unit_catalog u ON u.unit = r.unit
    JOIN amount_factors a ON a.prefix = substr(r.region_code, 1, 2) AND a.year = r.year AND a.energy_code = r.energy_code
    LEFT JOIN high_energy_division hd ON hd.division =
        CASE WHEN r.sector_code[1] BETWEEN 'A' AND 'Z' THEN r.sector_code[2:3] ELSE r.sector_code[1:2] END
),
b AS (
    SELECT *,
        CASE WHEN unit_is_tce THEN q / tce_per ELSE q END AS qb_f,
        CASE WHEN unit_is_tce THEN q ELSE q * tce_per END AS tce_f
    FROM f
),
amounts AS (
    SELECT region_code, year, energy_code, use, flow, category, tce_method, high_energy,
        CAST(qb_f AS DECIMAL(38, 6)) AS quantity_base,
        CAST(sign * tce_f AS DECIMAL(38, 6)) AS tce,
        CAST(sign * CASE WHEN tce_equal_per = tce_per THEN tce_f ELSE qb_f * tce_equal_per END AS DECIMAL(38, 6)) AS tce_equal,
        CAST(sign * qb_f * direct_factor * CASE use WHEN 'fuel' THEN 1.0 ELSE 0.0 END AS DECIMAL(38, 6)) AS co2_direct_t,
        CAST(sign * qb_f / indirect_divisor * indirect_factor AS DECIMAL(38, 6)) AS co2_indirect_t
    FROM b
)
SELECT region_code, year,
    sum(tce) AS energy_tce_equivalent,
    sum(tce_equal) AS energy_tce_equal,
    sum(CASE WHEN use = 'feedstock' THEN tce ELSE 0 END) AS feedstock_tce,
    sum(CASE WHEN category = 'coal' THEN tce ELSE 0 END) AS coal_tce,
    sum(CASE WHEN category = 'oil' THEN tce ELSE 0 END) AS oil_tce,
    sum(CASE WHEN category = 'gas' THEN tce ELSE 0 END) AS gas_tce,
    sum(CASE WHEN category = 'heat' THEN tce ELSE 0 END) AS heat_tce,
    sum(CASE WHEN category = 'non_fossil' AND tce_method <> 'electricity' THEN tce ELSE 0 END) AS other_non_fossil_tce,
    sum(CASE WHEN category = 'electricity' AND flow = 'consumption' THEN quantity_base ELSE 0 END) AS electricity_in_kwh,
    sum(CASE WHEN category = 'electricity' AND flow = 'output' THEN quantity_base ELSE 0 END) AS electricity_out_kwh,
    sum(CASE WHEN category = 'non_fossil' AND tce_method = 'electricity'
        THEN CASE flow WHEN 'output' THEN -quantity_base ELSE quantity_base END ELSE 0 END) AS primary_electricity_kwh,
    sum(CASE WHEN high_energy THEN tce_equal ELSE 0 END) AS high_energy_tce_equal,
    sum(co2_direct_t) AS co2_direct_t,
    sum(CASE WHEN category = 'heat' THEN co2_indirect_t ELSE 0 END) AS co2_heat_t,
    count(*) AS records
FROM amounts
GROUP BY ALL;

CREATE TABLE closure AS
WITH RECURSIVE c(region_code, ancestor_code, depth) AS (
    SELECT region_code, region_code, 0 FROM regions
    UNION ALL
    SELECT c.region_code, r.parent_code, c.depth + 1 FROM c JOIN regions r ON r.region_code = c.ancestor_code
    WHERE r.parent_code IS NOT NULL AND r.parent_code <> '' AND c.depth < 12
)
SELECT * FROM c;

CREATE TABLE gdp_const AS
WITH RECURSIVE fwd(region_code, year, gdp_const) AS (
    SELECT region_code, year, gdp FROM gdp WHERE year = {base_year}
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * g.gdp_index / 100.0
    FROM fwd c JOIN gdp g ON g.region_code = c.region_code AND g.year = c.year + 1 WHERE g.gdp_index IS NOT NULL
),
bwd(region_code, year, gdp_const, gdp_index) AS (
    SELECT region_code, year, gdp, gdp_index FROM gdp WHERE year = {base_year}
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * 100.0 / c.gdp_index, g.gdp_index
    FROM bwd c JOIN gdp g ON g.region_code = c.region_code AND g.year = c.year - 1 WHERE c.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM fwd
UNION ALL
SELECT region_code, year, gdp_const FROM bwd WHERE year < {base_year};

-- Rolled up to every ancestor (exact fixed-point sums), then each level's
-- electricity balance: net import across its own boundary, the non-fossil
-- part of its net export, valued at the year's equal-value rate.
CREATE TABLE region_indicators AS
WITH rolled AS (
    SELECT c.ancestor_code AS region_code, b.year,
        CAST(sum(b.energy_tce_equal) AS DOUBLE) AS energy_tce,
        CAST(sum(b.energy_tce_equivalent) AS DOUBLE) AS energy_tce_equivalent,
        CAST(sum(b.feedstock_tce) AS DOUBLE) AS feedstock_tce,
        CAST(sum(b.coal_tce) AS DOUBLE) AS coal_tce,
        CAST(sum(b.oil_tce) AS DOUBLE) AS oil_tce,
        CAST(sum(b.gas_tce) AS DOUBLE) AS gas_tce,
        CAST(sum(b.heat_tce) AS DOUBLE) AS heat_tce,
        CAST(sum(b.other_non_fossil_tce) AS DOUBLE) AS other_non_fossil_tce,
        CAST(sum(b.electricity_in_kwh) - sum(b.electricity_out_kwh) AS DOUBLE) AS net_import_kwh,
        CAST(sum(b.electricity_out_kwh) AS DOUBLE) AS out_kwh,
        CAST(sum(b.primary_electricity_kwh) AS DOUBLE) AS primary_kwh,
        CAST(sum(b.high_energy_tce_equal) AS DOUBLE) AS high_energy_tce,
        CAST(sum(b.co2_direct_t) AS DOUBLE) AS co2_direct_t,
        CAST(sum(b.co2_heat_t) AS DOUBLE) AS co2_heat_t,
        sum(b.records) AS records
    FROM by_region b JOIN closure c ON c.region_code = b.region_code
    GROUP BY ALL
),
x AS (
    SELECT r.*, er.equal_tce_per_kwh AS rate, gf.tco2_per_mwh AS grid_factor,
        CASE WHEN r.net_import_kwh < 0 AND r.out_kwh > 0
            THEN -r.net_import_kwh * least(greatest(r.primary_kwh, 0), r.out_kwh) / r.out_kwh ELSE 0 END AS non_fossil_exported_kwh,
        greatest(-r.net_import_kwh, 0) AS export_kwh
    FROM rolled r
    JOIN regions rg ON rg.region_code = r.region_code
    LEFT JOIN grid_areas a4 ON length(a4.area_key) = 4 AND a4.area_key = substr(r.region_code, 1, 4)
    LEFT JOIN area_grid_factor gf ON gf.year = r.year AND gf.area_key =
        CASE WHEN rg.level IN ('country', '国家') THEN 'CN' ELSE coalesce(a4.area_key, substr(r.region_code, 1, 2)) END
    LEFT JOIN electricity_rates er ON er.year = r.year
),
e AS (
    SELECT x.*,
        round(x.other_non_fossil_tce + (x.primary_kwh - x.non_fossil_exported_kwh) * x.rate, 6) AS non_fossil_consumed_tce,
        round(greatest(x.coal_tce - (x.export_kwh - x.non_fossil_exported_kwh) * x.rate, 0), 6) AS coal_consumed_tce,
        x.net_import_kwh / 1000.0 * x.grid_factor + x.co2_heat_t AS co2_indirect_t
    FROM x
),
i AS (
    SELECT e.region_code, e.year, e.energy_tce, e.energy_tce_equivalent,
        e.energy_tce - (e.feedstock_tce + e.non_fossil_consumed_tce) AS energy_tce_controlled,
        e.feedstock_tce, e.non_fossil_consumed_tce, e.coal_tce, e.coal_consumed_tce, e.oil_tce, e.gas_tce, e.heat_tce,
        round(e.net_import_kwh * e.rate, 6) AS electricity_tce, e.net_import_kwh AS electricity_net_import_kwh,
        e.high_energy_tce,
        e.coal_consumed_tce + e.oil_tce + e.gas_tce + e.non_fossil_consumed_tce
            + round(greatest(greatest(e.net_import_kwh, 0) * e.rate + e.heat_tce, 0), 6) AS energy_mix_tce,
        e.co2_direct_t + e.co2_indirect_t AS co2_t, e.co2_direct_t, e.co2_indirect_t, e.grid_factor,
        g.gdp_const,
        e.energy_tce / (g.gdp_const * 10000) AS energy_intensity,
        (e.energy_tce - (e.feedstock_tce + e.non_fossil_consumed_tce)) / (g.gdp_const * 10000) AS energy_intensity_controlled,
        (e.co2_direct_t + e.co2_indirect_t) / (g.gdp_const * 10000) AS co2_intensity,
        e.records
    FROM e LEFT JOIN gdp_const g USING (region_code, year)
)
SELECT i.*,
    round(i.energy_intensity, 4) / nullif(round(p.energy_intensity, 4), 0) - 1 AS energy_intensity_change_yoy,
    round(i.energy_intensity_controlled, 4) / nullif(round(p.energy_intensity_controlled, 4), 0) - 1
        AS energy_intensity_controlled_change_yoy,
    round(i.co2_intensity, 4) / nullif(round(p.co2_intensity, 4), 0) - 1 AS co2_intensity_change_yoy,
    i.coal_consumed_tce / nullif(i.energy_mix_tce, 0) AS coal_share,
    i.non_fossil_consumed_tce / nullif(i.energy_mix_tce, 0) AS non_fossil_share,
    i.high_energy_tce / nullif(i.energy_tce, 0) AS high_energy_share
FROM i LEFT JOIN i p ON p.region_code = i.region_code AND p.year = i.year - 1;

COPY (SELECT * FROM region_indicators ORDER BY year, region_code)
    TO '{out}/region_indicators' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year), OVERWRITE_OR_IGNORE true);
