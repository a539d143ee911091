// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator's IOTLB tables: an AVL tree of entries ordered by first,
 * each node keeping the largest last of its subtree, so that finding the
 * lowest entry overlapping a range, inserting and removing one entry are
 * O(log n) (vhost_iotlb's interval tree costs the same), a whole-table
 * copy for set_map is O(n), and a sweep costs O(log n) per entry it
 * removes.  A cleared table keeps its nodes for reuse: a set_map parent's
 * map is emptied and refilled whole at every push, and malloc and free
 * per node made that several times slower than the array it replaced.  A sorted array made every insert and removal move the table
 * behind it: an INVALIDATE sweep of 10^5 entries took 15-30 s.
 *
 * Its own code rather than the library's iova_tree: the simulator is a
 * separate program that may use only transport and uapi (CONTRIBUTING.md,
 * tests/abi/check-layers.py), and it must accept entries that overlap
 * (the kernel's tree does; vhost's EEXIST check is iotlb.c's business).
 *
 * Calls nothing of the simulator.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* The map is the first member: a table hands out &node->m, and takes it
 * back here only. */
struct vsim_node {
	struct vsim_map m;
	struct vsim_node *left, *right, *up;
	uint64_t max_last; /* the largest m.last in this subtree */
	int height;	   /* a leaf is 1 */
};

static struct vsim_node *node_of(const struct vsim_map *m)
{
	return (struct vsim_node *)m;
}

static int height(const struct vsim_node *x)
{
	return x ? x->height : 0;
}

static void update(struct vsim_node *x)
{
	int hl = height(x->left), hr = height(x->right);

	x->height = 1 + (hl > hr ? hl : hr);
	x->max_last = x->m.last;
	if (x->left && x->left->max_last > x->max_last)
		x->max_last = x->left->max_last;
	if (x->right && x->right->max_last > x->max_last)
		x->max_last = x->right->max_last;
}

/* Make up's link to old point at new (up NULL: the root). */
static void relink(struct vsim_table *t, struct vsim_node *up,
		   struct vsim_node *old, struct vsim_node *new)
{
	if (!up)
		t->root = new;
	else if (up->left == old)
		up->left = new;
	else
		up->right = new;
	if (new)
		new->up = up;
}

static struct vsim_node *rotate_left(struct vsim_table *t, struct vsim_node *x)
{
	struct vsim_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->up = x;
	relink(t, x->up, x, y);
	y->left = x;
	x->up = y;
	update(x);
	update(y);
	return y;
}

static struct vsim_node *rotate_right(struct vsim_table *t, struct vsim_node *x)
{
	struct vsim_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->up = x;
	relink(t, x->up, x, y);
	y->right = x;
	x->up = y;
	update(x);
	update(y);
	return y;
}

/* From x to the root: heights and max_last recomputed, every node
 * rebalanced.  Never stops early: max_last may change all the way up. */
static void fix_up(struct vsim_table *t, struct vsim_node *x)
{
	while (x) {
		int bf;

		update(x);
		bf = height(x->left) - height(x->right);
		if (bf > 1) {
			if (height(x->left->left) < height(x->left->right))
				rotate_left(t, x->left);
			x = rotate_right(t, x);
		} else if (bf < -1) {
			if (height(x->right->right) < height(x->right->left))
				rotate_right(t, x->right);
			x = rotate_left(t, x);
		}
		x = x->up;
	}
}

static struct vsim_node *node_new(struct vsim_table *t)
{
	struct vsim_node *x = t->spare;

	if (!x)
		return malloc(sizeof(*x));
	t->spare = x->up;
	return x;
}

struct vsim_map *vsim_tbl_insert(struct vsim_table *t, const struct vsim_map *m)
{
	struct vsim_node *x = node_new(t), *up = NULL, **link;

	if (!x)
		return NULL;
	x->m = *m;
	x->left = x->right = NULL;
	x->height = 1;
	x->max_last = m->last;
	/* equal firsts go right: after the ones already there */
	for (link = &t->root; *link;) {
		up = *link;
		link = m->first < up->m.first ? &up->left : &up->right;
	}
	*link = x;
	x->up = up;
	fix_up(t, up);
	t->n++;
	t->npins += !!m->pin;
	return &x->m;
}

void vsim_tbl_remove(struct vsim_table *t, struct vsim_map *m)
{
	struct vsim_node *z = node_of(m), *from;

	if (z->left && z->right) {
		/* z's successor y takes z's place (moved, not copied: a
		 * caller may hold y's map) */
		struct vsim_node *y = z->right;

		while (y->left)
			y = y->left;
		if (y->up != z) {
			from = y->up;
			from->left = y->right;
			if (y->right)
				y->right->up = from;
			y->right = z->right;
			z->right->up = y;
		} else {
			from = y;
		}
		y->left = z->left;
		z->left->up = y;
		relink(t, z->up, z, y);
	} else {
		struct vsim_node *c = z->left ? z->left : z->right;

		from = z->up;
		relink(t, z->up, z, c);
	}
	fix_up(t, from);
	t->npins -= !!z->m.pin;
	free(z);
	t->n--;
}

/* The lowest entry (by first, then by insertion) with first <= last and
 * last >= first; first > last is allowed and asks for entries holding
 * both (vhost's test on a wrapped range).  The leftmost entry of a
 * subtree that reaches first (max_last) either starts at or below last,
 * and then it is the answer, or nothing after it can be. */
struct vsim_map *vsim_tbl_overlap(const struct vsim_table *t, uint64_t first,
				  uint64_t last)
{
	struct vsim_node *x = t->root;

	if (!x || x->max_last < first)
		return NULL;
	for (;;) {
		if (x->left && x->left->max_last >= first) {
			x = x->left;
			continue;
		}
		if (x->m.first > last)
			return NULL;
		if (x->m.last >= first)
			return &x->m;
		x = x->right;
		if (!x || x->max_last < first)
			return NULL;
	}
}

struct vsim_map *vsim_tbl_floor(const struct vsim_table *t, uint64_t addr)
{
	struct vsim_node *x = t->root, *best = NULL;

	while (x) {
		if (x->m.first <= addr) {
			best = x;
			x = x->right;
		} else {
			x = x->left;
		}
	}
	return best ? &best->m : NULL;
}

struct vsim_map *vsim_tbl_first(const struct vsim_table *t)
{
	struct vsim_node *x = t->root;

	if (!x)
		return NULL;
	while (x->left)
		x = x->left;
	return &x->m;
}

struct vsim_map *vsim_tbl_next(const struct vsim_map *m)
{
	struct vsim_node *x = node_of(m);

	if (x->right) {
		for (x = x->right; x->left;)
			x = x->left;
		return &x->m;
	}
	while (x->up && x->up->right == x)
		x = x->up;
	return x->up ? &x->up->m : NULL;
}

struct vsim_map *vsim_tbl_prev(const struct vsim_map *m)
{
	struct vsim_node *x = node_of(m);

	if (x->left) {
		for (x = x->left; x->right;)
			x = x->right;
		return &x->m;
	}
	while (x->up && x->up->left == x)
		x = x->up;
	return x->up ? &x->up->m : NULL;
}

/* Post-order through the up links: no recursion, no stack; each node
 * onto the spare list (linked through up). */
void vsim_tbl_clear(struct vsim_table *t)
{
	struct vsim_node *x = t->root;

	while (x) {
		struct vsim_node *up;

		if (x->left) {
			x = x->left;
			continue;
		}
		if (x->right) {
			x = x->right;
			continue;
		}
		up = x->up;
		if (up) {
			if (up->left == x)
				up->left = NULL;
			else
				up->right = NULL;
		}
		x->up = t->spare;
		t->spare = x;
		x = up;
	}
	t->root = NULL;
	t->n = 0;
	t->npins = 0;
}

void vsim_tbl_fini(struct vsim_table *t)
{
	vsim_tbl_clear(t);
	while (t->spare) {
		struct vsim_node *x = t->spare;

		t->spare = x->up;
		free(x);
	}
}

/* The same shape: heights and max_last carry over.  Recursion depth is
 * the height, under 1.45 log2(n) + 2 for an AVL tree. */
static struct vsim_node *copy_subtree(struct vsim_table *t,
				      const struct vsim_node *s,
				      struct vsim_node *up, int *fail)
{
	struct vsim_node *x;

	if (!s || *fail)
		return NULL;
	x = node_new(t);
	if (!x) {
		*fail = 1;
		return NULL;
	}
	*x = *s;
	x->up = up;
	x->left = x->right = NULL;
	x->left = copy_subtree(t, s->left, x, fail);
	x->right = copy_subtree(t, s->right, x, fail);
	return x;
}

int vsim_tbl_copy(struct vsim_table *dst, const struct vsim_table *src)
{
	int fail = 0;

	vsim_tbl_clear(dst);
	dst->root = copy_subtree(dst, src->root, NULL, &fail);
	dst->n = src->n;
	dst->npins = src->npins;
	if (fail) {
		vsim_tbl_clear(dst);
		return -ENOMEM;
	}
	return 0;
}
