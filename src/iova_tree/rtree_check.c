// SPDX-License-Identifier: BSD-3-Clause
/*
 * rtree_check: every invariant of both views of an rtree, for tests and
 * fuzzers (rt_check(), O(n)).
 */
#include "iova_tree/rtree_node.h"

/* ---- checking */

struct chk {
	const struct rtree *t;
	uint64_t count, nodes[2];
	bool have_prev;
	uint64_t prev_first, prev_val, prev_last;
	bool pub; /* walking the published view */
};

/* Check the subtree n at height h (1: a leaf); its summary into *s. */
static int check_node(struct chk *k, const struct rt_node *n, uint32_t h,
		      bool root, struct sum *s)
{
	const struct rtree *t = k->t;
	unsigned int i;

	if (n->gen > t->gen || (k->pub && n->gen == t->gen))
		return -1; /* a node of the writer's is published */
	if (!!n->leaf != (h == 1) || n->n == 0 || n->n > RT_CAP)
		return -1;
	if (root && !n->leaf && n->n < 2)
		return -1;
	k->nodes[n->leaf ? LEAF : INNER]++;
	if (n->leaf) {
		const struct rt_leaf *l = L(n);

		for (i = 0; i < n->n; i++) {
			if (l->first[i] > l->last[i])
				return -1;
			if (k->have_prev &&
			    key_cmp(t, k->prev_first, k->prev_val, l->first[i],
				    l->val[i]) >= 0)
				return -1;
			if (t->kind == RT_DISJOINT && k->have_prev &&
			    k->prev_last >= l->first[i])
				return -1;
			k->have_prev = true;
			k->prev_first = l->first[i];
			k->prev_val = l->val[i];
			k->prev_last = l->last[i];
			k->count++;
		}
		*s = leaf_sum(t, l);
		return 0;
	}
	for (i = 0; i < n->n; i++) {
		struct sum cs;

		if (check_node(k, I(n)->child[i], h - 1, false, &cs) ||
		    !sum_eq(I(n), i, cs))
			return -1;
	}
	*s = inner_sum(t, I(n));
	return 0;
}

static int check_view(const struct rtree *t, const struct rt_node *root,
		      uint32_t height, uint64_t count, bool pub,
		      uint64_t *nodes)
{
	struct chk k = { .t = t, .pub = pub };
	struct sum s;

	if (!root)
		return height || count ? -1 : 0;
	if (!height || height > RT_MAX_HEIGHT ||
	    check_node(&k, root, height, true, &s) || k.count != count)
		return -1;
	if (nodes) {
		nodes[LEAF] = k.nodes[LEAF];
		nodes[INNER] = k.nodes[INNER];
	}
	return 0;
}

int rt_check(const struct rtree *t)
{
	uint64_t nodes[2] = { 0, 0 };

	if (check_view(t, t->root, t->height, t->count, false, nodes) ||
	    check_view(t, t->pub, t->pub_height, t->pub_count, true, NULL))
		return -1;
	if (nodes[LEAF] + t->nspare[LEAF] != t->nodes[LEAF] ||
	    nodes[INNER] + t->nspare[INNER] != t->nodes[INNER])
		return -1;
	return 0;
}
