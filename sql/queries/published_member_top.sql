-- published_member_top.sql — explain from the published run: each member of
-- an enterprise or a group ($1, $2) in the year $3 with its energy records
-- summed (enterprise_annual), the rows of explain_member_top.sql.
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT m.enterprise_id AS k,
    coalesce(min(a.enterprise_name), '(no records)') AS n,
    coalesce(CAST(sum(CAST(a.tce AS DECIMAL(38, 6))) AS DOUBLE), 0) AS tce,
    coalesce(CAST(sum(CAST(a.co2_direct_t AS DECIMAL(38, 6))) + sum(CAST(a.co2_indirect_t AS DECIMAL(38, 6))) AS DOUBLE), 0)
        AS co2,
    coalesce(sum(CAST(a.records AS BIGINT)), 0) AS records
FROM m
LEFT JOIN enterprise_annual a ON a.enterprise_id = m.enterprise_id AND a.year = $3
GROUP BY m.enterprise_id
ORDER BY co2 DESC, k
