-- Step 9 (§5.4.9, §8) and §7 of the standard: showcases of what consumers built with the data
-- (应用成果), reviewed by the administration institution; and confidential security reports
-- (安全问题报告) with their triage, the actions taken and the resolution. Their history is in
-- interaction_events (object_type `showcase` and `security_report`).
CREATE TABLE showcases (
    id INTEGER PRIMARY KEY,
    submitter_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    link TEXT NOT NULL,
    -- The re-encoded screenshot in the file store (metadata stripped), and its media type.
    screenshot_key TEXT,
    screenshot_type TEXT,
    state TEXT NOT NULL,
    -- Why the administration institution rejected it.
    reason TEXT,
    stage_due TEXT,
    stage_started_at INTEGER,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    decided_at INTEGER
);
CREATE INDEX showcases_submitter ON showcases (submitter_id, id);
CREATE INDEX showcases_state ON showcases (state, kind, id);
CREATE INDEX showcases_duplicate ON showcases (submitter_id, fingerprint, created_at);
CREATE UNIQUE INDEX showcases_idempotency ON showcases (submitter_id, idempotency_key);

-- The published resources a showcase used, with their provider and domain as they were at
-- submission (what the gallery filters on).
CREATE TABLE showcase_resources (
    showcase_id INTEGER NOT NULL REFERENCES showcases(id),
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    provider_org_id INTEGER NOT NULL REFERENCES organisations(id),
    domain TEXT NOT NULL,
    PRIMARY KEY (showcase_id, resource_id)
);
CREATE INDEX showcase_resources_resource ON showcase_resources (resource_id, showcase_id);
CREATE INDEX showcase_resources_provider ON showcase_resources (provider_org_id, showcase_id);
CREATE INDEX showcase_resources_domain ON showcase_resources (domain, showcase_id);

CREATE TABLE security_reports (
    id INTEGER PRIMARY KEY,
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    resource_id INTEGER REFERENCES resources(id),
    grant_id INTEGER REFERENCES grants(id),
    description TEXT NOT NULL,
    evidence TEXT,
    state TEXT NOT NULL,
    severity TEXT,
    -- The provider the administration institution routed it to (sees it from then on).
    provider_org_id INTEGER REFERENCES organisations(id),
    resolution TEXT,
    stage_due TEXT,
    stage_started_at INTEGER,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX security_reports_reporter ON security_reports (reporter_id, id);
CREATE INDEX security_reports_queue ON security_reports (state, provider_org_id, id);
CREATE INDEX security_reports_duplicate ON security_reports (reporter_id, fingerprint, created_at);
CREATE UNIQUE INDEX security_reports_idempotency ON security_reports (reporter_id, idempotency_key);
