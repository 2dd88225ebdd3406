-- 21_amounts.sql — standard coal and CO2 of every record the row rules
-- accept, and the one read of the records: the amounts summed per year key
-- (input, enterprise, region, sector, year, energy, use, flow) with what the
-- key rules need to know, and the rows read and rejected per file.
--
-- The records go through the row rules once (record_groups: one
-- aggregation over records_rows, 20_validate.sql; the rows of each file
-- are those its reader gave that read, raw_file_rows). Nothing is written
-- per record: the rejected rows and the rows of the few keys with a
-- conflict are read again by 27_key_rules.sql, and DataFusion skips those
-- reads when no row is rejected and no key conflicts.
--
-- Reads:  records_rows (20_validate.sql), raw_file_rows (the raw tables'),
--         amount_factors, energy_factors
--         (15_factors.sql), unit_catalog, high_energy_division (factor set).
-- Writes: record_groups, record_file_rows, sector_division (tables), records_amounted,
--         row_amounts, record_key_sums (views).

-- Per row: quantity in the base unit, signed standard coal (tce), direct and
-- indirect CO2, and the factors that made them; the amounts are NULL on a row
-- a row rule rejects (row_amounts below has the accepted rows only). The
-- rules (README "How numbers are made"):
--   quantity_base  = quantity × unit.to_base (a record given in tce is turned
--                    back into the base unit with the same coefficient)
--   sign           = +1 for consumption, −1 for output (energy supplied to others)
--   tce            = sign × quantity_base × coefficient, at equivalent value
--                    (当量值: electricity and primary electricity 0.1229 kgce/kWh)
--   tce_equal      = the same at equal value (等价值: electricity and primary
--                    electricity at the year's coal rate of thermal power)
--   co2_direct_t   = sign × quantity_base × fuel CO2 factor (a sector's own
--                    factor when the factor set has one for the fuel and the
--                    record's sector: power generation's coal), fossil fuel burnt as
--                    fuel only (0 for feedstock, for energy transformation — its
--                    input is not burnt and its products leave without a
--                    credit, their carbon counts where they burn — and for
--                    electricity, heat and non-fossil energy)
--   co2_indirect_t = sign × MWh × grid factor, or sign × GJ × heat factor
-- with the factors 15_factors.sql chose per province (the region code's
-- first two digits, as in region_lookup), year and energy: the
-- numbers from amount_factors, the columns that report them from
-- energy_factors, and the unit's to_base from unit_catalog (three lookups;
-- a query that reads only the amounts skips the energy_factors one).
-- Amounts are fixed-point DECIMAL(38, 6) (1 g of coal, 1 g of CO2): sums are
-- exact, so totals are identical whatever the parallelism or the order rows
-- arrive in. They become DOUBLE in the published datasets.
CREATE OR REPLACE VIEW records_amounted AS
WITH l AS (
    SELECT r.*,
        lookup('unit_catalog', r.unit) AS u,
        lookup('amount_factors', r.province_prefix, r.year, r.energy_code) AS a,
        lookup('energy_factors', r.province_prefix, r.year, r.energy_code) AS e
    FROM (
        SELECT *, substr(region_code, 1, 2) AS province_prefix
        FROM records_rows
    ) r
),
f AS (
    SELECT l.* EXCLUDE (u, a, e),
        CASE l.flow WHEN 'output' THEN -1 ELSE 1 END AS sign,
        get_field(e, 'category') AS category,
        get_field(e, 'fossil') AS fossil,
        get_field(e, 'base_unit') AS base_unit,
        get_field(e, 'factor_set') AS factor_set,
        get_field(e, 'tce_per_base_unit') AS tce_per_base_unit,
        get_field(e, 'tce_method') AS tce_method,
        get_field(e, 'tce_factor_year') AS tce_factor_year,
        -- whether the record burns a fuel in the sector that has its own
        -- factor of it (sector_combustion_co2: power generation's coal at its
        -- oxidation rate): its sector code, without its section letter,
        -- starts with the prefix; the nested CASE looks at the sector code of
        -- those fuels' rows only
        CASE WHEN get_field(a, 'co2_sector_prefix') IS NULL THEN false
             ELSE starts_with(CASE WHEN substr(sector_code, 1, 1) BETWEEN 'A' AND 'Z' THEN substr(sector_code, 2)
                                   ELSE sector_code END, get_field(a, 'co2_sector_prefix'))
        END AS in_co2_sector,
        get_field(e, 'indirect_factor') AS indirect_factor,
        get_field(e, 'indirect_factor_scope') AS indirect_factor_scope,
        get_field(e, 'indirect_factor_area') AS indirect_factor_area,
        get_field(e, 'factor_year') AS factor_year,
        get_field(u, 'dimension') = 'tce' AS unit_is_tce,
        l.quantity * get_field(u, 'to_base') AS q,
        a,
        e
    FROM l
),
-- (the arithmetic takes its factors from the narrow struct a: a CASE
-- evaluates a branch on the rows it selects, filtering every column the
-- branch reads)
b AS (
    SELECT f.*,
        CASE WHEN unit_is_tce THEN q / get_field(a, 'tce_per_base_unit') ELSE q END AS quantity_base_f,
        CASE WHEN unit_is_tce THEN q ELSE q * get_field(a, 'tce_per_base_unit') END AS tce_f,
        get_field(a, 'tce_equal_per_base_unit') AS tce_equal_per_base_unit,
        -- the factor the record's CO2 is made with, as reported and as
        -- multiplied: the fuel's, or the sector's own one
        CASE WHEN in_co2_sector THEN get_field(e, 'sector_co2_factor') ELSE get_field(e, 'co2_factor') END
            AS co2_factor,
        CASE WHEN in_co2_sector THEN get_field(a, 'sector_direct_factor') ELSE get_field(a, 'direct_factor') END
            AS direct_factor
    FROM f
)
-- (tce_equal compares the two coefficients of a, not e's copy of the first:
-- a query that reads only the amounts then skips the energy_factors lookup,
-- 2.4 CPU-s at 10^7 rows. The amounts of a rejected row are not computed: its
-- quantity may be no number at all.)
SELECT b.* EXCLUDE (q, quantity_base_f, tce_f, unit_is_tce, a, e, in_co2_sector, direct_factor),
    CASE WHEN row_reject IS NULL THEN CAST(quantity_base_f AS DECIMAL(38, 6)) END AS quantity_base,
    CASE WHEN row_reject IS NULL THEN CAST(sign * tce_f AS DECIMAL(38, 6)) END AS tce,
    CASE WHEN row_reject IS NULL THEN
        CAST(sign * CASE WHEN tce_equal_per_base_unit = get_field(a, 'tce_per_base_unit') THEN tce_f
                         ELSE quantity_base_f * tce_equal_per_base_unit END AS DECIMAL(38, 6)) END AS tce_equal,
    CASE WHEN row_reject IS NULL THEN
        CAST(sign * quantity_base_f * direct_factor * CASE use WHEN 'fuel' THEN 1.0 ELSE 0.0 END
            AS DECIMAL(38, 6)) END AS co2_direct_t,
    CASE WHEN row_reject IS NULL THEN
        CAST(sign * quantity_base_f / get_field(a, 'indirect_divisor') * get_field(a, 'indirect_factor')
            AS DECIMAL(38, 6)) END AS co2_indirect_t
FROM b;

-- Per row the row rules accept (explain, the audit and the key rules' second
-- read of a conflicting key read it).
CREATE OR REPLACE VIEW row_amounts AS
SELECT * FROM records_amounted WHERE row_reject IS NULL;

-- The one read of the records through the row rules, one aggregation:
--  * per year key (input, enterprise, region, sector, year, energy, use and
--    flow) of the rows the row rules accept (reject_file NULL): the amounts
--    summed over the months, and whether the key has a conflict:
--      two annual records               count(*) − count(month) > 1
--      annual and monthly records       count(month) > 0 AND count(*) > count(month)
--      a month given twice              sum(2^month) ≠ bit_or(2^month): the sum of
--                                       distinct powers of two equals their OR
--    A sector row has no enterprise and no month: NULLs group together.
--  * the rows a row rule rejects group apart, by their file (reject_file
--    set): record_row_rejects and input_counts (27_key_rules.sql) sum their
--    records per file. Those rows themselves are read again by
--    27_key_rules.sql, from the files that have one; on clean input
--    DataFusion skips that read.
-- Nothing is written per record: the records were once written as a table of
-- 17 columns and read back (docs/benchmarks.md). (GROUPING SETS would give
-- the per-file counts in the same read, but DataFusion 55 runs them on its
-- older hash aggregation: 3 × slower here, and at 10^8 rows it failed under
-- the memory limit instead of spilling.)
--
-- The aggregation is done in two phases, the partial one over chunks of
-- rows: each partition's records are aggregated 64 Ki rows at a time and
-- the chunk's groups handed on (engine::chunked_aggregate). A key's dozen
-- monthly records come one after another, so the final aggregation gets
-- about one state per key instead of one per record, and the partial one
-- holds a chunk's keys, not a second copy of all of them (DataFusion's own
-- partial aggregation keeps every key until its input ends: at 10^7 rows
-- the run then peaked at 610-711 MiB; session 10 skipped it instead and
-- handed the final aggregation every record as a one-row state, which it
-- summed and spilled on one thread; docs/benchmarks.md, session 15). No
-- key column may look sorted: `input` is a constant in each branch of
-- records_raw's UNION ALL, which DataFusion would take as sorted (and then
-- aggregate in its ordered mode, which is not chunked), so it is written as
-- a CASE whose two branches are the same column (with a plain ELSE the CASE
-- would be folded away).
--
-- The final aggregation is one, not one per partition (the records are
-- still read, checked and valued on every core): with a final aggregation
-- per partition, the rows are repartitioned by key, and DataFusion's
-- repartitioning keeps sending rows to a partition while another has none
-- queued, so while one final aggregation spilled (sorting its groups), the
-- rows queued for it spilled too, unaggregated: at 10^9 input rows 28.5 GB
-- after 14 minutes (the run was stopped before it filled the disk), at
-- 10^8 up to 10.1 GB. One final aggregation takes its rows through a
-- bounded queue instead: at 10^8 rows it spills 0.42 GB, and at 10^7 the
-- run peaks at 373-382 MiB instead of 470-524, in the same time
-- (docs/benchmarks.md, session 11).
-- Batches of 4096 rows instead of 8192 halve what is in flight.
-- The table is written a file per year (lib/src/engine/steps.rs,
-- CLUSTERED_TABLES): enterprise_annual is published a year at a time, and
-- each year's query then reads that year's files only. The rows are the same.
SET datafusion.optimizer.repartition_aggregations = false;
SET datafusion.execution.batch_size = 4096;

CREATE OR REPLACE TABLE record_groups AS
WITH r AS (
    SELECT CASE WHEN row_reject IS NULL THEN input WHEN row_reject IS NOT NULL THEN input END AS input,
        -- a rejected row is counted by its file alone (27_key_rules.sql reads
        -- nothing else of it here): its key is NULL, so a file's rejected
        -- rows are one group, not one per key
        CASE WHEN row_reject IS NULL THEN enterprise_id END AS enterprise_id,
        CASE WHEN row_reject IS NULL THEN enterprise_name END AS enterprise_name,
        CASE WHEN row_reject IS NULL THEN region_code END AS region_code,
        CASE WHEN row_reject IS NULL THEN sector_code END AS sector_code,
        CASE WHEN row_reject IS NULL THEN year END AS year,
        CASE WHEN row_reject IS NULL THEN energy_code END AS energy_code,
        CASE WHEN row_reject IS NULL THEN use END AS use,
        CASE WHEN row_reject IS NULL THEN flow END AS flow,
        -- a rejected row's month may be any number: it takes no part in 2^month
        CASE WHEN row_reject IS NULL THEN month END AS month,
        CASE WHEN row_reject IS NOT NULL THEN source_file END AS reject_file,
        quantity_base, tce, tce_equal, co2_direct_t, co2_indirect_t
    FROM records_amounted
)
SELECT input, enterprise_id, min(enterprise_name) AS enterprise_name, region_code, sector_code, year,
    energy_code, use, flow,
    sum(quantity_base) AS quantity_base,
    sum(tce) AS tce,
    sum(tce_equal) AS tce_equal,
    sum(co2_direct_t) AS co2_direct_t,
    sum(co2_indirect_t) AS co2_indirect_t,
    count(*) AS records,
    count(month) AS months,
    count(*) - count(month) > 1
        OR (count(month) > 0 AND count(*) > count(month))
        OR sum(1 << month) IS DISTINCT FROM bit_or(1 << month) AS key_conflict,
    reject_file
FROM r
GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow, reject_file;

RESET datafusion.optimizer.repartition_aggregations;
RESET datafusion.execution.batch_size;

-- The rows of every records file, counted on the raw rows (no rule, no
-- parsing beyond the file format's own): the manifest's rows_read.
-- raw_file_rows is `SELECT '<input>' AS input, source_file, count(*) AS
-- rows_read FROM raw_<input> GROUP BY source_file` for every input; a local
-- run answers it from the rows its readers counted in the one read above
-- (lib/src/input/register.rs) instead of reading every record again (a
-- second parse of every CSV record; docs/benchmarks.md, session 17).
CREATE OR REPLACE TABLE record_file_rows AS
SELECT input, source_file, rows_read
FROM raw_file_rows
WHERE input IN ('energy', 'sector_energy');

-- Per year key of the accepted rows: the sums, and whether the key has a
-- conflict. The sums are final for a key without a conflict (record_totals,
-- 30_emissions.sql, reads them); a key with one is summed again over the
-- rows the checks keep.
CREATE OR REPLACE VIEW record_key_sums AS
SELECT input, enterprise_id, enterprise_name, region_code, sector_code, year, energy_code, use, flow,
    quantity_base, tce, tce_equal, co2_direct_t, co2_indirect_t, records, months, key_conflict
FROM record_groups
WHERE reject_file IS NULL;

-- Every sector code of the accepted records with its GB/T 4754 division (the
-- two digits after an optional section letter: C2511 and 2511 are division
-- 25) and whether that division is one of the six energy-intensive
-- industries: the one definition record_totals and records_computed
-- (30_emissions.sql) join.
CREATE OR REPLACE TABLE sector_division AS
SELECT s.sector_code, s.division, h.division IS NOT NULL AS high_energy
FROM (
    SELECT DISTINCT sector_code, substr(regexp_replace(sector_code, '^[A-Z]', ''), 1, 2) AS division
    FROM record_key_sums
) s
LEFT JOIN high_energy_division h ON h.division = s.division;
