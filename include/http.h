/*
 * The FastCGI request layer: what a handler sees of one request, and the
 * response writers. Every response is JSON (or empty) with
 * Cache-Control: no-store. Error kinds map to an HTTP status in exactly one
 * place (http_error).
 */
#ifndef SESSIOND_HTTP_H
#define SESSIOND_HTTP_H

#include <stddef.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "clientaddr.h"

enum api_err {
	ERR_BAD_JSON,          /* 400 malformed JSON */
	ERR_BAD_REQUEST,       /* 400 wrong type, unknown field, bad value */
	ERR_UNAUTHORIZED,      /* 401 */
	ERR_FORBIDDEN,         /* 403 CSRF, server-owned field */
	ERR_NOT_FOUND,         /* 404 unknown route or id */
	ERR_METHOD,            /* 405 with Allow */
	ERR_LENGTH_REQUIRED,   /* 411 */
	ERR_PRECONDITION,      /* 412 stale If-Match */
	ERR_TOO_LARGE,         /* 413 */
	ERR_MEDIA_TYPE,        /* 415 */
	ERR_RATE_LIMITED,      /* 429 with Retry-After */
	ERR_INTERNAL,          /* 500 */
	ERR_UNAVAILABLE        /* 503 with Retry-After */
};

struct req {
	FCGX_Request *fcgi;
	/* Pointers into libfcgi's parameters: valid until the request finishes. */
	const char *method;
	const char *uri;            /* REQUEST_URI */
	const char *content_type;
	const char *authorization;
	const char *cookie;
	const char *origin;
	const char *referer;
	const char *csrf_token;     /* X-CSRF-Token */
	const char *if_match;
	const char *user_agent;
	const char *remote_addr;
	const char *forwarded_for;
	long content_length;        /* -1 when absent */
	const char *client_addr;    /* the client's address (client.text), or NULL when unknown; set by the request layer */
	struct clientaddr client;   /* its canonical text and guard bucket */

	char path[512];             /* decoded-free path without query */
	char id[33];                /* request id (nginx $request_id or generated) */
	char *body;                 /* NUL-terminated; NULL when none was read */
	size_t body_len;
	struct timespec started;

	/* Response state. */
	int status;
	char extra_headers[1024];   /* "Name: value\r\n" lines added by handlers */
	size_t extra_len;
	int responded;
	int bodyless;               /* errors carry no body (auth_request) */
	int header_failed;          /* a header could not be written: the response becomes a 500 */
	const char *route;          /* route name, for logs and metrics */
};

/* Fills r from the FastCGI parameters of f. Never fails. */
void http_req_init(struct req *r, FCGX_Request *f);

/* Releases what the request allocated (the body). */
void http_req_free(struct req *r);

/*
 * Reads the body (at most max_bytes) when the method carries one: JSON only
 * (else 415), or with any_type of any media type, which the handler then
 * checks. Returns 0, or -1 after sending the 411/413/415 response itself.
 */
int http_read_body(struct req *r, long max_bytes, int any_type);

/*
 * Parses the body as a JSON object (an empty body is {}). Returns a new
 * reference, or NULL after sending a 400 itself.
 */
struct json_object *http_body_object(struct req *r);

/*
 * Adds a response header line. A name or value with CR/LF, or no room left,
 * is refused: -1, logged, and the response is then sent as a 500
 * internal_error instead (a missing header, e.g. /auth/'s X-Session-User,
 * must never pass silently). 0 on success.
 */
int http_add_header(struct req *r, const char *name, const char *value);

/* Sends status with a JSON body (obj may be NULL for an empty body). Does not take obj's reference. */
void http_send_json(struct req *r, int status, struct json_object *obj);

/* Sends a JSON string literal as the body (its length counted by the compiler). */
#define http_send_json_lit(r, status, lit) \
	http_send_raw((r), (status), "application/json; charset=utf-8", "" lit, sizeof(lit) - 1)

/* Sends status with a pre-rendered JSON text. */
void http_send_raw(struct req *r, int status, const char *content_type, const char *body, size_t len);

/* Sends the error body {"error":{"code","message"}} with the status of kind. */
void http_error(struct req *r, enum api_err kind, const char *code, const char *message);

/* The HTTP status of an error kind. */
int http_status_of(enum api_err kind);

/* Returns the value of FastCGI parameter name, or NULL. */
const char *http_param(const struct req *r, const char *name);

#endif
