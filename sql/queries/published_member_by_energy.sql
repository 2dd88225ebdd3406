-- published_member_by_energy.sql — explain from the published run: the
-- energy records of an enterprise or a group's members ($1, $2) in the
-- year $3, summed by energy from enterprise_annual, the rows of
-- explain_member_by_energy.sql. enterprise_annual holds each sum as a
-- double of a 6-decimal fixed-point sum: cast back to DECIMAL(38, 6) they
-- add up exactly to the sum over the single records.
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
SELECT a.energy_code AS k, min(e.category) AS n,
    CAST(sum(CAST(a.tce AS DECIMAL(38, 6))) AS DOUBLE) AS tce,
    CAST(sum(CAST(a.co2_direct_t AS DECIMAL(38, 6))) + sum(CAST(a.co2_indirect_t AS DECIMAL(38, 6))) AS DOUBLE) AS co2,
    sum(CAST(a.records AS BIGINT)) AS records
FROM enterprise_annual a
JOIN m ON m.enterprise_id = a.enterprise_id
JOIN energy_catalog e ON e.energy_code = a.energy_code
WHERE a.year = $3
GROUP BY a.energy_code
ORDER BY co2 DESC, k
