-- 40_regions.sql — roll-up through every level of the `regions` hierarchy:
-- a record of town 150622100 counts for the town, its county 150622, the city
-- 150600, the province 150000 and whatever the table holds above.
--
-- Per region and year (sums of the signed, fixed-point amounts of
-- 30_emissions.sql):
--   energy_tce_equivalent, energy_tce_equal   comprehensive energy consumption
--                    (consumption minus energy supplied to others) at both
--                    valuations of electricity
--   feedstock_tce    energy used as raw material (原料用能)
--   coal_tce, oil_tce, gas_tce, heat_tce (net), other_non_fossil_tce (biomass)
--   electricity_in_kwh, electricity_out_kwh   electricity bought and supplied
--   primary_electricity_kwh, renewable_electricity_kwh   hydro, wind, solar,
--                    nuclear generation; of it all but nuclear
--   high_energy_tce_*   the six energy-intensive industries (GB/T 4754 divisions
--                    25, 26, 30, 31, 32, 44)
--   co2_direct_t, co2_heat_t   combustion CO2; CO2 of net bought heat
--
-- Reads:  record_totals, regions_ok.
-- Writes: region_closure, region_grid_area, enterprise_years, region_energy (tables: small,
--         and 50_indicators.sql reads region_energy twice).

-- (region_code, ancestor_code, depth): every region with itself and each of
-- its ancestors. Depth is bounded so a cycle in parent_code cannot loop; the
-- run refuses a table with a cycle before it gets here.
CREATE OR REPLACE TABLE region_closure AS
WITH RECURSIVE closure(region_code, ancestor_code, depth) AS (
    SELECT region_code, region_code AS ancestor_code, 0 AS depth FROM regions_ok
    UNION ALL
    SELECT c.region_code, r.parent_code, c.depth + 1
    FROM closure c
    JOIN regions_ok r ON r.region_code = c.ancestor_code
    WHERE r.parent_code IS NOT NULL AND c.depth < 12
)
SELECT region_code, ancestor_code, depth FROM closure;

-- The area whose grid factor a region's net import of electricity uses: the
-- country's is national ('CN'); a city or league the factor set maps to a grid
-- of its own (and everything below it) uses that; any other region its
-- province (grid_areas, 15_factors.sql).
CREATE OR REPLACE TABLE region_grid_area AS
SELECT r.region_code,
    CASE WHEN r.level = 'country' THEN 'CN' ELSE coalesce(a.area_key, substr(r.region_code, 1, 2)) END AS area_key
FROM regions_ok r
LEFT JOIN grid_areas a ON length(a.area_key) = 4 AND a.area_key = substr(r.region_code, 1, 4);

-- Per year and enterprise, the regions it reported from (a table: the view
-- below reads it twice). One region (nearly always): the enterprise counts
-- once for that region and each of its ancestors. Several: once per distinct
-- ancestor of them.
CREATE OR REPLACE TABLE enterprise_years AS
SELECT year, enterprise_id, min(region_code) AS region_code, max(region_code) AS last_region_code
FROM record_totals
WHERE enterprise_id IS NOT NULL
GROUP BY year, enterprise_id;

-- Summed per region and year first (regions × years rows), then rolled up to
-- every ancestor: the fixed-point sums are exact, so summing in two stages
-- gives the same totals. An enterprise is counted once per ancestor and year,
-- also when it reports from two regions below it. Electricity is kept in kWh
-- (bought, supplied, primary generation): a region's net import across its
-- own boundary, and how much of its non-fossil electricity stayed in it, are
-- worked out per level in 50_indicators.sql — they do not add up from the
-- levels below.
CREATE OR REPLACE TABLE region_energy AS
WITH by_region AS (
    SELECT
        region_code, year,
        sum(tce) AS energy_tce_equivalent,
        sum(tce_equal) AS energy_tce_equal,
        sum(CASE WHEN use = 'feedstock' THEN tce ELSE 0 END) AS feedstock_tce,
        sum(CASE WHEN category = 'coal' THEN tce ELSE 0 END) AS coal_tce,
        sum(CASE WHEN category = 'oil' THEN tce ELSE 0 END) AS oil_tce,
        sum(CASE WHEN category = 'gas' THEN tce ELSE 0 END) AS gas_tce,
        sum(CASE WHEN category = 'heat' THEN tce ELSE 0 END) AS heat_tce,
        sum(CASE WHEN category = 'non_fossil' AND tce_method <> 'electricity' THEN tce ELSE 0 END)
            AS other_non_fossil_tce,
        sum(CASE WHEN category = 'electricity' AND flow = 'consumption' THEN quantity_base ELSE 0 END)
            AS electricity_in_kwh,
        sum(CASE WHEN category = 'electricity' AND flow = 'output' THEN quantity_base ELSE 0 END)
            AS electricity_out_kwh,
        -- hydro, wind, solar and nuclear generation (the farms' primary energy)
        sum(CASE WHEN category = 'non_fossil' AND tce_method = 'electricity'
            THEN CASE flow WHEN 'output' THEN -quantity_base ELSE quantity_base END ELSE 0 END)
            AS primary_electricity_kwh,
        -- of it renewable (发改运行〔2022〕1258号: all but nuclear)
        sum(CASE WHEN category = 'non_fossil' AND tce_method = 'electricity' AND energy_code <> 'nuclear_power'
            THEN CASE flow WHEN 'output' THEN -quantity_base ELSE quantity_base END ELSE 0 END)
            AS renewable_electricity_kwh,
        sum(CASE WHEN high_energy THEN tce ELSE 0 END) AS high_energy_tce_equivalent,
        sum(CASE WHEN high_energy THEN tce_equal ELSE 0 END) AS high_energy_tce_equal,
        sum(co2_direct_t) AS co2_direct_t,
        sum(CASE WHEN category = 'heat' THEN co2_indirect_t ELSE 0 END) AS co2_heat_t,
        sum(records) AS records
    FROM record_totals
    GROUP BY region_code, year
),
rolled_up AS (
    SELECT
        a.ancestor_code AS region_code,
        b.year,
        sum(b.energy_tce_equivalent) AS energy_tce_equivalent,
        sum(b.energy_tce_equal) AS energy_tce_equal,
        sum(b.feedstock_tce) AS feedstock_tce,
        sum(b.coal_tce) AS coal_tce,
        sum(b.oil_tce) AS oil_tce,
        sum(b.gas_tce) AS gas_tce,
        sum(b.heat_tce) AS heat_tce,
        sum(b.other_non_fossil_tce) AS other_non_fossil_tce,
        sum(b.electricity_in_kwh) AS electricity_in_kwh,
        sum(b.electricity_out_kwh) AS electricity_out_kwh,
        sum(b.primary_electricity_kwh) AS primary_electricity_kwh,
        sum(b.renewable_electricity_kwh) AS renewable_electricity_kwh,
        sum(b.high_energy_tce_equivalent) AS high_energy_tce_equivalent,
        sum(b.high_energy_tce_equal) AS high_energy_tce_equal,
        sum(b.co2_direct_t) AS co2_direct_t,
        sum(b.co2_heat_t) AS co2_heat_t,
        sum(b.records) AS records
    FROM region_closure a
    JOIN by_region b ON a.region_code = b.region_code
    GROUP BY a.ancestor_code, b.year
),
single_region AS (
    SELECT a.ancestor_code AS region_code, e.year, sum(e.enterprises) AS enterprises
    FROM region_closure a
    JOIN (
        SELECT region_code, year, count(*) AS enterprises
        FROM enterprise_years
        WHERE region_code = last_region_code
        GROUP BY region_code, year
    ) e ON a.region_code = e.region_code
    GROUP BY a.ancestor_code, e.year
),
several_regions AS (
    SELECT ancestor_code AS region_code, year, count(*) AS enterprises
    FROM (
        SELECT DISTINCT a.ancestor_code, t.year, t.enterprise_id
        FROM enterprise_years m
        JOIN record_totals t ON t.year = m.year AND t.enterprise_id = m.enterprise_id
        JOIN region_closure a ON a.region_code = t.region_code
        WHERE m.region_code <> m.last_region_code
    ) d
    GROUP BY ancestor_code, year
),
enterprises AS (
    SELECT region_code, year, sum(enterprises) AS enterprises
    FROM (SELECT * FROM single_region UNION ALL SELECT * FROM several_regions) u
    GROUP BY region_code, year
)
SELECT
    r.region_code, r.year, r.energy_tce_equivalent, r.energy_tce_equal, r.feedstock_tce, r.coal_tce,
    r.oil_tce, r.gas_tce, r.heat_tce, r.other_non_fossil_tce, r.electricity_in_kwh, r.electricity_out_kwh,
    r.primary_electricity_kwh, r.renewable_electricity_kwh, r.high_energy_tce_equivalent,
    r.high_energy_tce_equal, r.co2_direct_t, r.co2_heat_t,
    coalesce(e.enterprises, 0) AS enterprises,
    r.records
FROM rolled_up r
LEFT JOIN enterprises e ON e.region_code = r.region_code AND e.year = r.year;
