/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap, live-migration helpers for a VMM with shadow virtqueues: the
 * SVQ ASID flip (move vq groups to a shadow ASID without touching guest
 * maps) and the dirty log.  Conventions are those of vdpamap.h, which
 * includes this header; it may also be included on its own.
 */
#ifndef VDPAMAP_PUBLIC_MIGRATE_H
#define VDPAMAP_PUBLIC_MIGRATE_H

#include "vdpamap_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVQ ASID flip (src/migrate/flip*.c, unflip.c)
 *
 * A VMM that shadows virtqueues (SVQ) during live migration moves vq groups
 * to a shadow ASID holding only its shadow vrings, so that it sees every
 * buffer the device uses.  vdpamap_flip() does that without touching guest
 * memory: the guest-memory maps of the groups' current ASIDs (normally ASID
 * 0) stay as they are, not a single UPDATE or INVALIDATE is sent for them.
 * In one call, with the device stopped:
 *   1. SUSPEND, if the device is started (DRIVER_OK) and the caller did not
 *      say it already suspended it (VDPAMAP_FLIP_SUSPENDED);
 *   2. map every shadow area (caller memory) in the shadow ASID at IOVAs
 *      allocated from holes that are free in the shadow ASID and in the
 *      ASIDs the groups leave, so shadow and guest addresses never alias
 *      (one batch);
 *   3. SET_GROUP_ASID of every moving group (re-applied after every reset,
 *      like vdpamap_set_group_asid());
 *   4. re-point the vrings given in opts->vrings at their shadow rings:
 *      SET_VRING_ENABLE 0, NUM, BASE, ADDR, ENABLE 1 (vdpa_sim latches a
 *      ring's addresses when it is enabled);
 *   5. RESUME (when step 1 suspended).
 * A step that fails undoes the steps before it; nothing changes.  Linux
 * 6.12's vhost-vdpa takes ring addresses and bases of a started device only
 * while it is suspended, and vdpa_sim applies SET_GROUP_ASID at once, at
 * any time: the suspend is what makes the switch atomic for the device.
 * When the flip resumes the device itself, the shadow rings must already
 * be consistent (a shadow virtqueue starts them empty, indexes at the
 * vq's base): the device runs on them at once.  To fill them knowing
 * their IOVAs first, suspend the device yourself (vdpamap_suspend(),
 * vdpamap_vring_get_base()), flip with VDPAMAP_FLIP_SUSPENDED, fill, then
 * vdpamap_resume().  A device that cannot be suspended is flipped before
 * DRIVER_OK (reset it, flip, restart it on the shadow rings: the flip
 * survives the reset).
 * vdpamap_unflip() is the reverse: rings back to the addresses they had
 * before the flip, groups back to their previous ASIDs, shadow maps
 * invalidated.
 *
 * Which group moves: every group in opts->groups, and for every vq in
 * opts->vqs the group holding its rings: with DESC_ASID negotiated its
 * descriptor group (vdpamap_vq_desc_group(): buffers stay in the guest
 * ASID), else (or with VDPAMAP_FLIP_WHOLE_GROUP) its vq group, which
 * moves its buffers too: a shadow virtqueue must then forward buffers
 * through memory mapped in the shadow ASID.
 */
struct vdpamap_shadow {
	void *hva;	      /* inside a registered region */
	uint64_t size;	      /* page-aligned */
	uint32_t perm;	      /* VDPAMAP_PERM_*; 0 means RW */
	uint32_t reserved0;   /* must be 0 */
	uint64_t iova;	      /* out: where it is mapped */
	uint64_t reserved[2]; /* must be 0 */
};

/* vdpamap_flip_vring.flags */
#define VDPAMAP_FLIP_VRING_BASE \
	(1U << 0) /* start at .base, not at the
					     device's next avail index */

/* A vq whose rings move into a shadow area: desc, avail and used are byte
 * offsets inside opts->shadows[shadow]. */
struct vdpamap_flip_vring {
	uint32_t vq;
	uint32_t shadow; /* index into opts->shadows */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint32_t num;	      /* ring size; 0: keep the current one */
	uint32_t flags;	      /* VDPAMAP_FLIP_VRING_* */
	uint32_t base;	      /* with VDPAMAP_FLIP_VRING_BASE */
	uint32_t reserved0;   /* must be 0 */
	uint64_t reserved[2]; /* must be 0 */
};

/* vdpamap_flip_opts.flags, vdpamap_unflip_opts.flags */
#define VDPAMAP_FLIP_WHOLE_GROUP \
	(1U << 0) /* move a vq's own group even
					      where DESC_ASID offers its
					      descriptor group */
#define VDPAMAP_FLIP_SUSPENDED \
	(1U << 1) /* the caller suspended the
					     device and resumes it (through
					     the reset: DRIVER_OK is left
					     to vdpamap_resume()) */
#define VDPAMAP_FLIP_REPLAY \
	(1U << 2) /* the reset path may run without
					     IOTLB_PERSIST: reset, then
					     re-send every map of every
					     ASID (costs a full remap) */

struct vdpamap_flip_opts {
	size_t sz;
	const uint32_t *vqs; /* vqs whose ring group moves */
	uint32_t nr_vqs;
	uint32_t nr_groups;
	const uint32_t *groups;		/* groups that move as they are */
	struct vdpamap_shadow *shadows; /* mapped in the shadow ASID */
	uint32_t nr_shadows;
	uint32_t nr_vrings;
	const struct vdpamap_flip_vring *vrings; /* re-pointed at shadows */
	uint32_t flags;				 /* VDPAMAP_FLIP_* */
	vdpamap_restart_fn restart_fn; /* reset path: replays the control
					   vq's state (see vdpamap_common.h);
					   may be NULL */
	void *restart_ctx;
	size_t : 0;
};

/* vdpamap_flip_info.path */
#define VDPAMAP_FLIP_PATH_IN_PLACE \
	0 /* SET_GROUP_ASID on the suspended
					   (or not yet started) device */
#define VDPAMAP_FLIP_PATH_RESET \
	1 /* through a reset keeping the maps
					   (IOTLB_PERSIST) */
#define VDPAMAP_FLIP_PATH_REPLAY \
	2 /* through a reset and a replay of
					   every map (VDPAMAP_FLIP_REPLAY) */

/* vdpamap_flip_info.flags */
#define VDPAMAP_FLIP_INFO_DEFERRED \
	(1U << 0)			 /* DRIVER_OK left to
						vdpamap_resume() */
#define VDPAMAP_FLIP_INFO_HOOK (1U << 1) /* restart_fn was called */
#define VDPAMAP_FLIP_INFO_BUSY \
	(1U << 2) /* the in-place attempt got
					     EBUSY (group ASIDs frozen at
					     DRIVER_OK) */

/* What a flip or an unflip did. */
struct vdpamap_flip_info {
	uint32_t id;		/* of the flip */
	uint32_t nr_groups;	/* groups moved */
	uint32_t buffers_moved; /* 1: a moved group holds some vq's
					   buffers, not only descriptors */
	uint32_t suspended;	/* 1: the call suspended and resumed */
	uint64_t iotlb_msgs;	/* IOTLB messages written, batch
					   markers included */
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidates;
	uint64_t ioctls;
	uint64_t ns;	/* wall time of the call */
	uint32_t path;	/* VDPAMAP_FLIP_PATH_* */
	uint32_t flags; /* VDPAMAP_FLIP_INFO_* */
	/* phases of the reset path (0 in place): SUSPEND and the vq bases;
	 * status 0 to FEATURES_OK with the group ASIDs, the shadow maps and
	 * (replay) every map; rings, enables, DRIVER_OK and restart_fn */
	uint64_t stop_ns;
	uint64_t reset_ns;
	uint64_t restart_ns;
};

/* Move groups to shadow_asid with the shadow areas mapped there, as
 * described above.  On success returns the flip's id (> 0, for
 * vdpamap_unflip()), writes each opts->shadows[i].iova and, if info is not
 * NULL, fills it.  Any number of flips may be active, each with its own
 * groups; the shadow maps are ordinary entries of shadow_asid (translate,
 * reset and resync them like any other; do not unmap them yourself).
 * Errors (nothing is changed, nothing sent):
 *  -EOPNOTSUPP IOTLB_ASID not negotiated; or the device is started, the
 *             caller did not suspend it and SUSPEND is not negotiated; or
 *             vrings are to be re-pointed in place on a started device
 *             without ENABLE_AFTER_DRIVER_OK; or the parent refused
 *             SET_GROUP_ASID before DRIVER_OK; or the reset path (below)
 *             lacks GET_VRING_BASE, or IOTLB_PERSIST without
 *             VDPAMAP_FLIP_REPLAY (the log names what is missing)
 *  -EAGAIN    reset path: a vq has buffers in flight (its used index is
 *             not where the device stopped)
 *  -ECANCELED opts->restart_fn failed: undone through another reset
 *  -ERANGE    shadow_asid >= the device's number of address spaces
 *  -ENOENT    an unknown vq or group (log names it)
 *  -EEXIST    the shadow ASID overlaps guest memory: it is the ASID a
 *             moving group is bound to, or it or a shadow area maps memory
 *             that ASID maps (the device could write guest memory behind
 *             the shadow virtqueue)
 *  -EBUSY     a group is already moved by another active flip; or an
 *             exec handoff is prepared (also for vdpamap_unflip())
 *  -EFAULT    a shadow area is not inside one registered region; or the
 *             flip would resume the device with an enabled ring of a moved
 *             group not mapped in the shadow ASID (give it in vrings)
 *  -EINVAL    malformed opts: nothing to move, a NULL array with a count,
 *             unknown flags, non-zero reserved fields, a shadow area of
 *             size 0, unaligned or with a bad perm, a vring whose shadow
 *             index, offsets or size are wrong or whose vq is not moved
 *  -E2BIG     unknown non-zero opts tail
 *  -ENOSPC    no IOVA hole for a shadow area (the log says "no hole");
 *             or the shadow maps would pass the shadow ASID's IOTLB entry
 *             cap (vdpamap_info.max_iotlb_entries): refused before
 *             sending when known, or the device's EFAULT that only the cap
 *             explains, undone (the log names the cap and the remedies;
 *             docs/iotlb-caps.md)
 *  -ENOMEM    PA mode: RLIMIT_MEMLOCK budget; or out of memory
 *  -EIO       the device refused a message or an ioctl (undone)
 *  -ENOTRECOVERABLE the undo failed too: the handle is poisoned
 * The in-place attempt's EBUSY is never returned: the reset path follows.
 * Serialised with every other state-changing call on the handle.
 *
 * Through a reset (src/migrate/flip_reset.c, lifecycle/restart.c): Linux
 * >= 7.0 answers SET_GROUP_ASID with EBUSY once DRIVER_OK is set,
 * suspended or not, and a device without RESUME (6.1) stays stopped after
 * a suspend.  The path is chosen from what the device offers and
 * answers: a started device is flipped in place first; on EBUSY
 * (remembered for later flips) or without RESUME it goes through a reset
 * that keeps the maps: SUSPEND, GET_VRING_BASE of every vq (used only
 * when nothing is in flight), status 0 with IOTLB_PERSIST (or, with
 * VDPAMAP_FLIP_REPLAY, without it and every map of every ASID re-sent),
 * features, FEATURES_OK, every group's ASID, the shadow maps, every vq
 * set through vdpamap_vring_set() set up again (NUM, BASE, ADDR, KICK,
 * CALL, enable; vqs set behind the library's back stay reset), DRIVER_OK.
 * The control vq's state is the caller's: with ENABLE_AFTER_DRIVER_OK
 * and opts->restart_fn, DRIVER_OK is set with only the control vq
 * enabled, restart_fn runs, then the data vqs are enabled; with a control
 * vq negotiated and no usable hook, or with VDPAMAP_FLIP_SUSPENDED,
 * DRIVER_OK is left to vdpamap_resume() (info->flags
 * VDPAMAP_FLIP_INFO_DEFERRED); otherwise the flip finishes by itself.
 * info->path says which path ran, stop_ns/reset_ns/restart_ns time it. */
VDPAMAP_API int vdpamap_flip(struct vdpamap *h, uint32_t shadow_asid,
			     const struct vdpamap_flip_opts *opts,
			     struct vdpamap_flip_info *info);

struct vdpamap_unflip_opts {
	size_t sz;
	uint32_t flags; /* VDPAMAP_FLIP_SUSPENDED */
	uint32_t nr_vrings;
	/* where the guest rings restart: only vq, flags and base are read
	 * (the rest must be 0); a re-pointed vq not listed restarts at the
	 * device's next avail index */
	const struct vdpamap_flip_vring *vrings;
	vdpamap_restart_fn restart_fn; /* as for the flip */
	void *restart_ctx;
	size_t : 0;
};

/* Undo flip id: re-point the vrings it moved (those still at its shadow
 * rings; a reset in between forgets rings) back to the addresses they had,
 * re-bind its groups to the ASIDs they had and invalidate its shadow maps,
 * suspended as for vdpamap_flip().  info may be NULL.
 * Errors (nothing changed): -ENOENT no active flip id, -EINVAL malformed
 * opts (a vq it did not re-point), -E2BIG, -EOPNOTSUPP (as for the flip),
 * -EFAULT it would resume the device with an enabled ring of a group going
 * back that the ASID it goes back to does not map (rings the caller
 * pointed at shadow memory itself: re-point them or reset first), -EIO,
 * -ENOTRECOVERABLE, -ENOMEM; through a reset as vdpamap_flip() (-EAGAIN,
 * -ECANCELED, -EOPNOTSUPP naming what is missing).  Serialised like
 * vdpamap_flip(). */
VDPAMAP_API int vdpamap_unflip(struct vdpamap *h, uint32_t id,
			       const struct vdpamap_unflip_opts *opts,
			       struct vdpamap_flip_info *info);

/* ---- dirty log (src/migrate/dirty_*.c)
 *
 * vhost-vdpa has no dirty logging; a shadow virtqueue knows what the device
 * wrote.  A dirty log belongs to one ASID and covers that ASID's "logged
 * ranges", fixed when logging starts: every mirror entry of the ASID at
 * that moment, or the parts of the entries inside the ranges the caller
 * lists.  It is page-granular (opts page_size) and IOVA-addressed.
 *
 * Marking (vdpamap_dirty_mark()) takes no lock and may run in any number
 * of threads at once, concurrently with everything else: in bitmap mode one
 * atomic fetch-or (release) per 64-page word; in ring mode one slot of a
 * bounded multi-producer ring of page numbers per page (one ring per ASID:
 * no thread registration, and sparse writers rarely contend), falling back
 * to the bitmap when the ring is full.  Harvesting gets and clears
 * (atomic exchange, acquire) into a bitmap of the caller's, one bit per
 * page from a base as VFIO's dirty-bitmap interface has it: bit (n % 64) of
 * word n / 64 is the page at base + n * page_size.  Harvests of one ASID
 * are serialised with each other; a mark racing a harvest shows up in that
 * harvest or the next one, never in none.  The log's memory (bitmap, ring)
 * exists only between vdpamap_dirty_start() and vdpamap_dirty_stop().
 * Maps added after the start are not logged; unmapping a logged range
 * leaves its bits meaningless.
 */
/* vdpamap_dirty_opts.flags */
#define VDPAMAP_DIRTY_RING (1U << 0) /* ring mode, bitmap fallback */

struct vdpamap_dirty_range {
	uint64_t iova;
	uint64_t size;
};

struct vdpamap_dirty_opts {
	size_t sz;
	uint32_t flags;	       /* VDPAMAP_DIRTY_* */
	uint32_t ring_entries; /* ring mode: a power of two in
					   [16, 2^24]; 0 means 4096 */
	uint64_t page_size;    /* a power of two >= 512; 0 means the
					   handle's page size */
	const struct vdpamap_dirty_range *ranges; /* NULL: all of asid */
	uint32_t nr_ranges;
	size_t : 0;
};

/* Start logging asid.  Errors (nothing changed): -EINVAL asid out of range
 * or malformed opts, -E2BIG, -EBUSY asid is already logging, -ENOENT asid
 * has no entries, or a listed range is not entirely mapped, -EEXIST two
 * listed ranges overlap, -ENOMEM.  Serialised with state-changing calls. */
VDPAMAP_API int vdpamap_dirty_start(struct vdpamap *h, uint32_t asid,
				    const struct vdpamap_dirty_opts *opts);
/* Stop logging asid and free the log, after waiting (an RCU grace period)
 * for marks and harvests already inside it; later ones get -ENOENT.
 * Unharvested bits are lost.  -EINVAL asid, -ENOENT not logging, -EDEADLK
 * inside the caller's own transaction (it changes the handle). */
VDPAMAP_API int vdpamap_dirty_stop(struct vdpamap *h, uint32_t asid);

/* Mark every page of [iova, iova+len) of asid dirty.  Lock-free, any
 * thread, never blocks (see above); a handle's fork check is the only
 * other thing it does.  Errors (nothing marked): -EINVAL len 0, wraps, or
 * asid out of range; -ENOENT asid is not logging; -ERANGE a page of the
 * range is outside every logged range; -ECHILD. */
VDPAMAP_API int vdpamap_dirty_mark(struct vdpamap *h, uint32_t asid,
				   uint64_t iova, uint64_t len);

/* Get and clear the dirty pages of [iova, iova+size) of asid (both
 * multiples of the log's page size) and OR them into bitmap (bitmap_bytes
 * long, at least 8 * ceil(pages / 64)): bit n is the page at iova +
 * n * page_size.  Pages outside the logged ranges leave their bits alone.
 * *ret_dirty (may be NULL) gets the number of bits this call set that were
 * clear.  In ring mode the ring is drained: pages outside [iova, +size)
 * go back into the log for a later harvest.  Errors (nothing cleared):
 * -EINVAL (alignment, size 0, wrap, NULL or short bitmap, asid), -ENOENT
 * asid is not logging, -ECHILD.  Concurrent with marks; harvests of one
 * ASID wait for each other (a per-log mutex, not the handle's). */
VDPAMAP_API int vdpamap_dirty_harvest(struct vdpamap *h, uint32_t asid,
				      uint64_t iova, uint64_t size,
				      uint64_t *bitmap, uint64_t bitmap_bytes,
				      uint64_t *ret_dirty);

/* As vdpamap_dirty_harvest(), in the terms of migration code that works by
 * RAM block: bit n is the page at byte offset + n * page_size of region
 * region_id (the id vdpamap_region_add() gave), whatever IOVA the logged
 * ranges map it at (several IOVAs of one page OR into one bit; a page of
 * an unaligned map marks every region page it touches).  offset and size
 * are multiples of the page size.  Errors: those of
 * vdpamap_dirty_harvest() (-EINVAL, -ENOENT, -ECHILD), and -ENOENT when
 * no logged range of asid maps region_id. */
VDPAMAP_API int vdpamap_dirty_harvest_region(struct vdpamap *h, uint32_t asid,
					     uint32_t region_id,
					     uint64_t offset, uint64_t size,
					     uint64_t *bitmap,
					     uint64_t bitmap_bytes,
					     uint64_t *ret_dirty);

struct vdpamap_dirty_info {
	uint32_t flags;	    /* VDPAMAP_DIRTY_* of the start */
	uint32_t nr_ranges; /* logged ranges (entry pieces) */
	uint64_t page_size;
	uint64_t pages;		 /* pages logged */
	uint64_t bitmap_bytes;	 /* memory of the bitmap */
	uint64_t ring_entries;	 /* 0 in bitmap mode */
	uint64_t ring_overflows; /* pages that fell back to the bitmap
					   because the ring was full */
	uint64_t reserved[6];
};
/* Describe asid's log.  -EINVAL asid or NULL info, -ENOENT not logging,
 * -ECHILD.
 * Lock-free like vdpamap_dirty_mark(). */
VDPAMAP_API int vdpamap_dirty_get_info(struct vdpamap *h, uint32_t asid,
				       struct vdpamap_dirty_info *info);

#ifdef __cplusplus
}
#endif

#endif /* VDPAMAP_PUBLIC_MIGRATE_H */
