-- explain_by_energy.sql — standard coal and CO2 of a region (and every region
-- below it) in a year, per energy, largest CO2 first.
--
-- Reads:  records_computed (30_emissions.sql; tce_judged is the standard coal
--         at the valuation the region is judged on), region_closure (40_regions.sql).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT r.energy_code AS k, min(r.category) AS n,
    CAST(sum(r.tce_judged) AS DOUBLE) AS tce,
    CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2,
    count(*) AS records
-- the small side first: the hash join is built from it
FROM region_closure a
JOIN records_computed r ON r.region_code = a.region_code
WHERE a.ancestor_code = $1 AND r.year = $2
GROUP BY r.energy_code
ORDER BY co2 DESC, k
