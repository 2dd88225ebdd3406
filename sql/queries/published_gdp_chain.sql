-- published_gdp_chain.sql — explain from the published run: a region's GDP
-- chain (region_gdp, 55_explain.sql), as explain_gdp_chain.sql reads it from
-- the run.
SELECT year, gdp, gdp_index, gdp_const
FROM region_gdp
WHERE region_code = $1
ORDER BY year
