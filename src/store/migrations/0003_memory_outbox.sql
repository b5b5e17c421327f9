-- Version 3: memory changes not yet acknowledged by the backend, in the
-- order they were made. `memory` is the memory as JSON (create, update);
-- a delete names only `memory_id`.
CREATE TABLE memory_outbox (
    id INTEGER PRIMARY KEY,
    op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    memory_id TEXT NOT NULL,
    memory TEXT,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    rejected TEXT                    -- the backend refused it (its message)
);
CREATE INDEX memory_outbox_memory ON memory_outbox (memory_id);

-- A memory created here and stored by the backend under an id of its own:
-- scripts that created it find it by the id they were given.
CREATE TABLE memory_ids (
    local_id TEXT PRIMARY KEY,
    backend_id TEXT NOT NULL
);
