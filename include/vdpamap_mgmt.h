/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap device management: the kernel's generic netlink family "vdpa"
 * (what iproute2's `vdpa` tool speaks), through libnl.  List management
 * devices (the parents that can create vdpa devices, e.g. vdpasim_net or a
 * PCI function), add and delete vdpa devices, show them and their config,
 * and find and open the vhost-vdpa char device of a vdpa device by name.
 *
 * Conventions are those of vdpamap.h: >= 0 success, negative errno failure,
 * errno untouched, out-parameters untouched on failure, size-prefixed opts,
 * destructors accept NULL and return NULL.  Kernel errors come back as the
 * kernel's errno; the kernel's extended-ack text, when it gives one, goes
 * to the log callback (VDPAMAP_LOG_ERR).  Every call on a handle may also
 * return: -EINVAL (m or an out-pointer NULL, a name empty or malformed),
 * -ENAMETOOLONG (a name longer than VDPAMAP_MGMT_NAME_MAX - 1), -EMSGSIZE
 * (the request or a reply does not fit a netlink message), -ENOMEM,
 * -EINTR, -EAGAIN (a dump interrupted by a change: try again), -EPROTO (a
 * malformed reply), -EIO (the socket failed).
 *
 * Threads: every call on one struct vdpamap_mgmt may run concurrently with
 * any other on the same handle (they are serialised on a per-handle mutex)
 * except vdpamap_mgmt_close().  A handle is bound to the process that opened
 * it: from a forked child every call returns -ECHILD.
 *
 * Included by vdpamap.h; may also be included on its own (to fill the
 * open options vdpamap_open_by_name() takes, include vdpamap.h).
 */
#ifndef VDPAMAP_MGMT_H
#define VDPAMAP_MGMT_H

#include "vdpamap_common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdpamap_mgmt;

/* Longest name (vdpa device, management device, bus), NUL included. */
#define VDPAMAP_MGMT_NAME_MAX 128

struct vdpamap_mgmt_opts {
	size_t sz;
	vdpamap_log_fn log_fn; /* NULL: silent */
	void *log_ctx;
	int log_level; /* 0 means VDPAMAP_LOG_WARN */
	size_t : 0;
};

/* Open a generic netlink socket (O_CLOEXEC, extended ack on) and resolve
 * the "vdpa" family.  Errors: -ENOENT the family is absent (the vdpa module
 * is not loaded, or this is not the initial network namespace; logged),
 * -EINVAL/-E2BIG bad opts, -ENOMEM; the socket's: -EMFILE, -EPERM,
 * -EAFNOSUPPORT (no netlink), -EIO, -EPROTO (a malformed reply). */
VDPAMAP_API int vdpamap_mgmt_open(const struct vdpamap_mgmt_opts *opts,
				  struct vdpamap_mgmt **ret);

/* Close the socket and free the handle.  Accepts NULL.  Returns NULL. */
VDPAMAP_API struct vdpamap_mgmt *vdpamap_mgmt_close(struct vdpamap_mgmt *m);

/* Free an array returned by one of the vdpamap_mgmt_list_*() calls.
 * Accepts NULL.  Returns NULL. */
VDPAMAP_API void *vdpamap_mgmt_free(void *list);

/* ---- management devices */
/* vdpamap_mgmtdev.present: attributes the kernel reported (older kernels
 * lack some) */
#define VDPAMAP_MGMTDEV_HAS_CLASSES  (1U << 0)
#define VDPAMAP_MGMTDEV_HAS_MAX_VQS  (1U << 1)
#define VDPAMAP_MGMTDEV_HAS_FEATURES (1U << 2)

struct vdpamap_mgmtdev {
	char bus[VDPAMAP_MGMT_NAME_MAX];  /* "pci"; "": no bus */
	char name[VDPAMAP_MGMT_NAME_MAX]; /* "vdpasim_net" */
	uint64_t supported_classes;	  /* bit N: virtio device id N */
	uint64_t supported_features;	  /* virtio features it offers */
	uint32_t max_supported_vqs;
	uint32_t present; /* VDPAMAP_MGMTDEV_HAS_* */
	uint64_t reserved[8];
};

/* Every management device.  *ret gets a malloc'd array (free it with
 * vdpamap_mgmt_free(); NULL when there are none); returns its length.
 * An entry whose name does not fit is skipped with a warning. */
VDPAMAP_API int vdpamap_mgmt_list_mgmtdevs(struct vdpamap_mgmt *m,
					   struct vdpamap_mgmtdev **ret);

/* One management device by handle: "bus/dev" or "dev" (iproute2's form).
 * -ENODEV: no such management device (kernel), -EINVAL: malformed. */
VDPAMAP_API int vdpamap_mgmt_get_mgmtdev(struct vdpamap_mgmt *m,
					 const char *mgmtdev,
					 struct vdpamap_mgmtdev *ret);

/* ---- vdpa devices */
struct vdpamap_vdpadev {
	char name[VDPAMAP_MGMT_NAME_MAX];	 /* "vdpa0" */
	char mgmtdev_bus[VDPAMAP_MGMT_NAME_MAX]; /* "" when none */
	char mgmtdev_name[VDPAMAP_MGMT_NAME_MAX];
	uint32_t device_id; /* virtio id: 1 net, 2 block */
	uint32_t vendor_id;
	uint32_t max_vqs;
	uint32_t max_vq_size;
	uint32_t min_vq_size; /* 0: not reported (old kernel) */
	uint32_t reserved0;
	uint64_t reserved[8];
};

/* Every vdpa device created through a management device (the kernel hides
 * the others).  Array as vdpamap_mgmt_list_mgmtdevs(). */
VDPAMAP_API int vdpamap_mgmt_list_devs(struct vdpamap_mgmt *m,
				       struct vdpamap_vdpadev **ret);

/* One vdpa device.  -ENODEV: no such device (kernel); -EINVAL: one the
 * kernel will not describe (not created through a management device). */
VDPAMAP_API int vdpamap_mgmt_get_dev(struct vdpamap_mgmt *m, const char *name,
				     struct vdpamap_vdpadev *ret);

struct vdpamap_mgmt_add_opts {
	size_t sz;
	const char *name;	  /* required: the new device's name */
	const char *mgmtdev;	  /* required: "bus/dev" or "dev" */
	const uint8_t *mac;	  /* 6 bytes; NULL: parent's default */
	uint32_t mtu;		  /* 0: default; else 68..65535 */
	uint32_t max_vq_pairs;	  /* 0: default; else 1..65535 */
	uint64_t device_features; /* 0: default; else provision exactly
					   these virtio features */
	size_t : 0;
};

/* Create a vdpa device (needs CAP_NET_ADMIN).  The device is bound to
 * whichever vdpa bus driver claims it (vhost_vdpa or virtio_vdpa).
 * Checked first, nothing sent (logged): -EINVAL opts NULL, name or mgmtdev
 * missing or malformed, mtu or max_vq_pairs above 65535; -ENAMETOOLONG;
 * -E2BIG.  From the kernel (its text, if any, in the log): -EEXIST name
 * taken, -ENODEV unknown mgmtdev, -EOPNOTSUPP an attribute the parent
 * cannot set, -ERANGE mtu below 68, -EINVAL (e.g. a mac without the MAC
 * feature in device_features), -EPERM. */
VDPAMAP_API int vdpamap_mgmt_add_dev(struct vdpamap_mgmt *m,
				     const struct vdpamap_mgmt_add_opts *opts);

/* Delete a vdpa device (needs CAP_NET_ADMIN: -EPERM).  -ENODEV: no such
 * device. */
VDPAMAP_API int vdpamap_mgmt_del_dev(struct vdpamap_mgmt *m, const char *name);

/* ---- vdpa device config, as the kernel reports it (VDPA_CMD_DEV_CONFIG_GET)
 * vdpamap_vdpadev_config.present: fields the kernel reported.  A net
 * device reports mac/mtu/status/max_vq_pairs only when it offers the
 * matching feature (MAC, MTU, STATUS, MQ or RSS), negotiated features only
 * once the driver set FEATURES_OK. */
#define VDPAMAP_CFG_MAC		    (1U << 0)
#define VDPAMAP_CFG_STATUS	    (1U << 1)
#define VDPAMAP_CFG_MTU		    (1U << 2)
#define VDPAMAP_CFG_MAX_VQ_PAIRS    (1U << 3)
#define VDPAMAP_CFG_NEGOTIATED	    (1U << 4)
#define VDPAMAP_CFG_DEVICE_FEATURES (1U << 5)

/* virtio-net status bits */
#define VDPAMAP_NET_S_LINK_UP  1
#define VDPAMAP_NET_S_ANNOUNCE 2

struct vdpamap_vdpadev_config {
	char name[VDPAMAP_MGMT_NAME_MAX];
	uint32_t device_id;
	uint32_t present; /* VDPAMAP_CFG_* */
	uint8_t mac[6];
	uint16_t status; /* VDPAMAP_NET_S_* */
	uint16_t mtu;
	uint16_t max_vq_pairs;
	uint32_t reserved0;
	uint64_t negotiated_features; /* driver features (FEATURES_OK) */
	uint64_t device_features;     /* features the device offers */
	uint64_t reserved[8];
};

/* The config of one vdpa device.  -ENODEV: no such device;
 * -EOPNOTSUPP: a device class the kernel cannot report. */
VDPAMAP_API int vdpamap_mgmt_get_config(struct vdpamap_mgmt *m,
					const char *name,
					struct vdpamap_vdpadev_config *ret);

/* The config of every vdpa device.  Array as vdpamap_mgmt_list_mgmtdevs(). */
VDPAMAP_API int vdpamap_mgmt_list_configs(struct vdpamap_mgmt *m,
					  struct vdpamap_vdpadev_config **ret);

/* Name of virtio feature bit (0..63) of a device of class device_id, as
 * iproute2 prints it ("MAC", "VERSION_1"), or NULL if unnamed. */
VDPAMAP_API const char *vdpamap_mgmt_feature_name(uint32_t device_id,
						  uint32_t bit);

/* ---- from a vdpa device name to its vhost-vdpa char device (sysfs) */
/* Write "/dev/vhost-vdpa-N" of vdpa device name into buf (len bytes,
 * NUL included).  Needs no handle.  Errors: -ENOENT no such vdpa device,
 * -ENODEV it exists but is not bound to vhost_vdpa, -ENAMETOOLONG buf too
 * small, -EINVAL bad name, -EACCES sysfs unreadable, -ENOMEM. */
VDPAMAP_API int vdpamap_mgmt_chardev(const char *name, char *buf, size_t len);

/* vdpamap_mgmt_chardev() then vdpamap_open() on the char device, with its
 * opts and errors: -EINVAL, -ENOENT, -ENODEV, -ENAMETOOLONG as the first,
 * then those of vdpamap_open(). */
VDPAMAP_API int vdpamap_open_by_name(const char *name,
				     const struct vdpamap_open_opts *opts,
				     struct vdpamap **ret);

#ifdef __cplusplus
}
#endif
#endif /* VDPAMAP_MGMT_H */
