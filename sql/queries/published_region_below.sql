-- published_region_below.sql — explain from the published run: region $1
-- and every region below it that has a row of region_indicators in the year
-- $2 (every region with records has one, and so has each of its ancestors).
WITH RECURSIVE below(region_code, depth) AS (
    SELECT region_code, 0 FROM region_indicators WHERE region_code = $1 AND year = $2
    UNION ALL
    SELECT r.region_code, b.depth + 1
    FROM region_indicators r
    JOIN below b ON r.parent_code = b.region_code
    WHERE r.year = $2 AND b.depth < 12
)
SELECT DISTINCT region_code FROM below
