/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vnet: a minimal virtio-net driver over the libvdpamap public API, for the
 * conformance tests, the demo and the benchmarks: split rings for rx (vq0)
 * and tx (vq1) plus frame buffers, all inside a caller-supplied piece of
 * guest memory that the caller has mapped at a device address (IOVA) in the
 * ASID that group 0 is bound to.  vnet_loop() sends one frame and waits for
 * the device to loop it back to RX, checking every byte: a wrong
 * translation anywhere shows up as a timeout or a mismatch.
 *
 * Depends on: vdpamap.h only.
 */
#ifndef VDPAMAP_TESTS_VNET_H
#define VDPAMAP_TESTS_VNET_H

#include <stdint.h>
#include "vdpamap.h"

/* bytes of guest memory vnet_start() needs at least */
#define VNET_MEM_MIN (256ul * 1024ul)

struct vnet {
	struct vdpamap *h;
	uint8_t *mem;  /* driver view of the area */
	uint64_t iova; /* device view of mem[0] */
	uint64_t size;
	uint16_t qsize;
	int kick[2], call[2];  /* eventfds for rx, tx */
	uint16_t avail_idx[2]; /* next avail index we publish */
	uint16_t used_seen[2]; /* used index consumed so far */
	int started;
	/* the control vq (vnet_start_cvq()): vq 2, in its own memory (a
	 * shadow virtqueue that moves the data rings leaves it alone) */
	int cvq; /* 1: negotiated and running */
	int cvq_kick, cvq_call;
	uint16_t cvq_avail, cvq_used;
	uint8_t *cvq_mem;
	uint64_t cvq_iova;
};

/* Negotiate features (VERSION_1, ACCESS_PLATFORM and what the device
 * needs), set up rx/tx rings and buffers in [mem, mem+size) seen by the
 * device at iova, enable the two vqs and set DRIVER_OK.  The status is
 * reset first if it is not 0 (use after vdpamap_reset() to restart).
 * Returns 0 or -errno. */
int vnet_start(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
	       uint64_t size);

/* bytes of guest memory the control vq needs (4 KiB aligned) */
#define VNET_CVQ_MEM (16ul * 1024ul)
/* vnet_start() with the control vq of one queue pair (vq 2): also
 * negotiates VIRTIO_NET_F_CTRL_VQ and VIRTIO_NET_F_CTRL_MAC_ADDR
 * (-EOPNOTSUPP where either is not offered, or the device has fewer than
 * 3 vqs), and puts the control vq's ring and command buffer in
 * VNET_CVQ_MEM bytes at cvq_mem, seen by the device at cvq_iova in the
 * ASID of the control vq's group.  Returns 0 or -errno. */
int vnet_start_cvq(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
		   uint64_t size, void *cvq_mem, uint64_t cvq_iova);
/* VIRTIO_NET_CTRL_MAC_ADDR_SET through the control vq, waiting up to
 * timeout_ms for the device's answer.  0: VIRTIO_NET_OK, frames are
 * addressed to mac from now on; -EIO: VIRTIO_NET_ERR; -ETIMEDOUT: no
 * answer; -EOPNOTSUPP: no control vq (vnet_start()). */
int vnet_set_mac(struct vnet *v, const uint8_t mac[6], int timeout_ms);
/* Take over a device that another process (an exec'd predecessor) started
 * with vnet_start() on the same memory, without resetting it: ring indexes
 * are read back from the rings in mem, kick/call are the inherited
 * eventfds of rx and tx (adopted: vnet_stop() closes them).  The
 * predecessor must have consumed every frame it sent.  0 or -errno
 * (-EINVAL: mem does not hold a vnet layout). */
int vnet_attach(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
		uint64_t size, const int kick[2], const int call[2]);

/* Send one frame of len bytes (pattern derived from seq) and wait up to
 * timeout_ms for it to arrive on rx.  0: arrived intact; -ETIMEDOUT: it did
 * not; -EBADMSG: it arrived corrupted; other -errno. */
int vnet_loop(struct vnet *v, uint32_t seq, uint32_t len, int timeout_ms);

/* The two halves of vnet_loop(): post one frame on tx and kick; wait for
 * the frame sent with (seq, len) on rx, same results as vnet_loop(). */
int vnet_send(struct vnet *v, uint32_t seq, uint32_t len);
int vnet_recv(struct vnet *v, uint32_t seq, uint32_t len, int timeout_ms);

/* Close the eventfds (the device keeps running until reset/close). */
void vnet_stop(struct vnet *v);

#endif
