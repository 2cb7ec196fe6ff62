-- What a re-scan needs to list only the commits added since the history
-- was recorded, once refs have moved:
--   since_scan: the reachable commits are the scanned_commits rows of the
--     repository and digest with last_seen_scan >= since_scan (a re-scan
--     that only adds commits marks those, not every reachable one again);
--   starts: the commits that history was walked from (those of
--     `rev-list --all`), a JSON array; NULL when not recorded;
--   shape: a digest of what else decides which commits they reach (the
--     shallow boundary, grafts, replace refs).
-- Rows recorded before this version marked their reachable commits with
-- last_seen_scan = scan_id.
ALTER TABLE repo_refs ADD COLUMN since_scan INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repo_refs ADD COLUMN starts TEXT;
ALTER TABLE repo_refs ADD COLUMN shape TEXT NOT NULL DEFAULT '';
UPDATE repo_refs SET since_scan = scan_id;
