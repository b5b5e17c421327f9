-- Version 4: what recognises a scanner's finding on a rescan
-- (domain::identity): position, match length, and hashes of the matched
-- text, the matched lines and the lines around them (64-bit, stored as
-- signed integers). NULL where the import did not know.
CREATE TABLE finding_evidence (
    finding_id INTEGER PRIMARY KEY REFERENCES findings(id),
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    length INTEGER,
    snippet INTEGER,
    lines INTEGER,
    before INTEGER,
    after INTEGER
);
INSERT INTO finding_evidence (finding_id, line, col)
SELECT f.id, f.line, COALESCE(json_extract(d.doc, '$.location.column'), 0)
FROM findings f JOIN finding_details d ON d.finding_id = f.id;
