/*
 * fcgi_ceiling — the FastCGI ceiling for make bench: the plainest preforked
 * libfcgi responder (blocking FCGX_Accept_r loop), answering every request
 * with a fixed session-sized JSON body and no work at all.
 *
 *   fcgi_ceiling SOCKET_PATH WORKERS
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

static const char body[] =
	"{\"id\":\"9f0c4b2e-1d3a-4c5b-8e6f-7a8b9c0d1e2f\",\"user\":{\"id\":\"auth0|bench\",\"email\":\"ada@example.com\","
	"\"name\":\"Ada\",\"picture\":null},\"tenant\":{\"id\":\"t-1\",\"name\":\"Acme\"},\"needs_onboarding\":true,"
	"\"onboarding_completed\":false,\"onboarding_step\":\"business_info\",\"subscription_plan\":\"free\","
	"\"subscription_status\":\"active\",\"session_data\":{},\"session_type\":\"web\",\"is_active\":true,"
	"\"is_expired\":false,\"created_at\":\"2026-11-28T12:00:00Z\",\"updated_at\":\"2026-11-28T12:00:00Z\","
	"\"last_activity\":\"2026-11-28T12:00:00Z\",\"expires_at\":\"2026-11-29T12:00:00Z\",\"version\":3}";

static void serve(int fd)
{
	FCGX_Request r;
	char head[256];
	int n;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	FCGX_InitRequest(&r, fd, 0);
	n = snprintf(head, sizeof(head),
		     "Status: 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     sizeof(body) - 1);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(head, n, r.out);
		FCGX_PutStr(body, (int)sizeof(body) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	int fd, workers;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: fcgi_ceiling SOCKET_PATH WORKERS\n");
		return 2;
	}
	workers = atoi(argv[2]);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
		perror("fcgi_ceiling");
		return 1;
	}
	chmod(argv[1], 0666);
	FCGX_Init();
	for (int i = 0; i < workers; i++)
		if (fork() == 0)
			serve(fd);
	signal(SIGTERM, SIG_DFL);
	while (wait(NULL) > 0)
		;
	return 0;
}
