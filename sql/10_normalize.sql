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
    try_cast(nullif(trim(year), '') AS INT) AS year,
    try_cast(replace(nullif(trim(gdp), ''), ',', '') AS DOUBLE) AS gdp,
    try_cast(replace(nullif(trim(gdp_index), ''), ',', '') AS DOUBLE) AS gdp_index
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
    try_cast(nullif(trim(base_year), '') AS INT) AS base_year,
    try_cast(nullif(trim(target_year), '') AS INT) AS target_year,
    lower(nullif(trim(indicator), '')) AS indicator,
    try_cast(replace(nullif(trim(value), ''), ',', '') AS DOUBLE) AS value
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
-- (small tables: each record is looked up once in each).
CREATE OR REPLACE TABLE energy_lookup AS
SELECT a.alias, e.energy_code, e.dimension, e.base_unit, e.fossil
FROM energy_alias a
JOIN energy_catalog e ON e.energy_code = a.energy_code
WHERE a.alias <> '';

CREATE OR REPLACE TABLE unit_lookup AS
SELECT a.alias, u.unit, u.dimension
FROM unit_alias a
JOIN unit_catalog u ON u.unit = a.unit
WHERE a.alias <> '';

CREATE OR REPLACE VIEW records_norm AS
SELECT
    r.input,
    r.source_file,
    r.source_line,
    r.row_error,
    -- the raw text, as the user wrote it
    r.enterprise_id AS enterprise_id_raw,
    r.enterprise_name AS enterprise_name_raw,
    r.region_code AS region_code_raw,
    r.sector_code AS sector_code_raw,
    r.year AS year_raw,
    r.month AS month_raw,
    r.energy_code AS energy_code_raw,
    r.use AS use_raw,
    r.flow AS flow_raw,
    r.quantity AS quantity_raw,
    r.unit AS unit_raw,
    -- parsed and resolved values (NULL where the text does not parse or
    -- resolve). The records are the bulk of the input: clean_code, parse_int,
    -- parse_number and fold_key are the built-in expressions of the other
    -- views in one pass each (lib/src/text.rs spells out which).
    clean_code(r.enterprise_id) AS enterprise_id,
    nullif(trim(r.enterprise_name), '') AS enterprise_name,
    nullif(trim(r.region_code), '') AS region_code,
    clean_code(r.sector_code) AS sector_code,
    parse_int(r.year) AS year,
    parse_int(r.month) AS month,
    ea.energy_code,
    ea.dimension AS energy_dimension,
    ea.base_unit AS energy_base_unit,
    ea.fossil AS energy_fossil,
    -- the canonical words first: one comparison for almost every row
    CASE
        WHEN r.use = 'fuel' THEN 'fuel'
        WHEN r.use = 'feedstock' THEN 'feedstock'
        WHEN nullif(trim(r.use), '') IS NULL THEN 'fuel'
        WHEN lower(trim(r.use)) IN ('fuel', '燃料', '燃料用', '燃料用能') THEN 'fuel'
        WHEN lower(trim(r.use)) IN ('feedstock', '原料', '原料用', '原料用能') THEN 'feedstock'
    END AS use,
    CASE
        WHEN r.flow = 'consumption' THEN 'consumption'
        WHEN r.flow = 'output' THEN 'output'
        WHEN nullif(trim(r.flow), '') IS NULL THEN 'consumption'
        WHEN lower(trim(r.flow)) IN ('consumption', '消费', '消费量') THEN 'consumption'
        WHEN lower(trim(r.flow)) IN ('output', '输出', '外供', '产出', '供出') THEN 'output'
    END AS flow,
    parse_number(r.quantity) AS quantity,
    ua.unit,
    ua.dimension AS unit_dimension
FROM records_raw r
LEFT JOIN energy_lookup ea ON ea.alias = fold_key(r.energy_code)
LEFT JOIN unit_lookup ua ON ua.alias = fold_key(r.unit);
