-- region_parents.sql — every accepted region and its parent: the run refuses
-- a regions table whose parent links form a cycle before the roll-up
-- (40_regions.sql) would count a region twice.
--
-- Reads:  regions_checked (20_validate.sql): the accepted rows (regions_ok)
--         with the file and line they came from, for the message.
-- Parameters: none.

SELECT region_code, parent_code, source_file, CAST(source_line AS BIGINT) AS source_line
FROM regions_checked
WHERE reject IS NULL
