#!/usr/bin/env bash
# The end-to-end smoke of make check: one session's life over the real stack
# (PostgreSQL, sessiond, nginx): health, create with a JWT, read, PATCH,
# auth_request, logout, and the token refused after it.
. "$(dirname "$0")/../lib.sh"
stack_up
req GET /api/sessions/health/
expect_status 200 "health"
expect_json .store ok "health: the store is reachable"
create 'auth0|smoke' '{"session_data":{"step":1}}'
expect_status 201 "create with a JWT"
[ -n "$TOKEN" ] && pass "a session token was issued" || fail "no session token: $BODY"
as "$TOKEN" GET /api/sessions/current/
expect_status 200 "read the session"
expect_json '.user.id' 'auth0|smoke' "the session is the JWT's subject's"
as "$TOKEN" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"step":2}}'
expect_status 200 "PATCH"
as "$TOKEN" GET /api/sessions/current/
expect_json '.session_data.step' 2 "the PATCH is read back"
as "$TOKEN" GET /api/sessions/auth/
expect_status 204 "auth_request"
as "$TOKEN" DELETE /api/sessions/current/
expect_status 200 "logout"
as "$TOKEN" GET /api/sessions/current/
expect_error 401 invalid_session "the token after logout"
