-- explain_gdp_chain.sql — the region's GDP, real index and GDP at base-year
-- prices, year by year: the chain an intensity's denominator comes from.
--
-- Reads:  gdp_ok (20_validate.sql), gdp_const (50_indicators.sql).
-- Parameters: $1 region_code (text).

SELECT g.year, g.gdp, g.gdp_index, c.gdp_const
FROM gdp_ok g
LEFT JOIN gdp_const c ON c.region_code = g.region_code AND c.year = g.year
WHERE g.region_code = $1
ORDER BY g.year
