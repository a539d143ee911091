// SPDX-License-Identifier: BSD-3-Clause
/*
 * pending: the maps a transaction has queued in one ASID, by IOVA (one
 * interval tree per ASID, owned by the transaction, txn.c), so that its
 * later maps and unmaps are checked against them.  A node apart from the
 * entry, which the mirror keeps small (mirror.c), for the transaction's
 * life only.  Pending maps never overlap each other.
 */
#include <stdlib.h>

#include "mapping/mapping.h"

struct pend {
	struct itree_node n;
	struct vdm_entry *e;
};

int vdm_pend_insert(struct itree *tree, struct vdm_entry *e)
{
	struct pend *p = malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->n.first = e->iova;
	p->n.last = e->last;
	p->e = e;
	itree_insert(tree, &p->n);
	return 0;
}

static struct vdm_entry *pend_of(struct itree_node *n)
{
	return n ? container_of(n, struct pend, n)->e : NULL;
}

void vdm_pend_remove(struct itree *tree, struct vdm_entry *e)
{
	struct itree_node *n = itree_lookup(tree, e->iova);

	itree_remove(tree, n);
	free(container_of(n, struct pend, n));
}

struct vdm_entry *vdm_pend_first(struct itree *tree, uint64_t first,
				 uint64_t last, struct vdm_pend_it *it)
{
	it->a = first;
	it->b = last;
	it->n = itree_iter_first(tree, first, last);
	return pend_of(it->n);
}

struct vdm_entry *vdm_pend_next(struct vdm_pend_it *it)
{
	it->n = itree_iter_next(it->n, it->a, it->b);
	return pend_of(it->n);
}

struct vdm_entry *vdm_pend_find(struct itree *tree, uint64_t first,
				uint64_t last)
{
	struct vdm_pend_it it;

	return vdm_pend_first(tree, first, last, &it);
}

void vdm_pend_clear(struct itree *tree)
{
	struct itree_node *n;

	while ((n = itree_first(tree))) {
		itree_remove(tree, n);
		free(container_of(n, struct pend, n));
	}
}
