-- explain_by_sector.sql — standard coal and CO2 of a region (and every region
-- below it) in a year, per GB/T 4754 division (the two digits after an
-- optional section letter; a code that is not a GB/T 4754 code, such as HH
-- for households, stands for itself), largest CO2 first, with whether the
-- division is one of the energy-intensive industries.
--
-- Reads:  records_computed (30_emissions.sql; tce_judged is the standard coal
--         at the valuation the region is judged on), region_closure (40_regions.sql).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT
    CASE WHEN regexp_like(r.sector_code, '^[A-T]?[0-9]')
         THEN substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
         ELSE r.sector_code END AS k,
    CASE WHEN bool_or(r.high_energy) THEN 'energy-intensive' ELSE '' END AS n,
    CAST(sum(r.tce_judged) AS DOUBLE) AS tce,
    CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2,
    count(*) AS records
-- the small side first: the hash join is built from it
FROM region_closure a
JOIN records_computed r ON r.region_code = a.region_code
WHERE a.ancestor_code = $1 AND r.year = $2
GROUP BY CASE WHEN regexp_like(r.sector_code, '^[A-T]?[0-9]')
              THEN substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2)
              ELSE r.sector_code END
ORDER BY co2 DESC, k
