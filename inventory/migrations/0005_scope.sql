-- Scope: a scan changes only what it covered successfully.
--
-- target is the kind-qualified canonical id of what observed a row
-- ("git:/abs/repo", "ci:...", "aws:123456789012", "vault:https://..."),
-- unit the part of that target it came from (a CI file, an IAM principal,
-- a Vault path). seen_scan is the last scan that observed the row itself;
-- last_seen_scan also moves when a row is carried forward unchanged
-- because its target was not read, or not read in full. Rows stored before
-- this version have target '' and belong to their source family until a
-- scan of that family stamps them.
ALTER TABLE identities ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN seen_scan INTEGER REFERENCES scans(id);
ALTER TABLE credentials ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN seen_scan INTEGER REFERENCES scans(id);
ALTER TABLE occurrences ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE occurrences ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE occurrences ADD COLUMN seen_scan INTEGER REFERENCES scans(id);
UPDATE identities SET seen_scan = last_seen_scan;
UPDATE credentials SET seen_scan = last_seen_scan;
UPDATE occurrences SET seen_scan = last_seen_scan;
CREATE INDEX occurrences_last_seen ON occurrences(last_seen_scan);
CREATE INDEX credentials_last_seen ON credentials(last_seen_scan);

-- judged_scan is the last scan that judged the gap on what it observed;
-- a gap carried with its subject keeps the judgement of that scan.
ALTER TABLE gaps ADD COLUMN judged_scan INTEGER REFERENCES scans(id);
UPDATE gaps SET judged_scan = last_seen_scan;

-- What each scan covered: one row per target known to the inventory.
-- status: ok (read in full), partial (read, some items or units failed:
-- what was not seen again is carried), failed (its source failed:
-- everything carried), carried (not in this scan). last_ok_scan is the
-- last scan that read it in full (NULL if none has). units are the
-- units of the target that failed in this scan (JSON array of strings):
-- their rows and gaps are carried even where the target was read.
CREATE TABLE scan_targets (
    scan_id      INTEGER NOT NULL REFERENCES scans(id),
    target       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok','partial','failed','carried')),
    sources      TEXT NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    last_ok_scan INTEGER REFERENCES scans(id),
    units        TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (scan_id, target)
) WITHOUT ROWID;

-- A finished scan in which every source failed is 'failed': it is never
-- the latest complete scan. SQLite cannot alter a CHECK, so the table is
-- rebuilt (migrations run with foreign keys off and checked before commit).
CREATE TABLE scans_new (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running','complete','incomplete','failed')),
    tool_version  TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    counts        TEXT NOT NULL DEFAULT '{}',
    prev_hash     TEXT NOT NULL,
    row_hash      TEXT
);
INSERT INTO scans_new(id, started_at, finished_at, status, tool_version, config_digest, counts, prev_hash, row_hash)
    SELECT id, started_at, finished_at, status, tool_version, config_digest, counts, prev_hash, row_hash FROM scans;
DROP TABLE scans;
ALTER TABLE scans_new RENAME TO scans;

-- The targets each source declared it covered (JSON array).
ALTER TABLE scan_sources ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
