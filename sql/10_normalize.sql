-- 10_normalize.sql — from the raw text of every input to trimmed, resolved,
-- parsed values. Nothing is dropped or decided here: every raw row comes out
-- exactly once, with its raw text beside the parsed value, so that
-- 20_validate.sql can say precisely what was wrong with a row.
--
-- Reads:  raw_energy, raw_sector_energy, raw_gdp, raw_regions, raw_targets
--         (all columns as text, plus source_file, source_line, row_error),
--         energy_alias, energy_catalog, unit_alias, unit_catalog (factor set).
-- Writes: energy_lookup, unit_lookup (tables), regions_norm, gdp_norm,
--         targets_norm, records_raw, records_norm (views).
--
-- Conventions: an empty or blank cell is a missing value (NULL); codes keep
-- their leading zeros (they are never numbers); numbers may carry thousands
-- separators ("1,234.5"); energy and unit names match the factor set's aliases
-- case-insensitively (原煤 = raw_coal, 万千瓦时 = 10^4 kWh).

CREATE OR REPLACE VIEW regions_norm AS
SELECT
    source_file,
    source_line,
    row_error,
    region_code AS region_code_raw,
    name AS name_raw,
    parent_code AS parent_code_raw,
    level AS level_raw,
    nullif(trim(region_code), '') AS region_code,
    nullif(trim(name), '') AS name,
    nullif(trim(parent_code), '') AS parent_code,
    CASE lower(nullif(trim(level), ''))
        WHEN '国家' THEN 'country'
        WHEN '省' THEN 'province'
        WHEN '市' THEN 'city'
        WHEN '县' THEN 'county'
        WHEN '乡镇' THEN 'town'
        ELSE lower(nullif(trim(level), ''))
    END AS level
FROM raw_regions;

CREATE OR REPLACE VIEW gdp_norm AS
SELECT
    source_file,
    source_line,
    row_error,
    region_code AS region_code_raw,
    year AS year_raw,
    gdp AS gdp_raw,
    gdp_index AS gdp_index_raw,
    nullif(trim(region_code), '') AS region_code,
    parse_year(year) AS year,
    parse_number(gdp) AS gdp,
    parse_number(gdp_index) AS gdp_index
FROM raw_gdp;

CREATE OR REPLACE VIEW targets_norm AS
SELECT
    source_file,
    source_line,
    row_error,
    region_code AS region_code_raw,
    plan AS plan_raw,
    base_year AS base_year_raw,
    target_year AS target_year_raw,
    indicator AS indicator_raw,
    value AS value_raw,
    nullif(trim(region_code), '') AS region_code,
    nullif(trim(plan), '') AS plan,
    parse_year(base_year) AS base_year,
    parse_year(target_year) AS target_year,
    lower(nullif(trim(indicator), '')) AS indicator,
    parse_number(value) AS value
FROM raw_targets;

-- Enterprise records and sector statistics share one shape: a sector_energy
-- row is a record without an enterprise and without a month.
CREATE OR REPLACE VIEW records_raw AS
SELECT
    'energy' AS input,
    source_file, source_line, row_error,
    enterprise_id, enterprise_name, region_code, sector_code, year, month,
    energy_code, use, flow, quantity, unit
FROM raw_energy
UNION ALL
SELECT
    'sector_energy' AS input,
    source_file, source_line, row_error,
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), region_code, sector_code, year,
    CAST(NULL AS VARCHAR),
    energy_code, use, flow, quantity, unit
FROM raw_sector_energy;

-- Every alias of an energy and of a unit with what the row rules need of it
-- (small tables: each record is looked up once in each, records_norm below).
CREATE OR REPLACE TABLE energy_lookup AS
SELECT a.alias, e.energy_code, e.dimension, e.base_unit, e.fossil
FROM energy_alias a
JOIN energy_catalog e ON e.energy_code = a.energy_code
WHERE a.alias <> '';

CREATE OR REPLACE TABLE unit_lookup AS
SELECT a.alias, u.unit, u.dimension, u.to_base
FROM unit_alias a
JOIN unit_catalog u ON u.unit = a.unit
WHERE a.alias <> '';

-- An energy or unit is looked up by its folded name: lookup(table, key) is
-- the row of the small table whose first column equals the key, as a struct
-- (NULL when none does): a LEFT JOIN on a unique key without copying the
-- record row (lib/src/engine/lookup.rs).
CREATE OR REPLACE VIEW records_norm AS
WITH k AS (
    SELECT
        input,
        source_file,
        source_line,
        row_error,
        -- the raw text, as the user wrote it
        enterprise_id AS enterprise_id_raw,
        enterprise_name AS enterprise_name_raw,
        region_code AS region_code_raw,
        sector_code AS sector_code_raw,
        year AS year_raw,
        month AS month_raw,
        energy_code AS energy_code_raw,
        use AS use_raw,
        flow AS flow_raw,
        quantity AS quantity_raw,
        unit AS unit_raw,
        lookup('energy_lookup', fold_key(energy_code)) AS energy_found,
        lookup('unit_lookup', fold_key(unit)) AS unit_found
    FROM records_raw
)
SELECT k.* EXCLUDE (energy_found, unit_found),
    -- parsed and resolved values (NULL where the text does not parse or
    -- resolve). The records are the bulk of the input: clean_code,
    -- parse_number and fold_key are built-in expressions in one pass each;
    -- parse_year and parse_month also read `2025年`, `3月份` and full-width
    -- digits, as the period column does (lib/src/engine/text.rs spells out
    -- each one's built-ins).
    clean_code(enterprise_id_raw) AS enterprise_id,
    nullif(trim(enterprise_name_raw), '') AS enterprise_name,
    nullif(trim(region_code_raw), '') AS region_code,
    clean_code(sector_code_raw) AS sector_code,
    parse_year(year_raw) AS year,
    parse_month(month_raw) AS month,
    get_field(energy_found, 'energy_code') AS energy_code,
    get_field(energy_found, 'dimension') AS energy_dimension,
    get_field(energy_found, 'base_unit') AS energy_base_unit,
    get_field(energy_found, 'fossil') AS energy_fossil,
    -- the canonical words first: one comparison for almost every row
    CASE
        WHEN use_raw = 'fuel' THEN 'fuel'
        WHEN use_raw = 'feedstock' THEN 'feedstock'
        WHEN use_raw = 'transformation' THEN 'transformation'
        WHEN nullif(trim(use_raw), '') IS NULL THEN 'fuel'
        WHEN lower(trim(use_raw)) IN ('fuel', '燃料', '燃料用', '燃料用能') THEN 'fuel'
        WHEN lower(trim(use_raw)) IN ('feedstock', '原料', '原料用', '原料用能') THEN 'feedstock'
        WHEN lower(trim(use_raw)) IN ('transformation', '加工转换', '加工转换投入', '加工转换产出', '转换') THEN 'transformation'
    END AS use,
    CASE
        WHEN flow_raw = 'consumption' THEN 'consumption'
        WHEN flow_raw = 'output' THEN 'output'
        WHEN nullif(trim(flow_raw), '') IS NULL THEN 'consumption'
        WHEN lower(trim(flow_raw)) IN ('consumption', '消费', '消费量') THEN 'consumption'
        WHEN lower(trim(flow_raw)) IN ('output', '输出', '外供', '产出', '供出') THEN 'output'
    END AS flow,
    parse_number(quantity_raw) AS quantity,
    get_field(unit_found, 'unit') AS unit,
    get_field(unit_found, 'dimension') AS unit_dimension,
    get_field(unit_found, 'to_base') AS unit_to_base,
    -- the row as written, as its columns (a struct of the raw text columns,
    -- no copy: 27_key_rules.sql spells it as one text for rejected rows
    -- only; spelling it here cost 1.3 µs per row for every row)
    named_struct('enterprise_id', enterprise_id_raw, 'enterprise_name', enterprise_name_raw,
        'region_code', region_code_raw, 'sector_code', sector_code_raw, 'year', year_raw,
        'month', month_raw, 'energy_code', energy_code_raw, 'use', use_raw, 'flow', flow_raw,
        'quantity', quantity_raw, 'unit', unit_raw) AS written
FROM k;
