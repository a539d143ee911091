/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio/split_ring: the device's side of a split virtqueue (virtio 1.x,
 * "Split Virtqueues"): take the next head from the available ring and walk
 * its descriptor chain, one level of indirection allowed.  The two devices
 * this project plays, the simulator (src/sim/net.c) and the VDUSE daemon
 * (src/vduse/net.c), reach guest memory differently, so memory is read
 * through a callback; what a chain may look like (and every refusal) is
 * decided here once.
 *
 * Uses libc only; used by sim and vduse (tests/abi/check-layers.py).
 */
#ifndef VDPAMAP_VIRTIO_SPLIT_RING_H
#define VDPAMAP_VIRTIO_SPLIT_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

/* Read len bytes of the device's view of memory at addr into buf: 0, or
 * nonzero when addr is not mapped for the device. */
typedef int (*vring_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
/* One buffer of the chain, in order; a negative return stops the walk
 * and is its result (-E2BIG: more buffers than the caller holds). */
typedef int (*vring_seg_fn)(void *ctx, uint64_t addr, uint32_t len,
			    bool writable);

struct vring_split {
	uint64_t desc, avail; /* where the driver put them */
	uint32_t num;	      /* entries of the ring */
	uint16_t last_avail;  /* the device's next available entry */
	vring_read_fn read;
	void *read_ctx;
};

/* Take the next available head: 1 and *head, 0 when the ring is empty,
 * -EFAULT when the ring is not readable, -EINVAL when the driver's index
 * or head is out of range.  last_avail moves only with vring_split_walk's
 * success: see there. */
int vring_split_head(const struct vring_split *r, uint16_t *head);

/* Walk head's chain, calling seg for each buffer: readable ones first,
 * then writable ones (the spec's order; otherwise -EINVAL).  -ELOOP for a
 * chain longer than its table, -EFAULT for an unreadable descriptor,
 * -EINVAL for a bad index or nested indirect table.  On 0, last_avail has
 * moved past the chain. */
int vring_split_walk(struct vring_split *r, uint16_t head, vring_seg_fn seg,
		     void *seg_ctx);

#endif
