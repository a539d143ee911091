// SPDX-License-Identifier: BSD-3-Clause
/*
 * entries: how many entries of the kernel's IOTLB (vhost_iotlb, and the
 * parent's copy of it) each mirror entry makes, and the per-ASID check
 * against the caps read at open (lifecycle/caps.c, h->info), so that a map
 * known not to fit is refused with -ENOSPC before anything is sent.
 *
 * The kernel's rules (drivers/vhost/vdpa.c, vhost/iotlb.c, Linux 6.12):
 *  - VA mode: one entry per VMA the range covers that is MAP_SHARED and
 *    file-backed (the others are skipped); an entry spanning [0, 2^64-1]
 *    is split in two.  The VMAs are the device owner's: after a KEEPER
 *    handoff the keeper's (the predecessor's address space), at the
 *    addresses the messages carry, whatever the successor's own split;
 *  - PA mode: one entry per physically contiguous run of pinned pages.
 *    With PFNs in /proc/self/pagemap (CAP_SYS_ADMIN) the runs are counted
 *    after a pre-fault: an estimate (FOLL_LONGTERM pinning may migrate
 *    pages); hugetlb memory makes at most one per huge page; otherwise
 *    the count is unknown (e->nents 0), and each such entry is counted as
 *    the one entry it makes at least;
 *  - the simulator counts one entry per UPDATE and VMA in both modes
 *    (docs/sim-profiles.md): exact there, unless VDPAMAP_PAGEMAP=0 asks
 *    for the unprivileged case (PA counts unknown).
 * A commit whose bound (entry_bound(): a page an entry at most) cannot
 * pass the cap counts nothing; the first one that may counts what its
 * ASID left uncounted (docs/iotlb-caps.md).
 * The environment variable VDPAMAP_PAGEMAP=0 makes PA-mode counting behave
 * as without PFNs (a test and debugging aid); see docs/iotlb-caps.md.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mapping/mapping.h"
#include "uapi/procmap.h"
#include "uapi/vhost_vdpa.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_PRESENT  (1ULL << 63)
#define PM_CHUNK    512 /* pagemap words read at once */

static bool pagemap_forced_off(void)
{
	const char *s = getenv("VDPAMAP_PAGEMAP");

	return s && !strcmp(s, "0");
}

bool vdm_pagemap_pfns(void)
{
	volatile char probe = 1;
	uint64_t w = 0, va = (uint64_t)(uintptr_t)&probe;
	long ps = sysconf(_SC_PAGESIZE);
	int fd;
	bool ok;

	if (pagemap_forced_off() || ps <= 0)
		return false;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, &w, sizeof(w), (off_t)(va / ps * sizeof(w))) ==
		     (ssize_t)sizeof(w) &&
	     (w & PM_PRESENT) && (w & PM_PFN_MASK);
	close(fd);
	(void)probe;
	return ok;
}

bool vdm_entries_pa_counted(const struct vdpamap *h)
{
	if (h->info.is_sim)
		return !pagemap_forced_off();
	/* asked once a handle (an open, a read and a close): the answer
	 * changes only if the process drops CAP_SYS_ADMIN, after which
	 * the reads show no PFN and the count is unknown anyway */
	if (!h->map->pa_counted)
		h->map->pa_counted = vdm_pagemap_pfns() ? 2 : 1;
	return h->map->pa_counted == 2;
}

/* What counting needs once per commit rather than once per entry: what
 * it read is reused by the next entry when that falls in it; the files
 * it reads stay open with the handle (h->map->maps_fd, dev_maps_fd,
 * pm_fd: an open and a close cost more than the read under emulation).
 * Under emulation a syscall costs microseconds to tens of them; a commit
 * of 4096 UPDATEs must not make 4096 more. */
struct count_ctx {
	struct vdpamap *h;
	/* VA mode: the MAP_SHARED file-backed VMAs of the address space
	 * the device reads through (this process's, or a KEEPER
	 * successor's keeper's, at the device addresses), asked one at a
	 * time (PROCMAP_QUERY, Linux 6.11, on vdm_dev_maps_fd()) or, on
	 * older kernels, all of its maps read once and kept sorted by
	 * address */
	uint64_t vma_lo, vma_hi; /* the last VMA found: [lo, hi) */
	uint64_t (*r)[2];	 /* the maps text fallback: [lo, hi) */
	size_t n;
	int err; /* < 0: could not be read */
	bool loaded;
	/* PA mode: the last words of /proc/self/pagemap read */
	uint64_t pm_va, pm_n; /* pm_buf holds pages [pm_va, + pm_n) */
	uint64_t pm_buf[PM_CHUNK];
};

static void count_ctx_init(struct count_ctx *c, struct vdpamap *h)
{
	memset(c, 0, offsetof(struct count_ctx, pm_buf));
	c->h = h;
}

static void count_ctx_fini(struct count_ctx *c)
{
	free(c->r);
}

static int vmas_load(struct count_ctx *vl)
{
	char line[512];
	size_t cap = 0;
	FILE *f;

	vl->loaded = true;
	f = vdm_dev_maps_stream(vl->h);
	if (!f)
		return vl->err = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off, ino;
		char perms[8];
		unsigned int ma, mi;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi,
			   perms, &off, &ma, &mi, &ino) != 7 ||
		    perms[3] != 's' || !ino)
			continue;
		if (vl->n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			void *p = realloc(vl->r, nc * sizeof(*vl->r));

			if (!p) {
				vl->err = -ENOMEM;
				break;
			}
			vl->r = p;
			cap = nc;
		}
		vl->r[vl->n][0] = lo;
		vl->r[vl->n][1] = hi;
		vl->n++;
	}
	fclose(f);
	return vl->err;
}

/* The maps text fallback (the list is in address order, as the kernel
 * prints it). */
static int count_vmas_read(struct count_ctx *vl, uint64_t hva, uint64_t end,
			   uint64_t *ret)
{
	uint64_t n = 0;
	size_t lo = 0, hi;

	if (!vl->loaded && vmas_load(vl) < 0)
		return vl->err;
	if (vl->err < 0)
		return vl->err;
	hi = vl->n;
	while (lo < hi) { /* the first VMA ending after hva */
		size_t mid = lo + (hi - lo) / 2;

		if (vl->r[mid][1] <= hva)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < vl->n && vl->r[lo][0] < end; lo++)
		n++;
	*ret = n;
	return 0;
}

/* PROCMAP_QUERY: the shared file-backed VMAs [hva, end) meets, one
 * ioctl each (none for an entry inside the VMA the last one found).
 * -ENOTTY: the kernel has no PROCMAP_QUERY. */
static int count_vmas_query(struct count_ctx *c, uint64_t hva, uint64_t end,
			    uint64_t *ret)
{
	uint64_t n = 0, a = hva;
	int fd;

	if (c->vma_hi > c->vma_lo && hva >= c->vma_lo && end <= c->vma_hi) {
		*ret = 1;
		return 0;
	}
	fd = vdm_dev_maps_fd(c->h);
	if (fd < 0)
		return c->h->map->maps_fd == -2 ? -ENOTTY : -ENOENT;
	while (a < end) {
		uint64_t vs, ve;
		int r = vdm_procmap_next(fd, a,
					 PROCMAP_QUERY_FILE_BACKED_VMA |
						 PROCMAP_QUERY_VMA_SHARED,
					 &vs, &ve);

		if (r < 0)
			return r;
		if (!r || vs >= end) /* no such VMA from a on */
			break;
		n++;
		c->vma_lo = vs;
		c->vma_hi = ve;
		a = ve;
	}
	*ret = n;
	return 0;
}

/* VA mode: how many MAP_SHARED file-backed VMAs [hva, hva + size) meets
 * (those vhost_vdpa_va_map() makes an entry of). */
static int count_vmas(struct count_ctx *c, uint64_t hva, uint64_t size,
		      uint64_t *ret)
{
	uint64_t end = hva + size;
	int r;

	if (c->h->map->maps_fd != -2) {
		r = count_vmas_query(c, hva, end, ret);
		if (r != -ENOTTY)
			return r;
		vdm_maps_fd_unsupported(c->h);
	}
	return count_vmas_read(c, hva, end, ret);
}

static uint64_t hugetlb_page(const struct vdm_region *rg)
{
	struct statfs sf;

	if (!rg || rg->r.fd < 0 || fstatfs(rg->r.fd, &sf) < 0 ||
	    (unsigned long)sf.f_type != HUGETLBFS_MAGIC || sf.f_bsize <= 0)
		return 0;
	return (uint64_t)sf.f_bsize;
}

/* The pagemap word of page pg, from the words last read when it is among
 * them, else from PM_CHUNK words read from pg on (the next entries of a
 * commit usually follow).  -1 if pagemap cannot be read. */
static int pm_word(struct count_ctx *c, uint64_t pg, uint64_t *w)
{
	ssize_t got;

	if (c->pm_n && pg >= c->pm_va && pg - c->pm_va < c->pm_n) {
		*w = c->pm_buf[pg - c->pm_va];
		return 0;
	}
	if (c->h->map->pm_fd == -1) {
		c->h->map->pm_fd =
			open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (c->h->map->pm_fd < 0)
			return -1;
	}
	got = pread(c->h->map->pm_fd, c->pm_buf, sizeof(c->pm_buf),
		    (off_t)(pg * 8));
	if (got < 8) {
		c->pm_n = 0;
		return -1;
	}
	c->pm_va = pg;
	c->pm_n = (uint64_t)got / 8;
	*w = c->pm_buf[0];
	return 0;
}

/* Runs of consecutive PFNs over the pages of [va, end); 0 if a page shows
 * none (not present, or no PFNs here). */
static uint64_t runs_of(struct count_ctx *c, uint64_t ps, uint64_t va,
			uint64_t end)
{
	uint64_t runs = 0, last = 0, pg;

	for (pg = va / ps; pg <= (end - 1) / ps; pg++) {
		uint64_t w, pfn;

		if (pm_word(c, pg, &w) < 0)
			return 0;
		pfn = w & PM_PFN_MASK;
		if (!(w & PM_PRESENT) || !pfn)
			return 0;
		if (!runs || pfn != last + 1)
			runs++;
		last = pfn;
	}
	return runs;
}

/* PA mode with PFNs: count the runs of consecutive PFNs the pin will find,
 * faulting the range in first (as the pin will) only when some page of it
 * is not present yet: guest memory is usually pre-faulted at open. */
static uint64_t count_runs(struct vdpamap *h, const struct vdm_entry *e,
			   struct count_ctx *c)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t va = e->hva, end = e->hva + vdm_entry_size(e), runs;

	runs = runs_of(c, ps, va, end);
	if (runs || c->h->map->pm_fd < 0)
		return runs;
	if (madvise((void *)(uintptr_t)(va & ~(ps - 1)), end - (va & ~(ps - 1)),
		    (e->perm & VDPAMAP_PERM_WO) ? MADV_POPULATE_WRITE :
						  MADV_POPULATE_READ) < 0)
		vdm_dbg(h, "pre-fault for counting: %d", -errno);
	c->pm_n = 0; /* what was read is stale now */
	return runs_of(c, ps, va, end);
}

/* PA mode: the entries e makes, or 0 (unknown). */
static uint64_t count_pa(struct vdpamap *h, const struct vdm_entry *e,
			 struct count_ctx *c)
{
	uint64_t hp, first, last;

	if (vdm_entries_pa_counted(h))
		return count_runs(h, e, c);
	hp = hugetlb_page(e->region);
	if (!hp)
		return 0;
	first = e->hva & ~(hp - 1);
	last = (e->hva + vdm_entry_size(e) - 1) & ~(hp - 1);
	return (last - first) / hp + 1;
}

/* The system page: what every kernel entry covers whole ones of. */
static uint64_t sys_page(void)
{
	static uint64_t ps;
	uint64_t p = __atomic_load_n(&ps, __ATOMIC_RELAXED);

	if (!p) {
		long v = sysconf(_SC_PAGESIZE);

		p = v > 0 ? (uint64_t)v : 4096;
		__atomic_store_n(&ps, p, __ATOMIC_RELAXED);
	}
	return p;
}

/* The most kernel entries e can make, from its size alone: each (a VMA,
 * a run of PFNs, a huge page) covers whole pages, so at most one per
 * page its hva range touches, and one more when the range is all of
 * [0, 2^64-1] (split in two).  No syscall. */
static uint64_t entry_bound(const struct vdm_entry *e)
{
	uint64_t ps = sys_page(), span = e->last - e->iova;

	return (e->hva + span) / ps - e->hva / ps + 1 +
	       (e->iova == 0 && e->last == UINT64_MAX);
}

/* What e adds to its ASID's bound: its count when counted, else (not
 * counted, or unknown) its bound. */
static uint64_t entry_hi(const struct vdm_entry *e)
{
	return e->nents ? e->nents : entry_bound(e);
}

/* The kernel entries e will make (e->nents; 0: unknown). */
static void entry_count(struct vdpamap *h, struct vdm_entry *e,
			struct count_ctx *c)
{
	uint64_t n = 0;

	if (h->info.mem_mode == VDPAMAP_MEMMODE_VA ||
	    (h->info.is_sim && !pagemap_forced_off())) {
		/* two reasons for no count, each said:
		 * NOLINTBEGIN(bugprone-branch-clone) */
		if (count_vmas(c, vdm_entry_uaddr(e), vdm_entry_size(e), &n) <
		    0)
			n = 0;
		else if (!n)
			n = 0; /* nothing mappable: the device says */
		/* NOLINTEND(bugprone-branch-clone) */
		if (e->iova == 0 && e->last == UINT64_MAX)
			n++;
	} else {
		n = count_pa(h, e, c);
	}
	e->nents = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

void vdm_entries_account(struct vdpamap *h, const struct vdm_entry *e, bool add)
{
	struct vdm_as *as = &h->map->as[e->asid];
	uint64_t n = e->nents ? e->nents : 1;

	if (add) {
		as->nents += n;
		as->nunknown += !e->nents;
		as->nbound += entry_hi(e);
		as->nuncounted += e->uncounted;
	} else {
		as->nents -= n;
		as->nunknown -= !e->nents;
		as->nbound -= entry_hi(e);
		as->nuncounted -= e->uncounted;
	}
}

/* The smaller of the caps that apply (UINT64_MAX: none). */
uint64_t vdm_entries_cap(const struct vdpamap *h)
{
	uint64_t cap = UINT64_MAX;

	if (!(h->info.caps_flags & VDPAMAP_CAPS_ENFORCED))
		return cap;
	cap = h->info.max_iotlb_entries;
	if ((h->info.caps_flags & VDPAMAP_CAPS_PARENT_KNOWN) &&
	    h->info.parent_max_iotlb_entries < cap)
		cap = h->info.parent_max_iotlb_entries;
	return cap;
}

void vdm_entries_remedy(const struct vdpamap *h, uint32_t asid, uint64_t n,
			bool estimate, bool unknown)
{
	const char *par = h->info.parent[0] ? h->info.parent : "the parent";

	vdm_err(h,
		"asid %u: %s%llu IOTLB entries %s the cap of %llu "
		"(vhost_vdpa max_iotlb_entries %u, %s %s): raise "
		"max_iotlb_entries of vhost_vdpa and of %s at module load "
		"(modprobe option, or vhost_vdpa.max_iotlb_entries= on the "
		"kernel command line: read-only at run time)%s",
		asid,
		unknown	 ? "at least " :
		estimate ? "an estimated " :
			   "",
		(unsigned long long)n, unknown ? "would reach" : "exceed",
		(unsigned long long)vdm_entries_cap(h),
		h->info.max_iotlb_entries, par,
		(h->info.caps_flags & VDPAMAP_CAPS_PARENT_KNOWN) ? "known" :
								   "unknown",
		par,
		h->info.mem_mode == VDPAMAP_MEMMODE_PA ?
			", or back guest memory with huge pages" :
			"");
}

/* Is any count of asid an estimate (PA mode from pagemap)? */
static bool estimated(const struct vdpamap *h)
{
	return h->info.mem_mode == VDPAMAP_MEMMODE_PA && !h->info.is_sim;
}

/* ASIDs bound_fits() looks at without an allocation; a device with more
 * counts every commit */
#define BOUND_ASIDS 64

/* Can no ASID pass cap, whatever the UPDATEs of msgs count?  Each ASID's
 * bound plus its UPDATEs' (its INVALIDATEs left out: the peak inside the
 * commit is at most that).  No syscall: a commit far below the cap, the
 * common case, counts nothing; counting costs a syscall or more per
 * commit (PROCMAP_QUERY, pagemap), several times a small commit's own
 * writes under emulation. */
static bool bound_fits(const struct vdpamap *h, const struct vdm_msg *msgs,
		       size_t n, uint64_t cap)
{
	uint64_t hi[BOUND_ASIDS];
	uint32_t a, nr = h->info.nr_as;
	size_t i;

	if (nr > BOUND_ASIDS)
		return false;
	for (a = 0; a < nr; a++)
		hi[a] = h->map->as[a].nbound;
	for (i = 0; i < n; i++) {
		const struct vdm_entry *e = msgs[i].e;
		uint64_t b = entry_bound(e);

		if (msgs[i].type != VHOST_IOTLB_UPDATE)
			continue;
		if (b > cap || hi[e->asid] > cap - b)
			return false;
		hi[e->asid] += b;
	}
	return true;
}

/* Count what asid's mirror holds uncounted: its commits could not reach
 * the cap, this one may.  Once per entry; the count is of the memory as
 * it is now, which is what the kernel pinned or looked up unless the
 * caller remapped it since. */
static void count_uncounted(struct vdpamap *h, uint32_t asid,
			    struct count_ctx *c)
{
	struct vdm_as *as = &h->map->as[asid];
	struct vdm_entry *e;

	/* the mirror's own list (struct vdm_as), read in place: calling
	 * mirror.c, which accounts through this file, would make a cycle */
	for (e = as->head; e && as->nuncounted; e = e->next) {
		if (!e->uncounted)
			continue;
		vdm_entries_account(h, e, false);
		e->uncounted = false;
		entry_count(h, e, c);
		vdm_entries_account(h, e, true);
	}
}

int vdm_entries_check(struct vdpamap *h, const struct vdm_msg *msgs, size_t n)
{
	uint64_t cap = vdm_entries_cap(h), *cnt, *unk;
	struct count_ctx *ctx;
	uint32_t asid, nr = h->info.nr_as;
	int r = 0;
	size_t i;

	if (cap == UINT64_MAX)
		return 0;
	if (bound_fits(h, msgs, n, cap)) {
		for (i = 0; i < n; i++)
			if (msgs[i].type == VHOST_IOTLB_UPDATE) {
				msgs[i].e->nents = 0;
				msgs[i].e->uncounted = true;
			}
		return 0;
	}
	cnt = calloc(2 * (size_t)nr, sizeof(*cnt));
	ctx = malloc(sizeof(*ctx));
	if (!cnt || !ctx) {
		free(cnt);
		free(ctx);
		return -ENOMEM;
	}
	count_ctx_init(ctx, h);
	unk = cnt + nr;
	for (i = 0; i < n; i++)
		if (msgs[i].type == VHOST_IOTLB_UPDATE &&
		    h->map->as[msgs[i].e->asid].nuncounted)
			count_uncounted(h, msgs[i].e->asid, ctx);
	for (asid = 0; asid < nr; asid++) {
		cnt[asid] = h->map->as[asid].nents;
		unk[asid] = h->map->as[asid].nunknown;
	}
	for (i = 0; i < n; i++) {
		struct vdm_entry *e = msgs[i].e;
		uint64_t k;

		if (msgs[i].type == VHOST_IOTLB_UPDATE) {
			e->uncounted = false;
			entry_count(h, e, ctx);
		}
		k = e->nents ? e->nents : 1;
		if (msgs[i].type == VHOST_IOTLB_UPDATE) {
			cnt[e->asid] += k;
			unk[e->asid] += !e->nents;
		} else {
			cnt[e->asid] -= k;
			unk[e->asid] -= !e->nents;
		}
		/* the kernel adds before the next message removes: the
		 * peak inside the transaction is what must fit */
		if (cnt[e->asid] > cap) {
			vdm_entries_remedy(h, e->asid, cnt[e->asid],
					   estimated(h), false);
			r = -ENOSPC;
			break;
		}
	}
	for (asid = 0; !r && asid < nr; asid++)
		if (cnt[asid] != h->map->as[asid].nents)
			vdm_info(h,
				 "asid %u: %s%llu IOTLB entries after this "
				 "commit (cap %llu)",
				 asid, unk[asid] ? "at least " : "",
				 (unsigned long long)cnt[asid],
				 (unsigned long long)cap);
	free(cnt);
	count_ctx_fini(ctx);
	free(ctx);
	return r;
}

bool vdm_entries_efault_is_cap(struct vdpamap *h, const struct vdm_msg *m)
{
	struct vdm_as *as;
	uint64_t cap = vdm_entries_cap(h), n;
	bool memlock_ruled_out;

	if (cap == UINT64_MAX || m->type != VHOST_IOTLB_UPDATE)
		return false;
	as = &h->map->as[m->e->asid];
	/* even every bound fits: not the cap, whatever was left unknown */
	if (entry_bound(m->e) <= cap && as->nbound <= cap - entry_bound(m->e))
		return false;
	n = as->nents + (m->e->nents ? m->e->nents : 1);
	memlock_ruled_out = h->info.mem_mode == VDPAMAP_MEMMODE_VA ||
			    !(h->flags & VDPAMAP_OPEN_NO_MEMLOCK_CHECK);
	if (as->nunknown || !m->e->nents) {
		if (!memlock_ruled_out)
			return false;
		vdm_entries_remedy(h, m->e->asid, n, false, true);
		return true;
	}
	if (n <= cap)
		return false;
	vdm_entries_remedy(h, m->e->asid, n, estimated(h), false);
	return true;
}
