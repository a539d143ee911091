// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip_reset: the flip and the unflip of a started device through a reset
 * that keeps the maps (lifecycle's vdm_restart(), restart.c), where the
 * in-place flip cannot run:
 *
 *  - Linux >= 7.0 answers SET_GROUP_ASID with EBUSY once DRIVER_OK is set,
 *    suspended or not: the in-place attempt's first SET_GROUP_ASID says so
 *    (and h->mig->frozen remembers it for later flips);
 *  - a device that offers SUSPEND without RESUME (6.1) stays stopped after
 *    a suspend until a reset.
 *
 * The restart suspends, reads every vq's base, resets with IOTLB_PERSIST
 * (or, asked for with VDPAMAP_FLIP_REPLAY, re-sends every map), binds the
 * groups (the moving ones to the shadow ASID or back), calls between()
 * here with the device stopped (the shadow maps' one batch: UPDATE on the
 * flip, INVALIDATE on the unflip), sets every vq up again (the moved rings
 * at their shadow or guest addresses, KICK and CALL as the library set
 * them) and starts the device, or leaves DRIVER_OK to vdpamap_resume().
 */
#include <stdlib.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

/* The shadow maps' batch, done at most once and undone at most once. */
struct maps_step {
	struct vdm_entry **ents;
	uint32_t n;
	uint8_t type; /* UPDATE (flip), INVALIDATE (unflip) */
	bool done;
};

static uint8_t inverse(uint8_t type)
{
	return type == VHOST_IOTLB_UPDATE ? VHOST_IOTLB_INVALIDATE :
					    VHOST_IOTLB_UPDATE;
}

static int between(struct vdpamap *h, void *arg, bool undo)
{
	struct maps_step *m = arg;
	int r;

	if (undo != m->done)
		return 0;
	r = vdm_flip_iotlb(h, m->ents, m->n, undo ? inverse(m->type) : m->type);
	if (r == 0)
		m->done = !undo;
	return r;
}

/* The restart's part shared by flip and unflip: rings[vq] and given[vq]
 * for every vq the library set, from moved[0..n) (to_shadow: their
 * shadow side, else their guest side); the bases read go back into
 * moved[] where not given. */
static int restart(struct vdpamap *h, struct vdm_flip_ring *moved, uint32_t n,
		   bool to_shadow, struct vdm_restart *rs)
{
	struct vdpamap_vring *rings;
	uint32_t *bases, k;
	bool *given;
	int r = -ENOMEM;

	rings = calloc(h->info.nr_vqs, sizeof(*rings));
	given = calloc(h->info.nr_vqs, sizeof(*given));
	bases = calloc(h->info.nr_vqs, sizeof(*bases));
	if (!rings || !given || !bases)
		goto out;
	for (k = 0; k < h->info.nr_vqs; k++)
		rings[k] = h->lc->vrings[k].v;
	for (k = 0; k < n; k++) {
		struct vdpamap_vring *v = to_shadow ? &moved[k].shadow :
						      &moved[k].guest;

		rings[moved[k].vq] = *v;
		given[moved[k].vq] = moved[k].base_given;
	}
	rs->rings = rings;
	rs->base_given = given;
	rs->bases = bases;
	r = vdm_restart(h, rs);
	for (k = 0; r == 0 && k < n; k++) {
		struct vdpamap_vring *v = to_shadow ? &moved[k].shadow :
						      &moved[k].guest;

		if (!moved[k].base_given)
			v->base = bases[moved[k].vq];
	}
out:
	free(rings);
	free(given);
	free(bases);
	return r;
}

static void info_fill(struct vdpamap_flip_info *in,
		      const struct vdm_restart *rs)
{
	in->path = rs->path;
	in->flags |= rs->flags;
	in->stop_ns = rs->ns[0];
	in->reset_ns = rs->ns[1];
	in->restart_ns = rs->ns[2];
}

static uint32_t *asids_now(struct vdpamap *h)
{
	uint32_t *a = calloc(h->info.nr_groups, sizeof(*a));

	if (a)
		memcpy(a, h->lc->group_asid, h->info.nr_groups * sizeof(*a));
	return a;
}

int vdm_flip_reset(struct vdpamap *h, struct vdm_flip_plan *p,
		   const struct vdpamap_flip_opts *o, bool mapped, bool own,
		   struct vdpamap_flip_info *in)
{
	struct maps_step m = { p->ents, p->nr_ents, VHOST_IOTLB_UPDATE,
			       mapped };
	struct vdm_restart rs = {
		.suspended = own || (o->flags & VDPAMAP_FLIP_SUSPENDED),
		.own_suspend = own,
		.replay = o->flags & VDPAMAP_FLIP_REPLAY,
		.defer = o->flags & VDPAMAP_FLIP_SUSPENDED,
		.between = between,
		.arg = &m,
		.hook = OPTS_GET(o, restart_fn, NULL),
		.hook_ctx = OPTS_GET(o, restart_ctx, NULL),
	};
	uint32_t *to = asids_now(h), g;
	int r = -ENOMEM;

	if (!to)
		goto undo;
	for (g = 0; g < p->nr_groups; g++)
		to[p->groups[g]] = p->shadow;
	rs.group_asid = to;
	r = restart(h, p->rings, p->nr_rings, true, &rs);
	free(to);
	if (r == 0) {
		p->suspend = !(o->flags & VDPAMAP_FLIP_SUSPENDED);
		info_fill(in, &rs);
		return 0;
	}
undo:
	/* the restart put the device back as it was (poisoned: it left the
	 * bindings from before for the reset that recovers the handle); the
	 * maps go too, tried even when poisoned, so that a recovered handle
	 * keeps no map of a flip that failed (the plan frees entries out of
	 * the mirror) */
	if (m.done &&
	    vdm_flip_iotlb(h, p->ents, p->nr_ents, VHOST_IOTLB_INVALIDATE) < 0)
		r = -ENOTRECOVERABLE;
	if (own && r == -ENOMEM && vdm_flip_resume(h) < 0)
		r = -ENOTRECOVERABLE;
	return r;
}

int vdm_unflip_reset(struct vdpamap *h, const struct vdm_flip *f,
		     struct vdm_flip_ring *back, uint32_t nb,
		     struct vdm_entry **ents, uint32_t ne, bool own,
		     const struct vdpamap_unflip_opts *o,
		     struct vdpamap_flip_info *in)
{
	uint32_t flags = OPTS_GET(o, flags, 0);
	struct maps_step m = { ents, ne, VHOST_IOTLB_INVALIDATE, false };
	struct vdm_restart rs = {
		.suspended = own || (flags & VDPAMAP_FLIP_SUSPENDED),
		.own_suspend = own,
		.replay = flags & VDPAMAP_FLIP_REPLAY,
		.defer = flags & VDPAMAP_FLIP_SUSPENDED,
		.between = between,
		.arg = &m,
		.hook = OPTS_GET(o, restart_fn, NULL),
		.hook_ctx = OPTS_GET(o, restart_ctx, NULL),
	};
	uint32_t *to = asids_now(h), g;
	int r = -ENOMEM;

	if (to) {
		for (g = 0; g < f->nr_groups; g++)
			to[f->groups[g]] = f->prev[g];
		rs.group_asid = to;
		r = restart(h, back, nb, false, &rs);
		free(to);
	}
	if (r == 0) {
		in->suspended = !(flags & VDPAMAP_FLIP_SUSPENDED);
		info_fill(in, &rs);
	}
	if (own && r == -ENOMEM && vdm_flip_resume(h) < 0)
		r = -ENOTRECOVERABLE;
	return r;
}
