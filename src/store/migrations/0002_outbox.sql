-- Version 2: the outbox of decisions not yet acknowledged by the backend,
-- and a version that moves whenever findings change.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,          -- the order decisions were made in
    finding_id INTEGER NOT NULL,
    new_triage_state TEXT,           -- NULL: a note only
    new_triage_reason TEXT,
    new_note TEXT,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    rejected TEXT                    -- the backend refused it (its message): kept, not sent again
);
CREATE INDEX outbox_finding ON outbox (finding_id);

-- findings_version: bumped by every transaction that changes findings
-- (imports, triage), so a console notices other writers without reloading
-- after its own outbox writes.
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('findings_version', 0);
