/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lifecycle: open/adopt/close, backend feature negotiation, virtio status,
 * features and config, vrings, suspend/resume (device.c), vq groups and
 * group -> ASID bindings (groups.c), and reset with its map resync
 * (reset.c).  Inside the module: device.c calls groups.c and reset.c,
 * reset.c calls groups.c, groups.c calls neither.
 *
 * May include: core/internal.h (core, transport, iova_tree), iotlb and
 * mapping headers; never migrate or handoff.
 */
#ifndef VDPAMAP_LIFECYCLE_H
#define VDPAMAP_LIFECYCLE_H

#include <stdint.h>

#include "vdpamap.h"

struct vdpamap;

/* ---- groups.c (caller holds the lock, or owns a new handle) */
/* Bind group to asid on the device and remember it. */
int vm_group_asid_apply(struct vdpamap *h, uint32_t group, uint32_t asid);
/* With DESC_ASID ask the device for each vq's descriptor group; without
 * it a vq's rings live in its vq group. */
int vm_query_desc_groups(struct vdpamap *h);

/* ---- device.c: the work of the public calls of the same name, for a
 * caller that holds the lock (or owns a new handle) */
int vm_open(const char *path, const struct vdpamap_open_opts *opts,
	    struct vdpamap **ret);
void vm_close(struct vdpamap *h);
int vm_set_status(struct vdpamap *h, uint8_t status);
int vm_set_features(struct vdpamap *h, uint64_t features);
int vm_vring_set(struct vdpamap *h, uint32_t idx,
		 const struct vdpamap_vring *v);
int vm_vring_enable(struct vdpamap *h, uint32_t idx, int enable);

/* ---- reset.c (lock held) */
int vm_reset(struct vdpamap *h, struct vdpamap_reset_info *info);

#endif
