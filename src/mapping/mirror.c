// SPDX-License-Identifier: BSD-3-Clause
/*
 * mirror: each ASID's entries as the device holds them, by IOVA (pairwise
 * disjoint) and by hva (overlapping: one piece of memory may be mapped at
 * several IOVAs).  The one file that knows how the mirror is indexed;
 * everything else, in this module and above, goes through these
 * functions, so the index can change without touching its users.
 *
 * The mirror changes only through vdm_mirror_insert/remove, which callers
 * invoke after the device accepted the matching message.  An iterator is
 * valid until the mirror's next change: a caller that changes the mirror
 * collects the entries first.
 */
#include <stdlib.h>

#include "mapping/mapping.h"

void vdm_mirror_insert(struct vdpamap *h, struct vdm_entry *e)
{
	struct vdm_as *as = &h->map->as[e->asid];

	e->inode.first = e->iova;
	e->inode.last = e->last;
	itree_insert(&as->iova, &e->inode);
	e->hnode.first = e->hva;
	e->hnode.last = e->hva + vdm_entry_size(e) - 1;
	itree_insert(&as->hva, &e->hnode);
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

	itree_remove(&as->iova, &e->inode);
	itree_remove(&as->hva, &e->hnode);
	vdm_view_change(h, e, false);
	e->in_mirror = false;
	e->region->nr_maps--;
	if (h->info.mem_mode == VDPAMAP_MEMMODE_PA)
		h->stats.pinned_bytes -= vdm_entry_size(e);
	vdm_entries_account(h, e, false);
}

void vdm_mirror_init(struct vdpamap *h, uint32_t asid)
{
	itree_init(&h->map->as[asid].iova);
	itree_init(&h->map->as[asid].hva);
}

/* Remove and free every entry of asid. */
void vdm_mirror_clear(struct vdpamap *h, uint32_t asid)
{
	struct itree_node *n;

	while ((n = itree_first(&h->map->as[asid].iova))) {
		struct vdm_entry *e = vdm_entry_of(n);

		vdm_mirror_remove(h, e);
		free(e);
	}
}

uint64_t vdm_mirror_count(const struct vdpamap *h, uint32_t asid)
{
	return h->map->as[asid].iova.count;
}

static struct vdm_entry *it_entry(struct vdm_mirror_it *it)
{
	if (!it->n)
		return NULL;
	return it->hva ? vdm_entry_of_hva(it->n) : vdm_entry_of(it->n);
}

struct vdm_entry *vdm_mirror_first(struct vdpamap *h, uint32_t asid,
				   uint64_t first, uint64_t last,
				   struct vdm_mirror_it *it)
{
	it->a = first;
	it->b = last;
	it->hva = false;
	it->n = itree_iter_first(&h->map->as[asid].iova, first, last);
	return it_entry(it);
}

struct vdm_entry *vdm_mirror_hva_first(struct vdpamap *h, uint32_t asid,
				       uint64_t first, uint64_t last,
				       struct vdm_mirror_it *it)
{
	it->a = first;
	it->b = last;
	it->hva = true;
	it->n = itree_iter_first(&h->map->as[asid].hva, first, last);
	return it_entry(it);
}

struct vdm_entry *vdm_mirror_next(struct vdm_mirror_it *it)
{
	it->n = itree_iter_next(it->n, it->a, it->b);
	return it_entry(it);
}

struct vdm_entry *vdm_mirror_lookup(struct vdpamap *h, uint32_t asid,
				    uint64_t iova)
{
	struct itree_node *n = itree_lookup(&h->map->as[asid].iova, iova);

	return n && n->last >= iova ? vdm_entry_of(n) : NULL;
}

int vdm_mirror_find_hole(struct vdpamap *h, uint32_t asid, uint64_t lo,
			 uint64_t hi, uint64_t size, uint64_t align,
			 uint64_t *ret)
{
	if (itree_find_hole(&h->map->as[asid].iova, lo, hi, size, align, ret))
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
