-- 20_validate.sql — the row rules. Every input row gets either no reject (it is
-- accepted) or exactly one: the first rule it breaks, as a struct of
--   rule    a stable rule id (README "Reject rules" lists them all),
--   column  the column at fault ('' when the whole row is),
--   message what is wrong and what to do, with the value as written.
-- Rows are never dropped: *_checked has every raw row, and the `rejects`
-- dataset and the manifest counts (rows read = accepted + rejected) come from
-- here.
--
-- Duplicate checks look only at rows that passed every other rule, so a
-- broken row never turns a good one into a "duplicate"; of true duplicates the
-- first (by file, line) is kept and the later ones are rejected naming it.
-- (A row that repeats an earlier one while breaking another rule is rejected
-- for that rule.)
--
-- The records are also summed here (record_key_sums): the key checks need
-- the sums, and 30_emissions.sql starts from them.
--
-- Reads:  *_norm (10_normalize.sql), amount_factors, energy_factors
--         (15_factors.sql), special_sector, unit_catalog (factor set).
-- Writes: regions_checked, gdp_checked, targets_checked, region_lookup,
--         records_rows, record_key_sums, record_key_conflicts,
--         record_key_rows, record_key_rejects (tables), regions_ok, gdp_ok,
--         targets_ok, row_amounts, records_checked, rejects,
--         input_counts (views).

CREATE OR REPLACE TABLE regions_checked AS
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
                'message', concat('''', n.region_code_raw, ''' is not a 6-digit GB/T 2260 code nor a 9- or 12-digit 统计用区划代码'))
            WHEN n.level NOT IN ('country', 'province', 'city', 'county', 'town') THEN named_struct(
                'rule', 'vocabulary_invalid', 'column', 'level',
                'message', concat('level ''', n.level_raw, ''' is not one of country, province, city, county, town'))
            WHEN n.parent_code IS NOT NULL AND p.region_code IS NULL THEN named_struct(
                'rule', 'parent_unknown', 'column', 'parent_code',
                'message', concat('parent ''', n.parent_code, ''' is not a region_code of this table; add the parent region or clear the cell'))
        END AS reject
    FROM regions_norm n
    LEFT JOIN codes p ON p.region_code = n.parent_code
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
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
                'message', concat('region ''', n.region_code, ''' is not in the regions input; add it there or correct the code'))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'year',
                'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.gdp IS NULL OR isnan(n.gdp) OR abs(n.gdp) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'number_invalid', 'column', 'gdp',
                'message', concat('gdp ''', n.gdp_raw, ''' is not a finite number'))
            WHEN n.gdp <= 0 THEN named_struct('rule', 'number_invalid', 'column', 'gdp',
                'message', concat('gdp ', n.gdp_raw, ' must be greater than 0 (100 million yuan at current prices)'))
            WHEN nullif(trim(n.gdp_index_raw), '') IS NOT NULL
                AND (n.gdp_index IS NULL OR isnan(n.gdp_index) OR abs(n.gdp_index) > 1.7976931348623157e308) THEN named_struct(
                'rule', 'number_invalid', 'column', 'gdp_index',
                'message', concat('gdp_index ''', n.gdp_index_raw, ''' is not a finite number'))
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
                'message', concat('region ''', n.region_code, ''' is not in the regions input; add it there or correct the code'))
            WHEN n.indicator NOT IN ('energy_intensity_reduction', 'co2_intensity_reduction', 'non_fossil_share_min',
                                     'coal_share_max', 'energy_total_max', 'co2_total_max') THEN named_struct(
                'rule', 'vocabulary_invalid', 'column', 'indicator',
                'message', concat('indicator ''', n.indicator_raw, ''' is not one of energy_intensity_reduction, co2_intensity_reduction, non_fossil_share_min, coal_share_max, energy_total_max, co2_total_max'))
            WHEN n.base_year IS NULL OR n.base_year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'base_year',
                'message', concat('base_year ''', n.base_year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.target_year IS NULL OR n.target_year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid', 'column', 'target_year',
                'message', concat('target_year ''', n.target_year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.target_year <= n.base_year THEN named_struct('rule', 'period_invalid', 'column', 'target_year',
                'message', concat('target_year ', n.target_year_raw, ' must come after base_year ', n.base_year_raw))
            WHEN n.value IS NULL OR isnan(n.value) OR abs(n.value) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'number_invalid', 'column', 'value',
                'message', concat('value ''', n.value_raw, ''' is not a finite number'))
            WHEN n.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction', 'non_fossil_share_min', 'coal_share_max')
                AND NOT (n.value > 0 AND n.value < 1) THEN named_struct('rule', 'number_invalid', 'column', 'value',
                'message', concat('value ', n.value_raw, ' of ', n.indicator, ' must be a fraction between 0 and 1 (write 13.5 % as 0.135)'))
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

-- Records in three passes: the row rules (records_rows, one pass over the
-- input files), then the amounts summed per year key with the key checks
-- (record_key_sums: an aggregation per enterprise, period, energy, use and
-- flow, about a twelfth of the rows for monthly data), then the rows of the
-- few keys with a conflict (record_key_rows; DataFusion skips that read when
-- nothing conflicts).

-- Every region the row rules accept, with its province (the first two digits).
CREATE OR REPLACE TABLE region_lookup AS
SELECT region_code, substr(region_code, 1, 2) AS province_prefix
FROM regions_ok;

-- The row rules: every raw row once, with its parsed values and its first
-- broken rule. (A parsed value is NULL whenever its text is blank, so the cheap test comes
-- first in each AND: the engine skips the text test for a batch where the
-- first one is false on every row.)
CREATE OR REPLACE TABLE records_rows AS
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
                'message', concat('region ''', n.region_code, ''' is not in the regions input; add it there or correct the code'))
            -- is_sector_code(t) is regexp_like(t, '^[A-T]?[0-9]{2,4}$') (lib/src/engine/text.rs)
            WHEN NOT is_sector_code(n.sector_code)
                AND lookup('special_sector', n.sector_code) IS NULL THEN named_struct(
                'rule', 'sector_invalid', 'column', 'sector_code',
                'message', concat('''', n.sector_code_raw, ''' is not a GB/T 4754-2017 code such as C2511 or 2511 (or a code of the factor set''s special_sectors, e.g. HH for households)'))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid',
                'column', 'year', 'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN (n.month IS NULL OR n.month NOT BETWEEN 1 AND 12) AND nullif(trim(n.month_raw), '') IS NOT NULL THEN named_struct(
                'rule', 'period_invalid', 'column', 'month',
                'message', concat('month ''', n.month_raw, ''' is not 1-12; leave it empty for an annual record'))
            WHEN n.energy_code IS NULL THEN named_struct('rule', 'energy_unknown', 'column', 'energy_code',
                'message', concat('energy ''', n.energy_code_raw, ''' is not a code or alias of the factor set (`carbonstat factors list` shows them)'))
            WHEN n.use IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'use',
                'message', concat('use ''', n.use_raw, ''' is not fuel (燃料) or feedstock (原料)'))
            WHEN n.flow IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'flow',
                'message', concat('flow ''', n.flow_raw, ''' is not consumption (消费) or output (输出)'))
            WHEN n.unit IS NULL THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' is not a unit of the factor set (t, 10^4 t, kg, m3, 10^4 m3, kWh, 10^4 kWh, MWh, GWh, GJ, MJ, tce, 10^4 tce and their Chinese names)'))
            WHEN n.unit_dimension <> n.energy_dimension AND n.unit_dimension <> 'tce' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, ' but ', n.energy_code, ' is reported in ', n.energy_dimension, ' (base unit ', n.energy_base_unit, ')'))
            WHEN n.quantity IS NULL OR isnan(n.quantity) OR abs(n.quantity) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ''', n.quantity_raw, ''' is not a finite number'))
            WHEN n.quantity < 0 THEN named_struct('rule', 'quantity_negative', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' is negative; report energy supplied to others as a positive quantity with flow = output'))
            WHEN n.use = 'feedstock' AND NOT n.energy_fossil THEN named_struct('rule', 'feedstock_invalid', 'column', 'use',
                'message', concat(n.energy_code, ' cannot be feedstock: only coal, oil and gas products are used as raw material (原料用能)'))
        END AS row_reject
    FROM (SELECT n.*, lookup('region_lookup', n.region_code) AS region_found FROM records_norm n) n
)
-- The parsed values, and the row as written for rejected rows (a
-- sector_energy row has no enterprise and no month: concat_ws skips the
-- NULLs). record_key_rejects below spells the row the same way.
SELECT input, source_file, source_line, enterprise_id, enterprise_name, region_code,
    sector_code, year, month, energy_code, use, flow, quantity, unit, row_reject,
    CASE WHEN row_reject IS NOT NULL THEN concat_ws('; ',
        CASE WHEN input = 'energy' THEN concat('enterprise_id=', enterprise_id_raw) END,
        CASE WHEN input = 'energy' THEN concat('enterprise_name=', enterprise_name_raw) END,
        concat('region_code=', region_code_raw), concat('sector_code=', sector_code_raw),
        concat('year=', year_raw),
        CASE WHEN input = 'energy' THEN concat('month=', month_raw) END,
        concat('energy_code=', energy_code_raw),
        concat('use=', use_raw), concat('flow=', flow_raw), concat('quantity=', quantity_raw),
        concat('unit=', unit_raw))
    END AS row_raw_record
FROM c;

-- Per row the row rules accept: quantity in the base unit, signed standard
-- coal (tce), direct and indirect CO2, and the factors that made them. The rules (README "How numbers are made"):
--   quantity_base  = quantity × unit.to_base (a record given in tce is turned
--                    back into the base unit with the same coefficient)
--   sign           = +1 for consumption, −1 for output (energy supplied to others)
--   tce            = sign × quantity_base × coefficient; electricity and primary
--                    electricity at the configured valuation
--   co2_direct_t   = sign × quantity_base × fuel CO2 factor, fossil fuel burnt as
--                    fuel only (0 for feedstock, electricity, heat, non-fossil)
--   co2_indirect_t = sign × MWh × grid factor, or sign × GJ × heat factor
-- with the factors 15_factors.sql chose per province (the region code's
-- first two digits, as in region_lookup), year and energy: the
-- numbers from amount_factors, the columns that report them from
-- energy_factors, and the unit's to_base from unit_catalog (three lookups;
-- a query that reads only the amounts skips the energy_factors one).
-- Amounts are fixed-point DECIMAL(38, 6) (1 g of coal, 1 g of CO2): sums are
-- exact, so totals are identical whatever the parallelism or the order rows
-- arrive in. They become DOUBLE in the published datasets.
CREATE OR REPLACE VIEW row_amounts AS
WITH l AS (
    SELECT r.*,
        lookup('unit_catalog', r.unit) AS u,
        lookup('amount_factors', r.province_prefix, r.year, r.energy_code) AS a,
        lookup('energy_factors', r.province_prefix, r.year, r.energy_code) AS e
    FROM (
        SELECT *, substr(region_code, 1, 2) AS province_prefix
        FROM records_rows
        WHERE row_reject IS NULL
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
        get_field(e, 'tce_factor_year') AS tce_factor_year,
        get_field(e, 'co2_factor') AS co2_factor,
        get_field(e, 'indirect_factor') AS indirect_factor,
        get_field(e, 'indirect_factor_scope') AS indirect_factor_scope,
        get_field(e, 'indirect_factor_area') AS indirect_factor_area,
        get_field(e, 'factor_year') AS factor_year,
        get_field(u, 'dimension') = 'tce' AS unit_is_tce,
        l.quantity * get_field(u, 'to_base') AS q,
        a
    FROM l
),
-- (the arithmetic takes its factors from the narrow struct a: a CASE
-- evaluates a branch on the rows it selects, filtering every column the
-- branch reads)
b AS (
    SELECT f.*,
        CASE WHEN unit_is_tce THEN q / get_field(a, 'tce_per_base_unit') ELSE q END AS quantity_base_f,
        CASE WHEN unit_is_tce THEN q ELSE q * get_field(a, 'tce_per_base_unit') END AS tce_f
    FROM f
)
SELECT b.* EXCLUDE (q, quantity_base_f, tce_f, unit_is_tce, a),
    CAST(quantity_base_f AS DECIMAL(38, 6)) AS quantity_base,
    CAST(sign * tce_f AS DECIMAL(38, 6)) AS tce,
    CAST(sign * quantity_base_f * get_field(a, 'direct_factor') * CASE use WHEN 'fuel' THEN 1.0 ELSE 0.0 END
        AS DECIMAL(38, 6)) AS co2_direct_t,
    CAST(sign * quantity_base_f / get_field(a, 'indirect_divisor') * get_field(a, 'indirect_factor')
        AS DECIMAL(38, 6)) AS co2_indirect_t
FROM b;

-- Per year key (input, enterprise, region, sector, year, energy, use, flow) of
-- the rows the row rules accept: the amounts summed over the months, and
-- whether the key has a conflict:
--   two annual records                 count(*) − count(month) > 1
--   annual and monthly records         count(month) > 0 AND count(*) > count(month)
--   a month given twice                sum(2^month) ≠ bit_or(2^month): the sum of
--                                      distinct powers of two equals their OR
-- A sector row has no enterprise and no month: NULLs group together. The sums
-- are final for a key without a conflict (record_totals, 30_emissions.sql,
-- reads them); a key with one is summed again over the rows the checks keep.
CREATE OR REPLACE TABLE record_key_sums AS
SELECT input, enterprise_id, min(enterprise_name) AS enterprise_name, region_code, sector_code, year,
    energy_code, use, flow,
    sum(quantity_base) AS quantity_base,
    sum(tce) AS tce,
    sum(co2_direct_t) AS co2_direct_t,
    sum(co2_indirect_t) AS co2_indirect_t,
    count(*) AS records,
    count(month) AS months,
    count(*) - count(month) > 1
        OR (count(month) > 0 AND count(*) > count(month))
        OR sum(1 << month) IS DISTINCT FROM bit_or(1 << month) AS key_conflict
FROM row_amounts
GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow;

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
        r.quantity_base, r.tce, r.co2_direct_t, r.co2_indirect_t, c.monthly_rows,
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
    energy_code, use, flow, quantity_base, tce, co2_direct_t, co2_indirect_t,
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
SELECT k.input, k.source_file, k.source_line, k.year, k.key_reject,
    concat_ws('; ',
        CASE WHEN w.input = 'energy' THEN concat('enterprise_id=', w.enterprise_id) END,
        CASE WHEN w.input = 'energy' THEN concat('enterprise_name=', w.enterprise_name) END,
        concat('region_code=', w.region_code), concat('sector_code=', w.sector_code),
        concat('year=', w.year),
        CASE WHEN w.input = 'energy' THEN concat('month=', w.month) END,
        concat('energy_code=', w.energy_code),
        concat('use=', w.use), concat('flow=', w.flow), concat('quantity=', w.quantity),
        concat('unit=', w.unit)) AS key_raw_record
FROM (SELECT * FROM record_key_rows WHERE key_reject IS NOT NULL) k
JOIN records_raw w ON w.input = k.input AND w.source_file = k.source_file AND w.source_line = k.source_line;

-- Every raw record once, with its reject (NULL when accepted). (The columns of the two tables
-- have their own names: DataFusion 55's get_field extraction confuses an alias
-- with an input column of the same name.)
CREATE OR REPLACE VIEW records_checked AS
SELECT r.input, r.source_file, r.source_line, r.enterprise_id, r.enterprise_name, r.region_code,
    r.sector_code, r.year, r.month, r.energy_code, r.use, r.flow, r.quantity, r.unit,
    coalesce(r.row_reject, k.key_reject) AS reject,
    coalesce(r.row_raw_record, k.key_raw_record) AS raw_record
FROM records_rows r
LEFT JOIN record_key_rejects k
    ON k.input = r.input AND k.source_file = r.source_file AND k.source_line = r.source_line;

-- One row per rejected input row; `raw_record` repeats the row as written.
CREATE OR REPLACE VIEW rejects AS
SELECT input, source_file, source_line, coalesce(year, 0) AS year,
    get_field(row_reject, 'rule') AS rule_id, get_field(row_reject, 'column') AS column_name,
    get_field(row_reject, 'message') AS message, row_raw_record AS raw_record
FROM records_rows WHERE row_reject IS NOT NULL
UNION ALL
SELECT input, source_file, source_line, year,
    get_field(key_reject, 'rule'), get_field(key_reject, 'column'), get_field(key_reject, 'message'),
    key_raw_record
FROM record_key_rejects
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
FROM targets_checked WHERE reject IS NOT NULL;

-- Rows read, accepted and rejected per input and file (the manifest's counts).
-- A record is rejected by a row rule or by the key checks, never by both.
CREATE OR REPLACE VIEW input_counts AS
SELECT input, source_file, sum(rows_read) AS rows_read, sum(rows_read) - sum(rows_rejected) AS rows_accepted,
    sum(rows_rejected) AS rows_rejected
FROM (
    SELECT input, source_file, count(*) AS rows_read, count(row_reject) AS rows_rejected
    FROM records_rows GROUP BY input, source_file
    UNION ALL SELECT input, source_file, 0, count(*) FROM record_key_rejects GROUP BY input, source_file
    UNION ALL SELECT 'gdp', source_file, count(*), count(reject) FROM gdp_checked GROUP BY source_file
    UNION ALL SELECT 'regions', source_file, count(*), count(reject) FROM regions_checked GROUP BY source_file
    UNION ALL SELECT 'targets', source_file, count(*), count(reject) FROM targets_checked GROUP BY source_file
) t
GROUP BY input, source_file;
