-- §8 of the standard, 连续性: the timeliness monitor's flags. A published resource not updated
-- within its update frequency plus grace is overdue; one row per resource while it is, keyed to
-- the update the overdue period counts from, so its provider is told once per period.
CREATE TABLE resource_overdue (
    resource_id INTEGER PRIMARY KEY REFERENCES resources(id),
    -- The day (YYYY-MM-DD, China Standard Time) of the last update the period counts from.
    last_update TEXT NOT NULL,
    -- The last day that was still in time.
    due TEXT NOT NULL,
    flagged_at INTEGER NOT NULL
);
