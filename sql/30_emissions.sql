-- 30_emissions.sql — standard coal and CO2 per record and per enterprise,
-- year and energy, with which factor rows made them.
--
-- The amounts are computed by row_amounts (21_amounts.sql) with the factors
-- 15_factors.sql chose, and summed per year key in the same aggregation that
-- finds the key conflicts (record_key_sums). Here they are joined to the
-- category, the high-energy flag and the factor years, which depend on the
-- province, year, energy and sector only.
--
-- Reads:  row_amounts, record_key_sums, record_key_rows, record_key_rejects
--         (21_amounts.sql, 27_key_rules.sql), energy_factors (15_factors.sql),
--         sector_division (21_amounts.sql), run_params (electricity_valuation).
-- Writes: record_amounts, records_computed, record_totals, record_annual,
--         enterprise_annual (views).

-- Per accepted record: the amounts and the factors used (a view, computed as
-- it is read: explain --recompute and the audit read it).
-- Every join of the records here and in records_computed below names the
-- small table first: DataFusion builds a join's hash table from its first
-- (left) side, and explain --recompute runs its queries in the order they
-- are written (join reordering off, lib/src/pipeline/prepare.rs): with the
-- records first, a year's records would be held in memory at once (at 10^8
-- input rows 1.5 GB, over the 1536MiB limit; docs/benchmarks.md, session
-- 20). The rows are the same in either order.
CREATE OR REPLACE VIEW record_amounts AS
SELECT
    r.input, r.enterprise_id, r.enterprise_name, r.region_code, r.sector_code, r.year, r.month,
    r.energy_code, r.category, r.fossil, r.use, r.flow, r.sign, r.quantity, r.unit, r.base_unit,
    r.quantity_base, r.tce, r.tce_equal, r.co2_direct_t, r.co2_indirect_t,
    r.tce_per_base_unit, r.tce_equal_per_base_unit, r.tce_factor_year, r.co2_factor, r.indirect_factor, r.indirect_factor_scope,
    r.indirect_factor_area, r.factor_year, r.factor_set, r.source_file, r.source_line
FROM record_key_rejects k
RIGHT JOIN row_amounts r
    ON k.input = r.input AND k.source_file = r.source_file AND k.source_line = r.source_line
-- (not k.source_line IS NULL: DataFusion 55 infers r.source_line IS NULL
-- from it through the join's key and filters the records by that, so the
-- view returned no row at all, as in apache/datafusion#1321; key_reject is
-- never NULL in the table and is no join key)
WHERE k.key_reject IS NULL;

-- Per record, with the high-energy flag of its sector (a view: computed as it
-- is read; `record_totals` below keeps what the reports need).
CREATE OR REPLACE VIEW records_computed AS
SELECT
    a.input, a.enterprise_id, a.enterprise_name, a.region_code, a.sector_code,
    sd.high_energy,
    a.year, a.month, a.energy_code, a.category, a.fossil, a.use, a.flow, a.sign, a.quantity, a.unit,
    a.base_unit, a.quantity_base, a.tce, a.tce_equal,
    -- the standard coal at the valuation the regions are judged on
    -- (electricity_valuation): what explain's contributions add up
    CASE p.electricity_valuation WHEN 'equal' THEN a.tce_equal ELSE a.tce END AS tce_judged,
    a.co2_direct_t, a.co2_indirect_t, a.tce_per_base_unit,
    a.tce_equal_per_base_unit, a.tce_factor_year, a.co2_factor, a.indirect_factor, a.indirect_factor_scope, a.indirect_factor_area,
    a.factor_year, a.factor_set, a.source_file, a.source_line
FROM run_params p
CROSS JOIN sector_division sd
JOIN record_amounts a ON a.sector_code = sd.sector_code;

-- Per input, enterprise (none for sector rows), region, sector, year, energy,
-- use and flow: the records summed over the months (a twelfth of the rows
-- for monthly data). Consumption and output stay apart, so a plant's coal in
-- and coke out are both visible. The sums of a key without a conflict come
-- from record_key_sums; a key with one is summed again over the rows the key
-- checks keep.
CREATE OR REPLACE VIEW record_totals AS
WITH t AS (
    SELECT input, enterprise_id, enterprise_name, region_code, sector_code, year, energy_code, use, flow,
        quantity_base, tce, tce_equal, co2_direct_t, co2_indirect_t, records, months
    FROM record_key_sums
    WHERE NOT key_conflict
    UNION ALL
    SELECT
        input, enterprise_id, min(enterprise_name), region_code, sector_code, year, energy_code, use, flow,
        sum(quantity_base), sum(tce), sum(tce_equal), sum(co2_direct_t), sum(co2_indirect_t), count(*), count(month)
    FROM record_key_rows
    WHERE key_reject IS NULL
    GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow
)
SELECT
    t.input, t.enterprise_id, t.enterprise_name, t.region_code, t.sector_code, t.year, t.energy_code,
    t.use, t.flow, f.category, f.tce_method, sd.high_energy, f.base_unit,
    t.quantity_base, t.tce, t.tce_equal, t.co2_direct_t, t.co2_indirect_t, t.records, t.months,
    f.tce_factor_year, f.factor_year, f.indirect_factor_scope, f.factor_set
FROM energy_factors f
JOIN t ON f.province_prefix = substr(t.region_code, 1, 2) AND f.year = t.year AND f.energy_code = t.energy_code
JOIN sector_division sd ON sd.sector_code = t.sector_code;

-- Per input, enterprise (none for sector rows), region, sector, year,
-- energy, use and flow, as published: enterprise_annual below, and
-- sector_annual (55_explain.sql) for the sector_energy records.
CREATE OR REPLACE VIEW record_annual AS
SELECT
    input, enterprise_id, enterprise_name, region_code, sector_code, year, energy_code, use, flow, base_unit,
    CAST(quantity_base AS DOUBLE) AS quantity_base,
    CAST(tce AS DOUBLE) AS tce,
    CAST(tce_equal AS DOUBLE) AS tce_equal,
    CAST(co2_direct_t AS DOUBLE) AS co2_direct_t,
    CAST(co2_indirect_t AS DOUBLE) AS co2_indirect_t,
    CAST(co2_direct_t + co2_indirect_t AS DOUBLE) AS co2_t,
    CAST(records AS INT) AS records,
    CAST(months AS INT) AS months,
    tce_factor_year, factor_year, indirect_factor_scope, factor_set
FROM record_totals;

-- Per enterprise, year, energy, use and flow.
CREATE OR REPLACE VIEW enterprise_annual AS
SELECT * EXCLUDE (input) FROM record_annual WHERE input = 'energy';
