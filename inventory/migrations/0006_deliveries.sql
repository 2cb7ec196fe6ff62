-- Notifications: where nhi posts what changed, and what each destination
-- has received, so that an item is announced once and none is lost.
--
-- A destination is named by its name and kind and identified by the keyed
-- fingerprint of its URL: webhook URLs are secrets (a Slack or Teams URL
-- is the credential), so the URL itself is never stored, only shown as
-- scheme and host. cursor_scan is the last scan whose diff the destination
-- received in full: the next run posts the change since that scan.
CREATE TABLE destinations (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('slack','teams','webhook')),
    url_fingerprint TEXT NOT NULL UNIQUE,
    shown           TEXT NOT NULL,
    cursor_scan     INTEGER REFERENCES scans(id)
);

-- One row per attempt to post to a destination: the diff from_scan..scan_id.
-- status: delivered (the receiver answered 2xx), failed (it did not:
-- error says why; the items go out with the next run), quiet (nothing
-- new to post), heartbeat (no change, posted because --always).
CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY,
    destination_id INTEGER NOT NULL REFERENCES destinations(id),
    scan_id        INTEGER NOT NULL REFERENCES scans(id),
    from_scan      INTEGER NOT NULL,
    at             TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('delivered','failed','quiet','heartbeat')),
    items          INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    http_status    INTEGER NOT NULL DEFAULT 0,
    message_id     TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_scan ON deliveries(scan_id);

-- Every item (its stable Diff id) a destination has received.
CREATE TABLE delivered_items (
    destination_id INTEGER NOT NULL REFERENCES destinations(id),
    item           TEXT NOT NULL,
    delivery_id    INTEGER NOT NULL REFERENCES deliveries(id),
    PRIMARY KEY (destination_id, item)
) WITHOUT ROWID;
