-- silent_members.sql — group members that have no accepted energy record in
-- any year: not an error (a list may be older than the data), but `run`
-- warns about each, with the group row that names it.
--
-- Reads:  groups_ok (23_group_inputs.sql), record_totals (30_emissions.sql).
-- Parameters: none.

SELECT g.group_id, g.enterprise_id, g.source_file, g.source_line
FROM groups_ok g
LEFT JOIN (SELECT DISTINCT enterprise_id FROM record_totals WHERE input = 'energy') r
    ON r.enterprise_id = g.enterprise_id
WHERE r.enterprise_id IS NULL
ORDER BY g.group_id, g.enterprise_id, g.source_file, g.source_line
