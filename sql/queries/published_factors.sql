-- published_factors.sql — explain from the published run: the factor rows a
-- region's records used in a year (region_factors, 55_explain.sql), the
-- columns and order of explain_factors.sql.
SELECT energy_code, tce_per_base_unit, base_unit, tce_factor_year, co2_factor,
    indirect_factor, indirect_factor_scope, indirect_factor_area, factor_year,
    tce_source_id, tce_quality, co2_source_id, co2_quality, indirect_source_id, indirect_quality,
    tce_equal_per_base_unit
FROM region_factors
WHERE region_code = $1 AND year = $2
ORDER BY rank
