/* SPDX-License-Identifier: BSD-3-Clause */
/*
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
 * Depends on: internal.h, liburcu-bp.
 */
#ifndef VDPAMAP_SNAPSHOT_H
#define VDPAMAP_SNAPSHOT_H

#include <stdint.h>

struct vdpamap;

struct vm_snap_ent {
	uint64_t first, last;		/* IOVA range */
	uint64_t hva;
};

struct vm_snap_hent {
	uint64_t first, last;		/* HVA range */
	uint64_t iova;
	uint64_t max_last;		/* max last of this and all before */
};

struct vm_snap {
	uint64_t n;
	struct vm_snap_ent *by_iova;
	struct vm_snap_hent *by_hva;
};

/* Rebuild and publish the snapshot of every ASID whose mirror changed
 * since the last publish, then free the old ones after a grace period.
 * Caller holds the handle mutex.  On allocation failure the old snapshot
 * stays published and the ASID stays marked dirty (retried next time). */
void vm_snap_publish(struct vdpamap *h);
/* Free every snapshot (close: no reader may use the handle any more). */
void vm_snap_free_all(struct vdpamap *h);

#endif
