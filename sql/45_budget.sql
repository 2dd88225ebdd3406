-- 45_budget.sql — the carbon budget beside energy CO2: industrial process CO2,
-- carbon sinks, and the region's sources and sinks by sector and ecosystem.
--
-- Per accepted production row (production_ok, 22_budget_inputs.sql):
--   quantity_t     = quantity × unit.to_base
--   factor         = CaO × 44/56 + MgO × 44/40 when the row gives the clinker's
--                    composition (products with composition = true; MgO
--                    empty = 0), else process_factors.tco2_per_t
--   co2_process_t  = quantity_t × factor
-- Per accepted sinks row (sinks_ok):
--   reported       sink_t = quantity × unit.to_base (t CO2 removed)
--   stock_change   sink_t = m3 × sink_factors.tco2_per_m3
--                    (= bef × wood_density × (1 + root_shoot_ratio) × carbon_fraction × 44/12)
-- Both are fixed-point DECIMAL(38, 6) like the energy amounts, rolled up
-- through every level of `regions` (region_closure, 40_regions.sql).
--
-- region_sectors: per region, year, sector group and subsector, from the
-- records (record_totals) and the amounts above. The group of a sector code is
-- the factor set's sector_groups row whose division range holds its GB/T 4754
-- division, or whose code it is (HH); 'unclassified' when none does. Within
-- industry the six energy-intensive divisions (25, 26, 30, 31, 32, 44) are a
-- subsector each and the rest 'other'. Energy at both valuations and direct
-- CO2 are the records' sums; a sector's indirect CO2 is its own net
-- electricity (bought − supplied) in MWh × the region's grid factor plus its
-- net heat's CO2, so the power sector of an exporting region carries the
-- export as a negative indirect term and the sectors add up to the region's
-- co2_t. Process CO2 counts in the division of the product (process_factors);
-- sinks are rows of their own (group 'sinks', subsector the ecosystem).
--
-- Reads:  production_ok, sinks_ok, process_factor, sink_factor, unit_catalog,
--         sector_group, sector_division, record_totals, region_closure,
--         region_grid_area, area_grid_factor, regions_ok.
-- Writes: process_amounts, sink_amounts, region_budget, sector_code_group,
--         region_sectors (tables), process_emissions, budget_amounts (views).

CREATE OR REPLACE TABLE process_amounts AS
WITH q AS (
    SELECT p.*, f.name_zh AS product_name, f.division, f.source_id, f.quality, f.composition,
        f.tco2_per_t AS default_factor,
        p.quantity * u.to_base AS quantity_t,
        CASE WHEN f.composition AND p.cao IS NOT NULL
            THEN p.cao * 44.0 / 56.0 + coalesce(p.mgo, 0) * 44.0 / 40.0
            ELSE f.tco2_per_t END AS factor,
        CASE WHEN f.composition AND p.cao IS NOT NULL THEN 'composition' ELSE 'default' END AS factor_method
    FROM production_ok p
    JOIN process_factor f ON f.product_code = p.product_code
    JOIN unit_catalog u ON u.unit = p.unit
)
SELECT q.source_file, q.source_line, q.region_code, q.year, q.enterprise_id, q.product_code, q.product_name,
    q.division, q.quantity, q.unit,
    CAST(q.quantity_t AS DECIMAL(38, 6)) AS quantity_t,
    q.cao, q.mgo, q.factor, q.factor_method, q.source_id, q.quality,
    CAST(q.quantity_t * q.factor AS DECIMAL(38, 6)) AS co2_process_t
FROM q;

CREATE OR REPLACE TABLE sink_amounts AS
SELECT s.source_file, s.source_line, s.region_code, s.year, s.ecosystem, s.method, s.quantity, s.unit,
    s.quantity * u.to_base AS quantity_base,
    CASE s.method WHEN 'stock_change' THEN f.tco2_per_m3 ELSE 1.0 END AS factor,
    CASE s.method WHEN 'stock_change' THEN f.source_id END AS source_id,
    CASE s.method WHEN 'stock_change' THEN f.quality END AS quality,
    CAST(s.quantity * u.to_base * CASE s.method WHEN 'stock_change' THEN f.tco2_per_m3 ELSE 1.0 END
        AS DECIMAL(38, 6)) AS sink_t
FROM sinks_ok s
JOIN unit_catalog u ON u.unit = s.unit
LEFT JOIN sink_factor f ON f.ecosystem = s.ecosystem;

-- Per production row, as published (`process_emissions`): an enterprise's
-- process CO2 in its own rows, a region's in rows without an enterprise.
CREATE OR REPLACE VIEW process_emissions AS
SELECT region_code, coalesce(enterprise_id, '') AS enterprise_id, year, product_code, product_name,
    division, CAST(quantity_t AS DOUBLE) AS quantity_t, factor AS tco2_per_t, factor_method, cao, mgo,
    CAST(co2_process_t AS DOUBLE) AS co2_process_t, source_id AS factor_source_id, quality AS factor_quality,
    source_file, source_line, quantity, unit
FROM process_amounts;

-- The production and sinks rows' amounts in one shape: their own region
-- and year, process CO2 and sink (0 for the other kind).
CREATE OR REPLACE VIEW budget_amounts AS
SELECT region_code, year, co2_process_t, CAST(0 AS DECIMAL(38, 6)) AS sink_t FROM process_amounts
UNION ALL
SELECT region_code, year, CAST(0 AS DECIMAL(38, 6)), sink_t FROM sink_amounts;

-- Per region (every level) and year: process CO2 and sinks.
CREATE OR REPLACE TABLE region_budget AS
SELECT a.ancestor_code AS region_code, b.year,
    sum(b.co2_process_t) AS co2_process_t,
    sum(b.sink_t) AS sink_t
FROM region_closure a
JOIN budget_amounts b ON a.region_code = b.region_code
GROUP BY a.ancestor_code, b.year;

-- The sector group and subsector of every sector code the records use and
-- of every division a process product belongs to.
CREATE OR REPLACE TABLE sector_code_group AS
WITH codes AS (
    SELECT sector_code, division, high_energy FROM sector_division
    UNION
    SELECT DISTINCT p.division AS sector_code, p.division AS division, h.division IS NOT NULL AS high_energy
    FROM process_amounts p
    LEFT JOIN high_energy_division h ON h.division = p.division
),
g AS (
    SELECT c.sector_code, c.division, c.high_energy,
        coalesce(special.sector_group, ranged.sector_group, 'unclassified') AS sector_group
    FROM codes c
    LEFT JOIN sector_group special
        ON special.division_from = c.sector_code AND special.division_to = c.sector_code
    LEFT JOIN sector_group ranged
        ON regexp_like(ranged.division_from, '^[0-9]{2}$') AND c.division BETWEEN ranged.division_from AND ranged.division_to
)
SELECT sector_code, sector_group,
    CASE WHEN sector_group = 'industry' THEN CASE WHEN high_energy THEN division ELSE 'other' END ELSE '' END AS subsector
FROM g;

-- A table: the dataset and the bulletin's sector charts both read it, and
-- as a view each read summed record_totals again (170 ms at 10^7 input
-- rows; docs/benchmarks.md, session 21). A row per region, year and sector
-- group: small at any scale.
CREATE OR REPLACE TABLE region_sectors AS
WITH energy AS (
    SELECT t.region_code, t.year, g.sector_group, g.subsector,
        sum(t.tce_equal) AS energy_tce,
        sum(t.tce) AS energy_tce_equivalent,
        sum(t.co2_direct_t) AS co2_direct_t,
        sum(CASE WHEN t.category = 'electricity'
            THEN CASE t.flow WHEN 'output' THEN -t.quantity_base ELSE t.quantity_base END ELSE 0 END) AS net_kwh,
        sum(CASE WHEN t.category = 'heat' THEN t.co2_indirect_t ELSE 0 END) AS co2_heat_t,
        sum(t.records) AS records
    -- (the small table first: DataFusion builds a join's hash table from its
    -- left side, and record_totals has a row per enterprise, year and energy
    -- — 1.5 GB at 10^8 input rows, more than the memory limit allows)
    FROM sector_code_group g
    JOIN record_totals t ON t.sector_code = g.sector_code
    GROUP BY t.region_code, t.year, g.sector_group, g.subsector
),
parts AS (
    SELECT region_code, year, sector_group, subsector, energy_tce, energy_tce_equivalent, co2_direct_t,
        net_kwh, co2_heat_t, CAST(0 AS DECIMAL(38, 6)) AS co2_process_t, CAST(0 AS DECIMAL(38, 6)) AS sink_t,
        records
    FROM energy
    UNION ALL
    SELECT p.region_code, p.year, g.sector_group, g.subsector, 0, 0, 0, 0, 0, p.co2_process_t, 0, 0
    FROM process_amounts p
    JOIN sector_code_group g ON g.sector_code = p.division
    UNION ALL
    SELECT region_code, year, 'sinks', ecosystem, 0, 0, 0, 0, 0, 0, sink_t, 0
    FROM sink_amounts
),
rolled AS (
    SELECT a.ancestor_code AS region_code, p.year, p.sector_group, p.subsector,
        sum(p.energy_tce) AS energy_tce,
        sum(p.energy_tce_equivalent) AS energy_tce_equivalent,
        sum(p.co2_direct_t) AS co2_direct_t,
        sum(p.net_kwh) AS net_kwh,
        sum(p.co2_heat_t) AS co2_heat_t,
        sum(p.co2_process_t) AS co2_process_t,
        sum(p.sink_t) AS sink_t,
        sum(p.records) AS records
    FROM region_closure a
    JOIN parts p ON p.region_code = a.region_code
    GROUP BY a.ancestor_code, p.year, p.sector_group, p.subsector
),
f AS (
    SELECT r.*,
        get_field(lookup('area_grid_factor', get_field(lookup('region_grid_area', r.region_code), 'area_key'), r.year),
            'tco2_per_mwh') AS grid_factor
    FROM rolled r
)
SELECT f.region_code, rg.name AS region_name, rg.level, f.year, f.sector_group, f.subsector,
    CASE
        WHEN f.sector_group = 'industry' AND f.subsector = 'other' THEN '其他工业'
        WHEN f.sector_group = 'industry' THEN h.name_zh
        WHEN f.sector_group = 'sinks' THEN concat('碳汇：', CASE f.subsector WHEN 'forest' THEN '森林' WHEN 'grassland' THEN '草原'
            WHEN 'wetland' THEN '湿地' WHEN 'farmland' THEN '农田' ELSE '其他' END)
        ELSE CASE f.sector_group WHEN 'agriculture' THEN '农、林、牧、渔业' WHEN 'construction' THEN '建筑业'
            WHEN 'transport' THEN '交通运输、仓储和邮政业' WHEN 'services' THEN '服务业' WHEN 'households' THEN '居民生活'
            ELSE '未归类' END
    END AS sector_name,
    CAST(f.energy_tce AS DOUBLE) AS energy_tce,
    CAST(f.energy_tce_equivalent AS DOUBLE) AS energy_tce_equivalent,
    CAST(f.co2_direct_t AS DOUBLE) AS co2_direct_t,
    CAST(f.net_kwh AS DOUBLE) AS electricity_net_kwh,
    CAST(f.net_kwh AS DOUBLE) / 1000.0 * f.grid_factor + CAST(f.co2_heat_t AS DOUBLE) AS co2_indirect_t,
    CAST(f.co2_direct_t AS DOUBLE) + CAST(f.net_kwh AS DOUBLE) / 1000.0 * f.grid_factor + CAST(f.co2_heat_t AS DOUBLE) AS co2_t,
    CAST(f.co2_process_t AS DOUBLE) AS co2_process_t,
    CAST(f.sink_t AS DOUBLE) AS sink_t,
    CAST(f.records AS BIGINT) AS records
FROM f
JOIN regions_ok rg ON rg.region_code = f.region_code
LEFT JOIN high_energy_division h ON h.division = f.subsector;
