#!/usr/bin/env bash
# Benchmark: every migration applied to a database already holding 1,000,000
# sessions (a quarter of them cached) and 1,000,000 audit events, one
# migration at a time, each timed. docs/operations.md's upgrade table comes
# from this. Not part of `make test`.
#
#   make && make tools && tests/bench/migrate_1m.sh [ROWS]
#
# The rows are seeded right after migration 001 (its columns only), so each
# later migration meets them. A transactional migration holds its locks until
# its commit: its time is how long writes to the tables it alters wait.
. "$(dirname "$0")/../lib.sh"
ROWS=${1:-1000000}
stack_up ""
DB=mig1m
psql_q "DROP DATABASE IF EXISTS $DB" >/dev/null
psql_q "CREATE DATABASE $DB" >/dev/null
URL="host=$PGSOCK dbname=$DB user=sessiond"
q() { psql -h "$PGSOCK" -U sessiond -d "$DB" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
if [ "$(id -u)" -eq 0 ]; then q() { runuser -u postgres -- psql -h "$PGSOCK" -U sessiond -d "$DB" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }; fi
DIR=$VAR/mig1m
mkdir -p "$DIR"
step() { # file: applies the migrations in DIR plus file; prints its time
	local t0
	ln -sf "$TOP/sql/$1" "$DIR/$1"
	t0=$(date +%s%N)
	SESSIOND_DATABASE_URL=$URL "$BUILD/sessiond" --config "$CONF" --migrate --sql-dir "$DIR" >/dev/null || { echo "$1 failed"; exit 1; }
	printf '| %s | %d ms |\n' "$1" $((($(date +%s%N) - t0) / 1000000))
}
files=()
for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do files+=("$(basename "$f")"); done
step "${files[0]}" >/dev/null
echo "seeding $ROWS sessions ($((ROWS / 4)) cached) and $ROWS events after ${files[0]}"
t0=$(date +%s%N)
q "INSERT INTO sessions (id, token_hash, user_id, expires_at, session_data)
   SELECT gen_random_uuid(), sha256(('m-' || i)::bytea), 'u' || (i % 50000), now() + (i % 86400) * interval '1 second',
          jsonb_build_object('k', i)
   FROM generate_series(1, $ROWS) i" >/dev/null
q "INSERT INTO session_cache
   SELECT token_hash, id, user_id, user_email, user_name, user_picture, tenant_id, tenant_name,
          needs_onboarding, onboarding_completed, onboarding_step, subscription_plan,
          subscription_status, session_data, session_type, version, created_at, updated_at,
          last_activity, expires_at, ip_address, user_agent, last_activity
   FROM sessions LIMIT $((ROWS / 4))" >/dev/null
q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
   SELECT now() - (i % 40) * interval '1 day', 'created', id, user_id
   FROM (SELECT row_number() OVER () AS i, id, user_id FROM sessions) s" >/dev/null
q "VACUUM ANALYZE" >/dev/null
echo "seeded in $((($(date +%s%N) - t0) / 1000000)) ms"
echo
echo "| migration | time |"
echo "|---|---|"
for f in "${files[@]:1}"; do step "$f"; done
q "SELECT 1" >/dev/null
psql_q "DROP DATABASE $DB" >/dev/null
