/* GET /api/sessions/metrics/: the Prometheus text exposition, summed over all workers. No auth: the web server restricts it. */
#include <stdlib.h>

#include "routes.h"
#include "metrics.h"

void route_metrics(struct app *a, struct req *r, const char *arg)
{
	char *text = NULL;
	size_t len = 0;

	(void)a;
	(void)arg;
	if (metrics_render(&text, &len) != 0) {
		http_error(r, ERR_INTERNAL, "internal_error", "internal error");
		return;
	}
	http_send_raw(r, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}
