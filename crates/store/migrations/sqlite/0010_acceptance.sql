-- §6 of the standard, 数据接收标准: the rules every resource submission must pass, set by the
-- administration institution. Every change is a new version; the newest is in force, and the
-- older ones are the history. No row means the documented defaults.
CREATE TABLE acceptance_standards (
    version INTEGER PRIMARY KEY,
    -- The rules as JSON (core::acceptance::AcceptanceRules).
    rules TEXT NOT NULL,
    changed_by INTEGER REFERENCES users(id),
    changed_at INTEGER NOT NULL
);

-- §8 of the standard, 自评: a provider department's periodic self-evaluation over the six
-- quality dimensions. One per department and period; `draft → submitted → acknowledged`, or
-- `submitted → returned → submitted` when the administration institution sends it back.
CREATE TABLE self_evaluations (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    -- The period's key, e.g. `2026-Q3`, `2026-H1`, `2026`, `2026-07`.
    period TEXT NOT NULL,
    -- First and last day of the period, and the last day in time (YYYY-MM-DD).
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    due TEXT NOT NULL,
    state TEXT NOT NULL,
    -- JSON: per dimension the computed score, its evidence and the staff's comment.
    dimensions TEXT NOT NULL,
    action_plan TEXT NOT NULL,
    admin_comment TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    submitted_at INTEGER,
    -- The first submission, which decides whether it came in time.
    first_submitted_at INTEGER,
    decided_by INTEGER REFERENCES users(id),
    decided_at INTEGER
);
CREATE UNIQUE INDEX self_evaluations_period ON self_evaluations (org_id, period);

-- The due notices sent, one per department and period.
CREATE TABLE self_evaluation_notices (
    org_id INTEGER NOT NULL REFERENCES organisations(id),
    period TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, period)
);
