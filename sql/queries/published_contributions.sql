-- published_contributions.sql — explain from the published run: a region's
-- records summed by one dimension ($3: energy, division or reporter) in a
-- year (region_contributions, 55_explain.sql), in the order
-- explain_by_energy.sql, explain_by_sector.sql and
-- explain_top_enterprises.sql give from the single records.
SELECT key AS k, name AS n, tce, co2_t AS co2, records
FROM region_contributions
WHERE region_code = $1 AND year = $2 AND dimension = $3
ORDER BY rank
