/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iotlb: the only writer of IOTLB messages.  It encodes vhost_msg_v2 for a
 * mirror entry, wraps runs of one ASID in BATCH_BEGIN/END when BATCH was
 * negotiated, and reports which messages the device accepted.  The entry
 * and region types are defined here because a message is made from them;
 * mapping keeps them in its mirror.
 *
 * May include: core/internal.h (and so transport, iova_tree),
 * uapi/vhost_vdpa.h, libc.  Nothing of mapping or above.
 */
#ifndef VDPAMAP_IOTLB_H
#define VDPAMAP_IOTLB_H

#include "core/internal.h"

/* ---- regions and entries */
struct vdm_region {
	uint32_t id;
	uint32_t nr_maps; /* entries pointing into it */
	struct vdpamap_region r;
	struct vdm_region *next;
	/* Where the device sees r.hva (the uaddr of IOTLB messages): 0 means
	 * r.hva itself; after an exec handoff through the mm keeper, the
	 * address of the same memory in the keeper's (old) address space. */
	uint64_t dev_base;
};

/* 56 bytes, malloc's 64-byte class: the mirror's memory per entry is
 * this and its ranges in the readers' trees (docs/rtree.md, "The
 * mirror"); what is added here costs 16 bytes an entry at once. */
struct vdm_entry {
	/* an entry is in its ASID's mirror or on h->lost, never both */
	union {
		/* the mirror's list of its ASID (mapping/mirror.c's) */
		struct vdm_entry *next;
		/* on h->lost when a rollback failed */
		struct vdm_entry *lost_next;
	};
	uint64_t iova, last; /* [iova, last]: the whole space is size 0 */
	uint64_t hva;
	struct vdm_region *region;
	uint32_t asid;
	/* entries of the kernel's IOTLB it makes (mapping/entries.c);
	 * 0: unknown */
	uint32_t nents;
	uint8_t perm;
	/* not counted (nents 0): its commit could not reach the cap
	 * whatever the count; counted once an ASID nears its cap */
	bool uncounted;
	/* transaction bookkeeping */
	bool in_mirror;
	bool pending_rm;
	bool txn_new; /* created by the open transaction */
	bool lost;
};

static inline uint64_t vdm_entry_size(const struct vdm_entry *e)
{
	return e->last - e->iova + 1;
}

/* The uaddr the device must be told for e (see vdm_region.dev_base). */
static inline uint64_t vdm_entry_uaddr(const struct vdm_entry *e)
{
	const struct vdm_region *rg = e->region;

	if (!rg || !rg->dev_base)
		return e->hva;
	return rg->dev_base + (e->hva - (uint64_t)(uintptr_t)rg->r.hva);
}

/* ---- iotlb.c: the only writer of IOTLB messages */
struct vdm_msg {
	uint8_t type; /* VHOST_IOTLB_UPDATE/INVALIDATE/REMAP */
	struct vdm_entry *e;
};
/* Called after the device accepted msg i. */
typedef void (*vdm_msg_done_fn)(struct vdpamap *h, const struct vdm_msg *m);
/* Send msgs in order, wrapped in one BATCH_BEGIN/END per run of equal
 * ASID when BATCH was negotiated.  Returns the number of messages the
 * device accepted (all of them: n) and, on failure, stores the errno in
 * *err.  done is called for each accepted message, in order. */
size_t vdm_iotlb_run(struct vdpamap *h, const struct vdm_msg *msgs, size_t n,
		     vdm_msg_done_fn done, int *err);
/* One raw message, not batched (probe). */
int vdm_iotlb_send(struct vdpamap *h, uint32_t asid, uint8_t type,
		   uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm);

#endif
