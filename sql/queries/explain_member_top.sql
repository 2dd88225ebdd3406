-- explain_member_top.sql — each member of a group (or the one enterprise) in a
-- year with its standard coal (equivalent value) and energy CO2, largest
-- first; members without records show zeros. CO2 counted as the total
-- explained counts it (explain_member_by_energy.sql): no credit for what a
-- member supplies; in a group, electricity bought at the group's factor and
-- a row 'green_power_used' for the certified green power at zero.
--
-- Reads:  records_computed (30_emissions.sql), group_members, enterprise_base,
--         group_indicators (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
),
g AS (
    SELECT max(grid_factor) AS gf, max(green_power_used_kwh) AS green
    FROM group_indicators WHERE $1 = 'group' AND group_id = $2 AND year = $3
),
e AS (
    SELECT m.enterprise_id AS k,
        coalesce(min(r.enterprise_name), '(no records)') AS n,
        sum(r.tce) AS tce,
        sum(r.co2_direct_t) AS direct,
        sum(CASE WHEN r.flow = 'consumption' AND ($1 = 'enterprise' OR r.category = 'heat') THEN r.co2_indirect_t ELSE 0 END)
            AS indirect,
        sum(CASE WHEN r.flow = 'consumption' AND r.category = 'electricity' THEN r.quantity_base ELSE 0 END) AS in_kwh,
        count(r.enterprise_id) AS records
    FROM m
    LEFT JOIN records_computed r ON r.enterprise_id = m.enterprise_id AND r.year = $3 AND r.input = 'energy'
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
