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
#include <time.h>
#include <unistd.h>

#include "vnet.h"

#define VNET_BLOCK     4096u /* ring alignment unit */
#define VNET_BUF       2048u /* bytes per rx / tx buffer */
#define VNET_HDR       12u   /* virtio_net_hdr_v1 (VERSION_1) */
#define VNET_QMAX      64u
#define VNET_TXMAX     64u
#define VNET_ETH_HLEN  14u
#define VNET_FRAME_MAX (VNET_BUF - VNET_HDR)
#define VNET_MAGIC     0x766e6574u /* "vnet" */
#define VNET_ETHERTYPE 0x88b5u	   /* IEEE 802 local experimental */

#define RX 0
#define TX 1

/* virtio */
#define S_ACKNOWLEDGE	  1u
#define S_DRIVER	  2u
#define S_DRIVER_OK	  4u
#define S_FEATURES_OK	  8u
#define S_FAILED	  128u
#define F_NET_MAC	  (1ULL << 5)
#define F_CTRL_VQ	  (1ULL << 17)
#define F_CTRL_MAC_ADDR	  (1ULL << 23)
#define CVQ		  2 /* the control vq of one queue pair */
#define DESC_F_NEXT	  1u
#define F_VERSION_1	  (1ULL << 32)
#define F_ACCESS_PLATFORM (1ULL << 33)
#define DESC_F_WRITE	  2u
#define NET_ID		  1u

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vavail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vused_elem {
	uint32_t id;
	uint32_t len;
};

struct vused {
	uint16_t flags;
	uint16_t idx;
	struct vused_elem ring[];
};

/* Driver-private state kept in block 0 of the area (struct vnet is fixed
 * by vnet.h). */
struct vnet_priv {
	uint32_t magic;
	uint16_t ntx;
	uint16_t qsize; /* what vnet_start() chose: vnet_attach() */
	uint8_t mac[6];
	uint8_t tx_busy[VNET_TXMAX];
	uint64_t features;
};

_Static_assert(sizeof(struct vnet_priv) <= VNET_BLOCK, "priv block");

static inline struct vnet_priv *priv(struct vnet *v)
{
	return (struct vnet_priv *)v->mem;
}

static inline uint64_t off_desc(int q)
{
	return (uint64_t)(1 + 3 * q) * VNET_BLOCK;
}

static inline uint64_t off_avail(int q)
{
	return off_desc(q) + VNET_BLOCK;
}

static inline uint64_t off_used(int q)
{
	return off_desc(q) + (unsigned long)2 * VNET_BLOCK;
}

static inline uint64_t off_rxbuf(const struct vnet *v, uint32_t i)
{
	return 7ULL * VNET_BLOCK + (uint64_t)i * VNET_BUF;
}

static inline uint64_t off_txbuf(const struct vnet *v, uint32_t i)
{
	return off_rxbuf(v, v->qsize) + (uint64_t)i * VNET_BUF;
}

static inline struct vdesc *desc(struct vnet *v, int q)
{
	return (struct vdesc *)(v->mem + off_desc(q));
}

static inline struct vavail *avail(struct vnet *v, int q)
{
	return (struct vavail *)(v->mem + off_avail(q));
}

static inline struct vused *used(struct vnet *v, int q)
{
	return (struct vused *)(v->mem + off_used(q));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int kick(struct vnet *v, int q)
{
	uint64_t one = 1;

	if (write(v->kick[q], &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

static void drain(int fd)
{
	uint64_t cnt;

	while (read(fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		;
}

/* Publish descriptor head id as the next avail entry of queue q. */
static void post(struct vnet *v, int q, uint16_t id)
{
	struct vavail *a = avail(v, q);

	a->ring[v->avail_idx[q] % v->qsize] = id;
	v->avail_idx[q]++;
	/* the entry (and the descriptor and buffer) before the index */
	__atomic_store_n(&a->idx, v->avail_idx[q], __ATOMIC_RELEASE);
}

static void put_le32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The frame for seq: dst = device MAC, src = 02:76:6e:65:74:xx, ethertype
 * 0x88b5, payload "vnet" magic, seq, then bytes derived from seq. */
static void fill_frame(uint8_t *f, const uint8_t mac[6], uint32_t seq,
		       uint32_t len)
{
	static const uint8_t src[5] = { 0x02, 0x76, 0x6e, 0x65, 0x74 };
	uint32_t i;

	memcpy(f, mac, 6);
	memcpy(f + 6, src, 5);
	f[11] = (uint8_t)seq;
	f[12] = VNET_ETHERTYPE >> 8;
	f[13] = VNET_ETHERTYPE & 0xff;
	i = VNET_ETH_HLEN;
	if (len >= i + 8) {
		put_le32(f + i, VNET_MAGIC);
		put_le32(f + i + 4, seq);
		i += 8;
	}
	for (; i < len; i++)
		f[i] = (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static void tx_reap(struct vnet *v)
{
	struct vused *u = used(v, TX);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);

	while (v->used_seen[TX] != idx) {
		uint32_t id = u->ring[v->used_seen[TX] % v->qsize].id;

		if (id < priv(v)->ntx)
			priv(v)->tx_busy[id] = 0;
		v->used_seen[TX]++;
	}
}

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

/* An intact frame of another seq (of an earlier loop that timed out)? */
static int is_stale(struct vnet *v, const uint8_t *b, uint32_t flen,
		    uint32_t seq)
{
	uint8_t other[VNET_FRAME_MAX];
	uint32_t oseq;

	if (flen < VNET_ETH_HLEN + 8 || flen > VNET_FRAME_MAX ||
	    get_le32(b + VNET_ETH_HLEN) != VNET_MAGIC)
		return 0;
	oseq = get_le32(b + VNET_ETH_HLEN + 4);
	if (oseq == seq)
		return 0;
	fill_frame(other, priv(v)->mac, oseq, flen);
	return !memcmp(b, other, flen);
}

/* Look at rx used entries.  Returns 1 if the frame expected arrived
 * intact, 0 if it has not arrived yet, -EBADMSG if a corrupted frame came.
 * Buffers are recycled; stale intact frames of other seqs are skipped. */
static int rx_check(struct vnet *v, const uint8_t *want, uint32_t seq,
		    uint32_t len)
{
	struct vused *u = used(v, RX);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
	int found = 0, recycled = 0;

	while (v->used_seen[RX] != idx) {
		struct vused_elem e = u->ring[v->used_seen[RX] % v->qsize];
		const uint8_t *b;
		uint32_t flen, k;

		v->used_seen[RX]++;
		if (e.id >= v->qsize) {
			fprintf(stderr,
				"vnet: rx used id %u >= queue size %u\n", e.id,
				v->qsize);
			found = -EBADMSG;
			continue;
		}
		b = v->mem + off_rxbuf(v, e.id) + VNET_HDR;
		flen = e.len >= VNET_HDR ? e.len - VNET_HDR : 0;
		if (!found && e.len <= VNET_BUF && flen == len &&
		    !memcmp(b, want, len)) {
			found = 1;
		} else if (e.len <= VNET_BUF && is_stale(v, b, flen, seq)) {
			/* an intact frame of an earlier, timed-out loop */
		} else if (!found) {
			for (k = 0; k < flen && k < len && b[k] == want[k]; k++)
				;
			fprintf(stderr,
				"vnet: rx frame for seq %u corrupted: used len "
				"%u (want %u), first difference at frame byte "
				"%u\n",
				seq, e.len, len + VNET_HDR, k);
			found = -EBADMSG;
		}
		/* recycle the buffer */
		desc(v, RX)[e.id] = (struct vdesc){
			.addr = v->iova + off_rxbuf(v, e.id),
			.len = VNET_BUF,
			.flags = DESC_F_WRITE,
		};
		post(v, RX, (uint16_t)e.id);
		recycled = 1;
	}
	if (recycled)
		kick(v, RX);
	return found;
}

static int check_args(struct vnet *v, uint32_t len)
{
	struct vnet_priv *p;

	if (!v || !v->started || len < VNET_ETH_HLEN || len > VNET_FRAME_MAX)
		return -EINVAL;
	p = priv(v);
	if (p->magic != VNET_MAGIC || !p->ntx || p->ntx > VNET_TXMAX)
		return -EINVAL;
	return 0;
}

int vnet_send(struct vnet *v, uint32_t seq, uint32_t len)
{
	struct vnet_priv *p;
	uint32_t slot, k;
	uint8_t *buf;
	int r;

	r = check_args(v, len);
	if (r < 0)
		return r;
	p = priv(v);
	tx_reap(v);
	slot = v->avail_idx[TX] % p->ntx;
	for (k = 0; k < p->ntx && p->tx_busy[slot]; k++)
		slot = (slot + 1) % p->ntx;
	if (p->tx_busy[slot])
		return -EBUSY;

	buf = v->mem + off_txbuf(v, slot);
	memset(buf, 0, VNET_HDR);
	fill_frame(buf + VNET_HDR, p->mac, seq, len);
	desc(v, TX)[slot] = (struct vdesc){
		.addr = v->iova + off_txbuf(v, slot),
		.len = VNET_HDR + len,
		.flags = 0,
	};
	p->tx_busy[slot] = 1;
	post(v, TX, (uint16_t)slot);
	return kick(v, TX);
}

int vnet_recv(struct vnet *v, uint32_t seq, uint32_t len, int timeout_ms)
{
	uint8_t want[VNET_FRAME_MAX];
	uint64_t deadline;
	int r;

	r = check_args(v, len);
	if (r < 0)
		return r;
	fill_frame(want, priv(v)->mac, seq, len);
	deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		struct pollfd pfd = { .fd = v->call[RX], .events = POLLIN };
		uint64_t now;
		int slice;

		/* drain before looking, so a signal after the look wakes
		 * the poll below */
		drain(v->call[RX]);
		r = rx_check(v, want, seq, len);
		if (r != 0)
			break;
		now = now_ms();
		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		slice = (int)(deadline - now);
		if (slice > 100)
			slice = 100; /* re-check even without a signal */
		if (poll(&pfd, 1, slice) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	drain(v->call[TX]);
	tx_reap(v);
	return r == 1 ? 0 : r;
}

int vnet_loop(struct vnet *v, uint32_t seq, uint32_t len, int timeout_ms)
{
	int r = vnet_send(v, seq, len);

	if (r < 0)
		return r;
	return vnet_recv(v, seq, len, timeout_ms);
}
