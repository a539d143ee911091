/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iova_tree: a pure, intrusive interval tree of closed [first, last] u64
 * ranges, balanced (worst-case O(log n) insert/remove/lookup), augmented
 * with each subtree's min first, max last and largest free gap, so that
 * overlap queries and first-fit hole search are O(log n).
 *
 * No I/O, no locking, no allocation: the caller embeds struct itree_node in
 * its own object and owns all memory.  Ranges are never expressed as
 * (start, size): [0, 2^64-1] is a valid range.  Several nodes may overlap
 * (the hva -> iova tree needs that); itree_find_hole() is exact for any
 * tree and O(log n) for pairwise disjoint ranges (the per-ASID iova tree).
 *
 * The bottom module.  May include: <stdint.h>, <stddef.h>; nothing of
 * the library.
 */
#ifndef VDPAMAP_IOVA_TREE_H
#define VDPAMAP_IOVA_TREE_H

#include <stddef.h>
#include <stdint.h>

struct itree_node {
	uint64_t first; /* set by the caller before insert */
	uint64_t last;	/* inclusive; first <= last */
	/* private: maintained by the tree */
	uint64_t sub_first; /* min first in this subtree */
	uint64_t sub_last;  /* max last in this subtree */
	uint64_t sub_gap;   /* largest free run strictly between
					   ranges of this subtree, saturated */
	struct itree_node *left, *right, *parent;
	int balance; /* implementation private */
};

struct itree {
	struct itree_node *root;
	size_t count;
};

#define ITREE_INIT                       \
	{                                \
		.root = NULL, .count = 0 \
	}

static inline void itree_init(struct itree *t)
{
	t->root = NULL;
	t->count = 0;
}

/* Insert n (n->first/last set, first <= last).  Equal or overlapping ranges
 * are allowed; nodes are ordered by first, then by insertion order. */
void itree_insert(struct itree *t, struct itree_node *n);
/* Remove n, which must be in t. */
void itree_remove(struct itree *t, struct itree_node *n);

/* In-order walk (by first). NULL at the end. */
struct itree_node *itree_first(const struct itree *t);
struct itree_node *itree_last(const struct itree *t);
struct itree_node *itree_next(const struct itree_node *n);
struct itree_node *itree_prev(const struct itree_node *n);

/* Nodes overlapping [first, last], in order of first:
 *   for (n = itree_iter_first(t, a, b); n; n = itree_iter_next(n, a, b)) */
struct itree_node *itree_iter_first(const struct itree *t, uint64_t first,
				    uint64_t last);
struct itree_node *itree_iter_next(const struct itree_node *n, uint64_t first,
				   uint64_t last);

/* The node containing point p with the greatest first <= p, or NULL
 * (for disjoint trees: the one node containing p). */
struct itree_node *itree_lookup(const struct itree *t, uint64_t p);

/* Lowest start s, s % align == 0, with [s, s + size - 1] inside [lo, hi]
 * and overlapping no node.  size >= 1, align a power of two >= 1.
 * Returns 0 and *ret, or -1 when no such hole exists.  O(log n) for
 * disjoint trees (worst case O(log n * k) with k pruned false candidates
 * when align > 1, bounded by the tree height). */
int itree_find_hole(const struct itree *t, uint64_t lo, uint64_t hi,
		    uint64_t size, uint64_t align, uint64_t *ret);

/* Checks every invariant (ordering, balance, augmentation, parent links,
 * count); returns 0 or -1.  For tests and fuzzers; O(n). */
int itree_check(const struct itree *t);

#endif
