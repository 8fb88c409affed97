/* The shared region across workers. */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_MAGIC 0x73657373696f6e31ULL   /* "session1" */

static struct shm_region *region;

struct shm_region *shm_get(void)
{
	return region;
}

static int init_lock(struct shm_region *r)
{
	pthread_mutexattr_t a;
	int rc;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(&r->lock, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

int shm_setup(const struct cfg *c, char *err, size_t errlen)
{
	size_t size = sizeof(struct shm_region) + (size_t)c->auth_fail_table_size * sizeof(struct guard_slot);
	void *p;
	int fd = -1;

	if (region)
		return 0;
	if (c->shm_file[0] == '\0') {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "shared memory: %s", strerror(errno));
			return -1;
		}
		region = p;
		region->magic = SHM_MAGIC;
		region->size = size;
		region->guard_slots = (uint32_t)c->auth_fail_table_size;
		if ((errno = init_lock(region)) != 0) {
			snprintf(err, errlen, "shared memory: cannot initialise its lock: %s", strerror(errno));
			munmap(p, size);
			region = NULL;
			return -1;
		}
		return 0;
	}
	fd = open(c->shm_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		snprintf(err, errlen, "shm_file %s: %s", c->shm_file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	{
		struct stat st;

		if (fstat(fd, &st) != 0 || ((size_t)st.st_size != size && ftruncate(fd, 0) != 0) ||
		    ftruncate(fd, (off_t)size) != 0) {
			snprintf(err, errlen, "shm_file %s: %s", c->shm_file, strerror(errno));
			close(fd);
			return -1;
		}
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "shm_file %s: %s", c->shm_file, strerror(errno));
		close(fd);
		return -1;
	}
	region = p;
	/* The first process to map a new (or resized) file initializes it, under the file lock. */
	if (region->magic != SHM_MAGIC || region->size != size) {
		int rc;

		memset(region, 0, size);
		region->size = size;
		region->guard_slots = (uint32_t)c->auth_fail_table_size;
		if ((rc = init_lock(region)) != 0) {
			snprintf(err, errlen, "shm_file %s: cannot initialise its lock: %s", c->shm_file, strerror(rc));
			munmap(p, size);
			region = NULL;
			flock(fd, LOCK_UN);
			close(fd);
			return -1;
		}
		region->magic = SHM_MAGIC;
	}
	flock(fd, LOCK_UN);
	close(fd);
	return 0;
}

void shm_lock(struct shm_region *r)
{
	if (pthread_mutex_lock(&r->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&r->lock); /* a worker died holding it; the table stays usable */
}

void shm_unlock(struct shm_region *r)
{
	pthread_mutex_unlock(&r->lock);
}
