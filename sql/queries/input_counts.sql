-- input_counts.sql — rows read, accepted and rejected per input and file:
-- the counts the manifest records (input rows = accepted + rejected).
--
-- Reads:  input_counts (20_validate.sql).
-- Parameters: none.

SELECT input, source_file, rows_read, rows_accepted, rows_rejected
FROM input_counts
