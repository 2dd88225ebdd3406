-- published_region_years.sql — explain from the published run: a region's
-- row of region_indicators in the year explained ($2) and the year it is
-- compared with ($3), with the intensities as the change rates compare them
-- (the names explain_region_years.sql gives them).
SELECT *,
    energy_intensity_rounded AS ei_r,
    energy_intensity_controlled_rounded AS eic_r,
    co2_intensity_rounded AS ci_r
FROM region_indicators
WHERE region_code = $1 AND year IN ($2, $3)
ORDER BY year DESC
