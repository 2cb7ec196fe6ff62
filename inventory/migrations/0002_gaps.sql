-- Readiness: the owner resolved for each credential, the gaps found per
-- control and subject with their history, and per-scan results per control
-- and per framework criterion (the evidence that controls operated).

ALTER TABLE credentials ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN owner_source TEXT NOT NULL DEFAULT '';

-- One row per (control, subject). A gap that disappears is resolved in the
-- scan that no longer finds it, never deleted; if it comes back it reopens.
CREATE TABLE gaps (
    id              INTEGER PRIMARY KEY,
    control_id      TEXT NOT NULL,
    subject_kind    TEXT NOT NULL CHECK (subject_kind IN ('identity','credential')),
    subject_key     TEXT NOT NULL,
    subject_name    TEXT NOT NULL DEFAULT '',
    family          TEXT NOT NULL DEFAULT '',
    severity        TEXT NOT NULL CHECK (severity IN ('critical','high','medium','low','info')),
    title           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    evidence        TEXT NOT NULL DEFAULT '{}',
    frameworks      TEXT NOT NULL DEFAULT '{}',
    owner           TEXT NOT NULL DEFAULT '',
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan  INTEGER NOT NULL REFERENCES scans(id),
    resolved_scan   INTEGER REFERENCES scans(id),
    UNIQUE (control_id, subject_kind, subject_key)
);
CREATE INDEX gaps_last_seen ON gaps(last_seen_scan, severity);
CREATE INDEX gaps_resolved ON gaps(resolved_scan);

CREATE TABLE gap_events (
    gap_id  INTEGER NOT NULL REFERENCES gaps(id),
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    event   TEXT NOT NULL CHECK (event IN ('opened','resolved','reopened')),
    PRIMARY KEY (gap_id, scan_id)
);

CREATE TABLE control_results (
    scan_id    INTEGER NOT NULL REFERENCES scans(id),
    control_id TEXT NOT NULL,
    severity   TEXT NOT NULL,
    evaluated  INTEGER NOT NULL,
    passing    INTEGER NOT NULL,
    PRIMARY KEY (scan_id, control_id)
);

CREATE TABLE criterion_results (
    scan_id   INTEGER NOT NULL REFERENCES scans(id),
    framework TEXT NOT NULL,
    criterion TEXT NOT NULL,
    evaluated INTEGER NOT NULL,
    passing   INTEGER NOT NULL,
    PRIMARY KEY (scan_id, framework, criterion)
);

-- Triage decisions. Never updated in place except to record that a later
-- decision revoked them (undo), so the history is what an auditor reads.
-- control_id is '' for subject-wide decisions (owner).
CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('identity','credential')),
    subject_key  TEXT NOT NULL,
    control_id   TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL CHECK (action IN ('owner','accept-risk','false-positive')),
    value        TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    revoked_by   TEXT
);
CREATE INDEX decisions_subject ON decisions(subject_kind, subject_key);
