/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtree: a B+tree of closed [first, last] u64 ranges, each with a u64 value
 * (and, in the disjoint kind, a u32 aux), copied on write so that readers
 * walk it without a lock while one writer changes it.
 *
 * Two kinds:
 *   RT_DISJOINT  ranges never overlap; the key is first.  Insert refuses an
 *                overlap itself (-EEXIST).  Inner nodes keep, per child, its
 *                lowest first, highest last and largest free run between
 *                its ranges, so point lookup goes straight down one path
 *                and first-fit hole search is O(log n).  The IOVA mirror.
 *   RT_OVERLAP   ranges may overlap (one piece of memory mapped at several
 *                IOVAs); the key is (first, val), unique.  Inner nodes keep
 *                per child its lowest key and highest last, so a stabbing
 *                query prunes as an interval tree does.  The hva index.
 *
 * Writer and readers.  The writer changes its own view (root) under the
 * caller's lock: a node that readers may see is never written; it is
 * copied first (once per commit: a copy belongs to the current generation
 * and is changed in place until the commit), and the path above it is
 * copied up to the root.  rt_commit() publishes the writer's view with a
 * release store and hands the nodes it replaced to ops->retire, which must
 * free them only after every reader that may still see them has finished
 * (call_rcu).  rt_abort() drops the writer's changes since the last commit.
 * Readers call rt_read_*() inside the caller's RCU read-side critical
 * section; they copy out what they find.  So a commit of k changes on a
 * table of n costs O(k log n), never O(n).
 *
 * Memory: nodes come from ops->alloc and go back through ops->free (never
 * seen by a reader) or ops->retire (seen by readers).  Every allocation an
 * operation may need is taken before it changes anything, so -ENOMEM
 * leaves the tree as it was.
 *
 * The bottom module.  May include libc headers only; nothing of the library.
 */
#ifndef VDPAMAP_RTREE_H
#define VDPAMAP_RTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rt_kind { RT_DISJOINT, RT_OVERLAP };

/* One range as callers see it: copied in on insert, copied out on lookup. */
struct rt_ent {
	uint64_t first, last; /* first <= last */
	uint64_t val;	      /* RT_OVERLAP: part of the key */
	uint32_t aux;	      /* RT_DISJOINT only; 0 in RT_OVERLAP */
	/* RT_DISJOINT only (0 in RT_OVERLAP): the writer's own (the
	 * library's mirror keeps its entry there); copied out by the
	 * writer's queries, never by the readers' */
	uint64_t ref;
};

/* The header of every node; public only so that ops->retire can walk the
 * chain it is given (rnext) and free each node. */
struct rt_node {
	/* ops->retire's own, on the chain's first node: room for what
	 * queues the chain for a grace period (a liburcu struct rcu_head
	 * fits), so retiring allocates nothing; readers never read it.
	 * First, so that a queue holding it points at the node's start
	 * (memcheck counts a node still queued at exit as reachable) */
	void *cb[2];
	uint64_t gen; /* the writer generation that made this node */
	uint16_t n;   /* ranges (leaf) or children (inner) */
	uint8_t leaf;
	uint8_t pad_[5];
	struct rt_node *rnext; /* retire chain */
};

struct rt_ops {
	void *(*alloc)(void *ctx, size_t size);
	/* a node no reader ever saw: free now */
	void (*free)(void *ctx, void *p);
	/* nodes readers may still see, chained by rnext: free after a
	 * grace period */
	void (*retire)(void *ctx, struct rt_node *chain);
	void *ctx;
	/* hand nodes to retire once at least this many wait (0: at every
	 * commit).  A grace period per commit costs more than the commit
	 * itself; retired nodes waiting longer only hold memory. */
	uint32_t batch;
};

#define RT_MAX_HEIGHT 40

struct rtree {
	struct rt_node *root; /* the writer's view */
	struct rt_node *pub;  /* the readers' view */
	uint64_t gen;	      /* nodes of this generation are the writer's */
	uint64_t count, pub_count;
	uint32_t height, pub_height;
	enum rt_kind kind;
	struct rt_ops ops;
	struct rt_node *retired; /* replaced since the last commit */
	struct rt_node *limbo;	 /* retired by commits, not yet handed */
	uint32_t nlimbo;
	struct rt_node *spare[2]; /* reserve: leaves, inner nodes */
	uint32_t nspare[2];
	uint64_t nodes[2]; /* live nodes of the writer's view and reserve */
};

void rt_init(struct rtree *t, enum rt_kind kind, const struct rt_ops *ops);
/* Free every node at once: no reader may be using t any more. */
void rt_destroy(struct rtree *t);

/* ---- the writer (caller holds its lock) */
/* 0; -EINVAL first > last; -EEXIST overlap (RT_DISJOINT) or the same key
 * (RT_OVERLAP); -ENOMEM.  The tree is unchanged on error. */
int rt_insert(struct rtree *t, const struct rt_ent *e);
/* Remove the range whose key is first (RT_DISJOINT; val ignored) or
 * (first, val) (RT_OVERLAP), copying it to *out when out is not NULL.
 * 0, -ENOENT or -ENOMEM; unchanged on error. */
int rt_remove(struct rtree *t, uint64_t first, uint64_t val,
	      struct rt_ent *out);
/* RT_DISJOINT: set val and aux of the range whose first is first.
 * 0, -ENOENT, -EINVAL (RT_OVERLAP) or -ENOMEM. */
int rt_update(struct rtree *t, uint64_t first, uint64_t val, uint32_t aux);
/* Empty the writer's view in O(nodes), without a copy: what was
 * published is retired at the next commit (or back with rt_abort).  A
 * rebuild by ascending inserts after it fills its nodes in place. */
void rt_clear(struct rtree *t);
/* Publish the writer's view; what it replaced goes to ops->retire, now or
 * with later commits' (ops->batch). */
void rt_commit(struct rtree *t);
/* Hand every node waiting for ops->retire to it now. */
void rt_flush(struct rtree *t);
/* Back to the last published view. */
void rt_abort(struct rtree *t);

/* Lowest start s, s % align == 0, with [s, s + size - 1] inside [lo, hi]
 * and overlapping no range (RT_DISJOINT, the writer's view).  0 and *ret;
 * -EINVAL for size 0, align not a power of two, lo > hi or RT_OVERLAP;
 * -ENOSPC when there is no such hole. */
int rt_find_hole(const struct rtree *t, uint64_t lo, uint64_t hi, uint64_t size,
		 uint64_t align, uint64_t *ret);

/* ---- queries, on the writer's view (rt_*) or, inside an RCU read-side
 * critical section, on the published one (rt_read_*) */

/* A range containing p (RT_OVERLAP: the one of lowest key): 0 and *out,
 * or -ENOENT. */
int rt_lookup(const struct rtree *t, uint64_t p, struct rt_ent *out);
int rt_read_lookup(const struct rtree *t, uint64_t p, struct rt_ent *out);

/* Ranges overlapping [a, b] in key order:
 *   for (ok = rt_iter_first(t, &it, a, b, &e); ok; ok = rt_iter_next(&it, &e))
 * Valid until the next change (writer) or the end of the read-side
 * critical section (reader). */
struct rt_iter {
	uint64_t a, b;
	bool aux; /* copy out aux (RT_DISJOINT) */
	bool ref; /* and ref (RT_DISJOINT, the writer's view) */
	int depth;
	const struct rt_node *node[RT_MAX_HEIGHT];
	uint16_t idx[RT_MAX_HEIGHT];
};

/* RT_DISJOINT, the writer's view: the range of greatest first < p (0 and
 * *out), or -ENOENT. */
int rt_prev(const struct rtree *t, uint64_t p, struct rt_ent *out);

bool rt_iter_first(const struct rtree *t, struct rt_iter *it, uint64_t a,
		   uint64_t b, struct rt_ent *out);
bool rt_read_iter_first(const struct rtree *t, struct rt_iter *it, uint64_t a,
			uint64_t b, struct rt_ent *out);
bool rt_iter_next(struct rt_iter *it, struct rt_ent *out);

static inline uint64_t rt_count(const struct rtree *t)
{
	return t->count;
}

/* Bytes of the nodes the writer's view and its reserve hold. */
uint64_t rt_bytes(const struct rtree *t);

/* Check every invariant of both views (order, disjointness, the per-child
 * summaries, fill, heights, counts, and that no node of the current
 * generation is published); 0 or -1.  For tests and fuzzers; O(n). */
int rt_check(const struct rtree *t);

#endif
