-- 20_validate.sql — the row rules. Every input row gets either no reject (it is
-- accepted) or exactly one: the first rule it breaks, as a struct of
--   rule    a stable rule id (README "Reject rules" lists them all),
--   column  the column at fault ('' when the whole row is),
--   message what is wrong and what to do, with the value as written.
-- Rows are never dropped: *_checked and records_rows have every raw row; the
-- key rules of the records (a period given twice …) need the amounts summed
-- per key (21_amounts.sql) and follow in 27_key_rules.sql.
--
-- Duplicate checks look only at rows that passed every other rule, so a
-- broken row never turns a good one into a "duplicate"; of true duplicates the
-- first (by file, line) is kept and the later ones are rejected naming it.
-- (A row that repeats an earlier one while breaking another rule is rejected
-- for that rule.)
--
-- Reads:  *_norm (10_normalize.sql), special_sector (factor set).
-- Writes: regions_own_checked, regions_checked, region_rejected, gdp_checked, targets_checked, region_lookup
--         (tables), records_rows, regions_ok, gdp_ok, targets_ok (views).


-- The rules of each regions row on its own (a table: the recursion below
-- reads it again per level, and on a cluster reads a table file rather
-- than the input in its store).
CREATE OR REPLACE TABLE regions_own_checked AS
WITH codes AS (
    SELECT DISTINCT region_code FROM regions_norm WHERE region_code IS NOT NULL
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN n.name IS NULL THEN named_struct('rule', 'missing_value', 'column', 'name',
                'message', 'name is empty')
            WHEN n.level IS NULL THEN named_struct('rule', 'missing_value', 'column', 'level',
                'message', 'level is empty')
            WHEN NOT regexp_like(n.region_code, '^[0-9]{6}([0-9]{3}){0,2}$') THEN named_struct(
                'rule', 'region_code_invalid', 'column', 'region_code',
                'message', concat('''', n.region_code_raw, ''' is not a 6-digit GB/T 2260 code nor a 9- or 12-digit 统计用区划代码',
                    code_hint(n.region_code_raw)))
            WHEN n.level NOT IN ('country', 'province', 'city', 'county', 'town') THEN named_struct(
                'rule', 'vocabulary_invalid', 'column', 'level',
                'message', concat('level ''', n.level_raw, ''' is not one of country, province, city, county, town'))
            WHEN n.parent_code IS NOT NULL AND p.region_code IS NULL THEN named_struct(
                'rule', 'parent_unknown', 'column', 'parent_code',
                'message', concat('parent ''', n.parent_code, ''' is not a region_code of this table; add the parent region or clear the cell',
                    code_hint(n.parent_code_raw)))
        END AS reject
    FROM regions_norm n
    LEFT JOIN codes p ON p.region_code = n.parent_code
)
SELECT * FROM c;

CREATE OR REPLACE TABLE regions_checked AS
WITH RECURSIVE
-- A region under a rejected one would add up to no region above it: its
-- totals would be lost from the roll-up without a word. The regions below a
-- code none of whose rows is accepted are rejected too, down the tree (the
-- depth bound stops a loop a duplicated code could make; cycles among the
-- accepted rows are refused after this step, region_parents.sql).
cut(region_code, root, depth) AS (
    SELECT region_code, region_code AS root, 0 AS depth
    FROM regions_own_checked
    WHERE region_code IS NOT NULL
    GROUP BY region_code
    HAVING bool_and(reject IS NOT NULL)
    UNION ALL
    SELECT k.region_code, cut.root, cut.depth + 1
    FROM regions_own_checked k JOIN cut ON k.parent_code = cut.region_code
    WHERE k.reject IS NULL AND cut.depth < 8
),
cut_first AS (
    SELECT region_code, min(root) AS root FROM cut WHERE depth > 0 GROUP BY region_code
),
c2 AS (
    SELECT c.* EXCLUDE (reject),
        CASE
            WHEN c.reject IS NULL AND x.root IS NOT NULL THEN named_struct(
                'rule', 'parent_unknown', 'column', 'parent_code',
                'message', concat('parent ''', c.parent_code, ''' is rejected',
                    CASE WHEN x.root <> c.parent_code THEN concat(' (its region ', x.root, ' is rejected)') ELSE '' END,
                    ': this region would add up to no region above it; correct the rejected row (its reject says why)'))
            ELSE c.reject
        END AS reject
    FROM regions_own_checked c LEFT JOIN cut_first x ON x.region_code = c.region_code
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c2.*, reject IS NULL AS passed FROM c2) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'region_code',
            'message', concat('region ', region_code, ' is already defined at ', key_first))
        ELSE reject
    END AS reject
FROM d;

CREATE OR REPLACE VIEW regions_ok AS
SELECT region_code, name, parent_code, level
FROM regions_checked
WHERE reject IS NULL;

-- The codes of the regions input none of whose rows is accepted, with what
-- the region_unknown reject of a row of another input naming one says after
-- the code: that it is rejected, the first row's place and rule (its
-- message, for a code the regions input does not have, is the rules' own).
CREATE OR REPLACE TABLE region_rejected AS
SELECT region_code, why
FROM (
    SELECT region_code,
        concat(''' is rejected in the regions input (', source_file, ' line ', CAST(source_line AS VARCHAR), ', ',
            get_field(reject, 'rule'), '): correct that row') AS why,
        row_number() OVER (PARTITION BY region_code ORDER BY source_file, source_line) AS k,
        bool_and(reject IS NOT NULL) OVER (PARTITION BY region_code) AS all_rejected
    FROM regions_checked
    WHERE region_code IS NOT NULL
) r
WHERE k = 1 AND all_rejected;

CREATE OR REPLACE TABLE gdp_checked AS
WITH c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN nullif(trim(n.year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'year',
                'message', 'year is empty')
            WHEN nullif(trim(n.gdp_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'gdp',
                'message', 'gdp is empty')
            WHEN r.region_code IS NULL THEN named_struct('rule', 'region_unknown', 'column', 'region_code',
                'message', concat('region ''', n.region_code, coalesce(get_field(lookup('region_rejected', n.region_code), 'why'),
                    ''' is not in the regions input; add it there or correct the code'),
                    code_hint(n.region_code_raw)))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'year',
                'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.gdp IS NULL OR isnan(n.gdp) OR abs(n.gdp) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'number_invalid', 'column', 'gdp',
                'message', concat('gdp ''', n.gdp_raw, ''' is not a finite number',
                    number_hint(n.gdp_raw)))
            WHEN n.gdp <= 0 THEN named_struct('rule', 'number_invalid', 'column', 'gdp',
                'message', concat('gdp ', n.gdp_raw, ' must be greater than 0 (100 million yuan at current prices)'))
            -- a region's GDP in 10^8 yuan (亿元) lies between 0.0001 (10 000
            -- yuan) and 10^7 (10^15 yuan, about 8 times China's): beyond, a
            -- wrong unit or a typing slip, which would make intensities of
            -- 10^30 or a GDP at constant prices of inf (and DECIMAL sums of
            -- it overflow)
            WHEN n.gdp < 0.0001 OR n.gdp > 10000000 THEN named_struct('rule', 'number_invalid', 'column', 'gdp',
                'message', concat('gdp ', n.gdp_raw, ' is not a GDP in 100 million yuan (亿元): a region''s lies ',
                    'between 0.0001 and 10000000; check the unit (万元 is 0.0001 亿元) and the digits'))
            WHEN nullif(trim(n.gdp_index_raw), '') IS NOT NULL
                AND (n.gdp_index IS NULL OR isnan(n.gdp_index) OR abs(n.gdp_index) > 1.7976931348623157e308) THEN named_struct(
                'rule', 'number_invalid', 'column', 'gdp_index',
                'message', concat('gdp_index ''', n.gdp_index_raw, ''' is not a finite number',
                    number_hint(n.gdp_index_raw)))
            WHEN n.gdp_index IS NOT NULL AND (n.gdp_index < 50 OR n.gdp_index > 200) THEN named_struct(
                'rule', 'number_invalid', 'column', 'gdp_index',
                'message', concat('gdp_index ', n.gdp_index_raw, ' is not a real index with the previous year = 100 (e.g. 106.5 for 6.5 % real growth)'))
        END AS reject
    FROM gdp_norm n
    LEFT JOIN regions_ok r ON r.region_code = n.region_code
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code, year ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code, year ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'year',
            'message', concat('GDP of region ', region_code, ' for ', CAST(year AS VARCHAR), ' is already given at ', key_first))
        ELSE reject
    END AS reject
FROM d;

CREATE OR REPLACE VIEW gdp_ok AS
SELECT region_code, year, gdp, gdp_index
FROM gdp_checked
WHERE reject IS NULL;

CREATE OR REPLACE TABLE targets_checked AS
WITH c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN n.plan IS NULL THEN named_struct('rule', 'missing_value', 'column', 'plan', 'message', 'plan is empty')
            WHEN nullif(trim(n.base_year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'base_year',
                'message', 'base_year is empty')
            WHEN nullif(trim(n.target_year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'target_year',
                'message', 'target_year is empty')
            WHEN n.indicator IS NULL THEN named_struct('rule', 'missing_value', 'column', 'indicator',
                'message', 'indicator is empty')
            WHEN nullif(trim(n.value_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'value',
                'message', 'value is empty')
            WHEN r.region_code IS NULL THEN named_struct('rule', 'region_unknown', 'column', 'region_code',
                'message', concat('region ''', n.region_code, coalesce(get_field(lookup('region_rejected', n.region_code), 'why'),
                    ''' is not in the regions input; add it there or correct the code'),
                    code_hint(n.region_code_raw)))
            WHEN n.indicator NOT IN ('energy_intensity_reduction', 'co2_intensity_reduction', 'non_fossil_share_min',
                                     'coal_share_max', 'energy_total_max', 'co2_total_max', 'co2_peak_by') THEN named_struct(
                'rule', 'vocabulary_invalid', 'column', 'indicator',
                'message', concat('indicator ''', n.indicator_raw, ''' is not one of energy_intensity_reduction, co2_intensity_reduction, non_fossil_share_min, coal_share_max, energy_total_max, co2_total_max, co2_peak_by'))
            WHEN n.base_year IS NULL OR n.base_year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'base_year',
                'message', concat('base_year ''', n.base_year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.target_year IS NULL OR n.target_year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'target_year',
                'message', concat('target_year ''', n.target_year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.target_year <= n.base_year THEN named_struct('rule', 'period_invalid', 'column', 'target_year',
                'message', concat('target_year ', n.target_year_raw, ' must come after base_year ', n.base_year_raw))
            WHEN n.value IS NULL OR isnan(n.value) OR abs(n.value) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'number_invalid', 'column', 'value',
                'message', concat('value ''', n.value_raw, ''' is not a finite number',
                    number_hint(n.value_raw)))
            WHEN n.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction', 'non_fossil_share_min', 'coal_share_max')
                AND NOT (n.value > 0 AND n.value < 1) THEN named_struct('rule', 'number_invalid', 'column', 'value',
                'message', concat('value ', n.value_raw, ' of ', n.indicator, ' must be a fraction between 0 and 1 (write 13.5 % as 0.135)'))
            WHEN n.indicator = 'co2_peak_by' AND NOT (n.value = round(n.value) AND n.value BETWEEN n.base_year AND n.target_year) THEN named_struct(
                'rule', 'number_invalid', 'column', 'value',
                'message', concat('value ', n.value_raw, ' of co2_peak_by is the year CO2 must peak by: a whole year between base_year ', n.base_year_raw, ' and target_year ', n.target_year_raw))
            WHEN n.value <= 0 THEN named_struct('rule', 'number_invalid', 'column', 'value',
                'message', concat('value ', n.value_raw, ' of ', n.indicator, ' must be greater than 0'))
        END AS reject
    FROM targets_norm n
    LEFT JOIN regions_ok r ON r.region_code = n.region_code
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code, plan, indicator ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code, plan, indicator ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'indicator',
            'message', concat('target ', indicator, ' of plan ', plan, ' for region ', region_code, ' is already given at ', key_first))
        ELSE reject
    END AS reject
FROM d;

CREATE OR REPLACE VIEW targets_ok AS
SELECT region_code, plan, base_year, target_year, indicator, value
FROM targets_checked
WHERE reject IS NULL;

-- Every region the row rules accept, with its province (the first two digits).
CREATE OR REPLACE TABLE region_lookup AS
SELECT region_code, substr(region_code, 1, 2) AS province_prefix
FROM regions_ok;

-- The row rules: every raw row once, with its parsed values and its first
-- broken rule. (A parsed value is NULL whenever its text is blank, so the cheap test comes
-- first in each AND: the engine skips the text test for a batch where the
-- first one is false on every row.)
-- A view, computed as it is read: the one aggregation of 21_amounts.sql
-- (record_groups) keeps the per-key sums and the rejected rows per file, and
-- only the rejected rows and those of a conflicting key are read again
-- (27_key_rules.sql).
CREATE OR REPLACE VIEW records_rows AS
WITH c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.input = 'energy' AND n.enterprise_id IS NULL THEN named_struct('rule', 'missing_value',
                'column', 'enterprise_id', 'message', 'enterprise_id is empty')
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN n.sector_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'sector_code',
                'message', 'sector_code is empty')
            WHEN n.year IS NULL AND nullif(trim(n.year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'year',
                'message', 'year is empty')
            WHEN n.energy_code IS NULL AND nullif(trim(n.energy_code_raw), '') IS NULL THEN named_struct('rule', 'missing_value',
                'column', 'energy_code', 'message', 'energy_code is empty')
            WHEN n.quantity IS NULL AND nullif(trim(n.quantity_raw), '') IS NULL THEN named_struct('rule', 'missing_value',
                'column', 'quantity', 'message', 'quantity is empty')
            WHEN n.unit IS NULL AND nullif(trim(n.unit_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'unit',
                'message', 'unit is empty')
            WHEN n.input = 'energy' AND uscc_error(n.enterprise_id) IS NOT NULL THEN named_struct(
                'rule', 'uscc_invalid', 'column', 'enterprise_id', 'message', uscc_error(n.enterprise_id))
            WHEN n.region_found IS NULL THEN named_struct('rule', 'region_unknown', 'column', 'region_code',
                'message', concat('region ''', n.region_code, coalesce(get_field(lookup('region_rejected', n.region_code), 'why'),
                    ''' is not in the regions input; add it there or correct the code'),
                    code_hint(n.region_code_raw)))
            -- is_sector_code(t) is regexp_like(t, '^[A-T]?[0-9]{2,4}$') (lib/src/engine/text.rs)
            WHEN NOT is_sector_code(n.sector_code)
                AND lookup('special_sector', n.sector_code) IS NULL THEN named_struct(
                'rule', 'sector_invalid', 'column', 'sector_code',
                'message', concat('''', n.sector_code_raw, ''' is not a GB/T 4754-2017 code such as C2511 or 2511 (or a code of the factor set''s special_sectors, e.g. HH for households)'))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid',
                'column', 'year', 'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100',
                    period_hint(n.year_raw)))
            WHEN (n.month IS NULL OR n.month NOT BETWEEN 1 AND 12) AND nullif(trim(n.month_raw), '') IS NOT NULL THEN named_struct(
                'rule', 'period_invalid', 'column', 'month',
                'message', concat('month ''', n.month_raw, ''' is not 1-12; leave it empty for an annual record'))
            WHEN n.energy_code IS NULL THEN named_struct('rule', 'energy_unknown', 'column', 'energy_code',
                'message', concat('energy ''', n.energy_code_raw, ''' is not a code or alias of the factor set (`carbonstat factors list` shows them)'))
            WHEN n.use IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'use',
                'message', concat('use ''', n.use_raw, ''' is not one of fuel (燃料), feedstock (原料), transformation (加工转换)'))
            WHEN n.flow IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'flow',
                'message', concat('flow ''', n.flow_raw, ''' is not consumption (消费) or output (输出)'))
            WHEN n.unit IS NULL THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' is not a unit of the factor set (t, 10^4 t, kg, m3, 10^4 m3, kWh, 10^4 kWh, MWh, GWh, GJ, MJ, tce, 10^4 tce and their Chinese names)'))
            WHEN n.unit_dimension <> n.energy_dimension AND n.unit_dimension <> 'tce' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, ' but ', n.energy_code, ' is reported in ', n.energy_dimension, ' (base unit ', n.energy_base_unit, ')'))
            WHEN n.quantity IS NULL OR isnan(n.quantity) OR abs(n.quantity) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ''', n.quantity_raw, ''' is not a finite number',
                    number_hint(n.quantity_raw)))
            -- more than 10^15 of the base unit in one record is no
            -- real quantity (the world uses less than 10^14 t, kWh, m3 or GJ of
            -- any energy a year), and its amounts would not fit the exact
            -- DECIMAL(38, 6) sums (README "Reject rules")
            WHEN n.quantity * n.unit_to_base > 1e15 THEN named_struct('rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' ', n.unit_raw, ' is more than 10^15 ', CASE WHEN n.unit_dimension = 'tce' THEN 'tce' ELSE n.energy_base_unit END,
                    ' in one record, beyond any real quantity; check the unit and the decimal point'))
            WHEN n.quantity < 0 THEN named_struct('rule', 'quantity_negative', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' is negative; report energy supplied to others as a positive quantity with flow = output'))
            WHEN n.use = 'feedstock' AND NOT n.energy_fossil THEN named_struct('rule', 'feedstock_invalid', 'column', 'use',
                'message', concat(n.energy_code, ' cannot be feedstock: only coal, oil and gas products are used as raw material (原料用能)'))
            WHEN n.use = 'transformation' AND NOT n.energy_fossil THEN named_struct('rule', 'transformation_invalid', 'column', 'use',
                'message', concat(n.energy_code, ' cannot be transformed: energy transformation (加工转换: coking, refining, washing, semi-coke, coal-to-liquids/gas) takes and gives coal, oil and gas products; report electricity and heat a plant makes as flow = output with use = fuel'))
        END AS row_reject
    FROM (SELECT n.*, lookup('region_lookup', n.region_code) AS region_found FROM records_norm n) n
)
-- The parsed values, and the row as written for rejected rows
-- (records_norm.written, 10_normalize.sql; the CASE picks only those rows).
SELECT input, source_file, source_line, enterprise_id, enterprise_name, region_code,
    sector_code, year, month, energy_code, use, flow, quantity, unit, row_reject,
    CASE WHEN row_reject IS NOT NULL THEN written END AS row_written
FROM c;
