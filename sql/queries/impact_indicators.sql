-- impact_indicators.sql — the indicators `carbonstat factors diff --impact`
-- compares between two factor sets, per region and year: every numeric
-- column of the published region_indicators dataset
-- (carbonstat::pipeline::impact_indicators reads them by name).
--
-- Reads:  region_indicators (50_indicators.sql).
-- Parameters: none.

SELECT *
FROM region_indicators
ORDER BY region_code, year
