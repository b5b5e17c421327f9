-- Version 10: every pulled page records a scan per project and ref, so a
-- long-lived store holds hundreds of thousands of them; a project's first
-- and latest import (what `sift serve` reads for every listing of
-- projects and memories) are each one look-up in this index instead of a
-- pass over every scan (1.2 s at a million findings).
CREATE INDEX scans_by_project ON scans (project_id, imported_at);
