-- SQLite has no TIMESTAMPTZ: created_at holds RFC 3339 UTC text (2024-01-31T12:00:00Z),
-- which sorts and compares like the instant it names.
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY,
    sender     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
