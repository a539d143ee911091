/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uapi: the VDUSE uAPI as the loopback daemon (src/vduse/) uses it.  A
 * header, no code.  Debian 12's linux-libc-dev (6.1) has VDUSE API
 * version 0; Linux 7.0 added version 1 (groups and address spaces,
 * VDUSE_SET_FEATURES with VDUSE_F_SUSPEND, the requests
 * VDUSE_SET_VQ_GROUP_ASID and VDUSE_SUSPEND, VDUSE_IOTLB_GET_FD2).  What
 * the system header lacks is defined here, guarded; the version 1 layouts
 * of structs the old header already names (vduse_dev_config,
 * vduse_vq_config, the request union) get their own vdm_ names, of the
 * same size, so that they compile against either header.  Values from the
 * kernel's uAPI (docs/uapi-matrix.md); nothing here is copied from kernel
 * headers.
 *
 * Depends on: <linux/vduse.h>.
 */
#ifndef VDPAMAP_UAPI_VDUSE_H
#define VDPAMAP_UAPI_VDUSE_H

#include <linux/types.h>
#include <linux/vduse.h>

#ifndef VDUSE_API_VERSION_1
#define VDUSE_API_VERSION_1 1
#endif
/* VDUSE features (VDUSE_GET_FEATURES / VDUSE_SET_FEATURES on the control
 * fd, before VDUSE_CREATE_DEV), bit numbers */
#ifndef VDUSE_F_QUEUE_READY
#define VDUSE_F_QUEUE_READY 0
#endif
#ifndef VDUSE_F_SUSPEND
#define VDUSE_F_SUSPEND 1
#endif
#ifndef VDUSE_GET_FEATURES
#define VDUSE_GET_FEATURES _IOR(VDUSE_BASE, 0x04, __u64)
#endif
#ifndef VDUSE_SET_FEATURES
#define VDUSE_SET_FEATURES _IOW(VDUSE_BASE, 0x05, __u64)
#endif

/* Request types after VDUSE_UPDATE_IOTLB (2); the header's enum cannot be
 * tested by the preprocessor, so the daemon uses these names. */
#define VDM_VDUSE_SET_VQ_GROUP_ASID 3
#define VDM_VDUSE_SET_VQ_READY	    4
#define VDM_VDUSE_SUSPEND	    5

/* struct vduse_dev_config with version 1's ngroups and nas, carved out of
 * the first two reserved words */
struct vdm_vduse_dev_config {
	char name[VDUSE_NAME_MAX];
	__u32 vendor_id;
	__u32 device_id;
	__u64 features;
	__u32 vq_num;
	__u32 vq_align;
	__u32 ngroups; /* version 1; 0 in version 0 */
	__u32 nas;     /* version 1; 0 in version 0 */
	__u32 reserved[11];
	__u32 config_size;
	__u8 config[];
};

/* struct vduse_vq_config with version 1's group */
struct vdm_vduse_vq_config {
	__u32 index;
	__u16 max_size;
	__u16 reserved1;
	__u32 group; /* version 1; 0 in version 0 */
	__u16 reserved2[10];
};

/* VDUSE_IOTLB_GET_FD2 (version 1): VDUSE_IOTLB_GET_FD with an asid */
struct vdm_vduse_iotlb_entry2 {
	__u64 offset;
	__u64 start;
	__u64 last;
	__u8 perm;
	__u8 padding[7];
	__u32 asid;
	__u32 reserved[11];
};
#define VDM_VDUSE_IOTLB_GET_FD2 \
	_IOWR(VDUSE_BASE, 0x1b, struct vdm_vduse_iotlb_entry2)

/* Payloads of struct vduse_dev_request's union in version 1 */
struct vdm_vduse_iova_range2 { /* VDUSE_UPDATE_IOTLB */
	__u64 start;
	__u64 last;
	__u32 asid;
	__u32 padding;
};

struct vdm_vduse_vq_group_asid { /* VDM_VDUSE_SET_VQ_GROUP_ASID */
	__u32 group;
	__u32 asid;
};

_Static_assert(sizeof(struct vdm_vduse_dev_config) ==
		       sizeof(struct vduse_dev_config),
	       "vdm_vduse_dev_config: the size of vduse_dev_config");
_Static_assert(sizeof(struct vdm_vduse_vq_config) ==
		       sizeof(struct vduse_vq_config),
	       "vdm_vduse_vq_config: the size of vduse_vq_config");
_Static_assert(sizeof(struct vdm_vduse_iotlb_entry2) == 80,
	       "vdm_vduse_iotlb_entry2: 80 bytes");

#endif
