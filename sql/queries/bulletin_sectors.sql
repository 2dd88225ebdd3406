-- bulletin_sectors.sql — region_sectors for the chart of CO2 by sector.
--
-- Reads:  region_sectors (45_budget.sql, or the published dataset).
-- Parameters: none.

SELECT region_code, CAST(year AS INT) AS year, sector_group, subsector, sector_name, co2_t, co2_process_t, sink_t
FROM region_sectors
ORDER BY region_code, year, sector_group, subsector
