-- explain_run_params.sql — the base year the *_change_base rates compare with
-- and whether intensities are rounded (NBS) before a change rate: what
-- `carbonstat explain` says about a change rate.
--
-- Reads:  run_params.
-- Parameters: none.

SELECT base_year, nbs_rounding
FROM run_params
