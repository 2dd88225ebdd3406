-- base_year_gdp.sql — the accepted gdp rows in the run's base_year, and the
-- years the gdp input has: GDP at constant prices chains from the base
-- year's GDP, so a base_year the gdp input does not have leaves every
-- gdp_const, intensity and change rate empty. `run` refuses such a config
-- (exit 2) when the gdp input has rows at all.
--
-- Reads:  gdp_ok (20_validate.sql), run_params.
-- Parameters: none.

SELECT p.base_year,
    count(g.year) AS gdp_rows,
    count(g.year) FILTER (WHERE g.year = p.base_year) AS base_year_rows,
    min(g.year) AS first_year,
    max(g.year) AS last_year
FROM run_params p
LEFT JOIN gdp_ok g ON true
GROUP BY p.base_year
