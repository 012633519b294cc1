-- The audit trail: append-only, hash-chained, partitioned by month (UTC).
--
-- Each row carries prev_hash, the hash of the row before it in seq order, and
-- hash = sha256(prev_hash || audit_canonical(row's own content)) (sql/functions/16_audit.sql),
-- so changing, removing or reordering a row breaks the chain at that row; audit_verify() finds
-- the first row that does not match. Rows are only ever added by audit_append(jsonb), which locks
-- the one row of audit_head FOR UPDATE: appends are strictly ordered, seq has no gaps and `at`
-- never goes backwards, so every row of a month comes after every row of earlier months.
-- Retention drops whole old months (audit_prune); the oldest remaining row's prev_hash is then
-- the trusted anchor of the chain.
--
-- The service's role may not touch these tables: it only executes audit_append (and reads
-- through audit_events as an auditor). Triggers (16_audit.sql) refuse UPDATE, DELETE and
-- TRUNCATE even to the owner.

-- The service's database role; migration 012_accounts creates it (this is for a database that
-- does not have 012 yet; roles belong to the whole server, so another database may have made it).
DO $$
BEGIN
    CREATE ROLE geo_service_app LOGIN NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE audit_head (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq         bigint NOT NULL,          -- seq of the newest row (0: none yet)
    hash        bytea NOT NULL,           -- its hash (the genesis: 32 zero bytes)
    at          timestamptz NOT NULL      -- its time (-infinity: none yet)
);
INSERT INTO audit_head (seq, hash, at)
VALUES (0, decode(repeat('00', 32), 'hex'), '-infinity');

CREATE TABLE audit_event (
    seq         bigint NOT NULL,          -- order of the chain, 1, 2, 3, ... without gaps
    at          timestamptz NOT NULL,     -- when it was appended; never earlier than seq - 1's
    actor       text NOT NULL,            -- user name, cli:<os user>, or anonymous
    role        text,                     -- the actor's role, if any
    action      text NOT NULL,            -- sign_in, lookup, phone_reveal, export, ...
    subject     text,                     -- what the action was about (user, layer, person, ...)
    detail      jsonb NOT NULL DEFAULT '{}',
    request_id  text,
    client      text,                     -- client IP address
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    PRIMARY KEY (seq, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_event_at_idx ON audit_event (at);
CREATE INDEX audit_event_actor_idx ON audit_event (actor, seq);
CREATE INDEX audit_event_action_idx ON audit_event (action, seq);

-- Nobody but the owner reads or writes the tables; partitions are made by the owner and grant
-- nothing either. 90_access.sql grants nothing on them.
REVOKE ALL ON audit_event, audit_head FROM PUBLIC;
