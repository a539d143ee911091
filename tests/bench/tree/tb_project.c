// SPDX-License-Identifier: BSD-3-Clause
/*
 * The project's tree in the benchmark (tb.h): the IOVA mirror and the
 * reverse (hva -> iova) index as the library keeps them.  Today's tree
 * (iova_tree.h) is intrusive: one allocation per map holds both nodes;
 * overlaps are refused by a lookup first, as the mapping layer does.
 * It has no commit, so TB_LIB is not offered yet.
 */
#include <errno.h>
#include <stdlib.h>

#include "iova_tree/iova_tree.h"
#include "tb.h"

struct pent {
	struct itree_node in; /* [iova, iova + size - 1] */
	struct itree_node hn; /* [hva, hva + size - 1] */
	uint64_t hva;
	uint32_t perm;
};

struct tb_tree {
	struct itree it, ht;
};

static struct tb_tree *p_create(enum tb_mode mode)
{
	struct tb_tree *t;

	if (mode != TB_BARE)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t) {
		itree_init(&t->it);
		itree_init(&t->ht);
	}
	return t;
}

static void p_destroy(struct tb_tree *t)
{
	struct itree_node *n;

	if (!t)
		return;
	while ((n = itree_first(&t->it))) {
		struct pent *e = (struct pent *)n;

		itree_remove(&t->it, &e->in);
		itree_remove(&t->ht, &e->hn);
		free(e);
	}
	free(t);
}

static int p_insert(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct tb_map *x = &m[idx[i]];
		uint64_t last = x->iova + x->size - 1;
		struct pent *e;

		if (itree_iter_first(&t->it, x->iova, last))
			return -EEXIST;
		e = malloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->in.first = x->iova;
		e->in.last = last;
		e->hn.first = x->hva;
		e->hn.last = x->hva + x->size - 1;
		e->hva = x->hva;
		e->perm = x->perm;
		itree_insert(&t->it, &e->in);
		itree_insert(&t->ht, &e->hn);
	}
	return 0;
}

static int p_remove(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct itree_node *nd = itree_lookup(&t->it, m[idx[i]].iova);
		struct pent *e;

		if (!nd || nd->first != m[idx[i]].iova)
			return -ENOENT;
		e = (struct pent *)nd;
		itree_remove(&t->it, &e->in);
		itree_remove(&t->ht, &e->hn);
		free(e);
	}
	return 0;
}

static uint64_t p_find(struct tb_tree *t, const uint64_t *q, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct itree_node *nd = itree_lookup(&t->it, q[i]);
		uint64_t a = TB_MISS;

		if (nd && nd->last >= q[i])
			a = ((struct pent *)nd)->hva + (q[i] - nd->first);
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static uint64_t p_reverse(struct tb_tree *t, const uint64_t *q, size_t n,
			  uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct itree_node *nd = itree_iter_first(&t->ht, q[i], q[i]);
		uint64_t a = TB_MISS;

		if (nd) {
			struct pent *e =
				(struct pent *)((char *)nd -
						offsetof(struct pent, hn));

			a = e->in.first + (q[i] - nd->first);
		}
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static uint64_t p_hole(struct tb_tree *t, uint64_t size, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t a;

		if (itree_find_hole(&t->it, 0, UINT64_MAX, size, TB_PAGE, &a))
			a = TB_MISS;
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static size_t p_count(struct tb_tree *t)
{
	return t->it.count;
}

static int p_check(struct tb_tree *t)
{
	if (itree_check(&t->it) || itree_check(&t->ht) ||
	    t->it.count != t->ht.count)
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
	.count = p_count,
	.check = p_check,
};
