// SPDX-License-Identifier: BSD-3-Clause
/*
 * The daemon's view of guest memory: the kernel keeps the IOTLB (vhost-
 * vdpa hands VDUSE the whole table of an address space at once, set_map
 * style) and announces each change with VDUSE_UPDATE_IOTLB; the daemon
 * fetches an entry when the data path first touches it (VDUSE_IOTLB_GET_FD,
 * or _FD2 with the asid in API version 1), mmaps the file behind it (VA
 * mode: a MAP_SHARED memfd of the client), and drops what an update
 * covers.  A client that truncates its memfd under a mapping makes the
 * access fault: SIGBUS is caught and the access fails (-EFAULT), as a DMA
 * error would.
 *
 * Calls below it: log.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vduse/vduse.h"

/* An entry larger than this is refused rather than mmapped (a table entry
 * the daemon cannot map whole is no memfd a client could have). */
#define VDU_MAP_MAX (1ULL << 40)

static sigjmp_buf *volatile bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	abort();
}

void vdu_iotlb_install_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static void map_release(struct vdu_map *m)
{
	if (m->base)
		munmap(m->base, m->maplen);
	if (m->fd >= 0)
		close(m->fd);
}

void vdu_iotlb_drop(struct vdu_dev *d, uint32_t asid, uint64_t first,
		    uint64_t last)
{
	size_t i = 0;

	while (i < d->nr_maps) {
		struct vdu_map *m = &d->maps[i];

		if (m->asid != asid || m->last < first || m->first > last) {
			i++;
			continue;
		}
		map_release(m);
		d->maps[i] = d->maps[--d->nr_maps];
	}
}

void vdu_iotlb_drop_all(struct vdu_dev *d)
{
	size_t i;

	for (i = 0; i < d->nr_maps; i++)
		map_release(&d->maps[i]);
	d->nr_maps = 0;
}

/* Ask the kernel for the entry of asid holding iova: the fd (>= 0) and
 * the entry, or -errno. */
static int get_fd(struct vdu_dev *d, uint32_t asid, uint64_t iova,
		  struct vdm_vduse_iotlb_entry2 *e)
{
	int fd;

	memset(e, 0, sizeof(*e));
	e->start = iova;
	e->last = iova;
	e->asid = asid;
	if (d->api >= VDUSE_API_VERSION_1) {
		fd = ioctl(d->fd, VDM_VDUSE_IOTLB_GET_FD2, e);
	} else {
		struct vduse_iotlb_entry e0 = { .start = iova, .last = iova };

		if (asid)
			return -EINVAL;
		fd = ioctl(d->fd, VDUSE_IOTLB_GET_FD, &e0);
		e->offset = e0.offset;
		e->start = e0.start;
		e->last = e0.last;
		e->perm = e0.perm;
	}
	if (fd < 0)
		return -errno;
	return fd;
}

static struct vdu_map *fetch(struct vdu_dev *d, uint32_t asid, uint64_t iova)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct vdm_vduse_iotlb_entry2 e;
	struct vdu_map m = { .fd = -1 };
	uint64_t delta;
	int fd, prot = 0;

	fd = get_fd(d, asid, iova, &e);
	if (fd < 0) {
		vdu_log(d, 1, "no IOTLB entry for asid %u iova 0x%llx: %d",
			asid, (unsigned long long)iova, fd);
		return NULL;
	}
	if (e.start > iova || e.last < iova ||
	    e.last - e.start >= VDU_MAP_MAX) {
		close(fd);
		return NULL;
	}
	m.first = e.start;
	m.last = e.last;
	m.asid = asid;
	m.perm = e.perm;
	m.off = e.offset;
	if (e.perm & VDUSE_ACCESS_RO)
		prot |= PROT_READ;
	if (e.perm & VDUSE_ACCESS_WO)
		prot |= PROT_WRITE;
	delta = e.offset % (uint64_t)pg;
	m.maplen = (size_t)(e.last - e.start + 1 + delta);
	if (prot & PROT_READ) {
		m.base = mmap(NULL, m.maplen, prot, MAP_SHARED, fd,
			      (off_t)(e.offset - delta));
		if (m.base == MAP_FAILED) {
			vdu_log(d, 0, "mmap of asid %u [0x%llx, 0x%llx]: %s",
				asid, (unsigned long long)e.start,
				(unsigned long long)e.last, strerror(errno));
			close(fd);
			/* m.base is MAP_FAILED here: nothing to unmap; the
			 * mapping made below is kept in d->maps (cppcheck
			 * does not follow the struct copy) */
			/* cppcheck-suppress memleak */
			return NULL;
		}
		m.p = (uint8_t *)m.base + delta;
		close(fd);
	} else {
		/* write-only: an fd opened O_WRONLY cannot be mmapped */
		m.base = NULL;
		m.fd = fd;
	}
	if (d->nr_maps == d->cap_maps) {
		size_t cap = d->cap_maps ? 2 * d->cap_maps : 16;
		struct vdu_map *v = realloc(d->maps, cap * sizeof(*v));

		if (!v) {
			map_release(&m);
			return NULL;
		}
		d->maps = v;
		d->cap_maps = cap;
	}
	vdu_log(d, 1, "mapped asid %u [0x%llx, 0x%llx] perm %u", asid,
		(unsigned long long)m.first, (unsigned long long)m.last,
		m.perm);
	d->maps[d->nr_maps] = m;
	return &d->maps[d->nr_maps++];
}

static struct vdu_map *lookup(struct vdu_dev *d, uint32_t asid, uint64_t iova)
{
	size_t i;

	for (i = 0; i < d->nr_maps; i++) {
		struct vdu_map *m = &d->maps[i];

		if (m->asid == asid && m->first <= iova && iova <= m->last) {
			if (i) { /* most recently used first */
				struct vdu_map t = d->maps[0];

				d->maps[0] = *m;
				*m = t;
			}
			return &d->maps[0];
		}
	}
	return fetch(d, asid, iova);
}

/* memcpy that fails (-EFAULT) instead of dying on SIGBUS */
static int __attribute__((noinline))
guarded_copy(void *dst, const void *src, size_t n)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		return -EFAULT;
	}
	bus_jmp = &jb;
	memcpy(dst, src, n);
	bus_jmp = NULL;
	return 0;
}

static int xfer(struct vdu_dev *d, uint32_t asid, uint64_t iova, void *buf,
		size_t len, int write)
{
	uint8_t *p = buf;

	while (len) {
		struct vdu_map *m = lookup(d, asid, iova);
		uint64_t off;
		size_t n;
		int e = 0;

		if (!m ||
		    !(m->perm & (write ? VDUSE_ACCESS_WO : VDUSE_ACCESS_RO)))
			return -EFAULT;
		off = iova - m->first;
		n = len;
		if (m->last - iova < n - 1)
			n = (size_t)(m->last - iova + 1);
		if (!m->p) {
			if (pwrite(m->fd, p, n, (off_t)(m->off + off)) !=
			    (ssize_t)n)
				return -EFAULT;
		} else if (write) {
			e = guarded_copy(m->p + off, p, n);
		} else {
			e = guarded_copy(p, m->p + off, n);
		}
		if (e) {
			vdu_log(d, 0, "SIGBUS at asid %u iova 0x%llx", asid,
				(unsigned long long)iova);
			return e;
		}
		p += n;
		iova += n;
		len -= n;
	}
	return 0;
}

int vdu_dma_read(struct vdu_dev *d, uint32_t asid, uint64_t iova, void *buf,
		 size_t len)
{
	return xfer(d, asid, iova, buf, len, 0);
}

int vdu_dma_write(struct vdu_dev *d, uint32_t asid, uint64_t iova,
		  const void *buf, size_t len)
{
	return xfer(d, asid, iova, (void *)buf, len, 1);
}
