/* sessiond: the FastCGI session service. */
#include <fcntl.h>
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
#include "sdproto.h"
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

/* An fd number a re-exec'ing master passed in the environment variable name (then unset), or -1. */
static int inherited_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (v == NULL)
		return -1;
	fd = strtol(v, &end, 10);
	unsetenv(name);
	if (*v == '\0' || *end != '\0' || fd < 3 || fd > 65535 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return (int)fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check-config", no_argument, NULL, 't' }, { "migrate", no_argument, NULL, 'm' },
		{ "sql-dir", required_argument, NULL, 's' }, { "config-reference", no_argument, NULL, 'r' },
		CLI_OPTIONS,
	};
	const char *config_path = NULL, *sql_dir = SESSIOND_SQL_DIR;
	int check = 0, migrate = 0, opt, lfd, created = 0, rc, pidfd = -1, handover_fd, pid_fd_passed;
	const char *owned = NULL;
	struct server_ctl ctl;
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
	metrics_set_jwks_waiting(jwks_waiting);
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
	/*
	 * A master that re-exec'd this binary on SIGUSR2 passed these; a systemd
	 * socket unit passes only the socket (below). Read (and unset) before
	 * anything can fail, so a refused start closes them and the old master
	 * learns that at once.
	 */
	handover_fd = inherited_fd("SESSIOND_HANDOVER_FD");
	pid_fd_passed = inherited_fd("SESSIOND_PID_FD");
	if (handover_fd >= 0)
		owned = getenv("SESSIOND_OWNED_SOCKET");
	sdp_notify_init();
	/* Under mod_fcgid many single-worker processes share one configuration. */
	if (cfg.pid_file[0] && !(cfg.workers == 1 && cfg.listen[0] == '\0')) {
		/* Inherited: still the old master's pid inside until this one is ready. */
		if (pid_fd_passed >= 0 && pidfile_adopt(pid_fd_passed, cfg.pid_file) == 0)
			pidfd = pid_fd_passed;
		else if ((pidfd = pidfile_acquire(cfg.pid_file, err, sizeof(err))) < 0) {
			fprintf(stderr, "sessiond: %s\n", err);
			cfg_free(&cfg);
			return 1;
		}
	}
	if (pid_fd_passed >= 0 && pidfd != pid_fd_passed)
		close(pid_fd_passed);
	/* A socket passed by systemd (or by the master that re-exec'd this one) wins over listen. */
	lfd = sdp_listen_fd(err, sizeof(err));
	if (lfd >= 0) {
		if (server_adopt(lfd, err, sizeof(err)) != 0)
			lfd = -2;
	} else if (lfd == -1) {
		lfd = server_listen(&cfg, &created, err, sizeof(err));
		if (created)
			owned = cfg.listen;
	}
	if (lfd < 0) {
		fprintf(stderr, "sessiond: %s\n", err);
		if (pidfd != pid_fd_passed)
			pidfile_release(cfg.pid_file, pidfd);
		cfg_free(&cfg);
		return 1;
	}
	log_info("event=start version=%s listen=%s workers=%ld", SESSIOND_VERSION,
		 lfd == SDP_LISTEN_FDS_START && !created ? "passed_fd3" : cfg.listen[0] ? cfg.listen : "fd0",
		 cfg.workers);
	memset(&ctl, 0, sizeof(ctl));
	ctl.argv = argv;
	ctl.owned_socket = owned;
	ctl.pidfd = pidfd;
	ctl.handover_fd = handover_fd;
	rc = server_run(&cfg, lfd, &ctl);
	/*
	 * Only a socket this line of sessiond created goes, never one a new
	 * master now serves, nor one the old master still serves (this one never
	 * became ready: its handover fd is still open).
	 */
	if (ctl.handover_fd >= 0) {
		close(ctl.handover_fd);
		if (ctl.pidfd >= 0)
			close(ctl.pidfd);   /* its pid was never written: the old master's stays */
	} else {
		if (owned != NULL && !ctl.handed_over)
			unlink(owned);
		if (ctl.handed_over) {
			if (ctl.pidfd >= 0)
				close(ctl.pidfd);
		} else {
			pidfile_release(cfg.pid_file, ctl.pidfd);
		}
	}
	cfg_free(&cfg);
	return rc;
}
