-- summary_groups.sql — the terminal summary's groups: each group in its
-- latest year with members, energy, CO2 per tce and the shares, and for a
-- zero-carbon park the checks against the pilot criteria.
--
-- Reads:  group_indicators (47_groups.sql).
-- Parameters: none.

SELECT g.group_id, g.group_name, g.kind, g.year, g.members, g.members_reporting,
    g.energy_tce_equivalent, g.co2_per_tce, g.co2_per_tce_limit, g.co2_per_tce_check,
    g.clean_energy_share, g.clean_energy_share_min, g.clean_energy_share_check, g.green_power_share
FROM group_indicators g
JOIN (SELECT group_id, max(year) AS year FROM group_indicators GROUP BY group_id) l
    ON l.group_id = g.group_id AND l.year = g.year
ORDER BY g.kind DESC, g.group_id
