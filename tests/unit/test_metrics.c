/* Unit tests for app/metrics.c: no-ops without a region; labels, buckets and rendering with one. */
#include "metrics.h"
#include "check.h"
#include "router.h"
#include "shm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *render(void)
{
	char *t = NULL;
	size_t n = 0;

	if (metrics_render(&t, &n) != 0)
		return NULL;
	return t;
}

/* 1 when the rendering holds line (a whole line). */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

int main(void)
{
	/* Lines the exposition must hold after the updates above (also: a second one, or NULL), and why. */
	static const struct {
		const char *line, *also, *why;
	} want[] = {
		{ "sessiond_sessions_created_total 7", NULL, "counter sums parent and forked child" },
		{ "sessiond_sessions_revoked_total{reason=\"invalidate_all\"} 3", NULL, "revoked by count" },
		{ "sessiond_sessions_revoked_total{reason=\"logout\"} 0", NULL, "a count of 0 adds nothing" },
		{ "sessiond_auth_failures_total{scheme=\"bearer\",reason=\"bad_signature\"} 1", NULL,
		  "Bearer scheme with parameters maps to bearer" },
		{ "sessiond_auth_failures_total{scheme=\"bearer\",reason=\"missing\"} 1", NULL, "missing_bearer is bearer/missing" },
		{ "sessiond_auth_failures_total{scheme=\"session\",reason=\"other\"} 1", NULL,
		  "a reason the scheme does not list is other" },
		{ "sessiond_auth_failures_total{scheme=\"other\",reason=\"other\"} 1", NULL, "an unknown scheme is other" },
		{ "sessiond_requests_total{route=\"create\",status=\"201\"} 2", NULL, "requests by route/status" },
		{ "sessiond_requests_total{route=\"create\",status=\"other\"} 1", NULL, "unlisted status is other" },
		{ "sessiond_requests_total{route=\"other\",status=\"200\"} 2", NULL, "unknown route is other" },
		{ "sessiond_request_duration_seconds_bucket{route=\"create\",le=\"0.0005\"} 1", NULL,
		  "a duration on a bound falls in that bucket" },
		{ "sessiond_request_duration_seconds_bucket{route=\"create\",le=\"0.001\"} 2", NULL, "buckets are cumulative" },
		{ "sessiond_session_duration_seconds_count 1", NULL, "a session duration observed" },
		{ "sessiond_workers 1", "sessiond_worker_starts_total 1", "one worker" },
	};
	struct cfg c;
	char err[256], *t;
	pid_t pid;

	/* Without a shared region: no-ops, and only build_info. */
	metrics_add(MC_SESSIONS_CREATED, 1);
	metrics_request("create", 201, 0.01);
	metrics_auth_failure("Session", AR_UNKNOWN);
	t = render();
	CHECK_MSG(t && strstr(t, "sessiond_build_info{version=") && !strstr(t, "sessiond_sessions_created_total"),
		  "without a region only build_info is rendered");
	free(t);

	memset(&c, 0, sizeof(c));
	c.shm_file = (char *)"";
	metrics_set_route_names(router_route_name);
	CHECK(shm_setup(&c, err, sizeof(err)) == 0);
	metrics_worker_start();
	metrics_add(MC_SESSIONS_CREATED, 2);
	metrics_revoked(MR_INVALIDATE_ALL, 3);
	metrics_revoked(MR_LOGOUT, 0);
	metrics_auth_failure("Bearer error=\"invalid_token\"", AR_BAD_SIGNATURE);
	metrics_auth_failure("Bearer", AR_MISSING_BEARER);
	metrics_auth_failure("Session", AR_BAD_ALG);     /* not a session reason: other */
	metrics_auth_failure("Basic", AR_MISSING);
	metrics_request("create", 201, 0.0005);      /* on the bound: le="0.0005" */
	metrics_request("create", 201, 0.00051);     /* next bucket */
	metrics_request("create", 999, 5.0);         /* status other, +Inf only */
	metrics_request("no-such-route", 200, 0.1);
	metrics_request(NULL, 200, 0.1);
	metrics_session_ended("0");
	/* A forked child's updates land in the same region. */
	pid = fork();
	if (pid == 0) {
		metrics_add(MC_SESSIONS_CREATED, 5);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	t = render();
	CHECK(t != NULL);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_MSG(has_line(t, want[i].line) && (want[i].also == NULL || has_line(t, want[i].also)), want[i].why);
	CHECK_MSG(!strstr(t, "no-such-route"), "request data never becomes a label");
	CHECK_MSG(has_line(t, "sessiond_request_duration_seconds_bucket{route=\"create\",le=\"2.5\"} 2") &&
			  has_line(t, "sessiond_request_duration_seconds_bucket{route=\"create\",le=\"+Inf\"} 3") &&
			  has_line(t, "sessiond_request_duration_seconds_count{route=\"create\"} 3"),
		  "+Inf equals _count");
	CHECK_MSG(!strstr(t, "sessiond_sessions_live"), "no gauges before a sample");
	metrics_worker_gone((int)getpid());
	free(t);
	t = render();
	CHECK_MSG(t && has_line(t, "sessiond_workers 0"), "a reaped worker is not counted");
	free(t);
	return check_done();
}
