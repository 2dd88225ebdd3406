-- explain_member_by_energy.sql — standard coal (equivalent value, what
-- enterprise and group totals use) and CO2 of one enterprise, or of the
-- members of one group, in a year, per energy code, largest CO2 first. The
-- CO2 is counted as the total explained counts it, so the rows add up to it:
--   an enterprise (enterprise_totals.co2_t): direct CO2 + the indirect CO2 of
--     what it bought (electricity at its province's grid factor, heat); what
--     it supplies to others earns no credit
--   a group (group_indicators.co2_t): direct CO2 + heat bought + electricity
--     bought × the group's grid factor, and a row 'green_power_used' of
--     − green_power_used_kwh × that factor (certified green power at zero)
--
-- Reads:  records_computed (30_emissions.sql), group_members, enterprise_base,
--         group_indicators (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
),
-- the group's factor of power bought and its green power used (one row,
-- NULLs for an enterprise)
g AS (
    SELECT max(grid_factor) AS gf, max(green_power_used_kwh) AS green
    FROM group_indicators WHERE $1 = 'group' AND group_id = $2 AND year = $3
),
e AS (
    SELECT r.energy_code AS k, min(r.category) AS n,
        sum(r.tce) AS tce,
        sum(r.co2_direct_t) AS direct,
        sum(CASE WHEN r.flow = 'consumption' AND ($1 = 'enterprise' OR r.category = 'heat') THEN r.co2_indirect_t ELSE 0 END)
            AS indirect,
        sum(CASE WHEN r.flow = 'consumption' AND r.category = 'electricity' THEN r.quantity_base ELSE 0 END) AS in_kwh,
        count(*) AS records
    FROM m
    JOIN records_computed r ON r.enterprise_id = m.enterprise_id
    WHERE r.year = $3 AND r.input = 'energy'
    GROUP BY r.energy_code
)
SELECT e.k, e.n, CAST(e.tce AS DOUBLE) AS tce,
    CAST(e.direct + e.indirect AS DOUBLE) + coalesce(CAST(e.in_kwh AS DOUBLE) / 1000.0 * g.gf, 0) AS co2,
    e.records
FROM e CROSS JOIN g
UNION ALL
SELECT 'green_power_used', 'certified green power at zero', 0.0, -(g.green / 1000.0 * g.gf), 0
FROM g WHERE g.green > 0
ORDER BY co2 DESC, k
