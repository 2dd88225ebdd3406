-- explain_member_by_energy.sql — standard coal (equivalent value, what
-- enterprise and group totals use) and CO2 of one enterprise, or of the
-- members of one group, in a year, per energy code, largest CO2 first.
--
-- Reads:  records_computed (30_emissions.sql), group_members, enterprise_base
--         (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT r.energy_code AS k, min(r.category) AS n,
    CAST(sum(r.tce) AS DOUBLE) AS tce,
    CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2,
    count(*) AS records
FROM m
JOIN records_computed r ON r.enterprise_id = m.enterprise_id
WHERE r.year = $3 AND r.input = 'energy'
GROUP BY r.energy_code
ORDER BY co2 DESC, k
