/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtree_node: the node layout of rtree and what every part of it reads
 * in a node (summaries, key order, searching inside a node).  Private to
 * src/iova_tree: rtree.c changes trees, rtree_read.c answers queries,
 * rtree_check.c checks invariants; each includes this and none calls the
 * others.  rtree.c's head comment says how the tree works.
 */
#ifndef VDPAMAP_RTREE_NODE_H
#define VDPAMAP_RTREE_NODE_H

#include <stdbool.h>

#include "iova_tree/rtree.h"
#include "iova_tree/span.h"

#include <errno.h>
#include <string.h>

/* Ranges per leaf and children per inner node: 16 keeps a node within
 * 9 cache lines (a copy is cheap) and a 10^6 table 5 levels deep. */
#define RT_CAP 16
#define LEAF   0
#define INNER  1

struct rt_leaf {
	struct rt_node h;
	uint64_t first[RT_CAP];
	uint64_t last[RT_CAP];
	uint64_t val[RT_CAP];
	/* allocated in RT_DISJOINT only: */
	uint32_t aux[RT_CAP];
	uint64_t ref[RT_CAP]; /* the writer's; readers never read it */
};

struct rt_inner {
	struct rt_node h;
	uint64_t lo[RT_CAP];
	uint64_t hi[RT_CAP];
	uint64_t x[RT_CAP];
	struct rt_node *child[RT_CAP];
};

struct sum {
	uint64_t lo, hi, x;
};

static inline struct rt_leaf *L(const struct rt_node *n)
{
	return (struct rt_leaf *)n;
}

static inline struct rt_inner *I(const struct rt_node *n)
{
	return (struct rt_inner *)n;
}

static inline size_t node_size(const struct rtree *t, int type)
{
	if (type == INNER)
		return sizeof(struct rt_inner);
	return t->kind == RT_DISJOINT ? sizeof(struct rt_leaf) :
					offsetof(struct rt_leaf, aux);
}

/* Key order: (first) in RT_DISJOINT, (first, val) in RT_OVERLAP. */
static inline int key_cmp(const struct rtree *t, uint64_t f1, uint64_t v1,
			  uint64_t f2, uint64_t v2)
{
	if (f1 != f2)
		return f1 < f2 ? -1 : 1;
	if (t->kind == RT_DISJOINT || v1 == v2)
		return 0;
	return v1 < v2 ? -1 : 1;
}

/* ---- summaries */

static inline struct sum leaf_sum(const struct rtree *t,
				  const struct rt_leaf *l)
{
	struct sum s = { .lo = l->first[0], .hi = l->last[0], .x = 0 };
	unsigned int i, n = l->h.n;

	if (t->kind == RT_OVERLAP) {
		s.x = l->val[0];
		for (i = 1; i < n; i++)
			s.hi = max_u64(s.hi, l->last[i]);
		return s;
	}
	for (i = 1; i < n; i++)
		s.x = max_u64(s.x, gap(l->last[i - 1], l->first[i]));
	s.hi = l->last[n - 1];
	return s;
}

static inline struct sum inner_sum(const struct rtree *t,
				   const struct rt_inner *in)
{
	struct sum s = { .lo = in->lo[0], .hi = in->hi[0], .x = in->x[0] };
	unsigned int i, n = in->h.n;

	if (t->kind == RT_OVERLAP) {
		for (i = 1; i < n; i++)
			s.hi = max_u64(s.hi, in->hi[i]);
		return s;
	}
	for (i = 1; i < n; i++)
		s.x = max_u64(s.x,
			      max_u64(in->x[i], gap(in->hi[i - 1], in->lo[i])));
	s.hi = in->hi[n - 1];
	return s;
}

static inline struct sum node_sum(const struct rtree *t,
				  const struct rt_node *n)
{
	return n->leaf ? leaf_sum(t, L(n)) : inner_sum(t, I(n));
}

/* ---- searching inside a node */

/* Index of the child whose subtree holds key (f, v): the last whose lowest
 * key is <= it, or 0. */
static inline unsigned int child_for(const struct rtree *t,
				     const struct rt_inner *in, uint64_t f,
				     uint64_t v)
{
	unsigned int i, c = 0;

	for (i = 1; i < in->h.n; i++)
		c += key_cmp(t, in->lo[i], in->x[i], f, v) <= 0;
	return c;
}

/* Index of the first range whose key is >= (f, v). */
static inline unsigned int leaf_lower(const struct rtree *t,
				      const struct rt_leaf *l, uint64_t f,
				      uint64_t v)
{
	unsigned int i, c = 0;

	for (i = 0; i < l->h.n; i++)
		c += key_cmp(t, l->first[i], l->val[i], f, v) < 0;
	return c;
}

/* ref: copy out ref too (the writer's queries only: a reader would
 * touch one more cache line for nothing) */
static inline void leaf_get(const struct rtree *t, const struct rt_leaf *l,
			    unsigned int i, struct rt_ent *e, bool ref)
{
	e->first = l->first[i];
	e->last = l->last[i];
	e->val = l->val[i];
	e->aux = t->kind == RT_DISJOINT ? l->aux[i] : 0;
	e->ref = ref && t->kind == RT_DISJOINT ? l->ref[i] : 0;
}

static inline bool sum_eq(const struct rt_inner *in, unsigned int i,
			  struct sum s)
{
	return in->lo[i] == s.lo && in->hi[i] == s.hi && in->x[i] == s.x;
}

/* After the level below became c (and sib, a new right neighbour of c,
 * when it split): fix the path up to the root. */

#endif
