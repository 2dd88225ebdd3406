-- 55_explain.sql — what `carbonstat explain --region` shows besides the
-- indicators, published with the run so that explain answers from what was
-- published instead of computing the run again.
--
-- Per region (every level of the hierarchy) and year, the same rows the
-- explain_* queries (sql/queries/) make from the single records when explain
-- re-computes (`explain --recompute`):
--   region_contributions  the region's records summed by energy, by GB/T 4754
--                         division and by reporter (the ten largest by CO2)
--   region_factors        the distinct factor rows its records used, with
--                         their sources
--   region_budget_rows    the production and sinks rows behind co2_process_t
--                         and sink_t, with file and line
--   region_gdp            GDP, its index and GDP at constant prices
-- and for `explain --enterprise` and `--group`, besides enterprise_annual,
-- enterprise_totals, group_indicators and process_emissions:
--   group_members         the members of each group in each year
--   green_power           the green-power rows as input
-- Everything is summed per region first (the records' own region), then
-- rolled up through region_closure: the fixed-point sums are exact, so the
-- two stages give the sums over the single records bit for bit.
--
-- Reads:  record_totals (30_emissions.sql), run_params, energy_factors,
--         energy_catalog, grid_factor, heat_factor (15_factors.sql),
--         region_closure (40_regions.sql), process_amounts, sink_amounts
--         (45_budget.sql), gdp_ok (20_validate.sql), gdp_const
--         (50_indicators.sql).
--         group_members (47_groups.sql), green_power_ok
--         (23_group_inputs.sql).
-- Writes: region_record_sums (a table), region_contributions,
--         region_factors, region_budget_rows, region_gdp, group_member_years,
--         green_power_rows (views).

-- One pass over the accepted records' year sums, per own region and year,
-- in four groupings: by energy, by division, by reporter (the enterprise, or
-- 'sector <code>' for a sector's rows without one), and by the factor row
-- (energy, and whether the sector burns the fuel at its own factor).
CREATE OR REPLACE TABLE region_record_sums AS
WITH t AS (
    SELECT t.region_code, t.year, t.energy_code, t.category, t.high_energy,
        CASE WHEN regexp_like(t.sector_code, '^[A-T]?[0-9]')
             THEN substr(regexp_replace(t.sector_code, '^[A-Z]', ''), 1, 2)
             ELSE t.sector_code END AS division,
        coalesce(t.enterprise_id, concat('sector ', t.sector_code)) AS reporter,
        coalesce(t.enterprise_name, '') AS reporter_name,
        -- the rule of row_amounts (25_amounts.sql): the sector code without
        -- its section letter starts with the fuel's co2_sector_prefix
        coalesce(starts_with(CASE WHEN substr(t.sector_code, 1, 1) BETWEEN 'A' AND 'Z' THEN substr(t.sector_code, 2)
                                  ELSE t.sector_code END, t.co2_sector_prefix), false) AS in_co2_sector,
        -- the standard coal at the valuation the regions are judged on
        CASE p.electricity_valuation WHEN 'equal' THEN t.tce_equal ELSE t.tce END AS tce_judged,
        t.co2_direct_t, t.co2_indirect_t, t.records
    FROM record_totals t
    CROSS JOIN run_params p
)
SELECT
    CASE WHEN grouping(division) = 0 THEN 'division'
         WHEN grouping(reporter) = 0 THEN 'reporter'
         WHEN grouping(in_co2_sector) = 0 THEN 'factor'
         ELSE 'energy' END AS dimension,
    region_code, year, energy_code, division, reporter, in_co2_sector,
    min(category) AS category,
    bool_or(high_energy) AS high_energy,
    min(reporter_name) AS reporter_name,
    sum(tce_judged) AS tce_judged,
    sum(co2_direct_t) AS co2_direct_t,
    sum(co2_indirect_t) AS co2_indirect_t,
    sum(records) AS records
FROM t
GROUP BY GROUPING SETS (
    (region_code, year, energy_code),
    (region_code, year, division),
    (region_code, year, reporter),
    (region_code, year, energy_code, in_co2_sector)
);

-- By energy and by division: every row; by reporter: the ten largest by
-- CO2. rank orders each (region, year, dimension) as explain lists it: CO2
-- descending, then the key.
--
-- The ten largest reporters of a region are found without rolling every
-- reporter up to every level: a reporter with records in one region only
-- (nearly all) has the same sums at every level above it, so if it is among
-- the ten largest of an ancestor it is among the ten largest of its own
-- region's one-region reporters. Those, and every reporter with records in
-- several regions (a sector's rows in each county), are rolled up.
CREATE OR REPLACE VIEW region_contributions AS
WITH energy AS (
    SELECT a.ancestor_code AS region_code, s.year, 'energy' AS dimension, s.energy_code AS key,
        min(s.category) AS name,
        CAST(sum(s.tce_judged) AS DOUBLE) AS tce,
        CAST(sum(s.co2_direct_t) + sum(s.co2_indirect_t) AS DOUBLE) AS co2_t,
        sum(s.records) AS records
    FROM region_record_sums s
    JOIN region_closure a ON a.region_code = s.region_code
    WHERE s.dimension = 'energy'
    GROUP BY a.ancestor_code, s.year, s.energy_code
),
division AS (
    SELECT a.ancestor_code AS region_code, s.year, 'division' AS dimension, s.division AS key,
        CASE WHEN bool_or(s.high_energy) THEN 'energy-intensive' ELSE '' END AS name,
        CAST(sum(s.tce_judged) AS DOUBLE) AS tce,
        CAST(sum(s.co2_direct_t) + sum(s.co2_indirect_t) AS DOUBLE) AS co2_t,
        sum(s.records) AS records
    FROM region_record_sums s
    JOIN region_closure a ON a.region_code = s.region_code
    WHERE s.dimension = 'division'
    GROUP BY a.ancestor_code, s.year, s.division
),
reporters AS (
    SELECT s.*,
        count(*) OVER (PARTITION BY s.year, s.reporter) AS regions
    FROM region_record_sums s
    WHERE s.dimension = 'reporter'
),
candidates AS (
    SELECT region_code, year, reporter, reporter_name, tce_judged, co2_direct_t, co2_indirect_t, records
    FROM (
        SELECT r.*,
            row_number() OVER (
                PARTITION BY r.region_code, r.year
                ORDER BY CAST(r.co2_direct_t + r.co2_indirect_t AS DOUBLE) DESC, r.reporter
            ) AS own_rank
        FROM reporters r
        WHERE r.regions = 1
    ) x
    WHERE own_rank <= 10
    UNION ALL
    SELECT region_code, year, reporter, reporter_name, tce_judged, co2_direct_t, co2_indirect_t, records
    FROM reporters
    WHERE regions > 1
),
reporter AS (
    SELECT region_code, year, dimension, key, name, tce, co2_t, records
    FROM (
        SELECT a.ancestor_code AS region_code, c.year, 'reporter' AS dimension, c.reporter AS key,
            min(c.reporter_name) AS name,
            CAST(sum(c.tce_judged) AS DOUBLE) AS tce,
            CAST(sum(c.co2_direct_t) + sum(c.co2_indirect_t) AS DOUBLE) AS co2_t,
            sum(c.records) AS records,
            row_number() OVER (
                PARTITION BY a.ancestor_code, c.year
                ORDER BY CAST(sum(c.co2_direct_t) + sum(c.co2_indirect_t) AS DOUBLE) DESC, c.reporter
            ) AS top
        FROM candidates c
        JOIN region_closure a ON a.region_code = c.region_code
        GROUP BY a.ancestor_code, c.year, c.reporter
    ) x
    WHERE top <= 10
),
u AS (
    SELECT * FROM energy
    UNION ALL
    SELECT * FROM division
    UNION ALL
    SELECT * FROM reporter
)
SELECT region_code, year, dimension,
    CAST(row_number() OVER (PARTITION BY region_code, year, dimension ORDER BY co2_t DESC, key) AS INT) AS rank,
    key, name, tce, co2_t, CAST(records AS BIGINT) AS records
FROM u;

-- The factor rows the records of a region and the regions below it used:
-- the factors of the record's province, year and energy (energy_factors),
-- the sector's own CO2 factor of the fuel where it has one, and the sources
-- of the catalog, grid and heat factor rows. rank is the order explain lists
-- them in (every column, so that the order is total).
CREATE OR REPLACE VIEW region_factors AS
WITH own AS (
    SELECT s.region_code, s.year,
        f.energy_code, f.tce_per_base_unit, f.base_unit, f.tce_factor_year,
        CASE WHEN s.in_co2_sector THEN f.sector_co2_factor ELSE f.co2_factor END AS co2_factor,
        f.indirect_factor, f.indirect_factor_scope, f.indirect_factor_area, f.factor_year,
        f.tce_equal_per_base_unit
    FROM region_record_sums s
    JOIN energy_factors f
        ON f.province_prefix = substr(s.region_code, 1, 2) AND f.year = s.year AND f.energy_code = s.energy_code
    WHERE s.dimension = 'factor'
),
rows AS (
    SELECT DISTINCT
        a.ancestor_code AS region_code, r.year,
        r.energy_code, r.tce_per_base_unit, r.base_unit, r.tce_factor_year, r.co2_factor,
        r.indirect_factor, r.indirect_factor_scope, r.indirect_factor_area, r.factor_year,
        e.tce_source_id, e.tce_quality,
        CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_source_id ELSE e.co2_source_id END
            AS co2_source_id,
        CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_quality ELSE e.co2_quality END
            AS co2_quality,
        coalesce(g.source_id, h.source_id) AS indirect_source_id,
        coalesce(g.quality, h.quality) AS indirect_quality,
        r.tce_equal_per_base_unit
    FROM own r
    JOIN region_closure a ON a.region_code = r.region_code
    JOIN energy_catalog e ON e.energy_code = r.energy_code
    LEFT JOIN grid_factor g
        ON g.scope = r.indirect_factor_scope AND g.area_code = r.indirect_factor_area
        AND g.data_year = r.factor_year
    LEFT JOIN heat_factor h ON r.indirect_factor_scope = 'heat' AND h.data_year = r.factor_year
)
SELECT region_code, year,
    CAST(row_number() OVER (
        PARTITION BY region_code, year
        ORDER BY energy_code, co2_factor, indirect_factor, indirect_factor_scope, indirect_factor_area,
            factor_year, tce_factor_year, tce_per_base_unit, base_unit, tce_equal_per_base_unit,
            tce_source_id, tce_quality, co2_source_id, co2_quality, indirect_source_id, indirect_quality
    ) AS INT) AS rank,
    energy_code, tce_per_base_unit, base_unit, tce_factor_year, co2_factor,
    indirect_factor, indirect_factor_scope, indirect_factor_area, factor_year,
    tce_source_id, tce_quality, co2_source_id, co2_quality, indirect_source_id, indirect_quality,
    tce_equal_per_base_unit
FROM rows;

-- The production and sinks rows of a region and the regions below it, as
-- explain lists them under co2_process_t, sink_t and co2_net_t.
CREATE OR REPLACE VIEW region_budget_rows AS
SELECT a.ancestor_code AS region_code, p.year, 'co2_process_t' AS kind, p.product_code AS key,
    concat(p.product_name, ' (', p.factor_method, ')',
        CASE WHEN p.enterprise_id IS NOT NULL THEN concat(' ', p.enterprise_id) ELSE '' END) AS name,
    p.source_file, p.source_line, p.quantity, p.unit, p.factor, 't CO2 per t' AS factor_unit,
    CAST(p.co2_process_t AS DOUBLE) AS amount_t,
    CASE WHEN p.factor_method = 'composition' THEN 'IPCC 2006 vol. 3 eq. 2.2 (cao, mgo of the row)' ELSE p.source_id END
        AS source_id,
    CASE WHEN p.factor_method = 'composition' THEN 'input' ELSE p.quality END AS quality
FROM process_amounts p
JOIN region_closure a ON a.region_code = p.region_code
UNION ALL
SELECT a.ancestor_code, s.year, 'sink_t', s.ecosystem, s.method, s.source_file, s.source_line,
    s.quantity, s.unit, s.factor,
    CASE s.method WHEN 'stock_change' THEN 't CO2 per m3' ELSE 't CO2 per t CO2' END,
    CAST(s.sink_t AS DOUBLE), s.source_id, s.quality
FROM sink_amounts s
JOIN region_closure a ON a.region_code = s.region_code;

-- A region's GDP, its index and GDP at base-year prices, every year it has
-- GDP: the chain explain shows.
CREATE OR REPLACE VIEW region_gdp AS
SELECT g.region_code, g.year, g.gdp, g.gdp_index, c.gdp_const
FROM gdp_ok g
LEFT JOIN gdp_const c ON c.region_code = g.region_code AND c.year = g.year;

-- The members of each group in each year of the data (the groups input
-- with its from and to years): explain lists every member, also one
-- without records.
CREATE OR REPLACE VIEW group_member_years AS
SELECT DISTINCT group_id, enterprise_id, year
FROM group_members;

-- The accepted green-power rows as input.
CREATE OR REPLACE VIEW green_power_rows AS
SELECT enterprise_id, year, kind, quantity, unit, source_file, source_line
FROM green_power_ok;
