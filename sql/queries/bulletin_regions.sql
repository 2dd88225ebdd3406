-- bulletin_regions.sql — every region and year of region_indicators with what
-- the bulletin's pages show (the columns the headline, the charts and the
-- tiles read), in the order of the region tree.
--
-- Reads:  region_indicators (50_indicators.sql, or the published dataset).
-- Parameters: none.

SELECT region_code, region_name, level, coalesce(parent_code, '') AS parent_code, CAST(year AS INT) AS year,
    energy_tce, energy_tce_equivalent, co2_t, co2_process_t, sink_t, co2_net_t,
    energy_intensity, energy_intensity_controlled, co2_intensity,
    energy_intensity_change_yoy, energy_intensity_controlled_change_yoy, co2_intensity_change_yoy,
    energy_intensity_change_base, energy_intensity_controlled_change_base, co2_intensity_change_base,
    coal_share, non_fossil_share, coal_consumed_tce, oil_tce, gas_tce, non_fossil_tce, energy_mix_tce,
    co2_peak_year, gdp_const, factor_set, electricity_valuation
FROM region_indicators
ORDER BY region_code, year
