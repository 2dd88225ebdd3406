-- first_rejects.sql — the first twenty rejected rows (by input, file and
-- line), which the quality gate's message lists when a run fails because too
-- many rows were rejected.
--
-- Reads:  rejects (20_validate.sql).
-- Parameters: none.

SELECT source_file, source_line, rule_id, column_name, message
FROM rejects
ORDER BY input, source_file, source_line
LIMIT 20
