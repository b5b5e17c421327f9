-- Version 7: what an Assistant says beyond a verdict. The component a
-- finding's code belongs to and its risk (Semgrep's, from an import, or
-- sift's own), as columns so the console can filter and sort on them;
-- and the findings a re-analysis under a memory suggests closing.
ALTER TABLE findings ADD COLUMN component TEXT;
ALTER TABLE findings ADD COLUMN risk TEXT;
UPDATE findings SET
    component = (SELECT json_extract(d.doc, '$.assistant.component.tag')
                 FROM finding_details d WHERE d.finding_id = findings.id),
    risk = (SELECT json_extract(d.doc, '$.assistant.component.risk')
            FROM finding_details d WHERE d.finding_id = findings.id);
CREATE TABLE ai_suggestions (
    memory_id TEXT NOT NULL,
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    key TEXT NOT NULL REFERENCES ai_answers(key),
    at TEXT NOT NULL,
    PRIMARY KEY (memory_id, finding_id)
);
-- Earlier decisions on a rule in a project, for every question to the AI:
-- without it, each question scans the project's findings.
CREATE INDEX findings_decided ON findings (project_id, rule_id)
    WHERE triage_state IN ('ignored', 'fixing', 'reviewing');
