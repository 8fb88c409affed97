/*
 * A user's sessions: list, revoke one, invalidate all; the service route that
 * sets server-owned billing; the nginx auth_request endpoint.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "authhdr.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "session_view.h"
#include "sessions.h"

/* GET /api/sessions/ */
void route_list(struct app *a, struct req *r, const char *arg)
{
	struct auth au;
	struct session list = { 0 };
	struct jsonx_buf b = { 0 };
	char head[64];
	enum store_err err;
	int n;

	(void)arg;
	if (auth_session(a, r, &au) != 0)
		return;
	err = sess_list(&a->store, au.view.user_id, a->cfg->idle_timeout, &list);
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	n = PQntuples(list.res);
	snprintf(head, sizeof(head), "{\"count\":%d,\"sessions\":[", n);
	jsonx_buf_append(&b, head, strlen(head));
	for (int i = 0; i < n; i++) {
		list.row = i;
		if (i)
			jsonx_buf_lit(&b, ",");
		sess_render(&list, &b, 1, strcmp(sess_get(&list, SC_ID), au.view.id) == 0);
	}
	jsonx_buf_lit(&b, "]}");
	route_send_buf(r, 200, &b);
out:
	jsonx_buf_free(&b);
	sess_release(&list);
	auth_release(&au);
}

/* DELETE /api/sessions/{id}/ — another user's id is 404, exactly like an unknown one. */
void route_revoke_one(struct app *a, struct req *r, const char *id)
{
	struct auth au;
	long n = 0;

	if (auth_session_write(a, r, &au) != 0)
		return;
	if (route_revoke(a, r, au.view.user_id, id, NULL, NULL, MR_REVOKE_ONE, &n) != 0)
		goto out;
	if (n == 0) {
		http_error(r, ERR_NOT_FOUND, "session_not_found", "no such session");
		goto out;
	}
	log_info("event=session_revoked session=%s reason=revoked_by_user", id);
	if (strcasecmp(id, au.view.id) == 0)
		route_clear_cookie(a, r);
	http_send_json_lit(r, 200, "{\"message\":\"Session revoked\"}");
out:
	auth_release(&au);
}

/* POST /api/sessions/invalidate-all/ */
void route_invalidate_all(struct app *a, struct req *r, const char *arg)
{
	struct auth au;
	struct json_object *body = NULL;
	char out_json[96];
	int keep = 0;
	long n = 0;

	(void)arg;
	if (auth_session_write(a, r, &au) != 0)
		return;
	body = http_body_object(r);
	if (body == NULL)
		goto out;
	json_object_object_foreach(body, key, v)
	{
		if (strcmp(key, "keep_current") == 0 && json_object_is_type(v, json_type_boolean)) {
			keep = json_object_get_boolean(v);
		} else {
			route_bad_field(r, strcmp(key, "keep_current") ? "unknown_field" : "invalid_field", key,
					strcmp(key, "keep_current") ? "unknown field" : "must be true or false");
			goto out;
		}
	}
	/* One statement: the count is exactly what it revoked. */
	if (route_revoke(a, r, au.view.user_id, NULL, NULL, keep ? au.view.id : NULL, MR_INVALIDATE_ALL, &n) != 0)
		goto out;
	log_info("event=sessions_invalidated count=%ld keep_current=%d", n, keep);
	if (!keep)
		route_logged_out(a, r);
	snprintf(out_json, sizeof(out_json), "{\"message\":\"%s\",\"count\":%ld}",
		 keep ? "All other sessions revoked" : "All sessions revoked", n);
	http_send_raw(r, 200, "application/json; charset=utf-8", out_json, strlen(out_json));
out:
	if (body)
		json_object_put(body);
	auth_release(&au);
}

/*
 * The internal routes' caller: Authorization: Service <key> equal to
 * service_key_file's, and a plausible user id. 0, or -1 after the answer.
 */
static int service_caller(struct app *a, struct req *r, const char *user_id)
{
	const char *key;
	size_t key_len;
	unsigned char h[TOKEN_HASH_LEN];

	if (!a->have_service_key || !authhdr_param(r->authorization, "Service", &key, &key_len)) {
		auth_reject(a, r, "Service", "invalid_service_key", "a valid service key is required", AR_SERVICE_KEY);
		return -1;
	}
	/* Compare hashes: constant time whatever the presented length. */
	token_hash(key, key_len, h);
	if (!token_ct_equal(h, a->service_key_hash, sizeof(h))) {
		auth_reject(a, r, "Service", "invalid_service_key", "a valid service key is required", AR_SERVICE_KEY);
		return -1;
	}
	if (user_id[0] == '\0' || strlen(user_id) > 255) {
		http_error(r, ERR_NOT_FOUND, "not_found", "no such user");
		return -1;
	}
	return 0;
}

/* PATCH /api/sessions/internal/users/{user_id}/ with Authorization: Service <key>. */
void route_internal_user(struct app *a, struct req *r, const char *user_id)
{
	struct json_object *body = NULL;
	const char *plan = NULL, *status = NULL;
	char out_json[64];
	long n = 0;
	enum store_err err;

	if (service_caller(a, r, user_id) != 0)
		return;
	body = http_body_object(r);
	if (body == NULL)
		return;
	json_object_object_foreach(body, k, v)
	{
		const char **slot = strcmp(k, "subscription_plan") == 0	 ? &plan
				    : strcmp(k, "subscription_status") == 0 ? &status
									     : NULL;

		if (slot == NULL) {
			route_bad_field(r, "unknown_field", k, "unknown field");
			goto out;
		}
		if (!json_object_is_type(v, json_type_string) || !route_plain_string(json_object_get_string(v), 64)) {
			route_bad_field(r, "invalid_field", k, "must be a short string without spaces");
			goto out;
		}
		*slot = json_object_get_string(v);
	}
	if (plan == NULL && status == NULL) {
		http_error(r, ERR_BAD_REQUEST, "invalid_body", "set subscription_plan and/or subscription_status");
		goto out;
	}
	err = sess_set_billing(&a->store, user_id, plan, status, r->client_addr, &n);
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	log_info("event=billing_updated sessions=%ld", n);
	snprintf(out_json, sizeof(out_json), "{\"count\":%ld}", n);
	http_send_raw(r, 200, "application/json; charset=utf-8", out_json, strlen(out_json));
out:
	json_object_put(body);
}

/* A service revoke's reason: lower-case letters, digits and '_', as recorded in the audit trail. */
static int reason_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 48 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/*
 * POST /api/sessions/internal/users/{user_id}/revoke/ with Authorization:
 * Service <key>: revokes all the user's sessions, on every host, for a
 * backend or an Auth0 Action (user blocked, password changed). Body: {} or
 * {"reason": "password_changed"}; the reason (default "service") is recorded.
 */
void route_service_revoke(struct app *a, struct req *r, const char *user_id)
{
	struct json_object *body = NULL;
	const char *reason = "service";
	char out_json[64];
	long n = 0;
	enum store_err err;

	if (service_caller(a, r, user_id) != 0)
		return;
	body = http_body_object(r);
	if (body == NULL)
		return;
	json_object_object_foreach(body, k, v)
	{
		if (strcmp(k, "reason") != 0) {
			route_bad_field(r, "unknown_field", k, "unknown field");
			goto out;
		}
		if (!json_object_is_type(v, json_type_string) || !reason_ok(json_object_get_string(v))) {
			route_bad_field(r, "invalid_field", k, "must be 1 to 48 of a-z, 0-9 and _");
			goto out;
		}
		reason = json_object_get_string(v);
	}
	err = sess_revoke(&a->store, user_id, NULL, NULL, NULL, reason, r->client_addr, &n);
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	metrics_revoked(MR_SERVICE, n);
	log_info("event=sessions_revoked_by_service reason=%s count=%ld", reason, n);
	snprintf(out_json, sizeof(out_json), "{\"count\":%ld}", n);
	http_send_raw(r, 200, "application/json; charset=utf-8", out_json, strlen(out_json));
out:
	json_object_put(body);
}

/* GET /api/sessions/auth/ for nginx auth_request: 204 with identity headers, or 401, never a body. */
void route_auth(struct app *a, struct req *r, const char *arg)
{
	struct auth au;

	(void)arg;
	r->bodyless = 1;
	/* Same fast path as /current/: the per-host cache, else the store row. */
	if (auth_session_read(a, r, &au) != 0)
		return;
	http_add_header(r, "X-Session-User", au.view.user_id);
	http_add_header(r, "X-Session-Tenant", au.view.tenant_id ? au.view.tenant_id : "");
	http_add_header(r, "X-Session-Id", au.view.id);
	http_send_raw(r, 204, NULL, "", 0);
	auth_release(&au);
}
