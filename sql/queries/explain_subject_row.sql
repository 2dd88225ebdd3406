-- explain_subject_row.sql — the published row an enterprise or group
-- explanation starts from: enterprise_totals or group_indicators (both
-- 47_groups.sql) of one id and year, its numeric columns as DOUBLE under
-- their names and its name as subject_name. One query for both: the rows of
-- the other kind are filtered out by $1.
--
-- Reads:  enterprise_totals, group_indicators (47_groups.sql; or their
--         published files: explain reads this query from both).
-- Parameters: $1 kind ('enterprise' or 'group'), $2 its id (text), $3 year (int).

SELECT coalesce(enterprise_name, '') AS subject_name,
    energy_tce_equivalent, energy_tce, CAST(NULL AS DOUBLE) AS energy_consumed_tce,
    co2_direct_t, co2_indirect_t, co2_t, co2_process_t,
    CAST(NULL AS DOUBLE) AS co2_electricity_t, CAST(NULL AS DOUBLE) AS co2_heat_t, CAST(NULL AS DOUBLE) AS co2_per_tce,
    CAST(NULL AS DOUBLE) AS electricity_in_kwh, CAST(NULL AS DOUBLE) AS electricity_out_kwh,
    CAST(NULL AS DOUBLE) AS non_fossil_generation_kwh, CAST(NULL AS DOUBLE) AS electricity_use_kwh,
    CAST(NULL AS DOUBLE) AS green_power_kwh, CAST(NULL AS DOUBLE) AS green_power_used_kwh,
    CAST(NULL AS DOUBLE) AS clean_energy_tce, CAST(NULL AS DOUBLE) AS clean_energy_share,
    CAST(NULL AS DOUBLE) AS green_power_share, CAST(NULL AS DOUBLE) AS grid_factor,
    CAST(NULL AS DOUBLE) AS grid_factor_year, CAST(NULL AS DOUBLE) AS co2_per_tce_limit,
    CAST(NULL AS DOUBLE) AS clean_energy_share_min, CAST(NULL AS VARCHAR) AS grid_factor_scope,
    CAST(NULL AS VARCHAR) AS grid_factor_source_id, CAST(NULL AS VARCHAR) AS grid_factor_quality
FROM enterprise_totals
WHERE $1 = 'enterprise' AND enterprise_id = $2 AND year = $3
UNION ALL
SELECT g.group_name,
    g.energy_tce_equivalent, g.energy_tce, g.energy_consumed_tce, g.co2_direct_t, CAST(NULL AS DOUBLE), g.co2_t,
    g.co2_process_t,
    g.co2_electricity_t, g.co2_heat_t, g.co2_per_tce,
    g.electricity_in_kwh, g.electricity_out_kwh, g.non_fossil_generation_kwh, g.electricity_use_kwh,
    g.green_power_kwh, g.green_power_used_kwh, g.clean_energy_tce, g.clean_energy_share, g.green_power_share,
    g.grid_factor, CAST(g.grid_factor_year AS DOUBLE), g.co2_per_tce_limit, g.clean_energy_share_min,
    g.grid_factor_scope, g.grid_factor_source_id, g.grid_factor_quality
FROM group_indicators g
WHERE $1 = 'group' AND g.group_id = $2 AND g.year = $3
