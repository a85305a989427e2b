-- §7 of the standard, security over the data's lifecycle: indexes for the audit browser's
-- filters and the download trace, and the record of destroyed data versions (销毁).
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX downloads_grant ON downloads (grant_id, id);
CREATE INDEX downloads_resource_id ON downloads (resource_id, id);

-- One row per destroyed data version, written in the transaction that marks it destroyed and
-- drops its datastore table. Its files are deleted after that commit; `files_deleted_at` stays
-- empty (and `file_error` says why) until every one is gone, so a failed deletion is retried.
CREATE TABLE destructions (
    id INTEGER PRIMARY KEY,
    distribution_id INTEGER NOT NULL REFERENCES distributions(id),
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    version INTEGER NOT NULL,
    -- `withdrawn` or `superseded`.
    reason TEXT NOT NULL,
    datastore_table TEXT,
    -- The object keys to delete, as a JSON array.
    files TEXT NOT NULL,
    actor TEXT NOT NULL,
    audit_seq INTEGER NOT NULL,
    destroyed_at INTEGER NOT NULL,
    files_deleted_at INTEGER,
    file_error TEXT
);
CREATE UNIQUE INDEX destructions_distribution ON destructions (distribution_id);
CREATE INDEX destructions_pending ON destructions (files_deleted_at);
