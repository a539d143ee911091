/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mapping: registered regions, the per-ASID mirror of the device IOTLB (an
 * iova tree and an hva tree of struct vdm_entry per ASID), transactions
 * with rollback, lock-free readers' snapshots, prefault and the memlock
 * budget.  The mirror changes only after the device accepted a message.
 * Its state on the handle is struct vdm_mapping (h->map), written only by
 * this module's files; modules above read it and change it through the
 * functions below.
 *
 * Inside the module: txn.c calls map.c and entries.c; map.c calls
 * snapshot.c and entries.c; snapshot.c, prefault.c and entries.c call
 * nothing else of the module.
 *
 * May include: iotlb/iotlb.h, core/internal.h (and so transport,
 * iova_tree), liburcu-bp, libc.  Nothing of lifecycle, migrate, handoff.
 *
 * Snapshots (snapshot.c):
 * snapshot: what lock-free readers see.  The mirror's trees are changed in
 * place by writers (under the handle mutex), which a reader without the lock
 * must never walk.  So after every change the writer publishes, per changed
 * ASID, an immutable snapshot: the entries sorted by IOVA and, for reverse
 * lookups, sorted by HVA with a running maximum of the HVA range ends.
 * Readers binary-search it inside an RCU read-side critical section
 * (published with a release exchange, read with an acquire load)
 * (liburcu-bp, "bulletproof": no thread registration needed, so any
 * application thread may call the lookups); the writer frees the old
 * snapshot after a grace period (synchronize_rcu) before returning.
 *
 * Publishing costs O(n) per committed transaction, not per message; a
 * lookup is O(log n) (reverse lookups over heavily overlapping HVA ranges,
 * the same memory mapped at many IOVAs, may scan back over the overlaps).
 *
 */
#ifndef VDPAMAP_MAPPING_H
#define VDPAMAP_MAPPING_H

#include "iotlb/iotlb.h"

struct vdm_as {
	struct itree iova;
	struct itree hva;
	bool dirty; /* changed since the last snapshot */
	/* kernel IOTLB entries the mirror makes (mapping/entries.c): an
	 * entry of unknown count counts as 1 and in nunknown */
	uint64_t nents;
	uint64_t nunknown;
};

struct vdm_mapping {
	struct vdm_as *as; /* info.nr_as mirrors */
	/* lock-free readers' view of each ASID (snapshot.c) */
	struct vdm_snap **snap;
	bool snap_dirty;
	struct vdm_region *regions;
	uint32_t next_region_id;
	struct vdm_entry *lost; /* entries the device lost */
	/* called (lock held) when a region is registered (add) or
	 * unregistered: the keeper maps it in the old address space */
	int (*region_hook)(struct vdpamap *h, struct vdm_region *rg, bool add);
};

/* ---- map.c: the state */
/* Allocate h->map (no ASIDs yet) and register the module's hooks
 * (snapshot publish on leave; mirror, snapshots and regions on free). */
int vdm_mapping_init(struct vdpamap *h);
/* The mirrors and snapshot slots of h->info.nr_as ASIDs. */
int vdm_mapping_setup(struct vdpamap *h);
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

/* ---- map.c */
void vdm_mirror_insert(struct vdpamap *h, struct vdm_entry *e);
void vdm_mirror_remove(struct vdpamap *h, struct vdm_entry *e);
struct vdm_region *vdm_region_find(struct vdpamap *h, uint64_t hva,
				   uint64_t size);
int vdm_region_add(struct vdpamap *h, const struct vdpamap_region *r,
		   uint32_t *ret_id);
void vdm_mirror_free(struct vdpamap *h);
int vdm_memlock_check(struct vdpamap *h, uint64_t need);
bool vdm_range_mapped(struct vdpamap *h, uint32_t asid, uint64_t iova,
		      uint64_t size);

/* Take e out of the mirror onto the lost list (the device dropped it). */
void vdm_entry_lose(struct vdpamap *h, struct vdm_entry *e);
/* UPDATE every lost entry again; what the device takes rejoins the
 * mirror.  0 or the first error. */
int vdm_restore_lost(struct vdpamap *h);

/* ---- snapshot.c */
struct vdm_snap_ent {
	uint64_t first, last; /* IOVA range */
	uint64_t hva;
};

struct vdm_snap_hent {
	uint64_t first, last; /* HVA range */
	uint64_t iova;
	uint64_t max_last; /* max last of this and all before */
};

struct vdm_snap {
	uint64_t n;
	struct vdm_snap_ent *by_iova;
	struct vdm_snap_hent *by_hva;
};

/* Rebuild and publish the snapshot of every ASID whose mirror changed
 * since the last publish, then free the old ones after a grace period.
 * Caller holds the handle mutex.  On allocation failure the old snapshot
 * stays published and the ASID stays marked dirty (retried next time). */
void vdm_snap_publish(struct vdpamap *h);
/* Free every snapshot (close: no reader may use the handle any more). */
void vdm_snap_free_all(struct vdpamap *h);

/* ---- txn.c: a transaction for a caller that holds the lock (or owns a
 * new handle); vdpamap_txn_* are these plus the lock */
struct vdpamap_txn;
int vdm_txn_new(struct vdpamap *h, struct vdpamap_txn **ret);
int vdm_txn_map(struct vdpamap_txn *t, uint32_t asid, uint64_t iova, void *hva,
		uint64_t size, uint32_t perm, uint64_t *ret_iova);
/* Frees t whatever the result. */
int vdm_txn_commit(struct vdpamap_txn *t);
void vdm_txn_abort(struct vdpamap_txn *t);

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
 * with the remedies) if an ASID would pass the cap on the way. */
int vdm_entries_check(struct vdpamap *h, const struct vdm_msg *msgs, size_t n);
/* The device answered EFAULT to m: is the cap the cause, as far as the
 * library can tell?  If so it has logged the cap and the remedies. */
bool vdm_entries_efault_is_cap(struct vdpamap *h, const struct vdm_msg *m);
/* Log the cap, asid, the count and the remedies (unknown: n is a lower
 * bound; estimate: from pagemap). */
void vdm_entries_remedy(const struct vdpamap *h, uint32_t asid, uint64_t n,
			bool estimate, bool unknown);

/* ---- prefault.c */
int vdm_prefault(struct vdpamap *h, const struct vdpamap_region *r, uint32_t n,
		 uint32_t threads);

#endif
