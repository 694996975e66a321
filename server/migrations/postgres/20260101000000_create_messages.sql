-- IF NOT EXISTS: rowstream also serves a `messages` table it did not create.
CREATE TABLE IF NOT EXISTS messages (
    id         BIGINT PRIMARY KEY,
    sender     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
