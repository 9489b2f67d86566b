-- A store file as the first release wrote it: schema version 1 plus a few rows.
-- Keep it frozen; test_store_sqlite_migrations.py upgrades it in place.
-- Key secrets (test values only): key_one = 'vr-fixture-secret-one',
-- key_two = 'vr-fixture-secret-two'; only their sha256 hex is stored.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    created_at  REAL NOT NULL,
    rpm         INTEGER,
    tpm         INTEGER,
    concurrency INTEGER
);
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    created_at     REAL NOT NULL,
    expires_at     REAL,
    revoked_at     REAL,
    rpm            INTEGER,
    tpm            INTEGER,
    concurrency    INTEGER,
    allowed_models TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_account ON api_keys (account_id);
CREATE TABLE usage_daily (
    day               TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    model             TEXT NOT NULL,
    requests          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, key_id, model)
) WITHOUT ROWID;

INSERT INTO accounts (id, name, status, created_at, rpm, tpm, concurrency) VALUES
    ('acct_0000000000000001', 'research', 'active', 1710000000.0, 60, 100000, 4),
    ('acct_0000000000000002', 'legacy', 'inactive', 1710000100.0, NULL, 0, NULL);

INSERT INTO api_keys (id, account_id, name, prefix, secret_hash, created_at, expires_at,
                      revoked_at, rpm, tpm, concurrency, allowed_models) VALUES
    ('key_0000000000000001', 'acct_0000000000000001', 'notebook', 'vr-fixtur…',
     '30056686f2e191846a886b12e9d3aa9deaafb0381e45ed015b7096c58a31d854',
     1710000200.0, NULL, NULL, 30, NULL, NULL, '["gpt-4o*", "echo"]'),
    ('key_0000000000000002', 'acct_0000000000000002', 'old batch job', 'vr-fixtur…',
     '654d07c4e37d9bafdf1e569ac4d27a5f06764712af8d3c9db94af8693fc3851a',
     1710000300.0, 1800000000.0, 1710000400.0, NULL, NULL, 0, '[]');

INSERT INTO usage_daily VALUES
    ('2024-03-10', 'acct_0000000000000001', 'key_0000000000000001', 'echo', 3, 30, 12, 0.5),
    ('2024-03-11', 'acct_0000000000000001', 'key_0000000000000001', 'gpt-4o', 1, 100, 50, 0.25);

PRAGMA user_version = 1;
