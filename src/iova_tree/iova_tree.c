// SPDX-License-Identifier: BSD-3-Clause
/*
 * iova_tree: an augmented AVL tree of closed [first, last] u64 ranges.
 *
 * Balancing: AVL.  n->balance is height(right) - height(left), kept in
 * {-1, 0, 1}; the height is at most ~1.44 log2(n + 2).
 *
 * Order: by first; a node whose first equals an existing node's goes to
 * its right, so equal keys stay in insertion order.  Rotations preserve the
 * in-order sequence, hence that order too.
 *
 * Augmentation, computed only from a node and its two children:
 *   sub_first  min first of the subtree (the leftmost node's first);
 *   sub_last   max last of the subtree;
 *   sub_gap    an upper bound of the largest run of points not covered by
 *              any range of the subtree and lying strictly between two of
 *              its ranges: max(left->sub_gap, right->sub_gap,
 *              gap(left->sub_last, first),
 *              gap(max(left->sub_last, last), right->sub_first)),
 *              gap(a, b) = b - a - 1 when b > a + 1, else 0.  It is exact
 *              when the ranges are pairwise disjoint.
 *
 * Updates: first the augmentation of every node on the path from the change
 * to the root is recomputed bottom-up (the shape is still the old one, so
 * children are always up to date), then the AVL retrace rotates; a rotation
 * recomputes the nodes it moves.  For disjoint ranges sub_gap depends only
 * on the subtree's set of ranges, but for overlapping ones the bound
 * depends on the shape, so after the first rotation the path above it is
 * recomputed once more.
 *
 * Arithmetic never forms first + size or last + 1 without checking it.
 */
#include "iova_tree/iova_tree.h"
#include "iova_tree/span.h"

#include <stdbool.h>

#define ITREE_MAX_DEPTH 128 /* AVL with 2^64 nodes is < 93 high */

static void augment(struct itree_node *n)
{
	const struct itree_node *l = n->left, *r = n->right;
	uint64_t sub_last = n->last, g = 0;

	n->sub_first = l ? l->sub_first : n->first;
	if (l) {
		g = max_u64(l->sub_gap, gap(l->sub_last, n->first));
		sub_last = max_u64(sub_last, l->sub_last);
	}
	if (r) {
		g = max_u64(g, r->sub_gap);
		g = max_u64(g, gap(sub_last, r->sub_first));
		sub_last = max_u64(sub_last, r->sub_last);
	}
	n->sub_last = sub_last;
	n->sub_gap = g;
}

static void augment_to_root(struct itree_node *n)
{
	for (; n; n = n->parent)
		augment(n);
}

static void replace_child(struct itree *t, struct itree_node *parent,
			  struct itree_node *old, struct itree_node *new)
{
	if (!parent)
		t->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/*
 * Rotations.  The balance updates are the general ones (valid for any
 * balance of x and z), so double rotations need no special casing.
 */
static struct itree_node *rotate_left(struct itree *t, struct itree_node *x)
{
	struct itree_node *z = x->right;
	int xb = x->balance, zb = z->balance;

	x->right = z->left;
	if (z->left)
		z->left->parent = x;
	z->parent = x->parent;
	replace_child(t, x->parent, x, z);
	z->left = x;
	x->parent = z;

	xb = xb - 1 - (zb > 0 ? zb : 0);
	zb = zb - 1 + (xb < 0 ? xb : 0);
	x->balance = xb;
	z->balance = zb;
	augment(x);
	augment(z);
	return z;
}

static struct itree_node *rotate_right(struct itree *t, struct itree_node *x)
{
	struct itree_node *z = x->left;
	int xb = x->balance, zb = z->balance;

	x->left = z->right;
	if (z->right)
		z->right->parent = x;
	z->parent = x->parent;
	replace_child(t, x->parent, x, z);
	z->right = x;
	x->parent = z;

	xb = xb + 1 - (zb < 0 ? zb : 0);
	zb = zb + 1 + (xb > 0 ? xb : 0);
	x->balance = xb;
	z->balance = zb;
	augment(x);
	augment(z);
	return z;
}

/* x->balance is +-2: restore it, return the subtree's new root. */
static struct itree_node *rebalance(struct itree *t, struct itree_node *x)
{
	if (x->balance > 0) {
		if (x->right->balance < 0)
			rotate_right(t, x->right);
		return rotate_left(t, x);
	}
	if (x->left->balance > 0)
		rotate_left(t, x->left);
	return rotate_right(t, x);
}

void itree_insert(struct itree *t, struct itree_node *n)
{
	struct itree_node *p = NULL, **link = &t->root;

	while (*link) {
		p = *link;
		link = n->first < p->first ? &p->left : &p->right;
	}
	n->left = NULL;
	n->right = NULL;
	n->parent = p;
	n->balance = 0;
	*link = n;
	t->count++;
	augment_to_root(n);

	/* Retrace: the subtree rooted at n grew by one level. */
	for (; p; n = p, p = p->parent) {
		p->balance += p->left == n ? -1 : 1;
		if (p->balance == 0)
			break;
		if (p->balance == 2 || p->balance == -2) {
			/* back to its old height */
			augment_to_root(rebalance(t, p)->parent);
			break;
		}
	}
}

void itree_remove(struct itree *t, struct itree_node *n)
{
	struct itree_node *p, *c, *low = NULL;
	bool left; /* the subtree that shrank is p's left one */

	if (n->left && n->right) {
		/* Put the successor s in n's place; n leaves from s's. */
		struct itree_node *s = n->right;

		while (s->left)
			s = s->left;
		if (s == n->right) {
			p = s;
			left = false;
		} else {
			p = s->parent;
			left = true;
			p->left = s->right;
			if (s->right)
				s->right->parent = p;
			s->right = n->right;
			n->right->parent = s;
		}
		s->left = n->left;
		n->left->parent = s;
		s->parent = n->parent;
		s->balance = n->balance;
		replace_child(t, n->parent, n, s);
	} else {
		c = n->left ? n->left : n->right;
		p = n->parent;
		left = p && p->left == n;
		replace_child(t, p, n, c);
		if (c)
			c->parent = p;
	}
	t->count--;
	n->left = n->right = n->parent = NULL;
	augment_to_root(p);

	/* Retrace: p's `left` subtree lost one level. */
	while (p) {
		int b;

		p->balance += left ? 1 : -1;
		b = p->balance;
		if (b == 1 || b == -1)
			break; /* height unchanged */
		if (b == 2 || b == -2) {
			int cb = (b > 0 ? p->right : p->left)->balance;

			p = rebalance(t, p);
			if (!low)
				low = p;
			if (cb == 0)
				break; /* single rotation: same height */
		}
		/* p's subtree is one level lower: go up. */
		if (!p->parent)
			break;
		left = p->parent->left == p;
		p = p->parent;
	}
	if (low)
		augment_to_root(low->parent);
}

/* In-order walk. */

struct itree_node *itree_first(const struct itree *t)
{
	struct itree_node *n = t->root;

	while (n && n->left)
		n = n->left;
	return n;
}

struct itree_node *itree_last(const struct itree *t)
{
	struct itree_node *n = t->root;

	while (n && n->right)
		n = n->right;
	return n;
}

struct itree_node *itree_next(const struct itree_node *n)
{
	const struct itree_node *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct itree_node *)n;
	}
	while ((p = n->parent) && p->right == n)
		n = p;
	return (struct itree_node *)p;
}

struct itree_node *itree_prev(const struct itree_node *n)
{
	const struct itree_node *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct itree_node *)n;
	}
	while ((p = n->parent) && p->left == n)
		n = p;
	return (struct itree_node *)p;
}

/* Overlap iteration. */

/*
 * Leftmost node of subtree n overlapping [first, last], given that
 * n->sub_last >= first.  NULL means that no node at or after the subtree's
 * leftmost one (in the whole tree) overlaps: the leftmost node with
 * last >= first here already starts after `last`.
 */
static struct itree_node *subtree_search(const struct itree_node *n,
					 uint64_t first, uint64_t last)
{
	for (;;) {
		if (n->left && n->left->sub_last >= first) {
			n = n->left;
			continue;
		}
		if (n->first > last)
			return NULL;
		if (n->last >= first)
			return (struct itree_node *)n;
		n = n->right;
		if (!n || n->sub_last < first || n->sub_first > last)
			return NULL;
	}
}

struct itree_node *itree_iter_first(const struct itree *t, uint64_t first,
				    uint64_t last)
{
	const struct itree_node *n = t->root;

	if (!n || first > last || n->sub_last < first || n->sub_first > last)
		return NULL;
	return subtree_search(n, first, last);
}

struct itree_node *itree_iter_next(const struct itree_node *n, uint64_t first,
				   uint64_t last)
{
	const struct itree_node *r = n->right, *prev;

	for (;;) {
		/* Here n->first <= last and r == n->right. */
		if (r && r->sub_last >= first)
			return r->sub_first > last ?
				       NULL :
				       subtree_search(r, first, last);
		/* Up to the first ancestor we reach from its left. */
		do {
			prev = n;
			n = n->parent;
			if (!n)
				return NULL;
		} while (n->right == prev);
		if (n->first > last)
			return NULL;
		if (n->last >= first)
			return (struct itree_node *)n;
		r = n->right;
	}
}

/*
 * Rightmost node containing p.  A subtree is entered only if its span
 * [sub_first, sub_last] contains p; in a disjoint tree at most one of
 * (left subtree, node, right subtree) does, so this is one root-to-leaf
 * path.  Depth is bounded by the tree height.
 */
static struct itree_node *lookup_rec(const struct itree_node *n, uint64_t p)
{
	struct itree_node *r;

	if (!n || n->sub_first > p || n->sub_last < p)
		return NULL;
	r = lookup_rec(n->right, p);
	if (r)
		return r;
	if (n->first <= p && p <= n->last)
		return (struct itree_node *)n;
	return lookup_rec(n->left, p);
}

struct itree_node *itree_lookup(const struct itree *t, uint64_t p)
{
	return lookup_rec(t->root, p);
}

/* Hole search. */

struct hole_search {
	uint64_t lo, hi, size, mask;
	/* Lowest point not covered by the ranges visited so far. */
	uint64_t free;
	bool full; /* ... or none: they reach UINT64_MAX */
	bool done;
	uint64_t ret;
};

/* Try the free run [hs->free, end]. */
static void try_hole(struct hole_search *hs, uint64_t end)
{
	uint64_t s, e;

	if (hs->full || hs->done || end < hs->free)
		return;
	s = max_u64(hs->free, hs->lo);
	e = min_u64(end, hs->hi);
	if (s > e)
		return;
	if (s & hs->mask) {
		s |= hs->mask;
		if (s == UINT64_MAX)
			return; /* next aligned start is 2^64 */
		s++;
		if (s > e)
			return;
	}
	if (e - s < hs->size - 1)
		return;
	hs->ret = s;
	hs->done = true;
}

/* The free run that ends just before `first`. */
static void try_hole_before(struct hole_search *hs, uint64_t first)
{
	if (first > 0)
		try_hole(hs, first - 1);
}

static void cover(struct hole_search *hs, uint64_t last)
{
	if (last == UINT64_MAX)
		hs->full = true;
	else if (last + 1 > hs->free)
		hs->free = last + 1;
}

/*
 * Visit the free runs of subtree n in address order: the one between what
 * precedes the subtree and its first range, then its inner ones.  A subtree
 * is skipped when none of its inner runs can hold size points or when it
 * lies outside [lo, hi]; its leading run is still tried.
 */
static void hole_rec(struct hole_search *hs, const struct itree_node *n)
{
	if (!n || hs->done || hs->full)
		return;
	if (n->sub_last < hs->lo) {
		cover(hs, n->sub_last); /* everything here is < lo */
		return;
	}
	if (n->sub_gap < hs->size || n->sub_first > hs->hi) {
		try_hole_before(hs, n->sub_first);
		cover(hs, n->sub_last);
		return;
	}
	hole_rec(hs, n->left);
	if (hs->done || hs->full)
		return;
	try_hole_before(hs, n->first);
	cover(hs, n->last);
	hole_rec(hs, n->right);
}

int itree_find_hole(const struct itree *t, uint64_t lo, uint64_t hi,
		    uint64_t size, uint64_t align, uint64_t *ret)
{
	struct hole_search hs = {
		.lo = lo,
		.hi = hi,
		.size = size,
		.mask = align - 1,
	};

	if (!size || !align || (align & (align - 1)) || lo > hi ||
	    hi - lo < size - 1)
		return -1;
	hole_rec(&hs, t->root);
	try_hole(&hs, UINT64_MAX); /* after the last range */
	if (!hs.done)
		return -1;
	*ret = hs.ret;
	return 0;
}

/* Consistency check. */

struct check_state {
	const struct itree_node *prev; /* in-order predecessor */
	size_t count;
};

/* Returns the subtree height, or -1. */
static int check_rec(struct check_state *cs, const struct itree_node *n,
		     const struct itree_node *parent, int depth)
{
	struct itree_node tmp;
	int hl, hr;

	if (!n)
		return 0;
	if (depth > ITREE_MAX_DEPTH || n->parent != parent ||
	    n->first > n->last)
		return -1;
	hl = check_rec(cs, n->left, n, depth + 1);
	if (hl < 0)
		return -1;
	if (cs->prev && cs->prev->first > n->first)
		return -1;
	cs->prev = n;
	cs->count++;
	hr = check_rec(cs, n->right, n, depth + 1);
	if (hr < 0)
		return -1;
	if (n->balance != hr - hl || hr - hl > 1 || hl - hr > 1)
		return -1;
	tmp = *n;
	augment(&tmp);
	if (tmp.sub_first != n->sub_first || tmp.sub_last != n->sub_last ||
	    tmp.sub_gap != n->sub_gap)
		return -1;
	return (hl > hr ? hl : hr) + 1;
}

int itree_check(const struct itree *t)
{
	struct check_state cs = { .prev = NULL, .count = 0 };

	if (check_rec(&cs, t->root, NULL, 0) < 0 || cs.count != t->count)
		return -1;
	return 0;
}
