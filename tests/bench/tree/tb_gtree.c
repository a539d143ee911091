// SPDX-License-Identifier: BSD-3-Clause
/*
 * GLib's GTree in the benchmark (tb.h), used the way QEMU's
 * util/iova-tree.c uses it, written here from a description of that
 * approach (no QEMU code): one GTree whose key and value are the same
 * heap-allocated map, compared "equal when overlapping", so that a
 * lookup of a one-byte range finds the map holding it; an insert looks
 * for an overlap first; a remove removes whatever overlaps until nothing
 * does; reverse lookup (hva -> iova) and first-fit hole search walk the
 * tree in order (g_tree_foreach), as QEMU does.  What a VMM developer gets
 * from GLib, the baseline of memory: two allocations per map.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tb.h"

#ifdef TB_HAVE_GLIB
#include <glib.h>

/* QEMU's DMAMap shape: the size is inclusive (last - iova) */
struct gmap {
	uint64_t iova, hva, size;
	uint32_t perm;
};

struct tb_tree {
	GTree *g;
};

static gint g_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
	const struct gmap *x = a, *y = b;

	if (x->iova > y->iova + y->size)
		return 1;
	if (x->iova + x->size < y->iova)
		return -1;
	return 0;
}

static struct tb_tree *g_create(enum tb_mode mode)
{
	struct tb_tree *t;

	if (mode != TB_BARE)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t)
		t->g = g_tree_new_full(g_cmp, NULL, g_free, NULL);
	return t;
}

static void g_destroy(struct tb_tree *t)
{
	if (!t)
		return;
	g_tree_destroy(t->g);
	free(t);
}

static int g_insert(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct tb_map *x = &m[idx[i]];
		struct gmap key = { .iova = x->iova, .size = x->size - 1 };
		struct gmap *e;

		if (g_tree_lookup(t->g, &key))
			return -EEXIST;
		e = g_new(struct gmap, 1);
		e->iova = x->iova;
		e->size = x->size - 1;
		e->hva = x->hva;
		e->perm = x->perm;
		g_tree_insert(t->g, e, e);
	}
	return 0;
}

static int g_remove(struct tb_tree *t, const struct tb_map *m,
		    const uint32_t *idx, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct gmap key = { .iova = m[idx[i]].iova,
				    .size = m[idx[i]].size - 1 };
		struct gmap *e;
		int found = 0;

		while ((e = g_tree_lookup(t->g, &key))) {
			g_tree_remove(t->g, e);
			found = 1;
		}
		if (!found)
			return -ENOENT;
	}
	return 0;
}

static uint64_t g_find(struct tb_tree *t, const uint64_t *q, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct gmap key = { .iova = q[i] };
		const struct gmap *e = g_tree_lookup(t->g, &key);
		uint64_t a = e ? e->hva + (q[i] - e->iova) : TB_MISS;

		if (out)
			out[i] = a;
		sum += a;
	}
	return sum;
}

struct rev_arg {
	uint64_t hva, ans;
};

static gboolean rev_one(gpointer key, gpointer value, gpointer data)
{
	const struct gmap *e = value;
	struct rev_arg *r = data;

	if (r->hva < e->hva || r->hva - e->hva > e->size)
		return FALSE;
	r->ans = e->iova + (r->hva - e->hva);
	return TRUE;
}

static uint64_t g_reverse(struct tb_tree *t, const uint64_t *q, size_t n,
			  uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct rev_arg r = { .hva = q[i], .ans = TB_MISS };

		g_tree_foreach(t->g, rev_one, &r);
		if (out)
			out[i] = r.ans;
		sum += r.ans;
	}
	return sum;
}

/* first fit, as QEMU's allocator: the gap before each map in order, then
 * the one after the last */
struct hole_arg {
	uint64_t size, next, ans; /* next: the first byte after prev map */
};

static gboolean hole_one(gpointer key, gpointer value, gpointer data)
{
	const struct gmap *e = value;
	struct hole_arg *h = data;

	if (e->iova > h->next && e->iova - h->next >= h->size) {
		h->ans = h->next;
		return TRUE;
	}
	h->next = e->iova + e->size + 1;
	return FALSE;
}

static uint64_t g_hole(struct tb_tree *t, uint64_t size, size_t n,
		       uint64_t *out)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct hole_arg h = { .size = size, .ans = TB_MISS };

		g_tree_foreach(t->g, hole_one, &h);
		if (h.ans == TB_MISS && size - 1 <= UINT64_MAX - h.next)
			h.ans = h.next;
		if (out)
			out[i] = h.ans;
		sum += h.ans;
	}
	return sum;
}

static size_t g_count(struct tb_tree *t)
{
	return (size_t)g_tree_nnodes(t->g);
}

static const char *g_about(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "GLib %u.%u.%u", glib_major_version,
		 glib_minor_version, glib_micro_version);
	return buf;
}

static const struct tb_ops ops = {
	.name = "GTree",
	.about = g_about,
	.create = g_create,
	.destroy = g_destroy,
	.insert = g_insert,
	.remove = g_remove,
	.find = g_find,
	.reverse = g_reverse,
	.hole = g_hole,
	.count = g_count,
};

const struct tb_ops *const tb_gtree = &ops;
const char *const tb_gtree_why = NULL;
#else
const struct tb_ops *const tb_gtree = NULL;
const char *const tb_gtree_why =
	"GLib's development files (libglib2.0-dev) were not found when the "
	"build was configured: scripts/bench-tree installs them";
#endif
