// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip_plan: a flip validated completely and planned before anything is
 * sent (the kernel would flatten every error to EFAULT): which groups
 * move and from which ASIDs, the safety checks (the shadow ASID must not
 * reach guest memory, a running device must find its rings), the shadow
 * areas' IOVAs from holes free in the shadow ASID and in every ASID the
 * groups leave (shadow and guest IOVAs never alias), and the rings to
 * re-point.  The errors are those of vdpamap_flip() in
 * include/vdpamap_migrate.h.
 */
#include <stdlib.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

void vdm_flip_plan_free(struct vdm_flip_plan *p)
{
	uint32_t i;

	for (i = 0; p->ents && i < p->nr_ents; i++)
		if (p->ents[i] && !p->ents[i]->in_mirror)
			free(p->ents[i]);
	free(p->ents);
	free(p->groups);
	free(p->prev);
	free(p->dgrp);
	free(p->rings);
}

static struct vdm_flip *flip_of_group(struct vdpamap *h, uint32_t g)
{
	struct vdm_flip *f;
	uint32_t i;

	for (f = h->mig ? h->mig->flips : NULL; f; f = f->next)
		for (i = 0; i < f->nr_groups; i++)
			if (f->groups[i] == g)
				return f;
	return NULL;
}

static bool in_set(const uint32_t *v, uint32_t n, uint32_t x)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* ---- the groups */
static int add_group(struct vdpamap *h, struct vdm_flip_plan *p, uint32_t g)
{
	struct vdm_flip *f;

	if (in_set(p->groups, p->nr_groups, g))
		return 0;
	f = flip_of_group(h, g);
	if (f) {
		vdm_err(h, "flip: group %u is moved by active flip %u already",
			g, f->id);
		return -EBUSY;
	}
	p->prev[p->nr_groups] = h->lc->group_asid[g];
	p->groups[p->nr_groups++] = g;
	return 0;
}

static int known_vqs_groups(struct vdpamap *h,
			    const struct vdpamap_flip_opts *o)
{
	uint32_t i;

	for (i = 0; i < o->nr_groups; i++) {
		if (o->groups[i] >= h->info.nr_groups) {
			vdm_err(h, "flip: groups[%u]: no group %u (%u groups)",
				i, o->groups[i], h->info.nr_groups);
			return -ENOENT;
		}
	}
	for (i = 0; i < o->nr_vqs; i++) {
		if (o->vqs[i] >= h->info.nr_vqs) {
			vdm_err(h, "flip: vqs[%u]: no vq %u (%u vqs)", i,
				o->vqs[i], h->info.nr_vqs);
			return -ENOENT;
		}
	}
	return 0;
}

/* The groups that move: those listed, and those holding the listed vqs'
 * rings. */
static int plan_groups(struct vdpamap *h, const struct vdpamap_flip_opts *o,
		       struct vdm_flip_plan *p)
{
	bool desc = vdm_has_feature(h, VDPAMAP_F_DESC_ASID);
	uint32_t i, vq;
	int r;

	r = known_vqs_groups(h, o);
	if (r < 0)
		return r;
	/* where every vq's rings live: its descriptor group with DESC_ASID,
	 * as read (and checked) at open: asking the device here would send
	 * ioctls before the flip is known to be valid */
	for (vq = 0; vq < h->info.nr_vqs; vq++)
		p->dgrp[vq] = desc ? h->lc->vq_desc_group[vq] :
				     h->lc->vq_group[vq];
	for (i = 0; i < o->nr_groups; i++) {
		r = add_group(h, p, o->groups[i]);
		if (r < 0)
			return r;
	}
	for (i = 0; i < o->nr_vqs; i++) {
		vq = o->vqs[i];
		r = add_group(h, p,
			      (o->flags & VDPAMAP_FLIP_WHOLE_GROUP) ?
				      h->lc->vq_group[vq] :
				      p->dgrp[vq]);
		if (r < 0)
			return r;
	}
	for (vq = 0; vq < h->info.nr_vqs; vq++)
		if (in_set(p->groups, p->nr_groups, h->lc->vq_group[vq]))
			p->buffers_moved = true;
	return 0;
}

/* ---- the shadow ASID and areas must not reach guest memory */
/* The shadow ASID must not reach memory the groups' ASIDs map. */
static int check_shadow_as(struct vdpamap *h, const struct vdm_flip_plan *p)
{
	struct vdm_mirror_it it, hit;
	struct vdm_entry *e;
	uint32_t k;

	for (k = 0; k < p->nr_groups; k++) {
		if (p->prev[k] == p->shadow) {
			vdm_err(h,
				"flip: group %u is bound to ASID %u already: "
				"the shadow ASID would be its guest memory",
				p->groups[k], p->shadow);
			return -EEXIST;
		}
	}
	for (e = vdm_mirror_first(h, p->shadow, 0, UINT64_MAX, &it); e;
	     e = vdm_mirror_next(&it)) {
		uint64_t last = e->hva + vdm_entry_size(e) - 1;

		for (k = 0; k < p->nr_groups; k++) {
			if (!vdm_mirror_hva_first(h, p->prev[k], e->hva, last,
						  &hit))
				continue;
			vdm_err(h,
				"flip: shadow ASID %u maps iova 0x%llx to hva "
				"0x%llx, memory ASID %u (group %u) maps: the "
				"device could write it behind the shadow "
				"virtqueue",
				p->shadow, (unsigned long long)e->iova,
				(unsigned long long)e->hva, p->prev[k],
				p->groups[k]);
			return -EEXIST;
		}
	}
	return 0;
}

static int check_area(struct vdpamap *h, const struct vdm_flip_plan *p,
		      uint32_t i, const struct vdpamap_shadow *s)
{
	uint64_t mask = (h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) ?
				0 :
				h->page_size - 1;
	uint64_t hva = (uintptr_t)s->hva;
	uint32_t k;

	if (s->reserved0 || s->reserved[0] || s->reserved[1]) {
		vdm_err(h, "flip: shadows[%u]: reserved fields must be 0", i);
		return -EINVAL;
	}
	if (!s->hva || !s->size || ((hva | s->size) & mask) ||
	    hva + (s->size - 1) < hva || s->perm > VDPAMAP_PERM_RW) {
		vdm_err(h,
			"flip: shadows[%u] hva %p size 0x%llx perm %u: empty, "
			"unaligned, wrapping or a bad perm",
			i, s->hva, (unsigned long long)s->size, s->perm);
		return -EINVAL;
	}
	if ((hva | s->size) & vdm_pa_mask(h)) {
		vdm_err(h,
			"flip: shadows[%u] hva %p size 0x%llx: PA mode pins "
			"whole pages of 0x%llx: the device would hold more "
			"than the area (ALLOW_UNALIGNED is for VA-mode "
			"devices)",
			i, s->hva, (unsigned long long)s->size,
			(unsigned long long)(vdm_pa_mask(h) + 1));
		return -EINVAL;
	}
	if (!vdm_region_find(h, hva, s->size)) {
		vdm_err(h,
			"flip: shadows[%u] [%p, +0x%llx) is not inside one "
			"registered region",
			i, s->hva, (unsigned long long)s->size);
		return -EFAULT;
	}
	for (k = 0; k < p->nr_groups; k++) {
		struct vdm_mirror_it it;
		const struct vdm_entry *e =
			vdm_mirror_hva_first(h, p->prev[k], hva,
					     hva + s->size - 1, &it);

		if (e) {
			vdm_err(h,
				"flip: shadows[%u] [%p, +0x%llx) overlaps "
				"guest memory mapped in ASID %u at iova 0x%llx",
				i, s->hva, (unsigned long long)s->size,
				p->prev[k], (unsigned long long)e->iova);
			return -EEXIST;
		}
	}
	return 0;
}

/* ---- the rings to re-point */
/* fv names a vq set up, of a moving group, once, and a shadow area. */
static int check_vring_opt(struct vdpamap *h, const struct vdm_flip_plan *p,
			   const struct vdpamap_flip_opts *o, uint32_t i,
			   const struct vdpamap_flip_vring *fv)
{
	uint32_t k;

	if (fv->vq >= h->info.nr_vqs) {
		vdm_err(h, "flip: vrings[%u]: no vq %u (%u vqs)", i, fv->vq,
			h->info.nr_vqs);
		return -ENOENT;
	}
	if (!vdm_flip_vring_clean(fv) || fv->shadow >= o->nr_shadows) {
		vdm_err(h,
			"flip: vrings[%u]: reserved fields, unknown flags or "
			"shadow index %u of %u",
			i, fv->shadow, o->nr_shadows);
		return -EINVAL;
	}
	if (!h->lc->vrings[fv->vq].set) {
		vdm_err(h,
			"flip: vrings[%u]: vq %u was never set up "
			"(vdpamap_vring_set()): nothing to return to",
			i, fv->vq);
		return -EINVAL;
	}
	if (!in_set(p->groups, p->nr_groups, p->dgrp[fv->vq])) {
		vdm_err(h,
			"flip: vrings[%u]: the rings of vq %u are in group "
			"%u, which does not move",
			i, fv->vq, p->dgrp[fv->vq]);
		return -EINVAL;
	}
	for (k = 0; k < p->nr_rings; k++) {
		if (p->rings[k].vq == fv->vq) {
			vdm_err(h, "flip: vrings[%u]: vq %u twice", i, fv->vq);
			return -EINVAL;
		}
	}
	return 0;
}

/* Rings of num entries at fv's offsets fit, aligned, in area s. */
static int check_ring_fit(struct vdpamap *h, uint32_t i,
			  const struct vdpamap_flip_vring *fv, uint32_t num,
			  const struct vdpamap_shadow *s)
{
	const struct vdpamap_vring v = {
		.num = num,
		.desc = fv->desc,
		.avail = fv->avail,
		.used = fv->used,
	};
	uint64_t off[VDM_RING_PARTS], sz[VDM_RING_PARTS];
	int k;

	if (!num || (num & (num - 1)) ||
	    (h->info.max_vring_num && num > h->info.max_vring_num)) {
		vdm_err(h,
			"flip: vrings[%u]: ring size %u (max %u, power of "
			"two)",
			i, num, h->info.max_vring_num);
		return -EINVAL;
	}
	vdm_ring_extents(&v, off, sz);
	for (k = 0; k < VDM_RING_PARTS; k++) {
		if (!(off[k] & (vdm_ring_align[k] - 1)) && off[k] < s->size &&
		    sz[k] <= s->size - off[k])
			continue;
		vdm_err(h,
			"flip: vrings[%u]: rings at 0x%llx/0x%llx/0x%llx of "
			"%u entries do not fit, aligned, in shadows[%u] (0x%llx "
			"bytes)",
			i, (unsigned long long)fv->desc,
			(unsigned long long)fv->avail,
			(unsigned long long)fv->used, num, fv->shadow,
			(unsigned long long)s->size);
		return -EINVAL;
	}
	return 0;
}

static int plan_vring(struct vdpamap *h, struct vdm_flip_plan *p,
		      const struct vdpamap_flip_opts *o, uint32_t i,
		      const struct vdpamap_flip_vring *fv, bool started)
{
	struct vdm_flip_ring *fr;
	uint32_t num;
	int r;

	r = check_vring_opt(h, p, o, i, fv);
	if (r < 0)
		return r;
	num = fv->num ? fv->num : h->lc->vrings[fv->vq].v.num;
	r = check_ring_fit(h, i, fv, num, &o->shadows[fv->shadow]);
	if (r < 0)
		return r;
	if (started && h->lc->vrings[fv->vq].enabled &&
	    !vdm_has_feature(h, VDPAMAP_F_ENABLE_AFTER_DRIVER_OK)) {
		vdm_err(h,
			"flip: vq %u runs: re-pointing it needs "
			"ENABLE_AFTER_DRIVER_OK (not negotiated); reset, flip "
			"and restart instead",
			fv->vq);
		return -EOPNOTSUPP;
	}
	fr = &p->rings[p->nr_rings++];
	fr->vq = fv->vq;
	fr->enabled = h->lc->vrings[fv->vq].enabled;
	fr->guest = h->lc->vrings[fv->vq].v;
	fr->shadow = fr->guest;
	fr->shadow.num = num;
	/* offsets in area fr->area until it is placed; the base is read
	 * after the suspend unless given */
	fr->area = fv->shadow;
	fr->shadow.desc = fv->desc;
	fr->shadow.avail = fv->avail;
	fr->shadow.used = fv->used;
	fr->shadow.base = fv->base;
	fr->base_given = fv->flags & VDPAMAP_FLIP_VRING_BASE;
	return 0;
}

static bool planned_mapped(struct vdpamap *h, const struct vdm_flip_plan *p,
			   uint64_t iova, uint64_t size)
{
	uint32_t i;

	if (vdm_range_mapped(h, p->shadow, iova, size))
		return true;
	for (i = 0; i < p->nr_ents; i++) {
		const struct vdm_entry *n = p->ents[i];

		/* place_areas() set ents[i] for every i < nr_ents:
		 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		if (iova >= n->iova && iova + size - 1 <= n->last)
			return true;
	}
	return false;
}

/* A device resumed by the flip must find every enabled ring of a moved
 * group in the shadow ASID. */
static int check_running_rings(struct vdpamap *h, const struct vdm_flip_plan *p)
{
	uint32_t vq, k;

	for (vq = 0; vq < h->info.nr_vqs; vq++) {
		const struct vdm_vring *vr = &h->lc->vrings[vq];
		const struct vdpamap_vring *v = &vr->v;
		uint64_t addr[VDM_RING_PARTS], sz[VDM_RING_PARTS];

		if (!vr->set || !vr->enabled ||
		    !in_set(p->groups, p->nr_groups, p->dgrp[vq]))
			continue;
		for (k = 0; k < p->nr_rings; k++)
			if (p->rings[k].vq == vq)
				v = &p->rings[k].shadow;
		vdm_ring_extents(v, addr, sz);
		for (k = 0; k < VDM_RING_PARTS; k++) {
			if (planned_mapped(h, p, addr[k], sz[k]))
				continue;
			vdm_err(h,
				"flip: vq %u %s ring [0x%llx, +0x%llx) would "
				"not be mapped in shadow ASID %u: give its "
				"shadow rings in vrings",
				vq, vdm_ring_part[k],
				(unsigned long long)addr[k],
				(unsigned long long)sz[k], p->shadow);
			return -EFAULT;
		}
	}
	return 0;
}

/* ---- placing the shadow areas */
/* Lowest aligned hole of size free in the shadow ASID, in every ASID a
 * group leaves and among the areas placed so far. */
static int alloc_iova(struct vdpamap *h, const struct vdm_flip_plan *p,
		      uint32_t placed, uint64_t size, uint64_t *ret)
{
	/* the handle's page, and in PA mode at least the system page */
	uint64_t mask = (h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) ?
				0 :
				h->page_size - 1;
	uint64_t align = (mask | vdm_pa_mask(h)) + 1;
	uint64_t lo = h->info.iova_first, hi = h->info.iova_last, s, last;

	for (;;) {
		uint64_t bump = 0;
		uint32_t k;

		if (lo > hi || vdm_mirror_find_hole(h, p->shadow, lo, hi, size,
						    align, &s) < 0)
			return -ENOSPC;
		last = s + size - 1;
		for (k = 0; k < p->nr_groups; k++) {
			struct vdm_mirror_it it;
			const struct vdm_entry *n;

			for (n = vdm_mirror_first(h, p->prev[k], s, last, &it);
			     n; n = vdm_mirror_next(&it))
				if (n->last > bump)
					bump = n->last;
		}
		for (k = 0; k < placed; k++) {
			const struct vdm_entry *n = p->ents[k];

			if (n->iova <= last && s <= n->last && n->last > bump)
				bump = n->last;
		}
		if (!bump) {
			*ret = s;
			return 0;
		}
		if (bump == UINT64_MAX)
			return -ENOSPC;
		lo = bump + 1;
	}
}

/* A shadow entry for every area, and the rings' offsets made IOVAs. */
static int place_areas(struct vdpamap *h, const struct vdpamap_flip_opts *o,
		       struct vdm_flip_plan *p)
{
	uint32_t i;
	int r;

	for (i = 0; i < o->nr_shadows; i++) {
		const struct vdpamap_shadow *s = &o->shadows[i];
		struct vdm_entry *e;
		uint64_t iova;

		r = alloc_iova(h, p, i, s->size, &iova);
		if (r < 0) {
			vdm_err(h,
				"flip: no hole of 0x%llx bytes in shadow ASID "
				"%u",
				(unsigned long long)s->size, p->shadow);
			return r;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->iova = iova;
		e->last = iova + s->size - 1;
		e->hva = (uintptr_t)s->hva;
		e->asid = p->shadow;
		e->perm = s->perm ? s->perm : VDPAMAP_PERM_RW;
		e->region = vdm_region_find(h, e->hva, s->size);
		p->ents[p->nr_ents++] = e;
	}
	for (i = 0; i < p->nr_rings; i++) {
		struct vdpamap_vring *v = &p->rings[i].shadow;
		/* check_vring_opt() keeps area < nr_shadows, and the loop
		 * above set ents[0..nr_shadows):
		 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		uint64_t base = p->ents[p->rings[i].area]->iova;

		v->desc += base;
		v->avail += base;
		v->used += base;
	}
	return 0;
}

/* ---- the plan */
static int check_opts(struct vdpamap *h, uint32_t shadow,
		      const struct vdpamap_flip_opts *o)
{
	const uint32_t known = VDPAMAP_FLIP_WHOLE_GROUP |
			       VDPAMAP_FLIP_SUSPENDED | VDPAMAP_FLIP_REPLAY;

	if (!vdm_has_feature(h, VDPAMAP_F_IOTLB_ASID)) {
		vdm_err(h, "flip: needs IOTLB_ASID (not negotiated)");
		return -EOPNOTSUPP;
	}
	if (shadow >= h->info.nr_as) {
		vdm_err(h,
			"flip: shadow asid %u out of range (%u address "
			"spaces)",
			shadow, h->info.nr_as);
		return -ERANGE;
	}
	if (!o || (o->flags & ~known) || (!o->nr_vqs && !o->nr_groups) ||
	    (o->nr_vqs && !o->vqs) || (o->nr_groups && !o->groups) ||
	    (o->nr_shadows && !o->shadows) || (o->nr_vrings && !o->vrings) ||
	    o->nr_vrings > h->info.nr_vqs) {
		vdm_err(h,
			"flip: opts: nothing to move, a NULL array with a "
			"count, too many vrings or unknown flags 0x%x",
			o ? o->flags : 0);
		return -EINVAL;
	}
	return 0;
}

static int plan_alloc(struct vdpamap *h, const struct vdpamap_flip_opts *o,
		      struct vdm_flip_plan *p)
{
	p->groups = calloc(h->info.nr_groups, sizeof(*p->groups));
	p->prev = calloc(h->info.nr_groups, sizeof(*p->prev));
	p->dgrp = calloc(h->info.nr_vqs, sizeof(*p->dgrp));
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	p->ents = calloc(o->nr_shadows ? o->nr_shadows : 1, sizeof(*p->ents));
	p->rings = calloc(o->nr_vrings ? o->nr_vrings : 1, sizeof(*p->rings));
	if (!p->groups || !p->prev || !p->dgrp || !p->ents || !p->rings)
		return -ENOMEM;
	return 0;
}

int vdm_flip_plan(struct vdpamap *h, uint32_t shadow,
		  const struct vdpamap_flip_opts *o, struct vdm_flip_plan *p)
{
	bool started = h->lc->status & VDPAMAP_S_DRIVER_OK;
	uint64_t need = 0;
	uint32_t i;
	int r;

	r = check_opts(h, shadow, o);
	if (r < 0)
		return r;
	r = vdm_flip_need_suspend(h, o->flags, &p->suspend, &p->reset);
	if (r < 0)
		return r;
	started = started && !p->reset; /* rings set before DRIVER_OK */
	p->shadow = shadow;
	r = plan_alloc(h, o, p);
	if (r < 0)
		return r;
	r = plan_groups(h, o, p);
	if (r < 0)
		return r;
	r = check_shadow_as(h, p);
	if (r < 0)
		return r;
	for (i = 0; i < o->nr_shadows; i++) {
		r = check_area(h, p, i, &o->shadows[i]);
		if (r < 0)
			return r;
		need += o->shadows[i].size;
	}
	for (i = 0; i < o->nr_vrings; i++) {
		r = plan_vring(h, p, o, i, &o->vrings[i], started);
		if (r < 0)
			return r;
	}
	r = vdm_memlock_check(h, need);
	if (r < 0)
		return r;
	r = place_areas(h, o, p);
	if (r < 0)
		return r;
	/* the device runs on after the call: on the reset path too, unless
	 * the caller suspended it and starts it (vdpamap_resume()) */
	return p->suspend || (p->reset &&
			      !(o->flags & VDPAMAP_FLIP_SUSPENDED)) ?
		       check_running_rings(h, p) :
		       0;
}
