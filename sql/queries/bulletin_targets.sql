-- bulletin_targets.sql — every row of target_progress, for the target tables,
-- the tiles (warning levels) and the plan's path in the intensity charts.
--
-- Reads:  target_progress (60_targets.sql, or the published dataset).
-- Parameters: none.

SELECT region_code, CAST(year AS INT) AS year, plan, indicator, base_year, target_year, target, achieved,
    required, warning_level, status, projected_achieved
FROM target_progress
ORDER BY region_code, plan, indicator, year
