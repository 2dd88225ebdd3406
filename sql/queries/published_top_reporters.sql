-- published_top_reporters.sql — explain from the published run: a region's
-- ten largest reporters by CO2 (an enterprise, or 'sector <code>' for a
-- sector's rows without one), the rows of explain_top_enterprises.sql.
-- The records of the region and every region below it in the year $1 are
-- the rows of enterprise_annual and sector_annual that PublishedTables
-- (lib/src/audit/published.rs) keeps for the region; their sums are 6-decimal
-- fixed-point numbers, cast back to DECIMAL(38, 6) here, so the sums equal
-- the sums over the single records bit for bit.
WITH r AS (
    SELECT enterprise_id, enterprise_name, region_code, sector_code, energy_code,
        tce, tce_equal, co2_direct_t, co2_indirect_t, records
    FROM enterprise_annual
    WHERE year = $1
    UNION ALL
    SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), region_code, sector_code, energy_code,
        tce, tce_equal, co2_direct_t, co2_indirect_t, records
    FROM sector_annual
    WHERE year = $1
)
SELECT coalesce(r.enterprise_id, concat('sector ', r.sector_code)) AS k,
    min(coalesce(r.enterprise_name, '')) AS n,
    CAST(sum(CAST(CASE p.electricity_valuation WHEN 'equal' THEN r.tce_equal ELSE r.tce END AS DECIMAL(38, 6)))
        AS DOUBLE) AS tce,
    CAST(sum(CAST(r.co2_direct_t AS DECIMAL(38, 6))) + sum(CAST(r.co2_indirect_t AS DECIMAL(38, 6))) AS DOUBLE) AS co2,
    sum(CAST(r.records AS BIGINT)) AS records
FROM r
CROSS JOIN run_params p
GROUP BY coalesce(r.enterprise_id, concat('sector ', r.sector_code))
ORDER BY co2 DESC, k
LIMIT 10
