-- explain_by_energy.sql — standard coal and CO2 of a region (and every region
-- below it) in a year, per energy, largest CO2 first.
--
-- Reads:  records_computed (30_emissions.sql), region_closure (40_regions.sql),
--         run_params (electricity_valuation).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT r.energy_code AS k, min(r.category) AS n,
    -- standard coal at the valuation the region is judged on
    CAST(sum(CASE p.electricity_valuation WHEN 'equal' THEN r.tce_equal ELSE r.tce END) AS DOUBLE) AS tce,
    CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2,
    count(*) AS records
FROM records_computed r
JOIN region_closure a ON a.region_code = r.region_code
CROSS JOIN run_params p
WHERE a.ancestor_code = $1 AND r.year = $2
GROUP BY r.energy_code
ORDER BY co2 DESC, k
