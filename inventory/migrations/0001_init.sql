-- nhi inventory schema, version 1.
-- Times are RFC 3339 UTC text. JSON columns hold objects/arrays as text.
-- No column ever holds a plaintext secret value.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per `nhi scan`. prev_hash is the SHA-256 of the previous scan row
-- as it stood when this scan began (a tamper-evident chain); row_hash is
-- this row's own hash, written when it completes.
CREATE TABLE scans (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running','complete','incomplete')),
    tool_version  TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    counts        TEXT NOT NULL DEFAULT '{}',
    prev_hash     TEXT NOT NULL,
    row_hash      TEXT
);

-- Outcome of each source within a scan: ok, or failed with the reason.
CREATE TABLE scan_sources (
    scan_id     INTEGER NOT NULL REFERENCES scans(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('ok','failed')),
    error       TEXT NOT NULL DEFAULT '',
    item_errors TEXT NOT NULL DEFAULT '[]',
    stats       TEXT NOT NULL DEFAULT '{}',
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (scan_id, name)
);

CREATE TABLE identities (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    source          TEXT NOT NULL,
    provider        TEXT NOT NULL DEFAULT '',
    account         TEXT NOT NULL DEFAULT '',
    owner           TEXT NOT NULL DEFAULT '',
    owner_source    TEXT NOT NULL DEFAULT '',
    created_at      TEXT,
    last_used_at    TEXT,
    privileges      TEXT NOT NULL DEFAULT '',
    auth_mode       TEXT NOT NULL DEFAULT '',
    tags            TEXT NOT NULL DEFAULT '{}',
    attrs           TEXT NOT NULL DEFAULT '{}',
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan  INTEGER NOT NULL REFERENCES scans(id)
);
CREATE INDEX identities_kind ON identities(kind);

CREATE TABLE credentials (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    identity_id     INTEGER REFERENCES identities(id),
    created_at      TEXT,
    last_rotated_at TEXT,
    expires_at      TEXT,
    last_used_at    TEXT,
    status          TEXT NOT NULL DEFAULT '',
    vault_status    TEXT NOT NULL DEFAULT 'unknown'
                    CHECK (vault_status IN ('vaulted','ci-secret-store','hardcoded','unknown')),
    fingerprint     TEXT NOT NULL DEFAULT '',
    redacted        TEXT NOT NULL DEFAULT '',
    attrs           TEXT NOT NULL DEFAULT '{}',
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan  INTEGER NOT NULL REFERENCES scans(id)
);
CREATE INDEX credentials_fingerprint ON credentials(fingerprint);
CREATE INDEX credentials_identity ON credentials(identity_id);

CREATE TABLE occurrences (
    id              INTEGER PRIMARY KEY,
    credential_id   INTEGER NOT NULL REFERENCES credentials(id),
    okey            TEXT NOT NULL,
    source          TEXT NOT NULL,
    repo            TEXT NOT NULL DEFAULT '',
    path            TEXT NOT NULL DEFAULT '',
    line            INTEGER NOT NULL DEFAULT 0,
    commit_sha      TEXT NOT NULL DEFAULT '',
    author          TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    date            TEXT,
    ci_job          TEXT NOT NULL DEFAULT '',
    ci_step         TEXT NOT NULL DEFAULT '',
    vault_path      TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT '{}',
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan  INTEGER NOT NULL REFERENCES scans(id),
    UNIQUE (credential_id, okey)
);
CREATE INDEX occurrences_repo_commit ON occurrences(repo, commit_sha);

-- Git commits already scanned per repository and rules digest, so a
-- re-scan only reads new commits.
CREATE TABLE scanned_commits (
    repo           TEXT NOT NULL,
    commit_sha     TEXT NOT NULL,
    rules_digest   TEXT NOT NULL,
    scan_id        INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    PRIMARY KEY (repo, rules_digest, commit_sha)
) WITHOUT ROWID;
