-- 行政区划: the national administrative division codes (GB/T 2260 extended to street and
-- village level by the statistics codes). level: 1 province, 2 city, 3 county, 4 street, 5 village.
CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT,
    level INTEGER NOT NULL
);
CREATE INDEX regions_parent ON regions (parent_code);
CREATE INDEX regions_name ON regions (name);
