-- explain_member_factors.sql — the factor rows the records of one enterprise,
-- or of the members of one group, used in a year (the columns of
-- explain_factors.sql).
--
-- Reads:  records_computed (30_emissions.sql), group_members, enterprise_base
--         (47_groups.sql), energy_catalog, grid_factor, heat_factor (factor set).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

WITH m AS (
    SELECT DISTINCT enterprise_id FROM group_members WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_base WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
)
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
FROM m
JOIN records_computed r ON r.enterprise_id = m.enterprise_id
JOIN energy_catalog e ON e.energy_code = r.energy_code
LEFT JOIN grid_factor g
    ON g.scope = r.indirect_factor_scope AND g.area_code = r.indirect_factor_area
    AND g.data_year = r.factor_year
LEFT JOIN heat_factor h ON r.indirect_factor_scope = 'heat' AND h.data_year = r.factor_year
WHERE r.year = $3 AND r.input = 'energy'
-- a total order: a fuel burnt by a sector with its own factor and by
-- others has two rows, the lower factor first
ORDER BY 1, 5, 6, 7, 8, 9, 4, 2, 3, 16, 10, 11, 12, 13, 14, 15
