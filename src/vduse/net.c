// SPDX-License-Identifier: BSD-3-Clause
/*
 * The loopback net device: split virtqueues read and written through the
 * IOTLB (iotlb.c), every TX frame (virtio_net_hdr included) copied into
 * the next RX buffer when its destination is the device's MAC, broadcast
 * or multicast (what vdpa_sim_net does), then used entries and an
 * interrupt (VDUSE_VQ_INJECT_IRQ) unless the driver set
 * VRING_AVAIL_F_NO_INTERRUPT.  No control vq (VDUSE refuses one for net),
 * no EVENT_IDX, no packed rings.
 *
 * Calls below it: iotlb.c, log.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/virtio_config.h>

#include "vduse/vduse.h"
#include "virtio/split_ring.h"

#define VRING_AVAIL_F_NO_INTERRUPT 1
#define FRAME_MAX		   65562 /* 64 KiB + virtio_net_hdr_v1 */
#define IOV_MAX_SEGS		   64
#define VQ_RX			   0
#define VQ_TX			   1
#define NET_HDR			   12 /* VERSION_1 */

struct seg {
	uint64_t iova;
	uint32_t len;
};

struct chain {
	uint16_t head;
	unsigned int nr, nw; /* readable, then writable segments */
	struct seg s[IOV_MAX_SEGS];
};

uint32_t vdu_vq_asid(const struct vdu_dev *d, uint32_t vq)
{
	(void)vq; /* both data vqs are in group 0 */
	return d->group_asid[0];
}

struct walk {
	struct vdu_dev *d;
	uint32_t asid;
};

static int walk_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct walk *w = ctx;

	return vdu_dma_read(w->d, w->asid, addr, buf, len);
}

static int walk_seg(void *ctx, uint64_t addr, uint32_t len, bool writable)
{
	struct chain *c = ctx;

	if (c->nr + c->nw == IOV_MAX_SEGS)
		return -E2BIG;
	c->s[c->nr + c->nw].iova = addr;
	c->s[c->nr + c->nw].len = len;
	if (writable)
		c->nw++;
	else
		c->nr++;
	return 0;
}

/* The next available chain: 1, 0 when the ring is empty, -errno. */
static int pop(struct vdu_dev *d, uint32_t idx, struct chain *c)
{
	struct vdu_vq *vq = &d->vq[idx];
	struct walk w = { .d = d, .asid = vdu_vq_asid(d, idx) };
	struct vring_split ring = {
		.desc = vq->desc,
		.avail = vq->avail,
		.num = vq->num,
		.last_avail = vq->last_avail,
		.read = walk_read,
		.read_ctx = &w,
	};
	uint16_t head;
	int e;

	e = vring_split_head(&ring, &head);
	if (e <= 0)
		return e;
	c->head = head;
	c->nr = c->nw = 0;
	e = vring_split_walk(&ring, head, walk_seg, c);
	if (e < 0) /* 0 or -errno */
		return e;
	vq->last_avail = ring.last_avail;
	return 1;
}

/* Gather the readable part of c into buf; bytes or -errno. */
static long gather(struct vdu_dev *d, uint32_t idx, const struct chain *c,
		   uint8_t *buf, size_t max)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < c->nr && n < max; i++) {
		size_t l = c->s[i].len;

		if (l > max - n)
			l = max - n;
		if (vdu_dma_read(d, vdu_vq_asid(d, idx), c->s[i].iova, buf + n,
				 l))
			return -EFAULT;
		n += l;
	}
	return (long)n;
}

/* Scatter len bytes into the writable part of c; bytes or -errno. */
static long scatter(struct vdu_dev *d, uint32_t idx, const struct chain *c,
		    const uint8_t *buf, size_t len)
{
	size_t n = 0;
	unsigned int i;

	for (i = c->nr; i < c->nr + c->nw && n < len; i++) {
		size_t l = c->s[i].len;

		if (l > len - n)
			l = len - n;
		if (vdu_dma_write(d, vdu_vq_asid(d, idx), c->s[i].iova, buf + n,
				  l))
			return -EFAULT;
		n += l;
	}
	return (long)n;
}

static int push(struct vdu_dev *d, uint32_t idx, uint16_t head, uint32_t len)
{
	struct vdu_vq *vq = &d->vq[idx];
	uint32_t asid = vdu_vq_asid(d, idx);
	uint32_t elem[2] = { head, len };
	uint16_t next = vq->last_used + 1;

	if (vdu_dma_write(d, asid,
			  vq->used + 4 + 8ULL * (vq->last_used % vq->num), elem,
			  sizeof(elem)))
		return -EFAULT;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (vdu_dma_write(d, asid, vq->used + 2, &next, 2))
		return -EFAULT;
	vq->last_used = next;
	return 0;
}

static void irq(struct vdu_dev *d, uint32_t idx)
{
	uint16_t flags = 0;
	uint32_t i = idx;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vdu_dma_read(d, vdu_vq_asid(d, idx), d->vq[idx].avail, &flags, 2) ||
	    (flags & VRING_AVAIL_F_NO_INTERRUPT))
		return;
	if (ioctl(d->fd, VDUSE_VQ_INJECT_IRQ, &i) == 0)
		d->st.irqs++;
}

static int accept_frame(const struct vdu_dev *d, const uint8_t *f, size_t len)
{
	if (len < NET_HDR + 6)
		return 0;
	f += NET_HDR;
	return (f[0] & 1) || !memcmp(f, d->mac, 6);
}

static void error(struct vdu_dev *d, const char *what, int e)
{
	d->st.errors++;
	vdu_log(d, 0, "data path: %s: %s", what, strerror(-e));
}

void vdu_net_work(struct vdu_dev *d)
{
	static uint8_t frame[FRAME_MAX];
	struct chain tx, rx;
	int e;

	if (d->suspended || !(d->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    !d->vq[VQ_TX].started || !d->vq[VQ_RX].started)
		return;
	for (;;) {
		long n, w = 0;

		e = pop(d, VQ_TX, &tx);
		if (e <= 0) {
			if (e)
				error(d, "tx descriptor", e);
			return;
		}
		d->st.tx++;
		n = gather(d, VQ_TX, &tx, frame, sizeof(frame));
		if (n < 0) {
			error(d, "tx buffer", (int)n);
			return;
		}
		if (!accept_frame(d, frame, (size_t)n)) {
			d->st.drops++;
		} else if ((e = pop(d, VQ_RX, &rx)) <= 0) {
			/* no rx buffer: dropped, as a NIC would */
			d->st.drops++;
			if (e)
				error(d, "rx descriptor", e);
		} else {
			w = scatter(d, VQ_RX, &rx, frame, (size_t)n);
			if (w < 0 || push(d, VQ_RX, rx.head, (uint32_t)w)) {
				error(d, "rx buffer", -EFAULT);
				return;
			}
			d->st.rx++;
			irq(d, VQ_RX);
		}
		if (push(d, VQ_TX, tx.head, 0)) {
			error(d, "tx used ring", -EFAULT);
			return;
		}
		irq(d, VQ_TX);
	}
}
