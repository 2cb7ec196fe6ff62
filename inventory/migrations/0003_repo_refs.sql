-- The refs of each git repository when its history was last recorded as
-- scanned under a rules digest: a re-scan whose refs are unchanged reads
-- no commit list at all. scan_id is the scan whose scanned_commits rows
-- (last_seen_scan = scan_id) are the commits reachable from those refs.

CREATE TABLE repo_refs (
    repo         TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    refs_digest  TEXT NOT NULL,
    commits      INTEGER NOT NULL,
    scan_id      INTEGER NOT NULL REFERENCES scans(id),
    PRIMARY KEY (repo, rules_digest)
) WITHOUT ROWID;
