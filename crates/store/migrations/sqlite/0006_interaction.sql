-- Step 9 and §5.4.1b of the standard: consumers' data demands (数据需求) that providers assess
-- into their open plans, and error reports (数据纠错) on published data; with the history of
-- each (who did what, from which state to which, the reason and the deadline).
CREATE TABLE demands (
    id INTEGER PRIMARY KEY,
    requester_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    purpose TEXT NOT NULL,
    domain TEXT NOT NULL,
    -- The provider it is routed to (named by the requester, or by the administration institution).
    provider_org_id INTEGER REFERENCES organisations(id),
    state TEXT NOT NULL,
    -- The provider's answer: the reason of a refusal, or the reply with an acceptance.
    reply TEXT,
    -- The published resource an already_open answer points to.
    resource_id INTEGER REFERENCES resources(id),
    -- The plan item an acceptance created.
    plan_item_id INTEGER REFERENCES plan_items(id),
    stage_due TEXT,
    stage_started_at INTEGER,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    answered_at INTEGER,
    fulfilled_at INTEGER
);
CREATE INDEX demands_requester ON demands (requester_id, id);
CREATE INDEX demands_queue ON demands (state, provider_org_id, id);
CREATE INDEX demands_duplicate ON demands (requester_id, fingerprint, created_at);
CREATE UNIQUE INDEX demands_idempotency ON demands (requester_id, idempotency_key);
CREATE INDEX demands_resource ON demands (resource_id);
CREATE INDEX demands_plan_item ON demands (plan_item_id);

CREATE TABLE corrections (
    id INTEGER PRIMARY KEY,
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    provider_org_id INTEGER NOT NULL REFERENCES organisations(id),
    distribution_id INTEGER NOT NULL REFERENCES distributions(id),
    row_no INTEGER,
    field_name TEXT,
    description TEXT NOT NULL,
    evidence TEXT,
    state TEXT NOT NULL,
    -- How an accepted error will be fixed, and the distribution (new version) that fixes it.
    fix TEXT,
    fixed_distribution_id INTEGER REFERENCES distributions(id),
    reason TEXT,
    stage_due TEXT,
    stage_started_at INTEGER,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    decided_at INTEGER
);
CREATE INDEX corrections_reporter ON corrections (reporter_id, id);
CREATE INDEX corrections_resource ON corrections (resource_id, state);
CREATE INDEX corrections_queue ON corrections (provider_org_id, state, id);
CREATE INDEX corrections_duplicate ON corrections (reporter_id, fingerprint, created_at);
CREATE UNIQUE INDEX corrections_idempotency ON corrections (reporter_id, idempotency_key);

-- The history of demands and corrections (and, later, of the other interactions).
CREATE TABLE interaction_events (
    id INTEGER PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    actor TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT,
    details TEXT,
    due TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX interaction_events_object ON interaction_events (object_type, object_id, id);
