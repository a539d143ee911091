// SPDX-License-Identifier: BSD-3-Clause
/*
 * unflip: undo an active flip, the flip's steps the other way, suspended
 * as the flip was:
 *
 *   SUSPEND                     when the device runs and the caller did not
 *   SET_GROUP_ASID              each group back to its previous ASID
 *   re-point vrings             those still at the flip's shadow rings (a
 *                               reset or a vdpamap_vring_set() since then
 *                               owns the others), at the caller's base or
 *                               where the device stopped
 *   INVALIDATE shadow maps      one batch; a map already gone is left alone
 *   RESUME                      when we suspended
 *
 * The groups go first: where a started device answers EBUSY (group ASIDs
 * frozen at DRIVER_OK) nothing has changed yet and the unflip goes on
 * through a reset (flip_reset.c), as it does at once where the device
 * cannot resume or answered EBUSY before.
 *
 * A failing step undoes those before it; when an undo fails too the
 * handle is poisoned and the call returns -ENOTRECOVERABLE, else the
 * failing step's own errno.  Every undo failure is logged.
 */
#include <stdlib.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

/* What this unflip does, worked out before anything is sent. */
struct unflip {
	struct vdm_flip_ring *back; /* rings going back: to .guest from
					   .shadow (where they are now) */
	uint32_t nb;
	struct vdm_entry **ents; /* the shadow maps still there */
	uint32_t ne;
	bool suspend;
	bool reset; /* through a reset from the start */
};

static void unflip_free(struct unflip *u, bool failed)
{
	uint32_t i;

	/* on success, and for maps invalidated and not restored, neither
	 * the device nor the mirror has them any more */
	for (i = 0; u->ents && i < u->ne; i++)
		if (!failed || !u->ents[i]->in_mirror)
			free(u->ents[i]);
	free(u->ents);
	free(u->back);
}

/* The caller's bases: back[] is still indexed like f->rings. */
static int unflip_bases(struct vdpamap *h, const struct vdm_flip *f,
			const struct vdpamap_unflip_opts *o,
			struct vdm_flip_ring *back)
{
	uint32_t i, k;

	if (!o)
		return 0;
	if ((o->flags & ~(VDPAMAP_FLIP_SUSPENDED | VDPAMAP_FLIP_REPLAY)) ||
	    (o->nr_vrings && !o->vrings)) {
		vdm_err(h, "unflip: opts: unknown flags 0x%x or NULL vrings",
			o->flags);
		return -EINVAL;
	}
	for (i = 0; i < o->nr_vrings; i++) {
		const struct vdpamap_flip_vring *v = &o->vrings[i];

		if (v->shadow || v->desc || v->avail || v->used || v->num ||
		    !vdm_flip_vring_clean(v)) {
			vdm_err(h,
				"unflip: vrings[%u]: only vq, flags and base "
				"may be set",
				i);
			return -EINVAL;
		}
		for (k = 0; k < f->nr_rings && f->rings[k].vq != v->vq; k++)
			;
		if (k == f->nr_rings) {
			vdm_err(h,
				"unflip: vrings[%u]: flip %u did not re-point "
				"vq %u",
				i, f->id, v->vq);
			return -EINVAL;
		}
		if (v->flags & VDPAMAP_FLIP_VRING_BASE) {
			back[k].guest.base = v->base;
			back[k].base_given = true;
		}
	}
	return 0;
}

static bool still_shadow(struct vdpamap *h, const struct vdm_flip_ring *fr)
{
	const struct vdm_vring *vr = &h->lc->vrings[fr->vq];

	return vr->set && vr->v.desc == fr->shadow.desc &&
	       vr->v.avail == fr->shadow.avail && vr->v.used == fr->shadow.used;
}

/* Keep in u->back only the rings still at f's shadow rings. */
static void unflip_rings(struct vdpamap *h, const struct vdm_flip *f,
			 struct unflip *u)
{
	uint32_t i;

	for (i = 0; i < f->nr_rings; i++) {
		const struct vdm_vring *vr = &h->lc->vrings[f->rings[i].vq];

		if (!still_shadow(h, &f->rings[i]))
			continue;
		u->back[u->nb] = u->back[i];
		u->back[u->nb].shadow = vr->v;
		u->back[u->nb].enabled = vr->enabled;
		u->nb++;
	}
}

static void unflip_maps(struct vdpamap *h, const struct vdm_flip *f,
			struct unflip *u)
{
	uint32_t i;

	for (i = 0; i < f->nr_maps; i++) {
		struct vdm_entry *e =
			vdm_mirror_lookup(h, f->shadow_asid, f->maps[i][0]);

		if (e && e->iova == f->maps[i][0] &&
		    vdm_entry_size(e) == f->maps[i][1])
			u->ents[u->ne++] = e;
		else
			vdm_warn(h,
				 "unflip %u: shadow map at iova 0x%llx is "
				 "gone: left alone",
				 f->id, (unsigned long long)f->maps[i][0]);
	}
}

static int unflip_prepare(struct vdpamap *h, const struct vdm_flip *f,
			  const struct vdpamap_unflip_opts *opts,
			  struct unflip *u)
{
	uint32_t i;
	int r;

	u->back = calloc(f->nr_rings + 1, sizeof(*u->back));
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	u->ents = calloc(f->nr_maps + 1, sizeof(*u->ents));
	if (!u->back || !u->ents)
		return -ENOMEM;
	for (i = 0; i < f->nr_rings; i++) {
		u->back[i] = f->rings[i];
		u->back[i].base_given = false;
		u->back[i].guest.base = 0;
	}
	r = unflip_bases(h, f, opts, u->back);
	if (r < 0)
		return r;
	r = vdm_flip_need_suspend(h, OPTS_GET(opts, flags, 0), &u->suspend,
				  &u->reset);
	if (r < 0)
		return r;
	unflip_rings(h, f, u);
	unflip_maps(h, f, u);
	return 0;
}

/* A device resumed by the unflip must find every enabled ring of the
 * groups going back mapped in the ASID they go back to. */
static int check_back_rings(struct vdpamap *h, const struct vdm_flip *f,
			    const struct unflip *u)
{
	uint32_t vq, k, g;

	for (vq = 0; vq < h->info.nr_vqs; vq++) {
		const struct vdm_vring *vr = &h->lc->vrings[vq];
		const struct vdpamap_vring *v = &vr->v;
		uint64_t addr[VDM_RING_PARTS], sz[VDM_RING_PARTS];

		if (!vr->set || !vr->enabled)
			continue;
		for (g = 0; g < f->nr_groups; g++)
			if (f->groups[g] == f->dgrp[vq])
				break;
		if (g == f->nr_groups)
			continue;
		for (k = 0; k < u->nb; k++)
			if (u->back[k].vq == vq)
				v = &u->back[k].guest;
		vdm_ring_extents(v, addr, sz);
		for (k = 0; k < VDM_RING_PARTS; k++) {
			if (vdm_range_mapped(h, f->prev[g], addr[k], sz[k]))
				continue;
			vdm_err(h,
				"unflip: vq %u %s ring [0x%llx, +0x%llx) is not "
				"mapped in ASID %u: re-point it or reset first",
				vq, vdm_ring_part[k],
				(unsigned long long)addr[k],
				(unsigned long long)sz[k], f->prev[g]);
			return -EFAULT;
		}
	}
	return 0;
}

/* The device steps; on failure those done are undone, or the handle is
 * poisoned when an undo fails too (-ENOTRECOVERABLE).  1: the first
 * SET_GROUP_ASID got EBUSY on a started device (nothing changed but the
 * suspend): the reset path goes on. */
static int unflip_run(struct vdpamap *h, const struct vdm_flip *f,
		      struct unflip *u)
{
	uint32_t g = 0, k = 0;
	int r, undo = 0;

	if (u->suspend) {
		r = check_back_rings(h, f, u);
		if (r < 0)
			return r;
		r = vdm_flip_suspend(h);
		if (r < 0)
			return r;
	}
	r = vdm_groups_move(h, f->groups, f->prev, 0, f->nr_groups, &g);
	if (r > 0)
		return 1;
	if (r < 0)
		goto undo_groups;
	r = vdm_rings_move(h, u->back, u->nb, false, &k);
	if (r < 0)
		goto undo_rings;
	r = vdm_flip_iotlb(h, u->ents, u->ne, VHOST_IOTLB_INVALIDATE);
	if (r < 0)
		goto undo_rings;
	if (u->suspend) {
		r = vdm_flip_resume(h);
		if (r < 0)
			goto undo_maps;
	}
	return 0;

undo_maps:
	vdm_undo_note(h, &undo,
		      vdm_flip_iotlb(h, u->ents, u->ne, VHOST_IOTLB_UPDATE),
		      "mapping back shadow areas of ASID", f->shadow_asid);
	if (undo) /* the shadow ASID lost its maps: nowhere to go back */
		goto poison;
undo_rings:
	vdm_rings_move_back(h, u->back, k, false, &undo);
undo_groups:
	vdm_groups_move_back(h, f->groups, NULL, f->shadow_asid, g, &undo);
	if (u->suspend)
		vdm_undo_note(h, &undo, vdm_flip_resume(h), "RESUME", 0);
poison:
	if ((undo || r == -ENOTRECOVERABLE) && !h->poison)
		vdm_poison(h,
			   "unflip %u failed (%d) and could not be undone "
			   "(%d)",
			   f->id, r, undo);
	return undo ? -ENOTRECOVERABLE : r;
}

static struct vdm_flip **flip_find(struct vdpamap *h, uint32_t id)
{
	struct vdm_flip **pp;

	for (pp = h->mig ? &h->mig->flips : NULL; pp && *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

VDPAMAP_API int vdpamap_unflip(struct vdpamap *h, uint32_t id,
			       const struct vdpamap_unflip_opts *opts,
			       struct vdpamap_flip_info *info)
{
	struct vdpamap_flip_info in = { 0 };
	struct vdpamap_unflip_opts o;
	struct unflip u = { 0 };
	struct vdpamap_stats s0;
	struct vdm_flip **pp, *f;
	uint64_t t0 = vdm_now_ns();
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_unflip");
	if (r < 0)
		return r;
	s0 = h->stats;
	r = OPTS_CHECK(h, "unflip", opts, vdpamap_unflip_opts);
	if (r < 0)
		goto out;
	/* the helpers read the copy, never the caller's struct past its sz
	 * (NULL: all defaults) */
	OPTS_COPY(o, opts);
	pp = flip_find(h, id);
	if (!pp) {
		vdm_err(h, "unflip: no active flip %u", id);
		r = -ENOENT;
		goto out;
	}
	f = *pp;
	r = unflip_prepare(h, f, &o, &u);
	if (r < 0)
		goto out;
	if (u.reset && !(o.flags & VDPAMAP_FLIP_SUSPENDED))
		r = check_back_rings(h, f, &u);
	if (r < 0)
		goto out;
	if (u.reset) {
		r = vdm_unflip_reset(h, f, u.back, u.nb, u.ents, u.ne, false,
				     &o, &in);
	} else {
		r = unflip_run(h, f, &u);
		if (r == 1) {
			in.flags |= VDPAMAP_FLIP_INFO_BUSY;
			r = vdm_unflip_reset(h, f, u.back, u.nb, u.ents, u.ne,
					     u.suspend, &o, &in);
		}
	}
	if (r < 0)
		goto out;
	*pp = f->next;
	in.id = f->id;
	in.nr_groups = f->nr_groups;
	if (!u.reset && !(in.flags & VDPAMAP_FLIP_INFO_BUSY))
		in.suspended = u.suspend;
	vdm_flip_info_fill(h, &in, &s0, t0);
	vdm_info(h,
		 "unflip %u: %u group(s) back, %u shadow map(s) released, "
		 "%u ring(s) back, %llu IOTLB messages",
		 f->id, f->nr_groups, u.ne, u.nb,
		 (unsigned long long)in.iotlb_msgs);
	vdm_flip_free(f);
	if (info)
		*info = in;
out:
	if (r < 0 && h->poison) /* an undo failed, or a reply was lost */
		r = -ENOTRECOVERABLE;
	unflip_free(&u, r < 0);
	vdm_leave(h);
	return r;
}
