/*
 * cleanup_sessions: options and exit codes; the work is in cleanup.c.
 *   0 success, 1 failure (store unreachable, SQL error), 2 usage or
 *   configuration error, 3 another run holds the lock.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "store.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_LOCKED = 3 };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cleanup_sessions [--config FILE] [--dry-run] [--batch-size N] [--verbose] [--help]\n"
		"  --config FILE    configuration file (default $SESSIOND_CONFIG, then " CFG_DEFAULT_PATH ")\n"
		"  --dry-run        count what would be deleted, change nothing\n"
		"  --batch-size N   rows per delete transaction, 1..%d (default %d)\n"
		"  --verbose        also print live-session counts and timing\n"
		"  --version        print the version and exit\n"
		"Deletes sessions expired or revoked more than cleanup_grace seconds ago, their\n"
		"cache rows, and audit events older than event_retention_days. One fact per\n"
		"stdout line (\"cleanup key=value\"); errors on stderr.\n"
		"Exit: 0 ok, 1 failure, 2 usage or configuration error, 3 another run holds the lock.\n",
		CLEANUP_BATCH_MAX, CLEANUP_BATCH_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' }, { "batch-size", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' }, CLI_OPTIONS,
	};
	struct cleanup_opts o = { .batch_size = CLEANUP_BATCH_DEFAULT, .stop = &stop_requested };
	struct cleanup_stats st;
	const char *config_path = NULL;
	struct sigaction sa;
	enum cleanup_result r;
	struct cfg cfg;
	char err[512];
	PGconn *conn;
	int opt;

	while ((opt = cli_getopt(argc, argv, "c:nb:vh", opts, "cleanup_sessions", usage, &config_path)) != -1) {
		switch (opt) {
		case CLI_EXIT:
			return EXIT_OK;
		case 'n':
			o.dry_run = 1;
			break;
		case 'b':
			if (cli_long(optarg, 1, CLEANUP_BATCH_MAX, &o.batch_size) != 0) {
				fprintf(stderr, "cleanup_sessions: --batch-size must be an integer in 1..%d, not '%s'\n",
					CLEANUP_BATCH_MAX, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			o.verbose = 1;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cleanup_sessions: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cfg_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "cleanup_sessions: %s\n", err);
		cfg_free(&cfg);
		return EXIT_USAGE;
	}

	/* SIGINT/SIGTERM: finish the batch in flight, report, exit 1. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	conn = store_connect_raw(&cfg, err, sizeof(err));
	if (conn == NULL) {
		fprintf(stderr, "cleanup_sessions: cannot connect to the store: %s\n", err);
		cfg_free(&cfg);
		return EXIT_FAIL;
	}
	/* A dry run changes nothing, so it does not keep a real run from starting. */
	if (!o.dry_run) {
		r = cleanup_lock(conn, err, sizeof(err));
		if (r != CLEANUP_OK) {
			fprintf(stderr, "cleanup_sessions: %s\n", err);
			PQfinish(conn);
			cfg_free(&cfg);
			return r == CLEANUP_LOCKED ? EXIT_LOCKED : EXIT_FAIL;
		}
	}
	r = cleanup_run(conn, &cfg, &o, &st, err, sizeof(err));
	PQfinish(conn);   /* also releases the advisory lock */
	cfg_free(&cfg);
	if (r != CLEANUP_OK) {
		cleanup_report(stdout, &o, &st, "failed");
		fprintf(stderr, "cleanup_sessions: %s\n", err);
		return EXIT_FAIL;
	}
	if (st.interrupted) {
		cleanup_report(stdout, &o, &st, "interrupted");
		fprintf(stderr, "cleanup_sessions: interrupted by a signal; the rest is left for the next run\n");
		return EXIT_FAIL;
	}
	cleanup_report(stdout, &o, &st, "ok");
	return EXIT_OK;
}
