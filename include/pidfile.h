/*
 * The pid file (pid_file): one running sessiond per file. The file is locked
 * (flock) for the life of the process, so a second start finds it held and
 * refuses, and a file left by a crash (no holder) is simply taken over.
 */
#ifndef SESSIOND_PIDFILE_H
#define SESSIOND_PIDFILE_H

#include <stddef.h>

/*
 * Opens and locks path and writes this process's pid into it. Returns the
 * open fd (keep it open: the lock lives with it), or -1 with a message in
 * err, naming the pid of the holder when another process has it.
 */
int pidfile_acquire(const char *path, char *err, size_t errlen);

/* Removes path and closes fd (the master, at exit). */
void pidfile_release(const char *path, int fd);

#endif
