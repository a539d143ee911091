// SPDX-License-Identifier: BSD-3-Clause
/*
 * map: registered regions, the per-ASID mirrors' state (mirror.c indexes
 * them), the lost list, lookups, and the memlock budget.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>

#include "mapping/mapping.h"
#include "core/tsan.h"
#include "uapi/vhost_vdpa.h"

void vdm_mirror_free(struct vdpamap *h)
{
	uint32_t a;

	if (!h->map->as)
		return;
	for (a = 0; a < h->info.nr_as; a++)
		vdm_mirror_clear(h, a);
	while (h->map->lost) {
		struct vdm_entry *e = h->map->lost;

		h->map->lost = e->lost_next;
		free(e);
	}
}

static void mapping_free(struct vdpamap *h)
{
	struct vdm_region *rg;

	if (!h->map)
		return;
	vdm_mirror_free(h);
	vdm_snap_free_all(h);
	vdm_mem_fds_close(h);
	while ((rg = h->map->regions)) {
		h->map->regions = rg->next;
		free(rg);
	}
	free(h->map->as);
	free(h->map);
	h->map = NULL;
}

static const struct vdm_hook_ops mapping_hooks = {
	.leave = vdm_snap_publish,
	.free = mapping_free,
};

int vdm_mapping_init(struct vdpamap *h)
{
	h->map = calloc(1, sizeof(*h->map));
	if (!h->map)
		return -ENOMEM;
	h->map->next_region_id = 1;
	h->map->maps_fd = -1;
	h->map->dev_maps_fd = -1;
	h->map->pm_fd = -1;
	vdm_hook_set(h, VDM_HOOK_MAPPING, &mapping_hooks);
	return 0;
}

int vdm_mapping_setup(struct vdpamap *h)
{
	int r = vdm_mapping_setup_quiet(h);

	if (r == 0)
		vdm_mapping_reclaimer_start();
	return r;
}

int vdm_mapping_setup_quiet(struct vdpamap *h)
{
	uint32_t i;

	h->map->as = calloc(h->info.nr_as, sizeof(*h->map->as));
	h->map->view = calloc(h->info.nr_as, sizeof(*h->map->view));
	if (!h->map->as || !h->map->view)
		return -ENOMEM;
	for (i = 0; i < h->info.nr_as; i++) {
		vdm_mirror_init(h, i);
		vdm_view_init(&h->map->view[i]);
	}
	return 0;
}

void vdm_region_hook_set(struct vdpamap *h,
			 int (*fn)(struct vdpamap *h, struct vdm_region *rg,
				   bool add))
{
	h->map->region_hook = fn;
}

int vdm_region_restore(struct vdpamap *h, uint32_t id,
		       const struct vdpamap_region *r, uint64_t dev_base)
{
	struct vdm_region *rg = calloc(1, sizeof(*rg));

	if (!rg)
		return -ENOMEM;
	rg->id = id;
	rg->r = *r;
	rg->dev_base = dev_base;
	rg->next = h->map->regions;
	h->map->regions = rg;
	return 0;
}

void vdm_region_next_id_set(struct vdpamap *h, uint32_t next)
{
	h->map->next_region_id = next;
}

struct vdm_region *vdm_region_by_id(struct vdpamap *h, uint32_t id)
{
	struct vdm_region *rg;

	for (rg = h->map->regions; rg && rg->id != id; rg = rg->next)
		;
	return rg;
}

void vdm_region_id_set(struct vdpamap *h, struct vdm_region *rg, uint32_t id)
{
	(void)h;
	rg->id = id;
}

void vdm_region_dev_base_set(struct vdpamap *h, struct vdm_region *rg,
			     uint64_t dev_base)
{
	(void)h;
	rg->dev_base = dev_base;
}

void vdm_entry_lose(struct vdpamap *h, struct vdm_entry *e)
{
	vdm_mirror_remove(h, e);
	e->lost = true;
	e->lost_next = h->map->lost;
	h->map->lost = e;
}

int vdm_restore_lost(struct vdpamap *h)
{
	struct vdm_entry *e, *keep = NULL;
	int first_err = 0;

	while ((e = h->map->lost)) {
		struct vdm_msg m = { VHOST_IOTLB_UPDATE, e };
		int err = 0;

		h->map->lost = e->lost_next;
		e->lost = false;
		e->lost_next = NULL;
		vdm_iotlb_run(h, &m, 1, NULL, &err);
		if (err) {
			if (!first_err)
				first_err = err;
			e->lost = true;
			e->lost_next = keep;
			keep = e;
			continue;
		}
		vdm_mirror_insert(h, e);
	}
	h->map->lost = keep;
	return first_err;
}

/* ---- regions */
struct vdm_region *vdm_region_find(struct vdpamap *h, uint64_t hva,
				   uint64_t size)
{
	struct vdm_region *rg;
	uint64_t last = hva + size - 1;

	for (rg = h->map->regions; rg; rg = rg->next) {
		uint64_t b = (uintptr_t)rg->r.hva;

		if (hva >= b && last <= b + rg->r.len - 1)
			return rg;
	}
	return NULL;
}

/* The memory itself: mapped in this process, and on a VA-mode device
 * shared (the kernel would accept the rest and map nothing). */
static int region_mem_check(struct vdpamap *h, const struct vdpamap_region *r)
{
	uint64_t b = (uintptr_t)r->hva, first, last;
	int e;

	if (vdm_mem_mapped(b, r->len) < 0) {
		vdm_err(h,
			"region [%p, +0x%llx) is not mapped in this process "
			"(all of it or a part)",
			r->hva, (unsigned long long)r->len);
		return -EFAULT;
	}
	if (h->info.mem_mode != VDPAMAP_MEMMODE_VA)
		return 0;
	e = vdm_mem_private(b, r->len, &first, &last);
	if (e < 0) { /* no /proc: the kernel's rule cannot be checked */
		vdm_warn(h, "region [%p, +0x%llx): /proc/self/maps: %d", r->hva,
			 (unsigned long long)r->len, e);
		return 0;
	}
	if (e) {
		vdm_err(h,
			"region [%p, +0x%llx): [0x%llx, 0x%llx] is private "
			"memory (MAP_PRIVATE or anonymous): a VA-mode device "
			"maps only MAP_SHARED memory (a memfd) and silently "
			"nothing else",
			r->hva, (unsigned long long)r->len,
			(unsigned long long)first, (unsigned long long)last);
		return -EINVAL;
	}
	return 0;
}

int vdm_region_fd_check(struct vdpamap *h, const struct vdpamap_region *r,
			const char *what)
{
	uint64_t first = 0, last = 0;
	int e;

	if (r->fd < 0)
		return 0;
	if (fcntl(r->fd, F_GETFD) < 0) {
		vdm_err(h, "%s: region fd %d is not open", what, r->fd);
		return -EBADF;
	}
	e = vdm_mem_backed((uintptr_t)r->hva, r->len, r->fd, r->fd_offset,
			   &first, &last);
	if (e < 0) { /* no /proc: the backing cannot be checked */
		vdm_warn(h, "%s: region [%p, +0x%llx): /proc/self/maps: %d",
			 what, r->hva, (unsigned long long)r->len, e);
		return 0;
	}
	if (e == 1)
		vdm_err(h,
			"%s: region fd %d is not the file mapped at [0x%llx, "
			"0x%llx] of [%p, +0x%llx) (closed and its number "
			"reused, or another file)",
			what, r->fd, (unsigned long long)first,
			(unsigned long long)last, r->hva,
			(unsigned long long)r->len);
	else if (e == 2)
		vdm_err(h,
			"%s: region fd %d is mapped at [0x%llx, 0x%llx] of "
			"[%p, +0x%llx), but not at fd_offset 0x%llx",
			what, r->fd, (unsigned long long)first,
			(unsigned long long)last, r->hva,
			(unsigned long long)r->len,
			(unsigned long long)r->fd_offset);
	return e == 1 ? -EBADF : e == 2 ? -EINVAL : 0;
}

int vdm_region_add(struct vdpamap *h, const struct vdpamap_region *r,
		   uint32_t *ret_id)
{
	uint64_t b = (uintptr_t)r->hva, last = b + r->len - 1;
	uint64_t mask = h->page_size - 1;
	struct vdm_region *rg;
	int e;

	if (!r->hva || !r->len) {
		vdm_err(h, "region: hva %p len 0x%llx: empty", r->hva,
			(unsigned long long)r->len);
		return -EINVAL;
	}
	if (last < b) {
		vdm_err(h, "region: hva %p + len 0x%llx overflows", r->hva,
			(unsigned long long)r->len);
		return -EINVAL;
	}
	if (!(h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) &&
	    ((b | r->len | r->fd_offset) & mask)) {
		vdm_err(h,
			"region: hva %p len 0x%llx fd_offset 0x%llx not "
			"aligned to page size 0x%llx",
			r->hva, (unsigned long long)r->len,
			(unsigned long long)r->fd_offset,
			(unsigned long long)h->page_size);
		return -EINVAL;
	}
	if (r->fd < -1 || (r->fd >= 0 && fcntl(r->fd, F_GETFD) < 0)) {
		vdm_err(h, "region: fd %d is not open", r->fd);
		return -EBADF;
	}
	for (rg = h->map->regions; rg; rg = rg->next) {
		uint64_t ob = (uintptr_t)rg->r.hva, ol = ob + rg->r.len - 1;

		if (b <= ol && ob <= last) {
			vdm_err(h,
				"region [%p, +0x%llx) overlaps region %u "
				"[%p, +0x%llx)",
				r->hva, (unsigned long long)r->len, rg->id,
				rg->r.hva, (unsigned long long)rg->r.len);
			return -EEXIST;
		}
	}
	e = region_mem_check(h, r);
	if (e < 0)
		return e;
	e = vdm_region_fd_check(h, r, "region");
	if (e < 0)
		return e;
	rg = calloc(1, sizeof(*rg));
	if (!rg)
		return -ENOMEM;
	rg->id = h->map->next_region_id;
	rg->r = *r;
	if (h->map->region_hook) {
		e = h->map->region_hook(h, rg, true);
		if (e < 0) {
			free(rg);
			return e;
		}
	}
	h->map->next_region_id++;
	rg->next = h->map->regions;
	h->map->regions = rg;
	if (ret_id)
		*ret_id = rg->id;
	return 0;
}

VDPAMAP_API int vdpamap_region_add(struct vdpamap *h,
				   const struct vdpamap_region *r,
				   uint32_t *ret_id)
{
	int ret;

	if (!r)
		return -EINVAL;
	ret = vdm_enter_idle(h, false, "vdpamap_region_add");
	if (ret < 0)
		return ret;
	ret = vdm_region_add(h, r, ret_id);
	vdm_leave(h);
	return ret;
}

VDPAMAP_API int vdpamap_region_del(struct vdpamap *h, uint32_t id)
{
	struct vdm_region **pp, *rg;
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_region_del");
	if (r < 0)
		return r;
	for (pp = &h->map->regions; (rg = *pp); pp = &rg->next)
		if (rg->id == id)
			break;
	if (!rg) {
		vdm_err(h, "region %u: no such region", id);
		r = -ENOENT;
	} else if (rg->nr_maps) {
		vdm_err(h, "region %u: %u maps still point into it", id,
			rg->nr_maps);
		r = -EBUSY;
	} else {
		*pp = rg->next;
		if (h->map->region_hook)
			h->map->region_hook(h, rg, false);
		free(rg);
	}
	vdm_leave(h);
	return r;
}

/* ---- memlock budget (PA mode): the kernel charges every UPDATE's pages
 * to the owner's pinned_vm against RLIMIT_MEMLOCK, even for root. */
int vdm_memlock_check(struct vdpamap *h, uint64_t need)
{
	struct rlimit rl;
	uint64_t pinned = 0;
	int r;

	if (!need || h->info.mem_mode != VDPAMAP_MEMMODE_PA ||
	    (h->flags & VDPAMAP_OPEN_NO_MEMLOCK_CHECK))
		return 0;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	/* Far inside the limit by the handle's own count: asking the kernel
	 * for the process's pins (a read of /proc/self/status, which costs
	 * more than a small commit under emulation) cannot change the answer
	 * unless others pinned half the limit; then the kernel's own check
	 * still refuses the UPDATE (-ENOMEM) */
	if (h->stats.pinned_bytes <= rl.rlim_cur / 2 &&
	    need <= rl.rlim_cur / 2 - h->stats.pinned_bytes)
		return 0;
	r = vdm_tp_pinned(h->tp, &pinned);
	if (r < 0)
		pinned = h->stats.pinned_bytes;
	if (pinned > rl.rlim_cur || need > rl.rlim_cur - pinned) {
		vdm_err(h,
			"memlock: needs %llu bytes, %llu available "
			"(RLIMIT_MEMLOCK %llu, pinned %llu)",
			(unsigned long long)need,
			(unsigned long long)(pinned > rl.rlim_cur ?
						     0 :
						     rl.rlim_cur - pinned),
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)pinned);
		return -ENOMEM;
	}
	return 0;
}

/* ---- lookups */
static int check_asid(struct vdpamap *h, uint32_t asid)
{
	/* every caller passed vdm_enter_query() (core/util.c) or
	 * lookup_enter(), which refuse a
	 * NULL h:
	 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (asid >= h->info.nr_as) {
		vdm_err(h, "asid %u out of range (%u address spaces)", asid,
			h->info.nr_as);
		return -EINVAL;
	}
	return 0;
}

/* Lookups run without the handle mutex, on the published snapshot, inside
 * an RCU read-side critical section: a writer holding the mutex (even for
 * a whole transaction) never delays them. */
static int lookup_enter(struct vdpamap *h, uint32_t asid)
{
	if (!h)
		return -EINVAL;
	if (h->fork_gen != vdm_fork_gen())
		return -ECHILD;
	return check_asid(h, asid);
}

VDPAMAP_API int vdpamap_translate(struct vdpamap *h, uint32_t asid,
				  uint64_t iova, void **ret_hva,
				  uint64_t *ret_len)
{
	const struct vdm_mapping *m;
	struct rt_ent e;
	int r;

	if (!ret_hva)
		return -EINVAL;
	r = lookup_enter(h, asid);
	if (r < 0)
		return r;
	urcu_bp_read_lock();
	/* h->map too: a rebuild handoff publishes another (vdm_core_swap) */
	m = __atomic_load_n(&h->map, __ATOMIC_ACQUIRE);
	r = rt_read_lookup(&m->view[asid].by_iova, iova, &e);
	tsan_release(&vdm_view_sync); /* done with the nodes: tsan.h */
	tsan_release(m);
	urcu_bp_read_unlock();
	if (r)
		return -ENOENT;
	*ret_hva = (void *)(uintptr_t)(e.val + (iova - e.first));
	if (ret_len)
		*ret_len = e.last - iova + 1;
	return 0;
}

VDPAMAP_API int vdpamap_reverse(struct vdpamap *h, uint32_t asid,
				const void *hva, uint64_t *ret_iova,
				uint64_t *ret_len)
{
	uint64_t p = (uintptr_t)hva;
	const struct vdm_mapping *m;
	struct rt_ent e;
	int r;

	if (!ret_iova)
		return -EINVAL;
	r = lookup_enter(h, asid);
	if (r < 0)
		return r;
	urcu_bp_read_lock();
	/* h->map too: a rebuild handoff publishes another (vdm_core_swap) */
	m = __atomic_load_n(&h->map, __ATOMIC_ACQUIRE);
	r = rt_read_lookup(&m->view[asid].by_hva, p, &e);
	tsan_release(&vdm_view_sync); /* done with the nodes: tsan.h */
	tsan_release(m);
	urcu_bp_read_unlock();
	if (r)
		return -ENOENT;
	*ret_iova = e.val + (p - e.first);
	if (ret_len)
		*ret_len = e.last - p + 1;
	return 0;
}

VDPAMAP_API int vdpamap_foreach_entry(struct vdpamap *h, uint32_t asid,
				      int (*fn)(const struct vdpamap_entry *e,
						void *ctx),
				      void *ctx)
{
	struct vdm_mirror_it it;
	struct vdm_entry *e;
	int r;

	if (!fn)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	r = check_asid(h, asid);
	if (r < 0)
		goto out;
	for (e = vdm_mirror_first(h, asid, 0, UINT64_MAX, &it); e;
	     e = vdm_mirror_next(&it)) {
		struct vdpamap_entry out = {
			.iova = e->iova,
			.size = vdm_entry_size(e),
			.hva = (void *)(uintptr_t)e->hva,
			.perm = e->perm,
			.asid = asid,
			.region_id = e->region->id,
		};

		r = fn(&out, ctx);
		if (r)
			break;
	}
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API uint64_t vdpamap_entry_count(struct vdpamap *h, uint32_t asid)
{
	uint64_t c = 0;

	if (vdm_enter_query(h) < 0)
		return 0;
	if (asid < h->info.nr_as)
		c = vdm_mirror_count(h, asid);
	vdm_leave(h);
	return c;
}

VDPAMAP_API int vdpamap_iova_find(struct vdpamap *h, uint32_t asid,
				  uint64_t size, uint64_t align,
				  uint64_t *ret_iova)
{
	uint64_t iova;
	int r;

	if (!ret_iova || !size)
		return -EINVAL;
	if (!align)
		align = h ? h->page_size : 1;
	if (align & (align - 1))
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	r = check_asid(h, asid);
	if (r < 0)
		goto out;
	if (vdm_mirror_find_hole(h, asid, h->info.iova_first, h->info.iova_last,
				 size, align, &iova) < 0) {
		vdm_err(h,
			"asid %u: no free hole of 0x%llx bytes aligned "
			"0x%llx",
			asid, (unsigned long long)size,
			(unsigned long long)align);
		r = -ENOSPC;
	} else {
		*ret_iova = iova;
	}
out:
	vdm_leave(h);
	return r;
}
