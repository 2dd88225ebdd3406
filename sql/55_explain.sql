-- 55_explain.sql — what `carbonstat explain` shows besides a row's own
-- numbers, published with the run so that explain answers from what was
-- published instead of computing the run again (`explain --recompute`
-- does, and sums the single records).
--
-- explain sums a region's records (by energy, division and reporter, and
-- their factor rows) from the rows of the region and the regions below it
-- in enterprise_annual and sector_annual: each holds sums of 6-decimal
-- fixed-point amounts, which explain casts back to DECIMAL(38, 6), so its
-- sums equal the sums over the single records bit for bit. Published here:
--   sector_annual       the sector_energy records (a sector's energy without
--                       an enterprise) per region, sector, year, energy, use
--                       and flow: enterprise_annual's counterpart
--   region_budget_rows  the production and sinks rows behind a region's
--                       co2_process_t and sink_t (the region and every region
--                       below it), with file and line
--   region_gdp          GDP, its index and GDP at constant prices
--   group_members       the members of each group in each year
--   green_power         the green-power rows as input
--
-- Reads:  record_annual (30_emissions.sql), region_closure (40_regions.sql),
--         process_amounts, sink_amounts (45_budget.sql), gdp_ok
--         (20_validate.sql), gdp_const (50_indicators.sql), group_members
--         (47_groups.sql), green_power_ok (23_group_inputs.sql).
-- Writes: sector_annual, region_budget_rows, region_gdp, group_member_years,
--         green_power_rows (views).

-- Per region, sector, year, energy, use and flow: the sector_energy records
-- summed over the months, as enterprise_annual (30_emissions.sql) has the
-- enterprises' records.
CREATE OR REPLACE VIEW sector_annual AS
SELECT * EXCLUDE (input, enterprise_id, enterprise_name)
FROM record_annual
WHERE input <> 'energy';

-- The production and sinks rows of a region and the regions below it, as
-- explain lists them under co2_process_t, sink_t and co2_net_t.
CREATE OR REPLACE VIEW region_budget_rows AS
SELECT a.ancestor_code AS region_code, p.year, 'co2_process_t' AS kind, p.product_code AS key,
    concat(p.product_name, ' (', p.factor_method, ')',
        CASE WHEN p.enterprise_id IS NOT NULL THEN concat(' ', p.enterprise_id) ELSE '' END) AS name,
    p.source_file, p.source_line, p.quantity, p.unit, p.factor, 't CO2 per t' AS factor_unit,
    CAST(p.co2_process_t AS DOUBLE) AS amount_t,
    CASE WHEN p.factor_method = 'composition' THEN 'IPCC 2006 vol. 3 eq. 2.2 (cao, mgo of the row)' ELSE p.source_id END
        AS source_id,
    CASE WHEN p.factor_method = 'composition' THEN 'input' ELSE p.quality END AS quality
FROM process_amounts p
JOIN region_closure a ON a.region_code = p.region_code
UNION ALL
SELECT a.ancestor_code, s.year, 'sink_t', s.ecosystem, s.method, s.source_file, s.source_line,
    s.quantity, s.unit, s.factor,
    CASE s.method WHEN 'stock_change' THEN 't CO2 per m3' ELSE 't CO2 per t CO2' END,
    CAST(s.sink_t AS DOUBLE), s.source_id, s.quality
FROM sink_amounts s
JOIN region_closure a ON a.region_code = s.region_code;

-- A region's GDP, its index and GDP at base-year prices, every year it has
-- GDP: the chain explain shows.
CREATE OR REPLACE VIEW region_gdp AS
SELECT g.region_code, g.year, g.gdp, g.gdp_index, c.gdp_const
FROM gdp_ok g
LEFT JOIN gdp_const c ON c.region_code = g.region_code AND c.year = g.year;

-- The members of each group in each year of the data (the groups input
-- with its from and to years): explain lists every member, also one
-- without records.
CREATE OR REPLACE VIEW group_member_years AS
SELECT DISTINCT group_id, enterprise_id, year
FROM group_members;

-- The accepted green-power rows as input.
CREATE OR REPLACE VIEW green_power_rows AS
SELECT enterprise_id, year, kind, quantity, unit, source_file, source_line
FROM green_power_ok;
