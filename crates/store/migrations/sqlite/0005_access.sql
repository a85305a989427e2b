-- Steps 4–8 of the standard: data applications (数据申请) with their resources, attachments and
-- history; grants (授权); AppKeys for the data API; and the log of every acquisition (数据获取).
CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    applicant_id INTEGER NOT NULL REFERENCES users(id),
    applicant_org_id INTEGER REFERENCES organisations(id),
    provider_org_id INTEGER NOT NULL REFERENCES organisations(id),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    form TEXT NOT NULL,
    scope TEXT,
    info_request TEXT,
    provider_reason TEXT,
    reason TEXT,
    stage_due TEXT,
    stage_started_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    submitted_at INTEGER,
    decided_at INTEGER
);
CREATE INDEX applications_applicant ON applications (applicant_id, id);
CREATE INDEX applications_queue ON applications (state, provider_org_id, submitted_at);

CREATE TABLE application_items (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    fields TEXT NOT NULL
);
CREATE INDEX application_items_application ON application_items (application_id);
CREATE INDEX application_items_resource ON application_items (resource_id);

CREATE TABLE application_attachments (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    object_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX application_attachments_application ON application_attachments (application_id);

-- Every step of an application: who did what, from which state to which, with the reason as
-- written (a relayed refusal keeps the provider's original wording too) and the deadline.
CREATE TABLE application_events (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    action TEXT NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    actor TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT,
    original_reason TEXT,
    details TEXT,
    due TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX application_events_application ON application_events (application_id, id);

CREATE TABLE grants (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    consumer_id INTEGER NOT NULL REFERENCES users(id),
    fields TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    methods TEXT NOT NULL,
    row_filter TEXT,
    state TEXT NOT NULL,
    revoke_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX grants_consumer ON grants (consumer_id, resource_id);
CREATE INDEX grants_resource ON grants (resource_id, state);

CREATE TABLE app_keys (
    id INTEGER PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES grants(id),
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX app_keys_grant ON app_keys (grant_id);

CREATE TABLE downloads (
    id INTEGER PRIMARY KEY,
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    distribution_id INTEGER NOT NULL REFERENCES distributions(id),
    grant_id INTEGER REFERENCES grants(id),
    user_id INTEGER REFERENCES users(id),
    bytes INTEGER NOT NULL,
    client_ip TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX downloads_resource ON downloads (resource_id);
CREATE INDEX downloads_user ON downloads (user_id, at);

-- The published copy of each loaded file (masked data as UTF-8 CSV) that downloads serve.
ALTER TABLE distributions ADD COLUMN export_key TEXT;
ALTER TABLE distributions ADD COLUMN export_sha256 TEXT;
ALTER TABLE distributions ADD COLUMN export_bytes INTEGER;

-- E-mail copies of notices: when each was sent, or why it could not be (the mail job's outbox).
ALTER TABLE notices ADD COLUMN emailed_at INTEGER;
ALTER TABLE notices ADD COLUMN email_error TEXT;

-- Published resources in id order, for full reindexes: one range scan, no sort.
CREATE INDEX resources_state_id ON resources (state, id);
