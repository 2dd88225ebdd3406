-- 60_targets.sql — progress against the plan targets and the warning levels of
-- the 能耗双控晴雨表 (发改办环资〔2021〕629号).
--
-- For an intensity target (energy_intensity_reduction, co2_intensity_reduction)
-- with base year B, target year T and reduction R, for every year B < t ≤ T:
--   achieved = 1 − I_t / I_B            cumulative reduction since the base year
--   required = 1 − (1 − R)^((t − B) / (T − B))
--              the even geometric path from B to T (our design choice: the plans
--              give only the end point)
--   warning_level 1 (red)    the intensity rose against t − 1
--                 2 (yellow) it fell, but achieved < required
--                 3 (green)  on track
-- Intensities are rounded like the change rates (nbs_rounding). The energy
-- target is judged on the controlled intensity (双控口径, excluding feedstock and
-- non-fossil energy) unless energy_intensity_basis = gross.
--
-- For a cap (non_fossil_share_min, coal_share_max, energy_total_max on
-- energy_tce_controlled, co2_total_max on co2_t): achieved = the value of year
-- t, required = the cap, status met / not_met, warning_level 3 / 1.
--
-- Reads:  targets_ok, region_indicators, run_params.
-- Writes: target_progress (view).

CREATE OR REPLACE VIEW target_progress AS
WITH ri AS (
    SELECT ri.*,
        CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity
             ELSE ri.energy_intensity_controlled END AS ei,
        CASE WHEN p.nbs_rounding THEN round(
            CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity
                 ELSE ri.energy_intensity_controlled END, 4)
             ELSE CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity
                 ELSE ri.energy_intensity_controlled END END AS ei_r,
        CASE WHEN p.nbs_rounding THEN round(ri.co2_intensity, 4) ELSE ri.co2_intensity END AS ci_r,
        CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_yoy
             ELSE ri.energy_intensity_controlled_change_yoy END AS ei_yoy,
        p.energy_intensity_basis
    FROM region_indicators ri CROSS JOIN run_params p
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
            ELSE t.value
        END AS required,
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
        END AS measured_on
    FROM targets_ok t
    JOIN ri cur ON cur.region_code = t.region_code AND cur.year > t.base_year AND cur.year <= t.target_year
    LEFT JOIN ri b ON b.region_code = t.region_code AND b.year = t.base_year
)
SELECT
    region_code, region_name, year, plan, indicator, base_year, target_year, target,
    achieved, required, change_yoy, measured_on,
    CASE
        WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            CASE WHEN change_yoy > 0 THEN 1 WHEN achieved < required THEN 2 ELSE 3 END
        WHEN indicator IN ('non_fossil_share_min') THEN CASE WHEN achieved >= required THEN 3 ELSE 1 END
        ELSE CASE WHEN achieved <= required THEN 3 ELSE 1 END
    END AS warning_level,
    CASE
        WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            CASE WHEN change_yoy > 0 THEN 'red' WHEN achieved < required THEN 'yellow' ELSE 'green' END
        WHEN indicator IN ('non_fossil_share_min') THEN CASE WHEN achieved >= required THEN 'met' ELSE 'not_met' END
        ELSE CASE WHEN achieved <= required THEN 'met' ELSE 'not_met' END
    END AS status
FROM progress
WHERE achieved IS NOT NULL;
