// SPDX-License-Identifier: BSD-3-Clause
/*
 * The project's tree in the benchmark (tb.h): the IOVA mirror (one
 * RT_DISJOINT rtree: iova -> hva, aux = perm) and the reverse index (one
 * RT_OVERLAP rtree keyed by hva: val = iova), as the library keeps them.
 *
 * TB_BARE: the trees alone, never committed, so nothing is ever copied or
 * retired: the tree's own cost, beside peers that have no readers.
 * TB_LIB: as the library uses them: every insert or remove is its own
 * commit of both trees, readers look up the published view inside
 * urcu-bp's read lock, and what a commit replaced goes to call_rcu in one
 * callback per commit and tree (settle() is the rcu_barrier()).
 *
 * tb_project_recycle (bench_trees --recycle) probes one design the
 * library does not have: nodes a grace period has passed go back to the
 * writer through a lock-free stack per node size instead of to free(),
 * so that neither malloc() nor a free() from the call_rcu thread (which
 * defeats both threads' tcache) is on the commit path.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "iova_tree/rtree.h"
#include "tb.h"

int tb_project_recycle;

/* one rtree's recycled nodes, per size: a leaf's and an inner node's */
struct pool {
	size_t size[2], usable[2];
	struct rt_node *shared[2]; /* pushed by the call_rcu thread */
	struct rt_node *local[2];  /* the writer's */
};

struct tb_tree {
	struct rtree it, ht;
	struct pool pool[2];
	enum tb_mode mode;
};

/* one grace period's worth of nodes of one commit */
struct retired {
	struct rcu_head rh;
	struct rt_node *chain;
	struct pool *pool; /* NULL: free() them */
};

static int pool_class(struct pool *p, size_t size)
{
	int c;

	for (c = 0; c < 2; c++) {
		if (!p->size[c])
			p->size[c] = size;
		if (p->size[c] == size)
			return c;
	}
	return -1;
}

static void *r_alloc(void *ctx, size_t size)
{
	struct pool *p = ctx;
	int c = pool_class(p, size);
	struct rt_node *n;

	if (c < 0)
		return malloc(size);
	if (!p->local[c])
		p->local[c] = __atomic_exchange_n(&p->shared[c], NULL,
						  __ATOMIC_ACQUIRE);
	n = p->local[c];
	if (n) {
		p->local[c] = n->rnext;
		return n;
	}
	n = malloc(size);
	if (n && !p->usable[c])
		p->usable[c] = malloc_usable_size(n);
	return n;
}

/* in the call_rcu thread: the chain onto the writer's stacks */
static void pool_push(struct pool *p, struct rt_node *n)
{
	struct rt_node *head[2] = { NULL, NULL }, *tail[2] = { NULL, NULL };
	int c;

	while (n) {
		struct rt_node *next = n->rnext;
		size_t u = malloc_usable_size(n);

		c = u == p->usable[0] ? 0 : u == p->usable[1] ? 1 : -1;
		if (c < 0) {
			free(n);
		} else {
			n->rnext = head[c];
			head[c] = n;
			if (!tail[c])
				tail[c] = n;
		}
		n = next;
	}
	for (c = 0; c < 2; c++) {
		struct rt_node *old;

		if (!head[c])
			continue;
		old = __atomic_load_n(&p->shared[c], __ATOMIC_RELAXED);
		do
			tail[c]->rnext = old;
		while (!__atomic_compare_exchange_n(&p->shared[c], &old,
						    head[c], 1,
						    __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED));
	}
}

static void *p_alloc(void *ctx, size_t size)
{
	return malloc(size);
}

static void p_free(void *ctx, void *p)
{
	free(p);
}

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
	struct retired *r = caa_container_of(rh, struct retired, rh);

	if (r->pool)
		pool_push(r->pool, r->chain);
	else
		free_chain(r->chain);
	free(r);
}

/* as the library (src/mapping/view.c): the chain's first node carries
 * the rcu_head, nothing is allocated */
static void chain_cb(struct rcu_head *rh)
{
	free_chain(
		(struct rt_node *)((char *)rh - offsetof(struct rt_node, cb)));
}

static void p_retire_rcu(void *ctx, struct rt_node *chain)
{
	struct retired *r;

	if (!ctx) {
		urcu_bp_call_rcu((struct rcu_head *)chain->cb, chain_cb);
		return;
	}
	r = malloc(sizeof(*r)); /* --recycle: the pool goes along */

	if (!r) {
		/* the writer has no better way out: wait for the readers */
		urcu_bp_synchronize_rcu();
		free_chain(chain);
		return;
	}
	r->chain = chain;
	r->pool = ctx;
	urcu_bp_call_rcu(&r->rh, retired_cb);
}

/* TB_BARE has no readers: what is replaced is free at once */
static void p_retire_now(void *ctx, struct rt_node *chain)
{
	free_chain(chain);
}

static struct tb_tree *p_create(enum tb_mode mode)
{
	struct rt_ops ops = {
		.alloc = p_alloc,
		.free = p_free,
		.retire = mode == TB_LIB ? p_retire_rcu : p_retire_now,
		/* the library's batch (src/mapping/view.c) */
		.batch = mode == TB_LIB ? 64 : 0,
	};
	struct tb_tree *t = calloc(1, sizeof(*t));
	int recycle = mode == TB_LIB && tb_project_recycle;

	if (!t)
		return NULL;
	t->mode = mode;
	if (recycle) {
		ops.alloc = r_alloc;
		ops.ctx = &t->pool[0];
	}
	rt_init(&t->it, RT_DISJOINT, &ops);
	if (recycle)
		ops.ctx = &t->pool[1];
	rt_init(&t->ht, RT_OVERLAP, &ops);
	return t;
}

static void p_destroy(struct tb_tree *t)
{
	int i;

	if (!t)
		return;
	if (t->mode == TB_LIB)
		urcu_bp_barrier();
	rt_destroy(&t->it);
	rt_destroy(&t->ht);
	for (i = 0; i < 4; i++) {
		struct pool *p = &t->pool[i / 2];

		free_chain(p->local[i % 2]);
		free_chain(p->shared[i % 2]);
	}
	free(t);
}

static void p_commit(struct tb_tree *t)
{
	if (t->mode != TB_LIB)
		return;
	rt_commit(&t->it);
	rt_commit(&t->ht);
}

static int p_insert(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		const struct tb_map *x = &m[idx[i]];
		struct rt_ent ie = { .first = x->iova,
				     .last = x->iova + x->size - 1,
				     .val = x->hva,
				     .aux = x->perm };
		struct rt_ent he = { .first = x->hva,
				     .last = x->hva + x->size - 1,
				     .val = x->iova };

		r = rt_insert(&t->it, &ie);
		if (r)
			return r;
		r = rt_insert(&t->ht, &he);
		if (r) {
			rt_remove(&t->it, ie.first, 0, NULL);
			return r;
		}
		p_commit(t);
	}
	return 0;
}

static int p_remove(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	struct rt_ent e;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = rt_remove(&t->it, m[idx[i]].iova, 0, &e);
		if (r)
			return r;
		r = rt_remove(&t->ht, e.val, e.first, NULL);
		if (r)
			return r;
		p_commit(t);
	}
	return 0;
}

/* TB_LIB: as the library's readers, one read-side section per lookup */
static uint64_t lookup(struct tb_tree *t, struct rtree *rt, const uint64_t *q,
		       size_t n, uint64_t *out)
{
	uint64_t sum = 0;
	struct rt_ent e;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t a = TB_MISS;
		int r;

		if (t->mode == TB_LIB) {
			urcu_bp_read_lock();
			r = rt_read_lookup(rt, q[i], &e);
			urcu_bp_read_unlock();
		} else {
			r = rt_lookup(rt, q[i], &e);
		}
		if (!r)
			a = e.val + (q[i] - e.first);
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static uint64_t p_find(struct tb_tree *t, const uint64_t *q, size_t n,
		       uint64_t *out)
{
	return lookup(t, &t->it, q, n, out);
}

static uint64_t p_reverse(struct tb_tree *t, const uint64_t *q, size_t n,
			  uint64_t *out)
{
	return lookup(t, &t->ht, q, n, out);
}

static uint64_t p_hole(struct tb_tree *t, uint64_t size, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t a;

		if (rt_find_hole(&t->it, 0, UINT64_MAX, size, TB_PAGE, &a))
			a = TB_MISS;
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static void p_settle(struct tb_tree *t)
{
	if (t->mode == TB_LIB)
		urcu_bp_barrier();
}

static size_t p_count(struct tb_tree *t)
{
	return (size_t)rt_count(&t->it);
}

static int p_check(struct tb_tree *t)
{
	if (rt_check(&t->it) || rt_check(&t->ht) ||
	    rt_count(&t->it) != rt_count(&t->ht))
		return -1;
	return 0;
}

const struct tb_ops tb_project_ops = {
	.name = "project",
	.create = p_create,
	.destroy = p_destroy,
	.insert = p_insert,
	.remove = p_remove,
	.find = p_find,
	.reverse = p_reverse,
	.hole = p_hole,
	.settle = p_settle,
	.count = p_count,
	.check = p_check,
};
