// SPDX-License-Identifier: BSD-3-Clause
/* Immutable per-ASID snapshots for lock-free lookups (see snapshot.h). */
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "mapping/mapping.h"
#include "core/tsan.h"

static int cmp_hent(const void *a, const void *b)
{
	const struct vdm_snap_hent *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

static struct vdm_snap *build(struct vdm_as *as)
{
	uint64_t n = as->iova.count, i = 0, max = 0;
	struct itree_node *nd;
	struct vdm_snap *s;

	s = malloc(sizeof(*s) + n * (sizeof(*s->by_iova) + sizeof(*s->by_hva)));
	if (!s)
		return NULL;
	s->n = n;
	s->by_iova = (struct vdm_snap_ent *)(s + 1);
	s->by_hva = (struct vdm_snap_hent *)(s->by_iova + n);
	for (nd = itree_first(&as->iova); nd; nd = itree_next(nd), i++) {
		struct vdm_entry *e = vdm_entry_of(nd);

		s->by_iova[i] = (struct vdm_snap_ent){ .first = nd->first,
						       .last = nd->last,
						       .hva = e->hva };
		s->by_hva[i] =
			(struct vdm_snap_hent){ .first = e->hva,
						.last = e->hva +
							(nd->last - nd->first),
						.iova = nd->first };
	}
	qsort(s->by_hva, n, sizeof(*s->by_hva), cmp_hent);
	for (i = 0; i < n; i++) {
		if (s->by_hva[i].last > max)
			max = s->by_hva[i].last;
		s->by_hva[i].max_last = max;
	}
	return s;
}

/* after a grace period: no reader can still hold s */
static void retire(struct vdm_snap *s)
{
	if (!s)
		return;
	tsan_acquire(s);
	free(s);
}

void vdm_snap_publish(struct vdpamap *h)
{
	struct vdm_snap *old[64], *s;
	uint32_t a, nold = 0;

	if (!h->map->snap_dirty)
		return;
	h->map->snap_dirty = false;
	for (a = 0; a < h->info.nr_as; a++) {
		if (!h->map->as[a].dirty)
			continue;
		s = build(&h->map->as[a]);
		if (!s) {
			h->map->snap_dirty =
				true; /* readers keep the old one */
			continue;
		}
		h->map->as[a].dirty = false;
		if (nold == ARRAY_SIZE(old)) {
			urcu_bp_synchronize_rcu();
			while (nold)
				retire(old[--nold]);
		}
		/* publish: release pairs with the readers' acquire load
		 * (rcu_assign_pointer's contract, visible to TSan) */
		old[nold++] = __atomic_exchange_n(&h->map->snap[a], s,
						  __ATOMIC_ACQ_REL);
	}
	if (!nold)
		return;
	urcu_bp_synchronize_rcu();
	while (nold)
		retire(old[--nold]);
}

void vdm_snap_free_all(struct vdpamap *h)
{
	uint32_t a;

	if (!h->map->snap)
		return;
	for (a = 0; a < h->info.nr_as; a++)
		free(h->map->snap[a]);
	free(h->map->snap);
	h->map->snap = NULL;
}
