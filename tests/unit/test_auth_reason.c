/* auth_reason: the labels logs, audit rows and metrics carry, and how each failure counts. */
#include "auth_reason.h"

#include "check.h"

int main(void)
{
	int distinct = 1;

	/* Labels are what the audit table, the log lines and the tests of 02/17 read. */
	CHECK_STR(auth_reason_label(AR_MISSING), "missing");
	CHECK_STR(auth_reason_label(AR_MISSING_BEARER), "missing_bearer");
	CHECK_STR(auth_reason_label(AR_SERVICE_KEY), "service_key");
	CHECK_STR(auth_reason_label(AR_NOT_JWS), "not_jws");
	CHECK_STR(auth_reason_label(AR_COUNT), "unknown");
	for (int i = 0; i < AR_COUNT; i++)
		for (int j = i + 1; j < AR_COUNT; j++)
			if (strcmp(auth_reason_label((enum auth_reason)i), auth_reason_label((enum auth_reason)j)) == 0)
				distinct = 0;
	CHECK_MSG(distinct, "every reason has its own label");

	/* No credentials: neither a guess nor an audit row. */
	CHECK(!auth_reason_guess(AR_MISSING) && !auth_reason_audit(AR_MISSING));
	CHECK(!auth_reason_guess(AR_MISSING_BEARER) && !auth_reason_audit(AR_MISSING_BEARER));
	/* A stale tab or a signed token with an unusable claim: audited, no guess. */
	CHECK(!auth_reason_guess(AR_EXPIRED) && auth_reason_audit(AR_EXPIRED));
	CHECK(!auth_reason_guess(AR_REVOKED) && !auth_reason_guess(AR_ROTATED) && !auth_reason_guess(AR_BAD_CLAIM));
	/* Anything else is a guess. */
	CHECK(auth_reason_guess(AR_UNKNOWN) && auth_reason_guess(AR_MALFORMED) && auth_reason_guess(AR_BAD_SIGNATURE));
	CHECK(auth_reason_guess(AR_SERVICE_KEY) && auth_reason_audit(AR_SERVICE_KEY));
	CHECK(auth_reason_guess(AR_COUNT) && auth_reason_audit(AR_COUNT));

	/* The store's gone_tokens reasons. */
	CHECK(auth_reason_parse("expired", AR_REVOKED) == AR_EXPIRED);
	CHECK(auth_reason_parse("rotated", AR_REVOKED) == AR_ROTATED);
	CHECK(auth_reason_parse("revoked", AR_UNKNOWN) == AR_REVOKED);
	CHECK(auth_reason_parse("nonsense", AR_REVOKED) == AR_REVOKED);
	CHECK(auth_reason_parse(NULL, AR_REVOKED) == AR_REVOKED);
	return check_done();
}
