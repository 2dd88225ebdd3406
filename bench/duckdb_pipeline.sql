-- carbonstat's contract in DuckDB, for the benchmark: the same job as
-- sql/10..50 (the default config: electricity_factor provincial,
-- electricity_valuation equal, controlled_scope 2024, grid_factor_vintage
-- record_year, nbs_rounding on), written independently of carbonstat from the
-- factor tables it exports (`carbonstat factors export`) and the input files.
--
--   row rules      every record gets its first broken rule (the rules of
--                  sql/20_validate.sql records_rows: missing values, USCC,
--                  unknown region, sector code, year and month, unknown energy,
--                  use and flow, unit and its dimension, quantity not a finite
--                  number or negative, feedstock and transformation of
--                  non-fossil energy; not malformed_row: DuckDB's CSV reader
--                  stops at a malformed row), in two passes. The first reads
--                  every record once: what depends on the month, quantity and
--                  unit is checked per record, what depends on the key only (a
--                  missing, unknown or misspelt code, the year, use and flow)
--                  once per key, the USCC check character and the sector code
--                  once per distinct value. A record the first pass cannot
--                  accept as written (a broken rule, or text that needs parsing:
--                  an alias, a thousands separator, spaces) is judged in the
--                  second, which reads only the records of such keys again and
--                  applies every rule in carbonstat's order.
--   key checks     the records grouped by a hash of the key as written (input,
--                  enterprise, region, sector, year, energy, use, flow; two
--                  64-bit hashes): annual and monthly rows counted, a month
--                  given twice found by sum(2^month) ≠ bit_or(2^month). A key
--                  with a conflict is judged in the second pass, record by
--                  record: of rows with the same key and month the first by
--                  file and line is kept, an annual row beside monthly ones is
--                  a period overlap. DuckDB skips the second read when no key
--                  needs it (clean data). Rejects are written with file, line,
--                  rule and the row as written.
--   amounts        quantity in the base unit, signed tce at equivalent value
--                  (当量值) and at equal value (等价值: electricity and primary
--                  electricity at the year's coal rate of thermal power), direct
--                  CO2 (fuel burnt) and indirect CO2 (grid, heat), DECIMAL(38, 6)
--   datasets       enterprise_annual (per enterprise, region, sector, year,
--                  energy, use and flow) and region_indicators (the roll-up
--                  through the hierarchy, each level's electricity balance,
--                  GDP at constant prices, intensities, change rates, shares),
--                  partitioned by year, zstd Parquet.
-- Not done: targets, budget, groups, the bulletin and the manifest.
-- Placeholders: {data} {factors} {out} {energy_scan} (with its filename
-- column) {base_year}; bench/duckdb_factors.sql goes where the factor_tables placeholder stands.

-- The factor set.
CREATE TABLE energy_catalog AS SELECT * FROM read_csv('{factors}/energy_catalog.csv', header = true);
CREATE TABLE energy_alias AS SELECT * FROM read_csv('{factors}/energy_alias.csv', header = true, all_varchar = true);
CREATE TABLE unit_catalog AS SELECT * FROM read_csv('{factors}/unit_catalog.csv', header = true);
CREATE TABLE unit_alias AS SELECT * FROM read_csv('{factors}/unit_alias.csv', header = true, all_varchar = true);
CREATE TABLE grid_factor AS SELECT * FROM read_csv('{factors}/grid_factor.csv', header = true, types = {'area_code': 'VARCHAR'});
CREATE TABLE grid_region AS SELECT * FROM read_csv('{factors}/grid_region.csv', header = true, all_varchar = true);
CREATE TABLE heat_factor AS SELECT * FROM read_csv('{factors}/heat_factor.csv', header = true);
CREATE TABLE generation_coal_rate AS SELECT * FROM read_csv('{factors}/generation_coal_rate.csv', header = true);
CREATE TABLE electricity_equivalent AS SELECT * FROM read_csv('{factors}/electricity_equivalent.csv', header = true);
CREATE TABLE high_energy_division AS SELECT * FROM read_csv('{factors}/high_energy_division.csv', header = true, types = {'division': 'VARCHAR'});
CREATE TABLE special_sector AS SELECT * FROM read_csv('{factors}/special_sector.csv', header = true, all_varchar = true);

-- A Unified Social Credit Code (GB 32100-2015): 18 symbols of
-- 0-9 A-Y without I O S V Z, the last the check character of the first 17.
CREATE MACRO uscc_ok(s) AS
    length(s) = 18
    AND regexp_full_match(s, '[0-9A-HJ-NPQRTUWXY]{18}')
    AND s[18] = substr('0123456789ABCDEFGHJKLMNPQRTUWXY', CAST(1 + (31 - list_sum(list_transform(range(1, 18),
        lambda i: (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', s[i]) - 1)
            * [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28][i])) % 31) % 31 AS BIGINT), 1);
-- A GB/T 4754-2017 sector code (C2511, 2511), or a special sector of the factor set (HH).
CREATE MACRO sector_ok(s) AS regexp_full_match(s, '[A-T]?[0-9]{2,4}') OR s IN (SELECT sector_code FROM special_sector);

-- Numbers as carbonstat parses them (trimmed; a number may have thousands
-- separators): DuckDB's casts alone would also take '3.7' as 4, '0x10' as
-- 16 and '1_000' as 1000.
CREATE MACRO parse_int(t) AS
    CASE WHEN regexp_full_match(trim(t), '[+-]?[0-9]+') THEN try_cast(trim(t) AS INT) END;
CREATE MACRO parse_number(t) AS
    CASE WHEN regexp_full_match(replace(trim(t), ',', ''),
        '[+-]?(([0-9]+[.]?[0-9]*|[.][0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)', 'i')
    THEN try_cast(replace(trim(t), ',', '') AS DOUBLE) END;

-- The words of use and flow other than the canonical ones (folded: trimmed,
-- lower case); NULL when none. (CASE tests these only for rows that are not
-- canonical; an IN list would be a join evaluated for every row.)
CREATE MACRO use_word(w) AS CASE
    WHEN w = 'fuel' OR w = '燃料' OR w = '燃料用' OR w = '燃料用能' THEN 'fuel'
    WHEN w = 'feedstock' OR w = '原料' OR w = '原料用' OR w = '原料用能' THEN 'feedstock'
    WHEN w = 'transformation' OR w = '加工转换' OR w = '加工转换投入' OR w = '加工转换产出' OR w = '转换' THEN 'transformation'
END;
CREATE MACRO flow_word(w) AS CASE
    WHEN w = 'consumption' OR w = '消费' OR w = '消费量' THEN 'consumption'
    WHEN w = 'output' OR w = '输出' OR w = '外供' OR w = '产出' OR w = '供出' THEN 'output'
END;

-- Regions: the rules of regions_checked; of a code given twice the first line is kept.
CREATE TABLE regions_checked AS
WITH n AS (
    SELECT row_number() OVER () + 1 AS source_line,
        nullif(trim(region_code), '') AS region_code, nullif(trim(name), '') AS name,
        nullif(trim(parent_code), '') AS parent_code,
        CASE lower(nullif(trim(level), ''))
            WHEN '国家' THEN 'country' WHEN '省' THEN 'province' WHEN '市' THEN 'city' WHEN '县' THEN 'county'
            WHEN '乡镇' THEN 'town' ELSE lower(nullif(trim(level), '')) END AS level
    FROM read_csv('{data}/regions.csv', header = true, all_varchar = true)
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.region_code IS NULL THEN 'missing_value'
            WHEN n.name IS NULL THEN 'missing_value'
            WHEN n.level IS NULL THEN 'missing_value'
            WHEN NOT regexp_full_match(n.region_code, '[0-9]{6}([0-9]{3}){0,2}') THEN 'region_code_invalid'
            WHEN n.level NOT IN ('country', 'province', 'city', 'county', 'town') THEN 'vocabulary_invalid'
            WHEN n.parent_code IS NOT NULL AND p.region_code IS NULL THEN 'parent_unknown'
        END AS reject
    FROM n LEFT JOIN (SELECT DISTINCT region_code FROM n WHERE region_code IS NOT NULL) p ON p.region_code = n.parent_code
)
SELECT * EXCLUDE (reject),
    CASE WHEN reject IS NULL AND row_number() OVER (PARTITION BY reject IS NULL, region_code ORDER BY source_line) > 1
        THEN 'duplicate_key' ELSE reject END AS reject
FROM c;
CREATE TABLE regions_ok AS SELECT region_code, name, parent_code, level FROM regions_checked WHERE reject IS NULL;

-- GDP: the rules of gdp_checked; of a region and year given twice the first line is kept.
CREATE TABLE gdp_checked AS
WITH n AS (
    SELECT row_number() OVER () + 1 AS source_line, nullif(trim(region_code), '') AS region_code,
        year AS year_raw, gdp AS gdp_raw, gdp_index AS gdp_index_raw,
        parse_int(year) AS year, parse_number(gdp) AS gdp, parse_number(gdp_index) AS gdp_index
    FROM read_csv('{data}/gdp.csv', header = true, all_varchar = true)
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.region_code IS NULL OR nullif(trim(n.year_raw), '') IS NULL OR nullif(trim(n.gdp_raw), '') IS NULL
                THEN 'missing_value'
            WHEN r.region_code IS NULL THEN 'region_unknown'
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN 'period_invalid'
            WHEN n.gdp IS NULL OR NOT isfinite(n.gdp) OR n.gdp <= 0 THEN 'number_invalid'
            WHEN nullif(trim(n.gdp_index_raw), '') IS NOT NULL AND (n.gdp_index IS NULL OR NOT isfinite(n.gdp_index))
                THEN 'number_invalid'
            WHEN n.gdp_index < 50 OR n.gdp_index > 200 THEN 'number_invalid'
        END AS reject
    FROM n LEFT JOIN regions_ok r ON r.region_code = n.region_code
)
SELECT * EXCLUDE (reject),
    CASE WHEN reject IS NULL AND row_number() OVER (PARTITION BY reject IS NULL, region_code, year ORDER BY source_line) > 1
        THEN 'duplicate_key' ELSE reject END AS reject
FROM c;
CREATE TABLE gdp_ok AS SELECT region_code, year, gdp, gdp_index FROM gdp_checked WHERE reject IS NULL;

{factor_tables}

-- Energy and unit names as written, case-insensitively, to the factor set's codes.
CREATE TABLE energy_lookup AS
SELECT a.alias, e.energy_code, e.dimension, e.base_unit, e.fossil
FROM energy_alias a JOIN energy_catalog e ON e.energy_code = a.energy_code WHERE a.alias <> '';
CREATE TABLE unit_lookup AS
SELECT a.alias, u.unit, u.dimension, u.to_base
FROM unit_alias a JOIN unit_catalog u ON u.unit = a.unit WHERE a.alias <> '';
-- The units the first pass takes as written: those that are their own alias.
CREATE TABLE fast_units AS SELECT * FROM unit_lookup WHERE alias = lower(unit);

-- Every record once, as written: the text, its file, its position (rn, in
-- reading order; a line number is worked out only for the records read again)
-- and two 64-bit hashes of its key as written (input, enterprise, region,
-- sector, year, energy, use, flow): a group per key, two keys do not share both.
CREATE VIEW records_raw AS
SELECT r.*,
    hash(input, enterprise_id_raw, region_code_raw, sector_code_raw, year_raw, energy_code_raw, use_raw, flow_raw)
        AS raw_hash,
    hash(flow_raw, use_raw, energy_code_raw, year_raw, sector_code_raw, region_code_raw, enterprise_id_raw, input)
        AS raw_check
FROM (
    SELECT 'energy' AS input, filename AS source_file, row_number() OVER () AS rn,
        enterprise_id AS enterprise_id_raw, enterprise_name AS enterprise_name_raw, region_code AS region_code_raw,
        sector_code AS sector_code_raw, year AS year_raw, month AS month_raw, energy_code AS energy_code_raw,
        use AS use_raw, flow AS flow_raw, quantity AS quantity_raw, unit AS unit_raw
    FROM {energy_scan}
    UNION ALL
    SELECT 'sector_energy', '{data}/sector_energy.csv', row_number() OVER (), NULL, NULL, region_code, sector_code,
        year, NULL, energy_code, use, flow, quantity, unit
    FROM read_csv('{data}/sector_energy.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
) r;

-- The key of records (or of groups of records with the same key as written)
-- parsed and looked up: codes trimmed (and upper case), the year an integer,
-- energy, use and flow by their names in any case and language.
CREATE MACRO key_parsed(rel) AS TABLE
SELECT r.*,
    upper(nullif(trim(r.enterprise_id_raw), '')) AS enterprise_id,
    nullif(trim(r.enterprise_name_raw), '') AS enterprise_name,
    nullif(trim(r.region_code_raw), '') AS region_code,
    upper(nullif(trim(r.sector_code_raw), '')) AS sector_code,
    parse_int(r.year_raw) AS year,
    e.energy_code, e.dimension AS energy_dimension, e.fossil AS energy_fossil,
    CASE
        WHEN r.use_raw = 'fuel' THEN 'fuel'
        WHEN r.use_raw = 'feedstock' THEN 'feedstock'
        WHEN r.use_raw = 'transformation' THEN 'transformation'
        WHEN nullif(trim(r.use_raw), '') IS NULL THEN 'fuel'
        ELSE use_word(lower(trim(r.use_raw)))
    END AS use,
    CASE
        WHEN r.flow_raw = 'consumption' THEN 'consumption'
        WHEN r.flow_raw = 'output' THEN 'output'
        WHEN nullif(trim(r.flow_raw), '') IS NULL THEN 'consumption'
        ELSE flow_word(lower(trim(r.flow_raw)))
    END AS flow,
    rg.region_code IS NOT NULL AS region_found
FROM query_table(rel) r
LEFT JOIN energy_lookup e ON e.alias = lower(trim(r.energy_code_raw))
LEFT JOIN regions_ok rg ON rg.region_code = nullif(trim(r.region_code_raw), '');

-- First pass, one read of the input. A record whose energy, year, region,
-- unit, use and flow are written as the factor set's codes, whose month is
-- 1-12 or empty and whose quantity a finite number ≥ 0 in a unit of its
-- energy's dimension gets its amounts here (the factors by the text as
-- written); any other record is judged in the second pass. Per hash of the
-- key as written: the key, the amounts summed and what the key rules need,
-- then the key parsed (key_values).
CREATE VIEW key_groups AS
WITH f AS (
    SELECT r.raw_hash, r.raw_check, r.input, r.enterprise_id_raw, r.enterprise_name_raw, r.region_code_raw,
        r.sector_code_raw, r.year_raw, r.energy_code_raw, r.use_raw, r.flow_raw,
        try_cast(r.month_raw AS INT) AS month,
        try_cast(r.quantity_raw AS DOUBLE) AS quantity,
        coalesce(a.prefix IS NOT NULL AND u.unit IS NOT NULL
            AND (r.use_raw = 'fuel' OR r.use_raw = 'feedstock' OR r.use_raw = 'transformation')
            AND (r.flow_raw = 'consumption' OR r.flow_raw = 'output')
            AND (r.month_raw IS NULL OR CAST(try_cast(r.month_raw AS INT) AS VARCHAR) = r.month_raw)
            AND (try_cast(r.month_raw AS INT) BETWEEN 1 AND 12) IS NOT FALSE
            AND try_cast(r.quantity_raw AS DOUBLE) >= 0 AND isfinite(try_cast(r.quantity_raw AS DOUBLE))
            AND NOT contains(r.quantity_raw, '_')
            AND (u.dimension = a.energy_dimension OR u.dimension = 'tce'), false) AS fast,
        CASE WHEN r.flow_raw = 'output' THEN -1 ELSE 1 END AS sign,
        u.dimension = 'tce' AS unit_is_tce, u.to_base,
        a.tce_per, a.tce_equal_per, a.direct_factor, a.indirect_divisor, a.indirect_factor
    FROM records_raw r
    LEFT JOIN fast_units u ON u.unit = r.unit_raw
    LEFT JOIN amount_factors a
        ON a.prefix = substr(r.region_code_raw, 1, 2) AND a.year_text = r.year_raw AND a.energy_code = r.energy_code_raw
),
b AS (
    SELECT f.*,
        CASE WHEN fast THEN 1 << month END AS month_bit,
        CASE WHEN fast THEN CASE WHEN unit_is_tce THEN quantity * to_base / tce_per ELSE quantity * to_base END END AS qb_f,
        CASE WHEN fast THEN CASE WHEN unit_is_tce THEN quantity * to_base ELSE quantity * to_base * tce_per END END AS tce_f
    FROM f
)
SELECT raw_hash, raw_check, fast,
    first(input) AS input_raw, first(enterprise_id_raw) AS enterprise_id_raw, min(enterprise_name_raw) AS enterprise_name_raw,
    first(region_code_raw) AS region_code_raw, first(sector_code_raw) AS sector_code_raw, first(year_raw) AS year_raw,
    first(energy_code_raw) AS energy_code_raw, first(use_raw) AS use_raw, first(flow_raw) AS flow_raw,
    sum(CAST(qb_f AS DECIMAL(38, 6))) AS quantity_base,
    sum(CAST(sign * tce_f AS DECIMAL(38, 6))) AS tce,
    sum(CAST(sign * CASE WHEN tce_equal_per = tce_per THEN tce_f ELSE qb_f * tce_equal_per END AS DECIMAL(38, 6))) AS tce_equal,
    sum(CAST(sign * qb_f * direct_factor * CASE use_raw WHEN 'fuel' THEN 1.0 ELSE 0.0 END AS DECIMAL(38, 6))) AS co2_direct_t,
    sum(CAST(sign * qb_f / indirect_divisor * indirect_factor AS DECIMAL(38, 6))) AS co2_indirect_t,
    count(*) AS records, count(month) AS months,
    -- two annual rows; annual and monthly rows; a month given twice
    count(*) - count(month) > 1
        OR (count(month) > 0 AND count(*) > count(month))
        OR sum(month_bit) IS DISTINCT FROM bit_or(month_bit) AS key_conflict
FROM b
GROUP BY raw_hash, raw_check, fast;

CREATE TABLE key_values AS
SELECT * EXCLUDE (input_raw), input_raw AS input FROM key_parsed('key_groups');

-- The rules on a key's values, once per key (the USCC and the sector code once
-- per distinct value: tables, so that the check is not pushed below the
-- DISTINCT). The records of a key are read again when one of them was left to
-- the second pass, the key has a conflict or breaks a rule, or it is written
-- otherwise than parsed (' c3419' is the key of 'C3419': both are read again).
CREATE TABLE enterprise_check AS
SELECT enterprise_id, coalesce(uscc_ok(enterprise_id), false) AS ok
FROM (SELECT DISTINCT enterprise_id FROM key_values WHERE input = 'energy');
CREATE TABLE sector_check AS
SELECT sector_code, coalesce(sector_ok(sector_code), false) AS ok FROM (SELECT DISTINCT sector_code FROM key_values);
CREATE TABLE reread_keys AS
WITH flagged AS (
    SELECT * FROM key_values
    WHERE NOT fast OR key_conflict
        OR enterprise_id_raw IS DISTINCT FROM enterprise_id OR enterprise_name_raw IS DISTINCT FROM enterprise_name
        OR region_code_raw IS DISTINCT FROM region_code OR sector_code_raw IS DISTINCT FROM sector_code
        OR year_raw IS DISTINCT FROM CAST(year AS VARCHAR) OR energy_code_raw IS DISTINCT FROM energy_code
        OR use_raw IS DISTINCT FROM use OR flow_raw IS DISTINCT FROM flow
        OR (input = 'energy' AND (enterprise_id IS NULL OR enterprise_id IN (SELECT enterprise_id FROM enterprise_check WHERE NOT ok)))
        OR region_code IS NULL OR NOT region_found
        OR sector_code IS NULL OR sector_code IN (SELECT sector_code FROM sector_check WHERE NOT ok)
        OR year IS NULL OR year NOT BETWEEN 1949 AND 2100
        OR energy_code IS NULL OR use IS NULL OR flow IS NULL
        OR (use IN ('feedstock', 'transformation') AND NOT energy_fossil)
)
SELECT DISTINCT k.raw_hash
FROM key_values k JOIN flagged f
    ON f.input = k.input AND f.enterprise_id IS NOT DISTINCT FROM k.enterprise_id
    AND f.region_code IS NOT DISTINCT FROM k.region_code AND f.sector_code IS NOT DISTINCT FROM k.sector_code
    AND f.year IS NOT DISTINCT FROM k.year AND f.energy_code IS NOT DISTINCT FROM k.energy_code
    AND f.use IS NOT DISTINCT FROM k.use AND f.flow IS NOT DISTINCT FROM k.flow;

-- Where each input file starts in reading order, to turn a position into a
-- line (computed only when some records are read again: the join to a
-- one-row table that is empty otherwise skips the read).
CREATE TABLE file_starts AS
SELECT n.input, n.source_file, min(n.rn) AS first_rn
FROM (SELECT input, source_file, rn, 1 AS one FROM records_raw) n
JOIN (SELECT DISTINCT 1 AS one FROM reread_keys) k ON k.one = n.one
GROUP BY n.input, n.source_file;

CREATE VIEW records_deep AS SELECT * FROM records_raw WHERE raw_hash IN (SELECT raw_hash FROM reread_keys);

-- Second pass, over the records of those keys only (none on clean data): every
-- row rule in carbonstat's order (the first broken one, as 'rule/column'), the
-- amounts of an accepted record, then the key rules.
CREATE TABLE reread_rows AS
WITH n AS (
    SELECT k.*,
        -- a CSV row's line counts the header; a Parquet row's number starts at 1
        k.rn - s.first_rn + CASE WHEN k.source_file ILIKE '%.csv' THEN 2 ELSE 1 END AS source_line,
        parse_int(k.month_raw) AS month,
        parse_number(k.quantity_raw) AS quantity,
        u.unit, u.dimension AS unit_dimension, u.to_base
    FROM key_parsed('records_deep') k
    JOIN file_starts s ON s.input = k.input AND s.source_file = k.source_file
    LEFT JOIN unit_lookup u ON u.alias = lower(trim(k.unit_raw))
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.input = 'energy' AND n.enterprise_id IS NULL THEN 'missing_value/enterprise_id'
            WHEN n.region_code IS NULL THEN 'missing_value/region_code'
            WHEN n.sector_code IS NULL THEN 'missing_value/sector_code'
            WHEN n.year IS NULL AND nullif(trim(n.year_raw), '') IS NULL THEN 'missing_value/year'
            WHEN n.energy_code IS NULL AND nullif(trim(n.energy_code_raw), '') IS NULL THEN 'missing_value/energy_code'
            WHEN n.quantity IS NULL AND nullif(trim(n.quantity_raw), '') IS NULL THEN 'missing_value/quantity'
            WHEN n.unit IS NULL AND nullif(trim(n.unit_raw), '') IS NULL THEN 'missing_value/unit'
            WHEN n.input = 'energy' AND NOT coalesce(uscc_ok(n.enterprise_id), false) THEN 'uscc_invalid/enterprise_id'
            WHEN NOT n.region_found THEN 'region_unknown/region_code'
            WHEN NOT coalesce(sector_ok(n.sector_code), false) THEN 'sector_invalid/sector_code'
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN 'period_invalid/year'
            WHEN (n.month IS NULL OR n.month NOT BETWEEN 1 AND 12) AND nullif(trim(n.month_raw), '') IS NOT NULL
                THEN 'period_invalid/month'
            WHEN n.energy_code IS NULL THEN 'energy_unknown/energy_code'
            WHEN n.use IS NULL THEN 'vocabulary_invalid/use'
            WHEN n.flow IS NULL THEN 'vocabulary_invalid/flow'
            WHEN n.unit IS NULL THEN 'unit_invalid/unit'
            WHEN n.unit_dimension <> n.energy_dimension AND n.unit_dimension <> 'tce' THEN 'unit_invalid/unit'
            WHEN n.quantity IS NULL OR NOT isfinite(n.quantity) THEN 'quantity_invalid/quantity'
            WHEN n.quantity < 0 THEN 'quantity_negative/quantity'
            WHEN n.use = 'feedstock' AND NOT n.energy_fossil THEN 'feedstock_invalid/use'
            WHEN n.use = 'transformation' AND NOT n.energy_fossil THEN 'transformation_invalid/use'
        END AS row_reject
    FROM n
),
a AS (
    SELECT c.*,
        CASE WHEN c.flow = 'output' THEN -1 ELSE 1 END AS sign,
        CASE WHEN c.row_reject IS NULL THEN
            CASE WHEN c.unit_dimension = 'tce' THEN c.quantity * c.to_base / f.tce_per ELSE c.quantity * c.to_base END
        END AS qb_f,
        CASE WHEN c.row_reject IS NULL THEN
            CASE WHEN c.unit_dimension = 'tce' THEN c.quantity * c.to_base ELSE c.quantity * c.to_base * f.tce_per END
        END AS tce_f,
        f.tce_per, f.tce_equal_per, f.direct_factor, f.indirect_divisor, f.indirect_factor
    FROM c
    LEFT JOIN amount_factors f ON f.prefix = substr(c.region_code, 1, 2) AND f.year = c.year AND f.energy_code = c.energy_code
),
k AS (
    SELECT a.*,
        CAST(qb_f AS DECIMAL(38, 6)) AS quantity_base,
        CAST(sign * tce_f AS DECIMAL(38, 6)) AS tce,
        CAST(sign * CASE WHEN tce_equal_per = tce_per THEN tce_f ELSE qb_f * tce_equal_per END AS DECIMAL(38, 6)) AS tce_equal,
        CAST(sign * qb_f * direct_factor * CASE use WHEN 'fuel' THEN 1.0 ELSE 0.0 END AS DECIMAL(38, 6)) AS co2_direct_t,
        CAST(sign * qb_f / indirect_divisor * indirect_factor AS DECIMAL(38, 6)) AS co2_indirect_t,
        -- of the accepted records with the same key and month (or both annual)
        -- the first by file and line is kept
        row_number() OVER w AS key_rank,
        first_value(source_file) OVER w AS first_file,
        first_value(source_line) OVER w AS first_line,
        count(month) OVER (PARTITION BY row_reject IS NULL, input, enterprise_id, region_code, sector_code, year,
            energy_code, use, flow) AS monthly_rows
    FROM a
    WINDOW w AS (PARTITION BY row_reject IS NULL, input, enterprise_id, region_code, sector_code, year, month,
        energy_code, use, flow ORDER BY source_file, source_line)
)
SELECT k.*,
    coalesce(row_reject,
        CASE WHEN key_rank > 1 THEN 'duplicate_key/'
             WHEN month IS NULL AND monthly_rows > 0 THEN 'period_overlap/month' END) AS reject,
    CASE WHEN row_reject IS NULL AND key_rank > 1 THEN concat('same key and period as ', first_file, ' line ', first_line)
         WHEN row_reject IS NULL AND month IS NULL AND monthly_rows > 0
             THEN concat('an annual record beside ', monthly_rows, ' monthly records of ', year) END AS message
FROM k;

-- Every rejected record with its file, line, rule, column and the row as written.
COPY (
    SELECT input, source_file, source_line, coalesce(year, 0) AS year,
        split_part(reject, '/', 1) AS rule_id, split_part(reject, '/', 2) AS column_name, message,
        concat_ws('; ',
            CASE WHEN input = 'energy' THEN concat('enterprise_id=', enterprise_id_raw) END,
            CASE WHEN input = 'energy' THEN concat('enterprise_name=', enterprise_name_raw) END,
            concat('region_code=', region_code_raw), concat('sector_code=', sector_code_raw), concat('year=', year_raw),
            CASE WHEN input = 'energy' THEN concat('month=', month_raw) END,
            concat('energy_code=', energy_code_raw), concat('use=', use_raw), concat('flow=', flow_raw),
            concat('quantity=', quantity_raw), concat('unit=', unit_raw)) AS raw_record
    FROM reread_rows WHERE reject IS NOT NULL
    ORDER BY input, source_file, source_line
) TO '{out}/rejects.parquet' (FORMAT parquet, COMPRESSION zstd);

-- Per key, the accepted records summed: the first pass's sums for a key that
-- was not read again, else the sums of the rows the second pass kept.
CREATE TABLE key_totals AS
SELECT input, enterprise_id, enterprise_name, region_code, sector_code, year, energy_code, use, flow,
    quantity_base, tce, tce_equal, co2_direct_t, co2_indirect_t, records, months
FROM key_values
WHERE raw_hash NOT IN (SELECT raw_hash FROM reread_keys)
UNION ALL
SELECT input, enterprise_id, min(enterprise_name), region_code, sector_code, year, energy_code, use, flow,
    sum(quantity_base), sum(tce), sum(tce_equal), sum(co2_direct_t), sum(co2_indirect_t), count(*), count(month)
FROM reread_rows
WHERE reject IS NULL
GROUP BY input, enterprise_id, region_code, sector_code, year, energy_code, use, flow;

COPY (
    SELECT t.enterprise_id, t.enterprise_name, t.region_code, t.sector_code, t.year, t.energy_code, t.use, t.flow,
        a.base_unit,
        CAST(t.quantity_base AS DOUBLE) AS quantity_base, CAST(t.tce AS DOUBLE) AS tce,
        CAST(t.tce_equal AS DOUBLE) AS tce_equal, CAST(t.co2_direct_t AS DOUBLE) AS co2_direct_t,
        CAST(t.co2_indirect_t AS DOUBLE) AS co2_indirect_t, CAST(t.co2_direct_t + t.co2_indirect_t AS DOUBLE) AS co2_t,
        CAST(t.records AS INT) AS records, CAST(t.months AS INT) AS months,
        a.tce_factor_year, a.factor_year, a.indirect_factor_scope
    FROM key_totals t
    JOIN amount_factors a ON a.prefix = substr(t.region_code, 1, 2) AND a.year = t.year AND a.energy_code = t.energy_code
    WHERE t.input = 'energy'
    ORDER BY t.year, t.enterprise_id, t.region_code, t.sector_code, t.energy_code, t.use, t.flow
) TO '{out}/enterprise_annual' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year), OVERWRITE_OR_IGNORE true);

-- Per region and year (the keys are a twelfth of the records), with the
-- category of each energy and the division of each sector.
CREATE TABLE by_region AS
SELECT t.region_code, t.year,
    sum(t.tce) AS energy_tce_equivalent,
    sum(t.tce_equal) AS energy_tce_equal,
    sum(CASE WHEN t.use = 'feedstock' THEN t.tce ELSE 0 END) AS feedstock_tce,
    sum(CASE WHEN a.category = 'coal' THEN t.tce ELSE 0 END) AS coal_tce,
    sum(CASE WHEN a.category = 'oil' THEN t.tce ELSE 0 END) AS oil_tce,
    sum(CASE WHEN a.category = 'gas' THEN t.tce ELSE 0 END) AS gas_tce,
    sum(CASE WHEN a.category = 'heat' THEN t.tce ELSE 0 END) AS heat_tce,
    sum(CASE WHEN a.category = 'non_fossil' AND a.tce_method <> 'electricity' THEN t.tce ELSE 0 END) AS other_non_fossil_tce,
    sum(CASE WHEN a.category = 'electricity' AND t.flow = 'consumption' THEN t.quantity_base ELSE 0 END) AS electricity_in_kwh,
    sum(CASE WHEN a.category = 'electricity' AND t.flow = 'output' THEN t.quantity_base ELSE 0 END) AS electricity_out_kwh,
    sum(CASE WHEN a.category = 'non_fossil' AND a.tce_method = 'electricity'
        THEN CASE t.flow WHEN 'output' THEN -t.quantity_base ELSE t.quantity_base END ELSE 0 END) AS primary_electricity_kwh,
    sum(CASE WHEN hd.division IS NOT NULL THEN t.tce_equal ELSE 0 END) AS high_energy_tce_equal,
    sum(t.co2_direct_t) AS co2_direct_t,
    sum(CASE WHEN a.category = 'heat' THEN t.co2_indirect_t ELSE 0 END) AS co2_heat_t,
    sum(t.records) AS records
FROM key_totals t
JOIN amount_factors a ON a.prefix = substr(t.region_code, 1, 2) AND a.year = t.year AND a.energy_code = t.energy_code
LEFT JOIN high_energy_division hd ON hd.division =
    CASE WHEN t.sector_code[1] BETWEEN 'A' AND 'Z' THEN t.sector_code[2:3] ELSE t.sector_code[1:2] END
GROUP BY t.region_code, t.year;

CREATE TABLE closure AS
WITH RECURSIVE c(region_code, ancestor_code, depth) AS (
    SELECT region_code, region_code, 0 FROM regions_ok
    UNION ALL
    SELECT c.region_code, r.parent_code, c.depth + 1 FROM c JOIN regions_ok r ON r.region_code = c.ancestor_code
    WHERE r.parent_code IS NOT NULL AND c.depth < 12
)
SELECT * FROM c;

-- Enterprises reporting per region and year: once per ancestor, also when an
-- enterprise reports from two regions below it.
CREATE TABLE region_enterprises AS
SELECT c.ancestor_code AS region_code, e.year, count(DISTINCT e.enterprise_id) AS enterprises
FROM (SELECT DISTINCT year, enterprise_id, region_code FROM key_totals WHERE enterprise_id IS NOT NULL) e
JOIN closure c ON c.region_code = e.region_code
GROUP BY ALL;

CREATE TABLE gdp_const AS
WITH RECURSIVE fwd(region_code, year, gdp_const) AS (
    SELECT region_code, year, gdp FROM gdp_ok WHERE year = {base_year}
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * g.gdp_index / 100.0
    FROM fwd c JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year + 1 WHERE g.gdp_index IS NOT NULL
),
bwd(region_code, year, gdp_const, gdp_index) AS (
    SELECT region_code, year, gdp, gdp_index FROM gdp_ok WHERE year = {base_year}
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * 100.0 / c.gdp_index, g.gdp_index
    FROM bwd c JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year - 1 WHERE c.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM fwd
UNION ALL
SELECT region_code, year, gdp_const FROM bwd WHERE year < {base_year};

-- Rolled up to every ancestor (exact fixed-point sums), then each level's
-- electricity balance: the net import across its own boundary (× its area's
-- grid factor for CO2), the non-fossil part of its net export (exported
-- electricity carries the mix of what the region supplies), valued at the
-- year's equal-value rate; the controlled scope deducts feedstock and the
-- non-fossil energy consumed.
CREATE TABLE region_indicators AS
WITH rolled AS (
    SELECT c.ancestor_code AS region_code, b.year,
        CAST(sum(b.energy_tce_equal) AS DOUBLE) AS energy_tce,
        CAST(sum(b.energy_tce_equivalent) AS DOUBLE) AS energy_tce_equivalent,
        CAST(sum(b.feedstock_tce) AS DOUBLE) AS feedstock_tce,
        CAST(sum(b.coal_tce) AS DOUBLE) AS coal_tce,
        CAST(sum(b.oil_tce) AS DOUBLE) AS oil_tce,
        CAST(sum(b.gas_tce) AS DOUBLE) AS gas_tce,
        CAST(sum(b.heat_tce) AS DOUBLE) AS heat_tce,
        CAST(sum(b.other_non_fossil_tce) AS DOUBLE) AS other_non_fossil_tce,
        CAST(sum(b.electricity_in_kwh) - sum(b.electricity_out_kwh) AS DOUBLE) AS net_import_kwh,
        CAST(sum(b.electricity_out_kwh) AS DOUBLE) AS out_kwh,
        CAST(sum(b.primary_electricity_kwh) AS DOUBLE) AS primary_kwh,
        CAST(sum(b.high_energy_tce_equal) AS DOUBLE) AS high_energy_tce,
        CAST(sum(b.co2_direct_t) AS DOUBLE) AS co2_direct_t,
        CAST(sum(b.co2_heat_t) AS DOUBLE) AS co2_heat_t,
        sum(b.records) AS records
    FROM by_region b JOIN closure c ON c.region_code = b.region_code
    GROUP BY ALL
),
x AS (
    SELECT r.*, rg.name AS region_name, rg.level, rg.parent_code,
        er.equal_tce_per_kwh AS rate, gf.tco2_per_mwh AS grid_factor, gf.data_year AS grid_factor_year,
        CASE WHEN r.net_import_kwh < 0 AND r.out_kwh > 0
            THEN -r.net_import_kwh * least(greatest(r.primary_kwh, 0), r.out_kwh) / r.out_kwh ELSE 0 END AS non_fossil_exported_kwh,
        greatest(-r.net_import_kwh, 0) AS export_kwh
    FROM rolled r
    JOIN regions_ok rg ON rg.region_code = r.region_code
    LEFT JOIN grid_areas a4 ON length(a4.area_key) = 4 AND a4.area_key = substr(r.region_code, 1, 4)
    LEFT JOIN area_grid_factor gf ON gf.year = r.year AND gf.area_key =
        CASE WHEN rg.level = 'country' THEN 'CN' ELSE coalesce(a4.area_key, substr(r.region_code, 1, 2)) END
    LEFT JOIN electricity_rates er ON er.year = r.year
),
e AS (
    SELECT x.*,
        round(x.other_non_fossil_tce + (x.primary_kwh - x.non_fossil_exported_kwh) * x.rate, 6) AS non_fossil_consumed_tce,
        round(greatest(x.coal_tce - (x.export_kwh - x.non_fossil_exported_kwh) * x.rate, 0), 6) AS coal_consumed_tce,
        x.net_import_kwh / 1000.0 * x.grid_factor + x.co2_heat_t AS co2_indirect_t
    FROM x
),
i AS (
    SELECT e.region_code, e.region_name, e.level, e.parent_code, e.year,
        e.energy_tce, e.energy_tce_equivalent,
        e.energy_tce - (e.feedstock_tce + e.non_fossil_consumed_tce) AS energy_tce_controlled,
        e.feedstock_tce, e.non_fossil_consumed_tce, e.coal_tce, e.coal_consumed_tce, e.oil_tce, e.gas_tce, e.heat_tce,
        round(e.net_import_kwh * e.rate, 6) AS electricity_tce, e.net_import_kwh AS electricity_net_import_kwh,
        e.high_energy_tce,
        e.coal_consumed_tce + e.oil_tce + e.gas_tce + e.non_fossil_consumed_tce
            + round(greatest(greatest(e.net_import_kwh, 0) * e.rate + e.heat_tce, 0), 6) AS energy_mix_tce,
        e.co2_direct_t + e.co2_indirect_t AS co2_t, e.co2_direct_t, e.co2_indirect_t, e.grid_factor, e.grid_factor_year,
        g.gdp, gc.gdp_const,
        e.energy_tce / (gc.gdp_const * 10000) AS energy_intensity,
        (e.energy_tce - (e.feedstock_tce + e.non_fossil_consumed_tce)) / (gc.gdp_const * 10000) AS energy_intensity_controlled,
        (e.co2_direct_t + e.co2_indirect_t) / (gc.gdp_const * 10000) AS co2_intensity,
        CAST(coalesce(n.enterprises, 0) AS INT) AS enterprises, e.records
    FROM e
    LEFT JOIN gdp_ok g ON g.region_code = e.region_code AND g.year = e.year
    LEFT JOIN gdp_const gc ON gc.region_code = e.region_code AND gc.year = e.year
    LEFT JOIN region_enterprises n ON n.region_code = e.region_code AND n.year = e.year
)
SELECT i.*,
    round(i.energy_intensity, 4) / nullif(round(p.energy_intensity, 4), 0) - 1 AS energy_intensity_change_yoy,
    round(i.energy_intensity_controlled, 4) / nullif(round(p.energy_intensity_controlled, 4), 0) - 1
        AS energy_intensity_controlled_change_yoy,
    round(i.co2_intensity, 4) / nullif(round(p.co2_intensity, 4), 0) - 1 AS co2_intensity_change_yoy,
    round(i.energy_intensity, 4) / nullif(round(b.energy_intensity, 4), 0) - 1 AS energy_intensity_change_base,
    round(i.energy_intensity_controlled, 4) / nullif(round(b.energy_intensity_controlled, 4), 0) - 1
        AS energy_intensity_controlled_change_base,
    round(i.co2_intensity, 4) / nullif(round(b.co2_intensity, 4), 0) - 1 AS co2_intensity_change_base,
    i.coal_consumed_tce / nullif(i.energy_mix_tce, 0) AS coal_share,
    i.non_fossil_consumed_tce / nullif(i.energy_mix_tce, 0) AS non_fossil_share,
    i.high_energy_tce / nullif(i.energy_tce, 0) AS high_energy_share
FROM i
LEFT JOIN i p ON p.region_code = i.region_code AND p.year = i.year - 1
LEFT JOIN i b ON b.region_code = i.region_code AND b.year = {base_year};

COPY (SELECT * FROM region_indicators ORDER BY year, region_code)
    TO '{out}/region_indicators' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year), OVERWRITE_OR_IGNORE true);
