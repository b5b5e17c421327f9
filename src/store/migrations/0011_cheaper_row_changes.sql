-- Version 11: inserting or changing a finding's row costs less. A pull that
-- brought back 10,000 decisions spent most of its time on the two things
-- below, and a first pull paid the second on every row.
--
-- Every statement that changes a finding's listed columns takes the next
-- change number itself (store/mod.rs, `next_change!`), as the one insert
-- does since version 9. The trigger that did it ran a trigger program, a
-- table of row ids and a statement journal for every row changed. The
-- statements change one row each, so each row still takes a number of its
-- own.
DROP TRIGGER findings_changed;

-- The decided-findings index said `triage_state IN (three states)`, which
-- SQLite checks with a temporary table built for every row written. Three
-- comparisons say the same; a query that uses the index spells them alike.
DROP INDEX findings_decided;
CREATE INDEX findings_decided ON findings (project_id, rule_id)
    WHERE triage_state = 'ignored' OR triage_state = 'fixing' OR triage_state = 'reviewing';
