/* The locked pid file (see pidfile.h). */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int pidfile_acquire(const char *path, char *err, size_t errlen)
{
	char buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "pid_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			snprintf(err, errlen, "another sessiond (pid %s) is running with pid_file %s",
				 buf[0] ? buf : "?", path);
		else
			snprintf(err, errlen, "pid_file %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	if (pidfile_claim(fd) != 0) {
		snprintf(err, errlen, "pid_file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int pidfile_claim(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -1;
}

int pidfile_adopt(int fd, const char *path)
{
	struct stat a, b;

	/* flock on a description that already holds the lock succeeds at once; on any other it would not. */
	if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
	    flock(fd, LOCK_EX | LOCK_NB) != 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? 0 : -1;
}

void pidfile_release(const char *path, int fd)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}
