-- Version 9: every new finding is numbered by the one statement that
-- inserts findings (store/findings.rs, INSERT_FINDING). The trigger that
-- caught any other insert ran a trigger program and kept a statement
-- journal for every row: a quarter of the time a pull spent inserting.
DROP TRIGGER findings_numbered;
