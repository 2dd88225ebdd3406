-- 50_indicators.sql — GDP at constant prices, intensities, change rates, shares.
--
--   gdp_const_t      = GDP_base (current prices) × Π_{y = base+1 .. t} (gdp_index_y / 100)
--                      (for t < base: GDP_base ÷ Π_{y = t+1 .. base} (gdp_index_y / 100));
--                      a missing year or index breaks the chain: later years get NULL
--   energy_intensity = energy_tce / (gdp_const × 10^4)   tce per 10^4 yuan (gdp is in 10^8 yuan)
--   energy_intensity_controlled = (energy_tce − feedstock_tce − non_fossil_tce) / (gdp_const × 10^4)
--   co2_intensity    = co2_t / (gdp_const × 10^4)        t CO2 per 10^4 yuan
--   *_change_yoy     = I_t / I_{t−1} − 1, both rounded to 4 decimals first when
--                      nbs_rounding is on (NBS practice); NULL without year t−1
--   *_change_base    = I_t / I_base − 1, rounded the same way
--   energy_mix_tce   = coal + oil + gas + non-fossil + max(0, net electricity + net heat):
--                      the energy the region burnt or used itself plus what it
--                      imported; electricity and heat it exports are not deducted
--                      here (the coal that made them was burnt in the region and
--                      stays in coal_tce), so the shares of a power-exporting
--                      region stay within 0-1 and add up with the import share
--   coal_share, non_fossil_share = part / energy_mix_tce
--   high_energy_share = high_energy_tce / energy_tce (both comprehensive consumption)
--
-- Reads:  gdp_ok, region_energy, regions_ok, run_params.
-- Writes: gdp_const_forward, gdp_const_backward, region_intensity (tables),
--         gdp_const, region_indicators (views).

CREATE OR REPLACE TABLE gdp_const_forward AS
WITH RECURSIVE chain(region_code, year, gdp_const) AS (
    SELECT g.region_code, g.year, g.gdp
    FROM gdp_ok g JOIN run_params p ON g.year = p.base_year
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * g.gdp_index / 100.0
    FROM chain c
    JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year + 1
    WHERE g.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM chain;

-- Years before the base year: divide by the index of the year after.
CREATE OR REPLACE TABLE gdp_const_backward AS
WITH RECURSIVE chain(region_code, year, gdp_const, gdp_index) AS (
    SELECT g.region_code, g.year, g.gdp, g.gdp_index
    FROM gdp_ok g JOIN run_params p ON g.year = p.base_year
    UNION ALL
    SELECT g.region_code, g.year, c.gdp_const * 100.0 / c.gdp_index, g.gdp_index
    FROM chain c
    JOIN gdp_ok g ON g.region_code = c.region_code AND g.year = c.year - 1
    WHERE c.gdp_index IS NOT NULL
)
SELECT region_code, year, gdp_const FROM chain;

CREATE OR REPLACE VIEW gdp_const AS
SELECT region_code, year, gdp_const FROM gdp_const_forward
UNION ALL
SELECT b.region_code, b.year, b.gdp_const
FROM gdp_const_backward b CROSS JOIN run_params p
WHERE b.year < p.base_year;

-- Region-year rows with their intensities, rounded as the change rates use
-- them: small (regions × years) at any scale, so kept as a table and joined to
-- itself for the previous and the base year.
CREATE OR REPLACE TABLE region_intensity AS
WITH e AS (
    SELECT
        region_code, year,
        CAST(energy_tce AS DOUBLE) AS energy_tce,
        CAST(energy_tce - feedstock_tce - non_fossil_tce AS DOUBLE) AS energy_tce_controlled,
        CAST(feedstock_tce AS DOUBLE) AS feedstock_tce,
        CAST(non_fossil_tce AS DOUBLE) AS non_fossil_tce,
        CAST(coal_tce AS DOUBLE) AS coal_tce,
        CAST(oil_tce AS DOUBLE) AS oil_tce,
        CAST(gas_tce AS DOUBLE) AS gas_tce,
        CAST(electricity_tce AS DOUBLE) AS electricity_tce,
        CAST(heat_tce AS DOUBLE) AS heat_tce,
        CAST(high_energy_tce AS DOUBLE) AS high_energy_tce,
        CAST(coal_tce + oil_tce + gas_tce + non_fossil_tce
             + CASE WHEN electricity_tce + heat_tce > 0 THEN electricity_tce + heat_tce ELSE 0 END
             AS DOUBLE) AS energy_mix_tce,
        CAST(co2_direct_t + co2_indirect_t AS DOUBLE) AS co2_t,
        CAST(co2_direct_t AS DOUBLE) AS co2_direct_t,
        CAST(co2_indirect_t AS DOUBLE) AS co2_indirect_t,
        CAST(enterprises AS INT) AS enterprises,
        CAST(records AS BIGINT) AS records
    FROM region_energy
),
i AS (
    SELECT e.*,
        rg.name AS region_name,
        rg.level,
        g.gdp,
        gc.gdp_const,
        e.energy_tce / (gc.gdp_const * 10000) AS energy_intensity,
        e.energy_tce_controlled / (gc.gdp_const * 10000) AS energy_intensity_controlled,
        e.co2_t / (gc.gdp_const * 10000) AS co2_intensity
    FROM e
    JOIN regions_ok rg ON rg.region_code = e.region_code
    LEFT JOIN gdp_ok g ON g.region_code = e.region_code AND g.year = e.year
    LEFT JOIN gdp_const gc ON gc.region_code = e.region_code AND gc.year = e.year
),
-- the intensities the change rates are computed from (NBS: 4 decimals first)
r AS (
    SELECT i.*,
        CASE WHEN p.nbs_rounding THEN round(energy_intensity, 4) ELSE energy_intensity END AS ei_r,
        CASE WHEN p.nbs_rounding THEN round(energy_intensity_controlled, 4) ELSE energy_intensity_controlled END AS eic_r,
        CASE WHEN p.nbs_rounding THEN round(co2_intensity, 4) ELSE co2_intensity END AS ci_r,
        p.base_year,
        p.factor_set
    -- the one-row table on the left: the cross join then streams i in batches
    FROM run_params p CROSS JOIN i
)
SELECT * FROM r;

CREATE OR REPLACE VIEW region_indicators AS
SELECT
    r.region_code, r.region_name, r.level, r.year,
    r.energy_tce, r.energy_tce_controlled, r.feedstock_tce, r.non_fossil_tce,
    r.coal_tce, r.oil_tce, r.gas_tce, r.electricity_tce, r.heat_tce, r.high_energy_tce, r.energy_mix_tce,
    r.co2_t, r.co2_direct_t, r.co2_indirect_t,
    r.gdp, r.gdp_const,
    r.energy_intensity, r.energy_intensity_controlled, r.co2_intensity,
    r.ei_r / nullif(prev.ei_r, 0) - 1 AS energy_intensity_change_yoy,
    r.eic_r / nullif(prev.eic_r, 0) - 1 AS energy_intensity_controlled_change_yoy,
    r.ci_r / nullif(prev.ci_r, 0) - 1 AS co2_intensity_change_yoy,
    r.ei_r / nullif(base.ei_r, 0) - 1 AS energy_intensity_change_base,
    r.eic_r / nullif(base.eic_r, 0) - 1 AS energy_intensity_controlled_change_base,
    r.ci_r / nullif(base.ci_r, 0) - 1 AS co2_intensity_change_base,
    r.coal_tce / nullif(r.energy_mix_tce, 0) AS coal_share,
    r.non_fossil_tce / nullif(r.energy_mix_tce, 0) AS non_fossil_share,
    r.high_energy_tce / nullif(r.energy_tce, 0) AS high_energy_share,
    r.enterprises, r.records,
    r.factor_set
FROM region_intensity r
LEFT JOIN region_intensity prev ON prev.region_code = r.region_code AND prev.year = r.year - 1
LEFT JOIN region_intensity base ON base.region_code = r.region_code AND base.year = r.base_year;
