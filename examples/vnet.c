// SPDX-License-Identifier: BSD-3-Clause
/*
 * vnet: a minimal virtio-net driver over the libvdpamap public API (see
 * vnet.h).  Split virtqueues, VIRTIO_F_VERSION_1 (12-byte virtio_net_hdr)
 * and VIRTIO_F_ACCESS_PLATFORM, nothing else but MAC when offered, and
 * with vnet_start_cvq() a control vq that sets the MAC: no mergeable
 * buffers, no event index.
 *
 * Layout of the caller's area (offsets from mem / iova, 4 KiB units):
 *
 *   0       driver-private block (never given to the device)
 *   1..3    rx desc, rx avail, rx used      (one 4 KiB block each)
 *   4..6    tx desc, tx avail, tx used
 *   7..     qsize rx buffers of 2 KiB (device-writable), then ntx tx
 *           buffers of 2 KiB (device-readable)
 *
 * The control vq (vnet_start_cvq()) has memory of its own, 4 blocks: its
 * desc, avail and used, then the command (class, command, 6-byte MAC,
 * status byte).
 *
 * Every rx buffer is posted at start.  vnet_send() puts one frame (a zero
 * header + the frame, one descriptor) on tx and kicks; vnet_recv() waits on
 * the rx call eventfd (re-checking the used ring every 100 ms anyway),
 * compares what the device wrote behind the header with the frame and
 * recycles every rx buffer it consumed; intact frames of other seqs (late
 * ones of an earlier timeout) are skipped.  vnet_loop() is both.
 * Avail/used indexes are published/read with release/acquire atomics.
 * vdpa_sim_net (drivers/vdpa/vdpa_sim/vdpa_sim_net.c)
 * copies the whole tx chain, header included, into the rx buffer and drops
 * frames whose destination MAC is not the one in its config space, so the
 * frame is addressed to that MAC.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vnet_ring.h"

static int layout_check(struct vnet *v, uint64_t size, uint16_t *ret_ntx)
{
	uint64_t need = off_rxbuf(v, v->qsize), ntx;

	if (size < need + 4ULL * VNET_BUF)
		return -ENOSPC;
	ntx = (size - need) / VNET_BUF;
	if (ntx > VNET_TXMAX)
		ntx = VNET_TXMAX;
	if (ntx > v->qsize)
		ntx = v->qsize;
	*ret_ntx = (uint16_t)ntx;
	return 0;
}

static int set_status(struct vnet *v, uint8_t s)
{
	return vdpamap_set_status(v->h, s);
}

static int negotiate(struct vnet *v, const struct vdpamap_info *info)
{
	const uint64_t cvq = v->cvq ? F_CTRL_VQ | F_CTRL_MAC_ADDR : 0;
	const uint8_t base = S_ACKNOWLEDGE | S_DRIVER;
	uint64_t offered = 0, want;
	uint8_t st = 0;
	int r;

	r = set_status(v, S_ACKNOWLEDGE);
	if (r < 0)
		return r;
	r = set_status(v, base);
	if (r < 0)
		return r;
	r = vdpamap_get_features(v->h, &offered);
	if (r < 0)
		return r;
	want = F_VERSION_1 | F_ACCESS_PLATFORM | cvq;
	if ((offered & want) != want)
		return -EOPNOTSUPP;
	want |= offered & F_NET_MAC;
	r = vdpamap_set_features(v->h, want);
	if (r < 0)
		return r;
	r = set_status(v, base | S_FEATURES_OK);
	if (r < 0)
		return r;
	r = vdpamap_get_status(v->h, &st);
	if (r < 0)
		return r;
	if (!(st & S_FEATURES_OK)) {
		set_status(v, base | S_FAILED);
		return -EOPNOTSUPP;
	}
	priv(v)->features = want;
	/* The config is read after the features are set: the kernel treats
	 * an earlier config access as a legacy driver. */
	memset(priv(v)->mac, 0xff, 6);
	if (info->config_size >= 6) {
		r = vdpamap_get_config(v->h, 0, priv(v)->mac, 6);
		if (r < 0)
			return r;
	}
	return 0;
}

static int ring_setup(struct vnet *v, int q)
{
	struct vdpamap_vring vr = {
		.num = v->qsize,
		.base = 0,
		.desc = v->iova + off_desc(q),
		.avail = v->iova + off_avail(q),
		.used = v->iova + off_used(q),
		.kick_fd = v->kick[q],
		.call_fd = v->call[q],
	};

	memset(v->mem + off_desc(q), 0, (unsigned long)3 * VNET_BLOCK);
	return vdpamap_vring_set(v->h, (uint32_t)q, &vr);
}

static void close_fds(struct vnet *v)
{
	int q;

	for (q = 0; q < 2; q++) {
		if (v->kick[q] >= 0)
			close(v->kick[q]);
		if (v->call[q] >= 0)
			close(v->call[q]);
		v->kick[q] = v->call[q] = -1;
	}
	if (v->cvq) {
		if (v->cvq_kick >= 0)
			close(v->cvq_kick);
		if (v->cvq_call >= 0)
			close(v->cvq_call);
		v->cvq_kick = v->cvq_call = -1;
	}
	v->started = 0;
}

void vnet_stop(struct vnet *v)
{
	/* a zeroed, never started struct holds no fds (kick[] = 0 is not
	 * an fd of ours) */
	if (v && v->started)
		close_fds(v);
}

/* vnet_start(), first half: the memory layout, the ring size the device
 * allows, and the header block.  Nothing reaches the device. */
static int start_layout(struct vnet *v, struct vdpamap *h, void *mem,
			uint64_t iova, uint64_t size, void *cvq_mem,
			uint64_t cvq_iova, struct vdpamap_info *info)
{
	uint32_t qs;
	uint16_t ntx;
	int r;

	if (!v || !h || !mem || size < VNET_MEM_MIN || (iova % VNET_BLOCK) ||
	    ((uintptr_t)mem % 8) || iova + size - 1 < iova)
		return -EINVAL;
	/* *v is not looked at: it may be uninitialised (call vnet_stop()
	 * before restarting the same struct, or its eventfds leak) */
	memset(v, 0, sizeof(*v));
	v->kick[0] = v->kick[1] = v->call[0] = v->call[1] = -1;
	v->cvq_kick = v->cvq_call = -1;
	v->h = h;
	v->mem = mem;
	v->iova = iova;
	v->size = size;
	v->cvq = cvq_mem != NULL;
	v->cvq_mem = cvq_mem;
	v->cvq_iova = cvq_iova;

	r = vdpamap_get_info(h, info);
	if (r < 0)
		return r;
	if (info->device_id != NET_ID || info->nr_vqs < 2)
		return -ENODEV;
	if (v->cvq && info->nr_vqs <= CVQ)
		return -EOPNOTSUPP;
	qs = VNET_QMAX;
	if (info->max_vring_num)
		while (qs > info->max_vring_num)
			qs >>= 1;
	if (!qs)
		return -EINVAL;
	v->qsize = (uint16_t)qs;
	r = layout_check(v, size, &ntx);
	if (r < 0)
		return r;
	memset(v->mem, 0, VNET_BLOCK);
	priv(v)->magic = VNET_MAGIC;
	priv(v)->ntx = ntx;
	return 0;
}

/* vnet_start(), second half: the rings, the rx buffers posted before
 * DRIVER_OK, the queues enabled and DRIVER_OK checked. */
static int start_device(struct vnet *v, const struct vdpamap_info *info)
{
	uint32_t q, i;
	uint16_t ntx;
	uint8_t st = 0;
	int r;

	/* from any earlier run (or a reset the caller did not do) */
	r = vdpamap_get_status(v->h, &st);
	if (r < 0)
		return r;
	if (st) {
		r = vdpamap_reset(v->h, NULL);
		if (r < 0)
			return r;
	}
	r = negotiate(v, info);
	if (r < 0)
		return r;
	for (q = 0; q < 2; q++) {
		r = ring_setup(v, (int)q);
		/* a device that works only at its maximum ring size (vdpa_sim
		 * before 5.12): the library refuses ours, before any ioctl */
		if (r == -EINVAL && q == 0 && v->qsize < info->max_vring_num &&
		    info->max_vring_num <= 256) {
			v->qsize = (uint16_t)info->max_vring_num;
			r = layout_check(v, v->size, &ntx);
			if (r < 0)
				return r;
			priv(v)->ntx = ntx;
			r = ring_setup(v, (int)q);
		}
		if (r < 0)
			return r;
	}
	if (v->cvq) {
		struct vdpamap_vring vr = {
			.num = v->qsize,
			.desc = v->cvq_iova,
			.avail = v->cvq_iova + VNET_BLOCK,
			.used = v->cvq_iova + 2ULL * VNET_BLOCK,
			.kick_fd = v->cvq_kick,
			.call_fd = v->cvq_call,
		};

		memset(v->cvq_mem, 0, VNET_CVQ_MEM);
		r = vdpamap_vring_set(v->h, CVQ, &vr);
		if (r == 0)
			r = vdpamap_vring_enable(v->h, CVQ, 1);
		if (r < 0)
			return r;
	}
	priv(v)->qsize = v->qsize;
	/* every rx buffer, device-writable, posted before DRIVER_OK */
	for (i = 0; i < v->qsize; i++) {
		desc(v, RX)[i] = (struct vdesc){
			.addr = v->iova + off_rxbuf(v, i),
			.len = VNET_BUF,
			.flags = DESC_F_WRITE,
		};
		post(v, RX, (uint16_t)i);
	}
	for (q = 0; q < 2; q++) {
		r = vdpamap_vring_enable(v->h, q, 1);
		if (r < 0)
			return r;
	}
	r = set_status(v,
		       S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if (r < 0)
		return r;
	r = vdpamap_get_status(v->h, &st);
	if (r < 0)
		return r;
	if (!(st & S_DRIVER_OK) || (st & S_FAILED))
		return -EIO;
	return 0;
}

static int start(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
		 uint64_t size, void *cvq_mem, uint64_t cvq_iova)
{
	struct vdpamap_info info;
	uint32_t q;
	int r;

	if (((uintptr_t)cvq_mem | cvq_iova) % VNET_BLOCK)
		return -EINVAL;
	r = start_layout(v, h, mem, iova, size, cvq_mem, cvq_iova, &info);
	if (r < 0)
		return r;
	for (q = 0; q < 2; q++) {
		v->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		v->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick[q] < 0 || v->call[q] < 0) {
			r = -errno;
			goto err_fds;
		}
	}
	if (v->cvq) {
		v->cvq_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		v->cvq_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->cvq_kick < 0 || v->cvq_call < 0) {
			r = -errno;
			goto err_fds;
		}
	}
	r = start_device(v, &info);
	if (r < 0)
		goto err_fds;
	v->started = 1;
	r = kick(v, RX);
	if (r < 0)
		goto err_fds;
	return 0;
err_fds:
	close_fds(v);
	return r;
}

int vnet_start(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
	       uint64_t size)
{
	return start(v, h, mem, iova, size, NULL, 0);
}

int vnet_start_cvq(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
		   uint64_t size, void *cvq_mem, uint64_t cvq_iova)
{
	if (!cvq_mem)
		return -EINVAL;
	return start(v, h, mem, iova, size, cvq_mem, cvq_iova);
}

/* The command block: class and command (2 bytes), the MAC at 8, the
 * device's status byte at 16; three descriptors, heads 0, 1, 2. */
int vnet_set_mac(struct vnet *v, const uint8_t mac[6], int timeout_ms)
{
	struct vdesc *d = (struct vdesc *)v->cvq_mem;
	struct vavail *a = (struct vavail *)(v->cvq_mem + VNET_BLOCK);
	struct vused *u = (struct vused *)(v->cvq_mem + 2ul * VNET_BLOCK);
	uint8_t *cmd = v->cvq_mem + 3ul * VNET_BLOCK;
	const uint64_t ciova = v->cvq_iova + 3ULL * VNET_BLOCK;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms, one = 1;

	if (!v->cvq || !v->started)
		return -EOPNOTSUPP;
	cmd[0] = 1; /* VIRTIO_NET_CTRL_MAC */
	cmd[1] = 1; /* VIRTIO_NET_CTRL_MAC_ADDR_SET */
	memcpy(cmd + 8, mac, 6);
	cmd[16] = 0xff;
	d[0] = (struct vdesc){ ciova, 2, DESC_F_NEXT, 1 };
	d[1] = (struct vdesc){ ciova + 8, 6, DESC_F_NEXT, 2 };
	d[2] = (struct vdesc){ ciova + 16, 1, DESC_F_WRITE, 0 };
	a->ring[v->cvq_avail % v->qsize] = 0;
	v->cvq_avail++;
	__atomic_store_n(&a->idx, v->cvq_avail, __ATOMIC_RELEASE);
	if (write(v->cvq_kick, &one, sizeof(one)) != sizeof(one))
		return -errno;
	while (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == v->cvq_used) {
		struct pollfd p = { .fd = v->cvq_call, .events = POLLIN };
		uint64_t t = now_ms();

		if (t >= deadline)
			return -ETIMEDOUT;
		poll(&p, 1, deadline - t < 10 ? (int)(deadline - t) : 10);
		drain(v->cvq_call);
	}
	v->cvq_used++;
	if (__atomic_load_n(&cmd[16], __ATOMIC_ACQUIRE) != 0)
		return -EIO; /* VIRTIO_NET_ERR */
	memcpy(priv(v)->mac, mac, 6);
	return 0;
}

int vnet_attach(struct vnet *v, struct vdpamap *h, void *mem, uint64_t iova,
		uint64_t size, const int kickfd[2], const int callfd[2])
{
	struct vdpamap_info info;
	uint32_t qs;
	uint16_t ntx;
	int q, r;

	if (!v || !h || !mem || !kickfd || !callfd || size < VNET_MEM_MIN)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->h = h;
	v->mem = mem;
	v->iova = iova;
	v->size = size;
	r = vdpamap_get_info(h, &info);
	if (r < 0)
		return r;
	qs = VNET_QMAX;
	if (info.max_vring_num)
		while (qs > info.max_vring_num)
			qs >>= 1;
	if (priv(v)->magic == VNET_MAGIC && priv(v)->qsize)
		qs = priv(v)->qsize; /* what the predecessor chose */
	v->qsize = (uint16_t)qs;
	r = layout_check(v, size, &ntx);
	if (r < 0)
		return r;
	if (priv(v)->magic != VNET_MAGIC || priv(v)->ntx != ntx)
		return -EINVAL;
	for (q = 0; q < 2; q++) {
		v->kick[q] = kickfd[q];
		v->call[q] = callfd[q];
		v->avail_idx[q] =
			__atomic_load_n(&avail(v, q)->idx, __ATOMIC_ACQUIRE);
		v->used_seen[q] =
			__atomic_load_n(&used(v, q)->idx, __ATOMIC_ACQUIRE);
		drain(callfd[q]);
	}
	memset(priv(v)->tx_busy, 0, sizeof(priv(v)->tx_busy));
	v->started = 1;
	return kick(v, RX);
}
