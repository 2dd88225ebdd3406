-- unjudged_targets.sql — intensity targets that cannot be judged in some of
-- their years: the region has a row in region_indicators for the year (its
-- energy, CO2 or GDP) but no GDP at constant prices, so no intensity, and
-- target_progress has no row for that year; or its base year has none, and
-- no year is judged. The cause is a missing gdp row,
-- or a gdp_index missing in the chain from the run's base year (region_gdp
-- shows the chain; README "How numbers are made", gdp_const). `run` lists
-- each such target under "to look at" and logs it at warn.
--
-- Reads:  targets_ok (20_validate.sql), region_indicators (50_indicators.sql).
-- Parameters: none.

WITH t AS (
    SELECT DISTINCT region_code, plan, indicator, base_year, target_year
    FROM targets_ok
    WHERE indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction')
)
SELECT * FROM (
    SELECT t.region_code, min(i.region_name) AS region_name, t.plan, t.indicator,
        t.base_year, t.target_year,
        -- the years without GDP at constant prices; of them, those without a
        -- gdp row, and those with one (the index chain is broken there)
        coalesce(string_agg(CAST(i.year AS VARCHAR), ', ' ORDER BY i.year)
            FILTER (WHERE i.gdp_const IS NULL), '') AS years_without,
        coalesce(string_agg(CAST(i.year AS VARCHAR), ', ' ORDER BY i.year)
            FILTER (WHERE i.gdp_const IS NULL AND i.gdp IS NULL), '') AS years_no_row,
        coalesce(string_agg(CAST(i.year AS VARCHAR), ', ' ORDER BY i.year)
            FILTER (WHERE i.gdp_const IS NULL AND i.gdp IS NOT NULL), '') AS years_broken,
        -- without the base year's intensity no year is judged (the base year
        -- without GDP, or without any row at all)
        NOT coalesce(bool_or(i.year = t.base_year AND i.gdp_const IS NOT NULL), false) AS base_year_without,
        coalesce(bool_or(i.year = t.base_year), false) AS base_year_has_row
    FROM t
    JOIN region_indicators i
        ON i.region_code = t.region_code AND i.year BETWEEN t.base_year AND t.target_year
    GROUP BY t.region_code, t.plan, t.indicator, t.base_year, t.target_year
) u
WHERE years_without <> '' OR base_year_without
ORDER BY region_code, plan, indicator, base_year
