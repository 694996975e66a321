-- The `/hit` counter when no Redis is configured: one row per counter key.
CREATE TABLE IF NOT EXISTS hits (
    key   TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
