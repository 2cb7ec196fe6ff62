-- Tips: the branch and tag heads each scan read in each git repository
-- target it covered (ref name -> the commit it named, tags peeled to
-- their commit), so that an evidence package can state which commits
-- "scanned" means. Written by the git source with the history it
-- records as scanned (or carried with it when no ref moved); the scan's
-- scope step deletes the tips of targets the scan did not read (failed
-- or carried), so a target has tips in a scan only where the scan
-- covered it. Scans from before this version have none.
CREATE TABLE scan_tips (
    scan_id    INTEGER NOT NULL REFERENCES scans(id),
    target     TEXT NOT NULL,
    ref        TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    PRIMARY KEY (scan_id, target, ref)
) WITHOUT ROWID;
