-- sessiond on Citus: distributing the tables by token hash. AN EXAMPLE, NOT A
-- MIGRATION: `sessiond --migrate` applies only sql/NNN_*.sql and never this
-- file. Untested: no Citus in the test environment. Read "Scaling out" in the
-- README first; sessiond does NOT run unchanged on the result (see "Still to
-- change" below).
--
-- Run once on the coordinator, after the normal migrations, as the owner of
-- the tables, in a maintenance window (create_distributed_table copies the
-- existing rows to the workers):
--   psql -d sessiond -v ON_ERROR_STOP=1 -f sql/citus/distribute.sql

CREATE EXTENSION IF NOT EXISTS citus;

BEGIN;

-- A unique constraint on a distributed table must contain the distribution
-- column. token_hash is unique on its own (fine); the primary key becomes
-- (token_hash, id), so id is no longer unique by constraint, only by being a
-- random v4 UUID.
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD PRIMARY KEY (token_hash, id);
CREATE INDEX sessions_id_idx ON sessions (id);   -- revoke-by-id and the write functions look rows up by id

SELECT create_distributed_table('sessions', 'token_hash');

-- The cache beside its rows: same distribution column, same shards (co-located),
-- so a fill (sessions FOR SHARE + cache insert) stays on one worker.
-- Alternative: leave it a local table on the coordinator; every read then
-- goes through the coordinator's own storage for hits.
SELECT create_distributed_table('session_cache', 'token_hash', colocate_with => 'sessions');

-- Audit events: auth_failed events have no session_id (NULL), and a NULL
-- distribution column is refused, so they are distributed by their own id.
-- Append-only; nothing joins them on the hot path.
SELECT create_distributed_table('session_events', 'id');

-- Small, read at create by user_id, written by the billing webhook: a
-- reference table (a copy on every worker).
SELECT create_reference_table('user_billing');

-- schema_migrations stays a plain table on the coordinator.

COMMIT;

-- Still to change before sessiond can run on this (not done):
--  1. Rotation (sessiond_refresh in 002) updates token_hash in place; Citus
--     refuses to modify a distribution column. Rotation must insert the row
--     under the new hash (same id) and delete or revoke the old one, in one
--     distributed transaction.
--  2. sessiond_patch, sessiond_refresh and sessiond_revoke select the row by
--     id FOR UPDATE; a multi-shard SELECT ... FOR UPDATE is not supported.
--     The C side knows the token hash for every /current/ route: pass it
--     and add "token_hash = $hash" so each becomes a single-shard (router)
--     query; then create_distributed_function(..., distribution_arg_name =>
--     'p_hash', colocate_with => 'sessions') can push the call to the worker.
--  3. Revoke-one (DELETE /api/sessions/{id}/), invalidate-all, listing,
--     the session cap and the billing route select by user_id: multi-shard
--     queries (fan-out to every worker). Correct, but the cost grows with
--     the number of shards. Distributing by user_id instead would make those
--     single-shard and the hot token lookup multi-shard: the wrong trade.
--  4. cleanup_sessions' batches (DELETE ... USING ... FOR UPDATE SKIP LOCKED)
--     are multi-shard modifications with locking clauses; check them against
--     the Citus version in use, or run them per worker.
--  5. UNLOGGED: whether Citus creates the shards of session_cache UNLOGGED
--     has not been verified here. Either way a worker's crash or failover
--     empties (or rolls back) only its cache shards; sessiond reads through
--     to sessions on a miss, so nothing but latency is lost.
