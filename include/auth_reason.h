/*
 * Why an authentication failed: one list feeds the enum, the label written to
 * logs, audit rows, metrics and error messages, and how the failure counts.
 * A guess counts toward the brute-force limit; a stale tab (expired, revoked,
 * rotated or cleaned-up session) or a validly signed token with an unusable
 * claim does not. No credentials at all (an anonymous visitor, every
 * auth_request hit on a public page) writes no audit row.
 *
 * A leaf: auth, jwtv, sessions and metrics include it; it includes nothing of theirs.
 */
#ifndef SESSIOND_AUTH_REASON_H
#define SESSIOND_AUTH_REASON_H

/* X(name, label, guess, audit) */
#define AUTH_REASONS(X)                               \
	X(MISSING, "missing", 0, 0)                   \
	X(MISSING_BEARER, "missing_bearer", 0, 0)     \
	X(MALFORMED, "malformed", 1, 1)               \
	X(UNKNOWN, "unknown", 1, 1)                   \
	X(REVOKED, "revoked", 0, 1)                   \
	X(EXPIRED, "expired", 0, 1)                   \
	X(ROTATED, "rotated", 0, 1)                   \
	X(TOO_LARGE, "too_large", 1, 1)               \
	X(BAD_ALG, "bad_alg", 1, 1)                   \
	X(UNKNOWN_KID, "unknown_kid", 1, 1)           \
	X(BAD_SIGNATURE, "bad_signature", 1, 1)       \
	X(NOT_YET_VALID, "not_yet_valid", 1, 1)       \
	X(BAD_ISSUER, "bad_issuer", 1, 1)             \
	X(BAD_AUDIENCE, "bad_audience", 1, 1)         \
	X(MISSING_SUB, "missing_sub", 1, 1)           \
	X(NO_KEYS, "no_keys", 1, 1)                   \
	X(BAD_CLAIM, "bad_claim", 0, 1)               \
	X(NOT_JWS, "not_jws", 1, 1)                   \
	X(SERVICE_KEY, "service_key", 1, 1)

enum auth_reason {
#define AUTH_REASON_ENUM(name, label, guess, audit) AR_##name,
	AUTH_REASONS(AUTH_REASON_ENUM)
#undef AUTH_REASON_ENUM
	AR_COUNT
};

/* The reason's label, a static string ("unknown" for out-of-range values). */
const char *auth_reason_label(enum auth_reason r);

/* 1 when a failure for r counts toward the brute-force limit (out of range: 1). */
int auth_reason_guess(enum auth_reason r);

/* 1 when a failure for r writes an audit row (out of range: 1). */
int auth_reason_audit(enum auth_reason r);

/* The reason labelled s (the store's answer to sess_gone), or dflt when none is. */
enum auth_reason auth_reason_parse(const char *s, enum auth_reason dflt);

#endif
