/* GET /api/sessions/health/: liveness, store reachability and the signing-key state. */
#include <json-c/json.h>

#include "jwks_fetcher.h"
#include "jwtv.h"
#include "routes.h"

void route_health(struct app *a, struct req *r, const char *arg)
{
	struct json_object *o = json_object_new_object();
	int ok = store_ping(&a->store) == STORE_OK;

	(void)arg;
	json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "unavailable"));
	json_object_object_add(o, "store", json_object_new_string(ok ? "ok" : "unavailable"));
	json_object_object_add(o, "jwks", json_object_new_string(jwks_health(a->cfg, jwtv_key_count(a->jwt),
									      jwtv_loaded_mtime(a->jwt), time(NULL))));
	if (!ok)
		http_add_header(r, "Retry-After", "1");
	http_send_json(r, ok ? 200 : 503, o);
	json_object_put(o);
}
