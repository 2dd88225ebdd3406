-- impact_indicators.sql — the indicators `carbonstat factors diff --impact`
-- compares between two factor sets, per region and year. The columns after
-- year are carbonstat::pipeline::IMPACT_INDICATORS, in that order (checked
-- when the rows are read).
--
-- Reads:  region_indicators (50_indicators.sql).
-- Parameters: none.

SELECT region_code, region_name, year,
    energy_tce, energy_tce_controlled, co2_t,
    energy_intensity, energy_intensity_controlled, co2_intensity,
    coal_share, non_fossil_share
FROM region_indicators
ORDER BY region_code, year
