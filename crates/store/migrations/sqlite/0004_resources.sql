-- Steps 1–3 of the standard: open plans and their items (开放数据清单), resources (数据资源)
-- with their metadata, distributions (挂接资源) in versions, review records, and the catalogue
-- change log that search indexes follow.
CREATE TABLE open_plans (
    id INTEGER PRIMARY KEY,
    provider_org_id INTEGER NOT NULL REFERENCES organisations(id),
    title TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    source TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX open_plans_provider ON open_plans (provider_org_id);

CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    provider_org_id INTEGER NOT NULL REFERENCES organisations(id),
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    revision_state TEXT NOT NULL,
    title TEXT NOT NULL,
    open_type TEXT NOT NULL,
    meta TEXT NOT NULL,
    revision_meta TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    submitted_at INTEGER,
    review_due TEXT,
    published_at INTEGER,
    withdrawn_reason TEXT
);
CREATE UNIQUE INDEX resources_provider_seq ON resources (provider_org_id, seq);
CREATE INDEX resources_state ON resources (state, submitted_at);

CREATE TABLE plan_items (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES open_plans(id),
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    open_type TEXT NOT NULL,
    planned_date TEXT NOT NULL,
    notes TEXT,
    demand_id INTEGER,
    resource_id INTEGER REFERENCES resources(id),
    status TEXT NOT NULL,
    cancel_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX plan_items_plan ON plan_items (plan_id);
CREATE INDEX plan_items_resource ON plan_items (resource_id);

CREATE TABLE distributions (
    id INTEGER PRIMARY KEY,
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL,
    filename TEXT,
    media_type TEXT,
    object_key TEXT,
    sha256 TEXT,
    size_bytes INTEGER,
    row_count INTEGER,
    job_id INTEGER,
    report TEXT,
    masking TEXT,
    privacy_justification TEXT,
    datastore_table TEXT,
    api_url TEXT,
    api_method TEXT,
    api_params TEXT,
    api_doc TEXT,
    change_note TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX distributions_resource ON distributions (resource_id, version);

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    stage TEXT NOT NULL,
    reviewer_id INTEGER NOT NULL REFERENCES users(id),
    decision TEXT NOT NULL,
    checklist TEXT NOT NULL,
    reasons TEXT,
    due TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX reviews_object ON reviews (object_type, object_id);

CREATE TABLE catalogue_changes (
    seq INTEGER PRIMARY KEY,
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    change TEXT NOT NULL,
    at INTEGER NOT NULL
);
