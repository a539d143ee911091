// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip: the SVQ ASID flip.  A VMM that shadows virtqueues moves vq groups
 * to a shadow ASID that maps only its shadow vrings; guest memory, mapped
 * in the ASID the groups leave, is not touched (no UPDATE, no INVALIDATE).
 *
 * A flip is planned and validated completely before anything is sent
 * (flip_plan.c), then runs as a sequence of steps, each undone in reverse
 * if a later one fails:
 *
 *   SUSPEND                     when the device runs and the caller did not
 *   UPDATE shadow areas         one batch (flip_steps.c)
 *   SET_GROUP_ASID              remembered in h->lc->group_asid: a reset
 *                               re-applies it (lifecycle/reset.c)
 *   re-point vrings             ENABLE 0, NUM, BASE, ADDR, ENABLE 1
 *                               (flip_vring.c)
 *   RESUME                      when we suspended
 *
 * Linux 6.12's vdpa_sim accepts SET_GROUP_ASID at any time and applies it
 * at once (vringh_set_iotlb); the suspend makes the switch atomic for the
 * device: it neither reads the old rings through the new ASID nor the new
 * rings through the old one.  A device that cannot be suspended can be
 * flipped before DRIVER_OK (reset, flip, restart: the flip survives reset).
 *
 * Each active flip is a record on h->mig->flips: its groups and their
 * previous ASIDs, its shadow maps (IOVA and size; they are ordinary mirror
 * entries) and the vrings it re-pointed with their previous setup, for
 * unflip (unflip.c).
 */
#include <stdlib.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

/* The record of p, made before anything is sent (so that running out of
 * memory changes nothing); the rings' bases are copied in on success. */
static struct vdm_flip *record(struct vdpamap *h, const struct vdm_flip_plan *p)
{
	struct vdm_flip *f = calloc(1, sizeof(*f));
	uint32_t i;

	if (!f)
		return NULL;
	f->groups = calloc(p->nr_groups, sizeof(*f->groups));
	f->prev = calloc(p->nr_groups, sizeof(*f->prev));
	f->dgrp = calloc(h->info.nr_vqs, sizeof(*f->dgrp));
	f->maps = calloc(p->nr_ents ? p->nr_ents : 1, sizeof(*f->maps));
	f->rings = calloc(p->nr_rings ? p->nr_rings : 1, sizeof(*f->rings));
	if (!f->groups || !f->prev || !f->dgrp || !f->maps || !f->rings) {
		vdm_flip_free(f);
		return NULL;
	}
	f->shadow_asid = p->shadow;
	f->nr_groups = p->nr_groups;
	memcpy(f->groups, p->groups, p->nr_groups * sizeof(*f->groups));
	memcpy(f->prev, p->prev, p->nr_groups * sizeof(*f->prev));
	memcpy(f->dgrp, p->dgrp, h->info.nr_vqs * sizeof(*f->dgrp));
	f->nr_maps = p->nr_ents;
	for (i = 0; i < p->nr_ents; i++) {
		f->maps[i][0] = p->ents[i]->iova;
		f->maps[i][1] = vdm_entry_size(p->ents[i]);
	}
	f->nr_rings = p->nr_rings;
	return f;
}

/* Undo of the shadow maps' UPDATE: INVALIDATE them again. */
static void undo_maps(struct vdpamap *h, struct vdm_flip_plan *p, int *undo)
{
	uint32_t i;
	int r = vdm_flip_iotlb(h, p->ents, p->nr_ents, VHOST_IOTLB_INVALIDATE);

	vdm_undo_note(h, undo, r, "unmapping shadow areas of ASID", p->shadow);
	if (r < 0)
		return;
	for (i = 0; i < p->nr_ents; i++) {
		free(p->ents[i]);
		p->ents[i] = NULL;
	}
}

/* The device steps of plan p; on failure those done are undone, or the
 * handle is poisoned when an undo fails too.  1: the device answered
 * EBUSY to the first SET_GROUP_ASID (left suspended as p says, maps
 * sent) for the reset path to go on. */
static int flip_run(struct vdpamap *h, struct vdm_flip_plan *p)
{
	uint32_t g = 0, k = 0;
	int r, undo = 0;

	if (p->suspend) {
		r = vdm_flip_suspend(h);
		if (r < 0)
			return r;
	}
	r = vdm_flip_iotlb(h, p->ents, p->nr_ents, VHOST_IOTLB_UPDATE);
	if (r < 0)
		goto undo_suspend;
	/* 1: group ASIDs frozen, the reset path goes on from here,
	 * suspended and mapped */
	r = vdm_groups_move(h, p->groups, NULL, p->shadow, p->nr_groups, &g);
	if (r > 0)
		return 1;
	if (r < 0)
		goto undo_groups;
	r = vdm_rings_move(h, p->rings, p->nr_rings, true, &k);
	if (r < 0)
		goto undo_rings;
	if (p->suspend) {
		r = vdm_flip_resume(h);
		if (r < 0)
			goto undo_rings;
	}
	return 0;

undo_rings:
	vdm_rings_move_back(h, p->rings, k, true, &undo);
undo_groups:
	vdm_groups_move_back(h, p->groups, p->prev, 0, g, &undo);
	if (r != -ENOTRECOVERABLE)
		undo_maps(h, p, &undo);
undo_suspend:
	if (p->suspend)
		vdm_undo_note(h, &undo, vdm_flip_resume(h), "RESUME", 0);
	if (undo && r != -ENOTRECOVERABLE)
		vdm_poison(h,
			   "flip to ASID %u failed (%d) and could not be "
			   "undone (%d)",
			   p->shadow, r, undo);
	return r;
}

/* Flip f done: give it an id, put it on the list, tell the caller. */
static int publish(struct vdpamap *h, struct vdm_flip *f,
		   const struct vdm_flip_plan *p,
		   const struct vdpamap_flip_opts *opts,
		   struct vdpamap_flip_info *in)
{
	uint32_t i;

	memcpy(f->rings, p->rings, p->nr_rings * sizeof(*f->rings));
	if (h->mig->next_flip_id >= INT32_MAX)
		h->mig->next_flip_id = 0;
	f->id = ++h->mig->next_flip_id;
	f->next = h->mig->flips;
	h->mig->flips = f;
	for (i = 0; i < p->nr_ents; i++)
		opts->shadows[i].iova = p->ents[i]->iova;
	in->id = f->id;
	in->nr_groups = p->nr_groups;
	in->buffers_moved = p->buffers_moved;
	in->suspended = p->suspend; /* the reset path sets it too */
	return (int)f->id;
}

VDPAMAP_API int vdpamap_flip(struct vdpamap *h, uint32_t shadow_asid,
			     const struct vdpamap_flip_opts *opts,
			     struct vdpamap_flip_info *info)
{
	struct vdpamap_flip_info in = { 0 };
	struct vdm_flip_plan p = { 0 };
	struct vdpamap_flip_opts o;
	struct vdpamap_stats s0;
	struct vdm_flip *f = NULL;
	uint64_t t0 = vdm_now_ns();
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_flip");
	if (r < 0)
		return r;
	s0 = h->stats;
	r = OPTS_CHECK(h, "flip", opts, vdpamap_flip_opts);
	if (r < 0)
		goto out;
	/* the helpers read the copy, never the caller's struct past its sz
	 * (NULL stays NULL: the plan refuses it) */
	OPTS_COPY(o, opts);
	r = vdm_flip_plan(h, shadow_asid, opts ? &o : NULL, &p);
	if (r < 0)
		goto out;
	f = vdm_migrate_get(h) ? record(h, &p) : NULL;
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	if (p.reset) {
		r = vdm_flip_reset(h, &p, &o, false, false, &in);
	} else {
		r = flip_run(h, &p);
		if (r == 1) {
			in.flags |= VDPAMAP_FLIP_INFO_BUSY;
			r = vdm_flip_reset(h, &p, &o, true, p.suspend, &in);
		}
	}
	if (r < 0)
		goto out;
	r = publish(h, f, &p, &o, &in);
	f = NULL;
	vdm_flip_info_fill(h, &in, &s0, t0);
	vdm_info(h,
		 "flip %u: %u group(s) to ASID %u, %u shadow map(s), %u "
		 "ring(s), %llu IOTLB messages, %llu ns, %s",
		 in.id, p.nr_groups, shadow_asid, p.nr_ents, p.nr_rings,
		 (unsigned long long)in.iotlb_msgs, (unsigned long long)in.ns,
		 in.path == VDPAMAP_FLIP_PATH_IN_PLACE ?
			 "in place" :
		 in.path == VDPAMAP_FLIP_PATH_RESET ?
			 "through a reset" :
			 "through a reset and a replay");
	if (info)
		*info = in;
out:
	if (r < 0 && h->poison) /* an undo failed, or a reply was lost */
		r = -ENOTRECOVERABLE;
	vdm_flip_free(f);
	vdm_flip_plan_free(&p);
	vdm_leave(h);
	return r;
}
