-- 23_group_inputs.sql — the two optional inputs of groups, `groups` (which
-- enterprises a zero-carbon park, a list of key energy-using units or any
-- other set has, and when) and `green_power` (certified green power an
-- enterprise bought), normalised and checked by their row rules. Every raw
-- row comes out once, with its first broken rule or none (README "Reject
-- rules"); of conflicting rows the first (by file, line) is kept and named.
--
-- groups: group_id, group_name, kind (zero_carbon_park 零碳园区, key_units
--   重点用能单位, custom 自定义), enterprise_id (GB 32100 check),
--   from_year, to_year (optional: open ends). An enterprise can be in several
--   groups; membership can change over the years (one row per period).
--   A group id has one name (group_name_conflict); the periods of one
--   enterprise in one group do not overlap (membership_overlap).
-- green_power: enterprise_id, year, quantity in an electricity unit, kind
--   (green_certificate 绿证, green_power_trade 绿电交易). The enterprise
--   must report energy (enterprise_unknown); key: enterprise, year, kind.
--
-- Reads:  raw_groups, raw_green_power, unit_lookup (10_normalize.sql),
--         record_key_sums (21_amounts.sql).
-- Writes: groups_checked, green_power_checked (tables), groups_ok,
--         green_power_ok (views).

CREATE OR REPLACE TABLE groups_checked AS
WITH n AS (
    SELECT
        g.source_file, g.source_line, g.row_error,
        g.group_id AS group_id_raw, g.group_name AS group_name_raw, g.kind AS kind_raw,
        g.enterprise_id AS enterprise_id_raw, g.from_year AS from_year_raw, g.to_year AS to_year_raw,
        nullif(trim(g.group_id), '') AS group_id,
        nullif(trim(g.group_name), '') AS group_name,
        CASE
            WHEN fold_key(g.kind) IN ('zero_carbon_park', '零碳园区', '零碳园区试点') THEN 'zero_carbon_park'
            WHEN fold_key(g.kind) IN ('key_units', '重点用能单位') THEN 'key_units'
            WHEN fold_key(g.kind) IN ('custom', '自定义', '其他') THEN 'custom'
        END AS kind,
        clean_code(g.enterprise_id) AS enterprise_id,
        parse_year(g.from_year) AS from_year,
        parse_year(g.to_year) AS to_year
    FROM raw_groups g
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.group_id IS NULL THEN named_struct('rule', 'missing_value', 'column', 'group_id',
                'message', 'group_id is empty')
            WHEN n.group_name IS NULL THEN named_struct('rule', 'missing_value', 'column', 'group_name',
                'message', 'group_name is empty')
            WHEN nullif(trim(n.kind_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'kind',
                'message', 'kind is empty')
            WHEN n.enterprise_id IS NULL THEN named_struct('rule', 'missing_value', 'column', 'enterprise_id',
                'message', 'enterprise_id is empty')
            WHEN n.kind IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'kind',
                'message', concat('kind ''', n.kind_raw, ''' is not zero_carbon_park (零碳园区), key_units (重点用能单位) or custom (自定义)'))
            WHEN uscc_error(n.enterprise_id) IS NOT NULL THEN named_struct(
                'rule', 'uscc_invalid', 'column', 'enterprise_id', 'message', uscc_error(n.enterprise_id))
            WHEN nullif(trim(n.from_year_raw), '') IS NOT NULL AND (n.from_year IS NULL OR n.from_year NOT BETWEEN 1949 AND 2100) THEN named_struct(
                'rule', 'period_invalid', 'column', 'from_year',
                'message', concat('from_year ''', n.from_year_raw, ''' is not a year between 1949 and 2100 (leave it empty for no start)'))
            WHEN nullif(trim(n.to_year_raw), '') IS NOT NULL AND (n.to_year IS NULL OR n.to_year NOT BETWEEN 1949 AND 2100) THEN named_struct(
                'rule', 'period_invalid', 'column', 'to_year',
                'message', concat('to_year ''', n.to_year_raw, ''' is not a year between 1949 and 2100 (leave it empty for no end)'))
            WHEN n.to_year < n.from_year THEN named_struct('rule', 'period_invalid', 'column', 'to_year',
                'message', concat('to_year ', n.to_year_raw, ' is before from_year ', n.from_year_raw))
        END AS reject
    FROM n
),
-- a group's name (and kind) is the first accepted row's (ordered
-- aggregates, no window: the statement stays small under a memory limit)
firsts AS (
    SELECT group_id,
        first_value(group_name ORDER BY source_file, source_line) AS first_name,
        first_value(kind ORDER BY source_file, source_line) AS first_kind,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)) ORDER BY source_file, source_line) AS first_at
    FROM c
    WHERE reject IS NULL
    GROUP BY group_id
),
named AS (
    SELECT c.*, c.reject IS NULL AS passed, f.first_name, f.first_kind, f.first_at
    FROM c
    LEFT JOIN firsts f ON f.group_id = c.group_id
),
r AS (
    SELECT named.* EXCLUDE (reject, first_name, first_kind, first_at),
        CASE
            WHEN reject IS NULL AND group_name <> first_name THEN named_struct('rule', 'group_name_conflict', 'column', 'group_name',
                'message', concat('group ', group_id, ' is named ''', first_name, ''' at ', first_at, ', not ''', group_name, '''; one id, one name'))
            WHEN reject IS NULL AND kind <> first_kind THEN named_struct('rule', 'group_name_conflict', 'column', 'kind',
                'message', concat('group ', group_id, ' is of kind ', first_kind, ' at ', first_at, ', not ', kind))
            ELSE reject
        END AS reject
    FROM named
),
-- an accepted row whose period overlaps an earlier accepted row of the same
-- group and enterprise; an earlier row that is itself rejected for an
-- overlap does not count (2020-2021 kept, 2021-2023 rejected, 2023-2025 kept)
pairs AS (
    SELECT a.source_file AS a_file, a.source_line AS a_line, b.source_file, b.source_line
    FROM r a
    JOIN r b ON a.group_id = b.group_id AND a.enterprise_id = b.enterprise_id
        AND (a.source_file < b.source_file OR (a.source_file = b.source_file AND a.source_line < b.source_line))
        AND coalesce(a.from_year, 0) <= coalesce(b.to_year, 9999)
        AND coalesce(b.from_year, 0) <= coalesce(a.to_year, 9999)
    WHERE a.reject IS NULL AND b.reject IS NULL
),
overlapped AS (
    SELECT DISTINCT source_file, source_line FROM pairs
),
overlaps AS (
    SELECT p.source_file, p.source_line,
        first_value(concat(p.a_file, ' line ', CAST(p.a_line AS VARCHAR)) ORDER BY p.a_file, p.a_line) AS earlier
    FROM pairs p
    LEFT JOIN overlapped o ON o.source_file = p.a_file AND o.source_line = p.a_line
    WHERE o.source_line IS NULL
    GROUP BY p.source_file, p.source_line
)
SELECT r.* EXCLUDE (reject, passed),
    CASE
        WHEN r.reject IS NULL AND o.earlier IS NOT NULL THEN named_struct('rule', 'membership_overlap', 'column', 'from_year',
            'message', concat('enterprise ', r.enterprise_id, ' is already a member of group ', r.group_id,
                ' in these years at ', o.earlier, '; give each period once'))
        ELSE r.reject
    END AS reject,
    concat_ws('; ', concat('group_id=', r.group_id_raw), concat('group_name=', r.group_name_raw),
        concat('kind=', r.kind_raw), concat('enterprise_id=', r.enterprise_id_raw),
        concat('from_year=', r.from_year_raw), concat('to_year=', r.to_year_raw)) AS raw_record
FROM r
LEFT JOIN overlaps o ON o.source_file = r.source_file AND o.source_line = r.source_line;

CREATE OR REPLACE VIEW groups_ok AS
SELECT source_file, source_line, group_id, group_name, kind, enterprise_id, from_year, to_year
FROM groups_checked
WHERE reject IS NULL;

CREATE OR REPLACE TABLE green_power_checked AS
WITH reporters AS (
    SELECT DISTINCT enterprise_id FROM record_key_sums
    WHERE input = 'energy' AND enterprise_id IS NOT NULL
),
n AS (
    SELECT
        g.source_file, g.source_line, g.row_error,
        g.enterprise_id AS enterprise_id_raw, g.year AS year_raw, g.quantity AS quantity_raw,
        g.unit AS unit_raw, g.kind AS kind_raw,
        clean_code(g.enterprise_id) AS enterprise_id,
        parse_year(g.year) AS year,
        parse_number(g.quantity) AS quantity,
        u.unit, u.dimension AS unit_dimension, u.to_base AS unit_to_base,
        CASE
            WHEN fold_key(g.kind) IN ('green_certificate', '绿证', '绿色电力证书') THEN 'green_certificate'
            WHEN fold_key(g.kind) IN ('green_power_trade', '绿电交易', '绿电', '绿色电力交易') THEN 'green_power_trade'
        END AS kind
    FROM raw_green_power g
    LEFT JOIN unit_lookup u ON u.alias = fold_key(g.unit)
),
c AS (
    SELECT n.*,
        CASE
            WHEN n.row_error IS NOT NULL THEN named_struct('rule', 'malformed_row', 'column', '',
                'message', concat(n.row_error, '; fix the quoting or the number of separators'))
            WHEN n.enterprise_id IS NULL THEN named_struct('rule', 'missing_value', 'column', 'enterprise_id',
                'message', 'enterprise_id is empty')
            WHEN nullif(trim(n.year_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'year',
                'message', 'year is empty')
            WHEN nullif(trim(n.quantity_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'quantity',
                'message', 'quantity is empty')
            WHEN nullif(trim(n.unit_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'unit',
                'message', 'unit is empty')
            WHEN nullif(trim(n.kind_raw), '') IS NULL THEN named_struct('rule', 'missing_value', 'column', 'kind',
                'message', 'kind is empty')
            WHEN uscc_error(n.enterprise_id) IS NOT NULL THEN named_struct(
                'rule', 'uscc_invalid', 'column', 'enterprise_id', 'message', uscc_error(n.enterprise_id))
            WHEN n.year IS NULL OR n.year NOT BETWEEN 1949 AND 2100 THEN named_struct('rule', 'period_invalid',
                'column', 'year', 'message', concat('year ''', n.year_raw, ''' is not a year between 1949 and 2100'))
            WHEN n.kind IS NULL THEN named_struct('rule', 'vocabulary_invalid', 'column', 'kind',
                'message', concat('kind ''', n.kind_raw, ''' is not green_certificate (绿证) or green_power_trade (绿电交易)'))
            WHEN n.unit IS NULL THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' is not a unit of the factor set; green power is electricity (kWh, 万千瓦时, MWh)'))
            WHEN n.unit_dimension <> 'electricity' THEN named_struct('rule', 'unit_invalid', 'column', 'unit',
                'message', concat('unit ''', n.unit_raw, ''' measures ', n.unit_dimension, '; green power is electricity (kWh, 万千瓦时, MWh)'))
            WHEN n.quantity IS NULL OR isnan(n.quantity) OR abs(n.quantity) > 1.7976931348623157e308 THEN named_struct(
                'rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ''', n.quantity_raw, ''' is not a finite number',
                    number_hint(n.quantity_raw)))
            -- more than 10^15 of the base unit: the records' bound (20_validate.sql)
            WHEN n.quantity * n.unit_to_base > 1e15 THEN named_struct('rule', 'quantity_invalid', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' ', n.unit_raw, ' is more than 10^15 ', 'kWh',
                    ' in one record, beyond any real quantity; check the unit and the decimal point'))
            WHEN n.quantity < 0 THEN named_struct('rule', 'quantity_negative', 'column', 'quantity',
                'message', concat('quantity ', n.quantity_raw, ' is negative; green power bought is a positive amount'))
            WHEN rp.enterprise_id IS NULL THEN named_struct('rule', 'enterprise_unknown', 'column', 'enterprise_id',
                'message', concat('enterprise ', n.enterprise_id, ' has no accepted record in the energy input: its green power has no consumption to count against; add its energy records or correct the code'))
        END AS reject
    FROM n
    LEFT JOIN reporters rp ON rp.enterprise_id = n.enterprise_id
),
d AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY passed, enterprise_id, year, kind ORDER BY source_file, source_line) AS key_rank,
        first_value(concat(source_file, ' line ', CAST(source_line AS VARCHAR)))
            OVER (PARTITION BY passed, enterprise_id, year, kind ORDER BY source_file, source_line) AS key_first
    FROM (SELECT c.*, reject IS NULL AS passed FROM c) c
)
SELECT d.* EXCLUDE (reject, passed, key_rank, key_first),
    CASE
        WHEN reject IS NULL AND key_rank > 1 THEN named_struct('rule', 'duplicate_key', 'column', 'kind',
            'message', concat(kind, ' of enterprise ', enterprise_id, ' for ', CAST(year AS VARCHAR),
                ' is already given at ', key_first, '; add the amounts into one row'))
        ELSE reject
    END AS reject,
    concat_ws('; ', concat('enterprise_id=', enterprise_id_raw), concat('year=', year_raw),
        concat('quantity=', quantity_raw), concat('unit=', unit_raw), concat('kind=', kind_raw)) AS raw_record
FROM d;

CREATE OR REPLACE VIEW green_power_ok AS
SELECT source_file, source_line, enterprise_id, year, quantity, unit, kind
FROM green_power_checked
WHERE reject IS NULL;
