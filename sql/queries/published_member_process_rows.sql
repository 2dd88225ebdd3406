-- published_member_process_rows.sql — explain from the published run: the
-- production rows of an enterprise or a group's members ($1, $2) in the
-- year $3 (process_emissions), the rows of explain_member_process_rows.sql.
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT 'co2_process_t' AS kind, p.product_code AS key,
    concat(p.product_name, ' (', p.factor_method, ') ', p.enterprise_id) AS name,
    p.source_file, p.source_line, p.quantity, p.unit, p.tco2_per_t AS factor, 't CO2 per t' AS factor_unit,
    p.co2_process_t AS amount_t,
    CASE WHEN p.factor_method = 'composition' THEN 'IPCC 2006 vol. 3 eq. 2.2 (cao, mgo of the row)' ELSE p.factor_source_id END
        AS source_id,
    CASE WHEN p.factor_method = 'composition' THEN 'input' ELSE p.factor_quality END AS quality
FROM process_emissions p
JOIN m ON m.enterprise_id = p.enterprise_id
WHERE p.year = $3
ORDER BY amount_t DESC, p.source_file, p.source_line
