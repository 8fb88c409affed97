/* FastCGI request parsing and JSON response writing. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "jsonx.h"
#include "log.h"

static const struct {
	int status;
	const char *reason;
} statuses[] = {
	{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" }, { 400, "Bad Request" },
	{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 411, "Length Required" }, { 412, "Precondition Failed" },
	{ 413, "Content Too Large" }, { 415, "Unsupported Media Type" }, { 429, "Too Many Requests" },
	{ 500, "Internal Server Error" }, { 503, "Service Unavailable" },
};

static const char *reason_of(int status)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status)
			return statuses[i].reason;
	return "Unknown";
}

const char *http_param(const struct req *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->fcgi->envp);

	return v;
}

static const char *param_nonempty(const struct req *r, const char *name)
{
	const char *v = http_param(r, name);

	return (v && *v) ? v : NULL;
}

static void make_request_id(struct req *r)
{
	const char *given = param_nonempty(r, "REQUEST_ID");
	unsigned char raw[8];
	size_t n = 0;

	if (given) {
		/* Keep only a safe alphabet from the web server's id. */
		for (const char *p = given; *p && n < sizeof(r->id) - 1; p++)
			if (isalnum((unsigned char)*p) || *p == '-')
				r->id[n++] = *p;
		r->id[n] = '\0';
		if (n > 0)
			return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(r->id + 2 * i, 3, "%02x", raw[i]);
}

void http_req_init(struct req *r, FCGX_Request *f)
{
	const char *cl;
	size_t plen;

	memset(r, 0, sizeof(*r));
	r->fcgi = f;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	r->method = param_nonempty(r, "REQUEST_METHOD");
	if (r->method == NULL)
		r->method = "GET";
	r->uri = param_nonempty(r, "REQUEST_URI");
	if (r->uri == NULL)
		r->uri = param_nonempty(r, "SCRIPT_NAME");
	if (r->uri == NULL)
		r->uri = "/";
	plen = strcspn(r->uri, "?#");
	if (plen >= sizeof(r->path))
		plen = sizeof(r->path) - 1;
	memcpy(r->path, r->uri, plen);
	r->path[plen] = '\0';

	r->content_type = param_nonempty(r, "CONTENT_TYPE");
	r->authorization = param_nonempty(r, "HTTP_AUTHORIZATION");
	r->cookie = param_nonempty(r, "HTTP_COOKIE");
	r->origin = param_nonempty(r, "HTTP_ORIGIN");
	r->referer = param_nonempty(r, "HTTP_REFERER");
	r->csrf_token = param_nonempty(r, "HTTP_X_CSRF_TOKEN");
	r->if_match = param_nonempty(r, "HTTP_IF_MATCH");
	r->user_agent = param_nonempty(r, "HTTP_USER_AGENT");
	r->remote_addr = param_nonempty(r, "REMOTE_ADDR");
	/* Present but empty is not absent: a proxy that forwarded no client (clientaddr.h). */
	r->forwarded_for = http_param(r, "HTTP_X_FORWARDED_FOR");
	cl = param_nonempty(r, "CONTENT_LENGTH");
	r->content_length = -1;
	if (cl) {
		char *end;

		errno = 0;
		r->content_length = strtol(cl, &end, 10);
		if (errno || *end || r->content_length < 0)
			r->content_length = -2; /* present but unparseable */
	}
	make_request_id(r);
	r->status = 0;
}

void http_req_free(struct req *r)
{
	free(r->body);
	r->body = NULL;
}

static int method_has_body(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0 || strcmp(m, "PUT") == 0;
}

static int is_json_type(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; \t");
	return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

int http_read_body(struct req *r, long max_bytes, int any_type)
{
	long want;
	int got;

	if (!method_has_body(r->method)) {
		/* A body on GET/DELETE is ignored; libfcgi drains it. */
		return 0;
	}
	if (r->content_length == -1) {
		http_error(r, ERR_LENGTH_REQUIRED, "length_required", "Content-Length is required");
		return -1;
	}
	if (r->content_length == -2) {
		http_error(r, ERR_BAD_REQUEST, "bad_content_length", "Content-Length is not a number");
		return -1;
	}
	if (r->content_length > max_bytes) {
		http_error(r, ERR_TOO_LARGE, "body_too_large", "request body is too large");
		return -1;
	}
	want = r->content_length;
	if (want == 0)
		return 0;
	if (!any_type && !is_json_type(r->content_type)) {
		http_error(r, ERR_MEDIA_TYPE, "unsupported_media_type", "request body must be application/json");
		return -1;
	}
	r->body = malloc((size_t)want + 1);
	if (r->body == NULL) {
		http_error(r, ERR_INTERNAL, "internal_error", "out of memory");
		return -1;
	}
	got = FCGX_GetStr(r->body, (int)want, r->fcgi->in);
	if (got != want) {
		http_error(r, ERR_BAD_JSON, "incomplete_body", "request body is shorter than Content-Length");
		return -1;
	}
	r->body[got] = '\0';
	r->body_len = (size_t)got;
	return 0;
}

struct json_object *http_body_object(struct req *r)
{
	struct json_object *obj = NULL;
	char field[64], msg[160];

	if (r->body == NULL || r->body_len == 0)
		return json_object_new_object();
	switch (jsonx_parse_named(r->body, r->body_len, JSONX_INPUT_DEPTH, 1, &obj, field, sizeof(field))) {
	case JSONX_OK:
		return obj;
	case JSONX_NUL:
		snprintf(msg, sizeof(msg), "%s: must not contain NUL characters (\\u0000)", field[0] ? field : "body");
		http_error(r, ERR_BAD_REQUEST, "invalid_field", msg);
		return NULL;
	case JSONX_TOO_DEEP:
		http_error(r, ERR_BAD_JSON, "invalid_json", "JSON nested too deeply");
		return NULL;
	case JSONX_NOT_OBJECT:
		http_error(r, ERR_BAD_REQUEST, "invalid_body", "request body must be a JSON object");
		return NULL;
	case JSONX_DUPLICATE:
		http_error(r, ERR_BAD_JSON, "invalid_json", "request body repeats a member name in one object");
		return NULL;
	default:
		http_error(r, ERR_BAD_JSON, "invalid_json", "request body is not valid JSON");
		return NULL;
	}
}

int http_add_header(struct req *r, const char *name, const char *value)
{
	int n;

	if (value == NULL || strpbrk(name, "\r\n") || strpbrk(value, "\r\n")) {
		log_error("event=header_refused name=%s reason=line_break", name);
		r->header_failed = 1;
		return -1;
	}
	n = snprintf(r->extra_headers + r->extra_len, sizeof(r->extra_headers) - r->extra_len,
		     "%s: %s\r\n", name, value);
	if (n < 0 || r->extra_len + (size_t)n >= sizeof(r->extra_headers)) {
		r->extra_headers[r->extra_len] = '\0';
		log_error("event=header_refused name=%s reason=too_long bytes=%zu", name, strlen(value));
		r->header_failed = 1;
		return -1;
	}
	r->extra_len += (size_t)n;
	return 0;
}

void http_send_raw(struct req *r, int status, const char *content_type, const char *body, size_t len)
{
	char head[1536];
	int n;

	if (r->responded)
		return;
	if (r->header_failed && status < 500) {
		/* The response would lack a header it promised (see http_add_header): say so instead. */
		static const char err[] = "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal error\"}}";

		r->extra_len = 0;
		r->extra_headers[0] = '\0';
		status = 500;
		content_type = "application/json; charset=utf-8";
		body = err;
		len = sizeof(err) - 1;
	}
	r->responded = 1;
	r->status = status;
	n = snprintf(head, sizeof(head),
		     "Status: %d %s\r\n"
		     "Cache-Control: no-store\r\n"
		     "%s%s%s"
		     "Content-Length: %zu\r\n"
		     "%s\r\n",
		     status, reason_of(status),
		     content_type ? "Content-Type: " : "", content_type ? content_type : "",
		     content_type ? "\r\n" : "", len, r->extra_headers);
	if (n < 0 || (size_t)n >= sizeof(head))
		n = snprintf(head, sizeof(head), "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
	FCGX_PutStr(head, n, r->fcgi->out);
	if (len)
		FCGX_PutStr(body, (int)len, r->fcgi->out);
}

void http_send_json(struct req *r, int status, struct json_object *obj)
{
	size_t len = 0;
	const char *s;

	if (obj == NULL) {
		http_send_raw(r, status, NULL, "", 0);
		return;
	}
	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_send_raw(r, status, "application/json; charset=utf-8", s, len);
}

int http_status_of(enum api_err kind)
{
	switch (kind) {
	case ERR_BAD_JSON:
	case ERR_BAD_REQUEST:
		return 400;
	case ERR_UNAUTHORIZED:
		return 401;
	case ERR_FORBIDDEN:
		return 403;
	case ERR_NOT_FOUND:
		return 404;
	case ERR_METHOD:
		return 405;
	case ERR_LENGTH_REQUIRED:
		return 411;
	case ERR_PRECONDITION:
		return 412;
	case ERR_TOO_LARGE:
		return 413;
	case ERR_MEDIA_TYPE:
		return 415;
	case ERR_RATE_LIMITED:
		return 429;
	case ERR_UNAVAILABLE:
		return 503;
	case ERR_INTERNAL:
		break;
	}
	return 500;
}

void http_error(struct req *r, enum api_err kind, const char *code, const char *message)
{
	struct json_object *o = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(o, "error", e);
	if (kind == ERR_UNAUTHORIZED && strstr(r->extra_headers, "WWW-Authenticate:") == NULL)
		http_add_header(r, "WWW-Authenticate", "Session");
	if (kind == ERR_UNAVAILABLE && strstr(r->extra_headers, "Retry-After:") == NULL)
		http_add_header(r, "Retry-After", "1");
	if (r->bodyless)
		http_send_raw(r, http_status_of(kind), NULL, "", 0);
	else
		http_send_json(r, http_status_of(kind), o);
	json_object_put(o);
}
