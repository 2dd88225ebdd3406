-- rejects_by_rule.sql — how many rows each rule rejected, per input: the
-- "rejects by rule" table of the run summary.
--
-- Reads:  rejects (20_validate.sql).
-- Parameters: none.

SELECT input, rule_id, count(*) AS n
FROM rejects
GROUP BY input, rule_id
ORDER BY input, rule_id
