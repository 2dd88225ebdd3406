-- explain_member_top.sql — each member of a group (or the one enterprise) in a
-- year with its standard coal (equivalent value) and energy CO2, largest
-- first; members without records show zeros.
--
-- Reads:  records_computed (30_emissions.sql), group_members, enterprise_base
--         (47_groups.sql).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT m.enterprise_id AS k,
    coalesce(min(r.enterprise_name), '(no records)') AS n,
    coalesce(CAST(sum(r.tce) AS DOUBLE), 0) AS tce,
    coalesce(CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE), 0) AS co2,
    count(r.enterprise_id) AS records
FROM m
LEFT JOIN records_computed r ON r.enterprise_id = m.enterprise_id AND r.year = $3 AND r.input = 'energy'
GROUP BY m.enterprise_id
ORDER BY co2 DESC, k
