/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vnet_ring: what vnet.c (setup) and vnet_io.c (frames) share: the layout
 * of the caller's area (see the top of vnet.c), the split-ring structures,
 * and the few ring operations both use.  Private to vnet; not installed.
 */
#ifndef VNET_RING_H
#define VNET_RING_H

#include <errno.h>
#include <stdint.h>
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

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline int kick(struct vnet *v, int q)
{
	uint64_t one = 1;

	if (write(v->kick[q], &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

static inline void drain(int fd)
{
	uint64_t cnt;

	while (read(fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		;
}

/* Publish descriptor head id as the next avail entry of queue q. */
static inline void post(struct vnet *v, int q, uint16_t id)
{
	struct vavail *a = avail(v, q);

	a->ring[v->avail_idx[q] % v->qsize] = id;
	v->avail_idx[q]++;
	/* the entry (and the descriptor and buffer) before the index */
	__atomic_store_n(&a->idx, v->avail_idx[q], __ATOMIC_RELEASE);
}

#endif
