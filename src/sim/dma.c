// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulated parent device's view of memory: pins, the device-side map
 * of every ASID, /proc/<pid>/maps inspection and DMA reads/writes through
 * a translation.
 *
 * Calls below it: table.c, log.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim/sim.h"

/* ---- pins */

void vsim_pin_get(struct vsim_pin *p)
{
	if (p)
		p->ref++;
}

void vsim_pin_put(struct vsim_pin *p)
{
	if (!p || --p->ref > 0)
		return;
	munmap(p->base, p->len);
	free(p);
}

/* Map [start, start + len) of vma v of process pid from its backing file,
 * through /proc/pid/map_files.  NULL if that cannot be done. */
struct vsim_pin *vsim_pin_file(pid_t pid, const struct vsim_vma *v,
			       uint64_t start, uint64_t len, int want_write)
{
	char path[96];
	struct vsim_pin *p;
	void *base;
	int fd, writable = 1;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && !want_write) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		writable = 0;
	}
	if (fd < 0) {
		vsim_log("pin: open %s: %s", path, strerror(errno));
		return NULL;
	}
	base = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0),
		    MAP_SHARED, fd, (off_t)(v->offset + (start - v->start)));
	close(fd);
	if (base == MAP_FAILED) {
		vsim_log("pin: mmap %s: %s", path, strerror(errno));
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		munmap(base, len);
		return NULL;
	}
	p->ref = 1;
	p->base = base;
	p->len = len;
	p->writable = writable;
	return p;
}

/* ---- /proc/<pid>/maps */

static uint64_t hex(const char **p)
{
	uint64_t v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

/* The whole of a /proc file, read in one go: this runs for every UPDATE,
 * so no stdio.  0 or -errno; a read error ends the file. */
static int read_all(const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				goto nomem;
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	*ret = buf;
	*ret_len = len;
	return 0;
nomem:
	free(buf);
	close(fd);
	return -ENOMEM;
}

/* One line "start-end perms offset maj:min inode path" up to eol into e;
 * 0, or -1 for a line too short to hold the perms. */
static int vma_parse(const char *p, const char *eol, struct vsim_vma *e)
{
	uint64_t ino;

	e->start = hex(&p);
	p++; /* '-' */
	e->end = hex(&p);
	p++; /* ' ' */
	if (eol - p < 5)
		return -1;
	e->writable = p[1] == 'w';
	e->shared = p[3] == 's';
	p += 5;
	e->offset = hex(&p);
	p++;
	e->dev = hex(&p) << 32; /* major */
	p++;
	e->dev |= hex(&p); /* minor */
	p++;
	for (ino = 0; p < eol && *p >= '0' && *p <= '9'; p++)
		ino = ino * 10 + (uint64_t)(*p - '0');
	e->ino = ino;
	/* every VMA with a vdm_file has an inode; MAP_SHARED anonymous
	 * memory is shmem ("/dev/zero (deleted)") */
	e->file = ino != 0;
	return 0;
}

int vsim_vmas_read(pid_t pid, struct vsim_vma **ret, size_t *ret_n)
{
	char path[64], *buf = NULL;
	size_t len = 0, n = 0, vcap = 0;
	struct vsim_vma *v = NULL, *x;
	const char *p, *end;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	r = read_all(path, &buf, &len);
	if (r)
		return r;
	for (p = buf, end = buf + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct vsim_vma e;

		if (!eol)
			eol = end;
		if (vma_parse(p, eol, &e))
			goto next;
		if (n == vcap) {
			vcap = vcap ? vcap * 2 : 64;
			x = realloc(v, vcap * sizeof(*v));
			if (!x)
				goto nomem;
			v = x;
		}
		v[n++] = e;
next:
		p = eol + 1;
	}
	free(buf);
	*ret = v;
	*ret_n = n;
	return 0;
nomem:
	free(v);
	free(buf);
	return -ENOMEM;
}

/* The first VMA with end > addr (the kernel's find_vma()), or NULL. */
const struct vsim_vma *vsim_vma_find(const struct vsim_vma *v, size_t n,
				     uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n ? &v[lo] : NULL;
}

/* ---- device-side maps (the parent driver's own IOTLB) */

static void dmap_clear(struct vsim_table *t)
{
	const struct vsim_map *m;

	/* VA mode has no pins: no walk (10^5 entries take milliseconds) */
	for (m = t->npins ? vsim_tbl_first(t) : NULL; m; m = vsim_tbl_next(m))
		vsim_pin_put(m->pin);
	vsim_tbl_clear(t);
}

/* The parent's own IOTLB cap (vdpa_sim's and VDUSE's max_iotlb_entries),
 * enforced only by kernels whose vhost_iotlb enforces limits. */
static int parent_full(const struct vsim_dev *d, size_t n)
{
	return vsim_caps_enforced(d) && d->o.parent_cap && n >= d->o.parent_cap;
}

/* .set_map: the device takes a copy of the whole table (cost O(entries)).
 * vdpa_sim (and VDUSE) reset the map first and add the entries in order;
 * a failed add resets it again: over the cap the address space ends up
 * empty. */
int vsim_dev_set_map(struct vsim_dev *d, uint32_t asid)
{
	struct vsim_table *dm = &d->dmap[asid];
	const struct vsim_table *t = &d->tbl[asid];
	const struct vsim_map *m;
	size_t at = 0;
	int r = 0;

	d->st.set_map_calls++;
	dmap_clear(dm);
	d->pt[asid] = 0;
	/* entries 0..cap-1 go in, entry number cap is refused */
	if (t->n && parent_full(d, t->n - 1)) {
		at = d->o.parent_cap;
		r = -ENOSPC;
	} else {
		r = vsim_tbl_copy(dm, t);
	}
	if (r < 0) {
		vsim_log("set_map asid %u: entry %zu of %zu: %s: the "
			 "device's map is now empty",
			 asid, at, t->n, strerror(-r));
		return r;
	}
	for (m = dm->npins ? vsim_tbl_first(dm) : NULL; m; m = vsim_tbl_next(m))
		vsim_pin_get(m->pin);
	return 0;
}

/* .dma_map: one entry; the first one after a reset ends passthrough */
int vsim_dev_dma_map(struct vsim_dev *d, uint32_t asid,
		     const struct vsim_map *m)
{
	struct vsim_table *dm = &d->dmap[asid];

	d->st.dma_map_calls++;
	if (d->pt[asid]) {
		dmap_clear(dm);
		d->pt[asid] = 0;
	}
	if (parent_full(d, dm->n)) {
		vsim_log("dma_map asid %u: the parent's cap of %u entries",
			 asid, d->o.parent_cap);
		return -ENOSPC;
	}
	if (!vsim_tbl_insert(dm, m))
		return -ENOMEM;
	vsim_pin_get(m->pin);
	return 0;
}

void vsim_dev_dma_unmap(struct vsim_dev *d, uint32_t asid, uint64_t first,
			uint64_t last)
{
	struct vsim_table *dm = &d->dmap[asid];
	struct vsim_map *m;

	d->st.dma_map_calls++;
	while ((m = vsim_tbl_overlap(dm, first, last))) {
		vsim_pin_put(m->pin);
		vsim_tbl_remove(dm, m);
	}
}

/* Reset without IOTLB_PERSIST: every ASID back to identity passthrough. */
void vsim_dev_reset_maps(struct vsim_dev *d)
{
	uint32_t a;

	for (a = 0; a < d->o.nr_as; a++) {
		dmap_clear(&d->dmap[a]);
		d->pt[a] = 1;
	}
}

/* ---- DMA */

static sigjmp_buf *volatile bus_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* A pin past the end of a truncated file raises SIGBUS: turn it into a
 * failed DMA instead of a dead daemon. */
void vsim_dma_install_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static int pin_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		return -EFAULT;
	}
	bus_jmp = &jb;
	/* ring indices are 2 bytes and naturally aligned: keep them single
	 * accesses with the ordering of the other side's barriers */
	if (len == 2 && !((uintptr_t)src & 1) && !((uintptr_t)dst & 1))
		__atomic_store_n((uint16_t *)dst,
				 __atomic_load_n((const uint16_t *)src,
						 __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
	else
		memcpy(dst, src, len);
	bus_jmp = NULL;
	return 0;
}

static const struct vsim_map *dmap_find(const struct vsim_table *t,
					uint64_t iova)
{
	const struct vsim_map *m = vsim_tbl_floor(t, iova);
	int k;

	/* the highest entry with first <= iova; disjoint in practice, PA
	 * rounding may overlap neighbours within a page: look two back */
	for (k = 0; k < 2 && m; k++, m = vsim_tbl_prev(m))
		if (m->last >= iova)
			return m;
	return NULL;
}

static int dma_rw(struct vsim_dev *d, uint32_t asid, uint64_t iova, void *buf,
		  size_t len, int write)
{
	uint8_t *p = buf;

	if (asid >= d->o.nr_as || d->pt[asid])
		return -EFAULT; /* passthrough: deliberately no access */
	while (len) {
		const struct vsim_map *m = dmap_find(&d->dmap[asid], iova);
		uint64_t off, chunk;
		int r;

		if (!m ||
		    !(m->perm & (write ? VHOST_ACCESS_WO : VHOST_ACCESS_RO)))
			return -EFAULT;
		off = iova - m->first;
		chunk = m->last - iova; /* bytes left - 1 */
		if (chunk >= len - 1)
			chunk = len;
		else
			chunk++;
		if (m->pin) {
			uint8_t *mem =
				(uint8_t *)m->pin->base + m->pin_off + off;

			if (m->pin_off + off + chunk > m->pin->len ||
			    (write && !m->pin->writable))
				return -EFAULT;
			r = write ? pin_copy(mem, p, chunk) :
				    pin_copy(p, mem, chunk);
			if (r)
				return r;
		} else {
			ssize_t n;

			if (d->mem_fd < 0)
				return -EFAULT;
			if (write)
				n = pwrite(d->mem_fd, p, chunk,
					   (off_t)(m->uaddr + off));
			else
				n = pread(d->mem_fd, p, chunk,
					  (off_t)(m->uaddr + off));
			if (n != (ssize_t)chunk)
				return -EFAULT;
		}
		p += chunk;
		len -= chunk;
		iova += chunk;
	}
	return 0;
}

int vsim_dma_read(struct vsim_dev *d, uint32_t asid, uint64_t iova, void *buf,
		  size_t len)
{
	int r = dma_rw(d, asid, iova, buf, len, 0);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return r;
}

int vsim_dma_write(struct vsim_dev *d, uint32_t asid, uint64_t iova,
		   const void *buf, size_t len)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return dma_rw(d, asid, iova, (void *)buf, len, 1);
}
