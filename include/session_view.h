/* A session as the API shows it: its identity and its JSON, from a per-host cache entry or a store row. */
#ifndef SESSIOND_SESSION_VIEW_H
#define SESSIOND_SESSION_VIEW_H

#include <stddef.h>

#include "jsonx.h"
#include "lcache.h"
#include "sessions.h"

/*
 * One session, whichever path produced it. id, user_id, tenant_id (NULL
 * when none) and json/json_len are always set. row is the store row behind
 * the view (empty after a per-host cache hit, which only readers take); lc
 * is the cache entry it was read from, or the one a store row renders into.
 */
struct session_view {
	const char *id;
	const char *user_id;
	const char *tenant_id;
	const char *json;           /* the session object of SPEC §2 */
	size_t json_len;

	struct session row;
	struct lc_entry lc;
	struct jsonx_buf big;       /* a rendering too large for lc */
};

/* Points v's fields at v->lc, a per-host cache hit. */
void view_from_entry(struct session_view *v);

/*
 * Builds v from v->row, the store row of the session whose token hash is
 * hash: identity, rendering, and v->lc. touch_text (SQL_TS_LEN chars, NULL
 * when this request recorded no activity) replaces the row's last_activity
 * with touch_epoch. Returns 1 when v->lc may be stored in the per-host cache.
 */
int view_from_row(struct session_view *v, const unsigned char *hash, const char *touch_text, long long touch_epoch);

/* Frees what v holds. Safe on a zeroed struct. */
void view_release(struct session_view *v);

/*
 * Renders the session object of SPEC §2 from store row s into b. With
 * private_fields, also ip_address and user_agent; current >= 0 adds
 * "current": true/false. 0, or -1 when out of memory.
 */
int sess_render(const struct session *s, struct jsonx_buf *b, int private_fields, int current);

#endif
