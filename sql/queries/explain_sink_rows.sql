-- explain_sink_rows.sql — the sinks rows behind a region's sinks in a year
-- (the region and every region below it), largest first: reported removals
-- count as given (factor 1), a growing-stock change in m3 × the factor set's
-- t CO2 per m3 for the ecosystem (sink_factors.csv, with its source).
--
-- Reads:  sink_amounts (45_budget.sql), region_closure (40_regions.sql).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT 'sink_t' AS kind, s.ecosystem AS key, s.method AS name, s.source_file, s.source_line,
    s.quantity, s.unit, s.factor,
    CASE s.method WHEN 'stock_change' THEN 't CO2 per m3' ELSE 't CO2 per t CO2' END AS factor_unit,
    CAST(s.sink_t AS DOUBLE) AS amount_t, s.source_id, s.quality
FROM sink_amounts s
JOIN region_closure a ON a.region_code = s.region_code
WHERE a.ancestor_code = $1 AND s.year = $2
ORDER BY amount_t DESC, s.source_file, s.source_line
