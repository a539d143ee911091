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
 *    is split in two;
 *  - PA mode: one entry per physically contiguous run of pinned pages.
 *    With PFNs in /proc/self/pagemap (CAP_SYS_ADMIN) the runs are counted
 *    after a pre-fault: an estimate (FOLL_LONGTERM pinning may migrate
 *    pages); hugetlb memory makes at most one per huge page; otherwise
 *    the count is unknown (e->nents 0), and each such entry is counted as
 *    the one entry it makes at least;
 *  - the simulator counts one entry per UPDATE and VMA in both modes
 *    (docs/sim-profiles.md): exact there, unless VDPAMAP_PAGEMAP=0 asks
 *    for the unprivileged case (PA counts unknown).
 * The environment variable VDPAMAP_PAGEMAP=0 makes PA-mode counting behave
 * as without PFNs (a test and debugging aid); see docs/iotlb-caps.md.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mapping/mapping.h"
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
	return vdm_pagemap_pfns();
}

/* VA mode: the MAP_SHARED file-backed VMAs of /proc/self/maps (those
 * vhost_vdpa_va_map() makes an entry of), read once per commit and kept
 * sorted by address, so counting k entries costs one read plus
 * O(k log v), not k reads. */
struct vma_list {
	uint64_t (*r)[2]; /* [lo, hi) */
	size_t n;
	int err; /* < 0: could not be read */
	bool loaded;
};

static int vmas_load(struct vma_list *vl)
{
	char line[512];
	size_t cap = 0;
	FILE *f;

	vl->loaded = true;
	f = fopen("/proc/self/maps", "re");
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

/* The shared file VMAs [hva, hva + size) covers (the list is in address
 * order, as the kernel prints it). */
static int count_vmas(struct vma_list *vl, uint64_t hva, uint64_t size,
		      uint64_t *ret)
{
	uint64_t end = hva + size, n = 0;
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

static uint64_t hugetlb_page(const struct vdm_region *rg)
{
	struct statfs sf;

	if (!rg || rg->r.fd < 0 || fstatfs(rg->r.fd, &sf) < 0 ||
	    (unsigned long)sf.f_type != HUGETLBFS_MAGIC || sf.f_bsize <= 0)
		return 0;
	return (uint64_t)sf.f_bsize;
}

/* PA mode with PFNs: fault the range in as the pin will, then count runs
 * of consecutive PFNs.  0 (unknown) if a page shows no PFN. */
static uint64_t count_runs(struct vdpamap *h, const struct vdm_entry *e)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), buf[PM_CHUNK];
	uint64_t va = e->hva, end = e->hva + vdm_entry_size(e);
	uint64_t runs = 0, last = 0, i;
	int fd;

	if (madvise((void *)(uintptr_t)va, end - va,
		    (e->perm & VDPAMAP_PERM_WO) ? MADV_POPULATE_WRITE :
						  MADV_POPULATE_READ) < 0)
		vdm_dbg(h, "pre-fault for counting: %d", -errno);
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (va &= ~(ps - 1); va < end;) {
		uint64_t want = (end - va + ps - 1) / ps;
		ssize_t got;

		if (want > PM_CHUNK)
			want = PM_CHUNK;
		got = pread(fd, buf, want * 8, (off_t)(va / ps * 8));
		if (got <= 0)
			goto unknown;
		for (i = 0; i < (uint64_t)got / 8; i++, va += ps) {
			uint64_t pfn = buf[i] & PM_PFN_MASK;

			if (!(buf[i] & PM_PRESENT) || !pfn)
				goto unknown;
			if (!runs || pfn != last + 1)
				runs++;
			last = pfn;
		}
	}
	close(fd);
	return runs;
unknown:
	close(fd);
	return 0;
}

/* PA mode: the entries e makes, or 0 (unknown). */
static uint64_t count_pa(struct vdpamap *h, const struct vdm_entry *e)
{
	uint64_t hp, first, last;

	if (vdm_entries_pa_counted(h))
		return count_runs(h, e);
	hp = hugetlb_page(e->region);
	if (!hp)
		return 0;
	first = e->hva & ~(hp - 1);
	last = (e->hva + vdm_entry_size(e) - 1) & ~(hp - 1);
	return (last - first) / hp + 1;
}

/* The kernel entries e will make (e->nents; 0: unknown). */
static void entry_count(struct vdpamap *h, struct vdm_entry *e,
			struct vma_list *vl)
{
	uint64_t n = 0;

	if (h->info.mem_mode == VDPAMAP_MEMMODE_VA ||
	    (h->info.is_sim && !pagemap_forced_off())) {
		/* two reasons for no count, each said:
		 * NOLINTBEGIN(bugprone-branch-clone) */
		if (count_vmas(vl, e->hva, vdm_entry_size(e), &n) < 0)
			n = 0;
		else if (!n)
			n = 0; /* nothing mappable: the device says */
		/* NOLINTEND(bugprone-branch-clone) */
		if (e->inode.first == 0 && e->inode.last == UINT64_MAX)
			n++;
	} else {
		n = count_pa(h, e);
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
	} else {
		as->nents -= n;
		as->nunknown -= !e->nents;
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

int vdm_entries_check(struct vdpamap *h, const struct vdm_msg *msgs, size_t n)
{
	uint64_t cap = vdm_entries_cap(h), *cnt, *unk;
	struct vma_list vl = { 0 };
	uint32_t asid, nr = h->info.nr_as;
	int r = 0;
	size_t i;

	if (cap == UINT64_MAX)
		return 0;
	cnt = calloc(2 * (size_t)nr, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	unk = cnt + nr;
	for (asid = 0; asid < nr; asid++) {
		cnt[asid] = h->map->as[asid].nents;
		unk[asid] = h->map->as[asid].nunknown;
	}
	for (i = 0; i < n; i++) {
		struct vdm_entry *e = msgs[i].e;
		uint64_t k;

		if (msgs[i].type == VHOST_IOTLB_UPDATE)
			entry_count(h, e, &vl);
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
	free(vl.r);
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
