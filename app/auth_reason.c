/* Authentication-failure reasons: the rows of AUTH_REASONS as tables. */
#include "auth_reason.h"

#include <string.h>

static const struct {
	const char *label;
	int guess, audit;
} reasons[AR_COUNT] = {
#define AUTH_REASON_ROW(name, label, guess, audit) [AR_##name] = { label, guess, audit },
	AUTH_REASONS(AUTH_REASON_ROW)
#undef AUTH_REASON_ROW
};

const char *auth_reason_label(enum auth_reason r)
{
	return (unsigned)r < AR_COUNT ? reasons[r].label : "unknown";
}

int auth_reason_guess(enum auth_reason r)
{
	return (unsigned)r < AR_COUNT ? reasons[r].guess : 1;
}

int auth_reason_audit(enum auth_reason r)
{
	return (unsigned)r < AR_COUNT ? reasons[r].audit : 1;
}

enum auth_reason auth_reason_parse(const char *s, enum auth_reason dflt)
{
	for (int i = 0; s != NULL && i < AR_COUNT; i++)
		if (strcmp(s, reasons[i].label) == 0)
			return (enum auth_reason)i;
	return dflt;
}
