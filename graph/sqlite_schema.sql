-- Times are UTC epoch seconds (REAL): compact, ordered, cheap to compare.
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    label TEXT,
    labelled_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accounts_label ON accounts(label, id);

CREATE TABLE IF NOT EXISTS links (
    account_id TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (account_id, type, id)
) WITHOUT ROWID;
-- Covers identifier degree counts and the hub cap's "earliest-linked first" order.
CREATE INDEX IF NOT EXISTS links_by_identifier ON links(type, id, first_seen, account_id);

CREATE TABLE IF NOT EXISTS benign (
    type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS labels (
    account_id TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    note TEXT,
    at REAL NOT NULL,
    UNIQUE (account_id, at, label, source)
);

CREATE TABLE IF NOT EXISTS scores (
    account_id TEXT PRIMARY KEY,
    risk REAL NOT NULL,
    model_version TEXT NOT NULL,
    scored_at REAL NOT NULL,
    as_of REAL NOT NULL,
    reasons TEXT NOT NULL,
    ring_id TEXT
) WITHOUT ROWID;

-- Online scores asked for and not yet written (see GraphStore.pending_scores); a row
-- leaves when a score with as_of >= requested_at is written, so the table stays small.
CREATE TABLE IF NOT EXISTS score_requests (
    account_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS score_requests_due ON score_requests(requested_at, account_id);

CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    model_version TEXT NOT NULL,
    stats TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_risks (
    sweep_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    risk REAL NOT NULL,
    ring_id TEXT,
    PRIMARY KEY (sweep_id, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sweep_risks_order ON sweep_risks(sweep_id, risk DESC, account_id);
CREATE TABLE IF NOT EXISTS rings (
    sweep_id TEXT NOT NULL,
    ring_id TEXT NOT NULL,
    risk REAL NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (sweep_id, ring_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rings_order ON rings(sweep_id, risk DESC, ring_id);
CREATE TABLE IF NOT EXISTS ring_members (
    sweep_id TEXT NOT NULL, ring_id TEXT NOT NULL, account_id TEXT NOT NULL,
    PRIMARY KEY (sweep_id, ring_id, account_id)
) WITHOUT ROWID;
-- rings_of (every online score) looks members up by account, not by ring.
CREATE INDEX IF NOT EXISTS ring_members_by_account ON ring_members(sweep_id, account_id);
CREATE TABLE IF NOT EXISTS ring_identifiers (
    sweep_id TEXT NOT NULL, ring_id TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
    accounts INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, ring_id, type, id)
) WITHOUT ROWID;
-- An identifier's rings (GET /v1/identifiers/{type}/{id}).
CREATE INDEX IF NOT EXISTS ring_identifiers_by_key ON ring_identifiers(sweep_id, type, id);
CREATE TABLE IF NOT EXISTS ring_history (
    ring_id TEXT NOT NULL, sweep_id TEXT NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (ring_id, sweep_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    result TEXT,
    error TEXT,
    params TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;

-- Investigators' cases, keyed by ring id (not by sweep): a case follows its ring's id.
CREATE TABLE IF NOT EXISTS cases (
    ring_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    assignee TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cases_by_status ON cases(status, assignee);
CREATE TABLE IF NOT EXISTS case_history (
    ring_id TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    note TEXT,
    key_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_history_ring ON case_history(ring_id);

-- The last sharded sweep's partition (graph/sqlite_shards.py: write_components): every account's
-- component of the linking graph, seekable by component (a shard task reads its accounts here).
CREATE TABLE IF NOT EXISTS account_components (
    component INTEGER NOT NULL, account_id TEXT NOT NULL, PRIMARY KEY (component, account_id)
) WITHOUT ROWID;

-- A sharded sweep's staged shard results (graph/shards.py), until its finishing step publishes.
CREATE TABLE IF NOT EXISTS sweep_shards (
    sweep_id TEXT NOT NULL, shard INTEGER NOT NULL, status TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (sweep_id, shard)
) WITHOUT ROWID;
