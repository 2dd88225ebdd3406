-- published_member_green_rows.sql — explain from the published run: the
-- green-power rows of an enterprise or a group's members ($1, $2) in the
-- year $3 (green_power), the rows of explain_member_green_rows.sql.
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT 'green_power_kwh' AS kind, g.kind AS key, g.enterprise_id AS name, g.source_file, g.source_line,
    g.quantity, g.unit, u.to_base AS factor, 'kWh per unit' AS factor_unit,
    g.quantity * u.to_base AS amount_t, CAST(NULL AS VARCHAR) AS source_id, CAST(NULL AS VARCHAR) AS quality
FROM green_power_rows g
JOIN m ON m.enterprise_id = g.enterprise_id
JOIN unit_catalog u ON u.unit = g.unit
WHERE g.year = $3
ORDER BY g.enterprise_id, g.kind, g.source_file, g.source_line
