// SPDX-License-Identifier: BSD-3-Clause
/*
 * vma: is the caller's memory there, and can the device reach it?  The
 * kernel tells neither in time: a PA-mode UPDATE of a hole fails with
 * EFAULT like every other refusal, and a VA-mode one of a hole or of
 * private memory succeeds and maps nothing (vhost_vdpa maps only VMAs
 * that are MAP_SHARED and file-backed; shared anonymous memory is shmem,
 * so it is one).  Both checks cost per VMA, never per page: a hole is one
 * msync(MS_ASYNC) (which, since Linux 2.6.19, only walks the VMAs of the
 * range and fails with ENOMEM at a hole), the VA check one read of
 * /proc/self/maps per region.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mapping/mapping.h"

int vdm_mem_mapped(uint64_t hva, uint64_t len)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t b = hva & ~(ps - 1);

	if (!len || hva + (len - 1) < hva)
		return -EINVAL;
	if (msync((void *)(uintptr_t)b, (size_t)(hva + len - b), MS_ASYNC) < 0)
		return -errno;
	return 0;
}

/* All of /proc/self/maps, NUL-terminated. */
static char *maps_read(void)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	return buf;
}

int vdm_mem_private(uint64_t hva, uint64_t len, uint64_t *ret_first,
		    uint64_t *ret_last)
{
	uint64_t last = hva + len - 1;
	char *buf = maps_read(), *p, *nl;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	/* "start-end perms offset dev inode path": perms[3] is 's' or 'p' */
	for (p = buf; p && *p; p = nl ? nl + 1 : NULL) {
		char *q = p, perms[5];
		uint64_t s, e;

		nl = strchr(p, '\n');

		s = strtoull(q, &q, 16);
		if (*q++ != '-')
			continue;
		e = strtoull(q, &q, 16);
		if (*q++ != ' ' || strlen(q) < 4)
			continue;
		memcpy(perms, q, 4);
		perms[4] = '\0';
		if (e <= hva || s > last || perms[3] == 's')
			continue;
		*ret_first = s > hva ? s : hva;
		*ret_last = e - 1 < last ? e - 1 : last;
		r = 1;
		break;
	}
	free(buf);
	return r;
}
