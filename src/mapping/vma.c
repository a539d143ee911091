// SPDX-License-Identifier: BSD-3-Clause
/*
 * vma: is the caller's memory there, and can the device reach it?  The
 * kernel tells neither in time: a PA-mode UPDATE of a hole fails with
 * EFAULT like every other refusal, and a VA-mode one of a hole or of
 * private memory succeeds and maps nothing (vhost_vdpa maps only VMAs
 * that are MAP_SHARED and file-backed; shared anonymous memory is shmem,
 * so it is one).  A hole is found at a commit with PROCMAP_QUERY (Linux
 * 6.11), one ioctl per VMA, or at region_add and on older kernels with
 * mincore(), which fails with ENOMEM at one and changes nothing, one call
 * per 16 MiB (its vector is a byte a page, and it looks each page up:
 * ~10 us for one page under emulation, three times the ioctl;
 * msync(MS_ASYNC) would walk only the VMAs, but memcheck takes its range
 * for memory the program reads and reports every probe of a hole as an
 * error).  The VA check is one read of /proc/self/maps per
 * region.  That read also says which file (dev, inode) backs each VMA at
 * which offset: a region's fd must be that file at that offset, or a
 * successor would map other memory than the device uses.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mapping/mapping.h"
#include "uapi/procmap.h"
#include "uapi/vhost_vdpa.h"

#define MINCORE_PAGES 4096 /* pages asked of mincore() at once */

int vdm_mem_mapped(uint64_t hva, uint64_t len)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t a = hva & ~(ps - 1), end;
	unsigned char vec[MINCORE_PAGES];

	if (!len || hva + (len - 1) < hva)
		return -EINVAL;
	end = hva + (len - 1); /* inclusive: len may reach 2^64 - 1 */
	for (;;) {
		uint64_t n = (end - a) / ps + 1;

		if (n > MINCORE_PAGES)
			n = MINCORE_PAGES;
		if (mincore((void *)(uintptr_t)a, (size_t)(n * ps), vec) < 0)
			return -errno;
		if (end - a < n * ps)
			return 0;
		a += n * ps;
	}
}

int vdm_maps_fd(struct vdpamap *h)
{
	if (h->map->maps_fd == -1)
		h->map->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	return h->map->maps_fd < 0 ? -1 : h->map->maps_fd;
}

void vdm_maps_fd_unsupported(struct vdpamap *h)
{
	if (h->map->maps_fd >= 0)
		close(h->map->maps_fd);
	h->map->maps_fd = -2;
}

/* Opened here, once: the fd stays with the process it was opened on
 * (reads answer nothing once that one has exited), where a path opened
 * later could name another process that took the pid over. */
void vdm_map_dev_mm(struct vdpamap *h, pid_t pid)
{
	char path[32];

	if (h->map->dev_maps_fd >= 0)
		close(h->map->dev_maps_fd);
	h->map->dev_maps_fd = -1;
	h->map->dev_pid = pid;
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	h->map->dev_maps_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->map->dev_maps_fd < 0)
		vdm_warn(h,
			 "%s: %s: the device's entries cannot be counted "
			 "there, counts stay unknown",
			 path, strerror(errno));
}

int vdm_dev_maps_fd(struct vdpamap *h)
{
	if (h->map->dev_pid <= 0)
		return vdm_maps_fd(h);
	return h->map->dev_maps_fd;
}

FILE *vdm_dev_maps_stream(struct vdpamap *h)
{
	int fd = h->map->dev_maps_fd;
	FILE *f;

	if (h->map->dev_pid <= 0)
		return fopen("/proc/self/maps", "re");
	if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0)
		return NULL;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

void vdm_mem_fds_close(struct vdpamap *h)
{
	if (h->map->maps_fd >= 0)
		close(h->map->maps_fd);
	if (h->map->dev_maps_fd >= 0)
		close(h->map->dev_maps_fd);
	if (h->map->pm_fd >= 0)
		close(h->map->pm_fd);
	h->map->maps_fd = -1;
	h->map->dev_maps_fd = -1;
	h->map->pm_fd = -1;
}

int vdm_procmap_next(int fd, uint64_t a, uint64_t flags, uint64_t *start,
		     uint64_t *end)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA | flags,
		.query_addr = a,
	};

	*start = *end = 0; /* defined whatever the answer */
	if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
		if (errno == ENOENT) /* nothing from a on */
			return 0;
		return errno == ENOTTY || errno == EINVAL ? -ENOTTY : -errno;
	}
	*start = q.vma_start;
	*end = q.vma_end;
	return 1;
}

/* Is [a, last] covered by VMAs, one query each?  1 and the span of those
 * VMAs in [*lo, *hi) if so, 0 at a hole, -ENOTTY without PROCMAP_QUERY,
 * else -errno. */
static int query_mapped(int fd, uint64_t a, uint64_t last, uint64_t *lo,
			uint64_t *hi)
{
	bool first = true;

	for (;;) {
		uint64_t vs, ve;
		int r = vdm_procmap_next(fd, a, 0, &vs, &ve);

		if (r <= 0)
			return r;
		if (vs > a)
			return 0;
		if (first)
			*lo = vs;
		first = false;
		*hi = ve;
		if (ve - 1 >= last)
			return 1;
		a = ve;
	}
}

/* Memory a map's range must lie in (mapped when its region was added);
 * the kernel does not tell in time: a PA-mode UPDATE of a hole fails
 * with the EFAULT of every refusal, a VA-mode one maps nothing or, below
 * a shared VMA, the wrong file offsets.  Checked once a commit, not per
 * map: a commit of 4096 maps into one region asks once. */
int vdm_mem_check_msgs(struct vdpamap *h, const struct vdm_msg *msgs, size_t n)
{
	uint64_t lo = 1, hi = 0; /* [lo, hi): mapped, as the last query found */
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		const struct vdm_entry *e = msgs[i].e;
		uint64_t span = e->last - e->iova;
		int fd;

		if (msgs[i].type != VHOST_IOTLB_UPDATE ||
		    (e->hva >= lo && e->hva + span < hi))
			continue;
		fd = vdm_maps_fd(h);
		r = fd < 0 ? -ENOTTY :
			     query_mapped(fd, e->hva, e->hva + span, &lo, &hi);
		if (r == -ENOTTY && fd >= 0)
			vdm_maps_fd_unsupported(h);
		if (r < 0 && vdm_mem_mapped(e->hva, span + 1) == 0) {
			lo = e->hva; /* mincore() answers for this range */
			hi = e->hva + span + 1;
			r = 1;
		}
		if (r > 0)
			continue;
		vdm_err(h,
			"hva [%p, +0x%llx) is not mapped in this process "
			"(unmapped since its region was added)",
			(void *)(uintptr_t)e->hva,
			(unsigned long long)(span + 1));
		return -EFAULT;
	}
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

/* One VMA of /proc/self/maps ("start-end perms offset maj:min inode
 * path") from *p, which moves to the next line; false at the end. */
struct vma {
	uint64_t start, end, off, ino;
	unsigned int maj, min;
	char perms[5];
};

static bool vma_next(char **p, struct vma *v)
{
	while (**p) {
		char *line = *p, *nl = strchr(line, '\n');
		int n;

		*p = nl ? nl + 1 : line + strlen(line);
		n = sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64
			   " %x:%x %" SCNu64,
			   &v->start, &v->end, v->perms, &v->off, &v->maj,
			   &v->min, &v->ino);
		if (n == 7)
			return true;
	}
	return false;
}

int vdm_mem_private(uint64_t hva, uint64_t len, uint64_t *ret_first,
		    uint64_t *ret_last)
{
	uint64_t last = hva + len - 1;
	char *buf = maps_read(), *p = buf;
	struct vma v;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (vma_next(&p, &v)) {
		if (v.end <= hva || v.start > last || v.perms[3] == 's')
			continue;
		*ret_first = v.start > hva ? v.start : hva;
		*ret_last = v.end - 1 < last ? v.end - 1 : last;
		r = 1;
		break;
	}
	free(buf);
	return r;
}

int vdm_mem_backed(uint64_t hva, uint64_t len, int fd, uint64_t off,
		   uint64_t *ret_first, uint64_t *ret_last)
{
	uint64_t last = hva + len - 1;
	struct stat st;
	struct vma v;
	char *buf, *p;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	buf = maps_read();
	if (!buf)
		return -ENOMEM;
	for (p = buf; !r && vma_next(&p, &v);) {
		uint64_t a = v.start > hva ? v.start : hva;

		if (v.end <= hva || v.start > last)
			continue;
		if (makedev(v.maj, v.min) != st.st_dev ||
		    v.ino != (uint64_t)st.st_ino)
			r = 1;
		else if (v.off + (a - v.start) != off + (a - hva))
			r = 2;
		*ret_first = a;
		*ret_last = v.end - 1 < last ? v.end - 1 : last;
	}
	free(buf);
	return r;
}
