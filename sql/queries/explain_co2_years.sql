-- explain_co2_years.sql — a region's energy CO2 in every year up to one: the
-- years its CO2 peak (co2_peak_t, co2_peak_year) is the highest of.
--
-- Reads:  region_indicators (50_indicators.sql).
-- Parameters: $1 region_code (text), $2 year (int).

SELECT year, co2_t
FROM region_indicators
WHERE region_code = $1 AND year <= $2
ORDER BY year
