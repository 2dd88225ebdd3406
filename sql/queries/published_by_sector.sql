-- published_by_sector.sql — explain from the published run: a region's
-- records summed by GB/T 4754 division (the sector code itself when it has
-- none), the rows of explain_by_sector.sql; energy-intensive as
-- sector_division (21_amounts.sql) says.
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
SELECT
    CASE WHEN regexp_like(r.sector_code, '^[A-T]?[0-9]')
         THEN substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
         ELSE r.sector_code END AS k,
    CASE WHEN bool_or(h.division IS NOT NULL) THEN 'energy-intensive' ELSE '' END AS n,
    CAST(sum(CAST(CASE p.electricity_valuation WHEN 'equal' THEN r.tce_equal ELSE r.tce END AS DECIMAL(38, 6)))
        AS DOUBLE) AS tce,
    CAST(sum(CAST(r.co2_direct_t AS DECIMAL(38, 6))) + sum(CAST(r.co2_indirect_t AS DECIMAL(38, 6))) AS DOUBLE) AS co2,
    sum(CAST(r.records AS BIGINT)) AS records
FROM r
LEFT JOIN high_energy_division h ON h.division = substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
CROSS JOIN run_params p
GROUP BY CASE WHEN regexp_like(r.sector_code, '^[A-T]?[0-9]')
              THEN substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
              ELSE r.sector_code END
ORDER BY co2 DESC, k
