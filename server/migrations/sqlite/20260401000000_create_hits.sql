-- The `/hit` counter when no Redis is configured: one row per counter key. rowstream's own
-- bookkeeping (leading underscore): never served as a relation, like _sqlx_migrations.
CREATE TABLE IF NOT EXISTS _rowstream_hits (
    key   TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
