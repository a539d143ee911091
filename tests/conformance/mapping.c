// SPDX-License-Identifier: BSD-3-Clause
/*
 * Mapping: map and unmap, the top of the IOVA space, regions, IOVA
 * allocation, transactions and IOTLB batching.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

void test_map_basic(void **state)
{
	struct fx *f = *state;
	uint64_t iova, len;
	void *hva;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	map_ok(f, 0, GPA + MIB, MIB, MIB);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 2);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + MIB + 0x123, &hva,
					   &len),
			 0);
	assert_ptr_equal(hva, f->mem + MIB + 0x123);
	assert_int_equal(len, MIB - 0x123);
	assert_int_equal(vdpamap_reverse(f->h, 0, f->mem + 0x456, &iova, &len),
			 0);
	assert_int_equal(iova, GPA + 0x456);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA - 1, &hva, NULL),
			 -ENOENT);
	/* ASID 1 is empty, or (one address space) does not exist */
	assert_int_equal(vdpamap_translate(f->h, 1, GPA, &hva, NULL),
			 fx_has_as(f, 1) ? -ENOENT : -EINVAL);
	mirror_matches_device(f);
	unmap_ok(f, 0, GPA, MIB);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	mirror_matches_device(f);
	/* one unmap may remove several whole entries */
	map_ok(f, 0, GPA, 0, MIB);
	unmap_ok(f, 0, GPA, 2 * MIB);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 0);
	mirror_matches_device(f);
}

void test_map_top_of_space(void **state)
{
	struct fx *f = *state;
	struct vdpamap_info in;
	uint64_t top;
	void *hva;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	/* the last page of the device's IOVA range (vdpa_sim's: of the
	 * 64-bit space; vp_vdpa's: 2^39-1) is a valid IOVA, and so is its
	 * first */
	top = in.iova_last - MIB + 1;
	map_ok(f, 0, top, 0, MIB);
	assert_int_equal(vdpamap_translate(f->h, 0, in.iova_last, &hva, NULL),
			 0);
	assert_ptr_equal(hva, f->mem + MIB - 1);
	map_ok(f, 0, in.iova_first, MIB, MIB);
	mirror_matches_device(f);
	unmap_ok(f, 0, top, MIB);
	unmap_ok(f, 0, in.iova_first, MIB);
	/* a device with a smaller range (vp_vdpa: the IOMMU's 39 bits):
	 * above it, or across its top, the library refuses before any
	 * message (the kernel would only say EFAULT) */
	if (in.iova_last <= UINT64_MAX - 2 * MIB) {
		struct vdpamap_stats s0, s1;

		assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
		map_err(f, ERANGE, 0, in.iova_last + 1, f->mem, MIB,
			VDPAMAP_PERM_RW);
		map_err(f, ERANGE, 0, in.iova_last + 1 - 4096, f->mem, 8192,
			VDPAMAP_PERM_RW);
		assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
		assert_int_equal(s1.iotlb_writes, s0.iotlb_writes);
		assert_int_equal(s1.ioctls, s0.ioctls);
		assert_int_equal(vdpamap_entry_count(f->h, 0), 0);
		mirror_matches_device(f);
	}
}

void test_regions(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region r = { .hva = f->mem, .len = MIB, .fd = -1 };
	uint32_t id;

	open_default(f);
	/* overlaps the region fx_open registered */
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EEXIST);
	r.len = 0;
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EINVAL);
	r.len = MIB;
	r.hva = f->mem + 1;
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EINVAL);
	r.hva = (void *)(uintptr_t)0x10000;
	r.fd = 9999;
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EBADF);
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vdpamap_region_del(f->h, f->region_id), -EBUSY);
	assert_int_equal(vdpamap_region_del(f->h, 12345), -ENOENT);
	unmap_ok(f, 0, GPA, MIB);
	assert_int_equal(vdpamap_region_del(f->h, f->region_id), 0);
}

/* Memory the process does not map is refused before anything is sent,
 * at region_add and at the commit of a map into a region unmapped since
 * (in a transaction too, whatever map comes first); a VA-mode
 * device maps MAP_SHARED memory only (anonymous or private: nothing,
 * and the kernel says OK), so there private memory is refused too. */
void test_region_unmapped(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region r = { .len = 4 * MIB, .fd = -1 };
	struct vdpamap_info in;
	struct snap sn;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *p, *sh;
	uint32_t id, i;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	/* a hole of one page in the middle, then nothing at all.  Only the
	 * test's own pieces are ever unmapped: a hole the process freed may
	 * hold another mapping by then (a large malloc, ASan's allocator),
	 * and one page is too small for those */
	assert_int_equal(munmap(p + MIB, pg), 0);
	r.hva = p;
	snap_take(f, &sn);
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EFAULT);
	assert_int_equal(munmap(p, MIB), 0);
	assert_int_equal(munmap(p + MIB + pg, 3 * MIB - pg), 0);
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), -EFAULT);
	snap_equal(f, &sn);

	/* shared anonymous memory (shmem) is reachable in both modes */
	sh = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	r.hva = sh;
	assert_int_equal(vdpamap_region_add(f->h, &r, &id), 0);
	/* a map into a page of it unmapped since */
	assert_int_equal(munmap(sh + 2 * MIB, pg), 0);
	snap_take(f, &sn);
	map_err(f, EFAULT, 0, GPA, sh + MIB, 2 * MIB, VDPAMAP_PERM_RW);
	/* checked once at commit for all the maps of a transaction: the
	 * one over the hole fails it, whichever map comes first, and
	 * nothing is sent */
	for (i = 0; i < 2; i++) {
		struct vdpamap_txn *t;

		assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
		assert_int_equal(vdpamap_txn_map(t, 0,
						 GPA + (uint64_t)i * 4 * MIB,
						 sh, MIB, VDPAMAP_PERM_RW,
						 NULL),
				 0);
		assert_int_equal(vdpamap_txn_map(t, 0,
						 GPA + (uint64_t)(1 - i) * 4 *
								 MIB,
						 sh + 2 * MIB - pg, 2 * pg,
						 VDPAMAP_PERM_RW, NULL),
				 0);
		assert_int_equal(vdpamap_txn_commit(t), -EFAULT);
		snap_equal(f, &sn);
	}
	assert_int_equal(vdpamap_map(f->h, 0, GPA, sh, MIB, VDPAMAP_PERM_RW),
			 0);
	unmap_ok(f, 0, GPA, MIB);
	assert_int_equal(vdpamap_region_del(f->h, id), 0);
	munmap(sh, 2 * MIB);
	munmap(sh + 2 * MIB + pg, 2 * MIB - pg);

	/* private memory: what a VA-mode device cannot reach */
	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	r.hva = p;
	snap_take(f, &sn);
	assert_int_equal(vdpamap_region_add(f->h, &r, &id),
			 in.mem_mode == VDPAMAP_MEMMODE_VA ? -EINVAL : 0);
	if (in.mem_mode != VDPAMAP_MEMMODE_VA)
		assert_int_equal(vdpamap_region_del(f->h, id), 0);
	snap_equal(f, &sn);
	munmap(p, 4 * MIB);
	mirror_matches_device(f);
}

/* A PA-mode device pins whole pages: an unaligned map would leave it
 * holding more than the mirror says.  ALLOW_UNALIGNED and page_size 1 are
 * for VA-mode devices, which map the bytes given; on a PA-mode one a map
 * not aligned to the system page is refused, nothing sent. */
void test_unaligned(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .flags = VDPAMAP_OPEN_ALLOW_UNALIGNED);
	struct vdpamap_info in;
	int k;

	for (k = 0; k < 2; k++) {
		if (k) {
			o.flags = 0;
			o.page_size = 1;
		}
		assert_int_equal(fx_open(f, &o), 0);
		assert_int_equal(vdpamap_get_info(f->h, &in), 0);
		if (in.mem_mode == VDPAMAP_MEMMODE_PA) {
			map_err(f, EINVAL, 0, GPA + 0x100, f->mem + 0x100,
				0x1000, VDPAMAP_PERM_RW);
			map_err(f, EINVAL, 0, GPA, f->mem, 0x1100,
				VDPAMAP_PERM_RW);
		} else {
			assert_int_equal(vdpamap_map(f->h, 0, GPA + 0x100,
						     f->mem + 0x100, 0x1000,
						     VDPAMAP_PERM_RW),
					 0);
			mirror_matches_device(f);
			unmap_ok(f, 0, GPA + 0x100, 0x1000);
		}
		map_ok(f, 0, GPA, 0, MIB);
		mirror_matches_device(f);
		unmap_ok(f, 0, GPA, MIB);
		fx_close(f);
	}
}

void test_alloc(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c;
	uint32_t as;

	open_default(f);
	/* an empty ASID: 1, or 0 on a device with one address space */
	as = fx_has_as(f, 1) ? 1 : 0;
	assert_int_equal(vdpamap_map_alloc(f->h, as, f->mem, MIB,
					   VDPAMAP_PERM_RW, 0, &a),
			 0);
	assert_int_equal(vdpamap_map_alloc(f->h, as, f->mem + MIB, MIB,
					   VDPAMAP_PERM_RW, 16 * MIB, &b),
			 0);
	assert_int_equal(b % (16 * MIB), 0);
	assert_true(b != a);
	assert_int_equal(vdpamap_iova_find(f->h, as, MIB, 0, &c), 0);
	assert_true(c + MIB <= a || c >= a + MIB);
	assert_true(c + MIB <= b || c >= b + MIB);
	assert_int_equal(vdpamap_map_alloc(f->h, as, f->mem, MIB,
					   VDPAMAP_PERM_RW, 3, &c),
			 -EINVAL);
	assert_int_equal(vdpamap_entry_count(f->h, as), 2);
	mirror_matches_device(f);
}

void test_alloc_small_range(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .iova_first = 0x100000,
		     .iova_last = 0x100000 + 4 * MIB - 1);
	uint64_t a;

	(void)state;
	/* vdpa_sim's range is fixed at [0, 2^64-1]: on the kernel and a
	 * profile playing one, only a device with this range runs it */
	if (fx_plays_device())
		fx_need_default_iova(so.iova_first, so.iova_last);
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	map_err(&f, ERANGE, 0, 0, f.mem, MIB, VDPAMAP_PERM_RW);
	map_err(&f, ERANGE, 0, 0x100000 + 4 * MIB - 4096, f.mem, 8192,
		VDPAMAP_PERM_RW);
	assert_int_equal(vdpamap_map_alloc(f.h, 0, f.mem, 3 * MIB,
					   VDPAMAP_PERM_RW, 0, &a),
			 0);
	assert_int_equal(a, 0x100000);
	assert_int_equal(vdpamap_map_alloc(f.h, 0, f.mem, 2 * MIB,
					   VDPAMAP_PERM_RW, 0, &a),
			 -ENOSPC);
	mirror_matches_device(&f);
	fx_teardown(&f);
}

/* ---- transactions */

/* One transaction in ASID 0 and ASID b (b == 0 on a one-AS device: b's
 * part then sits at other IOVAs), with its messages counted.  ASID 0 maps
 * [GPA, +1 MiB) on entry. */
static void txn_round(struct fx *f, uint32_t b)
{
	const uint64_t bb = b ? GPA : 4 * GPA; /* b's part */
	const uint64_t z = b ? 0 : 8 * GPA;    /* map and unmap */
	struct vdpamap_stats s0, s1;
	struct vdpamap_txn *t;
	uint64_t any;

	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	/* a call from inside the transaction's own thread would deadlock */
	assert_int_equal(vdpamap_map(f->h, 0, 0, f->mem, MIB, 3), -EDEADLK);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
	/* the range just freed is free in the overlay */
	assert_int_equal(vdpamap_txn_map(t, 0, GPA, f->mem + MIB, MIB,
					 VDPAMAP_PERM_RO, NULL),
			 0);
	assert_int_equal(vdpamap_txn_map(t, b, bb, f->mem, 2 * MIB,
					 VDPAMAP_PERM_RW, NULL),
			 0);
	/* overlaps a queued map */
	assert_int_equal(vdpamap_txn_map(t, b, bb + MIB, f->mem, MIB,
					 VDPAMAP_PERM_RW, NULL),
			 -EEXIST);
	assert_int_equal(vdpamap_txn_map(t, b, VDPAMAP_IOVA_ANY, f->mem, MIB,
					 VDPAMAP_PERM_RW, &any),
			 0);
	assert_true(any + MIB <= bb || any >= bb + 2 * MIB);
	if (!b)
		assert_true(any + MIB <= GPA || any >= GPA + MIB);
	/* a map and its unmap in the same transaction */
	assert_int_equal(vdpamap_txn_map(t, 0, z, f->mem, MIB, VDPAMAP_PERM_RW,
					 NULL),
			 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, z, MIB), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), b ? 1 : 3);
	if (b)
		assert_int_equal(vdpamap_entry_count(f->h, b), 2);
	/* in queue order: asid 0 INV+UPD, asid b UPD+UPD, asid 0 UPD+INV:
	 * three runs of one ASID, each its own batch (one run if b is 0) */
	assert_int_equal(s1.iotlb_updates - s0.iotlb_updates, 4);
	assert_int_equal(s1.iotlb_invalidates - s0.iotlb_invalidates, 2);
	if (vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH))
		assert_int_equal(s1.iotlb_batches - s0.iotlb_batches,
				 b ? 3 : 1);
	mirror_matches_device(f);
}

void test_txn(void **state)
{
	struct fx *f = *state;
	struct vdpamap_txn *t;
	struct snap sn;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	txn_round(f, 0);

	/* abort sends nothing */
	snap_take(f, &sn);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 16 * GPA, f->mem, MIB,
					 VDPAMAP_PERM_RW, NULL),
			 0);
	assert_null(vdpamap_txn_abort(t));
	snap_equal(f, &sn);
	assert_null(vdpamap_txn_abort(NULL));
}

/* Every read-only call the handle offers, with its results: what a
 * caller sees outside a transaction and from inside its own. */
struct queries {
	struct vdpamap_stats st, st_end;
	struct vdpamap_info info;
	uint64_t count, found, feat;
	struct vdpamap_entry ents[4];
	uint32_t nents, group, dgroup, gasid, base, ids[4];
	int r[15];
	uint8_t status, cfg[8];
	struct vdpamap_region rg;
	struct vdpamap_vring vr;
	struct vdpamap_handoff_info ho;
};

static int collect(const struct vdpamap_entry *e, void *ctx)
{
	struct queries *q = ctx;

	if (q->nents < 4)
		q->ents[q->nents] = *e;
	q->nents++;
	return 0;
}

/* The counters first and last: the ioctls of get_status, get_features,
 * get_config and vring_get_base count in between. */
static void queries_take(struct fx *f, uint32_t nr_vqs, struct queries *q)
{
	memset(q, 0, sizeof(*q));
	q->r[0] = vdpamap_get_stats(f->h, &q->st);
	q->r[1] = vdpamap_get_info(f->h, &q->info);
	q->count = vdpamap_entry_count(f->h, 0);
	q->r[2] = vdpamap_foreach_entry(f->h, 0, collect, q);
	q->r[3] = vdpamap_iova_find(f->h, 0, MIB, 0, &q->found);
	q->r[4] = vdpamap_vq_group(f->h, nr_vqs - 1, &q->group);
	q->r[5] = vdpamap_vq_desc_group(f->h, nr_vqs - 1, &q->dgroup);
	q->r[6] = vdpamap_get_group_asid(f->h, 0, &q->gasid);
	q->r[7] = vdpamap_region_get(f->h, f->region_id, &q->rg);
	q->r[8] = vdpamap_region_ids(f->h, q->ids, 4);
	q->r[9] = vdpamap_vring_get(f->h, 0, &q->vr);
	q->r[10] = vdpamap_handoff_get_info(f->h, &q->ho);
	q->r[11] = vdpamap_get_status(f->h, &q->status);
	q->r[12] = vdpamap_get_features(f->h, &q->feat);
	q->r[13] = vdpamap_get_config(f->h, 0, q->cfg, 6);
	q->r[14] = vdpamap_vring_get_base(f->h, 0, &q->base);
	assert_int_equal(vdpamap_get_stats(f->h, &q->st_end), 0);
}

/* Inside its own transaction a thread still reads the handle: queries
 * answer with the committed state (what the lock-free lookups see), not
 * -EDEADLK; calls that change something still refuse (test_txn). */
void test_txn_queries(void **state)
{
	struct fx *f = *state;
	struct queries out, in;
	struct vdpamap_txn *t;
	struct vdpamap_info info;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &info), 0);
	map_ok(f, 0, GPA, 0, MIB);
	map_ok(f, 0, GPA + MIB, MIB, MIB);
	queries_take(f, info.nr_vqs, &out);
	assert_int_equal(out.r[0], 0);
	assert_int_equal(out.count, 2);
	assert_int_equal(out.r[2], 0);
	assert_int_equal(out.nents, 2);

	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, out.found, f->mem + 2 * MIB, MIB,
					 VDPAMAP_PERM_RW, NULL),
			 0);
	queries_take(f, info.nr_vqs, &in);
	assert_memory_equal(in.r, out.r, sizeof(in.r));
	/* nothing reached the device in between, and the queries cost
	 * the same ioctls inside as outside */
	assert_memory_equal(&in.st, &out.st_end, sizeof(in.st));
	assert_int_equal(in.st_end.ioctls - in.st.ioctls,
			 out.st_end.ioctls - out.st.ioctls);
	in.st = out.st;
	in.st_end = out.st_end;
	assert_memory_equal(&in, &out, sizeof(in));
	/* a call that changes something still refuses */
	assert_int_equal(vdpamap_region_del(f->h, f->region_id), -EDEADLK);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 2);
	mirror_matches_device(f);
}

/* Closing a handle aborts its open transaction: nothing queued reaches
 * the device, and the transaction outlives the handle as a shell that
 * refuses everything with -EBADF (without reading the freed handle) until
 * its commit or abort frees it. */
void test_txn_close(void **state)
{
	struct fx *f = *state;
	struct vdpamap_txn *t;
	int i;

	for (i = 0; i < 2; i++) {
		open_default(f);
		map_ok(f, 0, GPA, 0, MIB);
		assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
		assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
		assert_int_equal(vdpamap_txn_map(t, 0, 16 * GPA, f->mem + MIB,
						 MIB, VDPAMAP_PERM_RW, NULL),
				 0);
		fx_close(f);
		assert_int_equal(vdpamap_txn_map(t, 0, 32 * GPA, f->mem, MIB,
						 VDPAMAP_PERM_RW, NULL),
				 -EBADF);
		assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), -EBADF);
		/* both end it and free it: commit (i 0) and abort (i 1) */
		if (i == 0)
			assert_int_equal(vdpamap_txn_commit(t), -EBADF);
		else
			assert_null(vdpamap_txn_abort(t));
		/* the device was released: it opens again, with nothing of
		 * the transaction in it */
		open_default(f);
		assert_int_equal(vdpamap_entry_count(f->h, 0), 0);
		mirror_matches_device(f);
		fx_close(f);
	}
}

/* A forked child inherits the parent's open transaction, and with it
 * the device's fd or socket: its map, unmap and commit must refuse with
 * -ECHILD and send nothing, or the child would write into the parent's
 * device (on the simulator, into the parent's conversation).  The parent
 * then commits its transaction as if the child had never run. */
void test_txn_fork_child(void **state)
{
	struct fx *f = *state;
	struct vdpamap_txn *t;
	pid_t pid;
	int st;

	open_default(f);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, GPA, f->mem, MIB,
					 VDPAMAP_PERM_RW, NULL),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		bad |= vdpamap_txn_map(t, 0, 4 * GPA, f->mem + MIB, MIB,
				       VDPAMAP_PERM_RW, NULL) != -ECHILD;
		bad |= (vdpamap_txn_unmap(t, 0, GPA, MIB) != -ECHILD) << 1;
		bad |= (vdpamap_txn_commit(t) != -ECHILD) << 2;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	mirror_matches_device(f);
}

/* A child made by a raw clone() (no CLONE_VM) skips glibc's atfork
 * handlers, as a runtime that forks by itself does: it is still another
 * address space holding the parent's fd or socket, and the library must
 * tell without them (the fork check is a memory load, not a syscall, on
 * the map path). */
void test_raw_clone_child(void **state)
{
	struct fx *f = *state;
	long pid;
	int st;

	open_default(f);
	pid = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL,
		      NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = vdpamap_map(f->h, 0, GPA, f->mem, MIB,
				      VDPAMAP_PERM_RW) != -ECHILD;

		bad |= (vdpamap_unmap(f->h, 0, GPA, MIB) != -ECHILD) << 1;
		syscall(SYS_exit_group, bad);
	}
	assert_int_equal(waitpid((pid_t)pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 0);
	map_ok(f, 0, GPA, 0, MIB);
	mirror_matches_device(f);
}

/* A commit of many maps in IOVA order, or of many unmaps, rebuilds the
 * readers' view in one pass at the publish instead of entry by entry
 * (the bulk path, mapping/view.c): the readers must then see exactly the
 * mirror, by IOVA and by hva, and a commit the device refuses halfway
 * must leave the mirror and the readers' view as they were. */
#define BULK_N 128

static void bulk_txn(struct fx *f, bool map, int want)
{
	const uint64_t pg = 4096;
	struct vdpamap_txn *t;
	uint64_t i;

	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	for (i = 0; i < BULK_N; i++)
		assert_int_equal(map ? vdpamap_txn_map(t, 0, GPA + i * pg,
						       f->mem + i * pg, pg,
						       VDPAMAP_PERM_RW, NULL) :
				       vdpamap_txn_unmap(t, 0, GPA + i * pg,
							 pg),
				 0);
	assert_int_equal(vdpamap_txn_commit(t), want);
}

/* the readers see the BULK_N pages mapped (or none of them), and the
 * entry at 64 MiB whatever happened */
static void bulk_seen(struct fx *f, bool mapped)
{
	const uint64_t pg = 4096;
	uint64_t i, iova, len;
	void *hva;

	for (i = 0; i < BULK_N; i++) {
		int r = vdpamap_translate(f->h, 0, GPA + i * pg + 8, &hva,
					  &len);

		if (!mapped) {
			assert_int_equal(r, -ENOENT);
			assert_int_equal(vdpamap_reverse(f->h, 0,
							 f->mem + i * pg, &iova,
							 &len),
					 -ENOENT);
			continue;
		}
		assert_int_equal(r, 0);
		assert_ptr_equal(hva, f->mem + i * pg + 8);
		assert_int_equal(len, pg - 8);
		assert_int_equal(vdpamap_reverse(f->h, 0, f->mem + i * pg + 8,
						 &iova, &len),
				 0);
		assert_int_equal(iova, GPA + i * pg + 8);
	}
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + 64 * MIB, &hva, NULL),
			 0);
	assert_ptr_equal(hva, f->mem + MIB);
	assert_int_equal(vdpamap_entry_count(f->h, 0), mapped ? BULK_N + 1 : 1);
	mirror_matches_device(f);
}

void test_bulk_commit(void **state)
{
	struct fx *f = *state;
	struct snap sn;

	open_default(f);
	map_ok(f, 0, GPA + 64 * MIB, MIB, MIB);
	bulk_txn(f, true, 0);
	bulk_seen(f, true);
	bulk_txn(f, false, 0);
	bulk_seen(f, false);
	if (!f->is_sim)
		return; /* the refusal halfway needs the simulator */
	snap_take(f, &sn);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_MSG,
					      BULK_N / 2),
			 0);
	bulk_txn(f, true, -EIO);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_MSG, 0),
			 0);
	sn.writes = 0; /* sent, then undone */
	{
		struct snap now;

		snap_take(f, &now);
		now.writes = 0;
		assert_memory_equal(&sn, &now, sizeof(now));
	}
	bulk_seen(f, false);
	/* and the next bulk commit goes through */
	bulk_txn(f, true, 0);
	bulk_seen(f, true);
}

/* queues in two address spaces: the runs per ASID are the point */
void test_txn_asids(void **state)
{
	struct fx *f = *state;

	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_need_as(f, 2);
	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	txn_round(f, 1);
}

void test_batching(void **state)
{
	struct fx *f = *state;
	struct vdpamap_sim_stats ss0, ss1;
	struct vdpamap_stats s0, s1;
	struct vdpamap_txn *t;
	int batched, i;

	for (batched = 1; batched >= 0; batched--) {
		VDPAMAP_OPTS(vdpamap_open_opts, o,
			     .want_features =
				     batched ? VDPAMAP_F_KNOWN :
					       VDPAMAP_F_KNOWN &
						       ~VDPAMAP_F_IOTLB_BATCH);

		assert_int_equal(fx_open(f, &o), 0);
		assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
		if (f->is_sim)
			assert_int_equal(vdpamap_sim_get_stats(f->path, &ss0),
					 0);
		assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
		for (i = 0; i < 16; i++)
			assert_int_equal(vdpamap_txn_map(t, 0,
							 GPA + i * MIB / 4,
							 f->mem + i * MIB / 4,
							 MIB / 4,
							 VDPAMAP_PERM_RW, NULL),
					 0);
		assert_int_equal(vdpamap_txn_commit(t), 0);
		assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
		assert_int_equal(s1.iotlb_updates - s0.iotlb_updates, 16);
		assert_int_equal(s1.iotlb_writes - s0.iotlb_writes,
				 batched ? 18 : 16);
		assert_int_equal(s1.iotlb_batches - s0.iotlb_batches,
				 batched ? 1 : 0);
		if (f->is_sim && !f->per_map) {
			assert_int_equal(vdpamap_sim_get_stats(f->path, &ss1),
					 0);
			/* a batch-style parent gets the table pushed once
			 * per batch, or once per message without batching */
			assert_int_equal(ss1.set_map_calls - ss0.set_map_calls,
					 batched ? 1 : 16);
		}
		mirror_matches_device(f);
		unmap_ok(f, 0, GPA, 4 * MIB);
		fx_close(f);
	}
}
