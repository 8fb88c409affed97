/*
 * sessionctl: see and act on sessions from the command line. Options, output
 * and exit codes; the queries are in admin.c. Reads the same configuration as
 * sessiond and revokes through the same kind of SQL function, so events are
 * recorded and every host's cache is invalidated by the store's trigger.
 * Never prints a token or a token hash (the queries never select one).
 */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "config.h"
#include "store.h"

/* Stable exit codes, documented in sessionctl(8). */
enum {
	EXIT_OK = 0,
	EXIT_STORE = 1,       /* cannot reach the store, or a query failed */
	EXIT_USAGE = 2,       /* bad command line, malformed id, bad configuration */
	EXIT_NOT_FOUND = 3    /* an unknown session id or user */
};

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX     1000000

struct opts {
	const char *config;
	const char *user, *email, *tenant, *by;
	long limit;
	int all, json;
};

static int json_out;

static void usage(FILE *out)
{
	fputs("usage: sessionctl [--config FILE] [--json] COMMAND [ARGS]\n"
	      "  list [--user ID | --email ADDR | --tenant ID] [--all] [--limit N]\n"
	      "                         sessions, newest activity first; live ones unless --all\n"
	      "  show SESSION_ID        one session, its data and its recent events\n"
	      "  revoke [--by NAME] SESSION_ID...\n"
	      "  revoke [--by NAME] --user ID\n"
	      "                         revoke with reason admin, recorded with the operator's name\n"
	      "                         (default: the login name)\n"
	      "  stats                  counts by state, recent creates and failures, table sizes\n"
	      "  --config FILE          configuration file (default $SESSIOND_CONFIG, then " CFG_DEFAULT_PATH ")\n"
	      "  --json                 machine-readable output (errors too, on stdout)\n"
	      "  --version, --help\n"
	      "Exit: 0 ok, 1 store unreachable or query failed, 2 usage or configuration error,\n"
	      "3 unknown session id or user. Text output is tab-separated.\n",
	      out);
}

/* Reports an error: text on stderr, and with --json the error object on stdout. */
static int fail_with(int code, const char *errcode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_with(int code, const char *errcode, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sessionctl: %s\n", msg);
	if (json_out) {
		json_object *e = json_object_new_object(), *inner = json_object_new_object();

		json_object_object_add(inner, "code", json_object_new_string(errcode));
		json_object_object_add(inner, "message", json_object_new_string(msg));
		json_object_object_add(e, "error", inner);
		puts(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		json_object_put(e);
	}
	return code;
}

/* A field for text output: "-" for null; control characters (a hostile user agent) become '?'. */
static void put_field(const json_object *v)
{
	const char *s;

	if (v == NULL) {
		fputs("-", stdout);
		return;
	}
	if (json_object_is_type(v, json_type_string))
		s = json_object_get_string((json_object *)v);
	else
		s = json_object_to_json_string_ext((json_object *)v, JSON_C_TO_STRING_PLAIN);
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static const json_object *field(const json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex((json_object *)o, key, &v);
	return v;
}

/* Tab-separated columns of object o, in the order of keys. */
static void put_row(const json_object *o, const char *const *keys)
{
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (i > 0)
			putchar('\t');
		put_field(field(o, keys[i]));
	}
	putchar('\n');
}

/* "path<TAB>value" lines, nested objects as dotted paths. */
static void put_flat(const char *prefix, json_object *o)
{
	json_object_object_foreach(o, k, v) {
		char path[128];

		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (v != NULL && json_object_is_type(v, json_type_object)) {
			put_flat(path, v);
			continue;
		}
		fputs(path, stdout);
		putchar('\t');
		put_field(v);
		putchar('\n');
	}
}

static void put_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* EXIT_OK when the store ever recorded a session of user, else the failure reported. */
static int check_user(PGconn *conn, const char *user)
{
	char err[512];
	int known = admin_user_known(conn, user, err, sizeof(err));

	if (known < 0)
		return fail_with(EXIT_STORE, "store_error", "%s", err);
	if (!known)
		return fail_with(EXIT_NOT_FOUND, "unknown_user", "no session was ever recorded for user '%s'", user);
	return EXIT_OK;
}

static const char *const LIST_COLS[] = {
	"id", "user_id", "state", "created_at", "last_activity", "expires_at", "ip_address", "user_agent", NULL
};

static int cmd_list(PGconn *conn, const struct opts *o, long idle)
{
	struct admin_filter f = { .user_id = o->user, .email = o->email, .tenant_id = o->tenant,
				  .all = o->all, .limit = o->limit, .idle_timeout = idle };
	json_object *res, *arr;
	char err[512];
	int rc;

	if (o->user != NULL && (rc = check_user(conn, o->user)) != EXIT_OK)
		return rc;
	if (admin_list(conn, &f, &res, err, sizeof(err)) != ADMIN_OK)
		return fail_with(EXIT_STORE, "store_error", "%s", err);
	if (json_out) {
		put_json(res);
	} else {
		fputs("ID\tUSER\tSTATE\tCREATED\tLAST_ACTIVITY\tEXPIRES\tADDRESS\tUSER_AGENT\n", stdout);
		arr = (json_object *)field(res, "sessions");
		for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++)
			put_row(json_object_array_get_idx(arr, i), LIST_COLS);
		if (json_object_get_boolean((json_object *)field(res, "truncated")))
			fprintf(stderr, "sessionctl: only the first %ld shown (--limit)\n", o->limit);
	}
	json_object_put(res);
	return EXIT_OK;
}

static const char *const EVENT_COLS[] = { "occurred_at", "event", "ip_address", "detail", NULL };

static int cmd_show(PGconn *conn, const char *id, long idle)
{
	json_object *res, *events = NULL;
	char err[512];
	enum admin_err r;

	if (!admin_is_uuid(id))
		return fail_with(EXIT_USAGE, "invalid_session_id", "'%.64s' is not a session id (a UUID)", id);
	r = admin_show(conn, id, idle, &res, err, sizeof(err));
	if (r == ADMIN_NOT_FOUND)
		return fail_with(EXIT_NOT_FOUND, "not_found", "no session %s", id);
	if (r != ADMIN_OK)
		return fail_with(EXIT_STORE, "store_error", "%s", err);
	if (json_out) {
		put_json(res);
	} else {
		/* Fields first, one per line; then one "event" line per recent event. */
		json_object_object_foreach(res, k, v) {
			if (strcmp(k, "events") == 0) {
				events = v;
				continue;
			}
			printf("%s\t", k);
			put_field(v);
			putchar('\n');
		}
		for (size_t i = 0; events != NULL && i < json_object_array_length(events); i++) {
			fputs("event\t", stdout);
			put_row(json_object_array_get_idx(events, i), EVENT_COLS);
		}
	}
	json_object_put(res);
	return EXIT_OK;
}

static const char *const REVOKE_COLS[] = { "outcome", "id", "user_id", NULL };

static int cmd_revoke(PGconn *conn, const struct opts *o, char **ids, int n)
{
	json_object *res, *arr;
	char err[512];
	int rc = EXIT_OK;
	size_t missing = 0;

	if ((n > 0) == (o->user != NULL))
		return fail_with(EXIT_USAGE, "usage", "revoke takes session ids or --user ID, not both or neither");
	for (int i = 0; i < n; i++)
		if (!admin_is_uuid(ids[i]))
			return fail_with(EXIT_USAGE, "invalid_session_id", "'%.64s' is not a session id (a UUID); nothing revoked", ids[i]);
	if (o->user != NULL && (rc = check_user(conn, o->user)) != EXIT_OK)
		return rc;
	if (admin_revoke(conn, n > 0 ? (const char *const *)ids : NULL, (size_t)n, o->user, o->by,
			 &res, err, sizeof(err)) != ADMIN_OK)
		return fail_with(EXIT_STORE, "store_error", "%s", err);
	arr = (json_object *)field(res, "results");
	for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		const json_object *oc = field(json_object_array_get_idx(arr, i), "outcome");

		if (oc != NULL && strcmp(json_object_get_string((json_object *)oc), "not_found") == 0)
			missing++;
	}
	if (json_out) {
		put_json(res);
	} else {
		for (size_t i = 0; arr != NULL && i < json_object_array_length(arr); i++)
			put_row(json_object_array_get_idx(arr, i), REVOKE_COLS);
		printf("revoked\t%d\n", json_object_get_int((json_object *)field(res, "revoked")));
	}
	if (missing > 0) {
		/* The others were revoked; the caller learns that some ids were unknown. */
		fprintf(stderr, "sessionctl: %zu of %d session ids not found\n", missing, n);
		rc = EXIT_NOT_FOUND;
	}
	json_object_put(res);
	return rc;
}

static int cmd_stats(PGconn *conn, long idle)
{
	json_object *res;
	char err[512];

	if (admin_stats(conn, idle, &res, err, sizeof(err)) != ADMIN_OK)
		return fail_with(EXIT_STORE, "store_error", "%s", err);
	if (json_out)
		put_json(res);
	else
		put_flat("", res);
	json_object_put(res);
	return EXIT_OK;
}

/* The login name for --by: the login session's, else the effective user's. */
static const char *login_name(void)
{
	const char *n = getlogin();
	struct passwd *pw;

	if (n != NULL && n[0] != '\0')
		return n;
	pw = getpwuid(geteuid());
	return pw != NULL ? pw->pw_name : "unknown";
}

static int valid_by(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > ADMIN_BY_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' }, { "user", required_argument, NULL, 'u' },
		{ "email", required_argument, NULL, 'e' }, { "tenant", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' }, { "limit", required_argument, NULL, 'l' },
		{ "by", required_argument, NULL, 'b' }, CLI_OPTIONS,
	};
	struct opts o = { .limit = LIMIT_DEFAULT };
	const char *cmd;
	char err[512];
	struct cfg cfg;
	PGconn *conn;
	int opt, rc, nargs;

	/* --json is known before any error is reported, wherever it appears. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			json_out = 1;
	opterr = 0;
	while ((opt = cli_getopt(argc, argv, ":h", lopts, "sessionctl", usage, &o.config)) != -1) {
		switch (opt) {
		case CLI_EXIT:
			return EXIT_OK;
		case 'j': json_out = 1; break;
		case 'u': o.user = optarg; break;
		case 'e': o.email = optarg; break;
		case 't': o.tenant = optarg; break;
		case 'a': o.all = 1; break;
		case 'b': o.by = optarg; break;
		case 'l':
			if (cli_long(optarg, 1, LIMIT_MAX, &o.limit) != 0)
				return fail_with(EXIT_USAGE, "usage", "--limit must be an integer in 1..%d, not '%.32s'",
						 LIMIT_MAX, optarg);
			break;
		case ':':
			return fail_with(EXIT_USAGE, "usage", "%s needs a value", argv[optind - 1]);
		default:
			return fail_with(EXIT_USAGE, "usage", "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return fail_with(EXIT_USAGE, "usage", "a command is required: list, show, revoke or stats");
	}
	cmd = argv[optind++];
	nargs = argc - optind;

	/* Which options and operands each command takes, before touching the store. */
	if (strcmp(cmd, "list") == 0) {
		if (nargs > 0 || o.by != NULL)
			return fail_with(EXIT_USAGE, "usage", "list takes only --user, --email, --tenant, --all, --limit");
		if ((o.user != NULL) + (o.email != NULL) + (o.tenant != NULL) > 1)
			return fail_with(EXIT_USAGE, "usage", "list takes one of --user, --email, --tenant");
	} else if (strcmp(cmd, "show") == 0) {
		if (nargs != 1 || o.user || o.email || o.tenant || o.all || o.by || o.limit != LIMIT_DEFAULT)
			return fail_with(EXIT_USAGE, "usage", "show takes exactly one SESSION_ID");
	} else if (strcmp(cmd, "revoke") == 0) {
		if (o.email || o.tenant || o.all || o.limit != LIMIT_DEFAULT)
			return fail_with(EXIT_USAGE, "usage", "revoke takes SESSION_ID... or --user ID, and --by NAME");
		if (o.by == NULL)
			o.by = login_name();
		if (!valid_by(o.by))
			return fail_with(EXIT_USAGE, "usage", "--by must be 1..%d printable characters", ADMIN_BY_MAX);
	} else if (strcmp(cmd, "stats") == 0) {
		if (nargs > 0 || o.user || o.email || o.tenant || o.all || o.by || o.limit != LIMIT_DEFAULT)
			return fail_with(EXIT_USAGE, "usage", "stats takes no arguments");
	} else {
		return fail_with(EXIT_USAGE, "usage", "unknown command '%.32s': list, show, revoke or stats", cmd);
	}

	if (cfg_load(&cfg, o.config, err, sizeof(err)) != 0) {
		cfg_free(&cfg);
		return fail_with(EXIT_USAGE, "bad_config", "%s", err);
	}
	conn = store_connect_raw(&cfg, err, sizeof(err));
	if (conn == NULL) {
		cfg_free(&cfg);
		return fail_with(EXIT_STORE, "store_unavailable", "cannot connect to the store: %s", err);
	}
	/* Not "sessiond": its writes then ring every host's cache listener from the trigger (sql/007). */
	PQclear(PQexec(conn, "SET application_name = 'sessionctl'"));
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(conn, &o, cfg.idle_timeout);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(conn, argv[optind], cfg.idle_timeout);
	else if (strcmp(cmd, "revoke") == 0)
		rc = cmd_revoke(conn, &o, argv + optind, nargs);
	else
		rc = cmd_stats(conn, cfg.idle_timeout);
	PQfinish(conn);
	cfg_free(&cfg);
	return rc;
}
