#!/usr/bin/env bash
# Benchmark: cleanup_sessions deleting 1,000,000 expired sessions (a quarter of
# them cached, one old event each) on a throwaway stack. Not part of `make test`.
#
#   make && make tools && tests/bench/cleanup_1m.sh [ROWS] [BATCH_SIZE]
#
# Prints the seed time, cleanup_sessions' own report (--verbose) and the wall
# time of the run. Defaults: ROWS=1000000, BATCH_SIZE=1000 (the default).
. "$(dirname "$0")/../lib.sh"
ROWS=${1:-1000000}
BATCH=${2:-1000}
stack_up "event_retention_days = 30"

echo "seeding $ROWS expired sessions, $((ROWS / 4)) cache rows, $ROWS old events, 10000 live sessions"
t0=$(date +%s%N)
psql_q "INSERT INTO sessions (id, token_hash, user_id, expires_at)
        SELECT gen_random_uuid(), sha256(('bench-' || i)::bytea), 'u' || (i % 50000),
               now() - interval '1 day' - (i % 86400) * interval '1 second'
        FROM generate_series(1, $ROWS) i" >/dev/null
psql_q "INSERT INTO sessions (id, token_hash, user_id, expires_at)
        SELECT gen_random_uuid(), sha256(('live-' || i)::bytea), 'live' || i, now() + interval '1 day'
        FROM generate_series(1, 10000) i" >/dev/null
psql_q "INSERT INTO session_cache
        SELECT token_hash, id, user_id, user_email, user_name, user_picture, tenant_id, tenant_name,
               needs_onboarding, onboarding_completed, onboarding_step, subscription_plan,
               subscription_status, session_data, session_type, version, created_at, updated_at,
               last_activity, expires_at, ip_address, user_agent, last_activity
        FROM sessions WHERE user_id LIKE 'u%' LIMIT $((ROWS / 4))" >/dev/null
psql_q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
        SELECT now() - interval '40 days', 'created', id, user_id FROM sessions WHERE user_id LIKE 'u%'" >/dev/null
psql_q "VACUUM ANALYZE" >/dev/null
echo "seeded in $((($(date +%s%N) - t0) / 1000000)) ms"

"$BUILD/cleanup_sessions" --config "$CONF" --dry-run
echo "--- time $BUILD/cleanup_sessions --config \$CONF --batch-size $BATCH --verbose"
time "$BUILD/cleanup_sessions" --config "$CONF" --batch-size "$BATCH" --verbose
rc=$?
echo "exit $rc; sessions left: $(psql_q "SELECT count(*) FROM sessions") (10000 live expected)"
