-- bulletin_rejects.sql — rejected rows per input and rule, for the bulletin.
--
-- Reads:  rejects (27_key_rules.sql, or the published dataset).
-- Parameters: none.

SELECT input, rule_id, CAST(count(*) AS BIGINT) AS rows_rejected
FROM rejects
GROUP BY input, rule_id
ORDER BY input, rule_id
