// SPDX-License-Identifier: BSD-3-Clause
/*
 * rtree_read: queries on either view of an rtree (rtree.h): point lookup,
 * iteration over a range, first-fit holes.  They only read nodes; on the
 * published view they run inside the caller's RCU read-side critical
 * section and copy out what they find.
 */
#include "iova_tree/rtree_node.h"

#include <errno.h>

/* ---- queries */

static const struct rt_node *pub_root(const struct rtree *t)
{
	return __atomic_load_n(&t->pub, __ATOMIC_ACQUIRE);
}

/* RT_DISJOINT: one path; the child that can hold p or none. */
static int lookup_disjoint(const struct rtree *t, const struct rt_node *n,
			   uint64_t p, struct rt_ent *out, bool ref)
{
	unsigned int i;

	while (n && !n->leaf) {
		const struct rt_inner *in = I(n);

		i = child_for(t, in, p, 0);
		if (in->lo[i] > p || in->hi[i] < p)
			return -ENOENT;
		n = in->child[i];
	}
	if (!n)
		return -ENOENT;
	i = leaf_lower(t, L(n), p, 0);
	/* the range starting at p, else the one before it */
	if (i == n->n || L(n)->first[i] != p) {
		if (i == 0)
			return -ENOENT;
		i--;
	}
	if (L(n)->first[i] > p || L(n)->last[i] < p)
		return -ENOENT;
	leaf_get(t, L(n), i, out, ref);
	return 0;
}

/* ref: the writer's view (copy out ref) */
static bool iter_start(const struct rtree *t, const struct rt_node *root,
		       bool ref, struct rt_iter *it, uint64_t a, uint64_t b,
		       struct rt_ent *out)
{
	it->a = a;
	it->b = b;
	it->depth = root ? 0 : -1;
	it->node[0] = root;
	it->idx[0] = 0;
	it->aux = t->kind == RT_DISJOINT;
	it->ref = it->aux && ref;
	return rt_iter_next(it, out);
}

bool rt_iter_next(struct rt_iter *it, struct rt_ent *out)
{
	while (it->depth >= 0) {
		const struct rt_node *n = it->node[it->depth];
		unsigned int i = it->idx[it->depth];

		if (n->leaf) {
			const struct rt_leaf *l = L(n);

			for (; i < n->n; i++) {
				if (l->first[i] > it->b)
					goto end; /* and all after it */
				if (l->last[i] < it->a)
					continue;
				it->idx[it->depth] = (uint16_t)(i + 1);
				out->first = l->first[i];
				out->last = l->last[i];
				out->val = l->val[i];
				out->aux = it->aux ? l->aux[i] : 0;
				out->ref = it->ref ? l->ref[i] : 0;
				return true;
			}
			it->depth--;
			continue;
		}
		for (; i < n->n; i++) {
			if (I(n)->lo[i] > it->b)
				goto end;
			if (I(n)->hi[i] >= it->a)
				break;
		}
		if (i == n->n) {
			it->depth--;
			continue;
		}
		it->idx[it->depth] = (uint16_t)(i + 1);
		it->depth++;
		it->node[it->depth] = I(n)->child[i];
		it->idx[it->depth] = 0;
	}
end:
	it->depth = -1;
	return false;
}

bool rt_iter_first(const struct rtree *t, struct rt_iter *it, uint64_t a,
		   uint64_t b, struct rt_ent *out)
{
	return iter_start(t, t->root, true, it, a, b, out);
}

bool rt_read_iter_first(const struct rtree *t, struct rt_iter *it, uint64_t a,
			uint64_t b, struct rt_ent *out)
{
	return iter_start(t, pub_root(t), false, it, a, b, out);
}

static int lookup(const struct rtree *t, const struct rt_node *root, bool ref,
		  uint64_t p, struct rt_ent *out)
{
	struct rt_iter it;

	if (t->kind == RT_DISJOINT)
		return lookup_disjoint(t, root, p, out, ref);
	return iter_start(t, root, ref, &it, p, p, out) ? 0 : -ENOENT;
}

int rt_lookup(const struct rtree *t, uint64_t p, struct rt_ent *out)
{
	return lookup(t, t->root, true, p, out);
}

int rt_read_lookup(const struct rtree *t, uint64_t p, struct rt_ent *out)
{
	return lookup(t, pub_root(t), false, p, out);
}

int rt_prev(const struct rtree *t, uint64_t p, struct rt_ent *out)
{
	const struct rt_node *n = t->root, *up[RT_MAX_HEIGHT];
	unsigned int idx[RT_MAX_HEIGHT], i;
	int d = 0;

	if (!n || t->kind != RT_DISJOINT)
		return -ENOENT;
	while (!n->leaf) {
		i = child_for(t, I(n), p, 0);
		up[d] = n;
		idx[d++] = i;
		n = I(n)->child[i];
	}
	i = leaf_lower(t, L(n), p, 0);
	/* the range before p's place, else the last one of the nearest
	 * subtree to the left */
	while (!i) {
		if (--d < 0)
			return -ENOENT;
		if (!idx[d])
			continue;
		n = I(up[d])->child[idx[d] - 1];
		while (!n->leaf)
			n = I(n)->child[n->n - 1];
		i = n->n;
	}
	leaf_get(t, L(n), i - 1, out, true);
	return 0;
}

/* ---- holes */

struct hole {
	uint64_t lo, hi, size, mask;
	uint64_t from; /* lowest point not yet covered nor excluded */
	bool done;     /* from passed the end of the space */
	uint64_t ret;
};

/* Does an aligned [s, s + size - 1] fit in [a, b] within [lo, hi]? */
static bool fits(struct hole *h, uint64_t a, uint64_t b)
{
	uint64_t s;

	a = max_u64(a, h->lo);
	b = min_u64(b, h->hi);
	if (a > b || a > UINT64_MAX - h->mask)
		return false;
	s = (a + h->mask) & ~h->mask;
	if (s > b || b - s < h->size - 1)
		return false;
	h->ret = s;
	return true;
}

/* The free run before a range [first, last], then past it. */
static bool hole_step(struct hole *h, uint64_t first, uint64_t last)
{
	if (first > h->from && fits(h, h->from, first - 1))
		return true;
	if (last == UINT64_MAX)
		h->done = true;
	else
		h->from = max_u64(h->from, last + 1);
	return false;
}

static bool hole_in(const struct rtree *t, const struct rt_node *n,
		    struct hole *h)
{
	unsigned int i;

	for (i = 0; i < n->n && !h->done && h->from <= h->hi; i++) {
		if (n->leaf) {
			if (hole_step(h, L(n)->first[i], L(n)->last[i]))
				return true;
			continue;
		}
		const struct rt_inner *in = I(n);

		/* into the child only when its largest inner run could hold
		 * the size and lies in the window; the child's own walk
		 * checks the run before it */
		if (in->x[i] >= h->size && in->hi[i] > h->lo &&
		    in->lo[i] < h->hi) {
			if (hole_in(t, in->child[i], h))
				return true;
			continue;
		}
		if (hole_step(h, in->lo[i], in->hi[i]))
			return true;
	}
	return false;
}

int rt_find_hole(const struct rtree *t, uint64_t lo, uint64_t hi, uint64_t size,
		 uint64_t align, uint64_t *ret)
{
	struct hole h = {
		.lo = lo, .hi = hi, .size = size, .mask = align - 1, .from = lo
	};

	if (t->kind != RT_DISJOINT || !size || !align ||
	    (align & (align - 1)) || lo > hi)
		return -EINVAL;
	if (t->root && hole_in(t, t->root, &h))
		goto found;
	if (!h.done && fits(&h, h.from, hi))
		goto found;
	return -ENOSPC;
found:
	*ret = h.ret;
	return 0;
}
