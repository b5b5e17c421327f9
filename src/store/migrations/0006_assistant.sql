-- Version 6: sift's own Assistant. Its answers, by the question that
-- produced them (a hash of everything that determines the answer: the
-- prompt, the model, the prompt's version), so an identical question is
-- asked once; and which finding each answer is for. Where each project's
-- source tree is, for the code around a finding.
CREATE TABLE ai_answers (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- 'verdict'
    answer TEXT NOT NULL,            -- JSON: {"verdict", "reason"} or {"no_verdict": why}
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version INTEGER NOT NULL,
    memories TEXT NOT NULL,          -- JSON list of the memory ids in the prompt
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE ai_findings (
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL REFERENCES ai_answers(key),
    PRIMARY KEY (finding_id, kind)
);
ALTER TABLE projects ADD COLUMN source_root TEXT;
