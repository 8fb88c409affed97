/* sessiond: the FastCGI session service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "config.h"
#include "jwks_fetcher.h"
#include "lcache.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "pidfile.h"
#include "router.h"
#include "server.h"
#include "shm.h"
#include "store.h"

#ifndef SESSIOND_SQL_DIR
#define SESSIOND_SQL_DIR "/usr/local/share/sessiond/sql"
#endif

static void usage(FILE *out)
{
	fputs("usage: sessiond [--config FILE] [--check-config] [--migrate [--sql-dir DIR]]\n"
	      "                [--config-reference] [--version] [--help]\n"
	      "  --config FILE       configuration file (default $SESSIOND_CONFIG, then " CFG_DEFAULT_PATH ")\n"
	      "  --check-config      validate the configuration, print it (secrets masked) and exit\n"
	      "  --migrate           apply pending schema migrations and exit\n"
	      "  --sql-dir DIR       migrations directory (default " SESSIOND_SQL_DIR ")\n"
	      "  --config-reference  print the configuration reference table (Markdown) and exit\n"
	      "  --version           print the version and exit\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check-config", no_argument, NULL, 't' }, { "migrate", no_argument, NULL, 'm' },
		{ "sql-dir", required_argument, NULL, 's' }, { "config-reference", no_argument, NULL, 'r' },
		CLI_OPTIONS,
	};
	const char *config_path = NULL, *sql_dir = SESSIOND_SQL_DIR;
	int check = 0, migrate = 0, opt, lfd, created = 0, rc, pidfd = -1;
	struct cfg cfg;
	char err[512];

	while ((opt = cli_getopt(argc, argv, "c:tVh", opts, "sessiond", usage, &config_path)) != -1) {
		switch (opt) {
		case CLI_EXIT:
			return 0;
		case 't':
			check = 1;
			break;
		case 'm':
			migrate = 1;
			break;
		case 's':
			sql_dir = optarg;
			break;
		case 'r':
			cfg_reference(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (cfg_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	log_set_level(cfg.log_level);
	if (check) {
		cfg_dump(&cfg, stdout);
		rc = app_check_keys(&cfg, stdout, stderr);
		if (rc == 0)
			printf("configuration ok%s%s\n", cfg.path ? ": " : " (defaults and environment)",
			       cfg.path ? cfg.path : "");
		cfg_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if (migrate) {
		PGconn *conn = store_connect_raw(&cfg, err, sizeof(err));
		int n;

		if (conn == NULL) {
			fprintf(stderr, "sessiond: cannot connect to the store: %s\n", err);
			cfg_free(&cfg);
			return 1;
		}
		n = migrate_apply(conn, sql_dir, stdout, err, sizeof(err));
		PQfinish(conn);
		cfg_free(&cfg);
		if (n < 0) {
			fprintf(stderr, "sessiond: migration failed: %s\n", err);
			return 1;
		}
		printf("migrations up to date (%d applied)\n", n);
		return 0;
	}
	metrics_set_route_names(router_route_name);
	if (shm_setup(&cfg, err, sizeof(err)) != 0 || jwks_setup(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	/*
	 * The per-host cache needs the invalidation listener that only the
	 * prefork master runs; with workers = 1 (mod_fcgid) every read goes to
	 * PostgreSQL.
	 */
	if (cfg.workers > 1 && lcache_setup(cfg.local_cache_entries, err, sizeof(err)) != 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	/* Under mod_fcgid many single-worker processes share one configuration. */
	if (cfg.pid_file[0] && !(cfg.workers == 1 && cfg.listen[0] == '\0') &&
	    (pidfd = pidfile_acquire(cfg.pid_file, err, sizeof(err))) < 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	lfd = server_listen(&cfg, &created, err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		pidfile_release(cfg.pid_file, pidfd);
		cfg_free(&cfg);
		return 1;
	}
	log_info("event=start version=%s listen=%s workers=%ld", SESSIOND_VERSION,
		 cfg.listen[0] ? cfg.listen : "fd0", cfg.workers);
	rc = server_run(&cfg, lfd);
	if (created)
		unlink(cfg.listen);
	pidfile_release(cfg.pid_file, pidfd);
	cfg_free(&cfg);
	return rc;
}
