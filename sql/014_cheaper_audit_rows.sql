-- sessiond:online
-- sessiond migration 014: audit rows cheaper to write (issue 23).
--
-- Every write appends a session_events row inside its transaction. Its time
-- index was a btree, one more index entry per row in a table that only ever
-- grows at its end, in time order: a BRIN index summarises that in a few pages
-- (what retention and the stats read: ranges of recent or old rows), and
-- costs a row nothing beyond the occasional summary update. The id sequence
-- hands each backend 32 values at a time instead of taking its lock and
-- buffer for every row (ids stay unique; their order across backends is not
-- their time order, which nothing relies on: occurred_at is the time).
--
-- Online: this file runs outside a transaction, one statement at a time
-- (sessiond --migrate, see docs/operations.md), building the index with
-- CREATE INDEX CONCURRENTLY, so writes to session_events go on meanwhile. Each
-- statement is safe to run again; an index a failed build left INVALID is
-- dropped before the retry.

CREATE INDEX CONCURRENTLY IF NOT EXISTS session_events_time_brin ON session_events
    USING brin (occurred_at) WITH (pages_per_range = 32, autosummarize = on);

DROP INDEX CONCURRENTLY IF EXISTS session_events_time_idx;

ALTER SEQUENCE session_events_id_seq CACHE 32;
