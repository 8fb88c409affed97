/*
 * fcgi_echo — a FastCGI responder for the deployment tests: it answers every
 * request with a JSON object of the parameters a web server passed, so a test
 * can see what reaches the application (REQUEST_URI, HTTP_AUTHORIZATION, ...)
 * through a shipped web-server configuration.
 *
 *   fcgi_echo        serve the listening socket on fd 0 (spawn-fcgi, mod_fcgid)
 *
 * Reply: 200 {"REQUEST_METHOD":..,"REQUEST_URI":..,"HTTP_AUTHORIZATION":..,...};
 * a parameter that is absent is null. Test use only: it echoes credentials.
 */
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>
#include <json-c/json.h>

static const char *const params[] = {
	"REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
	"CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR", "HTTP_AUTHORIZATION", "HTTP_COOKIE",
	"SESSIOND_CONFIG", "SESSIOND_LISTEN", "SESSIOND_WORKERS",
};

int main(void)
{
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		struct json_object *o = json_object_new_object();
		const char *s;

		for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
			const char *v = FCGX_GetParam(params[i], r.envp);

			/* The process environment stands in for SESSIOND_* settings. */
			if (v == NULL && params[i][0] == 'S' && params[i][1] == 'E')
				v = getenv(params[i]);
			json_object_object_add(o, params[i], v ? json_object_new_string(v) : NULL);
		}
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
			     "Cache-Control: no-store\r\n\r\n%s\n", s);
		json_object_put(o);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}
