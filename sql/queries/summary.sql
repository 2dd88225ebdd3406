-- summary.sql — the terminal summary of `carbonstat run`: per region (country
-- first, then province, city, county, town) and year, energy and CO2, the
-- energy intensity on the configured basis (energy_intensity_basis: gross or
-- controlled) and the CO2 intensity with their changes, the warning level
-- of the two intensity targets, net CO2 (energy + process − sinks) and the
-- CO2 peak so far (its year, and whether three years below it followed).
--
-- Reads:  region_indicators (50_indicators.sql), target_progress
--         (60_targets.sql), run_params.
-- Parameters: none.

WITH w AS (
    SELECT region_code, year,
        max(CASE WHEN indicator = 'energy_intensity_reduction' THEN warning_level END) AS energy_warning,
        max(CASE WHEN indicator = 'co2_intensity_reduction' THEN warning_level END) AS co2_warning
    FROM target_progress GROUP BY region_code, year
)
SELECT ri.region_code, ri.region_name, ri.level, ri.year, ri.energy_tce, ri.co2_t,
    CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity ELSE ri.energy_intensity_controlled END,
    CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_yoy ELSE ri.energy_intensity_controlled_change_yoy END,
    CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_base ELSE ri.energy_intensity_controlled_change_base END,
    ri.co2_intensity, ri.co2_intensity_change_yoy, ri.co2_intensity_change_base,
    CAST(w.energy_warning AS INT), CAST(w.co2_warning AS INT),
    ri.co2_net_t, ri.co2_peak_year, ri.co2_years_below_peak
FROM region_indicators ri
CROSS JOIN run_params p
LEFT JOIN w ON w.region_code = ri.region_code AND w.year = ri.year
ORDER BY CASE ri.level WHEN 'country' THEN 0 WHEN 'province' THEN 1 WHEN 'city' THEN 2
                       WHEN 'county' THEN 3 ELSE 4 END, ri.region_code, ri.year
