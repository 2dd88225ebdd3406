-- explain_factors.sql — the factor rows the records of a region (and every
-- region below it) used in a year: standard coal coefficient (equivalent
-- value) and, for electricity and primary electricity, the coal rate of
-- thermal power (equal value), combustion CO2 factor, grid or heat factor, each with its year,
-- scope and the source and quality the factor set gives it.
--
-- Reads:  records_computed (30_emissions.sql), region_closure (40_regions.sql),
--         energy_catalog, grid_factor, heat_factor (factor set).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT DISTINCT
    r.energy_code, r.tce_per_base_unit, r.base_unit, r.tce_factor_year, r.co2_factor,
    r.indirect_factor, r.indirect_factor_scope, r.indirect_factor_area, r.factor_year,
    e.tce_source_id, e.tce_quality,
    -- a record of a sector with its own factor of the fuel used that row's
    -- source (sector_combustion_co2)
    CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_source_id ELSE e.co2_source_id END
        AS co2_source_id,
    CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_quality ELSE e.co2_quality END
        AS co2_quality,
    coalesce(g.source_id, h.source_id) AS indirect_source_id,
    coalesce(g.quality, h.quality) AS indirect_quality,
    r.tce_equal_per_base_unit
-- the small side first: the hash join is built from it
FROM region_closure a
JOIN records_computed r ON r.region_code = a.region_code
JOIN energy_catalog e ON e.energy_code = r.energy_code
-- the grid factor row a record used is the one of its scope, area and data year
LEFT JOIN grid_factor g
    ON g.scope = r.indirect_factor_scope AND g.area_code = r.indirect_factor_area
    AND g.data_year = r.factor_year
LEFT JOIN heat_factor h ON r.indirect_factor_scope = 'heat' AND h.data_year = r.factor_year
WHERE a.ancestor_code = $1 AND r.year = $2
-- a total order: a fuel burnt by a sector with its own factor and by
-- others has two rows, the lower factor first
ORDER BY 1, 5, 6, 7, 8, 9, 4, 2, 3, 16, 10, 11, 12, 13, 14, 15
