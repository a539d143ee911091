/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mapping: registered regions, the per-ASID mirror of the device IOTLB (a
 * list of struct vdm_entry in IOVA order per ASID, indexed by the writer's
 * side of the readers' trees: mirror.c), transactions
 * with rollback, the lock-free readers' view, prefault and the memlock
 * budget.  The mirror changes only after the device accepted a message.
 * Its state on the handle is struct vdm_mapping (h->map), written only by
 * this module's files; modules above read it and change it through the
 * functions below.
 *
 * Inside the module: txn.c calls args.c, map.c, mirror.c, pending.c,
 * rollback.c, entries.c and vma.c; rollback.c calls mirror.c; args.c calls map.c and vma.c; map.c calls mirror.c, view.c,
 * entries.c and vma.c; mirror.c calls view.c and entries.c; entries.c
 * calls vma.c; view.c, prefault.c, pending.c and vma.c call nothing
 * else of the module.
 *
 * May include: iotlb/iotlb.h, core/internal.h (and so transport,
 * iova_tree), liburcu-bp, libc.  Nothing of lifecycle, migrate, handoff.
 *
 * The readers' view (view.c):
 * lock-free readers never walk the mirror, which writers change in place
 * under the handle mutex.  They read, per ASID, two copy-on-write
 * trees (iova_tree/rtree.h: ranges by IOVA, and by hva for reverse
 * lookups) that every mirror change updates as it happens; leaving the
 * lock publishes them (release stores), and readers search the published
 * ones inside an RCU read-side critical section (liburcu-bp, "bulletproof":
 * no thread registration needed, so any application thread may call the
 * lookups).  What a publish replaced is freed by call_rcu after a grace
 * period: a writer never waits for readers.  The writer's side of the same
 * trees is the mirror's index (its IOVA tree's ref is the entry).
 *
 * A commit of k changes costs O(k log n); a lookup is O(log n) (reverse
 * lookups over heavily overlapping HVA ranges, the same memory mapped at
 * many IOVAs, prune as an interval tree does).
 *
 */
#ifndef VDPAMAP_MAPPING_H
#define VDPAMAP_MAPPING_H

#include <stdio.h>

#include "iotlb/iotlb.h"
#include "iova_tree/rtree.h"

struct vdm_as {
	/* the mirror: entries in IOVA order (mirror.c) */
	struct vdm_entry *head;
	uint64_t count;
	/* while the view is stale (no index), the entry last inserted or
	 * the one before the entry last removed: an ascending run of
	 * inserts or removals searches on from it, O(1) each */
	struct vdm_entry *finger;
	bool dirty; /* changed since the last publish of its view */
	/* kernel IOTLB entries the mirror makes (mapping/entries.c): an
	 * entry of unknown count counts as 1 and in nunknown */
	uint64_t nents;
	uint64_t nunknown;
	/* the most entries the mirror can make (each entry's bound, from
	 * its size alone), and how many entries were not counted */
	uint64_t nbound;
	uint64_t nuncounted;
};

struct vdm_mapping {
	struct vdm_as *as; /* info.nr_as mirrors */
	/* lock-free readers' view of each ASID (view.c) */
	struct vdm_view *view;
	bool view_dirty;
	struct vdm_region *regions;
	uint32_t next_region_id;
	struct vdm_entry *lost; /* entries the device lost */
	/* vma.c: /proc/self/maps kept open for PROCMAP_QUERY between
	 * commits (-1: not open yet; -2: the kernel has no PROCMAP_QUERY),
	 * closed with the handle; O_CLOEXEC, and a forked child, which
	 * holds a copy naming the parent, never uses the handle */
	int maps_fd;
	/* vma.c: the process whose address space the device reads through
	 * when not this one (0): after a KEEPER handoff, the keeper's,
	 * where a VA-mode UPDATE's VMAs are what the kernel counts; and
	 * its /proc/PID/maps, opened once when that process was named
	 * (vdm_map_dev_mm) and kept for counting (-1: none, or it could
	 * not be opened) */
	pid_t dev_pid;
	int dev_maps_fd;
	/* entries.c: /proc/self/pagemap kept open for counting (-1: not
	 * open yet), closed with the handle as maps_fd; and whether it
	 * shows PFNs here (0: not asked yet, 1: no, 2: yes) */
	int pm_fd;
	int pa_counted;
	/* the open public transaction (vdpamap_txn_begin until its end),
	 * which close aborts and detaches (txn.c) */
	struct vdpamap_txn *txn;
	/* called (lock held) when a region is registered (add) or
	 * unregistered: the keeper maps it in the old address space */
	int (*region_hook)(struct vdpamap *h, struct vdm_region *rg, bool add);
};

/* ---- map.c: the state */
/* Allocate h->map (no ASIDs yet) and register the module's hooks
 * (view publish on leave; mirror, views and regions on free). */
int vdm_mapping_init(struct vdpamap *h);
/* The mirrors and readers' views of h->info.nr_as ASIDs; also starts
 * liburcu's call_rcu thread (vdm_mapping_reclaimer_start()). */
int vdm_mapping_setup(struct vdpamap *h);
/* The same without starting the thread: a handoff's successor, where a
 * thread's creation would sit inside the downtime (it starts after the
 * first frame, or at the first retired node: call_rcu() creates it). */
int vdm_mapping_setup_quiet(struct vdpamap *h);
/* liburcu's call_rcu thread, which frees retired view nodes: started
 * here rather than inside a map's publish (idempotent). */
void vdm_mapping_reclaimer_start(void);
void vdm_region_hook_set(struct vdpamap *h,
			 int (*fn)(struct vdpamap *h, struct vdm_region *rg,
				   bool add));
/* Handoff: a region as a description recorded it (id, where the device
 * sees it), the id counter, an id given anew, where the device sees it. */
int vdm_region_restore(struct vdpamap *h, uint32_t id,
		       const struct vdpamap_region *r, uint64_t dev_base);
void vdm_region_next_id_set(struct vdpamap *h, uint32_t next);
struct vdm_region *vdm_region_by_id(struct vdpamap *h, uint32_t id);
void vdm_region_id_set(struct vdpamap *h, struct vdm_region *rg, uint32_t id);
void vdm_region_dev_base_set(struct vdpamap *h, struct vdm_region *rg,
			     uint64_t dev_base);

/* ---- mirror.c: each ASID's entries, by IOVA and by hva.  Nothing but
 * mirror.c knows how they are indexed. */
void vdm_mirror_init(struct vdpamap *h, uint32_t asid);
/* e joins (after the device accepted its UPDATE) or leaves the mirror of
 * e->asid, its view, its region's count, the pinned bytes and the entry
 * count. */
void vdm_mirror_insert(struct vdpamap *h, struct vdm_entry *e);
void vdm_mirror_remove(struct vdpamap *h, struct vdm_entry *e);
/* The message m the device accepted, applied to the mirror: an UPDATE's
 * entry joins it, an INVALIDATE's leaves it (a vdm_msg_done_fn). */
void vdm_mirror_apply(struct vdpamap *h, const struct vdm_msg *m);
/* Remove and free every entry of asid. */
void vdm_mirror_clear(struct vdpamap *h, uint32_t asid);
uint64_t vdm_mirror_count(const struct vdpamap *h, uint32_t asid);
/* The entry of asid containing iova, or NULL. */
struct vdm_entry *vdm_mirror_lookup(struct vdpamap *h, uint32_t asid,
				    uint64_t iova);
/* Entries of asid overlapping [first, last] by IOVA, in IOVA order
 * (vdm_mirror_first), or whose hva range overlaps it, in no order to rely
 * on (vdm_mirror_hva_first):
 *   for (e = vdm_mirror_first(h, a, f, l, &it); e; e = vdm_mirror_next(&it))
 * By IOVA, valid while the current entry stays in the mirror; by hva,
 * until the mirror's next change. */
struct vdm_mirror_it {
	struct vdm_entry *e;
	uint64_t a, b;
	bool hva, scan;
	struct vdm_view *v;
	struct rt_iter rt;
};
struct vdm_entry *vdm_mirror_first(struct vdpamap *h, uint32_t asid,
				   uint64_t first, uint64_t last,
				   struct vdm_mirror_it *it);
struct vdm_entry *vdm_mirror_hva_first(struct vdpamap *h, uint32_t asid,
				       uint64_t first, uint64_t last,
				       struct vdm_mirror_it *it);
struct vdm_entry *vdm_mirror_next(struct vdm_mirror_it *it);
/* Lowest start s, s % align == 0, [s, s + size - 1] inside [lo, hi] and
 * free in asid's mirror: 0 and *ret, or -ENOSPC. */
int vdm_mirror_find_hole(struct vdpamap *h, uint32_t asid, uint64_t lo,
			 uint64_t hi, uint64_t size, uint64_t align,
			 uint64_t *ret);
bool vdm_range_mapped(struct vdpamap *h, uint32_t asid, uint64_t iova,
		      uint64_t size);

/* ---- map.c */
struct vdm_region *vdm_region_find(struct vdpamap *h, uint64_t hva,
				   uint64_t size);
int vdm_region_add(struct vdpamap *h, const struct vdpamap_region *r,
		   uint32_t *ret_id);
/* Is r's fd (if any) still open and the file mapped at r's hva, at r's
 * fd_offset?  0, or -EBADF (not open, another file) / -EINVAL (another
 * offset), logged with what (the caller's name). */
int vdm_region_fd_check(struct vdpamap *h, const struct vdpamap_region *r,
			const char *what);
void vdm_mirror_free(struct vdpamap *h);
int vdm_memlock_check(struct vdpamap *h, uint64_t need);

/* Take e out of the mirror onto the lost list (the device dropped it). */
void vdm_entry_lose(struct vdpamap *h, struct vdm_entry *e);
/* UPDATE every lost entry again; what the device takes rejoins the
 * mirror.  0 or the first error. */
int vdm_restore_lost(struct vdpamap *h);

/* ---- view.c */
struct vdm_view {
	struct rtree by_iova; /* val = hva, aux = perm */
	struct rtree by_hva;  /* val = iova */
	bool stale;	      /* missed a change (no memory): resync */
	unsigned int fork_gen;
	/* retired nodes of both trees not yet given to call_rcu */
	struct rt_node *limbo;
	uint32_t nlimbo;
};

/* Released by readers after their lookups, acquired before retired nodes
 * are freed (core/tsan.h). */
extern char vdm_view_sync;

void vdm_view_init(struct vdm_view *v);
/* The mirror gained (add) or lost e: the writer's side of its view. */
void vdm_view_change(struct vdpamap *h, const struct vdm_entry *e, bool add);
/* Before a commit sends msgs: an ASID that gains or loses many entries
 * (maps only or unmaps only, in ascending IOVA order, at least half as
 * many as it holds) stops indexing them one by one; the publish rebuilds
 * its view from the mirror in one pass (the bulk path of a large commit).
 * Nothing for a small commit. */
void vdm_view_plan(struct vdpamap *h, const struct vdm_msg *msgs, size_t n);
/* Publish the view of every ASID whose mirror changed since the last
 * publish.  Caller holds the handle mutex.  On allocation failure the old
 * view stays published and the ASID stays marked (retried next time). */
void vdm_snap_publish(struct vdpamap *h);
/* Free every view (close: no reader may use the handle any more). */
void vdm_snap_free_all(struct vdpamap *h);

/* ---- args.c: a map's or unmap's arguments on their own */
/* PA mode: the system page less one (the kernel pins and maps whole
 * pages whatever a map says), else 0.  Every range the device is to hold
 * (maps, flip's shadow areas) keeps to it, ALLOW_UNALIGNED or not. */
uint64_t vdm_pa_mask(const struct vdpamap *h);
/* [iova, iova + size - 1] in asid: size not 0 (-EINVAL), asid known
 * (-EINVAL) and reachable (-EOPNOTSUPP without IOTLB_ASID), no wrap
 * (-EOVERFLOW).  Logs the refusal. */
int vdm_check_range(struct vdpamap *h, uint32_t asid, uint64_t iova,
		    uint64_t size);
/* A map's: perm, the range, alignment (to mask, and in PA mode to the
 * system page), and the region hva lies in (*ret_rg); that it is still
 * mapped in this process, vdm_mem_check_msgs() checks at commit.  Logs
 * the refusal. */
int vdm_map_check_args(struct vdpamap *h, uint32_t asid, uint64_t iova,
		       void *hva, uint64_t size, uint32_t perm, uint64_t mask,
		       struct vdm_region **ret_rg);

/* ---- pending.c: a transaction's queued maps of one ASID (a tree the
 * transaction owns), by IOVA */
int vdm_pend_insert(struct itree *tree, struct vdm_entry *e);
/* e, queued, leaves the tree. */
void vdm_pend_remove(struct itree *tree, struct vdm_entry *e);
/* Every queued map leaves the tree (the entries stay the caller's). */
void vdm_pend_clear(struct itree *tree);
/* The queued maps overlapping [first, last], by IOVA; the iterator is
 * valid until the next insert or remove. */
struct vdm_pend_it {
	struct itree_node *n;
	uint64_t a, b;
};
struct vdm_entry *vdm_pend_first(struct itree *tree, uint64_t first,
				 uint64_t last, struct vdm_pend_it *it);
struct vdm_entry *vdm_pend_next(struct vdm_pend_it *it);
/* The first queued map overlapping [first, last], or NULL. */
struct vdm_entry *vdm_pend_find(struct itree *tree, uint64_t first,
				uint64_t last);

/* ---- rollback.c: send the inverse of msgs[0..n) in reverse order,
 * skipping a message the device refuses and going on with the rest.
 * Returns 0 when everything was undone. */
int vdm_rollback(struct vdpamap *h, const struct vdm_msg *msgs, size_t n);

/* ---- txn.c: a transaction for a caller that holds the lock (or owns a
 * new handle); vdpamap_txn_* are these plus the lock */
struct vdpamap_txn;
int vdm_txn_new(struct vdpamap *h, struct vdpamap_txn **ret);
int vdm_txn_map(struct vdpamap_txn *t, uint32_t asid, uint64_t iova, void *hva,
		uint64_t size, uint32_t perm, uint64_t *ret_iova);
/* Frees t whatever the result. */
int vdm_txn_commit(struct vdpamap_txn *t);
void vdm_txn_abort(struct vdpamap_txn *t);
/* Close: abort the open public transaction, if any, and release the lock
 * it holds.  Its struct stays the caller's, detached from h: every call on
 * it returns -EBADF without touching h, and its commit or abort frees
 * it. */
void vdm_txn_close(struct vdpamap *h);

/* ---- entries.c: kernel IOTLB entries against the caps (h->info) */
/* Does /proc/self/pagemap show PFNs (CAP_SYS_ADMIN)?  false also with
 * VDPAMAP_PAGEMAP=0 in the environment. */
bool vdm_pagemap_pfns(void);
/* Are PA-mode counts of 4 KiB memory known here (the simulator's rule,
 * or PFNs in pagemap)? */
bool vdm_entries_pa_counted(const struct vdpamap *h);
/* The smaller cap that applies (UINT64_MAX: none enforced). */
uint64_t vdm_entries_cap(const struct vdpamap *h);
/* The mirror gained (add) or lost e: its ASID's count. */
void vdm_entries_account(struct vdpamap *h, const struct vdm_entry *e,
			 bool add);
/* Count every UPDATE's entries (e->nents) and refuse (-ENOSPC, logged
 * with the remedies) if an ASID would pass the cap on the way.  When the
 * bounds (the pages each entry spans) of an ASID's mirror and of the
 * commit's UPDATEs cannot pass it, nothing is counted (e->uncounted);
 * else what its mirror holds uncounted is counted first. */
int vdm_entries_check(struct vdpamap *h, const struct vdm_msg *msgs, size_t n);
/* The device answered EFAULT to m: is the cap the cause, as far as the
 * library can tell?  If so it has logged the cap and the remedies. */
bool vdm_entries_efault_is_cap(struct vdpamap *h, const struct vdm_msg *m);
/* Log the cap, asid, the count and the remedies (unknown: n is a lower
 * bound; estimate: from pagemap). */
void vdm_entries_remedy(const struct vdpamap *h, uint32_t asid, uint64_t n,
			bool estimate, bool unknown);

/* ---- vma.c: the caller's memory as the kernel will find it */
/* 0 if every page of [hva, hva + len) is mapped in this process, else
 * -ENOMEM (a hole) or -EINVAL; one syscall whatever the size. */
int vdm_mem_mapped(uint64_t hva, uint64_t len);
/* 0 if every UPDATE of msgs[0..n) is of memory mapped in this process,
 * else -EFAULT, logged naming the first range that is not: at commit,
 * before anything is sent.  One PROCMAP_QUERY per VMA the ranges cover
 * (none for a range inside the VMAs the last query found), or where the
 * kernel has none (before 6.11) one mincore() per range. */
int vdm_mem_check_msgs(struct vdpamap *h, const struct vdm_msg *msgs, size_t n);
/* /proc/self/maps for PROCMAP_QUERY (h->map->maps_fd), opened at the
 * first use: -1 if it cannot be or the kernel has no PROCMAP_QUERY. */
int vdm_maps_fd(struct vdpamap *h);
/* The kernel has no PROCMAP_QUERY: never ask again. */
void vdm_maps_fd_unsupported(struct vdpamap *h);
/* The device reads memory through pid's address space from now on (a
 * KEEPER successor: the keeper's), at the addresses vdm_entry_uaddr()
 * gives: counting asks that process's maps, opened now (warned once if
 * it cannot be: the counts stay unknown).  The memory check stays on
 * this process's own, where the caller's addresses are. */
void vdm_map_dev_mm(struct vdpamap *h, pid_t pid);
/* The maps of the address space the device reads through (this
 * process's, or vdm_map_dev_mm()'s), for PROCMAP_QUERY: -1 if it cannot
 * be read or (this process's) the kernel has no PROCMAP_QUERY. */
int vdm_dev_maps_fd(struct vdpamap *h);
/* The same as text from its start, for kernels before 6.11 (fclose()
 * it); NULL if it cannot be read. */
FILE *vdm_dev_maps_stream(struct vdpamap *h);
/* PROCMAP_QUERY on fd (vdm_maps_fd()): the VMA covering a, or the next
 * one after it, of those flags (PROCMAP_QUERY_*) allows: 1 and its
 * [*start, *end), 0 when there is none from a on, -ENOTTY when the
 * kernel has no PROCMAP_QUERY, else -errno. */
int vdm_procmap_next(int fd, uint64_t a, uint64_t flags, uint64_t *start,
		     uint64_t *end);
/* Close what the module keeps open between commits (maps_fd,
 * dev_maps_fd, pm_fd). */
void vdm_mem_fds_close(struct vdpamap *h);
/* 1 and the first part of [hva, hva + len) that is private memory
 * (MAP_PRIVATE, anonymous private: what a VA-mode device skips) in
 * [*ret_first, *ret_last]; 0 if all of it is shared; -errno if
 * /proc/self/maps cannot be read.  One read of it: call per region. */
int vdm_mem_private(uint64_t hva, uint64_t len, uint64_t *ret_first,
		    uint64_t *ret_last);

/* 0 if fd at offset off is the file mapped at every byte of [hva, hva +
 * len) (the same dev and inode, the matching offset), 1 if a part maps
 * another file or none, 2 if it maps fd's file at another offset, with
 * that part in [*ret_first, *ret_last]; -errno if fd or /proc/self/maps
 * cannot be read.  One read of /proc/self/maps. */
int vdm_mem_backed(uint64_t hva, uint64_t len, int fd, uint64_t off,
		   uint64_t *ret_first, uint64_t *ret_last);

/* ---- prefault.c */
int vdm_prefault(struct vdpamap *h, const struct vdpamap_region *r, uint32_t n,
		 uint32_t threads);

#endif
