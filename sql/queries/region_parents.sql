-- region_parents.sql — every accepted region and its parent: the run refuses
-- a regions table whose parent links form a cycle before the roll-up
-- (40_regions.sql) would count a region twice.
--
-- Reads:  regions_ok (20_validate.sql).
-- Parameters: none.

SELECT region_code, parent_code
FROM regions_ok
