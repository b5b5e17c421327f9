-- Version 12: a change to a finding's triage alone is told apart from a
-- change to the rest of it, so that `sift serve` can send a client that
-- holds the finding already only its new triage (a few fields instead of
-- the whole record: the pull after 10,000 decisions).
--
-- `content_seq` is the change number of the last change to anything but
-- the triage columns (`triage_state`, `triage_reason`, `triage_comment`,
-- `triaged_at`, `relevant_since`), kept once a later change touched only
-- those; 0 when the row's last change was to its content, which then
-- changed at `change_seq`. A statement that changes the content sets it to
-- 0; one that changes only the triage sets it to the row's `change_seq`
-- before that change when it is 0. Rows already stored start at 0, which
-- is right for each of them: no backfill.
ALTER TABLE findings ADD COLUMN content_seq INTEGER NOT NULL DEFAULT 0;

-- The details and an Assistant's answer are content: the triggers that
-- number their changes say so too.
DROP TRIGGER finding_details_changed;
CREATE TRIGGER finding_details_changed AFTER UPDATE OF doc, code_start, code ON finding_details
WHEN OLD.doc IS NOT NEW.doc OR OLD.code_start IS NOT NEW.code_start OR OLD.code IS NOT NEW.code
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1,
        content_seq = 0
    WHERE id = NEW.finding_id;
END;

DROP TRIGGER ai_findings_changed;
CREATE TRIGGER ai_findings_changed AFTER INSERT ON ai_findings
BEGIN
    UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1,
        content_seq = 0
    WHERE id = NEW.finding_id;
END;
