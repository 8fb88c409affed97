/*
 * Prefork process model.
 *
 * Signals never interrupt a request: workers keep SIGTERM/SIGINT/SIGHUP
 * blocked while serving (libfcgi's reads and writes do not retry on EINTR)
 * and take them only inside ppoll() on the listen socket. The listen socket
 * is non-blocking, so a worker that loses the accept race to another just
 * polls again. The master handles signals synchronously (signalfd), and learns
 * from a pipe when each worker is ready to accept and has reloaded: that is
 * when it tells systemd READY=1, or a master it was re-exec'd from that it may
 * stop (SIGUSR2, docs/deployment.md#restarts-without-a-gap).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "jwks_fetcher.h"
#include "lcache.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pidfile.h"
#include "sdproto.h"
#include "signals.h"

static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_unix(const struct cfg *c, int *created, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(c->listen) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "listen: socket path too long: %s", c->listen);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->listen, strlen(c->listen));
	/*
	 * Remove a stale socket left by a crash, never any other kind of file,
	 * and never a live one: unlinking the socket of a running sessiond
	 * would cut its web server off. Only a refused connection proves nobody
	 * listens there.
	 */
	if (lstat(c->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen: %s exists and is not a socket", c->listen);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errlen, "another sessiond is listening on %s", c->listen);
			close(fd);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			snprintf(err, errlen, "listen: %s exists and cannot be checked (%s); not removing it",
				 c->listen, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		unlink(c->listen);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->listen, (mode_t)c->listen_mode) != 0 || listen(fd, (int)c->listen_backlog) != 0) {
		snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*created = 1;
	return fd;
}

static int listen_tcp(const struct cfg *c, char *err, size_t errlen)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(c->listen, ':');
	struct addrinfo hints, *ai = NULL, *p;
	int fd = -1, one = 1, rc;
	size_t hlen;

	if (colon == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "listen: expected a unix socket path or host:port, got '%s'", c->listen);
		return -1;
	}
	hlen = (size_t)(colon - c->listen);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "listen: host too long");
		return -1;
	}
	memcpy(host, c->listen, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = colon + 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "listen: %s: %s", c->listen, gai_strerror(rc));
		return -1;
	}
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, (int)c->listen_backlog) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

int server_listen(const struct cfg *c, int *created_path, char *err, size_t errlen)
{
	int fd;

	*created_path = 0;
	if (c->listen[0] == '\0') {
		int type = 0, acc = 0;
		socklen_t len = sizeof(type), alen = sizeof(acc);

		/* spawn-fcgi and mod_fcgid hand over a listening socket as fd 0. */
		if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
		    getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc) {
			snprintf(err, errlen, "listen is empty and fd 0 is not a listening socket "
				 "(set listen, or start under spawn-fcgi or mod_fcgid)");
			return -1;
		}
		fd = 0;
	} else if (strchr(c->listen, '/')) {
		fd = listen_unix(c, created_path, err, errlen);
	} else {
		fd = listen_tcp(c, err, errlen);
	}
	if (fd >= 0 && set_nonblock(fd) != 0) {
		snprintf(err, errlen, "listen: cannot make socket non-blocking: %s", strerror(errno));
		return -1;
	}
	return fd;
}

int server_adopt(int fd, char *err, size_t errlen)
{
	if (set_nonblock(fd) != 0) {
		snprintf(err, errlen, "listen: cannot make the passed socket non-blocking: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* What a worker tells its master over the ready pipe (one atomic write each). */
struct worker_msg {
	char kind;   /* WORKER_READY or WORKER_RELOADED */
	pid_t pid;
};
#define WORKER_READY 'W'
#define WORKER_RELOADED 'H'

/* Tells the master (ready_fd >= 0), or systemd when this process serves alone. */
static void worker_report(int ready_fd, char kind)
{
	struct worker_msg msg;

	if (ready_fd < 0) {
		sdp_notify("READY=1");
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.kind = kind;
	msg.pid = getpid();
	if (write(ready_fd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		log_warn("event=worker_report_failed error=%s", strerror(errno));
}

static void install_handlers(void)
{
	signals_install(on_signal, on_signal);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Idle workers wait for a connection on the shared listening socket. With
 * plain poll every idle worker wakes for every connection and all but one
 * find nothing to accept (with 8 workers on 2 cores that herd cost more than
 * a third of the read throughput). EPOLLEXCLUSIVE wakes one idle waiter per
 * connection, as nginx does for its own workers. Returns -1 where the kernel
 * lacks it (before Linux 4.5); listen_wait() then falls back to ppoll.
 */
static int listen_waiter_open(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		log_warn("event=epoll_exclusive_unavailable error=%s fallback=ppoll", strerror(errno));
		close(ep);
		ep = -1;
	}
	return ep;
}

/* Waits up to 1 s for a connection with only the signals outside mask blocked; > 0 when one may be accepted. */
static int listen_wait(int ep, int lfd, const sigset_t *mask)
{
	if (ep >= 0) {
		struct epoll_event ev;

		return epoll_pwait(ep, &ev, 1, 1000, mask);
	}
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	struct timespec timeout = { 1, 0 };
	int n = ppoll(&p, 1, &timeout, mask);

	return n > 0 && (p.revents & POLLIN) ? 1 : n;
}

/*
 * epoll_pwait() and ppoll() deliver a pending signal only when they would
 * block: under steady load the listen socket is ready every time, they return
 * at once and the signal stays pending (blocked again), so a worker told to
 * stop would serve until the master's grace ran out and it was killed with a
 * request in flight. Look for such signals after every wait.
 */
static void take_pending_signals(void)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pending, hup;

	if (sigpending(&pending) != 0)
		return;
	if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT))
		got_term = 1;
	if (sigismember(&pending, SIGHUP)) {
		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		if (sigtimedwait(&hup, NULL, &zero) == SIGHUP)
			got_hup = 1;
	}
}

/*
 * The worker loop; returns when SIGTERM/SIGINT arrived and no request is in
 * flight. ready_fd is the master's ready pipe, -1 when this process serves alone.
 */
static int worker_main(struct cfg *c, int lfd, int ready_fd)
{
	sigset_t none;
	FCGX_Request fr;
	struct app app;
	double last_tick = now_s();
	int unix_socket, may_close, ep;

	signals_block(&none);
	install_handlers();
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		unix_socket = getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_UNIX;
	}

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, lfd, 0) != 0) {
		log_error("event=fcgi_init_failed");
		return 1;
	}
	app_worker_init(&app, c);
	ep = listen_waiter_open(lfd);
	log_info("event=worker_ready");
	worker_report(ready_fd, WORKER_READY);
	while (!got_term) {
		int n = listen_wait(ep, lfd, &none);

		take_pending_signals();
		if (got_hup) {
			got_hup = 0;
			if (ready_fd < 0)
				sdp_notify_reloading();
			app_reload(&app);
			worker_report(ready_fd, WORKER_RELOADED);
		}
		if (got_term)
			break;
		if (now_s() - last_tick >= 1.0) {
			last_tick = now_s();
			app_tick(&app);
		}
		if (n <= 0)
			continue;
		/* Another worker may win the race: EAGAIN comes back as < 0. */
		if (FCGX_Accept_r(&fr) < 0)
			continue;
		may_close = app_handle(&app, &fr);
		/*
		 * libfcgi's close shuts down the write side and then waits for the
		 * web server to close (a lingering close, up to 2 s), idling the
		 * worker for a round trip per request. On a unix socket nothing is
		 * lost by closing at once (the response stays readable by the peer)
		 * once the request body was read; a body left unread (413) still
		 * gets the lingering close, or the web server's write would fail.
		 */
		if (unix_socket && may_close)
			FCGX_Detach(&fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	if (ep >= 0)
		close(ep);
	app_worker_free(&app);
	log_info("event=worker_exit reason=signal");
	return 0;
}

struct slot {
	pid_t pid;
	double started;
	double respawn_at;   /* 0 = running or due now */
	double backoff;
	int ready;           /* a worker that reported it accepts */
	int reload_pending;  /* a worker sent SIGHUP that has not reported reloading */
};

enum role { ROLE_WORKER, ROLE_LISTENER, ROLE_FETCHER };

/* The prefork master's state. */
struct master {
	struct cfg *c;
	struct server_ctl *ctl;
	int lfd;
	struct slot *slots;
	int nworkers, nslots, listener, fetcher;
	pid_t self;
	int sfd;                    /* signalfd of the signals the master handles */
	int ready_rd, ready_wr;     /* the ready pipe: workers write worker_msg */
	int announced;              /* READY=1 sent (every worker reported ready once) */
	int reloading;              /* RELOADING=1 sent, READY=1 not yet */
	int stopping;
	double deadline;
	pid_t reexec_pid;           /* the new master of a SIGUSR2 re-exec, until it is ready or gone */
	int reexec_rd;              /* its handover pipe */
};

static enum role slot_role(const struct master *m, int i)
{
	return i == m->listener ? ROLE_LISTENER : i == m->fetcher ? ROLE_FETCHER : ROLE_WORKER;
}

/* Forks a worker, the per-host cache's invalidation listener, or the JWKS fetcher. */
static pid_t spawn(struct master *m, int i)
{
	struct slot *s = &m->slots[i];
	enum role role = slot_role(m, i);
	pid_t pid = fork();

	if (pid < 0) {
		log_error("event=fork_failed error=%s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		/* Workers die with the master instead of lingering. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != m->self)
			_exit(0);
		/* The master's own descriptors: a child holding one would keep a lock or a pipe open. */
		close(m->sfd);
		close(m->ready_rd);
		if (m->reexec_rd >= 0)
			close(m->reexec_rd);
		if (m->ctl->pidfd >= 0)
			close(m->ctl->pidfd);
		if (m->ctl->handover_fd >= 0)
			close(m->ctl->handover_fd);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigaddset(&none, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &none, NULL);
		if (role == ROLE_LISTENER) {
			sigemptyset(&none);
			sigaddset(&none, SIGTERM);
			sigaddset(&none, SIGINT);
			sigprocmask(SIG_UNBLOCK, &none, NULL);
			close(m->lfd);
			close(m->ready_wr);
			prctl(PR_SET_NAME, "sessiond-cache");   /* tells it apart from the workers in ps */
			_exit(listener_main(m->c));
		}
		if (role == ROLE_FETCHER) {
			close(m->lfd);
			close(m->ready_wr);
			prctl(PR_SET_NAME, "sessiond-jwks");
			_exit(jwks_fetcher_main(m->c));
		}
		_exit(worker_main(m->c, m->lfd, m->ready_wr));
	}
	s->pid = pid;
	s->started = now_s();
	s->respawn_at = 0;
	s->ready = 0;
	s->reload_pending = 0;
	log_info("event=%s_started worker_pid=%d",
		 role == ROLE_LISTENER ? "cache_listener" : role == ROLE_FETCHER ? "jwks_fetcher" : "worker", (int)pid);
	return pid;
}

static void describe_status(int status, char *buf, size_t n)
{
	if (WIFEXITED(status))
		snprintf(buf, n, "exit=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "signal=%d", WTERMSIG(status));
	else
		snprintf(buf, n, "status=%d", status);
}

static void begin_stop(struct master *m, const char *why)
{
	if (m->stopping)
		return;
	m->stopping = 1;
	m->deadline = now_s() + (double)m->c->shutdown_grace;
	log_info("event=master_stopping reason=%s grace_s=%ld", why, m->c->shutdown_grace);
	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, SIGTERM);
	/* A new master that is not ready yet goes too: nobody would stop it otherwise. */
	if (m->reexec_pid > 0 && !m->ctl->handed_over)
		kill(m->reexec_pid, SIGTERM);
}

/*
 * The child of a SIGUSR2 re-exec: becomes the new binary (argv[0], looked up
 * again, so a replaced file is the one that runs) with the listening socket
 * passed as systemd passes it (fd 3, LISTEN_FDS/LISTEN_PID), the handover
 * pipe's write end and the locked pid file. Never returns.
 */
static void reexec_child(struct master *m, int wfd)
{
	struct server_ctl *ctl = m->ctl;
	sigset_t none;
	char num[24];
	int w, pfd = -1;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of the way of fd 3 first (F_DUPFD copies are inherited across exec). */
	w = fcntl(wfd, F_DUPFD, 10);
	if (ctl->pidfd >= 0)
		pfd = fcntl(ctl->pidfd, F_DUPFD, 10);
	if (w < 0 || (ctl->pidfd >= 0 && pfd < 0) ||
	    (m->lfd != SDP_LISTEN_FDS_START ? dup2(m->lfd, SDP_LISTEN_FDS_START) < 0
					    : fcntl(m->lfd, F_SETFD, 0) != 0)) {
		log_error("event=reexec_failed reason=fd_setup error=%s", strerror(errno));
		_exit(127);
	}
	snprintf(num, sizeof(num), "%d", w);
	setenv("SESSIOND_HANDOVER_FD", num, 1);
	if (pfd >= 0) {
		snprintf(num, sizeof(num), "%d", pfd);
		setenv("SESSIOND_PID_FD", num, 1);
	} else {
		unsetenv("SESSIOND_PID_FD");
	}
	if (ctl->owned_socket != NULL)
		setenv("SESSIOND_OWNED_SOCKET", ctl->owned_socket, 1);
	else
		unsetenv("SESSIOND_OWNED_SOCKET");
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDS", "1", 1);
	unsetenv("LISTEN_FDNAMES");
	execvp(ctl->argv[0], ctl->argv);
	log_error("event=reexec_failed reason=exec binary=%s error=%s", ctl->argv[0], strerror(errno));
	_exit(127);
}

/* SIGUSR2: start the new binary; this master serves on until it says it is ready. */
static void reexec_start(struct master *m)
{
	int p[2];
	pid_t pid;

	if (m->ctl->argv == NULL || m->stopping || m->reexec_pid > 0 || !m->announced) {
		log_warn("event=reexec_refused reason=%s", m->ctl->argv == NULL ? "unsupported" :
			 m->stopping ? "stopping" : m->reexec_pid > 0 ? "in_progress" : "not_ready");
		return;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		log_error("event=reexec_failed reason=pipe error=%s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_error("event=reexec_failed reason=fork error=%s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		reexec_child(m, p[1]);
	}
	close(p[1]);
	m->reexec_rd = p[0];
	m->reexec_pid = pid;
	log_info("event=reexec_started new_master_pid=%d binary=%s", (int)pid, m->ctl->argv[0]);
}

/* The new master wrote to the handover pipe, or closed it. */
static void reexec_heard(struct master *m)
{
	char b = 0;
	ssize_t n = read(m->reexec_rd, &b, 1);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(m->reexec_rd);
	m->reexec_rd = -1;
	if (n != 1 || b != 'R')
		return;   /* closed before ready: its exit status, reaped below, says how */
	log_info("event=reexec_ready new_master_pid=%d", (int)m->reexec_pid);
	m->ctl->handed_over = 1;
	/* The lock belongs to the open file, which the new master shares: closing ours leaves it held. */
	if (m->ctl->pidfd >= 0) {
		close(m->ctl->pidfd);
		m->ctl->pidfd = -1;
	}
	begin_stop(m, "reexec");
}

/* Every worker reported ready (once), and since a SIGHUP every worker reloaded. */
static void check_ready(struct master *m)
{
	int ready = 1, pending = 0;

	for (int i = 0; i < m->nslots; i++) {
		if (slot_role(m, i) != ROLE_WORKER)
			continue;
		ready &= m->slots[i].pid > 0 && m->slots[i].ready;
		pending |= m->slots[i].pid > 0 && m->slots[i].reload_pending;
	}
	if (!m->announced && ready && !m->stopping) {
		m->announced = 1;
		log_info("event=master_ready workers=%d", m->nworkers);
		sdp_notify("READY=1");
		if (m->ctl->handover_fd >= 0) {
			/* The pid file names the new master before the old one starts to drain. */
			if (m->ctl->pidfd >= 0 && pidfile_claim(m->ctl->pidfd) != 0)
				log_warn("event=pid_file_write_failed error=%s", strerror(errno));
			if (write(m->ctl->handover_fd, "R", 1) != 1)
				log_warn("event=handover_failed error=%s", strerror(errno));
			close(m->ctl->handover_fd);
			m->ctl->handover_fd = -1;
		}
	}
	if (m->reloading && !pending) {
		m->reloading = 0;
		log_info("event=master_reloaded");
		sdp_notify("READY=1");
	}
}

static void read_worker_msgs(struct master *m)
{
	struct worker_msg msg;

	while (read(m->ready_rd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
		for (int i = 0; i < m->nslots; i++) {
			if (m->slots[i].pid != msg.pid)
				continue;
			if (msg.kind == WORKER_READY)
				m->slots[i].ready = 1;
			else if (msg.kind == WORKER_RELOADED)
				m->slots[i].reload_pending = 0;
		}
	}
}

static void on_master_signal(struct master *m, int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		begin_stop(m, "signal");
	} else if (sig == SIGHUP) {
		log_info("event=master_reload");
		sdp_notify_reloading();
		m->reloading = 1;
		for (int i = 0; i < m->nslots; i++) {
			if (m->slots[i].pid <= 0)
				continue;
			m->slots[i].reload_pending = slot_role(m, i) == ROLE_WORKER;
			kill(m->slots[i].pid, SIGHUP);
		}
	} else if (sig == SIGUSR2) {
		reexec_start(m);
	}
}

static void reap(struct master *m, double now)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[32];

		describe_status(status, how, sizeof(how));
		if (pid == m->reexec_pid) {
			m->reexec_pid = 0;
			if (m->ctl->handed_over)
				log_warn("event=new_master_exited new_master_pid=%d %s", (int)pid, how);
			else
				log_error("event=reexec_failed new_master_pid=%d %s reason=the new master exited before it "
					  "was ready (its own lines above say why); this master keeps serving", (int)pid, how);
			continue;
		}
		for (int i = 0; i < m->nslots; i++) {
			struct slot *s = &m->slots[i];

			if (s->pid != pid)
				continue;
			s->pid = 0;
			s->ready = 0;
			s->reload_pending = 0;
			if (i == m->listener) {
				/* Nobody hears invalidations now: serve every read from PostgreSQL. */
				lcache_set_enabled(0);
				lcache_flush();
			} else {
				metrics_worker_gone(pid);
			}
			if (m->stopping) {
				log_info("event=worker_stopped worker_pid=%d %s", (int)pid, how);
				break;
			}
			/* Back off when a worker keeps dying right after start. */
			if (now - s->started < 1.0)
				s->backoff = s->backoff ? s->backoff * 2 : 0.1;
			else
				s->backoff = 0;
			if (s->backoff > 5.0)
				s->backoff = 5.0;
			s->respawn_at = now + s->backoff;
			log_warn("event=worker_died worker_pid=%d %s respawn_in_s=%.1f", (int)pid, how, s->backoff);
		}
	}
}

static int master_loop(struct master *m)
{
	int alive;

	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = m->sfd, .events = POLLIN },
			{ .fd = m->ready_rd, .events = POLLIN },
			{ .fd = m->reexec_rd, .events = POLLIN },   /* ignored while -1 */
		};
		struct signalfd_siginfo si;
		double now;

		if (poll(pf, 3, 200) < 0 && errno != EINTR) {
			log_error("event=master_poll_failed error=%s", strerror(errno));
			return 1;
		}
		while (read(m->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			on_master_signal(m, (int)si.ssi_signo);
		read_worker_msgs(m);
		if (m->reexec_rd >= 0 && pf[2].revents)
			reexec_heard(m);
		now = now_s();
		reap(m, now);
		alive = 0;
		for (int i = 0; i < m->nslots; i++) {
			if (m->slots[i].pid > 0)
				alive++;
			else if (!m->stopping && now >= m->slots[i].respawn_at && spawn(m, i) > 0)
				alive++;
		}
		check_ready(m);
		if (m->stopping && alive == 0)
			return 0;
		if (m->stopping && now > m->deadline) {
			for (int i = 0; i < m->nslots; i++)
				if (m->slots[i].pid > 0) {
					log_warn("event=worker_killed worker_pid=%d reason=grace_expired", (int)m->slots[i].pid);
					kill(m->slots[i].pid, SIGKILL);
				}
			m->deadline = now + 5;
		}
	}
}

static int master_main(struct cfg *c, int lfd, struct server_ctl *ctl)
{
	struct master m;
	int rp[2], rc;
	sigset_t set;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.ctl = ctl;
	m.lfd = lfd;
	m.nworkers = (int)c->workers;
	/* One more slot for the cache listener when the per-host cache is on. */
	m.listener = lcache_usable_setup() ? m.nworkers : -1;
	/* And one for the JWKS fetcher when the keys come from a URL. */
	m.fetcher = jwks_fetcher_wanted(c) ? m.nworkers + (m.listener >= 0) : -1;
	m.nslots = m.nworkers + (m.listener >= 0) + (m.fetcher >= 0);
	m.self = getpid();
	m.reexec_rd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	m.slots = calloc((size_t)m.nslots, sizeof(*m.slots));
	m.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m.slots == NULL || m.sfd < 0 || pipe2(rp, O_CLOEXEC) != 0 || set_nonblock(rp[0]) != 0) {
		log_error("event=master_setup_failed error=%s", strerror(errno));
		free(m.slots);
		return 1;
	}
	m.ready_rd = rp[0];
	m.ready_wr = rp[1];
	log_info("event=master_start workers=%d", m.nworkers);
	for (int i = 0; i < m.nslots; i++)
		spawn(&m, i);
	rc = master_loop(&m);
	close(m.sfd);
	close(m.ready_rd);
	close(m.ready_wr);
	if (m.reexec_rd >= 0)
		close(m.reexec_rd);
	free(m.slots);
	log_info("event=master_exit%s", ctl->handed_over ? " handed_over=1" : "");
	return rc;
}

int server_run(struct cfg *c, int lfd, struct server_ctl *ctl)
{
	if (c->workers <= 1)
		return worker_main(c, lfd, -1);
	return master_main(c, lfd, ctl);
}
