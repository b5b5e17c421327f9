-- Version 8: a change sequence on findings, so that `sift serve` answers
-- "what changed since cursor C" from an index instead of re-reading every
-- finding (ARCHITECTURE §4). Every new finding and every change a reader of
-- the listing could see takes the next number, one per row: numbers only
-- grow, so a row changed after a cursor was given sorts after it. The
-- store's id tells a cursor from another store (a server started afresh).
ALTER TABLE findings ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE findings SET change_seq = id;
CREATE INDEX findings_change_seq ON findings (change_seq);
INSERT INTO meta (key, value) VALUES ('store_id', abs(random() % 1000000000000));

-- The import numbers its new rows itself; another insert is caught here.
CREATE TRIGGER findings_numbered AFTER INSERT ON findings
WHEN NEW.change_seq = 0
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1
    WHERE id = NEW.id;
END;

-- A re-import that changes nothing keeps the number.
CREATE TRIGGER findings_changed AFTER UPDATE OF rule_id, message, severity, path, line,
    state, triage_state, triage_reason, triage_comment, triaged_at, verdict,
    relevant_since, component, risk ON findings
WHEN OLD.rule_id IS NOT NEW.rule_id OR OLD.message IS NOT NEW.message
    OR OLD.severity IS NOT NEW.severity OR OLD.path IS NOT NEW.path
    OR OLD.line IS NOT NEW.line OR OLD.state IS NOT NEW.state
    OR OLD.triage_state IS NOT NEW.triage_state
    OR OLD.triage_reason IS NOT NEW.triage_reason
    OR OLD.triage_comment IS NOT NEW.triage_comment
    OR OLD.triaged_at IS NOT NEW.triaged_at OR OLD.verdict IS NOT NEW.verdict
    OR OLD.relevant_since IS NOT NEW.relevant_since
    OR OLD.component IS NOT NEW.component OR OLD.risk IS NOT NEW.risk
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1
    WHERE id = NEW.id;
END;

CREATE TRIGGER finding_details_changed AFTER UPDATE OF doc, code_start, code ON finding_details
WHEN OLD.doc IS NOT NEW.doc OR OLD.code_start IS NOT NEW.code_start OR OLD.code IS NOT NEW.code
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1
    WHERE id = NEW.finding_id;
END;

-- An Assistant's verdict or fix shows in the finding's listing.
CREATE TRIGGER ai_findings_changed AFTER INSERT ON ai_findings
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1
    WHERE id = NEW.finding_id;
END;
