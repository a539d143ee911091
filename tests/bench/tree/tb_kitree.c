// SPDX-License-Identifier: BSD-3-Clause
/*
 * The Linux kernel's interval tree in the benchmark (tb.h), used as
 * drivers/vhost/iotlb.c uses it: INTERVAL_TREE_DEFINE over the augmented
 * rbtree, one map per allocation on a list, an overlap check before each
 * insert (as vhost_vdpa's IOTLB update does), a remove that deletes what
 * overlaps until nothing does (vhost_iotlb_del_range); plus what a VMM
 * would add for reverse lookups, a second interval tree keyed by hva, one
 * small node per map.  First-fit holes walk the IOVA tree in order:
 * vhost has no hole search.
 *
 * This file is the project's, but it is compiled only by
 * scripts/bench-tree, at bench time, against the userspace copies in a
 * Linux source tree's tools/ (tools/include/linux/interval_tree_generic.h,
 * the rbtree headers, tools/lib/rbtree.c), extracted into the build
 * directory; the plugin it makes is GPL-2.0 and is never committed,
 * installed or packaged.  The harness loads it with dlopen().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <linux/interval_tree_generic.h>
#include <linux/list.h>

#include "tb.h"

/* vhost_iotlb_map's fields */
struct kmap {
	struct rb_node rb;
	struct list_head link;
	uint64_t start, last, size, addr;
	uint32_t perm, flags;
	uint64_t subtree_last;
};

/* the VMM's reverse index */
struct khva {
	struct rb_node rb;
	uint64_t start, last, subtree_last;
	struct kmap *map;
};

#define K_START(n) ((n)->start)
#define K_LAST(n)  ((n)->last)
INTERVAL_TREE_DEFINE(struct kmap, rb, uint64_t, subtree_last, K_START, K_LAST,
		     static inline, ki)
INTERVAL_TREE_DEFINE(struct khva, rb, uint64_t, subtree_last, K_START, K_LAST,
		     static inline, kh)

struct tb_tree {
	struct rb_root_cached root, hroot;
	struct list_head list;
	size_t n;
};

static struct tb_tree *k_create(enum tb_mode mode)
{
	struct tb_tree *t;

	if (mode != TB_BARE)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->root = RB_ROOT_CACHED;
	t->hroot = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&t->list);
	return t;
}

static void k_free(struct tb_tree *t, struct kmap *m, struct khva *h)
{
	ki_remove(m, &t->root);
	kh_remove(h, &t->hroot);
	list_del(&m->link);
	free(h);
	free(m);
	t->n--;
}

static struct khva *k_hva_of(struct tb_tree *t, struct kmap *m)
{
	struct khva *h;

	for (h = kh_iter_first(&t->hroot, m->addr, m->addr); h;
	     h = kh_iter_next(h, m->addr, m->addr))
		if (h->map == m)
			return h;
	return NULL;
}

static void k_destroy(struct tb_tree *t)
{
	struct kmap *m, *tmp;

	if (!t)
		return;
	list_for_each_entry_safe(m, tmp, &t->list, link)
		k_free(t, m, k_hva_of(t, m));
	free(t);
}

static int k_insert(struct tb_tree *t, const struct tb_map *mm,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct tb_map *x = &mm[idx[i]];
		uint64_t last = x->iova + x->size - 1;
		struct kmap *m;
		struct khva *h;

		if (ki_iter_first(&t->root, x->iova, last))
			return -EEXIST;
		m = malloc(sizeof(*m));
		h = malloc(sizeof(*h));
		if (!m || !h) {
			free(m);
			free(h);
			return -ENOMEM;
		}
		m->start = x->iova;
		m->last = last;
		m->size = x->size;
		m->addr = x->hva;
		m->perm = x->perm;
		m->flags = 0;
		ki_insert(m, &t->root);
		list_add_tail(&m->link, &t->list);
		h->start = x->hva;
		h->last = x->hva + x->size - 1;
		h->map = m;
		kh_insert(h, &t->hroot);
		t->n++;
	}
	return 0;
}

static int k_remove(struct tb_tree *t, const struct tb_map *mm,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t first = mm[idx[i]].iova;
		uint64_t last = first + mm[idx[i]].size - 1;
		struct kmap *m;
		int found = 0;

		while ((m = ki_iter_first(&t->root, first, last))) {
			k_free(t, m, k_hva_of(t, m));
			found = 1;
		}
		if (!found)
			return -ENOENT;
	}
	return 0;
}

static uint64_t k_find(struct tb_tree *t, const uint64_t *q, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct kmap *m = ki_iter_first(&t->root, q[i], q[i]);
		uint64_t a = m ? m->addr + (q[i] - m->start) : TB_MISS;

		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static uint64_t k_reverse(struct tb_tree *t, const uint64_t *q, size_t n,
			  uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct khva *h = kh_iter_first(&t->hroot, q[i], q[i]);
		uint64_t a = h ? h->map->start + (q[i] - h->start) : TB_MISS;

		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static uint64_t k_hole(struct tb_tree *t, uint64_t size, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t next = 0, a = TB_MISS;
		struct rb_node *r;

		for (r = rb_first_cached(&t->root); r; r = rb_next(r)) {
			struct kmap *m = rb_entry(r, struct kmap, rb);

			if (m->start > next && m->start - next >= size) {
				a = next;
				break;
			}
			next = m->last + 1;
		}
		if (a == TB_MISS && size - 1 <= UINT64_MAX - next)
			a = next;
		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

static size_t k_count(struct tb_tree *t)
{
	return t->n;
}

/* scripts/bench-tree names the kernel source it was built from */
#ifndef TB_KITREE_FROM
#define TB_KITREE_FROM "an unnamed kernel source"
#endif

static const char *k_about(void)
{
	return "tools/ of " TB_KITREE_FROM;
}

__attribute__((visibility("default"))) const struct tb_ops tb_kitree_ops = {
	.name = "kernel itree",
	.about = k_about,
	.create = k_create,
	.destroy = k_destroy,
	.insert = k_insert,
	.remove = k_remove,
	.find = k_find,
	.reverse = k_reverse,
	.hole = k_hole,
	.count = k_count,
};
