-- explain_member_process_rows.sql — the production rows of one enterprise, or
-- of the members of one group, in a year (the columns of
-- explain_process_rows.sql).
--
-- Reads:  process_amounts (45_budget.sql), group_members, enterprise_base (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT 'co2_process_t' AS kind, p.product_code AS key,
    concat(p.product_name, ' (', p.factor_method, ') ', p.enterprise_id) AS name,
    p.source_file, p.source_line, p.quantity, p.unit, p.factor, 't CO2 per t' AS factor_unit,
    CAST(p.co2_process_t AS DOUBLE) AS amount_t,
    CASE WHEN p.factor_method = 'composition' THEN 'IPCC 2006 vol. 3 eq. 2.2 (cao, mgo of the row)' ELSE p.source_id END AS source_id,
    CASE WHEN p.factor_method = 'composition' THEN 'input' ELSE p.quality END AS quality
FROM process_amounts p
JOIN m ON m.enterprise_id = p.enterprise_id
WHERE p.year = $3
ORDER BY amount_t DESC, p.source_file, p.source_line
