-- explain_region_years.sql — the region's row of region_indicators for the
-- year explained and for the year its change rate compares with (the previous
-- year or the base year), with the intensities as the change rates use them
-- (ei_r, eic_r, ci_r: rounded to 4 decimals when nbs_rounding is on, as
-- 50_indicators.sql defines), so explain shows that rounding and never
-- re-derives it.
--
-- Reads:  region_indicators, region_intensity (50_indicators.sql).
-- Parameters: $1 region_code (text), $2 the year explained (int),
--             $3 the year compared with (int).

SELECT ri.*, i.ei_r, i.eic_r, i.ci_r
FROM region_indicators ri
JOIN region_intensity i ON i.region_code = ri.region_code AND i.year = ri.year
WHERE ri.region_code = $1 AND ri.year IN ($2, $3)
ORDER BY ri.year DESC
