// SPDX-License-Identifier: BSD-3-Clause
/*
 * vnet_io: frames over the rings vnet.c set up: vnet_send() puts one frame
 * on tx and kicks, vnet_recv() waits for it on rx and checks it byte for
 * byte, vnet_loop() is both.  The frame format is fill_frame()'s.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "vnet_ring.h"

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
