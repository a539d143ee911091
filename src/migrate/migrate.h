/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migrate: what live migration needs of the device while it runs: the SVQ
 * ASID flip (flip.c: move vq groups to a shadow ASID with their shadow
 * rings mapped in the same batch, and back) and the dirty page log
 * (dirty.c: lock-free producers, a harvest under its own mutex).  Its
 * state on the handle is struct vdm_migrate (h->mig), allocated on the
 * first flip or dirty start and written only by this module's files.
 *
 * Inside the module: flip.c calls dirty.c (which owns the state's
 * lifetime), never the reverse.
 *
 * May include: lifecycle/lifecycle.h, mapping/mapping.h, iotlb/iotlb.h,
 * core/internal.h, libc.  Nothing of handoff.
 */
#ifndef VDPAMAP_MIGRATE_H
#define VDPAMAP_MIGRATE_H

#include "mapping/mapping.h"
#include "lifecycle/lifecycle.h"

struct vdm_flip_ring {
	uint32_t vq;
	bool enabled;			/* cycled through ENABLE 0/1 */
	struct vdpamap_vring guest;	/* before the flip */
	struct vdpamap_vring shadow;	/* what the flip set */
};

struct vdm_flip {
	uint32_t id;
	uint32_t shadow_asid;
	uint32_t nr_groups;
	uint32_t nr_maps;
	uint32_t nr_rings;
	uint32_t *groups;
	uint32_t *prev;			/* ASID of groups[i] before */
	uint32_t *dgrp;			/* per vq: its rings' group */
	uint64_t (*maps)[2];		/* shadow entries: iova, size */
	struct vdm_flip_ring *rings;
	struct vdm_flip *next;
};

struct vdm_dlog;

struct vdm_migrate {
	struct vdm_flip *flips;		/* active flips */
	uint32_t next_flip_id;
	struct vdm_dlog **dirty;		/* nr_as RCU-published logs; NULL
					   until the first start */
};

/* ---- dirty.c: the state */
/* h->mig, allocated (and the module's free hook registered) on first use;
 * NULL only when out of memory.  Published with a release store: the
 * lock-free dirty markers load it with acquire. */
struct vdm_migrate *vdm_migrate_get(struct vdpamap *h);
void vdm_flip_free(struct vdm_flip *f);

#endif
