// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests of the mapping layer's edges: the bytes of every IOTLB message,
 * how runs are batched, validation order, and the rollback sequence after a
 * refused message.  The device is replaced at the transport seam by a
 * recorder that can refuse the nth write; the real device is the
 * conformance suite's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

#define MAXMSG 256
static struct {
	uint8_t raw[MAXMSG][72];
	size_t n;
	int fail_at;  /* 1-based write that fails, 0: none */
	int fail_n;   /* how many in a row (0 means 1) */
	int fail_err; /* what it returns; 0 means -EFAULT */
	int calls;
	int ioctls;
} rec;

static long rec_write(struct vdm_tp *t, const void *buf, size_t len)
{
	assert_int_equal(len, 72);
	rec.calls++;
	/* as the simulator's transport: a connection that ended refuses
	 * before sending */
	if (t->gone)
		return -ENODEV;
	if (t->broken)
		return -ECOMM;
	if (rec.fail_at && rec.calls >= rec.fail_at &&
	    rec.calls < rec.fail_at + (rec.fail_n ? rec.fail_n : 1)) {
		t->gone = rec.fail_err == -ENODEV;
		t->broken = rec.fail_err == -ECOMM;
		return rec.fail_err ? rec.fail_err : -EFAULT;
	}
	assert_true(rec.n < MAXMSG);
	memcpy(rec.raw[rec.n++], buf, 72);
	return 72;
}

static int rec_ioctl(struct vdm_tp *t, unsigned long req, void *arg)
{
	(void)req;
	(void)arg;
	rec.ioctls++;
	return t->gone ? -ENODEV : 0;
}

static int rec_pinned(struct vdm_tp *t, uint64_t *ret)
{
	(void)t;
	*ret = 0;
	return 0;
}

static const struct vdm_tp_ops rec_ops = {
	.ioctl = rec_ioctl,
	.write = rec_write,
	.pinned = rec_pinned,
};

static uint8_t *mem;
#define MEMSZ (1 << 22)

static struct vdpamap *mk(uint64_t acked)
{
	struct vdpamap_region r = { .hva = mem, .len = MEMSZ, .fd = -1 };
	struct vdpamap *h;

	assert_int_equal(vdm_handle_new(NULL, &h), 0);
	h->dev_tp = (struct vdm_tp){ .ops = &rec_ops, .fd = -1 };
	vdm_set_tp(h, NULL);
	h->page_size = 4096;
	h->info.nr_as = 2;
	h->info.iova_first = 0;
	h->info.iova_last = UINT64_MAX;
	h->info.backend_acked = acked;
	h->info.mem_mode = VDPAMAP_MEMMODE_VA;
	assert_int_equal(vdm_mapping_setup(h), 0);
	assert_int_equal(vdm_region_add(h, &r, NULL), 0);
	memset(&rec, 0, sizeof(rec));
	return h;
}

static void rm(struct vdpamap *h)
{
	vdm_handle_free(h);
}

struct dec {
	uint32_t type, asid;
	uint64_t iova, size, uaddr;
	uint8_t perm, mtype;
};

static struct dec decode(size_t i)
{
	struct dec d;
	const uint8_t *b = rec.raw[i];

	memcpy(&d.type, b, 4);
	memcpy(&d.asid, b + 4, 4);
	memcpy(&d.iova, b + 8, 8);
	memcpy(&d.size, b + 16, 8);
	memcpy(&d.uaddr, b + 24, 8);
	d.perm = b[32];
	d.mtype = b[33];
	for (int k = 34; k < 72; k++)
		assert_int_equal(b[k], 0); /* padding is zeroed */
	return d;
}

static const uint64_t ALL = VDPAMAP_F_IOTLB_MSG_V2 | VDPAMAP_F_IOTLB_BATCH |
			    VDPAMAP_F_IOTLB_ASID;

static void test_encoding(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct dec d;

	(void)state;
	assert_int_equal(vdpamap_map(h, 1, 0x10000, mem + 0x3000, 0x2000,
				     VDPAMAP_PERM_RO),
			 0);
	/* even a lone UPDATE is batched: in PA mode it may become many
	 * kernel entries, each a full map push outside a batch */
	assert_int_equal(rec.n, 3);
	assert_int_equal(decode(0).mtype, VHOST_IOTLB_BATCH_BEGIN);
	assert_int_equal(decode(2).mtype, VHOST_IOTLB_BATCH_END);
	d = decode(1);
	assert_int_equal(d.type, VHOST_IOTLB_MSG_V2);
	assert_int_equal(d.asid, 1);
	assert_int_equal(d.iova, 0x10000);
	assert_int_equal(d.size, 0x2000);
	assert_int_equal(d.uaddr, (uintptr_t)(mem + 0x3000));
	assert_int_equal(d.perm, VHOST_ACCESS_RO);
	assert_int_equal(d.mtype, VHOST_IOTLB_UPDATE);
	/* a lone INVALIDATE is pushed once anyway: no batch */
	assert_int_equal(vdpamap_unmap(h, 1, 0x10000, 0x2000), 0);
	assert_int_equal(rec.n, 4);
	d = decode(3);
	assert_int_equal(d.mtype, VHOST_IOTLB_INVALIDATE);
	assert_int_equal(d.asid, 1);
	assert_int_equal(d.iova, 0x10000);
	assert_int_equal(d.size, 0x2000);
	assert_int_equal(d.uaddr, 0);
	assert_int_equal(d.perm, 0);
	rm(h);

	/* without MSG_V2: the legacy type, and no asid on the wire */
	h = mk(0);
	assert_int_equal(vdpamap_map(h, 0, 0, mem, 4096, VDPAMAP_PERM_WO), 0);
	d = decode(0);
	assert_int_equal(d.type, VHOST_IOTLB_MSG);
	assert_int_equal(d.asid, 0);
	assert_int_equal(d.perm, VHOST_ACCESS_WO);
	rm(h);
}

static void test_batches_per_asid_run(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct vdpamap_txn *t;
	static const uint32_t asids[] = { 0, 0, 1, 1, 1, 0 };
	static const uint8_t want[] = {
		VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_UPDATE,
		VHOST_IOTLB_UPDATE,	 VHOST_IOTLB_BATCH_END,
		VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_UPDATE,
		VHOST_IOTLB_UPDATE,	 VHOST_IOTLB_UPDATE,
		VHOST_IOTLB_BATCH_END,	 VHOST_IOTLB_BATCH_BEGIN,
		VHOST_IOTLB_UPDATE,	 VHOST_IOTLB_BATCH_END,
	};
	size_t i;

	(void)state;
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(vdpamap_txn_map(t, asids[i], i << 20,
						 mem + (i << 12), 4096,
						 VDPAMAP_PERM_RW, NULL),
				 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(rec.n, sizeof(want));
	for (i = 0; i < rec.n; i++) {
		struct dec d = decode(i);

		assert_int_equal(d.mtype, want[i]);
	}
	/* the batch markers carry the run's asid */
	assert_int_equal(decode(4).asid, 1);
	assert_int_equal(decode(8).asid, 1);
	assert_int_equal(h->stats.iotlb_batches, 3);
	rm(h);

	/* no BATCH negotiated: the same transaction, no markers */
	h = mk(VDPAMAP_F_IOTLB_MSG_V2 | VDPAMAP_F_IOTLB_ASID);
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(vdpamap_txn_map(t, asids[i], i << 20,
						 mem + (i << 12), 4096,
						 VDPAMAP_PERM_RW, NULL),
				 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(rec.n, 6);
	rm(h);
}

static void test_rollback_sequence(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct vdpamap_txn *t;
	size_t i;

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0x100000, mem, 4096, 3), 0);
	rec.n = 0;
	rec.calls = 0;
	/* BEGIN, INV(old), UPD(a), UPD(b) <- refused */
	rec.fail_at = 4;
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, 0x100000, 4096), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 0x200000, mem + 4096, 4096, 3,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 0x300000, mem + 8192, 4096, 3,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_commit(t), -EIO);
	/* sent: BEGIN INV(old) UPD(a) END, then the inverse in reverse
	 * order as one batch: BEGIN INV(a) UPD(old) END */
	{
		static const uint8_t want[] = {
			VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_INVALIDATE,
			VHOST_IOTLB_UPDATE,	 VHOST_IOTLB_BATCH_END,
			VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_INVALIDATE,
			VHOST_IOTLB_UPDATE,	 VHOST_IOTLB_BATCH_END,
		};
		static const uint64_t iova[] = { 0, 0x100000, 0x200000, 0,
						 0, 0x200000, 0x100000, 0 };

		assert_int_equal(rec.n, sizeof(want));
		for (i = 0; i < rec.n; i++) {
			assert_int_equal(decode(i).mtype, want[i]);
			assert_int_equal(decode(i).iova, iova[i]);
		}
	}
	/* the mirror is as before */
	assert_int_equal(vdm_mirror_count(h, 0), 1);
	assert_int_equal(h->map->as[0].head->iova, 0x100000);
	assert_null(h->poison);
	rm(h);
}

static void test_failed_rollback_poisons(void **state)
{
	struct vdpamap *h = mk(VDPAMAP_F_IOTLB_MSG_V2);
	struct vdpamap_reset_info ri;
	struct vdpamap_txn *t;

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0x100000, mem, 4096, 3), 0);
	rec.n = 0;
	rec.calls = 0;
	/* INV(old) accepted, UPD(a) refused, and the rollback's re-UPD(old)
	 * refused as well */
	rec.fail_at = 2;
	rec.fail_n = 2;
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, 0x100000, 4096), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 0x200000, mem + 4096, 4096, 3,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_commit(t), -ENOTRECOVERABLE);
	assert_non_null(vdpamap_poison_reason(h));
	/* the mirror says what the device has: nothing */
	assert_int_equal(vdm_mirror_count(h, 0), 0);
	assert_non_null(h->map->lost);
	assert_int_equal(vdpamap_map(h, 0, 0, mem, 4096, 3), -ENOTRECOVERABLE);
	/* reset puts the lost entry back and clears the poison */
	assert_int_equal(vdpamap_reset(h, &ri), 0);
	assert_null(vdpamap_poison_reason(h));
	assert_null(h->map->lost);
	assert_int_equal(vdm_mirror_count(h, 0), 1);
	assert_int_equal(h->map->as[0].head->iova, 0x100000);
	assert_int_equal(decode(rec.n - 1).mtype, VHOST_IOTLB_UPDATE);
	assert_int_equal(decode(rec.n - 1).iova, 0x100000);
	rm(h);
}

/* the handle's ERR lines, and how many contained want */
static unsigned nerr, nwant;
static const char *want;
static char lasterr[512];

static void count_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level > VDPAMAP_LOG_ERR)
		return;
	nerr++;
	nwant += want && strstr(msg, want);
	snprintf(lasterr, sizeof(lasterr), "%s", msg);
}

static void log_to_count(struct vdpamap *h, const char *w)
{
	h->log_fn = count_log;
	h->log_level = VDPAMAP_LOG_DEBUG;
	nerr = nwant = 0;
	want = w;
}

/* The device goes away in the middle of a commit (issue 16, misuse 8):
 * -ENODEV, one line, nothing more sent (no BATCH_END, no rollback), the
 * mirror and the lookups keep what it acknowledged, and every later call
 * that needs it is refused at once without reaching the transport. */
static void test_device_gone(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct vdpamap_info in;
	struct vdpamap_txn *t;
	void *hva;
	uint8_t st;
	int calls, ioctls;

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0x100000, mem, 4096, 3), 0);
	log_to_count(h, "device gone");
	rec.n = 0;
	rec.calls = 0;
	/* BEGIN, INV(old), UPD(a) acknowledged; UPD(b) finds it gone */
	rec.fail_at = 4;
	rec.fail_n = 1000;
	rec.fail_err = -ENODEV;
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, 0x100000, 4096), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 0x200000, mem + 4096, 4096, 3,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 0x300000, mem + 8192, 4096, 3,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_map(t, 1, 0x400000, mem, 4096, 3, NULL),
			 0);
	assert_int_equal(vdpamap_txn_commit(t), -ENODEV);
	assert_int_equal(rec.calls, 4);
	assert_int_equal(rec.n, 3);
	assert_int_equal(nerr, 1);
	assert_int_equal(nwant, 1);
	assert_int_equal(vdpamap_health(h), -ENODEV);
	assert_non_null(strstr(vdpamap_poison_reason(h), "device gone"));
	/* what the device acknowledged, no more, no less */
	assert_int_equal(vdpamap_translate(h, 0, 0x200000, &hva, NULL), 0);
	assert_ptr_equal(hva, mem + 4096);
	assert_int_equal(vdpamap_translate(h, 0, 0x100000, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_translate(h, 0, 0x300000, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_translate(h, 1, 0x400000, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_entry_count(h, 0), 1);
	assert_int_equal(vdpamap_entry_count(h, 1), 0);
	/* from now on: at once, nothing reaches the transport, no line */
	calls = rec.calls;
	ioctls = rec.ioctls;
	assert_int_equal(vdpamap_map(h, 0, 0x500000, mem, 4096, 3), -ENODEV);
	assert_int_equal(vdpamap_unmap(h, 0, 0x200000, 4096), -ENODEV);
	assert_int_equal(vdpamap_reset(h, NULL), -ENODEV);
	assert_int_equal(vdpamap_set_status(h, 1), -ENODEV);
	assert_int_equal(vdpamap_get_status(h, &st), -ENODEV);
	assert_int_equal(rec.calls, calls);
	assert_int_equal(rec.ioctls, ioctls);
	assert_int_equal(nerr, 1);
	/* what the handle holds still answers */
	assert_int_equal(vdpamap_get_info(h, &in), 0);
	assert_int_equal(vdpamap_health(h), -ENODEV);
	rm(h);
}

/* A reply lost with the daemon alive (-ECOMM) poisons the handle; the
 * rollback's messages, refused as well, used to log the same poison line
 * again each: once is enough (issue 16, misuse 8). */
static void test_lost_reply_poisons_once(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct vdpamap_txn *t;
	int i;

	(void)state;
	log_to_count(h, "connection to the device lost");
	/* BEGIN, UPD, UPD <- its reply lost */
	rec.fail_at = 3;
	rec.fail_n = 1000;
	rec.fail_err = -ECOMM;
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(vdpamap_txn_map(t, 0,
						 0x100000 * (uint64_t)(i + 1),
						 mem + 4096 * (size_t)i, 4096,
						 3, NULL),
				 0);
	assert_int_equal(vdpamap_txn_commit(t), -ENOTRECOVERABLE);
	assert_int_equal(vdpamap_health(h), -ENOTRECOVERABLE);
	assert_int_equal(nwant, 1);
	rm(h);
}

static void test_validation_sends_nothing(void **state)
{
	struct vdpamap *h = mk(VDPAMAP_F_IOTLB_MSG_V2 | VDPAMAP_F_IOTLB_BATCH);

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0, mem, 0, 3), -EINVAL);
	assert_int_equal(vdpamap_map(h, 0, 0, mem, 4096, 7), -EINVAL);
	assert_int_equal(vdpamap_map(h, 2, 0, mem, 4096, 3), -EINVAL);
	/* asid 1 exists but IOTLB_ASID was not negotiated */
	assert_int_equal(vdpamap_map(h, 1, 0, mem, 4096, 3), -EOPNOTSUPP);
	assert_int_equal(vdpamap_map(h, 0, UINT64_MAX - 4095, mem, 8192, 3),
			 -EOVERFLOW);
	assert_int_equal(vdpamap_map(h, 0, 0x800, mem, 4096, 3), -EINVAL);
	assert_int_equal(vdpamap_map(h, 0, 0, mem + MEMSZ, 4096, 3), -EFAULT);
	h->info.iova_first = 0x10000;
	h->info.iova_last = 0x1ffff;
	assert_int_equal(vdpamap_map(h, 0, 0, mem, 4096, 3), -ERANGE);
	assert_int_equal(vdpamap_map(h, 0, 0x1f000, mem, 8192, 3), -ERANGE);
	assert_int_equal(vdpamap_map(h, 0, 0x10000, mem, 4096, 3), 0);
	assert_int_equal(vdpamap_map(h, 0, 0x10000, mem, 4096, 3), -EEXIST);
	assert_int_equal(vdpamap_unmap(h, 0, 0x10000, 0x800), -EINVAL);
	assert_int_equal(vdpamap_unmap(h, 0, 0x11000, 0x1000), -ENOENT);
	/* only the one good map went out: BEGIN, UPDATE, END */
	assert_int_equal(rec.n, 3);
	rm(h);
}

struct opts_v2 {
	struct vdpamap_open_opts o;
	uint64_t newer_field;
};

static void test_opts_valid(void **state)
{
	struct opts_v2 v;
	VDPAMAP_OPTS(vdpamap_open_opts, o, .flags = 1);

	(void)state;
	assert_int_equal(o.sz, sizeof(o));
	assert_int_equal(o.flags, 1);
	assert_true(vdm_opts_valid(&o, sizeof(o), o.sz));
	memset(&v, 0, sizeof(v));
	v.o.sz = sizeof(v);
	assert_true(vdm_opts_valid(&v, sizeof(v.o), v.o.sz));
	v.newer_field = 1;
	assert_false(vdm_opts_valid(&v, sizeof(v.o), v.o.sz));
	assert_false(vdm_opts_valid(&v, sizeof(v.o), 2));
	/* an older caller's short struct: OPTS_GET falls back */
	{
		struct vdpamap_open_opts *p = &o;

		o.sz = offsetof(struct vdpamap_open_opts, flags);
		assert_int_equal(OPTS_GET(p, flags, 42), 42);
		o.sz = sizeof(o);
		assert_int_equal(OPTS_GET(p, flags, 42), 1);
	}
}

/* ---- docs/bad-input.md: rejected arguments that need no device */
struct state {
	size_t msgs;
	uint64_t entries[2], writes;
	uint32_t regions;
};

static void state_take(struct vdpamap *h, struct state *st)
{
	struct vdm_region *rg;

	memset(st, 0, sizeof(*st));
	st->msgs = rec.n;
	st->entries[0] = vdm_mirror_count(h, 0);
	st->entries[1] = vdm_mirror_count(h, 1);
	st->writes = h->stats.iotlb_writes;
	for (rg = h->map->regions; rg; rg = rg->next)
		st->regions++;
}

static int count_cb(const struct vdpamap_entry *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

static void test_bad_args_change_nothing(void **state)
{
	struct vdpamap *h = mk(ALL);
	struct vdpamap_region r = { .hva = mem, .len = 4096, .fd = -1 };
	void *wrap = (void *)(uintptr_t)0xfffffffffffff000ULL;
	struct state before, after;
	struct vdpamap_txn *t;
	struct vdpamap_info in;
	uint64_t iova, len;
	uint32_t id;
	void *hva;
	int n = 0;

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0x100000, mem, 0x2000, 3), 0);
	state_take(h, &before);
	/* lookups */
	assert_int_equal(vdpamap_translate(h, 0, 0x100000, NULL, &len),
			 -EINVAL);
	assert_int_equal(vdpamap_translate(h, 2, 0x100000, &hva, &len),
			 -EINVAL);
	assert_int_equal(vdpamap_reverse(h, 0, mem, NULL, &len), -EINVAL);
	assert_int_equal(vdpamap_reverse(h, 2, mem, &iova, &len), -EINVAL);
	assert_int_equal(vdpamap_reverse(h, 0, mem + 0x3000, &iova, &len),
			 -ENOENT);
	assert_int_equal(vdpamap_foreach_entry(h, 0, NULL, NULL), -EINVAL);
	assert_int_equal(vdpamap_foreach_entry(h, 2, count_cb, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(vdpamap_entry_count(h, 2), 0);
	assert_int_equal(vdpamap_get_stats(h, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_info(h, NULL), -EINVAL);
	/* hole search */
	assert_int_equal(vdpamap_iova_find(h, 0, 4096, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_iova_find(h, 0, 0, 0, &iova), -EINVAL);
	assert_int_equal(vdpamap_iova_find(h, 0, 4096, 3, &iova), -EINVAL);
	assert_int_equal(vdpamap_iova_find(h, 2, 4096, 0, &iova), -EINVAL);
	/* a device range [0x1000, 0x101fff], 0x100000.. taken: no 2 MiB
	 * hole, no 16 MiB-aligned start at all */
	h->info.iova_first = 0x1000;
	h->info.iova_last = 0x101fff;
	assert_int_equal(vdpamap_iova_find(h, 0, 0x200000, 0, &iova), -ENOSPC);
	assert_int_equal(vdpamap_map_alloc(h, 0, mem, 0x200000, 3, 0, &iova),
			 -ENOSPC);
	assert_int_equal(vdpamap_map_alloc(h, 0, mem, 0x1000, 3, 1 << 24,
					   &iova),
			 -ENOSPC);
	h->info.iova_first = 0;
	h->info.iova_last = UINT64_MAX;
	assert_int_equal(vdpamap_map_alloc(h, 0, mem, 4096, 3, 0, NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_map_alloc(h, 0, mem, 4096, 3, 3, &iova),
			 -EINVAL);
	/* maps: an hva range that wraps past 2^64-1 */
	assert_int_equal(vdpamap_map(h, 0, 0x200000, wrap, 0x2000, 3),
			 -EOVERFLOW);
	/* transactions */
	assert_int_equal(vdpamap_txn_begin(h, NULL), -EINVAL);
	assert_int_equal(vdpamap_txn_map(NULL, 0, 0, mem, 4096, 3, NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_txn_unmap(NULL, 0, 0, 4096), -EINVAL);
	assert_int_equal(vdpamap_txn_commit(NULL), -EINVAL);
	assert_null(vdpamap_txn_abort(NULL));
	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, VDPAMAP_IOVA_ANY, mem, 0, 3,
					 &iova),
			 -EINVAL);
	assert_null(vdpamap_txn_abort(t));
	/* regions */
	assert_int_equal(vdpamap_region_add(h, NULL, &id), -EINVAL);
	r.hva = NULL;
	assert_int_equal(vdpamap_region_add(h, &r, &id), -EINVAL);
	r.hva = wrap;
	r.len = 0x2000;
	assert_int_equal(vdpamap_region_add(h, &r, &id), -EINVAL);
	r.hva = mem + MEMSZ;
	r.fd = -2;
	assert_int_equal(vdpamap_region_add(h, &r, &id), -EBADF);
	assert_int_equal(vdpamap_region_del(h, 999), -ENOENT);
	state_take(h, &after);
	assert_memory_equal(&before, &after, sizeof(after));
	assert_int_equal(vdpamap_get_info(h, &in), 0);
	rm(h);
}

/* A NULL handle is refused by every call, and the destructors take it. */
static void test_null_handle(void **state)
{
	struct vdpamap_info in;
	struct vdpamap_txn *t = NULL;
	uint64_t u;
	uint32_t v;
	uint8_t b;
	void *p;

	(void)state;
	assert_int_equal(vdpamap_get_info(NULL, &in), -EINVAL);
	assert_int_equal(vdpamap_fd(NULL), -EINVAL);
	assert_int_equal(vdpamap_has_feature(NULL, VDPAMAP_F_IOTLB_MSG_V2), 0);
	assert_int_equal(vdpamap_vq_group(NULL, 0, &v), -EINVAL);
	assert_int_equal(vdpamap_get_status(NULL, &b), -EINVAL);
	assert_int_equal(vdpamap_set_status(NULL, 0), -EINVAL);
	assert_int_equal(vdpamap_set_status(NULL, 1), -EINVAL);
	assert_int_equal(vdpamap_get_features(NULL, &u), -EINVAL);
	assert_int_equal(vdpamap_set_features(NULL, 0), -EINVAL);
	assert_int_equal(vdpamap_get_config(NULL, 0, &b, 1), -EINVAL);
	assert_int_equal(vdpamap_reset(NULL, NULL), -EINVAL);
	assert_int_equal(vdpamap_map(NULL, 0, 0, mem, 4096, 3), -EINVAL);
	assert_int_equal(vdpamap_unmap(NULL, 0, 0, 4096), -EINVAL);
	assert_int_equal(vdpamap_txn_begin(NULL, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(vdpamap_translate(NULL, 0, 0, &p, NULL), -EINVAL);
	assert_int_equal(vdpamap_reverse(NULL, 0, mem, &u, NULL), -EINVAL);
	assert_int_equal(vdpamap_iova_find(NULL, 0, 4096, 0, &u), -EINVAL);
	assert_int_equal(vdpamap_region_del(NULL, 1), -EINVAL);
	assert_int_equal(vdpamap_entry_count(NULL, 0), 0);
	assert_null(vdpamap_poison_reason(NULL));
	assert_null(vdpamap_close(NULL));
}

/* vdpamap_open()/vdpamap_adopt_fd() arguments refused before any device
 * is touched (the options structs: tests/fuzz/fuzz_opts.c). */
static void test_open_bad_args(void **state)
{
	char file[] = "/tmp/vdpamap-iotlb-XXXXXX";
	struct vdpamap *h = NULL;
	int fd, p[2];

	(void)state;
	assert_int_equal(vdpamap_open(NULL, NULL, &h), -EINVAL);
	assert_int_equal(vdpamap_open("/dev/null", NULL, NULL), -EINVAL);
	assert_int_equal(vdpamap_adopt_fd(0, NULL, NULL), -EINVAL);
	/* neither a char device nor a socket */
	fd = mkstemp(file);
	assert_true(fd >= 0);
	assert_int_equal(vdpamap_open(file, NULL, &h), -ENOTTY);
	assert_int_equal(vdpamap_adopt_fd(fd, NULL, &h), -ENOTTY);
	assert_true(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
	close(fd);
	unlink(file);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vdpamap_adopt_fd(p[0], NULL, &h), -ENOTTY);
	close(p[0]);
	close(p[1]);
	/* a char device that is not vhost-vdpa: SET_OWNER is not its ioctl */
	assert_int_equal(vdpamap_open("/dev/null", NULL, &h), -ENOTTY);
	assert_null(h);
}

/* What the mirror answers, as one string */
static void mirror_answers(struct vdpamap *h, char *buf, size_t len)
{
	static const uint64_t pts[] = { 0,	  0xfffff,  0x100000, 0x100fff,
					0x101000, 0x200800, 0x301fff, 0x302000 };
	struct vdm_mirror_it it;
	struct vdm_entry *e;
	size_t i, o = 0;
	uint64_t hole = 0;
	int r;

	for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		e = vdm_mirror_lookup(h, 0, pts[i]);
		o += (size_t)snprintf(buf + o, len - o, "L%llx ",
				      e ? (unsigned long long)e->iova : 1ULL);
	}
	for (e = vdm_mirror_first(h, 0, 0x100800, 0x300000, &it); e;
	     e = vdm_mirror_next(&it))
		o += (size_t)snprintf(buf + o, len - o, "I%llx ",
				      (unsigned long long)e->iova);
	for (e = vdm_mirror_first(h, 0, 0, UINT64_MAX, &it); e;
	     e = vdm_mirror_next(&it))
		o += (size_t)snprintf(buf + o, len - o, "A%llx ",
				      (unsigned long long)e->iova);
	/* the same memory at two IOVAs, and memory mapped nowhere */
	i = 0;
	for (e = vdm_mirror_hva_first(h, 0, (uintptr_t)mem,
				      (uintptr_t)mem + 4095, &it);
	     e; e = vdm_mirror_next(&it))
		i++;
	o += (size_t)snprintf(buf + o, len - o, "H%zu ", i);
	e = vdm_mirror_hva_first(h, 0, (uintptr_t)mem + 0x10000,
				 (uintptr_t)mem + 0x10fff, &it);
	o += (size_t)snprintf(buf + o, len - o, "N%d ", e != NULL);
	r = vdm_mirror_find_hole(h, 0, 0x100000, UINT64_MAX, 0x2000, 0x1000,
				 &hole);
	o += (size_t)snprintf(buf + o, len - o, "F%d:%llx ", r,
			      (unsigned long long)hole);
	r = vdm_mirror_find_hole(h, 0, 0xff000, 0x100fff, 0x1000, 0x1000,
				 &hole);
	o += (size_t)snprintf(buf + o, len - o, "G%d:%llx ", r,
			      (unsigned long long)hole);
	r = vdm_mirror_find_hole(h, 0, 0x100000, 0x100fff, 0x1000, 0x1000,
				 &hole);
	o += (size_t)snprintf(buf + o, len - o, "E%d ", r);
	r = vdm_mirror_find_hole(h, 0, 0x101000, 0x101fff, 0x2000, 0x1000,
				 &hole);
	o += (size_t)snprintf(buf + o, len - o, "S%d ", r);
	(void)snprintf(buf + o, len - o, "M%d%d",
		       vdm_range_mapped(h, 0, 0x200000, 0x2000),
		       vdm_range_mapped(h, 0, 0x300000, 0x3000));
}

/* A view whose trees missed a change (no memory) is stale until the next
 * publish; the mirror's queries then walk its list and give the same
 * answers, and an entry mapped meanwhile takes its place in IOVA order. */
static void test_mirror_unindexed(void **state)
{
	struct vdpamap *h = mk(VDPAMAP_F_IOTLB_MSG_V2);
	struct vdm_mirror_it it;
	struct vdm_entry *e;
	char answers[512], got[512];
	uint64_t prev = 0;

	(void)state;
	assert_int_equal(vdpamap_map(h, 0, 0x300000, mem + 0x3000, 0x2000, 3),
			 0);
	assert_int_equal(vdpamap_map(h, 0, 0x100000, mem, 0x1000, 3), 0);
	assert_int_equal(vdpamap_map(h, 0, 0x200000, mem, 0x1000, 3), 0);
	assert_int_equal(vdpamap_map(h, 0, 0x201000, mem + 0x1000, 0x1000, 1),
			 0);
	assert_false(h->map->view[0].stale);
	mirror_answers(h, answers, sizeof(answers));
	assert_string_equal(answers,
			    "L1 L1 L100000 L100000 L1 L200000 L300000 "
			    "L1 I100000 I200000 I201000 I300000 A100000 "
			    "A200000 A201000 A300000 H2 N0 F0:101000 "
			    "G0:ff000 E-28 S-28 M10");
	h->map->view[0].stale = true;
	mirror_answers(h, got, sizeof(got));
	assert_string_equal(got, answers);
	/* mapped while stale: in order in the list, indexed after the
	 * publish that leaving the call makes */
	h->map->view[0].stale = true;
	h->map->as[0].dirty = h->map->view_dirty = true;
	assert_int_equal(vdpamap_map(h, 0, 0x180000, mem, 0x1000, 3), 0);
	assert_false(h->map->view[0].stale);
	for (e = vdm_mirror_first(h, 0, 0, UINT64_MAX, &it); e;
	     e = vdm_mirror_next(&it)) {
		assert_true(e->iova > prev);
		prev = e->iova;
	}
	assert_int_equal(vdm_mirror_count(h, 0), 5);
	assert_non_null(vdm_mirror_lookup(h, 0, 0x180000));
	rm(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_batches_per_asid_run),
		cmocka_unit_test(test_rollback_sequence),
		cmocka_unit_test(test_failed_rollback_poisons),
		cmocka_unit_test(test_device_gone),
		cmocka_unit_test(test_lost_reply_poisons_once),
		cmocka_unit_test(test_validation_sends_nothing),
		cmocka_unit_test(test_opts_valid),
		cmocka_unit_test(test_bad_args_change_nothing),
		cmocka_unit_test(test_null_handle),
		cmocka_unit_test(test_open_bad_args),
		cmocka_unit_test(test_mirror_unindexed),
	};

	/* shared: what the VA-mode handles here can reach (region_add
	 * refuses private memory on a VA-mode device) */
	mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
