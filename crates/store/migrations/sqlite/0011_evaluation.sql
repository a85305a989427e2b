-- 评估考核 (§8): the indicator systems the administration institution evaluates providers with
-- (every saved version kept; a run names the version it used), the evaluation runs as
-- reproducible snapshots, and the data API's calls per day, resource and grant (counted in
-- memory by each node and added here every few seconds).
CREATE TABLE indicator_systems (
    version INTEGER PRIMARY KEY,
    -- The indicators as JSON: [{"metric", "weight", "layer"}].
    indicators TEXT NOT NULL,
    note TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE evaluation_runs (
    id INTEGER PRIMARY KEY,
    period_kind TEXT NOT NULL,
    period_label TEXT NOT NULL,
    -- The days evaluated: from period_from up to, not including, period_to (YYYY-MM-DD).
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    -- The moment the platform's state was read at: the period's end, or the run's time when earlier.
    as_of INTEGER NOT NULL,
    system_version INTEGER NOT NULL REFERENCES indicator_systems(version),
    -- Everything the run found and scored, as JSON.
    snapshot TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX evaluation_runs_period ON evaluation_runs (period_from, id);

CREATE TABLE api_calls_daily (
    -- The day in China Standard Time (YYYY-MM-DD).
    day TEXT NOT NULL,
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    grant_id INTEGER NOT NULL REFERENCES grants(id),
    calls INTEGER NOT NULL,
    PRIMARY KEY (day, resource_id, grant_id)
);
CREATE INDEX api_calls_daily_resource ON api_calls_daily (resource_id, day);
