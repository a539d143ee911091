// SPDX-License-Identifier: BSD-3-Clause
/*
 * rebuild: open the device anew and re-create what a description says
 * (regions, pre-faulted in parallel; every entry; group ASIDs; features;
 * vrings; DRIVER_OK).  A REBUILD successor does this at adopt;
 * vdpamap_handoff_rebuild() does it in place for a handle whose keeper
 * died (the caller's pointer stays valid).
 */
#include <stdlib.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "core/tsan.h"
#include "handoff/handoff.h"
#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

#define REBUILD_OPEN_TRIES	 200
#define REBUILD_OPEN_WAIT_US	 10000
#define REBUILD_PREFAULT_THREADS 4

/* The used index the device last wrote, read from guest memory. */
static uint16_t used_idx(struct vdpamap *h, const struct vdpamap_vring *v,
			 uint32_t asid)
{
	const struct vdm_entry *e = vdm_mirror_lookup(h, asid, v->used);

	if (!e || e->last < v->used + 3)
		return (uint16_t)v->base;
	return __atomic_load_n((uint16_t *)(uintptr_t)(e->hva + v->used + 2 -
						       e->iova),
			       __ATOMIC_ACQUIRE);
}

static int reopen(const struct vdm_ho_hdr *hd,
		  const struct vdpamap_open_opts *opts, struct vdpamap **ret)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	int r, tries;

	vdm_ho_open_opts(opts, hd, &o);
	o.want_features = hd->backend_acked;
	o.require_features = hd->backend_acked & VDPAMAP_F_KNOWN;
	if (!o.require_features)
		o.require_features = VDPAMAP_F_IOTLB_MSG_V2;
	o.mem_mode = hd->mem_mode;
	/* the old open may still be going away (the simulator sees a close
	 * asynchronously) */
	for (tries = 0;; tries++) {
		r = vdm_open(hd->path, &o, ret);
		if (r != -EBUSY || tries >= REBUILD_OPEN_TRIES)
			return r;
		usleep(REBUILD_OPEN_WAIT_US);
	}
}

static int add_regions(struct vdpamap *h, const struct vdm_handoff_state *s,
		       void **hvas, uint32_t threads)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	struct vdpamap_region *regs;
	uint32_t i;
	int r;

	regs = calloc(hd->nr_regions ? hd->nr_regions : 1, sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	for (i = 0; i < hd->nr_regions; i++)
		regs[i] = (struct vdpamap_region){
			.hva = hvas[i],
			.len = s->regions[i].len,
			.fd = s->regions[i].fd,
			.fd_offset = s->regions[i].fd_offset,
		};
	r = vdm_prefault(h, regs, hd->nr_regions,
			 threads ? threads : REBUILD_PREFAULT_THREADS);
	for (i = 0; r >= 0 && i < hd->nr_regions; i++) {
		uint32_t id;

		regs[i].perm = s->regions[i].perm;
		regs[i].iova = s->regions[i].iova;
		r = vdm_region_add(h, &regs[i], &id);
		if (r >= 0)
			vdm_region_id_set(h, vdm_region_by_id(h, id),
					  s->regions[i].id);
	}
	free(regs);
	if (r >= 0)
		vdm_region_next_id_set(h, hd->next_region_id);
	return r < 0 ? r : 0;
}

static int map_entries(struct vdpamap *h, const struct vdm_handoff_state *s,
		       void **hvas)
{
	struct vdpamap_txn *t = NULL;
	uint32_t i;
	int r;

	r = vdm_txn_new(h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < s->hdr->nr_entries; i++) {
		const struct vdm_ho_entry *se = &s->entries[i];
		uint32_t k;

		for (k = 0; s->regions[k].id != se->region_id; k++)
			;
		r = vdm_txn_map(t, se->asid, se->iova,
				(uint8_t *)hvas[k] + se->off, se->size,
				se->perm, NULL);
		if (r < 0) {
			vdm_txn_abort(t);
			return r;
		}
	}
	return vdm_txn_commit(t);
}

static int restore_rings(struct vdpamap *h, const struct vdm_handoff_state *s,
			 bool use_used)
{
	uint32_t i;
	int r;

	for (i = 0; i < s->hdr->nr_vrings; i++) {
		const struct vdm_ho_vring *sv = &s->vrings[i];
		struct vdpamap_vring v;

		vdm_ho_vring_of(sv, &v);
		if (use_used)
			v.base = used_idx(
				h, &v,
				h->lc->group_asid[h->lc->vq_group[sv->idx]]);
		if ((r = vdm_vring_set(h, sv->idx, &v)) < 0)
			return r;
		if ((sv->flags & VDM_HO_VRING_ENABLED) &&
		    (r = vdm_vring_enable(h, sv->idx, 1)) < 0)
			return r;
	}
	return 0;
}

/* Group ASIDs, then the virtio status walk with features and rings. */
static int restore_device(struct vdpamap *h, const struct vdm_handoff_state *s,
			  bool use_used)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	uint8_t base = VDPAMAP_S_ACKNOWLEDGE | VDPAMAP_S_DRIVER;
	uint32_t i;
	int r;

	for (i = 0; i < hd->nr_groups; i++)
		if (s->group_asid[i] &&
		    (r = vdm_group_asid_apply(h, i, s->group_asid[i])) < 0)
			return r;
	if (!(hd->status & VDPAMAP_S_FEATURES_OK))
		return 0;
	if ((r = vdm_set_status(h, VDPAMAP_S_ACKNOWLEDGE)) < 0 ||
	    (r = vdm_set_status(h, base)) < 0 ||
	    (r = vdm_set_features(h, hd->driver_features)) < 0 ||
	    (r = vdm_set_status(h, base | VDPAMAP_S_FEATURES_OK)) < 0)
		return r;
	r = restore_rings(h, s, use_used);
	if (r < 0)
		return r;
	if ((hd->status & VDPAMAP_S_DRIVER_OK) &&
	    (r = vdm_set_status(h, (uint8_t)hd->status)) < 0)
		return r;
	return 0;
}

int vdm_ho_rebuild_open(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts, void **hvas,
			bool use_used, struct vdpamap **ret)
{
	struct vdpamap *h = NULL;
	int r;

	r = reopen(s->hdr, opts, &h);
	if (r < 0)
		return r;
	/* h is nobody else's yet: locked so that vdm_leave() publishes */
	pthread_mutex_lock(&h->lock);
	r = add_regions(h, s, hvas, OPTS_GET(opts, prefault_threads, 0));
	if (r < 0)
		goto fail;
	r = map_entries(h, s, hvas);
	if (r < 0)
		goto fail;
	r = restore_device(h, s, use_used);
	if (r < 0)
		goto fail;
	vdm_leave(h);
	*ret = h;
	return 0;
fail:
	vdm_leave(h);
	vdm_close(h);
	return r;
}

/* h's own description, parsed, and each region's HVA in description order
 * (hvas: malloc'ed).  buf holds what s points into. */
static int own_description(struct vdpamap *h, void **buf,
			   struct vdm_handoff_state *s, void ***hvas)
{
	struct vdm_ho_ser so = { .strategy = VDPAMAP_HANDOFF_REBUILD,
				 .dev_fd = -1,
				 .keeper_sock = -1 };
	struct vdm_region *rg;
	size_t len = 0;
	uint32_t i;
	int r;

	r = vdm_ho_serialize(h, &so, buf, &len);
	if (r < 0)
		return r;
	r = vdm_handoff_parse(*buf, len, s);
	if (r < 0) {
		vdm_err(h, "rebuild: own description invalid: %d", r);
		return r;
	}
	*hvas = calloc(s->hdr->nr_regions + 1, sizeof(**hvas));
	if (!*hvas)
		return -ENOMEM;
	for (i = 0; i < s->hdr->nr_regions; i++)
		for (rg = h->map->regions; rg; rg = rg->next)
			if (rg->id == s->regions[i].id)
				(*hvas)[i] = rg->r.hva;
	return 0;
}

/* After the grace period, before the free: tell ThreadSanitizer that
 * every reader that used the old state is done (core/tsan.h: the readers
 * release the mapping state, each snapshot and each dirty log they used). */
static void old_state_quiet(struct vdpamap *old)
{
	uint32_t a;

	if (old->map) {
		tsan_acquire(old->map);
		tsan_acquire(&vdm_view_sync);
	}
	if (old->mig && old->mig->dirty)
		for (a = 0; a < old->info.nr_as; a++)
			if (old->mig->dirty[a])
				tsan_acquire(old->mig->dirty[a]);
}

/* h takes h2's device and state (the caller's pointer stays valid), then
 * h's old state goes with h2.  Lock-free readers (lookups on the
 * snapshots, dirty marks and harvests) may hold the old state until they
 * leave their RCU read-side critical section: vdm_core_swap() publishes
 * the new state, synchronize_rcu() waits for every reader that may still
 * see the old one, and only then is it freed.  synchronize_rcu rather
 * than call_rcu: this slow path (a reopen, a re-map of everything) can
 * wait the grace period, and freeing before returning needs no callback
 * thread in the application (liburcu-bp, as snapshot.c). */
static void swap_in(struct vdpamap *h, struct vdpamap *h2)
{
	vdm_core_swap(h, h2);
	h->ho->strategy = VDPAMAP_HANDOFF_REBUILD;
	h->ho->kl.dead = 0;
	vdm_region_hook_set(h, NULL);
	vdm_region_hook_set(h2, NULL);
	h2->tp->fd = -1; /* h's old transport: closed already */
	urcu_bp_synchronize_rcu();
	old_state_quiet(h2);
	vdm_handle_free(h2);
}

VDPAMAP_API int vdpamap_handoff_rebuild(struct vdpamap *h)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	struct vdm_handoff_state s;
	struct vdpamap *h2 = NULL;
	void **hvas = NULL;
	void *buf = NULL;
	int r;

	r = vdm_enter_idle(h, true, "vdpamap_handoff_rebuild");
	if (r < 0)
		return r;
	/* only a handle whose keeper died, or that is poisoned otherwise
	 * (a lost reply of the device), needs (and may get) this */
	if (!h->ho || h->ho->kl.sock < 0 ||
	    (!vdm_kp_check(&h->ho->kl) && !h->poison)) {
		r = -EALREADY;
		goto out;
	}
	r = own_description(h, &buf, &s, &hvas);
	if (r < 0)
		goto out;
	/* let go of the device: the kernel drops every map (a live keeper
	 * must close its copy too: told to exit) */
	vdm_ho_keeper_drop(h, !h->ho->kl.dead);
	vdm_tp_close(h->tp);
	o.log_fn = h->log_fn;
	o.log_ctx = h->log_ctx;
	o.log_level = h->log_level;
	r = vdm_ho_rebuild_open(&s, &o, hvas, true, &h2);
	if (r < 0) {
		vdm_err(h, "rebuild after keeper death: %d (device closed)", r);
		goto out;
	}
	swap_in(h, h2);
	vdm_info(h, "rebuilt after keeper death");
out:
	free(hvas);
	free(buf);
	vdm_leave(h);
	return r;
}
