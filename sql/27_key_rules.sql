-- 27_key_rules.sql — the key rules of the records, and every reject of every
-- input in one dataset. Of records with the same key and month (or both
-- annual) the first by file and line is kept and the later ones are
-- duplicates naming it; an annual record beside monthly records of the same
-- year is a period overlap. The `rejects` dataset and the manifest counts
-- (rows read = accepted + rejected) come from here; the run's quality gate
-- (quality.max_reject_ratio) is checked after this step.
--
-- Reads:  records_rows, *_checked (20_validate.sql, 22_budget_inputs.sql,
--         23_group_inputs.sql), row_amounts, record_groups, record_file_rows,
--         record_key_sums (21_amounts.sql), records_norm (10_normalize.sql).
-- Writes: record_key_conflicts, record_key_rows, record_key_rejects,
--         record_row_rejects (tables),
--         record_rejects, records_checked, rejects, input_counts (views).

CREATE OR REPLACE TABLE record_key_conflicts AS
SELECT input, coalesce(enterprise_id, '') AS enterprise_key, region_code, sector_code, year,
    energy_code, use, flow, months AS monthly_rows
FROM record_key_sums
WHERE key_conflict;

-- Every accepted row of those keys, read again, with its key reject: of rows
-- with the same key and month (or both annual) the first by file and line is
-- kept and the later ones are duplicates naming it; an annual row beside
-- monthly rows of the same year is a period overlap.
CREATE OR REPLACE TABLE record_key_rows AS
WITH in_conflict AS (
    SELECT r.input, r.source_file, r.source_line, r.enterprise_id, r.enterprise_name, r.region_code,
        r.sector_code, r.year, r.month, r.energy_code, r.use, r.flow,
        r.quantity_base, r.tce, r.tce_equal, r.co2_direct_t, r.co2_indirect_t, c.monthly_rows,
        row_number() OVER w AS key_rank,
        first_value(r.source_file) OVER w AS first_file,
        first_value(r.source_line) OVER w AS first_line
    FROM record_key_conflicts c
    JOIN row_amounts r
        ON c.input = r.input AND c.enterprise_key = coalesce(r.enterprise_id, '')
        AND c.region_code = r.region_code AND c.sector_code = r.sector_code AND c.year = r.year
        AND c.energy_code = r.energy_code AND c.use = r.use AND c.flow = r.flow
    WINDOW w AS (PARTITION BY r.input, coalesce(r.enterprise_id, ''), r.region_code, r.sector_code, r.year,
        r.month, r.energy_code, r.use, r.flow ORDER BY r.source_file, r.source_line)
)
SELECT input, source_file, source_line, enterprise_id, enterprise_name, region_code, sector_code, year, month,
    energy_code, use, flow, quantity_base, tce, tce_equal, co2_direct_t, co2_indirect_t,
    CASE
        WHEN key_rank > 1 THEN named_struct(
            'rule', 'duplicate_key', 'column', '',
            'message', concat('same ', CASE WHEN input = 'energy' THEN 'enterprise, ' ELSE '' END,
                'region, sector, period, energy, use and flow as ', first_file, ' line ', CAST(first_line AS VARCHAR),
                '; remove one of them or correct it'))
        WHEN month IS NULL AND monthly_rows > 0 THEN named_struct('rule', 'period_overlap', 'column', 'month',
            'message', concat('an annual record, but ', CAST(monthly_rows AS VARCHAR), ' monthly records of ', CAST(year AS VARCHAR),
                ' exist for the same enterprise, energy, use and flow; report either months or the year'))
    END AS key_reject
FROM in_conflict;

-- The rows the key checks reject, each with the row as written, read again
-- from the input (the engine skips that read when no key conflicts).
CREATE OR REPLACE TABLE record_key_rejects AS
SELECT k.input, k.source_file, k.source_line, k.year, k.key_reject, w.written AS key_written
FROM (SELECT * FROM record_key_rows WHERE key_reject IS NOT NULL) k
JOIN records_norm w ON w.input = k.input AND w.source_file = k.source_file AND w.source_line = k.source_line;

-- The rows a row rule rejects, with the row as written, read again from the
-- files that have one (record_groups counted them per file; the engine skips
-- this read when no row is rejected).
CREATE OR REPLACE TABLE record_row_rejects AS
SELECT r.input, r.source_file, r.source_line, coalesce(r.year, 0) AS year, r.row_reject, r.row_written
FROM (SELECT DISTINCT input, reject_file AS source_file FROM record_groups WHERE reject_file IS NOT NULL) f
JOIN records_rows r ON r.input = f.input AND r.source_file = f.source_file
WHERE r.row_reject IS NOT NULL;

-- Every rejected record, by a row rule or by the key checks (never both),
-- with the row as written spelled as one text: `column=value` in the input's
-- column order, joined by '; ' (a sector_energy row has no enterprise and no
-- month: concat_ws skips the NULLs). Only the rejected rows are spelled.
CREATE OR REPLACE VIEW record_rejects AS
SELECT input, source_file, source_line, year, reject,
    concat_ws('; ',
        CASE WHEN input = 'energy' THEN concat('enterprise_id=', get_field(rw, 'enterprise_id')) END,
        CASE WHEN input = 'energy' THEN concat('enterprise_name=', get_field(rw, 'enterprise_name')) END,
        concat('region_code=', get_field(rw, 'region_code')), concat('sector_code=', get_field(rw, 'sector_code')),
        concat('year=', get_field(rw, 'year')),
        CASE WHEN input = 'energy' THEN concat('month=', get_field(rw, 'month')) END,
        concat('energy_code=', get_field(rw, 'energy_code')),
        concat('use=', get_field(rw, 'use')), concat('flow=', get_field(rw, 'flow')),
        concat('quantity=', get_field(rw, 'quantity')), concat('unit=', get_field(rw, 'unit'))) AS raw_record
FROM (
    SELECT input, source_file, source_line, year, row_reject AS reject, row_written AS rw
    FROM record_row_rejects
    UNION ALL
    SELECT input, source_file, source_line, year, key_reject, key_written FROM record_key_rejects
) t;

-- Every raw record once, with its reject (NULL when accepted).
CREATE OR REPLACE VIEW records_checked AS
SELECT r.input, r.source_file, r.source_line, r.enterprise_id, r.enterprise_name, r.region_code,
    r.sector_code, r.year, r.month, r.energy_code, r.use, r.flow, r.quantity, r.unit,
    k.reject, k.raw_record
FROM records_rows r
LEFT JOIN record_rejects k
    ON k.input = r.input AND k.source_file = r.source_file AND k.source_line = r.source_line;

-- One row per rejected input row; `raw_record` repeats the row as written.
CREATE OR REPLACE VIEW rejects AS
SELECT input, source_file, source_line, year,
    get_field(reject, 'rule') AS rule_id, get_field(reject, 'column') AS column_name,
    get_field(reject, 'message') AS message, raw_record
FROM record_rejects
UNION ALL
SELECT 'gdp', source_file, source_line, coalesce(year, 0),
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'),
    concat_ws('; ', concat('region_code=', region_code_raw), concat('year=', year_raw),
        concat('gdp=', gdp_raw), concat('gdp_index=', gdp_index_raw))
FROM gdp_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'regions', source_file, source_line, 0,
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'),
    concat_ws('; ', concat('region_code=', region_code_raw), concat('name=', name_raw),
        concat('parent_code=', parent_code_raw), concat('level=', level_raw))
FROM regions_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'targets', source_file, source_line, coalesce(target_year, 0),
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'),
    concat_ws('; ', concat('region_code=', region_code_raw), concat('plan=', plan_raw),
        concat('base_year=', base_year_raw), concat('target_year=', target_year_raw),
        concat('indicator=', indicator_raw), concat('value=', value_raw))
FROM targets_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'production', source_file, source_line, coalesce(year, 0),
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'), raw_record
FROM production_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'sinks', source_file, source_line, coalesce(year, 0),
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'), raw_record
FROM sinks_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'groups', source_file, source_line, 0,
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'), raw_record
FROM groups_checked WHERE reject IS NOT NULL
UNION ALL
SELECT 'green_power', source_file, source_line, coalesce(year, 0),
    get_field(reject, 'rule'), get_field(reject, 'column'), get_field(reject, 'message'), raw_record
FROM green_power_checked WHERE reject IS NOT NULL;

-- Rows read, accepted and rejected per input and file (the manifest's counts).
-- A record is rejected by a row rule or by the key checks, never by both.
CREATE OR REPLACE VIEW input_counts AS
SELECT input, source_file, sum(rows_read) AS rows_read, sum(rows_read) - sum(rows_rejected) AS rows_accepted,
    sum(rows_rejected) AS rows_rejected
FROM (
    SELECT input, source_file, rows_read, 0 AS rows_rejected FROM record_file_rows
    UNION ALL SELECT input, reject_file, 0, sum(records) FROM record_groups WHERE reject_file IS NOT NULL GROUP BY input, reject_file
    UNION ALL SELECT input, source_file, 0, count(*) FROM record_key_rejects GROUP BY input, source_file
    UNION ALL SELECT 'gdp', source_file, count(*), count(reject) FROM gdp_checked GROUP BY source_file
    UNION ALL SELECT 'regions', source_file, count(*), count(reject) FROM regions_checked GROUP BY source_file
    UNION ALL SELECT 'targets', source_file, count(*), count(reject) FROM targets_checked GROUP BY source_file
    UNION ALL SELECT 'production', source_file, count(*), count(reject) FROM production_checked GROUP BY source_file
    UNION ALL SELECT 'sinks', source_file, count(*), count(reject) FROM sinks_checked GROUP BY source_file
    UNION ALL SELECT 'groups', source_file, count(*), count(reject) FROM groups_checked GROUP BY source_file
    UNION ALL SELECT 'green_power', source_file, count(*), count(reject) FROM green_power_checked GROUP BY source_file
) t
GROUP BY input, source_file;
