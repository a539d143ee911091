// SPDX-License-Identifier: BSD-3-Clause
/*
 * iotlb: encodes vhost IOTLB messages and is the only code that writes
 * them.  One message per write() (the kernel ignores anything after the
 * first message of a buffer).  Batching wraps each run of messages for the
 * same ASID in BATCH_BEGIN/END (a message for another ASID inside a batch
 * fails in the kernel) and never changes what a sequence means.  Where the
 * transport can (the simulator), a run's writes go many per round trip,
 * each with the outcome of its own write(): pipelining, like batching,
 * changes the cost, never the meaning.
 */
#include <stdlib.h>

#include "iotlb/iotlb.h"
#include "uapi/vhost_vdpa.h"

/* The 72-byte layout both MSG_V2 and the legacy message share: a 4-byte
 * type, then (v2) the asid, then the iotlb message at offset 8. */
struct vdm_wire_msg {
	uint32_t type;
	uint32_t asid;
	struct vhost_iotlb_msg iotlb;
	uint8_t pad[64 - sizeof(struct vhost_iotlb_msg)];
};
_Static_assert(sizeof(struct vdm_wire_msg) == 72, "vhost_msg_v2 is 72 bytes");
_Static_assert(sizeof(struct vdm_wire_msg) == sizeof(struct vhost_msg_v2),
	       "layout matches the system header");

static uint8_t perm_to_access(uint32_t perm)
{
	switch (perm) {
	case VDPAMAP_PERM_RO:
		return VHOST_ACCESS_RO;
	case VDPAMAP_PERM_WO:
		return VHOST_ACCESS_WO;
	default:
		return VHOST_ACCESS_RW;
	}
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case VHOST_IOTLB_UPDATE:
		return "UPDATE";
	case VHOST_IOTLB_INVALIDATE:
		return "INVALIDATE";
	case VHOST_IOTLB_BATCH_BEGIN:
		return "BATCH_BEGIN";
	case VHOST_IOTLB_BATCH_END:
		return "BATCH_END";
	case VHOST_IOTLB_REMAP:
		return "REMAP";
	default:
		return "?";
	}
}

static void encode(struct vdpamap *h, struct vdm_wire_msg *m, uint32_t asid,
		   uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr,
		   uint8_t perm)
{
	/* an initializer need not zero the padding inside vhost_iotlb_msg
	 * (clang leaves stack bytes there): every byte of the 72 is ours */
	memset(m, 0, sizeof(*m));
	m->type = vdm_has_feature(h, VDPAMAP_F_IOTLB_MSG_V2) ?
			  VHOST_IOTLB_MSG_V2 :
			  VHOST_IOTLB_MSG;
	m->asid = vdm_has_feature(h, VDPAMAP_F_IOTLB_MSG_V2) ? asid : 0;
	m->iotlb.iova = iova;
	m->iotlb.size = size;
	m->iotlb.uaddr = uaddr;
	m->iotlb.perm = perm;
	m->iotlb.type = type;
}

/* What write() of m returned, r, says: counted, and logged if refused;
 * 0 or -errno.  A device found gone is not a refusal: it is logged once,
 * for the handle (vdm_dev_gone()), and the message was not written. */
static int account(struct vdpamap *h, uint32_t asid,
		   const struct vdm_wire_msg *m, long r)
{
	uint8_t type = m->iotlb.type;

	if (r == -ENODEV && h->tp->gone)
		return vdm_dev_gone(h);
	h->stats.iotlb_writes++;
	if (r == -ECOMM) {
		vdm_tp_lost(h);
		return -ENOTRECOVERABLE;
	}
	if (r == (long)sizeof(*m)) {
		if (type == VHOST_IOTLB_UPDATE)
			h->stats.iotlb_updates++;
		else if (type == VHOST_IOTLB_INVALIDATE)
			h->stats.iotlb_invalidates++;
		else if (type == VHOST_IOTLB_BATCH_END)
			h->stats.iotlb_batches++;
		else if (type == VHOST_IOTLB_REMAP)
			h->stats.iotlb_remaps++;
		return 0;
	}
	if (r >= 0)
		r = -EIO;
	vdm_err(h, "device refused %s asid %u iova 0x%llx size 0x%llx: %ld",
		type_name(type), asid, (unsigned long long)m->iotlb.iova,
		(unsigned long long)m->iotlb.size, r);
	return (int)r;
}

int vdm_iotlb_send(struct vdpamap *h, uint32_t asid, uint8_t type,
		   uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vdm_wire_msg m;

	encode(h, &m, asid, type, iova, size, uaddr, perm);
	return account(h, asid, &m, vdm_tp_write(h->tp, &m, sizeof(m)));
}

static void encode_entry(struct vdpamap *h, struct vdm_wire_msg *w,
			 const struct vdm_msg *m)
{
	const struct vdm_entry *e = m->e;

	if (m->type == VHOST_IOTLB_UPDATE)
		encode(h, w, e->asid, VHOST_IOTLB_UPDATE, e->iova,
		       vdm_entry_size(e), vdm_entry_uaddr(e),
		       perm_to_access(e->perm));
	/* exec handoff NEW_OWNER: the entry's new uaddr; perm must be 0 */
	else if (m->type == VHOST_IOTLB_REMAP)
		encode(h, w, e->asid, VHOST_IOTLB_REMAP, e->iova,
		       vdm_entry_size(e), vdm_entry_uaddr(e), 0);
	else
		encode(h, w, e->asid, VHOST_IOTLB_INVALIDATE, e->iova,
		       vdm_entry_size(e), 0, 0);
}

static int send_entry(struct vdpamap *h, const struct vdm_msg *m)
{
	struct vdm_wire_msg w;

	encode_entry(h, &w, m);
	return account(h, m->e->asid, &w, vdm_tp_write(h->tp, &w, sizeof(w)));
}

/* A batch the device may still consider open (its BATCH_END was refused)
 * would make every message for another ASID fail: close it first. */
static int close_stale_batch(struct vdpamap *h)
{
	int r;

	if (!h->batch_open)
		return 0;
	r = vdm_iotlb_send(h, h->batch_asid, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	if (r == 0)
		h->batch_open = false;
	return r;
}

static int batch_mark(struct vdpamap *h, uint32_t asid, uint8_t type)
{
	int r = vdm_iotlb_send(h, asid, type, 0, 0, 0, 0);

	if (type == VHOST_IOTLB_BATCH_BEGIN && r == 0) {
		h->batch_open = true;
		h->batch_asid = asid;
	} else if (type == VHOST_IOTLB_BATCH_END && r == 0) {
		h->batch_open = false;
	}
	return r;
}

/* One run of cnt messages of one ASID, one write each; *ret_sent: how
 * many the device accepted. */
static int run_each(struct vdpamap *h, uint32_t asid, bool wrap,
		    const struct vdm_msg *msgs, size_t cnt,
		    vdm_msg_done_fn done, size_t *ret_sent)
{
	size_t i = 0;
	int r = 0;

	*ret_sent = 0;
	if (wrap) {
		r = batch_mark(h, asid, VHOST_IOTLB_BATCH_BEGIN);
		if (r < 0)
			return r;
	}
	for (; i < cnt; i++) {
		r = send_entry(h, &msgs[i]);
		if (r < 0)
			break;
		if (done)
			done(h, &msgs[i]);
	}
	*ret_sent = i;
	if (wrap && !h->gone) {
		/* always close the batch, even after a failure, so the device
		 * gets what it did accept (a device gone has nothing left) */
		int re = batch_mark(h, asid, VHOST_IOTLB_BATCH_END);

		if (re < 0 && !r)
			r = re;
	}
	return r;
}

/* Messages per write_many() call: one simulator packet (128 KiB) holds
 * them, and a run of 10^5 makes ~100 round trips. */
#define PIPE_CHUNK 1024

/* Item k of a run as its wire message: BATCH_BEGIN, the messages,
 * BATCH_END when wrapped. */
static void encode_item(struct vdpamap *h, struct vdm_wire_msg *w,
			uint32_t asid, bool wrap, const struct vdm_msg *msgs,
			size_t cnt, size_t k)
{
	if (wrap && k == 0)
		encode(h, w, asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	else if (wrap && k == cnt + 1)
		encode(h, w, asid, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);
	else
		encode_entry(h, w, &msgs[k - wrap]);
}

/* The device accepted item k: what run_each does after its write. */
static void accepted(struct vdpamap *h, uint32_t asid, bool wrap,
		     const struct vdm_msg *msgs, size_t cnt, size_t k,
		     vdm_msg_done_fn done)
{
	if (wrap && k == 0) {
		h->batch_open = true;
		h->batch_asid = asid;
	} else if (wrap && k == cnt + 1) {
		h->batch_open = false;
	} else if (done) {
		done(h, &msgs[k - wrap]);
	}
}

/* run_each in PIPE_CHUNK messages per round trip, with its outcome: the
 * same messages in the same order, the same stop at the first refusal
 * (the device writes nothing after it), the same BATCH_END after a
 * refused message, the same counts and log.  false: nothing was sent, the
 * caller sends one by one (no memory for the chunk, or a device that
 * takes one message per request). */
static bool run_piped(struct vdpamap *h, uint32_t asid, bool wrap,
		      const struct vdm_msg *msgs, size_t cnt,
		      vdm_msg_done_fn done, size_t *ret_sent, int *ret)
{
	size_t total = cnt + (wrap ? 2 : 0), pos = 0, j, c;
	struct vdm_wire_msg *w;
	int r = 0;

	w = malloc((total < PIPE_CHUNK ? total : PIPE_CHUNK) * sizeof(*w));
	if (!w)
		return false;
	*ret_sent = 0;
	for (; pos < total && !r; pos += c) {
		long stop = 0, acc;

		c = total - pos < PIPE_CHUNK ? total - pos : PIPE_CHUNK;
		for (j = 0; j < c; j++)
			encode_item(h, &w[j], asid, wrap, msgs, cnt, pos + j);
		acc = vdm_tp_write_many(h->tp, w, sizeof(*w), c, &stop);
		if (acc == -EOPNOTSUPP && pos == 0) {
			free(w);
			return false;
		}
		if (acc < 0) {
			stop = acc;
			acc = 0;
		}
		for (j = 0; j < (size_t)acc; j++) {
			size_t k = pos + j;

			account(h, asid, &w[j], sizeof(*w));
			accepted(h, asid, wrap, msgs, cnt, k, done);
			*ret_sent += !wrap || (k > 0 && k <= cnt);
		}
		if ((size_t)acc == c)
			continue;
		r = account(h, asid, &w[acc], stop);
		/* a refused BATCH_BEGIN ends the run; after a refused
		 * message the batch is closed, as run_each does */
		if (wrap && !h->gone && pos + (size_t)acc > 0 &&
		    pos + (size_t)acc <= cnt)
			batch_mark(h, asid, VHOST_IOTLB_BATCH_END);
	}
	free(w);
	*ret = r;
	return true;
}

size_t vdm_iotlb_run(struct vdpamap *h, const struct vdm_msg *msgs, size_t n,
		     vdm_msg_done_fn done, int *err)
{
	bool batch = vdm_has_feature(h, VDPAMAP_F_IOTLB_BATCH);
	size_t i = 0, end, sent;
	int r;

	r = close_stale_batch(h);

	while (i < n && !r) {
		uint32_t asid = msgs[i].e->asid;
		bool wrap;

		for (end = i; end < n && msgs[end].e->asid == asid; end++)
			;
		/* A lone INVALIDATE is pushed to the parent once anyway, but
		 * in PA mode a single UPDATE becomes one kernel entry per
		 * physically contiguous run, and outside a batch a
		 * batch-style parent re-pushes its whole map for each run:
		 * quadratic (measured on 6.12: one 64 MiB UPDATE took 10 s
		 * un-batched, 35 ms batched). */
		wrap = batch &&
		       (end - i > 1 || msgs[i].type == VHOST_IOTLB_UPDATE);
		if (!vdm_tp_pipelines(h->tp) ||
		    !run_piped(h, asid, wrap, msgs + i, end - i, done, &sent,
			       &r))
			r = run_each(h, asid, wrap, msgs + i, end - i, done,
				     &sent);
		i += sent;
	}
	if (r < 0 && err)
		*err = r;
	return i;
}
