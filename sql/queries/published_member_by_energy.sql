-- published_member_by_energy.sql — explain from the published run: the
-- energy records of an enterprise or a group's members ($1, $2) in the
-- year $3, summed by energy from enterprise_annual, the rows of
-- explain_member_by_energy.sql (CO2 counted as that file says).
-- enterprise_annual holds each sum as a double of a 6-decimal fixed-point
-- sum: cast back to DECIMAL(38, 6) they add up exactly to the sum over the
-- single records.
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
    SELECT a.energy_code AS k, min(c.category) AS n,
        sum(CAST(a.tce AS DECIMAL(38, 6))) AS tce,
        sum(CAST(a.co2_direct_t AS DECIMAL(38, 6))) AS direct,
        sum(CASE WHEN a.flow = 'consumption' AND ($1 = 'enterprise' OR c.category = 'heat')
            THEN CAST(a.co2_indirect_t AS DECIMAL(38, 6)) ELSE 0 END) AS indirect,
        sum(CASE WHEN a.flow = 'consumption' AND c.category = 'electricity'
            THEN CAST(a.quantity_base AS DECIMAL(38, 6)) ELSE 0 END) AS in_kwh,
        sum(CAST(a.records AS BIGINT)) AS records
    FROM enterprise_annual a
    JOIN m ON m.enterprise_id = a.enterprise_id
    JOIN energy_catalog c ON c.energy_code = a.energy_code
    WHERE a.year = $3
    GROUP BY a.energy_code
)
SELECT e.k, e.n, CAST(e.tce AS DOUBLE) AS tce,
    CAST(e.direct + e.indirect AS DOUBLE) + coalesce(CAST(e.in_kwh AS DOUBLE) / 1000.0 * g.gf, 0) AS co2,
    e.records
FROM e CROSS JOIN g
UNION ALL
SELECT 'green_power_used', 'certified green power at zero', 0.0, -(g.green / 1000.0 * g.gf), 0
FROM g WHERE g.green > 0
ORDER BY co2 DESC, k
