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

/* Writes this process's pid into the locked file fd (a re-exec'd master, once ready). 0 or -1 (errno). */
int pidfile_claim(int fd);

/*
 * A locked pid file inherited from the master that re-exec'd this one: 0 when
 * fd is path and holds its lock (the lock belongs to the open file, which
 * both masters share; it stays held when the old one closes its copy), else -1.
 */
int pidfile_adopt(int fd, const char *path);

/* Removes path and closes fd (the master, at exit). */
void pidfile_release(const char *path, int fd);

#endif
