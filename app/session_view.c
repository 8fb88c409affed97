/* A session as the API shows it: its identity and its JSON, from a per-host cache entry or a store row. */
#include "session_view.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void view_from_entry(struct session_view *v)
{
	v->id = v->lc.id;
	v->user_id = v->lc.user_id;
	v->tenant_id = v->lc.tenant_id[0] ? v->lc.tenant_id : NULL;
	v->json = v->lc.json;
	v->json_len = v->lc.json_len;
}

static void copy_field(char *dst, size_t cap, const char *src, int *fits)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		*fits = 0;
		n = 0;
	}
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

int view_from_row(struct session_view *v, const unsigned char *hash, const char *touch_text, long long touch_epoch)
{
	const struct session *s = &v->row;
	struct lc_entry *e = &v->lc;
	const char *mark = ",\"last_activity\":\"", *p, *last = NULL;
	const char *tenant = sess_get(s, SC_TENANT_ID);
	int fits = 1;

	/* The identity points at the row, which holds it whatever its length. */
	v->id = sess_get(s, SC_ID);
	v->user_id = sess_get(s, SC_USER_ID);
	v->tenant_id = tenant && tenant[0] ? tenant : NULL;
	memcpy(e->hash, hash, sizeof(e->hash));
	copy_field(e->id, sizeof(e->id), v->id, &fits);
	copy_field(e->user_id, sizeof(e->user_id), v->user_id, &fits);
	copy_field(e->tenant_id, sizeof(e->tenant_id), tenant, &fits);
	e->expires_epoch = strtoll(sess_get(s, SC_EXPIRES_EPOCH), NULL, 10);
	e->last_activity = strtoll(sess_get(s, SC_ACTIVITY_EPOCH), NULL, 10);
	e->filled_at = (int64_t)time(NULL);
	sess_render(s, &v->big, 0, -1);
	/* The real last_activity is the last occurrence: session_data (rendered earlier) may contain the text. */
	for (p = v->big.data; p && (p = strstr(p, mark)) != NULL; p++)
		last = p;
	if (last && touch_text) {
		memcpy((char *)last + strlen(mark), touch_text, SQL_TS_LEN);
		e->last_activity = touch_epoch;
	}
	v->json = v->big.data;
	v->json_len = v->big.len;
	if (!fits || last == NULL || v->big.len >= LC_JSON_MAX)
		return 0;
	memcpy(e->json, v->big.data, v->big.len);
	e->json_len = (uint16_t)v->big.len;
	e->la_offset = (uint16_t)(last - v->big.data + strlen(mark));
	return 1;
}

void view_release(struct session_view *v)
{
	sess_release(&v->row);
	jsonx_buf_free(&v->big);
	memset(v, 0, sizeof(*v));
}

static int add(struct jsonx_buf *b, const char *s)
{
	return jsonx_buf_append(b, s, strlen(s));
}

static int add_kv_str(struct jsonx_buf *b, const char *key, const char *v)
{
	return add(b, key) | jsonx_buf_str(b, v);
}

static int add_kv_raw(struct jsonx_buf *b, const char *key, const char *v)
{
	return add(b, key) | add(b, v ? v : "null");
}

static int add_kv_bool(struct jsonx_buf *b, const char *key, const char *v)
{
	return add(b, key) | add(b, v && v[0] == 't' ? "true" : "false");
}

int sess_render(const struct session *s, struct jsonx_buf *b, int private_fields, int current)
{
	int rc = 0;
	const char *tid = sess_get(s, SC_TENANT_ID);

	rc |= add_kv_str(b, "{\"id\":", sess_get(s, SC_ID));
	rc |= add_kv_str(b, ",\"user\":{\"id\":", sess_get(s, SC_USER_ID));
	rc |= add_kv_str(b, ",\"email\":", sess_get(s, SC_EMAIL));
	rc |= add_kv_str(b, ",\"name\":", sess_get(s, SC_NAME));
	rc |= add_kv_str(b, ",\"picture\":", sess_get(s, SC_PICTURE));
	if (tid) {
		rc |= add_kv_str(b, "},\"tenant\":{\"id\":", tid);
		rc |= add_kv_str(b, ",\"name\":", sess_get(s, SC_TENANT_NAME));
		rc |= add(b, "}");
	} else {
		rc |= add(b, "},\"tenant\":null");
	}
	rc |= add_kv_bool(b, ",\"needs_onboarding\":", sess_get(s, SC_NEEDS_ONBOARDING));
	rc |= add_kv_bool(b, ",\"onboarding_completed\":", sess_get(s, SC_ONBOARDING_COMPLETED));
	rc |= add_kv_str(b, ",\"onboarding_step\":", sess_get(s, SC_ONBOARDING_STEP));
	rc |= add_kv_str(b, ",\"subscription_plan\":", sess_get(s, SC_PLAN));
	rc |= add_kv_str(b, ",\"subscription_status\":", sess_get(s, SC_STATUS));
	/* jsonb::text is already valid JSON. */
	rc |= add_kv_raw(b, ",\"session_data\":", sess_get(s, SC_DATA) ? sess_get(s, SC_DATA) : "{}");
	rc |= add_kv_str(b, ",\"session_type\":", sess_get(s, SC_TYPE));
	rc |= add(b, s->expired ? ",\"is_active\":false,\"is_expired\":true"
				: ",\"is_active\":true,\"is_expired\":false");
	rc |= add_kv_str(b, ",\"created_at\":", sess_get(s, SC_CREATED_AT));
	rc |= add_kv_str(b, ",\"updated_at\":", sess_get(s, SC_UPDATED_AT));
	rc |= add_kv_str(b, ",\"last_activity\":", sess_get(s, SC_LAST_ACTIVITY));
	rc |= add_kv_str(b, ",\"expires_at\":", sess_get(s, SC_EXPIRES_AT));
	rc |= add_kv_raw(b, ",\"version\":", sess_get(s, SC_VERSION));
	if (private_fields) {
		rc |= add_kv_str(b, ",\"ip_address\":", sess_get(s, SC_IP));
		rc |= add_kv_str(b, ",\"user_agent\":", sess_get(s, SC_USER_AGENT));
	}
	if (current >= 0)
		rc |= add(b, current ? ",\"current\":true" : ",\"current\":false");
	rc |= add(b, "}");
	return rc ? -1 : 0;
}
