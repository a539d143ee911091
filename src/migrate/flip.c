// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip: the SVQ ASID flip.  A VMM that shadows virtqueues moves vq groups to
 * a shadow ASID that maps only its shadow vrings; guest memory, mapped in
 * the ASID the groups leave, is not touched (no UPDATE, no INVALIDATE).
 *
 * A flip is validated completely before anything is sent (the kernel would
 * flatten every error to EFAULT), then runs as a sequence of steps, each
 * undone in reverse if a later one fails:
 *
 *   SUSPEND                     when the device runs and the caller did not
 *   UPDATE shadow areas         one batch, IOVAs from holes free in the
 *                               shadow ASID and in the ASIDs the groups
 *                               leave (shadow and guest IOVAs never alias)
 *   SET_GROUP_ASID              remembered in h->lc->group_asid: a reset
 *                               re-applies it (reset.c)
 *   re-point vrings             ENABLE 0, NUM, BASE, ADDR, ENABLE 1: the
 *                               parent latches ring addresses when a vq is
 *                               enabled (vdpa_sim's vdpasim_queue_ready),
 *                               so a running vq needs the enable cycle
 *                               (ENABLE_AFTER_DRIVER_OK)
 *   RESUME                      when we suspended
 *
 * Linux 6.12's vdpa_sim accepts SET_GROUP_ASID at any time and applies it
 * at once (vringh_set_iotlb); the suspend makes the switch atomic for the
 * device: it neither reads the old rings through the new ASID nor the new
 * rings through the old one.  A device that cannot be suspended can be
 * flipped before DRIVER_OK (reset, flip, restart: the flip survives reset).
 *
 * Each active flip is a record on h->mig->flips: its groups and their
 * previous ASIDs, its shadow maps (IOVA and size; they are ordinary mirror entries)
 * and the vrings it re-pointed with their previous setup, for unflip.
 */
#include <stdlib.h>
#include <time.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

/* Everything a flip will do, worked out before anything is sent. */
struct plan {
	uint32_t shadow;
	bool suspend;
	bool buffers_moved;
	uint32_t nr_groups;
	uint32_t *groups;
	uint32_t *prev;
	uint32_t *dgrp;			/* per vq: its rings' group */
	uint32_t nr_ents;
	struct vdm_entry **ents;		/* new shadow entries */
	uint32_t nr_rings;
	struct vdm_flip_ring *rings;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void plan_free(struct plan *p)
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

/* ---- device steps; every device error becomes -EIO (logged with the
 * device's own errno), as for refused IOTLB messages */
static int dev_ioctl(struct vdpamap *h, unsigned long req, void *arg,
		     const char *what, uint32_t idx)
{
	int r = vdm_ioctl(h, req, arg);

	if (r >= 0)
		return 0;
	vdm_err(h, "flip: %s %u: %d", what, idx, r);
	return -EIO;
}

/* Point vq at rings v (NUM, BASE, ADDR), inside an ENABLE 0/1 cycle when
 * the vq is enabled so that the parent latches the new addresses. */
static int vring_point(struct vdpamap *h, uint32_t vq,
		       const struct vdpamap_vring *v, bool cycle)
{
	struct vhost_vring_state st = { .index = vq };
	struct vhost_vring_addr a = {
		.index = vq,
		.desc_user_addr = v->desc,
		.avail_user_addr = v->avail,
		.used_user_addr = v->used,
	};
	int r;

	if (cycle) {
		st.num = 0;
		r = dev_ioctl(h, VHOST_VDPA_SET_VRING_ENABLE, &st,
			      "disable vq", vq);
		if (r < 0)
			return r;
	}
	st.num = v->num;
	r = dev_ioctl(h, VHOST_SET_VRING_NUM, &st, "SET_VRING_NUM vq", vq);
	if (r < 0)
		return r;
	st.num = v->base;
	r = dev_ioctl(h, VHOST_SET_VRING_BASE, &st, "SET_VRING_BASE vq", vq);
	if (r < 0)
		return r;
	r = dev_ioctl(h, VHOST_SET_VRING_ADDR, &a, "SET_VRING_ADDR vq", vq);
	if (r < 0)
		return r;
	if (cycle) {
		st.num = 1;
		r = dev_ioctl(h, VHOST_VDPA_SET_VRING_ENABLE, &st,
			      "enable vq", vq);
		if (r < 0)
			return r;
	}
	vdm_vring_rings_set(h, vq, v);
	return 0;
}

static int vring_base(struct vdpamap *h, uint32_t vq, uint32_t *ret)
{
	struct vhost_vring_state st = { .index = vq };
	int r;

	r = dev_ioctl(h, VHOST_GET_VRING_BASE, &st, "GET_VRING_BASE vq", vq);
	if (r == 0)
		*ret = st.num;
	return r;
}

static int suspend_resume(struct vdpamap *h, bool resume)
{
	return dev_ioctl(h, resume ? VHOST_VDPA_RESUME : VHOST_VDPA_SUSPEND,
			 NULL, resume ? "RESUME" : "SUSPEND", 0);
}

static void msg_insert(struct vdpamap *h, const struct vdm_msg *m)
{
	vdm_mirror_insert(h, m->e);
}

static void msg_remove(struct vdpamap *h, const struct vdm_msg *m)
{
	vdm_mirror_remove(h, m->e);
}

/* Send type for ents[0..n) (one batch: they share an ASID); on failure send
 * the inverse of what was accepted.  0, -EIO (nothing changed) or
 * -ENOTRECOVERABLE (the inverse failed too: poisoned). */
static int iotlb_all(struct vdpamap *h, struct vdm_entry **ents, uint32_t n,
		     uint8_t type)
{
	uint8_t inv = type == VHOST_IOTLB_UPDATE ? VHOST_IOTLB_INVALIDATE :
						   VHOST_IOTLB_UPDATE;
	struct vdm_msg *m;
	size_t done, undone;
	uint32_t i;
	int err = 0, err2 = 0;

	if (!n)
		return 0;
	m = calloc(n, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		m[i] = (struct vdm_msg){ type, ents[i] };
	done = vdm_iotlb_run(h, m, n, type == VHOST_IOTLB_UPDATE ?
				     msg_insert : msg_remove, &err);
	if (!err) {
		free(m);
		return 0;
	}
	for (i = 0; i < done; i++)
		m[i] = (struct vdm_msg){ inv, ents[done - 1 - i] };
	undone = vdm_iotlb_run(h, m, done,
			      inv == VHOST_IOTLB_UPDATE ? msg_insert :
							  msg_remove, &err2);
	free(m);
	if (err2 || undone != done) {
		vdm_poison(h, "flip: undoing %zu shadow map messages failed "
			  "(%d)", done, err2);
		return -ENOTRECOVERABLE;
	}
	return -EIO;
}

/* ---- validation */
static int check_area(struct vdpamap *h, const struct plan *p, uint32_t i,
		      const struct vdpamap_shadow *s)
{
	uint64_t mask = (h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) ?
				0 : h->page_size - 1;
	uint64_t hva = (uintptr_t)s->hva;
	uint32_t k;

	if (s->reserved0 || s->reserved[0] || s->reserved[1]) {
		vdm_err(h, "flip: shadows[%u]: reserved fields must be 0", i);
		return -EINVAL;
	}
	if (!s->hva || !s->size || ((hva | s->size) & mask) ||
	    hva + (s->size - 1) < hva || s->perm > VDPAMAP_PERM_RW) {
		vdm_err(h, "flip: shadows[%u] hva %p size 0x%llx perm %u: empty, "
		       "unaligned, wrapping or a bad perm", i, s->hva,
		       (unsigned long long)s->size, s->perm);
		return -EINVAL;
	}
	if (!vdm_region_find(h, hva, s->size)) {
		vdm_err(h, "flip: shadows[%u] [%p, +0x%llx) is not inside one "
		       "registered region", i, s->hva,
		       (unsigned long long)s->size);
		return -EFAULT;
	}
	for (k = 0; k < p->nr_groups; k++) {
		struct itree_node *n = itree_iter_first(
			&h->map->as[p->prev[k]].hva, hva, hva + s->size - 1);

		if (n) {
			struct vdm_entry *e = vdm_entry_of_hva(n);

			vdm_err(h, "flip: shadows[%u] [%p, +0x%llx) overlaps "
			       "guest memory mapped in ASID %u at iova 0x%llx",
			       i, s->hva, (unsigned long long)s->size,
			       p->prev[k], (unsigned long long)e->inode.first);
			return -EEXIST;
		}
	}
	return 0;
}

/* The shadow ASID must not reach memory the groups' ASIDs map. */
static int check_shadow_as(struct vdpamap *h, const struct plan *p)
{
	struct itree_node *n;
	uint32_t k;

	for (k = 0; k < p->nr_groups; k++) {
		if (p->prev[k] == p->shadow) {
			vdm_err(h, "flip: group %u is bound to ASID %u already: "
			       "the shadow ASID would be its guest memory",
			       p->groups[k], p->shadow);
			return -EEXIST;
		}
	}
	for (n = itree_first(&h->map->as[p->shadow].iova); n; n = itree_next(n)) {
		struct vdm_entry *e = vdm_entry_of(n);
		uint64_t last = e->hva + vdm_entry_size(e) - 1;

		for (k = 0; k < p->nr_groups; k++) {
			if (!itree_iter_first(&h->map->as[p->prev[k]].hva, e->hva,
					      last))
				continue;
			vdm_err(h, "flip: shadow ASID %u maps iova 0x%llx to hva "
			       "0x%llx, memory ASID %u (group %u) maps: the "
			       "device could write it behind the shadow "
			       "virtqueue", p->shadow,
			       (unsigned long long)n->first,
			       (unsigned long long)e->hva, p->prev[k],
			       p->groups[k]);
			return -EEXIST;
		}
	}
	return 0;
}

/* Lowest aligned hole of size free in the shadow ASID, in every ASID a
 * group leaves and among the areas placed so far. */
static int alloc_iova(struct vdpamap *h, const struct plan *p, uint32_t placed,
		      uint64_t size, uint64_t *ret)
{
	uint64_t align = (h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) ?
				 1 : h->page_size;
	uint64_t lo = h->info.iova_first, hi = h->info.iova_last, s, last;

	for (;;) {
		uint64_t bump = 0;
		uint32_t k;

		if (lo > hi || itree_find_hole(&h->map->as[p->shadow].iova, lo, hi,
					       size, align, &s) < 0)
			return -ENOSPC;
		last = s + size - 1;
		for (k = 0; k < p->nr_groups; k++) {
			struct itree_node *n = itree_iter_first(
				&h->map->as[p->prev[k]].iova, s, last);

			for (; n; n = itree_iter_next(n, s, last))
				if (n->last > bump)
					bump = n->last;
		}
		for (k = 0; k < placed; k++) {
			const struct itree_node *n = &p->ents[k]->inode;

			if (n->first <= last && s <= n->last && n->last > bump)
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

static bool ring_ok(uint64_t off, uint64_t len, uint64_t align, uint64_t size)
{
	return !(off & (align - 1)) && off < size && len <= size - off;
}

/* Ring byte sizes of a split virtqueue of num entries. */
static void ring_sizes(uint32_t num, uint64_t sz[3])
{
	sz[0] = 16ULL * num;
	sz[1] = 6 + 2ULL * num;
	sz[2] = 6 + 8ULL * num;
}

static int check_vring(struct vdpamap *h, struct plan *p,
		       const struct vdpamap_flip_opts *o, uint32_t i,
		       const struct vdpamap_flip_vring *fv, bool started)
{
	const struct vdpamap_shadow *s;
	struct vdm_flip_ring *fr;
	uint64_t sz[3];
	uint32_t num, k;

	if (fv->vq >= h->info.nr_vqs) {
		vdm_err(h, "flip: vrings[%u]: no vq %u (%u vqs)", i, fv->vq,
		       h->info.nr_vqs);
		return -ENOENT;
	}
	if (fv->reserved0 || fv->reserved[0] || fv->reserved[1] ||
	    (fv->flags & ~VDPAMAP_FLIP_VRING_BASE) ||
	    fv->shadow >= o->nr_shadows) {
		vdm_err(h, "flip: vrings[%u]: reserved fields, unknown flags or "
		       "shadow index %u of %u", i, fv->shadow, o->nr_shadows);
		return -EINVAL;
	}
	if (!h->lc->vrings[fv->vq].set) {
		vdm_err(h, "flip: vrings[%u]: vq %u was never set up "
		       "(vdpamap_vring_set()): nothing to return to", i,
		       fv->vq);
		return -EINVAL;
	}
	if (!in_set(p->groups, p->nr_groups, p->dgrp[fv->vq])) {
		vdm_err(h, "flip: vrings[%u]: the rings of vq %u are in group "
		       "%u, which does not move", i, fv->vq, p->dgrp[fv->vq]);
		return -EINVAL;
	}
	for (k = 0; k < p->nr_rings; k++) {
		if (p->rings[k].vq == fv->vq) {
			vdm_err(h, "flip: vrings[%u]: vq %u twice", i, fv->vq);
			return -EINVAL;
		}
	}
	num = fv->num ? fv->num : h->lc->vrings[fv->vq].v.num;
	if (!num || (num & (num - 1)) ||
	    (h->info.max_vring_num && num > h->info.max_vring_num)) {
		vdm_err(h, "flip: vrings[%u]: ring size %u (max %u, power of "
		       "two)", i, num, h->info.max_vring_num);
		return -EINVAL;
	}
	s = &o->shadows[fv->shadow];
	ring_sizes(num, sz);
	if (!ring_ok(fv->desc, sz[0], 16, s->size) ||
	    !ring_ok(fv->avail, sz[1], 2, s->size) ||
	    !ring_ok(fv->used, sz[2], 4, s->size)) {
		vdm_err(h, "flip: vrings[%u]: rings at 0x%llx/0x%llx/0x%llx of "
		       "%u entries do not fit, aligned, in shadows[%u] (0x%llx "
		       "bytes)", i, (unsigned long long)fv->desc,
		       (unsigned long long)fv->avail,
		       (unsigned long long)fv->used, num, fv->shadow,
		       (unsigned long long)s->size);
		return -EINVAL;
	}
	if (started && h->lc->vrings[fv->vq].enabled &&
	    !vdm_has_feature(h, VDPAMAP_F_ENABLE_AFTER_DRIVER_OK)) {
		vdm_err(h, "flip: vq %u runs: re-pointing it needs "
		       "ENABLE_AFTER_DRIVER_OK (not negotiated); reset, flip "
		       "and restart instead", fv->vq);
		return -EOPNOTSUPP;
	}
	fr = &p->rings[p->nr_rings++];
	fr->vq = fv->vq;
	fr->enabled = h->lc->vrings[fv->vq].enabled;
	fr->guest = h->lc->vrings[fv->vq].v;
	fr->shadow = fr->guest;
	fr->shadow.num = num;
	/* iovas are filled in once the areas are placed; base after the
	 * suspend (VDPAMAP_FLIP_VRING_BASE aside) */
	fr->shadow.desc = fv->desc;
	fr->shadow.avail = fv->avail;
	fr->shadow.used = fv->used;
	fr->shadow.base = fv->base;
	fr->shadow.reserved[0] = fv->shadow;	/* area, until placed */
	fr->shadow.reserved[1] = fv->flags;
	return 0;
}

static bool planned_mapped(struct vdpamap *h, const struct plan *p,
			   uint64_t iova, uint64_t size)
{
	uint32_t i;

	if (vdm_range_mapped(h, p->shadow, iova, size))
		return true;
	for (i = 0; i < p->nr_ents; i++) {
		const struct itree_node *n = &p->ents[i]->inode;

		if (iova >= n->first && iova + size - 1 <= n->last)
			return true;
	}
	return false;
}

/* A device resumed by the flip must find every enabled ring of a moved
 * group in the shadow ASID. */
static int check_running_rings(struct vdpamap *h, const struct plan *p)
{
	static const char *const part[] = { "desc", "avail", "used" };
	uint32_t vq, k;

	for (vq = 0; vq < h->info.nr_vqs; vq++) {
		const struct vdm_vring *vr = &h->lc->vrings[vq];
		const struct vdpamap_vring *v = &vr->v;
		uint64_t addr[3], sz[3];

		if (!vr->set || !vr->enabled ||
		    !in_set(p->groups, p->nr_groups, p->dgrp[vq]))
			continue;
		for (k = 0; k < p->nr_rings; k++)
			if (p->rings[k].vq == vq)
				v = &p->rings[k].shadow;
		addr[0] = v->desc;
		addr[1] = v->avail;
		addr[2] = v->used;
		ring_sizes(v->num, sz);
		for (k = 0; k < 3; k++) {
			if (planned_mapped(h, p, addr[k], sz[k]))
				continue;
			vdm_err(h, "flip: vq %u %s ring [0x%llx, +0x%llx) would "
			       "not be mapped in shadow ASID %u: give its "
			       "shadow rings in vrings", vq, part[k],
			       (unsigned long long)addr[k],
			       (unsigned long long)sz[k], p->shadow);
			return -EFAULT;
		}
	}
	return 0;
}

static int add_group(struct vdpamap *h, struct plan *p, uint32_t g)
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

static int plan_flip(struct vdpamap *h, uint32_t shadow,
		     const struct vdpamap_flip_opts *o, struct plan *p)
{
	const uint32_t known = VDPAMAP_FLIP_WHOLE_GROUP |
			       VDPAMAP_FLIP_SUSPENDED;
	bool desc = vdm_has_feature(h, VDPAMAP_F_DESC_ASID);
	bool started = h->lc->status & VDPAMAP_S_DRIVER_OK;
	uint64_t need = 0;
	uint32_t i, vq;
	int r;

	if (!vdm_has_feature(h, VDPAMAP_F_IOTLB_ASID)) {
		vdm_err(h, "flip: needs IOTLB_ASID (not negotiated)");
		return -EOPNOTSUPP;
	}
	if (shadow >= h->info.nr_as) {
		vdm_err(h, "flip: shadow asid %u out of range (%u address "
		       "spaces)", shadow, h->info.nr_as);
		return -ERANGE;
	}
	if (!o || (o->flags & ~known) || (!o->nr_vqs && !o->nr_groups) ||
	    (o->nr_vqs && !o->vqs) || (o->nr_groups && !o->groups) ||
	    (o->nr_shadows && !o->shadows) || (o->nr_vrings && !o->vrings) ||
	    o->nr_vrings > h->info.nr_vqs) {
		vdm_err(h, "flip: opts: nothing to move, a NULL array with a "
		       "count, too many vrings or unknown flags 0x%x",
		       o ? o->flags : 0);
		return -EINVAL;
	}
	if (started && !(o->flags & VDPAMAP_FLIP_SUSPENDED)) {
		if (!vdm_has_feature(h, VDPAMAP_F_SUSPEND) ||
		    !vdm_has_feature(h, VDPAMAP_F_RESUME)) {
			vdm_err(h, "flip: the device runs and cannot be "
			       "suspended (SUSPEND/RESUME not negotiated): "
			       "reset it, flip, then restart");
			return -EOPNOTSUPP;
		}
		p->suspend = true;
	}
	p->shadow = shadow;
	p->groups = calloc(h->info.nr_groups, sizeof(*p->groups));
	p->prev = calloc(h->info.nr_groups, sizeof(*p->prev));
	p->dgrp = calloc(h->info.nr_vqs, sizeof(*p->dgrp));
	p->ents = calloc(o->nr_shadows ? o->nr_shadows : 1, sizeof(*p->ents));
	p->rings = calloc(o->nr_vrings ? o->nr_vrings : 1, sizeof(*p->rings));
	if (!p->groups || !p->prev || !p->dgrp || !p->ents || !p->rings)
		return -ENOMEM;
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
	/* where every vq's rings live: its descriptor group with DESC_ASID,
	 * as read (and checked) at open: asking the device here would send
	 * ioctls before the flip is known to be valid */
	for (vq = 0; vq < h->info.nr_vqs; vq++)
		p->dgrp[vq] = desc ? h->lc->vq_desc_group[vq] : h->lc->vq_group[vq];
	for (i = 0; i < o->nr_groups; i++) {
		r = add_group(h, p, o->groups[i]);
		if (r < 0)
			return r;
	}
	for (i = 0; i < o->nr_vqs; i++) {
		vq = o->vqs[i];
		r = add_group(h, p, (o->flags & VDPAMAP_FLIP_WHOLE_GROUP) ?
					    h->lc->vq_group[vq] : p->dgrp[vq]);
		if (r < 0)
			return r;
	}
	for (vq = 0; vq < h->info.nr_vqs; vq++)
		if (in_set(p->groups, p->nr_groups, h->lc->vq_group[vq]))
			p->buffers_moved = true;
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
		r = check_vring(h, p, o, i, &o->vrings[i], started);
		if (r < 0)
			return r;
	}
	r = vdm_memlock_check(h, need);
	if (r < 0)
		return r;
	/* place the areas */
	for (i = 0; i < o->nr_shadows; i++) {
		const struct vdpamap_shadow *s = &o->shadows[i];
		struct vdm_entry *e;
		uint64_t iova;

		r = alloc_iova(h, p, i, s->size, &iova);
		if (r < 0) {
			vdm_err(h, "flip: no hole of 0x%llx bytes in shadow ASID "
			       "%u", (unsigned long long)s->size, shadow);
			return r;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->inode.first = iova;
		e->inode.last = iova + s->size - 1;
		e->hva = (uintptr_t)s->hva;
		e->asid = shadow;
		e->perm = s->perm ? s->perm : VDPAMAP_PERM_RW;
		e->region = vdm_region_find(h, e->hva, s->size);
		p->ents[p->nr_ents++] = e;
	}
	for (i = 0; i < p->nr_rings; i++) {
		struct vdpamap_vring *v = &p->rings[i].shadow;
		uint64_t base = p->ents[v->reserved[0]]->inode.first;

		v->desc += base;
		v->avail += base;
		v->used += base;
	}
	if (p->suspend)
		return check_running_rings(h, p);
	return 0;
}

/* ---- flip */
static void info_fill(struct vdpamap *h, struct vdpamap_flip_info *in,
		      const struct vdpamap_stats *s0, uint64_t t0)
{
	in->iotlb_msgs = h->stats.iotlb_writes - s0->iotlb_writes;
	in->iotlb_updates = h->stats.iotlb_updates - s0->iotlb_updates;
	in->iotlb_invalidates =
		h->stats.iotlb_invalidates - s0->iotlb_invalidates;
	in->ioctls = h->stats.ioctls - s0->ioctls;
	in->ns = now_ns() - t0;
}

/* Re-point rings[0..n) back to where they were (undo). */
static int rings_back(struct vdpamap *h, struct vdm_flip_ring *rings,
		      uint32_t n)
{
	int err = 0;

	while (n--) {
		struct vdpamap_vring g = rings[n].guest;
		int r = vring_base(h, rings[n].vq, &g.base);

		if (r == 0)
			r = vring_point(h, rings[n].vq, &g, rings[n].enabled);
		if (r < 0)
			err = r;
	}
	return err;
}

static int groups_to(struct vdpamap *h, const uint32_t *groups,
		     const uint32_t *asid, uint32_t shadow, uint32_t n)
{
	int err = 0;

	while (n--) {
		int r = vdm_group_asid_apply(h, groups[n], asid ? asid[n] :
								  shadow);

		if (r < 0)
			err = r;
	}
	return err;
}

static struct vdm_flip *record(struct vdpamap *h, struct plan *p)
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
		f->maps[i][0] = p->ents[i]->inode.first;
		f->maps[i][1] = vdm_entry_size(p->ents[i]);
	}
	f->nr_rings = p->nr_rings;
	memcpy(f->rings, p->rings, p->nr_rings * sizeof(*f->rings));
	for (i = 0; i < f->nr_rings; i++)
		memset(f->rings[i].shadow.reserved, 0,
		       sizeof(f->rings[i].shadow.reserved));
	return f;
}

VDPAMAP_API int vdpamap_flip(struct vdpamap *h, uint32_t shadow_asid,
			     const struct vdpamap_flip_opts *opts,
			     struct vdpamap_flip_info *info)
{
	struct vdpamap_flip_info in = { 0 };
	struct plan p = { 0 };
	struct vdpamap_stats s0;
	struct vdm_flip *f = NULL;
	uint32_t i, g = 0, k = 0;
	uint64_t t0 = now_ns();
	int r, u = 0;

	r = vdm_enter_idle(h, false, "vdpamap_flip");
	if (r < 0)
		return r;
	s0 = h->stats;
	r = OPTS_CHECK(h, "flip", opts, vdpamap_flip_opts);
	if (r < 0)
		goto out;
	r = plan_flip(h, shadow_asid, opts, &p);
	if (r < 0)
		goto out;
	f = vdm_migrate_get(h) ? record(h, &p) : NULL;
	if (!f) {
		r = -ENOMEM;
		goto out;
	}

	if (p.suspend) {
		r = suspend_resume(h, false);
		if (r < 0)
			goto out;
	}
	r = iotlb_all(h, p.ents, p.nr_ents, VHOST_IOTLB_UPDATE);
	if (r < 0)
		goto undo_suspend;
	for (g = 0; g < p.nr_groups; g++) {
		r = vdm_group_asid_apply(h, p.groups[g], shadow_asid);
		if (r < 0) {
			r = -EIO;
			goto undo_groups;
		}
	}
	for (k = 0; k < p.nr_rings; k++) {
		struct vdm_flip_ring *fr = &p.rings[k];

		if (!(fr->shadow.reserved[1] & VDPAMAP_FLIP_VRING_BASE)) {
			r = vring_base(h, fr->vq, &fr->shadow.base);
			if (r < 0)
				goto undo_rings;
		}
		fr->shadow.reserved[0] = fr->shadow.reserved[1] = 0;
		r = vring_point(h, fr->vq, &fr->shadow, fr->enabled);
		if (r < 0) {
			k++;	/* partly pointed: point it back too */
			goto undo_rings;
		}
		f->rings[k].shadow = fr->shadow;
	}
	if (p.suspend) {
		r = suspend_resume(h, true);
		if (r < 0)
			goto undo_rings;
	}

	if (h->mig->next_flip_id >= INT32_MAX)
		h->mig->next_flip_id = 0;
	f->id = ++h->mig->next_flip_id;
	f->next = h->mig->flips;
	h->mig->flips = f;
	for (i = 0; i < p.nr_ents; i++)
		opts->shadows[i].iova = p.ents[i]->inode.first;
	in.id = f->id;
	in.nr_groups = p.nr_groups;
	in.buffers_moved = p.buffers_moved;
	in.suspended = p.suspend;
	info_fill(h, &in, &s0, t0);
	vdm_info(h, "flip %u: %u group(s) to ASID %u, %u shadow map(s), %u "
		"ring(s), %llu IOTLB messages, %llu ns", f->id, p.nr_groups,
		shadow_asid, p.nr_ents, p.nr_rings,
		(unsigned long long)in.iotlb_msgs, (unsigned long long)in.ns);
	if (info)
		*info = in;
	r = (int)f->id;
	f = NULL;
	goto out;

undo_rings:
	u |= rings_back(h, p.rings, k);
undo_groups:
	u |= groups_to(h, p.groups, p.prev, 0, g);
	if (r != -ENOTRECOVERABLE) {
		int ru = iotlb_all(h, p.ents, p.nr_ents,
				   VHOST_IOTLB_INVALIDATE);

		if (ru < 0)
			u |= ru;
		else
			for (i = 0; i < p.nr_ents; i++) {
				free(p.ents[i]);
				p.ents[i] = NULL;
			}
	}
undo_suspend:
	if (p.suspend && suspend_resume(h, true) < 0)
		u |= -EIO;
	if (u && r != -ENOTRECOVERABLE)
		vdm_poison(h, "flip to ASID %u failed (%d) and could not be "
			  "undone", shadow_asid, r);
out:
	if (r < 0 && h->poison)	/* an undo failed, or a reply was lost */
		r = -ENOTRECOVERABLE;
	vdm_flip_free(f);
	plan_free(&p);
	vdm_leave(h);
	return r;
}

/* ---- unflip */
static int unflip_bases(struct vdpamap *h, struct vdm_flip *f,
			const struct vdpamap_unflip_opts *o, uint32_t *base,
			uint8_t *given)
{
	uint32_t i, k;

	if (!o)
		return 0;
	if ((o->flags & ~VDPAMAP_FLIP_SUSPENDED) ||
	    (o->nr_vrings && !o->vrings)) {
		vdm_err(h, "unflip: opts: unknown flags 0x%x or NULL vrings",
		       o->flags);
		return -EINVAL;
	}
	for (i = 0; i < o->nr_vrings; i++) {
		const struct vdpamap_flip_vring *v = &o->vrings[i];

		if (v->shadow || v->desc || v->avail || v->used || v->num ||
		    v->reserved0 || v->reserved[0] || v->reserved[1] ||
		    (v->flags & ~VDPAMAP_FLIP_VRING_BASE)) {
			vdm_err(h, "unflip: vrings[%u]: only vq, flags and base "
			       "may be set", i);
			return -EINVAL;
		}
		for (k = 0; k < f->nr_rings && f->rings[k].vq != v->vq; k++)
			;
		if (k == f->nr_rings) {
			vdm_err(h, "unflip: vrings[%u]: flip %u did not re-point "
			       "vq %u", i, f->id, v->vq);
			return -EINVAL;
		}
		if (v->flags & VDPAMAP_FLIP_VRING_BASE) {
			base[k] = v->base;
			given[k] = 1;
		}
	}
	return 0;
}

/* A device resumed by the unflip must find every enabled ring of the
 * groups going back mapped in the ASID they go back to. */
static int check_back_rings(struct vdpamap *h, const struct vdm_flip *f,
			    const struct vdm_flip_ring *back, uint32_t nb)
{
	static const char *const part[] = { "desc", "avail", "used" };
	uint32_t vq, k, g;

	for (vq = 0; vq < h->info.nr_vqs; vq++) {
		const struct vdm_vring *vr = &h->lc->vrings[vq];
		const struct vdpamap_vring *v = &vr->v;
		uint64_t addr[3], sz[3];

		if (!vr->set || !vr->enabled)
			continue;
		for (g = 0; g < f->nr_groups; g++)
			if (f->groups[g] == f->dgrp[vq])
				break;
		if (g == f->nr_groups)
			continue;
		for (k = 0; k < nb; k++)
			if (back[k].vq == vq)
				v = &back[k].guest;
		addr[0] = v->desc;
		addr[1] = v->avail;
		addr[2] = v->used;
		ring_sizes(v->num, sz);
		for (k = 0; k < 3; k++) {
			if (vdm_range_mapped(h, f->prev[g], addr[k], sz[k]))
				continue;
			vdm_err(h, "unflip: vq %u %s ring [0x%llx, +0x%llx) is not "
			       "mapped in ASID %u: re-point it or reset first",
			       vq, part[k], (unsigned long long)addr[k],
			       (unsigned long long)sz[k], f->prev[g]);
			return -EFAULT;
		}
	}
	return 0;
}

static bool still_shadow(struct vdpamap *h, const struct vdm_flip_ring *fr)
{
	const struct vdm_vring *vr = &h->lc->vrings[fr->vq];

	return vr->set && vr->v.desc == fr->shadow.desc &&
	       vr->v.avail == fr->shadow.avail &&
	       vr->v.used == fr->shadow.used;
}

VDPAMAP_API int vdpamap_unflip(struct vdpamap *h, uint32_t id,
			       const struct vdpamap_unflip_opts *opts,
			       struct vdpamap_flip_info *info)
{
	struct vdpamap_flip_info in = { 0 };
	struct vdm_flip **pp, *f;
	struct vdm_entry **ents = NULL;
	struct vdm_flip_ring *back = NULL;
	struct vdpamap_stats s0;
	uint32_t *base = NULL, i, nb = 0, ne = 0, k = 0, g = 0;
	uint8_t *given = NULL;
	uint64_t t0 = now_ns();
	bool suspend = false;
	int r, u = 0;

	r = vdm_enter_idle(h, false, "vdpamap_unflip");
	if (r < 0)
		return r;
	s0 = h->stats;
	r = OPTS_CHECK(h, "unflip", opts, vdpamap_unflip_opts);
	if (r < 0)
		goto out;
	for (pp = h->mig ? &h->mig->flips : &f; (f = *pp); pp = &f->next)
		if (f->id == id)
			break;
	if (!f) {
		vdm_err(h, "unflip: no active flip %u", id);
		r = -ENOENT;
		goto out;
	}
	base = calloc(f->nr_rings + 1, sizeof(*base));
	given = calloc(f->nr_rings + 1, 1);
	back = calloc(f->nr_rings + 1, sizeof(*back));
	ents = calloc(f->nr_maps + 1, sizeof(*ents));
	if (!base || !given || !back || !ents) {
		r = -ENOMEM;
		goto out;
	}
	r = unflip_bases(h, f, opts, base, given);
	if (r < 0)
		goto out;
	if ((h->lc->status & VDPAMAP_S_DRIVER_OK) &&
	    !(OPTS_GET(opts, flags, 0) & VDPAMAP_FLIP_SUSPENDED)) {
		if (!vdm_has_feature(h, VDPAMAP_F_SUSPEND) ||
		    !vdm_has_feature(h, VDPAMAP_F_RESUME)) {
			vdm_err(h, "unflip: the device runs and cannot be "
			       "suspended: reset it first");
			r = -EOPNOTSUPP;
			goto out;
		}
		suspend = true;
	}
	/* the rings still at this flip's shadow rings go back (a reset or
	 * a vdpamap_vring_set() since then owns the others) */
	for (i = 0; i < f->nr_rings; i++) {
		if (!still_shadow(h, &f->rings[i]))
			continue;
		back[nb] = f->rings[i];
		back[nb].shadow = h->lc->vrings[f->rings[i].vq].v;
		back[nb].guest.base = base[i];
		back[nb].guest.reserved[0] = given[i];
		back[nb].enabled = h->lc->vrings[f->rings[i].vq].enabled;
		nb++;
	}
	for (i = 0; i < f->nr_maps; i++) {
		struct itree_node *n = itree_lookup(
			&h->map->as[f->shadow_asid].iova, f->maps[i][0]);

		if (n && n->first == f->maps[i][0] &&
		    n->last - n->first + 1 == f->maps[i][1])
			ents[ne++] = vdm_entry_of(n);
		else
			vdm_warn(h, "unflip %u: shadow map at iova 0x%llx is "
				"gone: left alone", id,
				(unsigned long long)f->maps[i][0]);
	}

	if (suspend) {
		r = check_back_rings(h, f, back, nb);
		if (r < 0)
			goto out;
		r = suspend_resume(h, false);
		if (r < 0)
			goto out;
	}
	for (k = 0; k < nb; k++) {
		struct vdpamap_vring v = back[k].guest;

		if (!v.reserved[0]) {
			r = vring_base(h, back[k].vq, &v.base);
			if (r < 0)
				goto undo_rings;
		}
		v.reserved[0] = 0;
		r = vring_point(h, back[k].vq, &v, back[k].enabled);
		if (r < 0) {
			k++;
			goto undo_rings;
		}
	}
	for (g = 0; g < f->nr_groups; g++) {
		r = vdm_group_asid_apply(h, f->groups[g], f->prev[g]);
		if (r < 0) {
			r = -EIO;
			goto undo_groups;
		}
	}
	r = iotlb_all(h, ents, ne, VHOST_IOTLB_INVALIDATE);
	if (r < 0)
		goto undo_groups;
	if (suspend) {
		r = suspend_resume(h, true);
		if (r < 0) {
			int ru = iotlb_all(h, ents, ne, VHOST_IOTLB_UPDATE);

			if (ru < 0) {
				r = ru;
				goto undo_resume;
			}
			goto undo_groups;
		}
	}
	for (i = 0; i < ne; i++)
		free(ents[i]);
	*pp = f->next;
	in.id = f->id;
	in.nr_groups = f->nr_groups;
	in.suspended = suspend;
	info_fill(h, &in, &s0, t0);
	vdm_info(h, "unflip %u: %u group(s) back, %u shadow map(s) released, "
		"%u ring(s) back, %llu IOTLB messages", f->id, f->nr_groups,
		ne, nb, (unsigned long long)in.iotlb_msgs);
	vdm_flip_free(f);
	if (info)
		*info = in;
	r = 0;
	goto out;

undo_groups:
	u |= groups_to(h, f->groups, NULL, f->shadow_asid, g);
undo_rings:
	while (k--) {
		struct vdpamap_vring v = back[k].shadow;
		int ru = vring_base(h, back[k].vq, &v.base);

		if (ru == 0)
			ru = vring_point(h, back[k].vq, &v, back[k].enabled);
		u |= ru;
	}
	if (suspend && suspend_resume(h, true) < 0)
		u |= -EIO;
undo_resume:
	if ((u || r == -ENOTRECOVERABLE) && !h->poison)
		vdm_poison(h, "unflip %u failed (%d) and could not be undone",
			  id, r);
	if (u)
		r = -ENOTRECOVERABLE;
out:
	if (r < 0 && h->poison)	/* an undo failed, or a reply was lost */
		r = -ENOTRECOVERABLE;
	/* shadow maps invalidated and not restored: neither the device nor
	 * the mirror has them any more */
	for (i = 0; r < 0 && i < ne; i++)
		if (!ents[i]->in_mirror)
			free(ents[i]);
	free(base);
	free(given);
	free(back);
	free(ents);
	vdm_leave(h);
	return r;
}
