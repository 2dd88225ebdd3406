-- 22_budget_inputs.sql — the two optional inputs of the carbon budget,
-- `production` (products with process CO2) and `sinks` (carbon removals),
-- normalised and checked by their row rules. As for the other inputs every raw
-- row comes out once, with its first broken rule or none (README "Reject
-- rules"); of rows with the same key the first (by file, line) is kept.
--
-- production: region_code, year, product_code (a code, Chinese name or alias
--   of the factor set's process_factors), quantity in a mass unit,
--   enterprise_id (optional; GB 32100 check as for energy), cao and mgo
--   (optional mass fractions of clinker, for products with composition = true).
--   Key: region, year, product, enterprise.
-- sinks: region_code, year, ecosystem (forest 森林, grassland 草原/草地,
--   wetland 湿地, farmland 农田/耕地, other 其他), method (reported 上报: t CO2
--   removed; stock_change 蓄积量变化: m3 of growing-stock growth, converted
--   with the factor set's sink_factors), quantity (≥ 0: a loss of stock is
--   not a sink; report it as an emission elsewhere), unit.
--   Key: region, year, ecosystem, method.
--
-- Reads:  raw_production, raw_sinks, product_alias, process_factor,
--         sink_factor, unit_lookup (10_normalize.sql), regions_ok (20_validate.sql).
-- Writes: production_checked, sinks_checked (tables), production_ok,
--         sinks_ok (views).

CREATE OR REPLACE TABLE production_checked AS
WITH n AS (
    SELECT
        p.source_file, p.source_line, p.row_error,
        p.region_code AS region_code_raw, p.year AS year_raw, p.product_code AS product_code_raw,
        p.quantity AS quantity_raw, p.unit AS unit_raw, p.enterprise_id AS enterprise_id_raw,
        p.cao AS cao_raw, p.mgo AS mgo_raw,
        nullif(trim(p.region_code), '') AS region_code,
        parse_year(p.year) AS year,
        a.product_code,
        parse_number(p.quantity) AS quantity,
        u.unit, u.dimension AS unit_dimension, u.to_base AS unit_to_base,
        clean_code(p.enterprise_id) AS enterprise_id,
        parse_number(p.cao) AS cao,
        parse_number(p.mgo) AS mgo
    FROM raw_production p
    LEFT JOIN product_alias a ON a.alias = fold_key(p.product_code)
    LEFT JOIN unit_lookup u ON u.alias = fold_key(p.unit)
),
c AS (
    SELECT n.*, f.composition,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN nullif(trim(n.year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'year',
                'message', 'year is empty')
            WHEN nullif(trim(n.product_code_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'product_code',
                'message', 'product_code is empty')
            WHEN nullif(trim(n.quantity_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'quantity',
                'message', 'quantity is empty')
            WHEN nullif(trim(n.unit_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'unit',
                'message', 'unit is empty')
            WHEN n.enterprise_id IS NOT NULL AND uscc_error(n.enterprise_id) IS NOT NULL THEN named_struct(
                'rule', 'uscc_invalid', 'column', 'enterprise_id', 'message', uscc_error(n.enterprise_id))
            WHEN r.region_code IS NULL THEN named_struct('rule', 'region_unknown', 'column', 'region_code',
                'message', concat('region ''', n.region_code, coalesce(get_field(lookup('region_rejected', n.region_code), 'why'),
                    ''' is not in the regions input; add it there or correct the code'),
                    code_hint(n.region_code_raw)))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid',
                'column', 'year', 'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.product_code IS NULL THEN named_struct('rule', 'product_unknown', 'column', 'product_code',
                'message', concat('product ''', n.product_code_raw, ''' is not a code or alias of the factor set''s process_factors (`carbonstat factors list` shows them; a set without that table has none)'))
            WHEN n.unit IS NULL THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' is not a unit of the factor set; production is a mass (t, 10^4 t, kg)'))
            WHEN n.unit_dimension <> 'mass' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, '; production of ', n.product_code, ' is a mass (t, 10^4 t, kg)'))
            WHEN n.quantity IS NULL OR isnan(n.quantity) OR abs(n.quantity) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ''', n.quantity_raw, ''' is not a finite number',
                    number_hint(n.quantity_raw)))
            -- more than 10^15 of the base unit: the records' bound (20_validate.sql)
            WHEN n.quantity * n.unit_to_base > 1e15 THEN named_struct('rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' ', n.unit_raw, ' is more than 10^15 ', 't',
                    ' in one record, beyond any real quantity; check the unit and the decimal point'))
            WHEN n.quantity < 0 THEN named_struct('rule', 'quantity_negative', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' is negative; production is a positive mass'))
            WHEN nullif(trim(n.cao_raw), '') IS NOT NULL AND (n.cao IS NULL OR n.cao < 0 OR n.cao > 1) THEN named_struct(
                'rule', 'number_invalid', 'column', 'cao',
                'message', concat('cao ''', n.cao_raw, ''' is not a mass fraction between 0 and 1 (write 65 % as 0.65)'))
            WHEN nullif(trim(n.mgo_raw), '') IS NOT NULL AND (n.mgo IS NULL OR n.mgo < 0 OR n.mgo > 1) THEN named_struct(
                'rule', 'number_invalid', 'column', 'mgo',
                'message', concat('mgo ''', n.mgo_raw, ''' is not a mass fraction between 0 and 1 (write 1.5 % as 0.015)'))
            WHEN coalesce(n.cao, 0) + coalesce(n.mgo, 0) > 1 THEN named_struct(
                'rule', 'number_invalid', 'column', 'mgo',
                'message', concat('cao ', n.cao_raw, ' and mgo ', n.mgo_raw, ' add up to more than the whole clinker'))
            WHEN (n.cao IS NOT NULL OR n.mgo IS NOT NULL) AND NOT f.composition THEN named_struct(
                'rule', 'composition_invalid', 'column', CASE WHEN n.cao IS NOT NULL THEN 'cao' ELSE 'mgo' END,
                'message', concat(n.product_code, '''s process CO2 does not follow from its composition (only products marked composition = true in process_factors, such as cement_clinker); clear cao and mgo'))
            WHEN n.mgo IS NOT NULL AND n.cao IS NULL THEN named_struct(
                'rule', 'missing_value', 'column', 'cao',
                'message', 'mgo is given without cao: the composition rule needs the CaO fraction (give both, or neither for the default factor)')
        END AS reject
    FROM n
    LEFT JOIN regions_ok r ON r.region_code = n.region_code
    LEFT JOIN process_factor f ON f.product_code = n.product_code
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code, year, product_code, enterprise_id ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code, year, product_code, enterprise_id ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'product_code',
            'message', concat('production of ', product_code, ' in region ', region_code, ' for ', CAST(year AS VARCHAR),
                CASE WHEN enterprise_id IS NOT NULL THEN concat(' by ', enterprise_id) ELSE '' END,
                ' is already given at ', key_first))
        ELSE reject
    END AS reject,
    concat_ws('; ', concat('region_code=', region_code_raw), concat('year=', year_raw),
        concat('product_code=', product_code_raw), concat('quantity=', quantity_raw), concat('unit=', unit_raw),
        concat('enterprise_id=', enterprise_id_raw), concat('cao=', cao_raw), concat('mgo=', mgo_raw)) AS raw_record
FROM d;

CREATE OR REPLACE VIEW production_ok AS
SELECT source_file, source_line, region_code, year, product_code, enterprise_id, quantity, unit, cao, mgo
FROM production_checked
WHERE reject IS NULL;

CREATE OR REPLACE TABLE sinks_checked AS
WITH n AS (
    SELECT
        s.source_file, s.source_line, s.row_error,
        s.region_code AS region_code_raw, s.year AS year_raw, s.ecosystem AS ecosystem_raw,
        s.method AS method_raw, s.quantity AS quantity_raw, s.unit AS unit_raw,
        nullif(trim(s.region_code), '') AS region_code,
        parse_year(s.year) AS year,
        CASE
            WHEN fold_key(s.ecosystem) IN ('forest', '森林', '林地', '乔木林') THEN 'forest'
            WHEN fold_key(s.ecosystem) IN ('grassland', '草原', '草地') THEN 'grassland'
            WHEN fold_key(s.ecosystem) IN ('wetland', '湿地') THEN 'wetland'
            WHEN fold_key(s.ecosystem) IN ('farmland', '农田', '耕地') THEN 'farmland'
            WHEN fold_key(s.ecosystem) IN ('other', '其他') THEN 'other'
        END AS ecosystem,
        CASE
            WHEN fold_key(s.method) IN ('reported', '上报', '报告', '核算值') THEN 'reported'
            WHEN fold_key(s.method) IN ('stock_change', '蓄积量变化', '蓄积变化', '蓄积增量') THEN 'stock_change'
        END AS method,
        parse_number(s.quantity) AS quantity,
        u.unit, u.dimension AS unit_dimension, u.to_base AS unit_to_base
    FROM raw_sinks s
    LEFT JOIN unit_lookup u ON u.alias = fold_key(s.unit)
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.region_code IS NULL THEN named_struct('rule', 'missing_value', 'column', 'region_code',
                'message', 'region_code is empty')
            WHEN nullif(trim(n.year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'year',
                'message', 'year is empty')
            WHEN nullif(trim(n.ecosystem_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'ecosystem',
                'message', 'ecosystem is empty')
            WHEN nullif(trim(n.method_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'method',
                'message', 'method is empty')
            WHEN nullif(trim(n.quantity_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'quantity',
                'message', 'quantity is empty')
            WHEN nullif(trim(n.unit_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'unit',
                'message', 'unit is empty')
            WHEN r.region_code IS NULL THEN named_struct('rule', 'region_unknown', 'column', 'region_code',
                'message', concat('region ''', n.region_code, coalesce(get_field(lookup('region_rejected', n.region_code), 'why'),
                    ''' is not in the regions input; add it there or correct the code'),
                    code_hint(n.region_code_raw)))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid',
                'column', 'year', 'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.ecosystem IS NULL THEN named_struct('rule', 'ecosystem_unknown', 'column', 'ecosystem',
                'message', concat('ecosystem ''', n.ecosystem_raw, ''' is not one of forest (森林), grassland (草原), wetland (湿地), farmland (农田), other (其他)'))
            WHEN n.method IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'method',
                'message', concat('method ''', n.method_raw, ''' is not reported (上报: t CO2 removed) or stock_change (蓄积量变化: m3 of growing stock)'))
            WHEN n.unit IS NULL THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' is not a unit of the factor set (t, 10^4 t for reported removals; m3, 10^4 m3 for a stock change)'))
            WHEN n.method = 'reported' AND n.unit_dimension <> 'mass' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, '; reported removals are t CO2 (t, 10^4 t)'))
            WHEN n.method = 'stock_change' AND n.unit_dimension <> 'volume' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, '; a growing-stock change is a volume (m3, 10^4 m3)'))
            WHEN n.quantity IS NULL OR isnan(n.quantity) OR abs(n.quantity) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ''', n.quantity_raw, ''' is not a finite number',
                    number_hint(n.quantity_raw)))
            -- more than 10^15 of the base unit: the records' bound (20_validate.sql)
            WHEN n.quantity * n.unit_to_base > 1e15 THEN named_struct('rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' ', n.unit_raw, ' is more than 10^15 ', CASE WHEN n.unit_dimension = 'volume' THEN 'm3' ELSE 't' END,
                    ' in one record, beyond any real quantity; check the unit and the decimal point'))
            WHEN n.quantity < 0 THEN named_struct('rule', 'quantity_negative', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' is negative; a sink is a removal (≥ 0): a loss of stock is not a sink'))
            WHEN n.method = 'stock_change' AND sf.ecosystem IS NULL THEN named_struct('rule', 'sink_factor_missing', 'column', 'method',
                'message', concat('the factor set has no growing-stock defaults for ', n.ecosystem, ' (sink_factors.csv); report its removals in t CO2 with method reported'))
        END AS reject
    FROM n
    LEFT JOIN regions_ok r ON r.region_code = n.region_code
    LEFT JOIN sink_factor sf ON sf.ecosystem = n.ecosystem
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, region_code, year, ecosystem, method ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, region_code, year, ecosystem, method ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'ecosystem',
            'message', concat(method, ' ', ecosystem, ' sink of region ', region_code, ' for ', CAST(year AS VARCHAR),
                ' is already given at ', key_first))
        ELSE reject
    END AS reject,
    concat_ws('; ', concat('region_code=', region_code_raw), concat('year=', year_raw),
        concat('ecosystem=', ecosystem_raw), concat('method=', method_raw), concat('quantity=', quantity_raw),
        concat('unit=', unit_raw)) AS raw_record
FROM d;

CREATE OR REPLACE VIEW sinks_ok AS
SELECT source_file, source_line, region_code, year, ecosystem, method, quantity, unit
FROM sinks_checked
WHERE reject IS NULL;
