-- What a source keeps between scans to avoid re-reading what did not
-- change (the CI source: the pipeline files listed in each branch head's
-- tree). Derived data: losing it costs time, never results. Never a
-- secret value: paths and object ids.

CREATE TABLE memos (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   BLOB NOT NULL,
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- A digest of what a gap says (subject name, family, severity, title,
-- detail, evidence, frameworks, owner): a re-scan compares it instead of
-- reading every gap's text back. '' for gaps stored before: rewritten once.
ALTER TABLE gaps ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
