-- published_budget_rows.sql — explain from the published run: the
-- production ($3 = 'co2_process_t') or sinks ($3 = 'sink_t') rows of a
-- region and the regions below it in a year (region_budget_rows,
-- 55_explain.sql), the columns and order of explain_process_rows.sql and
-- explain_sink_rows.sql.
SELECT kind, key, name, source_file, source_line, quantity, unit, factor, factor_unit, amount_t,
    source_id, quality
FROM region_budget_rows
WHERE region_code = $1 AND year = $2 AND kind = $3
ORDER BY amount_t DESC, source_file, source_line
