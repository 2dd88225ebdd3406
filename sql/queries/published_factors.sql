-- published_factors.sql — explain from the published run: the factor rows a
-- region's records used in the year, the rows and order of
-- explain_factors.sql. A record's factors follow from its province, year,
-- energy and sector: energy_factors (15_factors.sql, run on the factor set
-- the manifest records) and the sector's own CO2 factor of the fuel by the
-- rule of row_amounts (21_amounts.sql).
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
),
f AS (
    SELECT f.energy_code, f.tce_per_base_unit, f.base_unit, f.tce_factor_year,
        CASE WHEN coalesce(starts_with(CASE WHEN substr(r.sector_code, 1, 1) BETWEEN 'A' AND 'Z' THEN substr(r.sector_code, 2)
                                            ELSE r.sector_code END, f.co2_sector_prefix), false)
             THEN f.sector_co2_factor ELSE f.co2_factor END AS co2_factor,
        f.indirect_factor, f.indirect_factor_scope, f.indirect_factor_area, f.factor_year, f.tce_equal_per_base_unit
    FROM r
    JOIN energy_factors f
        ON f.province_prefix = substr(r.region_code, 1, 2) AND f.year = $1 AND f.energy_code = r.energy_code
    )
SELECT DISTINCT
    f.energy_code, f.tce_per_base_unit, f.base_unit, f.tce_factor_year, f.co2_factor,
    f.indirect_factor, f.indirect_factor_scope, f.indirect_factor_area, f.factor_year,
    e.tce_source_id, e.tce_quality,
    CASE WHEN f.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_source_id ELSE e.co2_source_id END
        AS co2_source_id,
    CASE WHEN f.co2_factor = e.sector_co2_t_per_base_unit THEN e.sector_co2_quality ELSE e.co2_quality END
        AS co2_quality,
    coalesce(g.source_id, h.source_id) AS indirect_source_id,
    coalesce(g.quality, h.quality) AS indirect_quality,
    f.tce_equal_per_base_unit
FROM f
JOIN energy_catalog e ON e.energy_code = f.energy_code
LEFT JOIN grid_factor g
    ON g.scope = f.indirect_factor_scope AND g.area_code = f.indirect_factor_area
    AND g.data_year = f.factor_year
LEFT JOIN heat_factor h ON f.indirect_factor_scope = 'heat' AND h.data_year = f.factor_year
ORDER BY 1, 5, 6, 7, 8, 9, 4, 2, 3, 16, 10, 11, 12, 13, 14, 15
