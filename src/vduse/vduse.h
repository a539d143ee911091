/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vduse: vdpamap-vduse-net, a VDUSE loopback virtio-net device in a
 * userspace daemon.  It creates a net device on /dev/vduse/control (2
 * vqs, rx 0 and tx 1, no control vq: VDUSE refuses one for net), answers
 * the kernel's requests on /dev/vduse/NAME, reads guest memory through
 * the IOTLB the kernel hands it (VDUSE_IOTLB_GET_FD[2] + mmap: VA mode)
 * and loops every TX frame back to RX, so that `vdpa dev add mgmtdev
 * vduse name NAME` gives a real /dev/vhost-vdpa-N backed by userspace.
 * VDUSE API version 1 (Linux >= 7.0) where the kernel has it: 2 groups
 * (both data vqs in group 0, group 1 empty for a shadow), 2 address
 * spaces, suspend; version 0 elsewhere.
 *
 * A side module, not a layer of the library and not linked into it: a
 * program of its own.  May include: libc, Linux uAPI headers and
 * src/uapi/ (the constants Debian 12's headers lack); nothing else of the
 * library.  Nobody includes it.
 *
 * Files, bottom to top; each calls only files listed before it:
 *  - log.c:   vdu_log (stderr; debug lines with --verbose)
 *  - iotlb.c: the daemon's cache of the kernel's IOTLB: entries fetched
 *             with VDUSE_IOTLB_GET_FD[2] and mmapped, dropped on
 *             VDUSE_UPDATE_IOTLB; device reads and writes of guest memory
 *  - net.c:   split virtqueues, TX -> RX loopback, interrupts
 *  - dev.c:   create and destroy the device, the requests
 *  - main.c:  options, the poll loop, the exit when the vdpa device goes
 */
#ifndef VDPAMAP_VDUSE_H
#define VDPAMAP_VDUSE_H

#include <stddef.h>
#include <stdint.h>

#include "uapi/vduse.h"

#define VDU_NR_VQS    2 /* rx 0, tx 1 */
#define VDU_NR_GROUPS 2 /* version 1: data vqs in 0, 1 for a shadow */
#define VDU_NR_AS     2
#define VDU_CONFIG    24 /* struct virtio_net_config through hash types */

/* One IOTLB entry of one address space, [first, last] inclusive, and where
 * the daemon sees it: p (mmapped), or fd at off (a write-only entry, which
 * mmap cannot map: pwrite). */
struct vdu_map {
	uint64_t first, last;
	uint32_t asid;
	uint8_t perm; /* VDUSE_ACCESS_* */
	uint8_t *p;   /* the byte at first, or NULL */
	void *base;   /* what munmap takes */
	size_t maplen;
	int fd;	      /* -1 when mmapped */
	uint64_t off; /* file offset of first */
};

struct vdu_vq {
	int started; /* read from the kernel at DRIVER_OK */
	uint32_t num;
	uint64_t desc, avail, used;
	uint16_t last_avail, last_used;
	int kick_fd;
};

struct vdu_stats {
	uint64_t tx, rx, drops, errors, kicks, irqs, requests;
};

struct vdu_dev {
	char name[64];
	int ctl_fd, fd;
	unsigned int api; /* 0 or 1 */
	int can_suspend;  /* VDUSE_F_SUSPEND negotiated */
	uint8_t mac[6];
	uint16_t qsize;
	int verbose;
	/* device state the requests change */
	uint8_t status;
	int suspended;
	uint64_t features;
	uint32_t group_asid[VDU_NR_GROUPS];
	struct vdu_vq vq[VDU_NR_VQS];
	/* the IOTLB cache */
	struct vdu_map *maps;
	size_t nr_maps, cap_maps;
	struct vdu_stats st;
};

/* ---- log.c */
void vdu_log(const struct vdu_dev *d, int debug, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- iotlb.c */
/* Read or write len bytes of guest memory at iova in asid; 0 or -errno
 * (-EFAULT: not mapped, not permitted, or the memory is gone). */
int vdu_dma_read(struct vdu_dev *d, uint32_t asid, uint64_t iova, void *buf,
		 size_t len);
int vdu_dma_write(struct vdu_dev *d, uint32_t asid, uint64_t iova,
		  const void *buf, size_t len);
/* Drop every cached entry of asid overlapping [first, last]. */
void vdu_iotlb_drop(struct vdu_dev *d, uint32_t asid, uint64_t first,
		    uint64_t last);
void vdu_iotlb_drop_all(struct vdu_dev *d);
/* Catch SIGBUS from memory a client truncated under a mapping. */
void vdu_iotlb_install_sigbus(void);

/* ---- net.c */
/* Process every vq that has work; returns after the rings are empty. */
void vdu_net_work(struct vdu_dev *d);
/* The asid a vq's rings and buffers are in (its group's). */
uint32_t vdu_vq_asid(const struct vdu_dev *d, uint32_t vq);

/* ---- dev.c */
struct vdu_create_opts {
	const char *name;
	uint8_t mac[6];
	uint16_t qsize;
	int api; /* -1: the newest the kernel has, else 0 or 1 */
};
int vdu_dev_create(struct vdu_dev *d, const struct vdu_create_opts *o);
/* Close the device fd and destroy the device; 0 or -errno (-EBUSY while
 * the vdpa device exists). */
int vdu_dev_destroy(struct vdu_dev *d);
/* Answer every pending request; 0, or -errno when the fd failed. */
int vdu_dev_serve(struct vdu_dev *d);
/* A kick arrived on vq: drain its eventfd, process. */
void vdu_dev_kick(struct vdu_dev *d, uint32_t vq);

#endif
