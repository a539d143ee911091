/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uapi: the vhost-vdpa uAPI as the library and the simulator use it (the
 * bottom of every layer: a header, no code).  Debian 12's
 * linux-libc-dev (6.1) lacks a few constants that Linux 6.12 has; they are
 * defined here, guarded, and nowhere else.  Values from the kernel's uAPI
 * (docs/uapi-matrix.md says which kernel has what); nothing here is
 * copied from kernel headers.
 *
 * Depends on: <linux/vhost.h>.
 */
#ifndef VDPAMAP_UAPI_H
#define VDPAMAP_UAPI_H

#include <linux/vhost.h>
#include <linux/vhost_types.h>

#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME 0x5
#endif
#ifndef VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK
#define VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK 0x6
#endif
#ifndef VHOST_BACKEND_F_DESC_ASID
#define VHOST_BACKEND_F_DESC_ASID 0x7
#endif
#ifndef VHOST_BACKEND_F_IOTLB_PERSIST
#define VHOST_BACKEND_F_IOTLB_PERSIST 0x8
#endif
#ifndef VHOST_VDPA_RESUME
#define VHOST_VDPA_RESUME _IO(VHOST_VIRTIO, 0x7E)
#endif
#ifndef VHOST_VDPA_GET_VRING_DESC_GROUP
#define VHOST_VDPA_GET_VRING_DESC_GROUP \
	_IOWR(VHOST_VIRTIO, 0x7F, struct vhost_vring_state)
#endif
#ifndef VHOST_VDPA_GET_VRING_SIZE
#define VHOST_VDPA_GET_VRING_SIZE \
	_IOWR(VHOST_VIRTIO, 0x82, struct vhost_vring_state)
#endif

/* The unmerged "vdpa live update" proposal (docs/uapi-matrix.md, bits 9
 * and 10; docs/handoff.md, NEW_OWNER): not in any released kernel.  Bit 9 collides with a vendor bit,
 * so the library uses these only with BOTH bits offered and only in a
 * build with -Dnew_owner=enabled (VDPAMAP_NEW_OWNER). */
#ifndef VHOST_NEW_OWNER
#define VHOST_NEW_OWNER _IO(VHOST_VIRTIO, 0x27)
#endif
#ifndef VHOST_IOTLB_REMAP
#define VHOST_IOTLB_REMAP 7
#endif
#ifndef VHOST_BACKEND_F_NEW_OWNER
#define VHOST_BACKEND_F_NEW_OWNER 0x9
#endif
#ifndef VHOST_BACKEND_F_IOTLB_REMAP
#define VHOST_BACKEND_F_IOTLB_REMAP 0xa
#endif

/* virtio status bits */
#define VDPAMAP_S_ACKNOWLEDGE 1
#define VDPAMAP_S_DRIVER      2
#define VDPAMAP_S_DRIVER_OK   4
#define VDPAMAP_S_FEATURES_OK 8
#define VDPAMAP_S_FAILED      0x80

#endif
