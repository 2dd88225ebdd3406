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
-- In the target year T the requirement is the target itself, whatever the
-- basis: the plan is judged on its whole reduction (achieved ≥ R, to 1e-9
-- against the floating-point error of 1 − I_t / I_B), so the year is 2
-- (yellow) when it fell but the plan's reduction is missed, 3 when it is
-- met, 1 when the intensity rose; status is then met or not_met, the
-- verdict, not a warning colour. (With the annual basis a last year that
-- fell by the even annual rate was green although the five years fell
-- short: 8.02 % against 12 % for a town of the sample.) For an annual
-- target (T = B + 1) this is the annual rule: achieved is the year's fall.
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
-- For co2_peak_by (value: the deadline year): achieved = co2_peak_year, the
-- year of the highest co2_t so far (50_indicators.sql). Status peaked (3):
-- the three years after the peak all below it and the peak not after the
-- deadline; not_met (1): the highest CO2 so far is after the deadline;
-- at_risk (1): CO2 rose against the year before within three years of the
-- deadline; else not_yet: 2 while CO2 rises, 3 when it fell.
--
-- The outlook, from each year t with n = T − t years left (intensity targets
-- and caps only):
--   required_change_remaining = ((1 − R) × I_B / I_t)^(1/n) − 1   (caps:
--                     (cap / X_t)^(1/n) − 1): the annual change still needed
--   g                 = (X_t / X_{t−k})^(1/k) − 1, k = 3 (fewer when the
--                     data start later): the trend of the last three years
--   projected_achieved = what achieved would be at T with X_T = X_t × (1 + g)^n
--   projected_warning_level: reductions 3 when that meets R, 2 when short but
--                     g < 0, 1 when g ≥ 0; caps 3 within, 1 over
-- A plan whose base year is the region's latest year gets a row for that
-- year (status base_year, no warning level) with its outlook.
--
-- Reads:  targets_ok, regions_ok, region_indicators (50_indicators.sql), run_params.
-- Writes: target_inputs, target_latest, target_annual, target_progress (tables),
--         target_allocation (view).

-- The region-years the targets read, with the intensities they judge
-- (rounded as the change rates use them), keyed by region and year for
-- lookup(…): the base year, the previous three years and the latest year are
-- looked up, not joined (the view stays small under a tight memory limit).
CREATE OR REPLACE TABLE target_inputs AS
SELECT ri.region_code, ri.year, ri.region_name,
    -- the energy intensity the targets judge, rounded as the change rates use it
    CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_rounded
         ELSE ri.energy_intensity_controlled_rounded END AS ei_r,
    ri.co2_intensity_rounded AS ci_r,
    CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity_change_yoy
         ELSE ri.energy_intensity_controlled_change_yoy END AS ei_yoy,
    ri.co2_intensity_change_yoy, ri.non_fossil_share, ri.coal_share, ri.energy_tce_controlled, ri.co2_t,
    ri.co2_peak_year, ri.co2_years_below_peak,
    p.energy_intensity_basis,
    p.warning_basis
FROM region_indicators ri
CROSS JOIN run_params p;

-- The latest year of each region's data.
CREATE OR REPLACE TABLE target_latest AS
SELECT region_code, max(year) AS latest_year FROM target_inputs GROUP BY region_code;

-- The reduction of an annual target row (base year t − 1, target year t)
-- per region, indicator and year.
CREATE OR REPLACE TABLE target_annual AS
SELECT region_code, indicator, target_year, max(value) AS value
FROM targets_ok
WHERE target_year = base_year + 1
GROUP BY region_code, indicator, target_year;

-- A table: the dataset, the bulletin and the summary read it (as a view
-- each read computed it again; docs/benchmarks.md, session 21). A row per
-- target and year: small at any scale.
CREATE OR REPLACE TABLE target_progress AS
WITH j AS (
    SELECT t.region_code AS t_region, t.plan, t.indicator, t.base_year, t.target_year, t.value,
        cur.*,
        lookup('target_inputs', t.region_code, t.base_year) AS bs,
        lookup('target_inputs', t.region_code, cur.year - 1) AS s1,
        lookup('target_inputs', t.region_code, cur.year - 2) AS s2,
        lookup('target_inputs', t.region_code, cur.year - 3) AS s3,
        lookup('target_annual', t.region_code, t.indicator, cur.year) AS an,
        get_field(lookup('target_latest', t.region_code), 'latest_year') AS latest_year
    FROM targets_ok t
    JOIN target_inputs cur ON cur.region_code = t.region_code AND cur.year >= t.base_year AND cur.year <= t.target_year
),
progress AS (
    SELECT
        t_region AS region_code, region_name, year, plan, indicator, base_year, target_year,
        value AS target,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN 1 - ei_r / nullif(get_field(bs, 'ei_r'), 0)
            WHEN 'co2_intensity_reduction' THEN 1 - ci_r / nullif(get_field(bs, 'ci_r'), 0)
            WHEN 'non_fossil_share_min' THEN non_fossil_share
            WHEN 'coal_share_max' THEN coal_share
            WHEN 'energy_total_max' THEN energy_tce_controlled
            WHEN 'co2_total_max' THEN co2_t
            WHEN 'co2_peak_by' THEN CAST(co2_peak_year AS DOUBLE)
        END AS achieved,
        CASE
            WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
                1 - power(1 - value, CAST(year - base_year AS DOUBLE) / CAST(target_year - base_year AS DOUBLE))
            WHEN indicator IN ('non_fossil_share_min', 'coal_share_max') AND year < target_year THEN
                coalesce(
                    CASE indicator WHEN 'non_fossil_share_min' THEN get_field(bs, 'non_fossil_share') ELSE get_field(bs, 'coal_share') END
                    + (value - CASE indicator WHEN 'non_fossil_share_min' THEN get_field(bs, 'non_fossil_share') ELSE get_field(bs, 'coal_share') END)
                      * CAST(year - base_year AS DOUBLE) / CAST(target_year - base_year AS DOUBLE),
                    value)
            ELSE value
        END AS required,
        CASE WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            coalesce(get_field(an, 'value'), 1 - power(1 - value, 1.0 / CAST(target_year - base_year AS DOUBLE)))
        END AS required_annual,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN ei_yoy
            WHEN 'co2_intensity_reduction' THEN co2_intensity_change_yoy
            WHEN 'co2_peak_by' THEN co2_t / nullif(get_field(s1, 'co2_t'), 0) - 1
        END AS change_yoy,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN concat('energy_intensity_', energy_intensity_basis)
            WHEN 'co2_intensity_reduction' THEN 'co2_intensity'
            WHEN 'non_fossil_share_min' THEN 'non_fossil_share'
            WHEN 'coal_share_max' THEN 'coal_share'
            WHEN 'energy_total_max' THEN 'energy_tce_controlled'
            WHEN 'co2_total_max' THEN 'co2_t'
            WHEN 'co2_peak_by' THEN 'co2_peak_year'
        END AS measured_on,
        warning_basis,
        year = base_year AS is_base_year,
        co2_years_below_peak,
        -- the value the outlook follows: this year's, the base year's and the
        -- one up to three years back (the trend)
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN ei_r
            WHEN 'co2_intensity_reduction' THEN ci_r
            WHEN 'energy_total_max' THEN energy_tce_controlled
            WHEN 'co2_total_max' THEN co2_t
        END AS x_t,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN get_field(bs, 'ei_r')
            WHEN 'co2_intensity_reduction' THEN get_field(bs, 'ci_r')
        END AS x_b,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN coalesce(get_field(s3, 'ei_r'), get_field(s2, 'ei_r'), get_field(s1, 'ei_r'))
            WHEN 'co2_intensity_reduction' THEN coalesce(get_field(s3, 'ci_r'), get_field(s2, 'ci_r'), get_field(s1, 'ci_r'))
            WHEN 'energy_total_max' THEN coalesce(get_field(s3, 'energy_tce_controlled'), get_field(s2, 'energy_tce_controlled'), get_field(s1, 'energy_tce_controlled'))
            WHEN 'co2_total_max' THEN coalesce(get_field(s3, 'co2_t'), get_field(s2, 'co2_t'), get_field(s1, 'co2_t'))
        END AS x_past,
        CASE indicator
            WHEN 'energy_intensity_reduction' THEN CASE WHEN get_field(s3, 'ei_r') IS NOT NULL THEN 3 WHEN get_field(s2, 'ei_r') IS NOT NULL THEN 2 WHEN get_field(s1, 'ei_r') IS NOT NULL THEN 1 END
            WHEN 'co2_intensity_reduction' THEN CASE WHEN get_field(s3, 'ci_r') IS NOT NULL THEN 3 WHEN get_field(s2, 'ci_r') IS NOT NULL THEN 2 WHEN get_field(s1, 'ci_r') IS NOT NULL THEN 1 END
            WHEN 'energy_total_max' THEN CASE WHEN get_field(s3, 'energy_tce_controlled') IS NOT NULL THEN 3 WHEN get_field(s2, 'energy_tce_controlled') IS NOT NULL THEN 2 WHEN get_field(s1, 'energy_tce_controlled') IS NOT NULL THEN 1 END
            WHEN 'co2_total_max' THEN CASE WHEN get_field(s3, 'co2_t') IS NOT NULL THEN 3 WHEN get_field(s2, 'co2_t') IS NOT NULL THEN 2 WHEN get_field(s1, 'co2_t') IS NOT NULL THEN 1 END
        END AS trend_years,
        target_year - year AS years_left
    FROM j
    WHERE year > base_year OR (year = base_year AND latest_year = base_year)
),
outlook AS (
    SELECT p.*,
        -- the annual change still needed in each remaining year
        CASE WHEN years_left > 0 THEN
            CASE
                WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') AND x_t > 0 AND x_b > 0 THEN
                    power((1 - target) * x_b / x_t, 1.0 / CAST(years_left AS DOUBLE)) - 1
                WHEN indicator IN ('energy_total_max', 'co2_total_max') AND x_t > 0 THEN
                    power(target / x_t, 1.0 / CAST(years_left AS DOUBLE)) - 1
            END
        END AS required_change_remaining,
        -- the value the trend of the last (up to) three years leads to by the target year
        CASE WHEN x_t > 0 AND x_past > 0 AND trend_years > 0 THEN
            x_t * power(power(x_t / x_past, 1.0 / CAST(trend_years AS DOUBLE)), CAST(years_left AS DOUBLE))
        END AS projected_value,
        CASE WHEN x_t > 0 AND x_past > 0 AND trend_years > 0 THEN
            power(x_t / x_past, 1.0 / CAST(trend_years AS DOUBLE)) - 1
        END AS trend_change
    FROM progress p
),
projected AS (
    SELECT o.*,
        -- an intensity target's verdict in its target year (NULL before it)
        CASE WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') AND year = target_year
             THEN achieved >= target - 1e-9 END AS plan_met,
        CASE
            WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN 1 - projected_value / nullif(x_b, 0)
            WHEN indicator IN ('energy_total_max', 'co2_total_max') THEN projected_value
        END AS projected_achieved
    FROM outlook o
),
judged AS (
    SELECT p.*,
        CASE
            WHEN is_base_year THEN NULL
            WHEN indicator = 'co2_peak_by' THEN
                CASE
                    WHEN co2_years_below_peak >= 3 AND achieved <= required THEN 3
                    WHEN achieved > required THEN 1
                    WHEN change_yoy > 0 AND required - year <= 3 THEN 1
                    WHEN change_yoy > 0 THEN 2
                    ELSE 3
                END
            WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
                CASE
                    WHEN change_yoy > 0 THEN 1
                    -- the target year: the requirement is the target itself
                    WHEN plan_met IS NOT NULL THEN CASE WHEN plan_met THEN 3 ELSE 2 END
                    WHEN warning_basis = 'annual' AND -change_yoy < required_annual THEN 2
                    -- without the previous year, the cumulative path judges
                    WHEN warning_basis = 'annual' AND change_yoy IS NULL AND achieved < required THEN 2
                    WHEN warning_basis = 'cumulative' AND achieved < required THEN 2
                    ELSE 3
                END
            WHEN indicator = 'non_fossil_share_min' THEN CASE WHEN achieved >= required THEN 3 ELSE 1 END
            ELSE CASE WHEN achieved <= required THEN 3 ELSE 1 END
        END AS warning_level,
        CASE
            WHEN projected_achieved IS NULL THEN NULL
            WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
                CASE WHEN projected_achieved >= target THEN 3 WHEN trend_change < 0 THEN 2 ELSE 1 END
            ELSE CASE WHEN projected_achieved <= target THEN 3 ELSE 1 END
        END AS projected_warning_level
    FROM projected p
    WHERE achieved IS NOT NULL
)
SELECT
    region_code, region_name, year, plan, indicator, base_year, target_year, target,
    achieved, required, required_annual, change_yoy, measured_on,
    warning_level,
    CASE
        WHEN is_base_year THEN 'base_year'
        WHEN indicator = 'co2_peak_by' THEN
            CASE
                WHEN co2_years_below_peak >= 3 AND achieved <= required THEN 'peaked'
                WHEN achieved > required THEN 'not_met'
                WHEN warning_level = 1 THEN 'at_risk'
                ELSE 'not_yet'
            END
        WHEN plan_met IS NOT NULL THEN CASE WHEN plan_met THEN 'met' ELSE 'not_met' END
        WHEN indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') THEN
            CASE warning_level WHEN 1 THEN 'red' WHEN 2 THEN 'yellow' ELSE 'green' END
        ELSE CASE warning_level WHEN 3 THEN 'met' ELSE 'not_met' END
    END AS status,
    required_change_remaining, projected_achieved, projected_warning_level
FROM judged;

-- target_allocation (分解到乡镇和年度): for every target whose region's
-- children (regions_ok.parent_code) have targets of the same plan,
-- indicator, base year and target year, what the children's targets imply
-- for the parent.
--   intensity reductions: implied = Σ w_i × R_i / Σ w_i, w_i the child's
--     base-year numerator of the judged intensity (energy on the
--     energy_intensity_basis, co2_t for CO2): with equal GDP growth in every
--     child, the parent's intensity then falls by implied; consistent when
--     implied ≥ the parent's reduction
--   caps (energy_total_max, co2_total_max): implied = Σ of the children's
--     caps; consistent when implied ≤ the parent's cap, judged only when
--     every child has a cap (empty otherwise)
--   share targets are not additive: not checked
-- coverage = Σ w_i / the parent's own base-year value (below 1 when children
-- without targets, or sector statistics kept at the parent's level, carry
-- part of it).
CREATE OR REPLACE VIEW target_allocation AS
WITH w AS (
    SELECT ri.region_code, ri.year,
        CASE WHEN p.energy_intensity_basis = 'gross' THEN ri.energy_intensity ELSE ri.energy_intensity_controlled END
            * ri.gdp_const * 10000 AS energy_weight,
        ri.co2_t AS co2_weight
    FROM region_indicators ri CROSS JOIN run_params p
),
kids AS (
    SELECT parent_code, count(*) AS children FROM regions_ok WHERE parent_code IS NOT NULL GROUP BY parent_code
),
pairs AS (
    SELECT t.region_code, t.plan, t.indicator, t.base_year, t.target_year, t.value AS target,
        c.region_code AS child_code, c.value AS child_value,
        CASE WHEN t.indicator = 'energy_intensity_reduction' THEN cw.energy_weight ELSE cw.co2_weight END AS child_weight
    FROM targets_ok t
    JOIN regions_ok r ON r.parent_code = t.region_code
    JOIN targets_ok c ON c.region_code = r.region_code AND c.plan = t.plan AND c.indicator = t.indicator
        AND c.base_year = t.base_year AND c.target_year = t.target_year
    LEFT JOIN w cw ON cw.region_code = c.region_code AND cw.year = c.base_year
    WHERE t.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction', 'energy_total_max', 'co2_total_max')
),
agg AS (
    SELECT region_code, plan, indicator, base_year, target_year, target,
        CAST(count(*) AS INT) AS children_with_targets,
        -- fixed-point sums: the same whatever order the rows arrive in
        CASE WHEN indicator IN ('energy_total_max', 'co2_total_max') THEN CAST(sum(CAST(child_value AS DECIMAL(38, 6))) AS DOUBLE)
             ELSE CAST(sum(CAST(child_weight * child_value AS DECIMAL(38, 9))) AS DOUBLE)
                / nullif(CAST(sum(CAST(child_weight AS DECIMAL(38, 9))) AS DOUBLE), 0) END AS implied,
        CAST(sum(CAST(child_weight AS DECIMAL(38, 9))) AS DOUBLE) AS child_weights,
        count(child_weight) AS weighted
    FROM pairs
    GROUP BY region_code, plan, indicator, base_year, target_year, target
)
SELECT a.region_code, rg.name AS region_name, a.target_year AS year, a.plan, a.indicator, a.base_year, a.target_year,
    a.target,
    -- a child without base-year data leaves the weighted mean unknown
    CASE WHEN a.indicator IN ('energy_total_max', 'co2_total_max') OR a.weighted = a.children_with_targets
         THEN a.implied END AS implied,
    CASE
        -- caps add up only when every child has one
        WHEN a.indicator IN ('energy_total_max', 'co2_total_max') AND a.children_with_targets = k.children
            THEN a.implied <= a.target
        WHEN a.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction') AND a.weighted = a.children_with_targets
            THEN a.implied >= a.target
    END AS consistent,
    a.children_with_targets,
    CAST(k.children AS INT) AS children,
    CASE WHEN a.indicator IN ('energy_intensity_reduction', 'co2_intensity_reduction')
         THEN a.child_weights / nullif(CASE WHEN a.indicator = 'energy_intensity_reduction' THEN pw.energy_weight ELSE pw.co2_weight END, 0)
    END AS coverage,
    CASE a.indicator
        WHEN 'energy_intensity_reduction' THEN concat('weighted by base-year energy (', p.energy_intensity_basis, '), equal GDP growth')
        WHEN 'co2_intensity_reduction' THEN 'weighted by base-year co2_t, equal GDP growth'
        ELSE 'sum of the children''s caps'
    END AS method
FROM agg a
JOIN regions_ok rg ON rg.region_code = a.region_code
LEFT JOIN kids k ON k.parent_code = a.region_code
LEFT JOIN w pw ON pw.region_code = a.region_code AND pw.year = a.base_year
CROSS JOIN run_params p;
