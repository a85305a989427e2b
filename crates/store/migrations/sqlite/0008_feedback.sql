-- 数据应用反馈 — usage reports a consumer owes for each grant (what the data was used for, the
-- result, users or decisions reached, problems found with the data), one per due date; and the
-- reminders sent for each due date, so that none is sent twice.
CREATE TABLE usage_reports (
    id INTEGER PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES grants(id),
    consumer_id INTEGER NOT NULL REFERENCES users(id),
    -- The due date (YYYY-MM-DD) this report covers; one report per due date.
    period_due TEXT NOT NULL,
    purpose TEXT NOT NULL,
    result TEXT NOT NULL,
    users_count INTEGER,
    decisions TEXT,
    problems TEXT,
    link TEXT,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX usage_reports_period ON usage_reports (grant_id, period_due);
CREATE INDEX usage_reports_consumer ON usage_reports (consumer_id, fingerprint, created_at);
CREATE UNIQUE INDEX usage_reports_idempotency ON usage_reports (consumer_id, idempotency_key);

-- `due_soon` before a due date, `overdue` once it has passed uncovered.
CREATE TABLE usage_reminders (
    grant_id INTEGER NOT NULL REFERENCES grants(id),
    period_due TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (grant_id, period_due, kind)
);
