-- budget_without_energy.sql — process CO2 and sinks of a region-year that has
-- no energy records: region_indicators has a row per region and year of the
-- energy (region_energy), so co2_net_t there does not count them, though
-- process_emissions, region_sectors and region_budget_rows show them. Per
-- region and year the production and sinks rows give (their own region, not
-- the regions above it), with how many of the regions above it have no row
-- that year either (a year beyond the energy data: all of them). `run` lists
-- each under "to look at" and logs it at warn.
--
-- Reads:  budget_amounts (45_budget.sql), region_closure
--         (40_regions.sql), region_indicators (50_indicators.sql), regions_ok.
-- Parameters: none.

WITH own AS (
    SELECT b.region_code, b.year, sum(b.co2_process_t) AS co2_process_t, sum(b.sink_t) AS sink_t
    FROM budget_amounts b
    LEFT JOIN region_indicators i ON i.region_code = b.region_code AND i.year = b.year
    WHERE i.region_code IS NULL
    GROUP BY b.region_code, b.year
),
above AS (
    SELECT o.region_code, o.year,
        count(*) AS regions_above,
        count(*) FILTER (WHERE i.region_code IS NULL) AS above_without
    FROM own o
    JOIN region_closure a ON a.region_code = o.region_code AND a.ancestor_code <> o.region_code
    LEFT JOIN region_indicators i ON i.region_code = a.ancestor_code AND i.year = o.year
    GROUP BY o.region_code, o.year
)
SELECT o.region_code, r.name AS region_name, o.year,
    CAST(o.co2_process_t AS DOUBLE) AS co2_process_t, CAST(o.sink_t AS DOUBLE) AS sink_t,
    coalesce(x.regions_above, 0) AS regions_above, coalesce(x.above_without, 0) AS above_without
FROM own o
JOIN regions_ok r ON r.region_code = o.region_code
LEFT JOIN above x ON x.region_code = o.region_code AND x.year = o.year
ORDER BY o.region_code, o.year
