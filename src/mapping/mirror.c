// SPDX-License-Identifier: BSD-3-Clause
/*
 * mirror: each ASID's entries as the device holds them.  The one file
 * that knows how they are kept; everything else, in this module and
 * above, goes through these functions.
 *
 * The truth is a list per ASID in IOVA order (vdm_entry.next):
 * linking and unlinking never allocate, so the mirror follows every
 * message the device accepted whatever memory is left.  The index is the
 * writer's side of the readers' trees (view.c): by IOVA, whose ref is the
 * entry, and by hva.  So an entry costs its 64 bytes of malloc and its
 * slots in the two trees the readers need anyway, where it cost two
 * 72-byte AVL nodes more (docs/rtree.md, "The mirror").  When a tree
 * could not take a change (no memory) the view is stale until the next
 * publish rebuilds it; until then the queries below walk the list, O(n),
 * and stay exact.
 *
 * The mirror changes only through vdm_mirror_insert/remove, which callers
 * invoke after the device accepted the matching message.  An iteration by
 * IOVA follows the list and stays valid while its current entry stays; one
 * by hva is valid until the mirror's next change.
 */
#include <stdlib.h>

#include "mapping/mapping.h"
#include "uapi/vhost_vdpa.h"

static bool indexed(const struct vdpamap *h, uint32_t asid)
{
	return !h->map->view[asid].stale;
}

static struct vdm_entry *ref_entry(const struct rt_ent *x)
{
	return (struct vdm_entry *)(uintptr_t)x->ref;
}

/* The first entry of asid whose last is >= p (the one containing p or the
 * next one), or NULL. */
static struct vdm_entry *first_from(struct vdpamap *h, uint32_t asid,
				    uint64_t p)
{
	struct vdm_entry *e;
	struct rt_iter it;
	struct rt_ent x;

	if (indexed(h, asid))
		return rt_iter_first(&h->map->view[asid].by_iova, &it, p,
				     UINT64_MAX, &x) ?
			       ref_entry(&x) :
			       NULL;
	for (e = h->map->as[asid].head; e && e->last < p; e = e->next)
		;
	return e;
}

/* The entry of asid of greatest iova < p, or NULL: the list is singly
 * linked (8 bytes an entry less), the index finds it in O(log n). */
static struct vdm_entry *before(struct vdpamap *h, uint32_t asid, uint64_t p)
{
	struct vdm_as *as = &h->map->as[asid];
	struct vdm_entry *e = as->head, *b = NULL;
	struct rt_ent x;

	if (indexed(h, asid))
		return rt_prev(&h->map->view[asid].by_iova, p, &x) ?
			       NULL :
			       ref_entry(&x);
	/* unindexed: a bulk commit's ascending inserts, each after the
	 * last, walk the list once in all */
	if (as->finger && as->finger->iova < p) {
		b = as->finger;
		e = b->next;
	}
	for (; e && e->iova < p; e = e->next)
		b = e;
	return b;
}

void vdm_mirror_insert(struct vdpamap *h, struct vdm_entry *e)
{
	struct vdm_as *as = &h->map->as[e->asid];
	struct vdm_entry *b = before(h, e->asid, e->iova);

	/* e overlaps nothing (its map was checked against the mirror) */
	e->next = b ? b->next : as->head;
	if (b)
		b->next = e;
	else
		as->head = e;
	as->count++;
	if (!indexed(h, e->asid))
		as->finger = e;
	vdm_view_change(h, e, true);
	e->in_mirror = true;
	e->region->nr_maps++;
	if (h->info.mem_mode == VDPAMAP_MEMMODE_PA)
		h->stats.pinned_bytes += vdm_entry_size(e);
	vdm_entries_account(h, e, true);
}

void vdm_mirror_remove(struct vdpamap *h, struct vdm_entry *e)
{
	struct vdm_as *as = &h->map->as[e->asid];
	struct vdm_entry *b = before(h, e->asid, e->iova);

	if (b)
		b->next = e->next;
	else
		as->head = e->next;
	e->next = NULL;
	/* unindexed, an ascending run of removals goes on from here */
	if (as->finger == e || !indexed(h, e->asid))
		as->finger = b;
	as->count--;
	vdm_view_change(h, e, false);
	e->in_mirror = false;
	e->region->nr_maps--;
	if (h->info.mem_mode == VDPAMAP_MEMMODE_PA)
		h->stats.pinned_bytes -= vdm_entry_size(e);
	vdm_entries_account(h, e, false);
}

void vdm_mirror_init(struct vdpamap *h, uint32_t asid)
{
	struct vdm_as *as = &h->map->as[asid];

	as->head = NULL;
	as->finger = NULL;
	as->count = 0;
}

void vdm_mirror_clear(struct vdpamap *h, uint32_t asid)
{
	struct vdm_entry *e;

	while ((e = h->map->as[asid].head)) {
		vdm_mirror_remove(h, e);
		free(e);
	}
}

uint64_t vdm_mirror_count(const struct vdpamap *h, uint32_t asid)
{
	return h->map->as[asid].count;
}

struct vdm_entry *vdm_mirror_first(struct vdpamap *h, uint32_t asid,
				   uint64_t first, uint64_t last,
				   struct vdm_mirror_it *it)
{
	it->e = first_from(h, asid, first);
	it->b = last;
	it->hva = false;
	if (it->e && it->e->iova > last)
		it->e = NULL;
	return it->e;
}

/* In the index: the entry of an hva range found in by_hva. */
static struct vdm_entry *hva_entry(struct vdm_mirror_it *it, bool found,
				   const struct rt_ent *x)
{
	struct rt_ent y;

	it->e = NULL;
	if (found && !rt_lookup(&it->v->by_iova, x->val, &y))
		it->e = ref_entry(&y);
	return it->e;
}

/* Not indexed: the next entry from e on whose hva range meets [a, b]. */
static struct vdm_entry *hva_scan(struct vdm_mirror_it *it, struct vdm_entry *e)
{
	for (; e; e = e->next)
		if (e->hva <= it->b &&
		    e->hva + (vdm_entry_size(e) - 1) >= it->a)
			break;
	it->e = e;
	return e;
}

struct vdm_entry *vdm_mirror_hva_first(struct vdpamap *h, uint32_t asid,
				       uint64_t first, uint64_t last,
				       struct vdm_mirror_it *it)
{
	struct rt_ent x;

	it->a = first;
	it->b = last;
	it->hva = true;
	it->v = &h->map->view[asid];
	it->scan = !indexed(h, asid);
	if (it->scan)
		return hva_scan(it, h->map->as[asid].head);
	return hva_entry(it,
			 rt_iter_first(&it->v->by_hva, &it->rt, first, last,
				       &x),
			 &x);
}

struct vdm_entry *vdm_mirror_next(struct vdm_mirror_it *it)
{
	struct rt_ent x;

	if (!it->hva) {
		it->e = it->e->next;
		if (it->e && it->e->iova > it->b)
			it->e = NULL;
		return it->e;
	}
	if (it->scan)
		return hva_scan(it, it->e->next);
	return hva_entry(it, rt_iter_next(&it->rt, &x), &x);
}

struct vdm_entry *vdm_mirror_lookup(struct vdpamap *h, uint32_t asid,
				    uint64_t iova)
{
	struct vdm_entry *e = first_from(h, asid, iova);

	return e && e->iova <= iova ? e : NULL;
}

/* Not indexed: first fit along the list. */
static int hole_scan(struct vdpamap *h, uint32_t asid, uint64_t lo, uint64_t hi,
		     uint64_t size, uint64_t align, uint64_t *ret)
{
	const struct vdm_entry *e = h->map->as[asid].head;
	uint64_t s = lo;

	for (;;) {
		/* s aligned up, then [s, s + size - 1] inside [lo, hi] */
		if (s & (align - 1)) {
			if (s > UINT64_MAX - (align - 1))
				return -ENOSPC;
			s = (s + align - 1) & ~(align - 1);
		}
		if (s > hi || hi - s < size - 1)
			return -ENOSPC;
		while (e && e->last < s)
			e = e->next;
		if (!e || e->iova > s + (size - 1)) {
			*ret = s;
			return 0;
		}
		if (e->last == UINT64_MAX)
			return -ENOSPC;
		s = e->last + 1;
	}
}

int vdm_mirror_find_hole(struct vdpamap *h, uint32_t asid, uint64_t lo,
			 uint64_t hi, uint64_t size, uint64_t align,
			 uint64_t *ret)
{
	if (!size || !align || (align & (align - 1)) || lo > hi)
		return -ENOSPC;
	if (!indexed(h, asid))
		return hole_scan(h, asid, lo, hi, size, align, ret);
	if (rt_find_hole(&h->map->view[asid].by_iova, lo, hi, size, align, ret))
		return -ENOSPC;
	return 0;
}

bool vdm_range_mapped(struct vdpamap *h, uint32_t asid, uint64_t iova,
		      uint64_t size)
{
	uint64_t last = iova + size - 1, p = iova;

	if (!size || last < iova || asid >= h->info.nr_as)
		return false;
	for (;;) {
		const struct vdm_entry *e = vdm_mirror_lookup(h, asid, p);

		if (!e)
			return false;
		if (e->last >= last)
			return true;
		p = e->last + 1;
	}
}

void vdm_mirror_apply(struct vdpamap *h, const struct vdm_msg *m)
{
	if (m->type == VHOST_IOTLB_UPDATE)
		vdm_mirror_insert(h, m->e);
	else
		vdm_mirror_remove(h, m->e);
}
