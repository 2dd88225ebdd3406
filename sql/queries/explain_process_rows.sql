-- explain_process_rows.sql — the production rows behind a region's process
-- CO2 in a year (the region and every region below it), largest first: each
-- with its factor, the clinker's composition (CaO x 44/56 + MgO x 44/40, IPCC
-- 2006 vol. 3 eq. 2.2) or the factor set's default, and that row's source.
--
-- Reads:  process_amounts (45_budget.sql), region_closure (40_regions.sql).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT 'co2_process_t' AS kind, p.product_code AS key,
    concat(p.product_name, ' (', p.factor_method, ')',
        CASE WHEN p.enterprise_id IS NOT NULL THEN concat(' ', p.enterprise_id) ELSE '' END) AS name,
    p.source_file, p.source_line, p.quantity, p.unit, p.factor, 't CO2 per t' AS factor_unit,
    CAST(p.co2_process_t AS DOUBLE) AS amount_t,
    CASE WHEN p.factor_method = 'composition' THEN 'IPCC 2006 vol. 3 eq. 2.2 (cao, mgo of the row)' ELSE p.source_id END AS source_id,
    CASE WHEN p.factor_method = 'composition' THEN 'input' ELSE p.quality END AS quality
FROM process_amounts p
JOIN region_closure a ON a.region_code = p.region_code
WHERE a.ancestor_code = $1 AND p.year = $2
ORDER BY amount_t DESC, p.source_file, p.source_line
