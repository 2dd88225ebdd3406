-- published_member_top.sql — explain from the published run: each member of
-- an enterprise or a group ($1, $2) in the year $3 with its energy records
-- summed (enterprise_annual), the rows of explain_member_top.sql (CO2
-- counted as that file says).
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
),
g AS (
    SELECT max(grid_factor) AS gf, max(green_power_used_kwh) AS green
    FROM group_indicators WHERE $1 = 'group' AND group_id = $2 AND year = $3
),
e AS (
    SELECT m.enterprise_id AS k,
        coalesce(min(a.enterprise_name), '(no records)') AS n,
        sum(CAST(a.tce AS DECIMAL(38, 6))) AS tce,
        sum(CAST(a.co2_direct_t AS DECIMAL(38, 6))) AS direct,
        sum(CASE WHEN a.flow = 'consumption' AND ($1 = 'enterprise' OR c.category = 'heat')
            THEN CAST(a.co2_indirect_t AS DECIMAL(38, 6)) ELSE 0 END) AS indirect,
        sum(CASE WHEN a.flow = 'consumption' AND c.category = 'electricity'
            THEN CAST(a.quantity_base AS DECIMAL(38, 6)) ELSE 0 END) AS in_kwh,
        coalesce(sum(CAST(a.records AS BIGINT)), 0) AS records
    FROM m
    LEFT JOIN enterprise_annual a ON a.enterprise_id = m.enterprise_id AND a.year = $3
    LEFT JOIN energy_catalog c ON c.energy_code = a.energy_code
    GROUP BY m.enterprise_id
)
SELECT e.k, e.n, coalesce(CAST(e.tce AS DOUBLE), 0) AS tce,
    coalesce(CAST(e.direct + e.indirect AS DOUBLE), 0) + coalesce(CAST(e.in_kwh AS DOUBLE) / 1000.0 * g.gf, 0) AS co2,
    e.records
FROM e CROSS JOIN g
UNION ALL
SELECT 'green_power_used', 'certified green power at zero', 0.0, -(g.green / 1000.0 * g.gf), 0
FROM g WHERE g.green > 0
ORDER BY co2 DESC, k
