-- 47_groups.sql — enterprises one by one, and the groups the plans steer:
-- zero-carbon parks, key energy-using units, any custom set.
--
-- enterprise_totals, per enterprise and year (records of the energy input,
-- process CO2 of its production rows):
--   energy_tce_equivalent = Σ tce (equivalent value: what the key-unit rule reads)
--   energy_tce            = Σ tce at equal value, beside it
--   co2_t                 = Σ direct + Σ indirect of its purchases (electricity
--                           bought × its province's grid factor, heat bought ×
--                           the heat factor); supply to others is not credited
--   co2_process_t         = Σ of its production rows (45_budget.sql)
--   key_energy_unit       = energy_tce_equivalent ≥ the factor set's
--                           key_energy_unit threshold (10 000 tce in cn-2026,
--                           重点用能单位节能管理办法), or listed in a key_units
--                           group that year
--   key_emitter           = co2_t + co2_process_t ≥ the key_emitter threshold
--                           (26 000 t in cn-2026)
-- NULL flags when the factor set has no criteria table.
--
-- group_members: per group, enterprise and year of the data, the memberships
-- in force (from_year ≤ year ≤ to_year, open ends open).
--
-- group_indicators, per group and year, from its members' records (kWh):
--   in, out          electricity the members bought, and supplied to others
--   self_nf          = max(hydro, wind, solar, nuclear generation − out, 0):
--                      non-fossil power the members used themselves
--   use              = in + self_nf: the electricity the group used
--   green_used       = Σ over members of min(its certified green power, its
--                      electricity bought): a member's certificates cover its
--                      own purchases only
--   co2_electricity_t = (in − green_used) / 1000 × the national grid factor
--                      excluding market-traded non-fossil power (the latest
--                      data year up to the year, else the earliest; the
--                      national average when the set has no such scope):
--                      certified green power counts at zero, electricity
--                      supplied to others earns no credit (its certificates
--                      belong to the buyer)
--   co2_t            = members' direct CO2 + co2_electricity_t + their net heat CO2
--   co2_per_tce      = co2_t / energy_tce_equivalent
--   clean_energy_share = (natural gas + biomass consumed + (green_used + self_nf)
--                      × the equal-value coal rate) / energy_consumed_tce, the
--                      members' consumption at equal value before deducting
--                      what they supply (NBS's 清洁能源: gas and non-fossil);
--                      at most 1 by construction
-- Electricity one member sells to another is in the buyer's purchases at the
-- grid factor while the seller's fuel is in direct CO2 (no netting inside a
-- group); heat likewise.
--   green_power_share = green_used / use
-- A zero-carbon park is judged by the factor set's criteria (applies_to
-- zero_carbon_park): the co2_per_tce limit of its energy band (none below the
-- lowest band), the minimum clean-energy share.
--
-- region_key_units: per region (every level) and year, the key energy-using
-- units that reported there, their energy at equivalent value, and the sum of
-- every reporter's energy floored at 0 (the base of their share).
--
-- Reads:  record_totals (30_emissions.sql), process_amounts (45_budget.sql),
--         groups_ok, green_power_ok (23_group_inputs.sql), criterion,
--         grid_factor, electricity_rates (15_factors.sql), region_closure.
-- Writes: enterprise_base, group_members,
--         enterprise_totals, key_unit_years, enterprise_region_energy,
--         region_key_units, group_base, group_grid_factor,
--         group_indicators (tables).

-- Every enterprise-year with energy records or production rows.
CREATE OR REPLACE TABLE enterprise_base AS
WITH energy AS (
    SELECT enterprise_id, year,
        min(enterprise_name) AS enterprise_name,
        min(region_code) AS region_code,
        min(sector_code) AS sector_code,
        sum(tce) AS energy_tce_equivalent,
        sum(tce_equal) AS energy_tce,
        sum(co2_direct_t) AS co2_direct_t,
        -- electricity and heat bought; what it supplies to others earns no
        -- credit here (a power plant's CO2 is what it burns)
        sum(CASE WHEN flow = 'consumption' THEN co2_indirect_t ELSE 0 END) AS co2_indirect_t,
        sum(records) AS records
    FROM record_totals
    WHERE input = 'energy'
    GROUP BY enterprise_id, year
),
process AS (
    SELECT enterprise_id, year, min(region_code) AS region_code, sum(co2_process_t) AS co2_process_t
    FROM process_amounts
    WHERE enterprise_id IS NOT NULL
    GROUP BY enterprise_id, year
)
SELECT coalesce(e.enterprise_id, p.enterprise_id) AS enterprise_id,
    coalesce(e.year, p.year) AS year,
    e.enterprise_name,
    coalesce(e.region_code, p.region_code) AS region_code,
    e.sector_code,
    CAST(coalesce(e.energy_tce_equivalent, 0) AS DOUBLE) AS energy_tce_equivalent,
    CAST(coalesce(e.energy_tce, 0) AS DOUBLE) AS energy_tce,
    CAST(coalesce(e.co2_direct_t, 0) AS DOUBLE) AS co2_direct_t,
    CAST(coalesce(e.co2_indirect_t, 0) AS DOUBLE) AS co2_indirect_t,
    CAST(coalesce(e.co2_direct_t + e.co2_indirect_t, 0) AS DOUBLE) AS co2_t,
    CAST(coalesce(p.co2_process_t, 0) AS DOUBLE) AS co2_process_t,
    CAST(coalesce(e.records, 0) AS BIGINT) AS records
FROM energy e
FULL OUTER JOIN process p ON p.enterprise_id = e.enterprise_id AND p.year = e.year;

-- The memberships in force in each year of the data.
CREATE OR REPLACE TABLE group_members AS
WITH years AS (
    SELECT DISTINCT year FROM record_totals
)
SELECT g.group_id, g.group_name, g.kind, g.enterprise_id, y.year, g.source_file, g.source_line
FROM groups_ok g
JOIN years y ON y.year BETWEEN coalesce(g.from_year, 0) AND coalesce(g.to_year, 9999);

-- Per enterprise and year: its totals and its flags, in one pass over
-- enterprise_base (one row per enterprise and year; the thresholds and the
-- group lists are small). Not the flags as a table of their own joined back
-- to enterprise_base: that join's hash table held every enterprise-year,
-- 1.5 GB at 10^9 input rows, more than engine.memory_limit
-- (docs/benchmarks.md, session 11).
CREATE OR REPLACE TABLE enterprise_totals AS
WITH t AS (
    SELECT
        max(CASE WHEN criterion = 'key_energy_unit' THEN threshold END) AS key_unit_tce,
        max(CASE WHEN criterion = 'key_emitter' THEN threshold END) AS key_emitter_t
    FROM criterion
),
listed AS (
    SELECT enterprise_id, year, string_agg(DISTINCT group_id, ',' ORDER BY group_id) AS key_groups
    FROM group_members WHERE kind = 'key_units'
    GROUP BY enterprise_id, year
),
member_of AS (
    SELECT enterprise_id, year, string_agg(DISTINCT group_id, ',' ORDER BY group_id) AS groups
    FROM group_members
    GROUP BY enterprise_id, year
)
SELECT b.enterprise_id, b.enterprise_name, b.region_code, b.sector_code, b.year,
    b.energy_tce_equivalent, b.energy_tce, b.co2_direct_t, b.co2_indirect_t, b.co2_t, b.co2_process_t,
    CASE WHEN t.key_unit_tce IS NULL AND l.key_groups IS NULL THEN NULL
         ELSE coalesce(b.energy_tce_equivalent >= t.key_unit_tce, false) OR l.key_groups IS NOT NULL END AS key_energy_unit,
    concat_ws(', ',
        CASE WHEN b.energy_tce_equivalent >= t.key_unit_tce THEN concat('≥ ', CAST(CAST(round(t.key_unit_tce) AS BIGINT) AS VARCHAR), ' tce') END,
        CASE WHEN l.key_groups IS NOT NULL THEN concat('listed in ', l.key_groups) END) AS key_energy_unit_basis,
    b.co2_t + b.co2_process_t >= t.key_emitter_t AS key_emitter,
    coalesce(m.groups, '') AS groups,
    CAST(b.records AS INT) AS records
FROM enterprise_base b
CROSS JOIN t
LEFT JOIN listed l ON l.enterprise_id = b.enterprise_id AND l.year = b.year
LEFT JOIN member_of m ON m.enterprise_id = b.enterprise_id AND m.year = b.year;

-- The enterprise-years that are key energy-using units, and every
-- enterprise's energy per year and region it reported in (the energy
-- input's records summed): two tables, so that the join below is planned on
-- their row counts. Joined as views, the record side's size was a guess and
-- DataFusion built its hash table from the records (60 MB at 10^7 input
-- rows; at 10^9 it failed under engine.memory_limit, docs/benchmarks.md,
-- session 12). As tables, the key units (at most one row per enterprise and
-- year) are the side held in memory.
CREATE OR REPLACE TABLE key_unit_years AS
SELECT enterprise_id, year
FROM enterprise_totals
WHERE key_energy_unit;

CREATE OR REPLACE TABLE enterprise_region_energy AS
SELECT enterprise_id, year, region_code, sum(tce) AS tce
FROM record_totals
WHERE input = 'energy'
GROUP BY enterprise_id, year, region_code;

-- Per region (every level) and year: the key energy-using units that
-- reported there (an enterprise reporting from two regions counts once for
-- each ancestor of them) and their energy at equivalent value. The sums are
-- taken per region first and then per ancestor (exact: DECIMAL), so the
-- joins with region_closure are joins of regions, not of reporters.
CREATE OR REPLACE TABLE region_key_units AS
WITH k AS (
    SELECT e.region_code, e.year, e.enterprise_id, e.tce
    FROM enterprise_region_energy e
    JOIN key_unit_years f ON f.enterprise_id = e.enterprise_id AND f.year = e.year
),
per_ancestor AS (
    SELECT DISTINCT a.ancestor_code AS region_code, k.year, k.enterprise_id
    FROM k JOIN region_closure a ON a.region_code = k.region_code
),
energy AS (
    SELECT a.ancestor_code AS region_code, r.year, sum(r.tce) AS tce
    FROM (SELECT region_code, year, sum(tce) AS tce FROM k GROUP BY region_code, year) r
    JOIN region_closure a ON a.region_code = r.region_code
    GROUP BY a.ancestor_code, r.year
),
-- the base of the key units' share: each reporter's (enterprise's, or a
-- sector statistic's) comprehensive consumption, at least 0 — a wind farm
-- that supplies more than it consumes does not shrink the base below the
-- key units' own energy (the share stays within 0-1). An enterprise's is
-- its row of enterprise_region_energy (every record with an enterprise is
-- of the energy input, 20_validate.sql), a sector's is summed here.
reporters AS (
    SELECT a.ancestor_code AS region_code, r.year, sum(r.tce) AS tce
    FROM (
        SELECT region_code, year, sum(greatest(tce, 0)) AS tce
        FROM (
            SELECT region_code, year, tce FROM enterprise_region_energy
            UNION ALL
            SELECT region_code, year, sum(tce) AS tce
            FROM record_totals
            WHERE input = 'sector_energy'
            GROUP BY region_code, year, sector_code
        ) per_reporter
        GROUP BY region_code, year
    ) r
    JOIN region_closure a ON a.region_code = r.region_code
    GROUP BY a.ancestor_code, r.year
)
SELECT p.region_code, p.year, CAST(count(*) AS INT) AS key_energy_units, max(e.tce) AS key_units_tce_equivalent,
    max(rp.tce) AS reporters_tce_equivalent
FROM per_ancestor p
JOIN energy e ON e.region_code = p.region_code AND e.year = p.year
JOIN reporters rp ON rp.region_code = p.region_code AND rp.year = p.year
GROUP BY p.region_code, p.year;

-- Per group and year: the members' records summed (kWh kept apart).
CREATE OR REPLACE TABLE group_base AS
WITH members AS (
    SELECT group_id, year, min(group_name) AS group_name, min(kind) AS kind, count(*) AS members
    FROM group_members GROUP BY group_id, year
),
r AS (
    SELECT m.group_id, m.year,
        count(DISTINCT t.enterprise_id) AS members_reporting,
        sum(t.tce) AS energy_tce_equivalent,
        sum(t.tce_equal) AS energy_tce,
        sum(CASE WHEN t.flow = 'consumption' THEN t.tce_equal ELSE 0 END) AS energy_consumed_tce,
        sum(t.co2_direct_t) AS co2_direct_t,
        sum(CASE WHEN t.category = 'heat' AND t.flow = 'consumption' THEN t.co2_indirect_t ELSE 0 END) AS co2_heat_t,
        sum(CASE WHEN t.category = 'electricity' AND t.flow = 'consumption' THEN t.quantity_base ELSE 0 END) AS in_kwh,
        sum(CASE WHEN t.category = 'electricity' AND t.flow = 'output' THEN t.quantity_base ELSE 0 END) AS out_kwh,
        sum(CASE WHEN t.category = 'non_fossil' AND t.tce_method = 'electricity'
            THEN CASE t.flow WHEN 'output' THEN -t.quantity_base ELSE t.quantity_base END ELSE 0 END) AS gen_nf_kwh,
        sum(CASE WHEN t.flow = 'consumption' AND (t.category = 'gas' OR (t.category = 'non_fossil' AND t.tce_method <> 'electricity'))
            THEN t.tce_equal ELSE 0 END) AS clean_fuel_tce
    FROM group_members m
    JOIN record_totals t ON t.enterprise_id = m.enterprise_id AND t.year = m.year AND t.input = 'energy'
    GROUP BY m.group_id, m.year
),
p AS (
    SELECT m.group_id, m.year, sum(a.co2_process_t) AS co2_process_t
    FROM group_members m
    JOIN process_amounts a ON a.enterprise_id = m.enterprise_id AND a.year = m.year
    GROUP BY m.group_id, m.year
),
-- each member's certified green power, and the part that covers its own
-- purchases (one member's certificates do not cover another's power)
member_green AS (
    SELECT gp.enterprise_id, gp.year, sum(CAST(gp.quantity * u.to_base AS DECIMAL(38, 6))) AS green_kwh
    FROM green_power_ok gp
    JOIN unit_catalog u ON u.unit = gp.unit
    GROUP BY gp.enterprise_id, gp.year
),
member_in AS (
    SELECT enterprise_id, year,
        sum(CASE WHEN category = 'electricity' AND flow = 'consumption' THEN quantity_base ELSE 0 END) AS in_kwh
    FROM record_totals
    WHERE input = 'energy'
    GROUP BY enterprise_id, year
),
g AS (
    SELECT m.group_id, m.year, sum(mg.green_kwh) AS green_kwh,
        sum(least(mg.green_kwh, coalesce(mi.in_kwh, 0))) AS green_used_kwh
    FROM group_members m
    JOIN member_green mg ON mg.enterprise_id = m.enterprise_id AND mg.year = m.year
    LEFT JOIN member_in mi ON mi.enterprise_id = m.enterprise_id AND mi.year = m.year
    GROUP BY m.group_id, m.year
)
SELECT m.group_id, m.group_name, m.kind, m.year, CAST(m.members AS INT) AS members,
    CAST(coalesce(r.members_reporting, 0) AS INT) AS members_reporting,
    CAST(coalesce(r.energy_tce_equivalent, 0) AS DOUBLE) AS energy_tce_equivalent,
    CAST(coalesce(r.energy_tce, 0) AS DOUBLE) AS energy_tce,
    CAST(coalesce(r.energy_consumed_tce, 0) AS DOUBLE) AS energy_consumed_tce,
    CAST(coalesce(r.co2_direct_t, 0) AS DOUBLE) AS co2_direct_t,
    CAST(coalesce(r.co2_heat_t, 0) AS DOUBLE) AS co2_heat_t,
    CAST(coalesce(r.in_kwh, 0) AS DOUBLE) AS in_kwh,
    CAST(coalesce(r.out_kwh, 0) AS DOUBLE) AS out_kwh,
    CAST(coalesce(r.gen_nf_kwh, 0) AS DOUBLE) AS gen_nf_kwh,
    CAST(coalesce(r.clean_fuel_tce, 0) AS DOUBLE) AS clean_fuel_tce,
    CAST(coalesce(p.co2_process_t, 0) AS DOUBLE) AS co2_process_t,
    CAST(coalesce(g.green_kwh, 0) AS DOUBLE) AS green_kwh,
    CAST(coalesce(g.green_used_kwh, 0) AS DOUBLE) AS green_used_kwh
FROM members m
LEFT JOIN r ON r.group_id = m.group_id AND r.year = m.year
LEFT JOIN p ON p.group_id = m.group_id AND p.year = m.year
LEFT JOIN g ON g.group_id = m.group_id AND g.year = m.year;

-- The grid factor of the power a group buys, per year: the national factor
-- excluding market-traded non-fossil power of the latest data year up to
-- the year (else the earliest), the national average when the set has no
-- such scope. Keyed by year for lookup(…).
CREATE OR REPLACE TABLE group_grid_factor AS
WITH years AS (
    SELECT DISTINCT year FROM group_base
),
x AS (
    SELECT y.year, coalesce(max(CASE WHEN f.data_year <= y.year THEN f.data_year END), min(f.data_year)) AS data_year
    FROM years y
    JOIN grid_factor f ON f.scope = 'national_excl_market_nonfossil' AND f.area_code = 'CN'
    GROUP BY y.year
),
n AS (
    SELECT y.year, coalesce(max(CASE WHEN f.data_year <= y.year THEN f.data_year END), min(f.data_year)) AS data_year
    FROM years y
    JOIN grid_factor f ON f.scope = 'national' AND f.area_code = 'CN'
    GROUP BY y.year
)
SELECT y.year,
    coalesce(fx.tco2_per_mwh, fn.tco2_per_mwh) AS grid_factor,
    coalesce(fx.data_year, fn.data_year) AS grid_factor_year,
    CASE WHEN fx.tco2_per_mwh IS NOT NULL THEN 'national_excl_market_nonfossil CN' ELSE 'national CN' END AS grid_factor_scope,
    coalesce(fx.source_id, fn.source_id) AS grid_factor_source_id,
    coalesce(fx.quality, fn.quality) AS grid_factor_quality
FROM years y
LEFT JOIN x ON x.year = y.year
LEFT JOIN grid_factor fx ON fx.scope = 'national_excl_market_nonfossil' AND fx.area_code = 'CN' AND fx.data_year = x.data_year
LEFT JOIN n ON n.year = y.year
LEFT JOIN grid_factor fn ON fn.scope = 'national' AND fn.area_code = 'CN' AND fn.data_year = n.data_year;

-- (a table: the dataset query then only reads and sorts it)
CREATE OR REPLACE TABLE group_indicators AS
WITH k AS (
    SELECT b.*,
        get_field(lookup('group_grid_factor', b.year), 'grid_factor') AS grid_factor,
        get_field(lookup('group_grid_factor', b.year), 'grid_factor_year') AS grid_factor_year,
        get_field(lookup('group_grid_factor', b.year), 'grid_factor_scope') AS grid_factor_scope,
        get_field(lookup('group_grid_factor', b.year), 'grid_factor_source_id') AS grid_factor_source_id,
        get_field(lookup('group_grid_factor', b.year), 'grid_factor_quality') AS grid_factor_quality,
        get_field(lookup('electricity_rates', b.year), 'equal_tce_per_kwh') AS rate_equal,
        -- non-fossil generation the members did not supply to others
        greatest(b.gen_nf_kwh - b.out_kwh, 0) AS self_nf_kwh
    FROM group_base b
),
e AS (
    SELECT k.*,
        k.in_kwh + k.self_nf_kwh AS use_kwh,
        (k.in_kwh - k.green_used_kwh) / 1000.0 * k.grid_factor AS co2_electricity_t,
        k.green_used_kwh + k.self_nf_kwh AS clean_kwh
    FROM k
),
c AS (
    SELECT e.*,
        e.co2_direct_t + e.co2_electricity_t + e.co2_heat_t AS co2_t,
        e.clean_fuel_tce + e.clean_kwh * e.rate_equal AS clean_energy_tce
    FROM e
),
s AS (
    SELECT c.*,
        c.co2_t / nullif(c.energy_tce_equivalent, 0) AS co2_per_tce,
        c.clean_energy_tce / nullif(c.energy_consumed_tce, 0) AS clean_energy_share,
        c.green_used_kwh / nullif(c.use_kwh, 0) AS green_power_share
    FROM c
),
crit AS (
    SELECT s.group_id, s.year,
        max(CASE WHEN cr.indicator = 'co2_per_tce' THEN cr.threshold END) AS co2_per_tce_limit,
        max(CASE WHEN cr.indicator = 'clean_energy_share' THEN cr.threshold END) AS clean_energy_share_min,
        string_agg(DISTINCT cr.source_id, ',' ORDER BY cr.source_id) AS criteria_source
    FROM s
    JOIN criterion cr ON cr.applies_to = 'zero_carbon_park'
        AND s.energy_tce_equivalent >= coalesce(cr.band_from_tce, -1e300)
        AND s.energy_tce_equivalent < coalesce(cr.band_to_tce, 1e300)
    WHERE s.kind = 'zero_carbon_park'
    GROUP BY s.group_id, s.year
)
SELECT s.group_id, s.group_name, s.kind, s.year, s.members, s.members_reporting,
    s.energy_tce_equivalent, s.energy_tce, s.energy_consumed_tce, s.co2_direct_t, s.co2_electricity_t, s.co2_heat_t, s.co2_t,
    s.co2_process_t, s.co2_per_tce,
    s.in_kwh AS electricity_in_kwh, s.out_kwh AS electricity_out_kwh, s.gen_nf_kwh AS non_fossil_generation_kwh,
    s.use_kwh AS electricity_use_kwh, s.green_kwh AS green_power_kwh, s.green_used_kwh AS green_power_used_kwh,
    s.clean_energy_tce, s.clean_energy_share, s.green_power_share,
    s.grid_factor, s.grid_factor_year, s.grid_factor_scope, s.grid_factor_source_id, s.grid_factor_quality,
    cr.co2_per_tce_limit,
    CASE WHEN cr.co2_per_tce_limit IS NULL OR s.co2_per_tce IS NULL THEN ''
         WHEN s.co2_per_tce <= cr.co2_per_tce_limit THEN 'pass' ELSE 'fail' END AS co2_per_tce_check,
    cr.clean_energy_share_min,
    CASE WHEN cr.clean_energy_share_min IS NULL OR s.clean_energy_share IS NULL THEN ''
         WHEN s.clean_energy_share >= cr.clean_energy_share_min THEN 'pass' ELSE 'fail' END AS clean_energy_share_check,
    coalesce(cr.criteria_source, '') AS criteria_source
FROM s
LEFT JOIN crit cr ON cr.group_id = s.group_id AND cr.year = s.year;
