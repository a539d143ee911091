/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tb: the tree benchmark's seam between the harness (tb_main.c, which
 * makes the workload, checks every answer and times) and one adapter per
 * tree: the project's (tb_project.c), GLib's GTree used as QEMU's
 * util/iova-tree.c uses it (tb_gtree.c) and the Linux kernel's interval
 * tree as vhost_iotlb uses it (tb_kitree.c, built at bench time by
 * scripts/bench-tree from a kernel source tarball, loaded with dlopen()).
 *
 * Each operation takes a whole batch, so that the loop runs inside the
 * adapter, next to the tree's code (the kernel's tree is a header of
 * static functions), and one indirect call is paid per batch, not per op.
 *
 * Depends on: <stddef.h>, <stdint.h>.
 */
#ifndef VDPAMAP_TB_H
#define VDPAMAP_TB_H

#include <stddef.h>
#include <stdint.h>

/* the answer of a lookup that finds nothing */
#define TB_MISS UINT64_MAX
/* every map and every hole is aligned to this */
#define TB_PAGE UINT64_C(4096)

/* one map: IOVA [iova, iova + size - 1] -> hva, with perm */
struct tb_map {
	uint64_t iova, size, hva;
	uint32_t perm;
};

/* TB_BARE: the tree alone.  TB_LIB: the tree as the library uses it,
 * each insert or remove its own commit, published to readers, replaced
 * nodes freed after a grace period (only the project's tree has it). */
enum tb_mode { TB_BARE, TB_LIB };

struct tb_tree;

struct tb_ops {
	const char *name;
	/* what exactly was built (a library version, a kernel source);
	 * NULL: nothing to add */
	const char *(*about)(void);
	/* NULL when out of memory or the mode is not offered */
	struct tb_tree *(*create)(enum tb_mode mode);
	void (*destroy)(struct tb_tree *t);
	/* m[idx[i]] for i < n, in that order; 0, or the first -errno (an
	 * overlap is -EEXIST, and the map is not inserted) */
	int (*insert)(struct tb_tree *t, const struct tb_map *m,
		      const uint32_t *idx, size_t n);
	/* the map starting at m[idx[i]].iova, for i < n; only iova and size
	 * are read, the rest comes from the tree; 0 or -ENOENT */
	int (*remove)(struct tb_tree *t, const struct tb_map *m,
		      const uint32_t *idx, size_t n);
	/* IOVA q[i] -> the hva it maps to, or TB_MISS, into out[i] when out
	 * is not NULL; returns the sum of the answers (so that no compiler
	 * drops the loop) */
	uint64_t (*find)(struct tb_tree *t, const uint64_t *q, size_t n,
			 uint64_t *out);
	/* hva q[i] -> the IOVA it is mapped at, or TB_MISS (the workload's
	 * hvas do not overlap: one answer) */
	uint64_t (*reverse)(struct tb_tree *t, const uint64_t *q, size_t n,
			    uint64_t *out);
	/* n times: the lowest TB_PAGE-aligned IOVA where size free bytes
	 * start, in [0, 2^64 - 1]; TB_MISS when there is none */
	uint64_t (*hole)(struct tb_tree *t, uint64_t size, size_t n,
			 uint64_t *out);
	/* returns when every deferred free is done (rcu_barrier()); NULL:
	 * nothing is deferred */
	void (*settle)(struct tb_tree *t);
	size_t (*count)(struct tb_tree *t);
	/* the tree's own invariant check, 0 or -1; NULL: it has none */
	int (*check)(struct tb_tree *t);
};

/* the adapters built into the harness; NULL when not built (why_*) */
extern const struct tb_ops tb_project_ops;
/* TB_LIB recycles nodes instead of freeing them (tb_project.c) */
extern int tb_project_recycle;
extern const struct tb_ops *const tb_gtree;
extern const char *const tb_gtree_why;
/* tb_kitree.c's plugin exports this symbol */
#define TB_KITREE_SYM "tb_kitree_ops"

#endif
