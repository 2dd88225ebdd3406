-- explain_member_green_rows.sql — the green_power rows of one enterprise, or
-- of the members of one group, in a year: each certified amount in its unit
-- and in kWh (amount_t carries the kWh here; factor is the unit's to_base).
--
-- Reads:  green_power_ok (23_group_inputs.sql), unit_catalog, group_members,
--         enterprise_base (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT 'green_power_kwh' AS kind, g.kind AS key, g.enterprise_id AS name, g.source_file, g.source_line,
    g.quantity, g.unit, u.to_base AS factor, 'kWh per unit' AS factor_unit,
    g.quantity * u.to_base AS amount_t, CAST(NULL AS VARCHAR) AS source_id, CAST(NULL AS VARCHAR) AS quality
FROM green_power_ok g
JOIN m ON m.enterprise_id = g.enterprise_id
JOIN unit_catalog u ON u.unit = g.unit
WHERE g.year = $3
ORDER BY g.enterprise_id, g.kind, g.source_file, g.source_line
