-- published_member_factors.sql — explain from the published run: the factor
-- rows the energy records of an enterprise or a group's members ($1, $2)
-- used in the year $3, the rows of explain_member_factors.sql. A record's
-- factors follow from its province, year, energy and sector
-- (energy_factors of 15_factors.sql, computed here from the factor set the
-- manifest records; the sector's own CO2 factor of the fuel by the rule of
-- row_amounts, 21_amounts.sql), so they are looked up for each row of
-- enterprise_annual.
WITH m AS (
    SELECT enterprise_id FROM group_member_years WHERE $1 = 'group' AND group_id = $2 AND year = $3
    UNION
    SELECT enterprise_id FROM enterprise_totals WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
),
r AS (
    SELECT f.energy_code, f.tce_per_base_unit, f.base_unit, f.tce_factor_year,
        CASE WHEN coalesce(starts_with(CASE WHEN substr(a.sector_code, 1, 1) BETWEEN 'A' AND 'Z' THEN substr(a.sector_code, 2)
                                            ELSE a.sector_code END, f.co2_sector_prefix), false)
             THEN f.sector_co2_factor ELSE f.co2_factor END AS co2_factor,
        f.indirect_factor, f.indirect_factor_scope, f.indirect_factor_area, f.factor_year, f.tce_equal_per_base_unit
    FROM enterprise_annual a
    JOIN m ON m.enterprise_id = a.enterprise_id
    JOIN energy_factors f
        ON f.province_prefix = substr(a.region_code, 1, 2) AND f.year = a.year AND f.energy_code = a.energy_code
    WHERE a.year = $3
)
SELECT DISTINCT
    r.energy_code, r.tce_per_base_unit, r.base_unit, r.tce_factor_year, r.co2_factor,
    r.indirect_factor, r.indirect_factor_scope, r.indirect_factor_area, r.factor_year,
    e.tce_source_id, e.tce_quality,
    CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_source_id ELSE e.co2_source_id END
        AS co2_source_id,
    CASE WHEN r.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_quality ELSE e.co2_quality END
        AS co2_quality,
    coalesce(g.source_id, h.source_id) AS indirect_source_id,
    coalesce(g.quality, h.quality) AS indirect_quality,
    r.tce_equal_per_base_unit
FROM r
JOIN energy_catalog e ON e.energy_code = r.energy_code
LEFT JOIN grid_factor g
    ON g.scope = r.indirect_factor_scope AND g.area_code = r.indirect_factor_area
    AND g.data_year = r.factor_year
LEFT JOIN heat_factor h ON r.indirect_factor_scope = 'heat' AND h.data_year = r.factor_year
ORDER BY 1, 5, 6, 7, 8, 9, 4, 2, 3, 16, 10, 11, 12, 13, 14, 15
