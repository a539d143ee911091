/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lifecycle: the device from open to close.  One concept a file:
 *   open.c      the handle: new, open/adopt and their set-up, close
 *   features.c  backend feature negotiation, the device's counts and
 *               ranges, the memory mode probe, the driver features
 *   status.c    virtio status (DRIVER_OK checks the rings are mapped),
 *               suspend/resume
 *   vring.c     the virtqueues and what was set on them
 *   config.c    config space reads and writes
 *   groups.c    vq groups, descriptor groups, group -> ASID bindings
 *   reset.c     reset with its map resync
 *   caps.c      the IOTLB entry caps, read at open
 *   restart.c   the restart of a started device through a reset that keeps
 *               the maps (the SVQ flip where group ASIDs are frozen)
 * Inside the module: open.c calls features.c, groups.c and caps.c; status.c calls
 * reset.c; reset.c calls groups.c; restart.c calls status.c, vring.c,
 * features.c, reset.c and groups.c; the others call nothing of the module.
 *
 * Its state on the handle is struct vdm_lifecycle (h->lc), written only by
 * this module's files; migrate and handoff read it and change it through
 * the functions below.
 *
 * May include: mapping/mapping.h, iotlb/iotlb.h, core/internal.h (and so
 * transport, iova_tree), uapi/vhost_vdpa.h, libc; never migrate or
 * handoff.
 */
#ifndef VDPAMAP_LIFECYCLE_H
#define VDPAMAP_LIFECYCLE_H

#include <stdint.h>

#include "mapping/mapping.h"

struct vdm_vring {
	bool set;
	bool enabled;
	struct vdpamap_vring v;
};

struct vdm_lifecycle {
	uint32_t *vq_group;	  /* per vq */
	uint32_t *vq_desc_group;  /* with DESC_ASID: where rings live */
	uint32_t *group_asid;	  /* per group */
	struct vdm_vring *vrings; /* per vq: what was set */
	uint8_t status;		  /* virtio status last set */
	uint8_t deferred_status;  /* a restart left DRIVER_OK to
					   vdpamap_resume(): the status it
					   sets (0: none) */
	int8_t asid_probe;	  /* SET_GROUP_ASID before DRIVER_OK:
					   1 accepted, -1 refused by the
					   parent (EOPNOTSUPP), 0 unknown */
	uint64_t driver_features; /* last SET_FEATURES accepted */
	/* the device walks every ring at max_vring_num whatever size was
	 * set (vdpa_sim before 5.12): features.c vdm_device_query() */
	bool ring_size_fixed;
};

/* ---- open.c: the handle */
/* An empty handle from opts (no device yet): core's fields, the mapping
 * and lifecycle states and their hooks.  Its release (the transport is
 * not closed): every module's free hook, then core's. */
int vdm_handle_new(const struct vdpamap_open_opts *opts, struct vdpamap **ret);
void vdm_handle_free(struct vdpamap *h);
/* The per-vq and per-group arrays for h->info's counts. */
int vdm_lifecycle_setup(struct vdpamap *h);
/* Handoff: the state a description recorded. */
void vdm_lifecycle_restore(struct vdpamap *h, const uint32_t *group_asid,
			   const uint32_t *vq_group, uint8_t status,
			   uint64_t driver_features);

/* ---- vring.c: what was set on the vqs */
/* Handoff: a vq as a description recorded it. */
void vdm_vring_restore(struct vdpamap *h, uint32_t idx, bool set, bool enabled,
		       const struct vdpamap_vring *v);
/* The flip re-pointed vq idx's rings (num, base, desc, avail, used; the
 * eventfds stay). */
void vdm_vring_rings_set(struct vdpamap *h, uint32_t idx,
			 const struct vdpamap_vring *v);
/* Where vq idx stopped (base), as GET_VRING_BASE said. */
void vdm_vring_base_set(struct vdpamap *h, uint32_t idx, uint32_t base);

/* ---- features.c: open's questions to the device (caller holds the
 * lock, or owns a new handle) */
/* Ack offered & want; -EOPNOTSUPP (logged) when require is not met. */
int vdm_negotiate(struct vdpamap *h, uint64_t want, uint64_t require);
/* Fill h->info from the device: id, features, counts, ranges. */
int vdm_device_query(struct vdpamap *h);
/* PA (pins) or VA: map one page and watch the pinned memory. */
int vdm_probe_mem_mode(struct vdpamap *h);

/* ---- caps.c: the IOTLB entry caps into h->info (sysfs, or the
 * simulator's LIMITS); warns at open in the silent case */
void vdm_caps_read(struct vdpamap *h, const struct vdpamap_open_opts *opts);

/* ---- groups.c (caller holds the lock, or owns a new handle) */
/* Bind group to asid on the device and remember it. */
int vdm_group_asid_apply(struct vdpamap *h, uint32_t group, uint32_t asid);
/* Ask the device for each vq's group, then its descriptor group. */
int vdm_query_vq_groups(struct vdpamap *h);
/* Before the first DRIVER_OK: is SET_GROUP_ASID accepted at all?  (Linux
 * >= 7.0 answers EBUSY after DRIVER_OK before asking the parent, so only
 * now can the parent's answer be seen.)  Re-binds group 0 to its ASID;
 * the answer goes to h->lc->asid_probe, nothing fails. */
void vdm_group_asid_probe(struct vdpamap *h);
/* With DESC_ASID ask the device for each vq's descriptor group; without
 * it a vq's rings live in its vq group. */
int vdm_query_desc_groups(struct vdpamap *h);

/* ---- the work of the public calls of the same name, for a caller that
 * holds the lock (or owns a new handle): open.c, status.c, features.c,
 * vring.c */
int vdm_open(const char *path, const struct vdpamap_open_opts *opts,
	     struct vdpamap **ret);
void vdm_close(struct vdpamap *h);
int vdm_set_status(struct vdpamap *h, uint8_t status);
int vdm_set_features(struct vdpamap *h, uint64_t features);
int vdm_vring_set(struct vdpamap *h, uint32_t idx,
		  const struct vdpamap_vring *v);
int vdm_vring_enable(struct vdpamap *h, uint32_t idx, int enable);

/* ---- reset.c (lock held) */
int vdm_reset(struct vdpamap *h, struct vdpamap_reset_info *info);

/* ---- restart.c (lock held): a started device through a reset that
 * keeps the maps (IOTLB_PERSIST) or replays them, set up again as it was
 * but for the group ASIDs and rings the caller gives. */
struct vdm_restart {
	/* in */
	const uint32_t *group_asid;	   /* per group, after */
	const struct vdpamap_vring *rings; /* per vq, after (kick_fd and
					   call_fd ignored: the vq's own);
					   NULL: the rings as they are */
	const bool *base_given;		   /* per vq: rings[vq].base is where it
					   restarts, not where it stopped;
					   may be NULL */
	bool suspended;			   /* the device is suspended already */
	bool own_suspend; /* ... by the caller of vdm_restart(),
					   for this change: a refusal
					   resumes it */
	bool replay;	  /* allowed without IOTLB_PERSIST */
	bool defer;	  /* leave DRIVER_OK to vdpamap_resume() */
	/* called with the device reset, groups bound, before the rings:
	 * map changes that must not race the running device; with undo
	 * when a rollback goes back to the state before */
	int (*between)(struct vdpamap *h, void *arg, bool undo);
	void *arg;
	vdpamap_restart_fn hook;
	void *hook_ctx;
	/* out */
	uint32_t *bases; /* per vq where it stopped; may be NULL */
	uint32_t path;	 /* VDPAMAP_FLIP_PATH_RESET or _REPLAY */
	uint32_t flags;	 /* VDPAMAP_FLIP_INFO_DEFERRED, _HOOK */
	uint64_t ns[3];	 /* stop, reset, restart */
};
/* Nothing changed on a refusal before the reset: -EOPNOTSUPP (SUSPEND,
 * GET_VRING_BASE or IOTLB_PERSIST missing; logged), -EAGAIN (buffers in
 * flight), -EIO; a failure after it is undone by another restart back to
 * the state before (-EIO, -EFAULT ring not mapped, -ECANCELED the hook
 * failed), or poisons (-ENOTRECOVERABLE). */
int vdm_restart(struct vdpamap *h, struct vdm_restart *rs);

#endif
