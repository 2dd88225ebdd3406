-- 60_targets.sql — progress against the plan targets and the warning levels of
-- the 能耗双控晴雨表 (发改办环资〔2021〕629号).
--
-- For an intensity target (energy_intensity_reduction, co2_intensity_reduction)
-- with base year B, target year T and reduction R, for every year B < t ≤ T:
--   achieved        = 1 − I_t / I_B      cumulative reduction since the base year
--   required        = 1 − (1 − R)^((t − B) / (T − B))
--                     the even geometric path from B to T (the plans give only
--                     the end point)
--   required_annual = the year's requirement: the reduction of an annual
--                     target row of the region and indicator (base year t − 1,
--                     target year t, any plan) when there is one, else the
--                     plan's even annual rate 1 − (1 − R)^(1 / (T − B))
--   warning_level 1 (red)    the intensity rose against t − 1 (不降反升)
--                 2 (yellow) it fell, but by less than the requirement
--                            (降低率未达到进度要求): with warning_basis =
--                            annual (default) the fall against t − 1 is below
--                            required_annual; with cumulative, achieved is
--                            below required
--                 3 (green)  on track
-- 629号 defines levels 1 and 2 by the year's fall and "the progress
-- requirement" without defining it further; the annual reading is ours and
-- the cumulative one is kept as an option (README "Warning levels").
-- Intensities are rounded like the change rates (nbs_rounding, 50_indicators).
-- The energy target is judged on the controlled intensity (双控口径) unless
-- energy_intensity_basis = gross.
--
-- For a share target (non_fossil_share_min, coal_share_max), in an
-- intermediate year the requirement is the linear path from the base-year
-- value S_B to the target: required = S_B + (target − S_B) × (t − B) / (T − B)
-- (the target itself when the base year has no value); in the target year it
-- is the target. For a cap (energy_total_max on energy_tce_controlled,
-- co2_total_max on co2_t) required = the cap. Status met / not_met, warning
-- level 3 / 1.
--
-- Reads:  targets_ok, region_indicators (50_indicators.sql), run_params.
-- Writes: target_progress (view).

CREATE OR REPLACE VIEW target_progress AS
WITH ri AS (
    SELECT ri.*,
        -- the energy intensity the targets judge, rounded as the change rates use it
        CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_rounded
             ELSE ri.energy_intensity_controlled_rounded END AS ei_r,
        ri.co2_intensity_rounded AS ci_r,
        CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_yoy
             ELSE ri.energy_intensity_controlled_change_yoy END AS ei_yoy,
        p.energy_intensity_basis,
        p.warning_basis
    FROM region_indicators ri
    CROSS JOIN run_params p
),
annual AS (
    SELECT region_code, indicator, target_year, max(value) AS value
    FROM targets_ok
    WHERE target_year = base_year + 1
    GROUP BY region_code, indicator, target_year
),
progress AS (
    SELECT
        t.region_code, cur.region_name, cur.year, t.plan, t.indicator, t.base_year, t.target_year,
        t.value AS target,
        CASE t.indicator
            WHEN 'energy_intensity_reduction' THEN 1 - cur.ei_r / nullif(b.ei_r, 0)
            WHEN 'co2_intensity_reduction' THEN 1 - cur.ci_r / nullif(b.ci_r, 0)
            WHEN 'non_fossil_share_min' THEN cur.non_fossil_share
            WHEN 'coal_share_max' THEN cur.coal_share
            WHEN 'energy_total_max' THEN cur.energy_tce_controlled
            WHEN 'co2_total_max' THEN cur.co2_t
        END AS achieved,
        CASE
            WHEN t.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
                1 - power(1 - t.value, CAST(cur.year - t.base_year AS DOUBLE) / CAST(t.target_year - t.base_year AS DOUBLE))
            WHEN t.indicator IN ('non_fossil_share_min', 'coal_share_max') AND cur.year < t.target_year THEN
                coalesce(
                    CASE t.indicator WHEN 'non_fossil_share_min' THEN b.non_fossil_share ELSE b.coal_share END
                    + (t.value - CASE t.indicator WHEN 'non_fossil_share_min' THEN b.non_fossil_share ELSE b.coal_share END)
                      * CAST(cur.year - t.base_year AS DOUBLE) / CAST(t.target_year - t.base_year AS DOUBLE),
                    t.value)
            ELSE t.value
        END AS required,
        CASE WHEN t.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            coalesce(a.value, 1 - power(1 - t.value, 1.0 / CAST(t.target_year - t.base_year AS DOUBLE)))
        END AS required_annual,
        CASE t.indicator
            WHEN 'energy_intensity_reduction' THEN cur.ei_yoy
            WHEN 'co2_intensity_reduction' THEN cur.co2_intensity_change_yoy
        END AS change_yoy,
        CASE t.indicator
            WHEN 'energy_intensity_reduction' THEN concat('energy_intensity_', cur.energy_intensity_basis)
            WHEN 'co2_intensity_reduction' THEN 'co2_intensity'
            WHEN 'non_fossil_share_min' THEN 'non_fossil_share'
            WHEN 'coal_share_max' THEN 'coal_share'
            WHEN 'energy_total_max' THEN 'energy_tce_controlled'
            WHEN 'co2_total_max' THEN 'co2_t'
        END AS measured_on,
        cur.warning_basis
    FROM targets_ok t
    JOIN ri cur ON cur.region_code = t.region_code AND cur.year > t.base_year AND cur.year <= t.target_year
    LEFT JOIN ri b ON b.region_code = t.region_code AND b.year = t.base_year
    LEFT JOIN annual a ON a.region_code = t.region_code AND a.indicator = t.indicator AND a.target_year = cur.year
),
judged AS (
    SELECT p.*,
        CASE
            WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
                CASE
                    WHEN change_yoy > 0 THEN 1
                    WHEN warning_basis = 'annual' AND -change_yoy < required_annual THEN 2
                    -- without the previous year, the cumulative path judges
                    WHEN warning_basis = 'annual' AND change_yoy IS NULL AND achieved < required THEN 2
                    WHEN warning_basis = 'cumulative' AND achieved < required THEN 2
                    ELSE 3
                END
            WHEN indicator = 'non_fossil_share_min' THEN CASE WHEN achieved >= required THEN 3 ELSE 1 END
            ELSE CASE WHEN achieved <= required THEN 3 ELSE 1 END
        END AS warning_level
    FROM progress p
    WHERE achieved IS NOT NULL
)
SELECT
    region_code, region_name, year, plan, indicator, base_year, target_year, target,
    achieved, required, required_annual, change_yoy, measured_on,
    warning_level,
    CASE
        WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            CASE warning_level WHEN 1 THEN 'red' WHEN 2 THEN 'yellow' ELSE 'green' END
        ELSE CASE warning_level WHEN 3 THEN 'met' ELSE 'not_met' END
    END AS status
FROM judged;
