/*
 * The JWT verifier: Auth0 access tokens (RS256/RS384/RS512 JWS) checked
 * against the key set of a JWKS file (jwk_set.h). Header and claims are
 * parsed and checked here, the signature with OpenSSL on keys built once per
 * JWKS load (app/jwtv.c says why not libjwt). No global state: one struct jwtv per process (or per
 * worker, fine after fork), not shared between threads.
 */
#ifndef SESSIOND_JWTV_H
#define SESSIOND_JWTV_H

#include <stddef.h>
#include <time.h>

#include "auth_reason.h"
#include "jwk_set.h"

struct jwtv_options {
	const char *jwks_file;      /* path to the JWKS JSON ({"keys":[{kty,kid,n,e,alg?,use?},...]}) */
	const char *issuer;         /* iss must equal this exactly */
	const char *audience;       /* aud (string or array) must contain this */
	const char *algorithms;     /* comma-separated allow-list, e.g. "RS256" or "RS256,RS384,RS512" */
	long leeway;                /* seconds of clock skew allowed for exp/nbf (and iat if you check it) */
	const char *claim_email, *claim_name, *claim_picture, *claim_tenant_id, *claim_tenant_name; /* claim names; may be namespaced URLs like "https://example.com/tenant_id"; NULL or "" = not used */
	const char *claim_sid;      /* the claim holding the identity provider's session id (back-channel logout); NULL or "" = none */
};

struct jwtv_identity {        /* all malloc'd strings, NULL when absent */
	char *sub, *email, *name, *picture, *tenant_id, *tenant_name;
	char *sid;                  /* the identity provider's session id (claim_sid) */
	const char *bad_claim;      /* on JWTV_BAD_CLAIM: the refused claim's name (owned by the verifier) */
};

/*
 * Identity claims are copied into response headers (sub, tenant id: visible
 * ASCII, no spaces) and session JSON (the others: no control characters).
 * Longer or other values are JWTV_BAD_CLAIM, never truncated.
 */
#define JWTV_HEADER_CLAIM_MAX 255
#define JWTV_TEXT_CLAIM_MAX 1024
#define JWTV_URL_CLAIM_MAX 2048

enum jwtv_err {
	JWTV_OK = 0, JWTV_MALFORMED, JWTV_TOO_LARGE, JWTV_BAD_ALG, JWTV_UNKNOWN_KID,
	JWTV_BAD_SIGNATURE, JWTV_EXPIRED, JWTV_NOT_YET_VALID, JWTV_BAD_ISSUER,
	JWTV_BAD_AUDIENCE, JWTV_MISSING_SUB, JWTV_NO_KEYS, JWTV_BAD_CLAIM,
	JWTV_NOT_JWS       /* not a signed JWT at all: an opaque string or a JWE (five segments) */
};

#define JWTV_MAX_TOKEN 8192

struct jwtv;

/*
 * Loads the JWKS; returns NULL and writes a message into err on failure (unreadable file, bad JSON,
 * no usable RSA key). Options strings are copied.
 */
struct jwtv *jwtv_new(const struct jwtv_options *opt, char *err, size_t errlen);

/*
 * Re-reads the JWKS when the file's inode/size/mtime changed (cheap stat; call it before each
 * verify or periodically). Returns 1 reloaded, 0 unchanged, -1 reload failed (old keys kept,
 * message in err).
 */
int jwtv_refresh(struct jwtv *v, char *err, size_t errlen);

/* Re-reads the JWKS unconditionally (SIGHUP). Same returns as jwtv_refresh. */
int jwtv_reload(struct jwtv *v, char *err, size_t errlen);

/*
 * Verifies the access token token[0..len) at time now. A logout token (typ
 * logout+jwt, or an events claim) is refused. On JWTV_OK fills *out (caller
 * frees with jwtv_identity_free).
 */
enum jwtv_err jwtv_verify(struct jwtv *v, const char *token, size_t len, time_t now, struct jwtv_identity *out);

void jwtv_identity_free(struct jwtv_identity *id);

/* What a verified logout token says (all malloc'd, NULL when absent; sid or sub is always set). */
struct jwtv_logout {
	char *jti, *sid, *sub;
	long long exp;              /* exp plus the leeway: until then a replay would still verify */
	const char *bad_claim;      /* on JWTV_BAD_CLAIM: the refused claim's name (static) */
};

/*
 * Verifies a Back-Channel Logout 1.0 logout token token[0..len) at now: the
 * same keys, algorithms, iss and exp/nbf checks as an access token; typ
 * absent, JWT or logout+jwt; aud holding one of the comma-separated
 * audiences; iat present and not in the future; events holding the
 * back-channel-logout member with an object value; no nonce; jti; sid or
 * sub. A wrong logout-specific claim is JWTV_BAD_CLAIM with out->bad_claim
 * naming it. On JWTV_OK fills *out (free with jwtv_logout_free). Whether jti
 * was seen before is the caller's to check.
 */
enum jwtv_err jwtv_verify_logout(struct jwtv *v, const char *token, size_t len, time_t now, const char *audiences,
				 struct jwtv_logout *out);

void jwtv_logout_free(struct jwtv_logout *lo);

/* The authentication-failure reason of e (AR_UNKNOWN for JWTV_OK and out-of-range values). */
enum auth_reason jwtv_auth_reason(enum jwtv_err e);

/* e's reason label for logs and error bodies ("ok" for JWTV_OK, "unknown" out of range). Static string. */
const char *jwtv_reason(enum jwtv_err e);

size_t jwtv_key_count(const struct jwtv *v);

/* The kids and skipped keys of the keys in use (owned by v); NULL for NULL. */
const struct jwks_info *jwtv_info(const struct jwtv *v);

/* The mtime of the file the keys in use were read from: the age of the key set. 0 for NULL. */
time_t jwtv_loaded_mtime(const struct jwtv *v);

void jwtv_free(struct jwtv *v);

#endif
