-- Version 1: projects, rules, findings, their history, memories and imports.
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT,
    primary_branch TEXT NOT NULL DEFAULT 'main'
);

-- Rules, stored once: the v1 `rule` object plus references and technologies.
CREATE TABLE rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);

-- What the list, the counts and the filters need: kept narrow so that
-- loading the index of a large backlog reads few pages.
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ref TEXT NOT NULL,
    match_based_id TEXT NOT NULL,
    rule_id INTEGER NOT NULL REFERENCES rules(id),
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    state TEXT NOT NULL,
    triage_state TEXT NOT NULL,
    triage_reason TEXT,
    triage_comment TEXT,
    triaged_at TEXT,
    verdict TEXT,
    relevant_since INTEGER NOT NULL,
    UNIQUE (project_id, ref, match_based_id)
);
CREATE INDEX findings_identity ON findings (project_id, match_based_id);

-- Everything else about a finding, read only for the detail pane.
CREATE TABLE finding_details (
    finding_id INTEGER PRIMARY KEY REFERENCES findings(id),
    -- The rest of the finding as Semgrep API v1 JSON (without its rule);
    -- the columns of `findings` win over it.
    doc TEXT NOT NULL,
    -- Source lines around the match, starting at code_start.
    code_start INTEGER,
    code TEXT
);

CREATE TABLE activity (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    note TEXT
);
CREATE INDEX activity_finding ON activity (finding_id);

CREATE TABLE memories (
    id TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    projects TEXT NOT NULL,      -- JSON list of project names; [] means all
    rules TEXT NOT NULL,         -- JSON: {"all":true} | {"rules":[...]} | {"class":"..."}
    path_prefixes TEXT NOT NULL, -- JSON list
    stage TEXT NOT NULL,
    guidance INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ref TEXT NOT NULL,
    origin TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    findings INTEGER NOT NULL,
    errors INTEGER NOT NULL
);
