-- bulletin_meta.sql — the run facts on the bulletin's first page: rows read,
-- accepted and rejected per input (inputs with rows only), and the factor
-- set. Reads the same names in a run's session and in a published run
-- registered by `carbonstat report`.
--
-- Reads:  input_counts (27_key_rules.sql), region_indicators.
-- Parameters: none.

SELECT i.input, CAST(sum(i.rows_read) AS BIGINT) AS rows_read, CAST(sum(i.rows_accepted) AS BIGINT) AS rows_accepted,
    CAST(sum(i.rows_rejected) AS BIGINT) AS rows_rejected, f.factor_set
FROM input_counts i
CROSS JOIN (SELECT min(factor_set) AS factor_set FROM region_indicators) f
GROUP BY i.input, f.factor_set
HAVING sum(i.rows_read) > 0
ORDER BY i.input
