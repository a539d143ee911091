// SPDX-License-Identifier: BSD-3-Clause
/*
 * view: what lock-free readers see of each ASID's mirror (see mapping.h).
 *
 * Two copy-on-write trees per ASID (iova_tree/rtree.h): ranges by IOVA
 * (val = hva, aux = perm, and ref = the mirror's entry, which readers never
 * read) and by hva (val = iova).  Their writer's side is the mirror's index
 * (mirror.c): one copy of each range serves both.  Every mirror change is
 * applied to the writer's side of both as it happens, O(log n); leaving
 * the handle's lock publishes each changed ASID with one store per tree.
 * What a publish replaced goes to call_rcu and is freed after a grace
 * period by liburcu's callback thread: the writer never waits for readers.
 * So a commit of k changes costs O(k log n), whatever the table's size.
 *
 * Out of memory: a change the trees could not take marks the view stale;
 * the publish then brings it back in line with the mirror (a merge of two
 * sorted walks, the only O(n) path) and, if that fails too, readers keep
 * the last consistent view until a later publish succeeds.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "mapping/mapping.h"
#include "core/tsan.h"
#include "uapi/vhost_vdpa.h"

/* ThreadSanitizer cannot see a grace period (core/tsan.h): every reader
 * and the writer release this after touching the trees, the callback that
 * frees retired nodes acquires it first. */
char vdm_view_sync;

/* the chain's first node carries its rcu_head (rt_node.cb) */
static_assert(sizeof(struct rcu_head) <= sizeof(((struct rt_node *)0)->cb),
	      "rt_node.cb holds an rcu_head");

static void free_chain(struct rt_node *n)
{
	while (n) {
		struct rt_node *next = n->rnext;

		free(n);
		n = next;
	}
}

static void retired_cb(struct rcu_head *rh)
{
	tsan_acquire(&vdm_view_sync);
	free_chain(
		(struct rt_node *)((char *)rh - offsetof(struct rt_node, cb)));
}

static void *view_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void view_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

/* Nodes a view's trees retired wait for a grace period together once
 * this many are waiting.  The trees hand over at most an eighth of their
 * live nodes at a time: a table of a few entries retires at every
 * commit, and each call_rcu wakes liburcu's callback thread into a
 * grace period, whose membarrier() interrupts every CPU the process runs
 * on (a fifth of a single-page map+unmap loop's time in the 6.12 VM,
 * where an IPI waits for another emulated CPU).  32 nodes are ~17 KiB
 * per ASID, whatever the table's size. */
#define VIEW_RETIRE_MIN 32

static void view_retire(void *ctx, struct rt_node *chain)
{
	struct vdm_view *v = ctx;
	struct rt_node *last = chain;
	uint32_t k = 1;

	while (last->rnext) {
		last = last->rnext;
		k++;
	}
	last->rnext = v->limbo;
	v->limbo = chain;
	v->nlimbo += k;
	if (v->nlimbo < VIEW_RETIRE_MIN)
		return;
	v->limbo = NULL;
	v->nlimbo = 0;
	/* liburcu's callback thread did not survive a fork: wait here */
	if (v->fork_gen != vdm_fork_gen()) {
		urcu_bp_synchronize_rcu();
		tsan_acquire(&vdm_view_sync);
		free_chain(chain);
		return;
	}
	/* the writer's last touch of the chain: the callback thread
	 * acquires it (liburcu's queue is invisible to TSan) */
	tsan_release(&vdm_view_sync);
	urcu_bp_call_rcu((struct rcu_head *)chain->cb, retired_cb);
}

void vdm_mapping_reclaimer_start(void)
{
	/* liburcu's callback thread starts at open (or after a handoff's
	 * first frame), rather than inside the first map's publish; it
	 * lives until the process exits (tests/valgrind/vdpamap.supp says
	 * so to memcheck) */
	(void)urcu_bp_get_default_call_rcu_data();
}

void vdm_view_init(struct vdm_view *v)
{
	/* a grace period per 64 retired nodes (a few commits), not per
	 * commit: 64 nodes are ~32 KiB a tree waiting to be freed */
	const struct rt_ops ops = { view_alloc, view_free, view_retire, v, 64 };

	v->fork_gen = vdm_fork_gen();
	rt_init(&v->by_iova, RT_DISJOINT, &ops);
	rt_init(&v->by_hva, RT_OVERLAP, &ops);
}

/* ref of the IOVA tree: the mirror's entry (mirror.c's index) */
static int add(struct vdm_view *v, const struct vdm_entry *e)
{
	struct rt_ent ei = { e->iova, e->last, e->hva, e->perm, (uintptr_t)e };
	struct rt_ent eh = { e->hva, e->hva + (vdm_entry_size(e) - 1), e->iova,
			     0, 0 };
	int r;

	r = rt_insert(&v->by_iova, &ei);
	if (r)
		return r;
	r = rt_insert(&v->by_hva, &eh);
	if (r)
		rt_remove(&v->by_iova, e->iova, 0, NULL);
	return r;
}

static int del(struct vdm_view *v, uint64_t iova, uint64_t hva)
{
	int r = rt_remove(&v->by_hva, hva, iova, NULL);

	return r ? r : rt_remove(&v->by_iova, iova, 0, NULL);
}

void vdm_view_change(struct vdpamap *h, const struct vdm_entry *e, bool add_)
{
	struct vdm_view *v = &h->map->view[e->asid];

	h->map->as[e->asid].dirty = h->map->view_dirty = true;
	if (v->stale)
		return; /* the publish resyncs it all */
	if (add_ ? add(v, e) : del(v, e->iova, e->hva))
		v->stale = true;
}

/* A commit changes at least this many entries of one ASID before its
 * view is rebuilt rather than changed entry by entry: below it the
 * per-entry path is cheap enough, and a single map never pays for the
 * look. */
#define VIEW_BULK_MIN 64

/* A commit's messages into one ASID so far: k of them, all of one type,
 * each above the last one's IOVA (the mirror's list is walked once for
 * them all); out once one is not. */
struct run {
	uint64_t k, last;
	uint8_t type;
	bool out;
};

void vdm_view_plan(struct vdpamap *h, const struct vdm_msg *msgs, size_t n)
{
	struct run *run;
	uint32_t a, nr = h->info.nr_as;
	size_t i;

	if (n < VIEW_BULK_MIN)
		return;
	run = calloc(nr, sizeof(*run));
	if (!run)
		return; /* the per-entry path */
	for (i = 0; i < n; i++) {
		const struct vdm_entry *e = msgs[i].e;
		struct run *r = &run[e->asid];

		if (r->out)
			continue;
		if (r->k && (msgs[i].type != r->type || e->iova <= r->last)) {
			r->out = true;
			continue;
		}
		r->type = msgs[i].type;
		r->k++;
		r->last = e->iova;
	}
	/* a rebuild costs an in-place insert per entry left: worth it when
	 * the commit changes at least half as many as the ASID holds; a
	 * stale view is rebuilt anyway */
	for (a = 0; a < nr; a++) {
		const struct run *r = &run[a];

		if (r->out || r->k < VIEW_BULK_MIN ||
		    r->k < h->map->as[a].count / 2 || h->map->view[a].stale)
			continue;
		/* dirty too: the publish visits only changed ASIDs, and a
		 * commit refused at its first message changes none, which
		 * left the view unindexed (every writer query a list walk)
		 * until some later change */
		h->map->view[a].stale = true;
		h->map->as[a].dirty = h->map->view_dirty = true;
		vdm_dbg(h,
			"asid %u: %llu %s in one commit: its view is rebuilt "
			"at the publish",
			a, (unsigned long long)r->k,
			r->type == VHOST_IOTLB_UPDATE ? "maps" : "unmaps");
	}
	free(run);
}

/* Bring the writer's side of v in line with the mirror: drop what the
 * last publish holds, add the mirror.  0 or -ENOMEM (then v is stale). */
static int resync(struct vdm_view *v, struct vdm_as *as)
{
	const struct vdm_entry *me;

	rt_abort(&v->by_iova);
	rt_abort(&v->by_hva);
	/* nothing is copied: the published nodes retire at the commit, and
	 * the list's IOVA order appends to the IOVA tree in place */
	rt_clear(&v->by_iova);
	rt_clear(&v->by_hva);
	/* the mirror's list (mirror.c calls this file, not the reverse) */
	for (me = as->head; me; me = me->next) {
		if (add(v, me))
			goto fail;
	}
	v->stale = false;
	as->finger = NULL;
	return 0;
fail:
	rt_abort(&v->by_iova);
	rt_abort(&v->by_hva);
	v->stale = true;
	return -ENOMEM;
}

void vdm_snap_publish(struct vdpamap *h)
{
	uint32_t a;

	if (!h->map->view_dirty)
		return;
	h->map->view_dirty = false;
	for (a = 0; a < h->info.nr_as; a++) {
		struct vdm_view *v = &h->map->view[a];

		if (!h->map->as[a].dirty)
			continue;
		if (v->stale && resync(v, &h->map->as[a])) {
			h->map->view_dirty = true; /* readers keep the old */
			continue;
		}
		h->map->as[a].dirty = false;
		rt_commit(&v->by_iova);
		rt_commit(&v->by_hva);
	}
}

void vdm_snap_free_all(struct vdpamap *h)
{
	uint32_t a;

	if (!h->map->view)
		return;
	for (a = 0; a < h->info.nr_as; a++) {
		rt_destroy(&h->map->view[a].by_iova);
		rt_destroy(&h->map->view[a].by_hva);
		/* no reader is left to wait for */
		free_chain(h->map->view[a].limbo);
		h->map->view[a].limbo = NULL;
	}
	free(h->map->view);
	h->map->view = NULL;
}
