-- Access reviews (SOC 2 CC6.2/CC6.3): owners attest the machine identities
-- in a frozen scope, and the record is evidence.
--
-- A review freezes its scope when it starts: review_items is the export an
-- auditor samples, as it stood in scan_id (the latest complete scan then),
-- and never changes afterwards. snapshot holds what the worksheets show
-- (kind, places its secrets live, ages, last use, privileges, open gaps):
-- identifiers and redacted previews only, never a secret value.
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    scope      TEXT NOT NULL DEFAULT '[]',
    fallback   TEXT NOT NULL,
    scan_id    INTEGER NOT NULL REFERENCES scans(id),
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    closed_at  TEXT,
    closed_by  TEXT NOT NULL DEFAULT ''
);

-- One identity (or a credential no identity answers for) in a review's
-- scope. no numbers the items 1..n within the review (what worksheets and
-- nhi review attest name). reviewer is the owner, or the review's fallback
-- for an unowned item (unowned = 1: itself a finding). overdue_at is set
-- when the review closed without an attestation of the item.
CREATE TABLE review_items (
    id           INTEGER PRIMARY KEY,
    review_id    INTEGER NOT NULL REFERENCES reviews(id),
    no           INTEGER NOT NULL,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('identity','credential')),
    subject_key  TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    owner_source TEXT NOT NULL DEFAULT '',
    reviewer     TEXT NOT NULL,
    unowned      INTEGER NOT NULL DEFAULT 0,
    snapshot     TEXT NOT NULL DEFAULT '{}',
    overdue_at   TEXT,
    UNIQUE (review_id, no),
    UNIQUE (review_id, subject_kind, subject_key)
);
CREATE INDEX review_items_subject ON review_items(subject_kind, subject_key);

-- An owner's keep / revoke / modify decision on an item, with a reason.
-- Never edited: a later attestation of the same item (while the review is
-- open) supersedes it, and both stay. via: cli, import (file names the
-- worksheet), tui.
CREATE TABLE review_attestations (
    id        INTEGER PRIMARY KEY,
    review_id INTEGER NOT NULL REFERENCES reviews(id),
    item_id   INTEGER NOT NULL REFERENCES review_items(id),
    decision  TEXT NOT NULL CHECK (decision IN ('keep','revoke','modify')),
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL,
    via       TEXT NOT NULL DEFAULT 'cli',
    file      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX review_attestations_item ON review_attestations(item_id);

-- Whether a revoke decision was carried out, as a later scan saw it: done
-- (the identity or credential is gone, or none of its credentials is
-- active any more), still-present (with what is still live), or
-- unverifiable (a secret in git history whose provider nhi cannot ask).
CREATE TABLE revocation_checks (
    id             INTEGER PRIMARY KEY,
    attestation_id INTEGER NOT NULL REFERENCES review_attestations(id),
    scan_id        INTEGER NOT NULL REFERENCES scans(id),
    status         TEXT NOT NULL CHECK (status IN ('done','still-present','unverifiable')),
    at             TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    UNIQUE (attestation_id, scan_id)
);
