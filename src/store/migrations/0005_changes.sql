-- Version 5: one outbox for every kind of change (decisions and memory
-- changes so far), in the order they were made. Ids are never reused: a
-- process that acknowledges its batch late must not delete rows another
-- process wrote since. A change remembers the key of the request that
-- first carried it (a resend carries the same key, and a backend that saw
-- the key answers as it did) and when a request carrying it left without
-- an answer yet (another process leaves it alone meanwhile).
CREATE TABLE changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('triage', 'memory')),
    subject TEXT NOT NULL,           -- the finding's id, or the memory's
    body TEXT NOT NULL,              -- the change, as JSON
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    rejected TEXT,                   -- the backend refused it (its message): kept, not sent again
    request_key TEXT,
    sent_at INTEGER                  -- unix seconds
);
CREATE INDEX changes_subject ON changes (kind, subject);

INSERT INTO changes (kind, subject, body, actor, created_at, attempts, last_error, rejected)
SELECT 'memory', memory_id, json_object('op', op, 'memory', json(memory)), actor, created_at,
       attempts, last_error, rejected
FROM memory_outbox ORDER BY id;
INSERT INTO changes (kind, subject, body, actor, created_at, attempts, last_error, rejected)
SELECT 'triage', CAST(finding_id AS TEXT),
       json_object('state', new_triage_state, 'reason', new_triage_reason, 'note', new_note),
       actor, created_at, attempts, last_error, rejected
FROM outbox ORDER BY id;
DROP TABLE outbox;
DROP TABLE memory_outbox;

-- Requests this store's backend applied, by the client's key: the same
-- request again gets the first answer and changes nothing, even when
-- someone decided the same findings in between.
CREATE TABLE applied_requests (
    key TEXT PRIMARY KEY,
    answer TEXT NOT NULL,            -- JSON
    at INTEGER NOT NULL              -- unix seconds
);

-- When the backend may be asked again (its Retry-After), for every process.
INSERT INTO meta (key, value) VALUES ('not_before', 0);
