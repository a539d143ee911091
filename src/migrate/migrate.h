/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migrate: what live migration needs of the device while it runs
 * (docs/flip-and-dirty-log.md):
 *
 *  - the SVQ ASID flip: move vq groups to a shadow ASID with their shadow
 *    rings mapped in the same batch, without a message about guest memory;
 *    and back (unflip);
 *  - the dirty page log, per ASID: lock-free markers, harvests under the
 *    log's own mutex.
 *
 * Its state on the handle is struct vdm_migrate (h->mig), allocated on the
 * first flip or dirty start and written only by this module's files.
 *
 * Files, each calling only files listed after it:
 *   flip.c          vdpamap_flip(): the steps in order, undone in reverse
 *   unflip.c        vdpamap_unflip(): the same steps the other way
 *   flip_reset.c    flip and unflip through a reset that keeps the maps
 *                   (lifecycle's vdm_restart()), where group ASIDs are
 *                   frozen at DRIVER_OK or the device cannot resume
 *   flip_plan.c     a flip validated and planned before anything is sent:
 *                   its groups, the safety checks, shadow IOVAs from holes
 *   flip_vring.c    re-pointing rings (ENABLE 0, NUM, BASE, ADDR, ENABLE 1)
 *                   and the split-ring layout
 *   flip_steps.c    the other device steps (suspend/resume, the shadow
 *                   maps' messages, group bindings) and undo bookkeeping
 *   dirty_start.c   vdpamap_dirty_start()/stop(): a log's segments, bitmap
 *   dirty_harvest.c get-and-clear into the caller's bitmap
 *   state.c         h->mig: allocation, the free hook, flip records
 *   dirty_log.c     a log's lookup, lock-free marking, get_info
 *   dirty_ring.c    ring mode's bounded multi-producer ring
 *
 * May include: lifecycle/lifecycle.h, mapping/mapping.h, iotlb/iotlb.h,
 * core/internal.h, core/tsan.h, uapi/, liburcu-bp, libc.  Nothing of
 * handoff.
 */
#ifndef VDPAMAP_MIGRATE_H
#define VDPAMAP_MIGRATE_H

#include <pthread.h>

#include "mapping/mapping.h"
#include "lifecycle/lifecycle.h"

/* ---- the flip */

/* A vq whose rings a flip re-points.  guest and shadow are public structs
 * copied from the lifecycle's state: their reserved[] stay as they were
 * (zero); what the flip needs besides lives in the fields of its own. */
struct vdm_flip_ring {
	uint32_t vq;
	bool enabled;		     /* cycled through ENABLE 0/1 */
	bool base_given;	     /* this call: the side the ring goes to
					   starts at its .base, not at where
					   the device stopped */
	uint32_t area;		     /* planning: the opts->shadows[] index
					   the shadow rings are offsets in */
	struct vdpamap_vring guest;  /* before the flip */
	struct vdpamap_vring shadow; /* what the flip set */
};

/* An active flip, for unflip. */
struct vdm_flip {
	uint32_t id;
	uint32_t shadow_asid;
	uint32_t nr_groups;
	uint32_t nr_maps;
	uint32_t nr_rings;
	uint32_t *groups;
	uint32_t *prev;	     /* ASID of groups[i] before */
	uint32_t *dgrp;	     /* per vq: its rings' group */
	uint64_t (*maps)[2]; /* shadow entries: iova, size */
	struct vdm_flip_ring *rings;
	struct vdm_flip *next;
};

/* Everything a flip will do, worked out before anything is sent. */
struct vdm_flip_plan {
	uint32_t shadow;
	bool suspend;
	bool reset; /* through a reset from the start: the
					   device runs and cannot resume, or
					   answered EBUSY before */
	bool buffers_moved;
	uint32_t nr_groups;
	uint32_t *groups;
	uint32_t *prev;
	uint32_t *dgrp; /* per vq: its rings' group */
	uint32_t nr_ents;
	struct vdm_entry **ents; /* new shadow entries */
	uint32_t nr_rings;
	struct vdm_flip_ring *rings;
};

/* ---- the dirty log */

#define VDM_DIRTY_RING_DEFAULT 4096u
#define VDM_DIRTY_RING_MIN     16u
#define VDM_DIRTY_RING_MAX     (1u << 24)
#define VDM_DIRTY_PAGE_MIN     512u /* smallest page size a log takes */
#define VDM_CACHELINE	       64
#define VDM_WORD_BITS	       64 /* pages per bitmap word */

/* A logged range cut at a mirror entry: it knows its region. */
struct vdm_dseg {
	uint64_t iova; /* first byte logged */
	uint64_t len;
	uint64_t pfirst, plast; /* pages (iova >> shift) */
	uint64_t word;		/* its first word in bits[] */
	uint64_t roff;		/* region offset of iova */
	uint32_t region_id;
	uint32_t pending; /* ring mode: bits may be waiting */
};

struct vdm_dcell {
	uint64_t seq;
	uint64_t page;
};

/* Immutable in shape from start to stop (dirty_start.c). */
struct vdm_dlog {
	uint32_t flags;
	uint32_t shift;
	uint64_t nseg;
	struct vdm_dseg *seg; /* sorted by iova */
	uint64_t nwords;
	uint64_t *bits;
	uint64_t pages;
	uint64_t ring_n; /* 0 in bitmap mode */
	struct vdm_dcell *ring;
	pthread_mutex_t harvest;
	uint64_t head;	    /* consumer, under harvest */
	uint64_t overflows; /* atomic */
	/* producers only, on a line of its own */
	uint64_t tail __attribute__((aligned(VDM_CACHELINE)));
	char pad[VDM_CACHELINE - sizeof(uint64_t)];
};

struct vdm_migrate {
	struct vdm_flip *flips; /* active flips */
	uint32_t next_flip_id;
	bool frozen;		 /* a started device answered
					   SET_GROUP_ASID with EBUSY: later
					   flips go through a reset at once */
	struct vdm_dlog **dirty; /* nr_as RCU-published logs; NULL
					   until the first start */
};

/* Bits [sh, sh + n) of a word, 0 < n <= 64 - sh. */
static inline uint64_t vdm_bits_mask(uint64_t n, uint64_t sh)
{
	return (n == VDM_WORD_BITS ? ~0ULL : ((1ULL << n) - 1)) << sh;
}

static inline uint64_t vdm_words_of(uint64_t pages)
{
	return (pages + VDM_WORD_BITS - 1) / VDM_WORD_BITS;
}

/* ---- flip_plan.c */
/* Validate opts and work out p (see vdpamap_flip()'s errors); nothing is
 * sent.  p is released by vdm_flip_plan_free() whatever the result. */
int vdm_flip_plan(struct vdpamap *h, uint32_t shadow,
		  const struct vdpamap_flip_opts *o, struct vdm_flip_plan *p);
void vdm_flip_plan_free(struct vdm_flip_plan *p);

/* ---- flip_vring.c */
enum { VDM_RING_DESC, VDM_RING_AVAIL, VDM_RING_USED, VDM_RING_PARTS };
extern const char *const vdm_ring_part[VDM_RING_PARTS]; /* "desc", ... */
extern const uint64_t vdm_ring_align[VDM_RING_PARTS];
/* Where the three rings of split virtqueue v are and their byte sizes. */
void vdm_ring_extents(const struct vdpamap_vring *v,
		      uint64_t addr[VDM_RING_PARTS],
		      uint64_t size[VDM_RING_PARTS]);
/* fv's reserved fields are zero and its flags known. */
bool vdm_flip_vring_clean(const struct vdpamap_flip_vring *fv);
/* Point rings[0..n) at their shadow rings (to_shadow) or at their guest
 * rings, each starting at the base of that side when base_given, else
 * where the device stopped (then written into that side).  On failure
 * (-EIO) *done is how many rings vdm_rings_move_back() must point back:
 * those moved, and the failing one once it was partly pointed. */
int vdm_rings_move(struct vdpamap *h, struct vdm_flip_ring *rings, uint32_t n,
		   bool to_shadow, uint32_t *done);
/* Undo vdm_rings_move(rings, n, to_shadow): last first, each back at the
 * other side, at where the device stopped; failures noted in *undo. */
void vdm_rings_move_back(struct vdpamap *h, const struct vdm_flip_ring *rings,
			 uint32_t n, bool to_shadow, int *undo);

/* ---- flip_steps.c: device errors become -EIO, logged with the device's
 * own errno, as for refused IOTLB messages */
uint64_t vdm_now_ns(void);
int vdm_flip_ioctl(struct vdpamap *h, unsigned long req, void *arg,
		   const char *what, uint32_t idx);
/* Does a flip or unflip called with flags need to suspend the device
 * itself (*ret), or go through a reset at once (*reset: it runs and
 * cannot resume, or froze its group ASIDs before)?  -EOPNOTSUPP when no
 * path is possible (logged). */
int vdm_flip_need_suspend(struct vdpamap *h, uint32_t flags, bool *ret,
			  bool *reset);
int vdm_flip_suspend(struct vdpamap *h);
int vdm_flip_resume(struct vdpamap *h);
/* Send type (UPDATE, INVALIDATE) for ents[0..n), one batch (they share an
 * ASID); on failure the inverse of what was accepted.  0, -ENOMEM, -EIO
 * (nothing changed) or -ENOTRECOVERABLE (the inverse failed: poisoned). */
int vdm_flip_iotlb(struct vdpamap *h, struct vdm_entry **ents, uint32_t n,
		   uint8_t type);
/* Move groups[0..n-1] to asid[i], or to one_asid when asid is NULL; *done
 * the groups moved.  1: the first answered EBUSY on a started device
 * (group ASIDs frozen at DRIVER_OK): nothing moved, h->mig->frozen set,
 * the caller goes on through the reset path; -EIO: a device refusal. */
int vdm_groups_move(struct vdpamap *h, const uint32_t *groups,
		    const uint32_t *asid, uint32_t one_asid, uint32_t n,
		    uint32_t *done);
/* Undo of group moves: groups[n-1..0] to asid[i], or to one_asid when
 * asid is NULL; failures noted in *undo. */
void vdm_groups_move_back(struct vdpamap *h, const uint32_t *groups,
			  const uint32_t *asid, uint32_t one_asid, uint32_t n,
			  int *undo);
/* An undo step of a failed flip or unflip returned r: a failure is logged
 * (what, idx) and the first is kept in *undo (0: every undo succeeded). */
void vdm_undo_note(struct vdpamap *h, int *undo, int r, const char *what,
		   uint32_t idx);
/* Counters and time of the call since s0, t0. */
void vdm_flip_info_fill(struct vdpamap *h, struct vdpamap_flip_info *in,
			const struct vdpamap_stats *s0, uint64_t t0);

/* ---- flip_reset.c */
/* Flip p through a reset (vdm_restart()); mapped: the shadow maps are
 * already sent (an in-place attempt got EBUSY), own: that attempt
 * suspended the device.  On failure the maps are undone too. */
int vdm_flip_reset(struct vdpamap *h, struct vdm_flip_plan *p,
		   const struct vdpamap_flip_opts *o, bool mapped, bool own,
		   struct vdpamap_flip_info *in);
/* Unflip f through a reset: groups to f->prev, back[0..nb) to their
 * guest rings, ents[0..ne) invalidated while the device is stopped. */
int vdm_unflip_reset(struct vdpamap *h, const struct vdm_flip *f,
		     struct vdm_flip_ring *back, uint32_t nb,
		     struct vdm_entry **ents, uint32_t ne, bool own,
		     const struct vdpamap_unflip_opts *o,
		     struct vdpamap_flip_info *in);

/* ---- state.c */
/* h->mig, allocated (and the module's free hook registered) on first use;
 * NULL only when out of memory.  Published with a release store: the
 * lock-free dirty markers load it with acquire. */
struct vdm_migrate *vdm_migrate_get(struct vdpamap *h);
void vdm_flip_free(struct vdm_flip *f);

/* ---- dirty_log.c */
/* The log of asid or NULL; inside an RCU read-side section. */
struct vdm_dlog *vdm_dlog_get(struct vdpamap *h, uint32_t asid);
void vdm_dlog_free(struct vdm_dlog *lg);
/* First segment whose last page is >= p (nseg if none). */
uint64_t vdm_dlog_seg_find(const struct vdm_dlog *lg, uint64_t p);
/* Put pages [a, b] (of every segment holding them) in the bitmap. */
void vdm_dlog_deposit(struct vdm_dlog *lg, uint64_t a, uint64_t b);

/* ---- dirty_ring.c */
/* Ring of n (a power of two) cells for lg; -ENOMEM. */
int vdm_dring_init(struct vdm_dlog *lg, uint32_t n);
/* Any thread; false when full. */
bool vdm_dring_push(struct vdm_dlog *lg, uint64_t page);
/* The one consumer (harvest mutex held); false when empty. */
bool vdm_dring_pop(struct vdm_dlog *lg, uint64_t *page);

#endif
