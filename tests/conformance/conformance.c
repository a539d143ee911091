// SPDX-License-Identifier: BSD-3-Clause
/*
 * The conformance suite: every behaviour of the foundation, run unchanged
 * against the simulator and the real kernel (see backend.h).  Each test
 * opens a fresh device; data-path checks loop a frame TX -> RX through the
 * device's IOTLB with the vnet driver.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vhost.h>

#include "backend.h"
#include "transport/simproto.h"
#include "vnet.h"

#define MIB (1ULL << 20)
#define MEM_SIZE (8 * MIB)
#define GPA 0x40000000ULL	/* where guest memory sits in ASID 0 */
#define RING_OFF (4 * MIB)	/* the vnet area inside guest memory */
#define RING_SIZE (1 * MIB)
#define LOOP_MS 3000

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -1;
	r = fx_setup(f, NULL, MEM_SIZE);
	if (r < 0) {
		fprintf(stderr, "backend setup: %s\n", strerror(-r));
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_teardown(f);
	free(f);
	return 0;
}

static void open_default(struct fx *f)
{
	int r = fx_open(f, NULL);

	if (r < 0)
		fail_msg("open %s: %s", f->path, strerror(-r));
}

/* map all guest memory at GPA in asid */
static void map_guest(struct fx *f, uint32_t asid)
{
	map_ok(f, asid, GPA, 0, f->mem_size);
}

/* map only the window around the vnet area, at base + its offset: PA-mode
 * tests must fit the default 8 MiB RLIMIT_MEMLOCK, which root cannot raise
 * without CAP_SYS_RESOURCE */
#define WIN_OFF (RING_OFF - MIB)
#define WIN_SIZE (RING_SIZE + 2 * MIB)
static void map_window(struct fx *f, uint32_t asid, uint64_t base)
{
	map_ok(f, asid, base + WIN_OFF, WIN_OFF, WIN_SIZE);
}

static void loop_ok(struct fx *f, uint64_t ring_iova)
{
	struct vnet v;
	int r;

	r = vnet_start(&v, f->h, f->mem + RING_OFF, ring_iova, RING_SIZE);
	if (r < 0)
		fail_msg("vnet_start: %s", strerror(-r));
	for (uint32_t i = 0; i < 3; i++) {
		r = vnet_loop(&v, i, 60 + 400 * i, LOOP_MS);
		if (r < 0)
			fail_msg("loopback frame %u: %s", i, strerror(-r));
	}
	vnet_stop(&v);
}

/* ---- device */
static void test_open_info(void **state)
{
	struct fx *f = *state;
	struct vdpamap_info in;
	uint32_t g, vq;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	/* vdpa_sim_net as measured (UAPI.md) */
	assert_int_equal(in.device_id, 1);
	assert_int_equal(in.nr_vqs, 3);
	assert_int_equal(in.nr_groups, 2);
	assert_int_equal(in.nr_as, 2);
	assert_int_equal(in.config_size, 24);
	assert_int_equal(in.max_vring_num, 256);
	assert_int_equal(in.iova_first, 0);
	assert_true(in.iova_last == UINT64_MAX);
	assert_int_equal(in.backend_offered, 0x17e);
	assert_int_equal(in.backend_acked, 0x17e);
	assert_true(in.device_features & (1ULL << 33));	/* ACCESS_PLATFORM */
	assert_int_equal(in.mem_mode, f->pa ? VDPAMAP_MEMMODE_PA :
					      VDPAMAP_MEMMODE_VA);
	assert_int_equal(in.is_sim, f->is_sim);
	for (vq = 0; vq < 3; vq++) {
		assert_int_equal(vdpamap_vq_group(f->h, vq, &g), 0);
		assert_int_equal(g, vq == 2 ? 1 : 0);
	}
	assert_int_equal(vdpamap_vq_group(f->h, 3, &g), -EINVAL);
	assert_int_equal(vdpamap_vq_desc_group(f->h, 0, &g), -EOPNOTSUPP);
	assert_true(vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH));
	assert_false(vdpamap_has_feature(f->h, VDPAMAP_F_DESC_ASID));
	assert_string_equal(vdpamap_feature_name(VDPAMAP_F_IOTLB_PERSIST),
			    "IOTLB_PERSIST");
	assert_null(vdpamap_feature_name(3));
}

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6], big[32];

	open_default(f);
	assert_int_equal(vdpamap_get_config(f->h, 0, mac, 6), 0);
	assert_int_equal(mac[0], 0x02);
	assert_int_equal(mac[5], 0x02);
	assert_int_equal(vdpamap_get_config(f->h, 0, big, 25), -EINVAL);
	assert_int_equal(vdpamap_get_config(f->h, 20, big, 8), -EINVAL);
	assert_int_equal(vdpamap_get_config(f->h, 0, big, 0), -EINVAL);
}

static void test_open_exclusive(void **state)
{
	struct fx *f = *state;
	struct vdpamap *h2 = NULL;

	open_default(f);
	assert_int_equal(vdpamap_open(f->path, NULL, &h2), -EBUSY);
	assert_null(h2);
	fx_close(f);
	/* closing released it */
	open_default(f);
}

static void test_required_feature_missing(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .require_features = VDPAMAP_F_IOTLB_MSG_V2 |
					 VDPAMAP_F_DESC_ASID);

	assert_int_equal(fx_open(f, &o), -EOPNOTSUPP);
	assert_null(f->h);
	/* wanting less than required is the same error */
	o.require_features = VDPAMAP_F_IOTLB_BATCH;
	o.want_features = VDPAMAP_F_IOTLB_MSG_V2;
	assert_int_equal(fx_open(f, &o), -EOPNOTSUPP);
	/* and the device is still free */
	open_default(f);
}

static void test_opts_sizes(void **state)
{
	struct fx *f = *state;
	struct {
		struct vdpamap_open_opts o;
		uint64_t tail[2];
	} big;
	struct vdpamap *h = NULL;

	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.tail[1] = 1;
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), -E2BIG);
	big.tail[1] = 0;		/* a zero tail is accepted */
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), 0);
	h = vdpamap_close(h);
	/* an older, shorter struct: only sz */
	big.o.sz = sizeof(size_t);
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), 0);
	h = vdpamap_close(h);
	big.o.sz = 3;
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), -EINVAL);
	assert_null(vdpamap_close(NULL));
}

static void test_adopt_fd(void **state)
{
	struct fx *f = *state;
	struct vdpamap *h = NULL;
	int fd;

	if (f->is_sim) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		/* what a caller holds: a plain connected socket */
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa,
					 sizeof(sa)), 0);
	} else {
		fd = open(f->path, O_RDWR | O_CLOEXEC);
	}
	assert_true(fd >= 0);
	assert_int_equal(vdpamap_adopt_fd(-1, NULL, &h), -EINVAL);
	assert_int_equal(vdpamap_adopt_fd(fd, NULL, &h), 0);
	assert_int_equal(vdpamap_fd(h), fd);
	f->h = h;
	assert_int_equal(vdpamap_region_add(h, &(struct vdpamap_region){
		.hva = f->mem, .len = f->mem_size, .fd = f->memfd }, NULL), 0);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
}

/* ---- mapping */
static void test_map_basic(void **state)
{
	struct fx *f = *state;
	uint64_t iova, len;
	void *hva;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	map_ok(f, 0, GPA + MIB, MIB, MIB);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 2);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + MIB + 0x123, &hva,
					   &len), 0);
	assert_ptr_equal(hva, f->mem + MIB + 0x123);
	assert_int_equal(len, MIB - 0x123);
	assert_int_equal(vdpamap_reverse(f->h, 0, f->mem + 0x456, &iova, &len),
			 0);
	assert_int_equal(iova, GPA + 0x456);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA - 1, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_translate(f->h, 1, GPA, &hva, NULL), -ENOENT);
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

static void test_map_top_of_space(void **state)
{
	struct fx *f = *state;
	uint64_t top = UINT64_MAX - MIB + 1;
	void *hva;

	open_default(f);
	/* the last page of the 64-bit space is a valid IOVA */
	map_ok(f, 0, top, 0, MIB);
	assert_int_equal(vdpamap_translate(f->h, 0, UINT64_MAX, &hva, NULL),
			 0);
	assert_ptr_equal(hva, f->mem + MIB - 1);
	map_ok(f, 0, 0, MIB, MIB);
	mirror_matches_device(f);
	unmap_ok(f, 0, top, MIB);
	unmap_ok(f, 0, 0, MIB);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	uint8_t *m;
	struct rlimit rl;

	open_default(f);
	m = f->mem;
	map_ok(f, 0, GPA, 0, 2 * MIB);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m, 0, VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB + 1, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB + 8, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB - 100,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB, 0);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB, 4);
	map_err(f, EOVERFLOW, 0, UINT64_MAX - MIB + 1 + 4096, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, VDPAMAP_IOVA_ANY, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	/* overlap: inside, straddling the start, straddling the end, equal */
	map_err(f, EEXIST, 0, GPA + MIB, m + 4 * MIB, 4096, VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA - 4096, m + 4 * MIB, 8192, VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA + 2 * MIB - 4096, m + 4 * MIB, 8192,
		VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA, m + 4 * MIB, 2 * MIB, VDPAMAP_PERM_RW);
	/* unknown asid */
	map_err(f, EINVAL, 2, GPA, m, MIB, VDPAMAP_PERM_RW);
	map_err(f, EINVAL, UINT32_MAX, GPA, m, MIB, VDPAMAP_PERM_RW);
	/* hva outside every region, or crossing its end */
	map_err(f, EFAULT, 0, GPA + 8 * MIB, (void *)(uintptr_t)0x1000, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EFAULT, 0, GPA + 8 * MIB, m + f->mem_size - MIB, 2 * MIB,
		VDPAMAP_PERM_RW);
	/* unmaps */
	unmap_err(f, EINVAL, 0, GPA, 0);
	unmap_err(f, EINVAL, 0, GPA, MIB);		/* cuts the entry */
	unmap_err(f, EINVAL, 0, GPA + 4096, 4 * MIB);	/* cuts its start */
	unmap_err(f, ENOENT, 0, GPA + 4 * MIB, MIB);
	unmap_err(f, ENOENT, 1, GPA, 2 * MIB);
	unmap_err(f, EINVAL, 5, GPA, 2 * MIB);
	unmap_err(f, EOVERFLOW, 0, UINT64_MAX, 2);
	/* memlock over budget (PA mode charges it, even for root) */
	if (f->pa) {
		struct rlimit low = { .rlim_cur = 1 * MIB, .rlim_max = 0 };

		assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
		low.rlim_max = rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
		map_err(f, ENOMEM, 0, GPA + 4 * MIB, m + 4 * MIB, 2 * MIB,
			VDPAMAP_PERM_RW);
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	}
	mirror_matches_device(f);
	/* the device still works after all that */
	map_ok(f, 0, GPA + 2 * MIB, 2 * MIB, 6 * MIB);
	loop_ok(f, GPA + RING_OFF);
}

static void test_bad_input_no_asid(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_ASID);

	assert_int_equal(fx_open(f, &o), 0);
	assert_false(vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_ASID));
	/* the kernel would silently put this in ASID 0 */
	map_err(f, EOPNOTSUPP, 1, GPA, f->mem, MIB, VDPAMAP_PERM_RW);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 1), -EOPNOTSUPP);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 0), 0);
	mirror_matches_device(f);
}

static void test_regions(void **state)
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

static void test_alloc(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c;

	open_default(f);
	assert_int_equal(vdpamap_map_alloc(f->h, 1, f->mem, MIB,
					   VDPAMAP_PERM_RW, 0, &a), 0);
	assert_int_equal(vdpamap_map_alloc(f->h, 1, f->mem + MIB, MIB,
					   VDPAMAP_PERM_RW, 16 * MIB, &b), 0);
	assert_int_equal(b % (16 * MIB), 0);
	assert_true(b != a);
	assert_int_equal(vdpamap_iova_find(f->h, 1, MIB, 0, &c), 0);
	assert_true(c + MIB <= a || c >= a + MIB);
	assert_true(c + MIB <= b || c >= b + MIB);
	assert_int_equal(vdpamap_map_alloc(f->h, 1, f->mem, MIB,
					   VDPAMAP_PERM_RW, 3, &c), -EINVAL);
	assert_int_equal(vdpamap_entry_count(f->h, 1), 2);
	mirror_matches_device(f);
}

static void test_alloc_small_range(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .iova_first = 0x100000,
		     .iova_last = 0x100000 + 4 * MIB - 1);
	uint64_t a;

	(void)state;
	if (getenv("VDPAMAP_TEST_DEV"))
		skip_because("vdpa_sim's IOVA range is fixed at [0, 2^64-1]; "
			     "range limits need the configurable simulator");
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	map_err(&f, ERANGE, 0, 0, f.mem, MIB, VDPAMAP_PERM_RW);
	map_err(&f, ERANGE, 0, 0x100000 + 4 * MIB - 4096, f.mem, 8192,
		VDPAMAP_PERM_RW);
	assert_int_equal(vdpamap_map_alloc(f.h, 0, f.mem, 3 * MIB,
					   VDPAMAP_PERM_RW, 0, &a), 0);
	assert_int_equal(a, 0x100000);
	assert_int_equal(vdpamap_map_alloc(f.h, 0, f.mem, 2 * MIB,
					   VDPAMAP_PERM_RW, 0, &a), -ENOSPC);
	mirror_matches_device(&f);
	fx_teardown(&f);
}

/* ---- transactions */
static void test_txn(void **state)
{
	struct fx *f = *state;
	struct vdpamap_txn *t;
	struct vdpamap_stats s0, s1;
	uint64_t any;
	struct snap sn;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	/* a call from inside the transaction's own thread would deadlock */
	assert_int_equal(vdpamap_map(f->h, 0, 0, f->mem, MIB, 3), -EDEADLK);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
	/* the range just freed is free in the overlay */
	assert_int_equal(vdpamap_txn_map(t, 0, GPA, f->mem + MIB, MIB,
					 VDPAMAP_PERM_RO, NULL), 0);
	assert_int_equal(vdpamap_txn_map(t, 1, GPA, f->mem, 2 * MIB,
					 VDPAMAP_PERM_RW, NULL), 0);
	/* overlaps a queued map */
	assert_int_equal(vdpamap_txn_map(t, 1, GPA + MIB, f->mem, MIB,
					 VDPAMAP_PERM_RW, NULL), -EEXIST);
	assert_int_equal(vdpamap_txn_map(t, 1, VDPAMAP_IOVA_ANY, f->mem,
					 MIB, VDPAMAP_PERM_RW, &any), 0);
	assert_true(any + MIB <= GPA || any >= GPA + 2 * MIB);
	/* a map and its unmap in the same transaction */
	assert_int_equal(vdpamap_txn_map(t, 0, 0, f->mem, MIB, VDPAMAP_PERM_RW,
					 NULL), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, 0, MIB), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	assert_int_equal(vdpamap_entry_count(f->h, 1), 2);
	/* in queue order: asid 0 INV+UPD, asid 1 UPD+UPD, asid 0 UPD+INV:
	 * three runs of one ASID, each its own batch */
	assert_int_equal(s1.iotlb_updates - s0.iotlb_updates, 4);
	assert_int_equal(s1.iotlb_invalidates - s0.iotlb_invalidates, 2);
	assert_int_equal(s1.iotlb_batches - s0.iotlb_batches, 3);
	mirror_matches_device(f);

	/* abort sends nothing */
	snap_take(f, &sn);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, MIB), 0);
	assert_int_equal(vdpamap_txn_map(t, 0, 4 * GPA, f->mem, MIB,
					 VDPAMAP_PERM_RW, NULL), 0);
	assert_null(vdpamap_txn_abort(t));
	snap_equal(f, &sn);
	assert_null(vdpamap_txn_abort(NULL));
}

static void test_batching(void **state)
{
	struct fx *f = *state;
	struct vdpamap_sim_stats ss0, ss1;
	struct vdpamap_stats s0, s1;
	struct vdpamap_txn *t;
	int batched, i;

	for (batched = 1; batched >= 0; batched--) {
		VDPAMAP_OPTS(vdpamap_open_opts, o,
			     .want_features = batched ? VDPAMAP_F_KNOWN :
				     VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_BATCH);

		assert_int_equal(fx_open(f, &o), 0);
		assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
		if (f->is_sim)
			assert_int_equal(vdpamap_sim_get_stats(f->path, &ss0),
					 0);
		assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
		for (i = 0; i < 16; i++)
			assert_int_equal(vdpamap_txn_map(t, 0, GPA + i * MIB / 4,
							 f->mem + i * MIB / 4,
							 MIB / 4,
							 VDPAMAP_PERM_RW,
							 NULL), 0);
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

/* ---- data path and lifecycle */
static void test_loopback(void **state)
{
	struct fx *f = *state;

	open_default(f);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
}

static void test_driver_ok_guard(void **state)
{
	struct fx *f = *state;
	struct vnet v;

	open_default(f);
	/* rings at IOVAs nobody mapped: DRIVER_OK must be refused before
	 * the device is started (a PA-mode device would read raw memory) */
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), -EFAULT);
}

static void test_premap_at_open(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region rg[2] = {
		{ .hva = f->mem, .len = f->mem_size / 2, .fd = f->memfd,
		  .iova = GPA },
		{ .hva = f->mem + f->mem_size / 2, .len = f->mem_size / 2,
		  .fd = f->memfd, .fd_offset = f->mem_size / 2,
		  .iova = GPA + f->mem_size / 2, .perm = VDPAMAP_PERM_RW },
	};
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = rg, .nr_regions = 2,
		     .prefault_threads = 2);
	struct vdpamap_stats st;

	assert_int_equal(fx_open(f, &o), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 2);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	assert_int_equal(st.iotlb_batches, 1);
	/* the one-page memory-mode probe, then both regions */
	assert_int_equal(st.iotlb_updates, 1 + 2);
	mirror_matches_device(f);
	loop_ok(f, GPA + RING_OFF);
	fx_close(f);
	/* a bad region fails the open and leaves the device free */
	rg[1].iova = GPA;		/* overlaps region 0 */
	assert_int_equal(fx_open(f, &o), -EEXIST);
	rg[1].iova = GPA + f->mem_size / 2;
	assert_int_equal(fx_open(f, &o), 0);
}

static void reset_case(struct fx *f, int persist)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = persist ? VDPAMAP_F_KNOWN :
				VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_PERSIST);
	struct vdpamap_reset_info ri;

	assert_int_equal(fx_open(f, &o), 0);
	map_window(f, 0, GPA);
	map_ok(f, 1, GPA, 0, MIB);
	loop_ok(f, GPA + RING_OFF);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.entries, 2);
	if (persist) {
		assert_int_equal(ri.path, VDPAMAP_RESET_PERSIST);
		assert_int_equal(ri.iotlb_msgs, 0);
	} else {
		assert_int_equal(ri.path, VDPAMAP_RESET_RESYNC);
		/* asid 0: INV+UPD alone; asid 1 likewise; each a batch */
		assert_int_equal(ri.iotlb_msgs, 2 * (2 + 2));
	}
	mirror_matches_device(f);
	loop_ok(f, GPA + RING_OFF);
	/* twice in a row is fine too */
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	loop_ok(f, GPA + RING_OFF);
}

static void test_reset_persist(void **state)
{
	reset_case(*state, 1);
}

static void test_reset_resync(void **state)
{
	reset_case(*state, 0);
}

/* SET_STATUS straight to the simulator, bypassing the library. */
static int raw_sim_set_status(int sock, uint8_t status)
{
	struct {
		struct vsim_req req;
		uint8_t status;
	} __attribute__((packed)) pkt = {
		.req = { .magic = VSIM_MAGIC, .op = VSIM_OP_IOCTL,
			 .arg = VHOST_VDPA_SET_STATUS, .len = 1 },
		.status = status,
	};
	struct vsim_rep rep;

	if (send(sock, &pkt, sizeof(pkt), MSG_NOSIGNAL) != sizeof(pkt))
		return -errno;
	if (recv(sock, &rep, sizeof(rep), 0) != sizeof(rep))
		return -EPROTO;
	return rep.ret;
}

/* Negative control: without persist and without the library's resync the
 * data path must really be broken, or the resync test proves nothing. */
static void test_reset_without_resync_breaks(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN &
				      ~VDPAMAP_F_IOTLB_PERSIST);
	struct vnet v;
	uint8_t zero = 0;

	if (!f->is_sim)
		skip_because("on the kernel a device started on identity "
			     "passthrough reads raw physical memory (UAPI.md): "
			     "not run there");
	assert_int_equal(fx_open(f, &o), 0);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
	/* raw reset behind the library's back */
	assert_int_equal(raw_sim_set_status(vdpamap_fd(f->h), zero), 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), 0);
	assert_int_equal(vnet_loop(&v, 7, 100, 300), -ETIMEDOUT);
	vnet_stop(&v);
}

static void test_group_asid(void **state)
{
	struct fx *f = *state;
	struct vdpamap_reset_info ri;
	uint32_t asid;

	open_default(f);
	map_window(f, 0, GPA);
	/* ASID 1 sees guest memory at another IOVA */
	map_window(f, 1, 2 * GPA);
	assert_int_equal(vdpamap_set_group_asid(f->h, 2, 0), -EINVAL);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 2), -EINVAL);
	assert_int_equal(vdpamap_get_group_asid(f->h, 2, &asid), -EINVAL);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 1), 0);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	loop_ok(f, 2 * GPA + RING_OFF);
	/* rings at the ASID-0 address would not translate in ASID 1 */
	{
		struct vnet v;

		assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
					    GPA + RING_OFF, RING_SIZE), -EFAULT);
	}
	/* the binding survives a reset (the kernel drops it; we re-apply) */
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.groups_rebound, 1);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	loop_ok(f, 2 * GPA + RING_OFF);
	/* and back */
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 0), 0);
	loop_ok(f, GPA + RING_OFF);
}

static void test_suspend_resume(void **state)
{
	struct fx *f = *state;
	struct vnet v;
	uint32_t base;

	open_default(f);
	map_guest(f, 0);
	/* before DRIVER_OK both are no-ops */
	assert_int_equal(vdpamap_suspend(f->h), 0);
	assert_int_equal(vdpamap_resume(f->h), 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_suspend(f->h), 0);
	assert_int_equal(vdpamap_vring_get_base(f->h, 1, &base), 0);
	assert_int_equal(base, 1);
	/* suspended: the frame waits */
	assert_int_equal(vnet_send(&v, 2, 100), 0);
	assert_int_equal(vnet_recv(&v, 2, 100, 300), -ETIMEDOUT);
	assert_int_equal(vdpamap_resume(f->h), 0);
	/* resume delivers the pending kick */
	assert_int_equal(vnet_recv(&v, 2, 100, LOOP_MS), 0);
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	vnet_stop(&v);
}

static void test_fork_child(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int st;

	open_default(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t s;
		int r = vdpamap_get_status(f->h, &s);

		_exit(r == -ECHILD && vdpamap_map(f->h, 0, 0, f->mem, 4096, 3) ==
				-ECHILD ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	map_ok(f, 0, GPA, 0, MIB);
}

/* ---- docs/bad-input.md: device calls refused before the device sees
 * anything: no ioctl, no IOTLB write, mirror, status and config as
 * they were */
static void test_bad_device_args(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN & ~(VDPAMAP_F_SUSPEND |
							  VDPAMAP_F_RESUME));
	struct vdpamap_vring v = { .num = 64, .kick_fd = -1, .call_fd = -1 };
	struct vdpamap_stats s0, s1;
	struct vdpamap_info in;
	uint8_t st0, st1, cfg0[6], cfg1[6], b[32] = { 0 };
	uint32_t u;
	struct snap sn;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &st0), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg0, 6), 0);
	snap_take(f, &sn);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	/* out-parameters */
	assert_int_equal(vdpamap_vq_group(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vq_desc_group(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_status(f->h, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_features(f->h, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vring_get_base(f->h, 0, NULL), -EINVAL);
	/* config */
	assert_int_equal(vdpamap_get_config(f->h, 0, NULL, 6), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, 0, NULL, 6), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, 0, b, 0), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, in.config_size - 2, b, 4),
			 -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, UINT32_MAX, b, 1), -EINVAL);
	/* virtio features the device does not offer */
	assert_int_equal(vdpamap_set_features(f->h, ~in.device_features),
			 -EINVAL);
	/* vrings: index, size 0, not a power of two, above the maximum */
	assert_int_equal(vdpamap_vring_set(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vring_set(f->h, in.nr_vqs, &v), -EINVAL);
	v.num = 0;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	v.num = 48;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	v.num = in.max_vring_num * 2;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	assert_int_equal(vdpamap_vring_enable(f->h, in.nr_vqs, 1), -EINVAL);
	assert_int_equal(vdpamap_vring_get_base(f->h, in.nr_vqs, &u),
			 -EINVAL);
	/* nothing reached the device */
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(s1.ioctls, s0.ioctls);
	assert_int_equal(s1.iotlb_writes, s0.iotlb_writes);
	snap_equal(f, &sn);
	assert_int_equal(vdpamap_get_status(f->h, &st1), 0);
	assert_int_equal(st1, st0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg1, 6), 0);
	assert_memory_equal(cfg0, cfg1, 6);
	fx_close(f);

	/* SUSPEND and RESUME not negotiated */
	assert_int_equal(fx_open(f, &o), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	assert_int_equal(vdpamap_suspend(f->h), -EOPNOTSUPP);
	assert_int_equal(vdpamap_resume(f->h), -EOPNOTSUPP);
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(s1.ioctls, s0.ioctls);
}

/* The simulator's own entry points, and a descriptor group out of range
 * (only a DESC_ASID device has descriptor groups: the simulator's). */
static void test_bad_sim_args(void **state)
{
	struct fx *f = *state, g;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_groups = 3);
	char path[108], dir[200];
	struct vdpamap_sim_stats st;
	struct vdpamap_info in;
	uint32_t grp;
	pid_t pid = 0;

	(void)state;
	if (!f->is_sim)
		skip_because("the simulator's entry points need the simulator");
	assert_int_equal(vdpamap_sim_spawn(NULL, NULL, 0, &pid), -EINVAL);
	assert_int_equal(vdpamap_sim_spawn(NULL, path, 0, &pid), -EINVAL);
	assert_int_equal(vdpamap_sim_spawn(NULL, path, 10, &pid), -ERANGE);
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = 0;
	so.dir = dir;
	assert_int_equal(vdpamap_sim_spawn(&so, path, sizeof(path), &pid),
			 -ENAMETOOLONG);
	assert_int_equal(pid, 0);
	assert_int_equal(vdpamap_sim_serve(NULL, NULL), -EINVAL);
	assert_int_equal(vdpamap_sim_serve(dir, NULL), -ENAMETOOLONG);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, 3, 1), -EINVAL);
	assert_int_equal(vdpamap_sim_get_stats(f->path, NULL), -EINVAL);
	assert_int_equal(vdpamap_sim_table(f->path, 2, NULL, 0), -EINVAL);
	assert_int_equal(vdpamap_sim_stop("/nonexistent-vdpamap/sim.sock"),
			 -ENOENT);
	/* the daemon is unharmed */
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	so.dir = NULL;
	assert_int_equal(fx_setup(&g, &so, MEM_SIZE), 0);
	open_default(&g);
	assert_int_equal(vdpamap_get_info(g.h, &in), 0);
	assert_int_equal(vdpamap_vq_desc_group(g.h, 0, &grp), 0);
	assert_int_equal(vdpamap_vq_desc_group(g.h, in.nr_vqs, &grp), -EINVAL);
	fx_teardown(&g);
}

/* With DESC_ASID a vq's rings live in its descriptor group's ASID, its
 * buffers in its vq group's: DRIVER_OK must look for the rings there. */
static void test_driver_ok_desc_asid(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_groups = 3);
	struct vnet v;
	uint32_t g;

	(void)state;
	if (getenv("VDPAMAP_TEST_DEV"))
		skip_because("vdpa_sim offers no DESC_ASID; the simulator "
			     "models it on mlx5");
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	assert_int_equal(vdpamap_vq_desc_group(f.h, 0, &g), 0);
	assert_int_equal(g, 2);
	assert_int_equal(vdpamap_set_group_asid(f.h, 2, 1), 0);
	/* rings and buffers mapped in ASID 0 only: the rings' ASID is 1 */
	map_window(&f, 0, GPA);
	assert_int_equal(vnet_start(&v, f.h, f.mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), -EFAULT);
	/* the descriptor group's ASID sees them too: started, and loops */
	map_window(&f, 1, GPA);
	loop_ok(&f, GPA + RING_OFF);
	fx_teardown(&f);
}

/* ---- lock-free lookups */
struct reader_arg {
	struct fx *f;
	int stop;
	uint64_t lookups, bad;
	int done;
};

/* Under memcheck every thread runs under valgrind's one big lock, so
 * spinning readers starve the writer: fewer rounds there (ThreadSanitizer
 * runs the same races at full size in test_threads), and readers yield. */
static uint64_t rounds(uint64_t full)
{
	return getenv("VDPAMAP_MEMCHECK") ? full / 100 + 1 : full;
}

/* translate and reverse on the range a writer keeps mapping and
 * unmapping: every answer must be either "not mapped" or exactly right */
static void *reader(void *p)
{
	struct reader_arg *a = p;
	uint64_t i = 0, min_rounds = rounds(20000);

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) || i < min_rounds) {
		uint64_t off = (i * 4096) % (2 * MIB), iova, len;
		void *hva;
		int r;

		r = vdpamap_translate(a->f->h, 0, GPA + off, &hva, &len);
		if (r == 0 && hva != a->f->mem + off)
			a->bad++;
		else if (r != 0 && r != -ENOENT)
			a->bad++;
		r = vdpamap_reverse(a->f->h, 0, a->f->mem + off, &iova, NULL);
		if (r == 0 && iova != GPA + off)
			a->bad++;
		else if (r != 0 && r != -ENOENT)
			a->bad++;
		a->lookups += 2;
		if ((++i & 63) == 0)
			sched_yield();
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_lookups_never_block(void **state)
{
	struct fx *f = *state;
	struct reader_arg a = { .f = f };
	struct vdpamap_txn *t;
	pthread_t th;
	int i;

	open_default(f);
	map_ok(f, 0, GPA, 0, 2 * MIB);
	/* the writer holds the handle mutex for a whole transaction */
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	a.stop = 1;		/* run a fixed number of rounds, then finish */
	assert_int_equal(pthread_create(&th, NULL, reader, &a), 0);
	for (i = 0; i < 500 && !__atomic_load_n(&a.done, __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	/* the readers finished while the mutex was held */
	assert_true(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	assert_int_equal(a.bad, 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, 2 * MIB), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	pthread_join(th, NULL);
	fprintf(stderr, "  %llu lookups while a transaction held the lock\n",
		(unsigned long long)a.lookups);
}

static void test_lookups_race_writer(void **state)
{
	struct fx *f = *state;
	struct reader_arg a[2] = { { .f = f }, { .f = f } };
	pthread_t th[2];
	int i;

	open_default(f);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &a[i]),
				 0);
	for (i = 0; i < (int)rounds(200); i++) {
		map_ok(f, 0, GPA, 0, MIB);
		map_ok(f, 0, GPA + MIB, MIB, MIB);
		unmap_ok(f, 0, GPA, 2 * MIB);
	}
	for (i = 0; i < 2; i++) {
		__atomic_store_n(&a[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
		assert_true(a[i].lookups > 0);
	}
}

/* ---- fault sweep (simulator only: it injects the failures) */
typedef int (*op_fn)(struct fx *f);

static int op_commit_many(struct fx *f)
{
	struct vdpamap_txn *t;
	int i, r;

	r = vdpamap_txn_begin(f->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < 6; i++) {
		r = vdpamap_txn_map(t, i / 3, GPA + (uint64_t)i * MIB,
				    f->mem + (uint64_t)i * MIB, MIB,
				    VDPAMAP_PERM_RW, NULL);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
	}
	/* and take away what the setup mapped */
	vdpamap_txn_unmap(t, 0, 0, MIB);
	vdpamap_txn_unmap(t, 1, 0, MIB);
	return vdpamap_txn_commit(t);
}

static int op_reset(struct fx *f)
{
	return vdpamap_reset(f->h, NULL);
}

static void sweep(struct fx *f, op_fn op, uint32_t kind, int max_k)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN &
				      ~VDPAMAP_F_IOTLB_PERSIST);
	int k, r = -1;

	for (k = 1; k <= max_k; k++) {
		struct snap before;

		assert_int_equal(fx_open(f, &o), 0);
		map_ok(f, 0, 0, 6 * MIB, MIB);
		map_ok(f, 1, 0, 7 * MIB, MIB);
		snap_take(f, &before);
		assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, k), 0);
		r = op(f);
		assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, 0), 0);
		/* whatever happened, the mirror is the device's table */
		mirror_matches_device(f);
		if (r < 0) {
			struct snap after;

			assert_true(r == -EIO || r == -ENOTRECOVERABLE);
			if (r == -EIO) {
				/* a clean failure: nothing changed */
				snap_take(f, &after);
				before.writes = after.writes;
				assert_memory_equal(&before, &after,
						    sizeof(after));
			} else {
				assert_non_null(vdpamap_poison_reason(f->h));
				/* reset rebuilds and clears the poison */
				assert_int_equal(vdpamap_reset(f->h, NULL), 0);
				assert_null(vdpamap_poison_reason(f->h));
				mirror_matches_device(f);
			}
		}
		fx_close(f);
		if (r == 0)
			break;	/* k passed every message: sweep complete */
	}
	assert_int_equal(r, 0);
	assert_true(k > 1);
}

static void test_fault_sweep_commit(void **state)
{
	struct fx *f = *state;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	sweep(f, op_commit_many, VDPAMAP_SIM_FAIL_MSG, 64);
}

static void test_fault_sweep_reset(void **state)
{
	struct fx *f = *state;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	sweep(f, op_reset, VDPAMAP_SIM_FAIL_MSG, 64);
	sweep(f, op_reset, VDPAMAP_SIM_FAIL_IOCTL, 64);
}

static void test_fault_sweep_open(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region rg = { .hva = f->mem, .len = f->mem_size,
				     .fd = f->memfd, .iova = GPA };
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = &rg, .nr_regions = 1);
	int k, r = -1;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	for (k = 1; k <= 64; k++) {
		uint32_t kind;

		for (kind = VDPAMAP_SIM_FAIL_MSG;
		     kind <= VDPAMAP_SIM_FAIL_IOCTL; kind++) {
			struct vdpamap_sim_entry e;

			assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, k),
					 0);
			r = fx_open(f, &o);
			assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, 0),
					 0);
			if (r == 0) {
				mirror_matches_device(f);
				assert_int_equal(vdpamap_entry_count(f->h, 0),
						 1);
				fx_close(f);
				continue;
			}
			assert_null(f->h);
			/* the failed open left nothing behind: the device
			 * is free and empty */
			assert_int_equal(vdpamap_sim_table(f->path, 0, &e, 1),
					 0);
		}
		if (r == 0)
			break;
	}
	assert_int_equal(r, 0);
}

/* ---- SVQ ASID flip (issue 5)
 *
 * The shadow area lives in guest-region memory that ASID 0 does not map
 * (map_window() maps [WIN_OFF, WIN_OFF + WIN_SIZE) only), so the device can
 * reach it through the shadow ASID alone.  The "shadow virtqueue" of these
 * tests is the simplest one there is: it moves the whole vnet area (rings
 * and buffers) into the shadow area and translates every descriptor
 * address, so the device loops frames through rings and buffers that exist
 * only in the shadow ASID; flipping back moves them home again. */
#define SHADOW_OFF 0			/* offset of the shadow area in mem */
#define VB 4096u			/* vnet.c's block: rings at blocks
					   1..3 (rx) and 4..6 (tx), rx buffers
					   from block 7, 2 KiB each */

static uint8_t *shadow_mem(struct fx *f)
{
	return f->mem + SHADOW_OFF;
}

/* Rewrite descriptor addresses in [from, from + RING_SIZE) to base to. */
static void svq_translate(uint8_t *area, uint16_t qsize, uint64_t from,
			  uint64_t to)
{
	uint32_t q, i;

	for (q = 0; q < 2; q++) {
		for (i = 0; i < qsize; i++) {
			uint64_t a;
			uint8_t *p = area + (1 + 3 * q) * VB + 16 * i;

			memcpy(&a, p, 8);
			if (a >= from && a - from < RING_SIZE) {
				a = a - from + to;
				memcpy(p, &a, 8);
			}
		}
	}
}

/* Move the driver's whole area between guest and shadow memory: copy it
 * while the device is idle (ring indexes consistent: a device that resumes
 * on the copy finds nothing to do), then translate and take it over once
 * its IOVA is known. */
static void svq_copy(struct vnet *v, uint8_t *to_mem)
{
	memcpy(to_mem, v->mem, RING_SIZE);
}

static void svq_adopt(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	svq_translate(to_mem, v->qsize, v->iova, to_iova);
	v->mem = to_mem;
	v->iova = to_iova;
}

static void svq_move(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	svq_copy(v, to_mem);
	svq_adopt(v, to_mem, to_iova);
}

/* (not compound literals inside VDPAMAP_OPTS(): they would die with its
 * statement expression) */
static const uint32_t vqs01[] = { 0, 1 }, vq1[] = { 1 }, vq2[] = { 2 },
		      grp1[] = { 1 };

static const struct vdpamap_flip_vring svq_rings[2] = {
	{ .vq = 0, .shadow = 0, .desc = 1 * VB, .avail = 2 * VB,
	  .used = 3 * VB },
	{ .vq = 1, .shadow = 0, .desc = 4 * VB, .avail = 5 * VB,
	  .used = 6 * VB },
};

/* IOTLB messages counted at the transport, not by the library: the
 * simulator daemon counts what it received; on the kernel every IOTLB
 * message is one write() of 72 bytes to the device, and the kernel's own
 * per-thread I/O accounting counts write() calls and bytes. */
struct tp_count {
	uint64_t sim_writes;
	uint64_t syscw, wchar;
};

static void thread_io(uint64_t *syscw, uint64_t *wchar)
{
	char line[128];
	FILE *fp = fopen("/proc/thread-self/io", "re");

	assert_non_null(fp);
	*syscw = *wchar = UINT64_MAX;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long x;

		if (sscanf(line, "syscw: %llu", &x) == 1)
			*syscw = x;
		else if (sscanf(line, "wchar: %llu", &x) == 1)
			*wchar = x;
	}
	fclose(fp);
	assert_true(*syscw != UINT64_MAX && *wchar != UINT64_MAX);
}

static void tp_begin(struct fx *f, struct tp_count *c)
{
	struct vdpamap_sim_stats ss;

	memset(c, 0, sizeof(*c));
	if (f->is_sim) {
		assert_int_equal(vdpamap_sim_get_stats(f->path, &ss), 0);
		c->sim_writes = ss.iotlb_writes;
	} else {
		thread_io(&c->syscw, &c->wchar);
	}
}

/* What the transport carried since tp_begin(): *msgs IOTLB messages. */
static void tp_end(struct fx *f, const struct tp_count *c, uint64_t *msgs)
{
	struct vdpamap_sim_stats ss;
	uint64_t syscw, wchar;

	if (f->is_sim) {
		assert_int_equal(vdpamap_sim_get_stats(f->path, &ss), 0);
		*msgs = ss.iotlb_writes - c->sim_writes;
		return;
	}
	thread_io(&syscw, &wchar);
	/* the test log (VDPAMAP_TEST_LOG) writes to stderr too */
	if (getenv("VDPAMAP_TEST_LOG")) {
		*msgs = UINT64_MAX;
		return;
	}
	*msgs = syscw - c->syscw;
	assert_int_equal(wchar - c->wchar, 72 * *msgs);
}

/* A flip or unflip of nr shadow maps sent exactly nr UPDATEs (inv: the
 * INVALIDATEs) in the shadow ASID plus batch markers, and the transport
 * carried exactly that: there is no room left for a single message about
 * guest memory. */
static void flip_msgs_ok(struct fx *f, const struct tp_count *c,
			 const struct vdpamap_flip_info *fi, uint64_t nr,
			 int inv)
{
	uint64_t markers = fi->iotlb_msgs - nr, carried;

	assert_int_equal(fi->iotlb_updates, inv ? 0 : nr);
	assert_int_equal(fi->iotlb_invalidates, inv ? nr : 0);
	/* all in one ASID: one BATCH_BEGIN/END pair at most */
	assert_true(markers == 0 ||
		    (markers == 2 &&
		     vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH)));
	tp_end(f, c, &carried);
	if (carried != UINT64_MAX)
		assert_int_equal(carried, fi->iotlb_msgs);
}

/* ASID 0 (guest memory) is exactly what it was, in the mirror and, on the
 * simulator, in the device's own table. */
static void guest_as_equal(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->count[0], b->count[0]);
	assert_true(a->sum[0] == b->sum[0]);
	assert_int_equal(a->sim_count[0], b->sim_count[0]);
	assert_true(a->sim_sum[0] == b->sim_sum[0]);
}

static uint16_t used_idx(const uint8_t *area, int q)
{
	uint16_t idx;

	memcpy(&idx, area + (3 + 3 * q) * VB + 2, 2);
	return idx;
}

/* Loop frames through v, and as a shadow virtqueue would, mark in the log
 * of asid what the device wrote: the rx buffers of the used entries and
 * both used rings.  Returns the pages marked (bit n: page n of the area). */
static void svq_loop_mark(struct fx *f, struct vnet *v, uint32_t asid,
			  uint32_t seq, int mark, uint64_t *want)
{
	uint32_t i;

	for (i = 0; i < 3; i++) {
		uint16_t before = v->used_seen[0], k;
		int r = vnet_loop(v, seq + i, 60 + 500 * i, LOOP_MS);

		if (r < 0)
			fail_msg("loopback frame %u through %s: %s", seq + i,
				 v->iova == GPA + RING_OFF ? "guest rings" :
							     "shadow rings",
				 strerror(-r));
		if (!mark)
			continue;
		for (k = before; k != v->used_seen[0]; k++) {
			uint8_t *e = v->mem + 3 * VB + 4 + 8 * (k % v->qsize);
			uint32_t id, len;
			uint64_t off;

			memcpy(&id, e, 4);
			memcpy(&len, e + 4, 4);
			off = 7ULL * VB + (uint64_t)id * 2048;
			assert_int_equal(vdpamap_dirty_mark(f->h, asid,
							    v->iova + off, len),
					 0);
			for (; len; len--, off++)
				want[off / VB / 64] |= 1ULL << (off / VB % 64);
		}
		for (k = 0; k < 2; k++) {
			assert_int_equal(vdpamap_dirty_mark(f->h, asid,
					 v->iova + (3 + 3 * k) * VB, VB), 0);
			want[0] |= 1ULL << (3 + 3 * k);
		}
	}
}

static void flip_round(struct fx *f, struct vnet *v, int suspended,
		       uint32_t seq)
{
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	struct vdpamap_flip_vring vr[2], back[2];
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01,
		     .nr_vqs = 2, .shadows = &sh, .nr_shadows = 1,
		     .vrings = vr, .nr_vrings = 2);
	VDPAMAP_OPTS(vdpamap_unflip_opts, uo, .vrings = back, .nr_vrings = 2);
	uint64_t want[RING_SIZE / VB / 64] = { 0 };
	uint64_t got[RING_SIZE / VB / 64] = { 0 }, n, len;
	struct vdpamap_flip_info fi, ui;
	struct snap s0, s1;
	struct tp_count c;
	uint16_t guest_used;
	uint32_t asid, q;
	uint8_t *guest = v->mem;
	uint64_t giova = v->iova;
	void *hva;
	int id;

	memcpy(vr, svq_rings, sizeof(vr));
	memset(back, 0, sizeof(back));
	snap_take(f, &s0);
	svq_copy(v, shadow_mem(f));
	if (suspended) {
		/* the SVQ's own sequence: stop the device, read where the
		 * rings are, flip, move the rings, start again */
		assert_int_equal(vdpamap_suspend(f->h), 0);
		for (q = 0; q < 2; q++) {
			uint32_t b;

			assert_int_equal(vdpamap_vring_get_base(f->h, q, &b), 0);
			vr[q].flags = VDPAMAP_FLIP_VRING_BASE;
			vr[q].base = b;
		}
		o.flags = VDPAMAP_FLIP_SUSPENDED;
	}
	tp_begin(f, &c);
	id = vdpamap_flip(f->h, 1, &o, &fi);
	if (id <= 0)
		fail_msg("flip: %s", strerror(-id));
	flip_msgs_ok(f, &c, &fi, 1, 0);
	assert_int_equal(fi.id, id);
	assert_int_equal(fi.nr_groups, 1);
	assert_int_equal(fi.buffers_moved, 1);
	assert_int_equal(fi.suspended, !suspended);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], s0.count[1] + 1);
	/* the shadow IOVA is a hole of ASID 1 that aliases no guest IOVA */
	assert_true(sh.iova + RING_SIZE <= GPA + WIN_OFF ||
		    sh.iova >= GPA + WIN_OFF + WIN_SIZE);
	assert_int_equal(vdpamap_translate(f->h, 1, sh.iova + 5, &hva, &len),
			 0);
	assert_ptr_equal(hva, shadow_mem(f) + 5);
	assert_int_equal(vdpamap_translate(f->h, 0, sh.iova, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	mirror_matches_device(f);

	/* the SVQ takes the rings over (the device is idle: nothing posted) */
	svq_adopt(v, shadow_mem(f), sh.iova);
	if (suspended)
		assert_int_equal(vdpamap_resume(f->h), 0);
	guest_used = used_idx(guest, 0);

	/* during: every frame goes through the shadow ASID, and the SVQ's
	 * dirty log sees exactly what the device wrote */
	assert_int_equal(vdpamap_dirty_start(f->h, 1, NULL), 0);
	svq_loop_mark(f, v, 1, seq, 1, want);
	assert_int_equal(used_idx(guest, 0), guest_used);
	assert_true(used_idx(shadow_mem(f), 0) != guest_used);
	if (seq & 1)
		assert_int_equal(vdpamap_dirty_harvest(f->h, 1, sh.iova,
						       RING_SIZE, got,
						       sizeof(got), &n), 0);
	else
		assert_int_equal(vdpamap_dirty_harvest_region(
				 f->h, 1, f->region_id, SHADOW_OFF, RING_SIZE,
				 got, sizeof(got), &n), 0);
	assert_memory_equal(got, want, sizeof(want));
	assert_true(n > 2);
	assert_int_equal(vdpamap_dirty_stop(f->h, 1), 0);

	/* flip back; the guest rings resume where the shadow ones are */
	if (suspended) {
		assert_int_equal(vdpamap_suspend(f->h), 0);
		for (q = 0; q < 2; q++) {
			back[q].vq = q;
			back[q].flags = VDPAMAP_FLIP_VRING_BASE;
			assert_int_equal(vdpamap_vring_get_base(f->h, q,
								&back[q].base),
					 0);
		}
		uo.flags = VDPAMAP_FLIP_SUSPENDED;
	} else {
		uo.nr_vrings = 0;
	}
	svq_move(v, guest, giova);
	tp_begin(f, &c);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, &uo, &ui), 0);
	flip_msgs_ok(f, &c, &ui, 1, 1);
	if (suspended)
		assert_int_equal(vdpamap_resume(f->h), 0);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], s0.count[1]);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 0);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL),
			 -ENOENT);
	mirror_matches_device(f);
}

static void test_flip_loopback(void **state)
{
	struct fx *f = *state;
	struct vnet v;
	int r;

	open_default(f);
	map_window(f, 0, GPA);
	r = vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF, RING_SIZE);
	if (r < 0)
		fail_msg("vnet_start: %s", strerror(-r));
	svq_loop_mark(f, &v, 0, 0, 0, NULL);		/* before */
	flip_round(f, &v, 0, 10);	/* the library suspends and resumes */
	svq_loop_mark(f, &v, 0, 20, 0, NULL);		/* after */
	flip_round(f, &v, 1, 31);	/* the caller does (its bases) */
	svq_loop_mark(f, &v, 0, 40, 0, NULL);
	vnet_stop(&v);
}

/* Guest memory as many entries: the flip's cost does not depend on them. */
static void test_flip_zero_guest_msgs(void **state)
{
	struct fx *f = *state;
	struct vdpamap_shadow sh[2] = {
		{ .hva = shadow_mem(f), .size = 64 * 1024 },
		{ .hva = shadow_mem(f) + MIB, .size = 64 * 1024,
		  .perm = VDPAMAP_PERM_RO },
	};
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .groups = grp1,
		     .nr_groups = 1, .shadows = sh, .nr_shadows = 2);
	struct vdpamap_flip_info fi;
	struct vdpamap_txn *t;
	struct snap s0, s1;
	struct tp_count c;
	uint64_t off;
	int id;

	open_default(f);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	for (off = 0; off < WIN_SIZE; off += 64 * 1024)
		assert_int_equal(vdpamap_txn_map(t, 0, GPA + WIN_OFF + off,
						 f->mem + WIN_OFF + off,
						 64 * 1024, VDPAMAP_PERM_RW,
						 NULL), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), WIN_SIZE / 65536);
	snap_take(f, &s0);
	tp_begin(f, &c);
	id = vdpamap_flip(f->h, 1, &o, &fi);
	assert_true(id > 0);
	flip_msgs_ok(f, &c, &fi, 2, 0);
	assert_int_equal(fi.buffers_moved, 1);	/* group 1: the cvq's */
	assert_int_equal(fi.suspended, 0);	/* not started */
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 2);
	assert_true(sh[0].iova != sh[1].iova);
	mirror_matches_device(f);
	tp_begin(f, &c);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, &fi), 0);
	flip_msgs_ok(f, &c, &fi, 2, 1);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 0);
	mirror_matches_device(f);
}

/* The flip survives a reset: the binding is re-applied, the shadow maps
 * kept (persist) or resynced, and the device restarted on shadow rings
 * works through the shadow ASID. */
static void flip_reset_case(struct fx *f, int persist)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo,
		     .want_features = persist ? VDPAMAP_F_KNOWN :
				VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_PERSIST);
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vq1,
		     .nr_vqs = 1, .shadows = &sh, .nr_shadows = 1);
	struct vdpamap_reset_info ri;
	struct snap s0, s1;
	struct vnet v;
	uint32_t asid;
	int id;

	assert_int_equal(fx_open(f, &oo), 0);
	map_window(f, 0, GPA);
	loop_ok(f, GPA + RING_OFF);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	snap_take(f, &s0);
	id = vdpamap_flip(f->h, 1, &o, NULL);
	assert_true(id > 0);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.groups_rebound, 1);
	assert_int_equal(ri.path, persist ? VDPAMAP_RESET_PERSIST :
					    VDPAMAP_RESET_RESYNC);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	mirror_matches_device(f);
	/* a driver restarting after the reset finds the rings in the shadow
	 * ASID: at the guest IOVA they are refused, at the shadow one they
	 * loop */
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), -EFAULT);
	assert_int_equal(vnet_start(&v, f->h, shadow_mem(f), sh.iova,
				    RING_SIZE), 0);
	svq_loop_mark(f, &v, 1, 100, 0, NULL);
	/* running on shadow rings that the flip did not set: flipping back
	 * would resume the device on rings ASID 0 does not map */
	snap_take(f, &s1);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL),
			 -EFAULT);
	snap_equal(f, &s1);
	vnet_stop(&v);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 0);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.groups_rebound, 0);
	loop_ok(f, GPA + RING_OFF);
	fx_close(f);
}

static void test_flip_reset(void **state)
{
	flip_reset_case(*state, 1);
	flip_reset_case(*state, 0);
}

/* Everything a refused SVQ/handoff call must leave alone: the mirror, the
 * simulator's table and the IOTLB write count (snap), the ioctl count, the
 * group bindings, every vring as the library has it, the device status
 * and the dirty logs' shape.  Taken with queries first and the counters
 * last, compared with the counters first: the queries' own ioctls
 * (GET_STATUS) fall outside. */
struct dstate {
	struct snap s;
	uint8_t status;
	uint32_t gasid[4];
	int vr_r[4];
	struct vdpamap_vring vr[4];
	int di_r[4];
	struct vdpamap_dirty_info di[4];
	uint64_t ioctls;
};

static void dstate_queries(struct fx *f, struct dstate *d)
{
	struct vdpamap_info in;
	uint32_t i;

	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &d->status), 0);
	for (i = 0; i < 4; i++) {
		if (i < in.nr_groups)
			assert_int_equal(vdpamap_get_group_asid(f->h, i,
								&d->gasid[i]),
					 0);
		if (i < in.nr_vqs)
			d->vr_r[i] = vdpamap_vring_get(f->h, i, &d->vr[i]);
		if (i < in.nr_as)
			d->di_r[i] = vdpamap_dirty_get_info(f->h, i,
							    &d->di[i]);
	}
}

static void dstate_take(struct fx *f, struct dstate *d)
{
	struct vdpamap_stats st;

	memset(d, 0, sizeof(*d));
	dstate_queries(f, d);
	snap_take(f, &d->s);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	d->ioctls = st.ioctls;
}

static void _dstate_equal(struct fx *f, const struct dstate *a, int line)
{
	struct vdpamap_stats st;
	struct dstate b;

	memset(&b, 0, sizeof(b));
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	if (st.ioctls != a->ioctls)
		fail_msg("line %d: %llu ioctls sent", line,
			 (unsigned long long)(st.ioctls - a->ioctls));
	b.ioctls = st.ioctls;
	snap_equal(f, &a->s);
	b.s = a->s;
	dstate_queries(f, &b);
	if (memcmp(a, &b, sizeof(b)))
		fail_msg("line %d: status, group bindings, vrings or dirty "
			 "logs changed", line);
}
#define dstate_equal(f, a) _dstate_equal(f, a, __LINE__)

/* call must return -err, log a line containing want (see log_expect) and
 * change nothing */
#define expect_nochange(f, err, want, call)                                  \
	do {                                                                 \
		struct dstate d_;                                            \
		unsigned n_;                                                 \
		int r_;                                                      \
									     \
		dstate_take(f, &d_);                                         \
		n_ = test_nr_err;                                            \
		r_ = (call);                                                 \
		if (r_ != -(err))                                            \
			fail_msg("line %d: %s: got %d (%s), want -%d (%s)",  \
				 __LINE__, #call, r_, strerror(-r_), err,    \
				 strerror(err));                             \
		log_expect(n_, want);                                        \
		dstate_equal(f, &d_);                                        \
	} while (0)

/* flip with opts o must fail with -err, log want and change nothing */
#define flip_err(f, e, asid, o, want)                                        \
	expect_nochange(f, e, want, vdpamap_flip((f)->h, asid, o, NULL))

#define unflip_err(f, e, id, o, want)                                        \
	expect_nochange(f, e, want, vdpamap_unflip((f)->h, id, o, NULL))

/* Every refusal of vdpamap_unflip() on flip id (a running device, vqs 0
 * and 1 re-pointed, suspended by the call): nothing changed, and the flip
 * is still there to undo.  vr: scratch. */
static void unflip_bad_input(struct fx *f, int id,
			     struct vdpamap_flip_vring *vr)
{
	VDPAMAP_OPTS(vdpamap_unflip_opts, uo, .vrings = vr, .nr_vrings = 1);
	struct vdpamap_unflip_opts o;
	struct {
		struct vdpamap_unflip_opts o;
		uint64_t tail;
	} big;

	unflip_err(f, ENOENT, id + 1, NULL, "unflip: no active flip");
	o = uo;
	o.sz = 4;
	unflip_err(f, EINVAL, id, &o, "unflip: opts: size 4: too small");
	memset(&big, 0, sizeof(big));
	big.o = uo;
	big.o.sz = sizeof(big);
	big.tail = 1;
	unflip_err(f, E2BIG, id, &big.o, "unflip: opts: size ");
	o = uo;
	o.flags = 1U << 7;
	o.nr_vrings = 0;
	unflip_err(f, EINVAL, id, &o, "unflip: opts: unknown flags 0x80 or "
		   "NULL vrings");
	o = uo;
	o.vrings = NULL;
	unflip_err(f, EINVAL, id, &o, "unflip: opts: unknown flags 0x0 or "
		   "NULL vrings");
	memset(vr, 0, sizeof(*vr));
	vr->vq = 0;
	vr->desc = 4096;			/* only vq, flags, base */
	unflip_err(f, EINVAL, id, &uo, "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	vr->desc = 0;
	vr->flags = 1U << 5;
	unflip_err(f, EINVAL, id, &uo, "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	vr->flags = 0;
	vr->reserved[1] = 1;
	unflip_err(f, EINVAL, id, &uo, "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	memset(vr, 0, sizeof(*vr));
	vr->vq = 2;				/* not re-pointed */
	unflip_err(f, EINVAL, id, &uo, "did not re-point vq 2");
	/* guest memory unmapped meanwhile: the device would resume on guest
	 * rings ASID 0 no longer maps */
	unmap_ok(f, 0, GPA + WIN_OFF, WIN_SIZE);
	unflip_err(f, EFAULT, id, NULL, "is not mapped in ASID 0: re-point it "
		   "or reset first");
	map_window(f, 0, GPA);
}

static void test_flip_bad_input(void **state)
{
	struct fx *f = *state;
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	const uint32_t vq0[] = { 0 }, vq3[] = { 3 }, g2[] = { 2 }, g0[] = { 0 };
	VDPAMAP_OPTS(vdpamap_flip_opts, ok, .vqs = vq0, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	VDPAMAP_OPTS(vdpamap_open_opts, noasid,
		     .want_features = VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_ASID);
	VDPAMAP_OPTS(vdpamap_open_opts, nosusp,
		     .want_features = VDPAMAP_F_KNOWN & ~VDPAMAP_F_SUSPEND);
	struct vdpamap_flip_vring vr[2];
	struct vdpamap_flip_opts o;
	struct {
		struct vdpamap_flip_opts o;
		uint64_t tail;
	} big;
	struct vnet v;
	int id;

	/* IOTLB_ASID not negotiated */
	assert_int_equal(fx_open(f, &noasid), 0);
	map_window(f, 0, GPA);
	flip_err(f, EOPNOTSUPP, 1, &ok,
		 "flip: needs IOTLB_ASID (not negotiated)");
	fx_close(f);

	open_default(f);
	map_window(f, 0, GPA);
	flip_err(f, ERANGE, 2, &ok,
		 "flip: shadow asid 2 out of range (2 address spaces)");	/* ASID out of range */
	o = ok;
	o.vqs = vq3;					/* unknown vq */
	flip_err(f, ENOENT, 1, &o, "flip: vqs[0]: no vq 3 (");
	o = ok;
	o.vqs = NULL;
	o.nr_vqs = 0;
	o.groups = g2;					/* unknown group */
	o.nr_groups = 1;
	flip_err(f, ENOENT, 1, &o, "flip: groups[0]: no group 2 (2 groups)");
	/* shadow ASID overlapping guest memory: the group's own ASID, a
	 * shadow area inside guest memory, a shadow ASID mapping it */
	flip_err(f, EEXIST, 0, &ok,
		 "flip: group 0 is bound to ASID 0 already: the shadow ASID would be its guest memory");
	sh.hva = f->mem + RING_OFF;
	flip_err(f, EEXIST, 1, &ok,
		 "overlaps guest memory mapped in ASID 0 at iova");
	sh.hva = shadow_mem(f);
	map_ok(f, 1, 0, WIN_OFF + MIB, 4096);
	flip_err(f, EEXIST, 1, &ok, "flip: shadow ASID 1 maps iova 0x0 to hva");
	unmap_ok(f, 1, 0, 4096);
	/* malformed */
	o = ok;
	o.nr_vqs = 0;					/* nothing to move */
	flip_err(f, EINVAL, 1, &o,
		 "flip: opts: nothing to move, a NULL array with a count, too many vrings or unknown flags 0x0");
	o = ok;
	o.flags = 1U << 7;
	flip_err(f, EINVAL, 1, &o, "unknown flags 0x80");
	o = ok;
	o.shadows = NULL;
	flip_err(f, EINVAL, 1, &o, "flip: opts: nothing to move, a NULL array");
	sh.size = 100;
	flip_err(f, EINVAL, 1, &ok,
		 "size 0x64 perm 0: empty, unaligned, wrapping or a bad perm");
	sh.size = RING_SIZE;
	sh.perm = 4;
	flip_err(f, EINVAL, 1, &ok,
		 "perm 4: empty, unaligned, wrapping or a bad perm");
	sh.perm = 0;
	sh.reserved[1] = 1;
	flip_err(f, EINVAL, 1, &ok,
		 "flip: shadows[0]: reserved fields must be 0");
	sh.reserved[1] = 0;
	sh.hva = (void *)(uintptr_t)0x10000;		/* no region */
	flip_err(f, EFAULT, 1, &ok, "is not inside one registered region");
	sh.hva = shadow_mem(f);
	memset(&big, 0, sizeof(big));
	big.o = ok;
	big.o.sz = sizeof(big);
	big.tail = 1;
	flip_err(f, E2BIG, 1, &big.o, "flip: opts: size ");
	o = ok;
	o.sz = 4;
	flip_err(f, EINVAL, 1, &o, "flip: opts: size 4: too small");
	/* PA mode: the shadow areas would pin more than RLIMIT_MEMLOCK
	 * leaves (the window pins 3 MiB: a 1 MiB limit leaves nothing) */
	if (f->pa) {
		struct rlimit rl, low = { .rlim_cur = MIB };

		assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
		low.rlim_max = rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
		flip_err(f, ENOMEM, 1, &ok, "memlock: needs 1048576 bytes, 0 "
			 "available (RLIMIT_MEMLOCK 1048576, pinned ");
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	}
	/* vrings: a vq never set up, then (set up) one whose group stays,
	 * rings that do not fit the area */
	memcpy(vr, svq_rings, sizeof(vr));
	o = ok;
	o.vrings = vr;
	o.nr_vrings = 1;
	flip_err(f, EINVAL, 1, &o,
		 "flip: vrings[0]: vq 0 was never set up (vdpamap_vring_set()): nothing to return to");
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	vr[0].vq = 2;					/* vnet leaves it */
	flip_err(f, EINVAL, 1, &o, "flip: vrings[0]: vq 2 was never set up");
	vr[0].vq = 0;
	o.vqs = NULL;					/* group 1 moves */
	o.nr_vqs = 0;
	o.groups = grp1;
	o.nr_groups = 1;
	flip_err(f, EINVAL, 1, &o,
		 "flip: vrings[0]: the rings of vq 0 are in group 0, which does not move");
	o.vqs = vq0;
	o.nr_vqs = 1;
	o.groups = NULL;
	o.nr_groups = 0;
	vr[0].used = RING_SIZE - 8;
	flip_err(f, EINVAL, 1, &o,
		 "do not fit, aligned, in shadows[0] (0x100000 bytes)");
	vr[0].used = 3 * VB + 2;			/* misaligned */
	flip_err(f, EINVAL, 1, &o, "do not fit, aligned, in shadows[0]");
	vr[0].used = 3 * VB;
	vr[0].shadow = 1;
	flip_err(f, EINVAL, 1, &o,
		 "flip: vrings[0]: reserved fields, unknown flags or shadow index 1 of 1");
	vr[0].shadow = 0;
	vr[0].reserved[0] = 1;
	flip_err(f, EINVAL, 1, &o,
		 "flip: vrings[0]: reserved fields, unknown flags or shadow index 0 of 1");
	vr[0].reserved[0] = 0;
	vr[0].vq = 7;
	flip_err(f, ENOENT, 1, &o, "flip: vrings[0]: no vq 7 (");
	vr[0].vq = 0;
	vr[0].num = 3;
	flip_err(f, EINVAL, 1, &o, "flip: vrings[0]: ring size 3 (max ");
	vr[0].num = 0;
	vr[1] = vr[0];
	o.nr_vrings = 2;
	flip_err(f, EINVAL, 1, &o, "flip: vrings[1]: vq 0 twice");
	memcpy(vr, svq_rings, sizeof(vr));
	o.nr_vrings = 4;				/* > nr_vqs */
	flip_err(f, EINVAL, 1, &o, "too many vrings");
	o.nr_vrings = 1;
	flip_err(f, EINVAL, 1, NULL, "flip: opts: nothing to move");
	o.vqs = NULL;					/* NULL with a count */
	flip_err(f, EINVAL, 1, &o, "a NULL array with a count");
	o.vqs = vq0;
	/* a running ring of the moving group that would not be mapped in
	 * the shadow ASID (vq 1 left out) */
	flip_err(f, EFAULT, 1, &o, "flip: vq 1 desc ring [0x");
	o.nr_vrings = 2;
	id = vdpamap_flip(f->h, 1, &o, NULL);
	assert_true(id > 0);
	/* the group is taken; an unflip of what is not there */
	o.vqs = vq0;
	o.nr_vrings = 0;
	o.shadows = NULL;
	o.nr_shadows = 0;
	o.flags = VDPAMAP_FLIP_SUSPENDED;
	flip_err(f, EBUSY, 1, &o, "flip: group 0 is moved by active flip");
	unflip_bad_input(f, id, vr);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
	o = ok;
	o.groups = g0;
	o.nr_groups = 1;
	o.nr_vqs = 0;
	/* running, vring 0 and 1 not given: would resume on unmapped rings */
	flip_err(f, EFAULT, 1, &o,
		 "would not be mapped in shadow ASID 1: give its shadow rings in vrings");
	vnet_stop(&v);
	loop_ok(f, GPA + RING_OFF);
	mirror_matches_device(f);
	fx_close(f);

	/* a running device that cannot be suspended */
	assert_int_equal(fx_open(f, &nosusp), 0);
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	memcpy(vr, svq_rings, sizeof(vr));
	o = ok;
	o.vrings = vr;
	o.nr_vrings = 2;
	flip_err(f, EOPNOTSUPP, 1, &o,
		 "flip: the device runs and cannot be suspended (SUSPEND/RESUME not negotiated)");
	vnet_stop(&v);
	fx_close(f);

	/* running rings cannot be re-pointed without ENABLE_AFTER_DRIVER_OK */
	{
		VDPAMAP_OPTS(vdpamap_open_opts, noeado,
			     .want_features = VDPAMAP_F_KNOWN &
					      ~VDPAMAP_F_ENABLE_AFTER_DRIVER_OK);

		assert_int_equal(fx_open(f, &noeado), 0);
	}
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	flip_err(f, EOPNOTSUPP, 1, &o,
		 "flip: vq 0 runs: re-pointing it needs ENABLE_AFTER_DRIVER_OK (not negotiated); reset, flip and restart instead");
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	vnet_stop(&v);
	fx_close(f);

	/* ... nor unflipped: group 1 (the control vq's, which vnet leaves
	 * alone) flipped before DRIVER_OK, then the device started */
	assert_int_equal(fx_open(f, &nosusp), 0);
	map_window(f, 0, GPA);
	o = ok;
	o.vqs = NULL;
	o.nr_vqs = 0;
	o.groups = grp1;
	o.nr_groups = 1;
	o.shadows = NULL;
	o.nr_shadows = 0;
	id = vdpamap_flip(f->h, 1, &o, NULL);
	assert_true(id > 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	unflip_err(f, EOPNOTSUPP, id, NULL, "unflip: the device runs and "
		   "cannot be suspended: reset it first");
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	vnet_stop(&v);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);	/* the flip stays */
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
}

/* No hole for a shadow area in a device with a small IOVA range: the shadow
 * ASID may not reuse IOVAs the memory ASID of a moving group maps, and the
 * 4 MiB range holds 3 MiB of guest memory there. */
static void test_flip_nospc(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .iova_first = 0x100000,
		     .iova_last = 0x100000 + 4 * MIB - 1);
	struct vdpamap_shadow sh = { .size = 2 * MIB };
	const uint32_t vq0[] = { 0 };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vq0, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	int id;

	(void)state;
	if (getenv("VDPAMAP_TEST_DEV"))
		skip_because("vdpa_sim's IOVA range is fixed at [0, 2^64-1]; "
			     "a full shadow ASID needs the configurable "
			     "simulator");
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	map_ok(&f, 0, 0x100000, WIN_OFF, WIN_SIZE);
	sh.hva = shadow_mem(&f);
	flip_err(&f, ENOSPC, 1, &o,
		 "flip: no hole of 0x200000 bytes in shadow ASID 1");
	assert_int_equal(sh.iova, 0);
	/* what fits, fits: the last MiB */
	sh.size = MIB;
	id = vdpamap_flip(f.h, 1, &o, NULL);
	assert_true(id > 0);
	assert_int_equal(sh.iova, 0x100000 + WIN_SIZE);
	mirror_matches_device(&f);
	assert_int_equal(vdpamap_unflip(f.h, (uint32_t)id, NULL, NULL), 0);
	mirror_matches_device(&f);
	fx_teardown(&f);
}

/* ---- exec handoff: what prepare and the queries refuse, and adopt's and
 * reattach's refusals that need no description (tests/conformance/handoff.c
 * forges corrupt ones).  Nothing changed also means: the same fds open with
 * the same FD_CLOEXEC, no handoff state created (get_info still -ENOENT),
 * out-parameters untouched, and the device still loops frames. */
struct fdset {
	int n;
	int fd[128], fl[128];
};

static void fds_take(struct fdset *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	s->n = 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		assert_true(s->n < 128);
		s->fd[s->n] = fd;
		s->fl[s->n++] = fcntl(fd, F_GETFD);
	}
	closedir(d);
}

static void _fds_equal(const struct fdset *a, int line)
{
	struct fdset b;
	int i, k;

	fds_take(&b);
	for (i = 0; i < a->n; i++) {
		for (k = 0; k < b.n && b.fd[k] != a->fd[i]; k++)
			;
		if (k == b.n)
			fail_msg("line %d: fd %d closed", line, a->fd[i]);
		if (b.fl[k] != a->fl[i])
			fail_msg("line %d: fd %d flags %d, were %d", line,
				 a->fd[i], b.fl[k], a->fl[i]);
	}
	if (b.n != a->n)
		fail_msg("line %d: %d fds open, were %d", line, b.n, a->n);
}
#define fds_equal(a) _fds_equal(a, __LINE__)

/* a call on the handle: as expect_nochange, and the fd table is as it was */
#define ho_err(f, e, want, call)                                             \
	do {                                                                 \
		struct fdset fs_;                                            \
									     \
		fds_take(&fs_);                                              \
		expect_nochange(f, e, want, call);                           \
		fds_equal(&fs_);                                             \
	} while (0)

/* a call that makes a handle (adopt, reattach): -e, *ret untouched, the
 * fd table as it was */
#define nohandle_err(e, call)                                                \
	do {                                                                 \
		struct fdset fs_;                                            \
		int r_;                                                      \
									     \
		fds_take(&fs_);                                              \
		ret = (struct vdpamap *)&ret;                                \
		r_ = (call);                                                 \
		if (r_ != -(e))                                              \
			fail_msg("line %d: %s: got %d (%s), want -%d",       \
				 __LINE__, #call, r_, strerror(-r_), e);     \
		assert_ptr_equal(ret, &ret);                                 \
		fds_equal(&fs_);                                             \
	} while (0)

/* The keeper is a clone(CLONE_VM) without CLONE_THREAD, which valgrind
 * cannot run (it exits the whole test): under memcheck prepare REBUILD. */
static uint32_t ho_strategy(void)
{
	return getenv("VDPAMAP_MEMCHECK") ? VDPAMAP_HANDOFF_REBUILD :
					    VDPAMAP_HANDOFF_KEEPER;
}

static void test_handoff_bad_input(void **state)
{
	struct fx *f = *state;
	const int extra[33] = { 0 }, one[1] = { 999 };
	VDPAMAP_OPTS(vdpamap_handoff_opts, ok, .strategy = ho_strategy(),
		     .reattach_grace_ms = 1000);
	VDPAMAP_OPTS(vdpamap_open_opts, oo);
	struct {
		struct vdpamap_handoff_opts o;
		uint64_t tail;
	} big;
	struct {
		struct vdpamap_open_opts o;
		uint64_t tail;
	} obig;
	struct vdpamap_handoff_opts o;
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_vring vring;
	struct vdpamap_info in;
	struct vdpamap *ret;
	struct vnet v;
	uint32_t id;
	void *anon;
	int sfd = -1, p[2], mfd;

	assert_true(fcntl(999, F_GETFD) < 0);
	open_default(f);
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);

	/* queries */
	ho_err(f, EINVAL, "", vdpamap_handoff_get_info(f->h, NULL));
	ho_err(f, ENOENT, "", vdpamap_handoff_get_info(f->h, &hi));
	ho_err(f, EINVAL, "", vdpamap_region_get(f->h, f->region_id, NULL));
	ho_err(f, ENOENT, "", vdpamap_region_get(f->h, 9999, &rg));
	ho_err(f, EINVAL, "", vdpamap_region_ids(f->h, NULL, 1));
	ho_err(f, EINVAL, "", vdpamap_vring_get(f->h, 0, NULL));
	ho_err(f, EINVAL, "out of range", vdpamap_vring_get(f->h, in.nr_vqs,
							    &vring));
	ho_err(f, ENOENT, "", vdpamap_vring_get(f->h, 2, &vring));
	/* prepare */
	ho_err(f, EINVAL, "", vdpamap_handoff_prepare(f->h, &ok, NULL));
	o = ok;
	o.sz = 4;
	ho_err(f, EINVAL, "handoff: opts: size 4: too small",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	memset(&big, 0, sizeof(big));
	big.o = ok;
	big.o.sz = sizeof(big);
	big.tail = 1;
	ho_err(f, E2BIG, "handoff: opts: size ",
	       vdpamap_handoff_prepare(f->h, &big.o, &sfd));
	o = ok;
	o.strategy = 4;
	ho_err(f, EINVAL, "handoff: opts: strategy 4",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.flags = 1;
	ho_err(f, EINVAL, "flags 0x1",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.extra_fds = extra;
	o.nr_extra_fds = 33;
	ho_err(f, EINVAL, "33 extra fds (at most 32",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o.extra_fds = NULL;
	o.nr_extra_fds = 1;
	ho_err(f, EINVAL, "1 extra fds (at most 32",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o.extra_fds = one;
	ho_err(f, EINVAL, "handoff: extra fd 999 is not open",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.strategy = VDPAMAP_HANDOFF_NEW_OWNER;	/* the device does not
						   offer it */
	ho_err(f, EOPNOTSUPP, "handoff: NEW_OWNER: ",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	anon = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	rg = (struct vdpamap_region){ .hva = anon, .len = 65536, .fd = -1 };
	assert_int_equal(vdpamap_region_add(f->h, &rg, &id), 0);
	ho_err(f, EINVAL, "has no fd: guest memory must be fd-backed (memfd)",
	       vdpamap_handoff_prepare(f->h, &ok, &sfd));
	assert_int_equal(vdpamap_region_del(f->h, id), 0);
	munmap(anon, 65536);
	assert_int_equal(sfd, -1);
	/* prepared already; cancel of nothing; rebuild without a dead
	 * keeper */
	ho_err(f, EALREADY, "", vdpamap_handoff_cancel(f->h));
	ho_err(f, EALREADY, "", vdpamap_handoff_rebuild(f->h));
	assert_int_equal(vdpamap_handoff_prepare(f->h, &ok, &sfd), 0);
	{
		struct fdset fs;
		unsigned n = test_nr_err;
		int sfd2 = -1;

		fds_take(&fs);
		assert_int_equal(vdpamap_handoff_prepare(f->h, &ok, &sfd2),
				 -EALREADY);
		log_expect(n, "handoff: prepared already (cancel first)");
		assert_int_equal(sfd2, -1);
		fds_equal(&fs);
	}
	assert_int_equal(vdpamap_handoff_cancel(f->h), 0);
	assert_true(fcntl(sfd, F_GETFD) < 0);
	ho_err(f, ENOENT, "", vdpamap_handoff_get_info(f->h, &hi));

	/* adopt and reattach: no description to parse */
	nohandle_err(EINVAL, vdpamap_handoff_adopt(-1, NULL, NULL));
	oo.sz = 4;
	nohandle_err(EINVAL, vdpamap_handoff_adopt(-1, &oo, &ret));
	memset(&obig, 0, sizeof(obig));
	obig.o.sz = sizeof(obig);
	obig.tail = 1;
	nohandle_err(E2BIG, vdpamap_handoff_adopt(-1, &obig.o, &ret));
	unsetenv(VDPAMAP_HANDOFF_ENV);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "3x", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "-4", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "999", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	unsetenv(VDPAMAP_HANDOFF_ENV);
	nohandle_err(EBADF, vdpamap_handoff_adopt(999, NULL, &ret));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	nohandle_err(EPERM, vdpamap_handoff_adopt(p[0], NULL, &ret));
	close(p[0]);
	close(p[1]);
	mfd = memfd_create("state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(mfd >= 0);
	assert_int_equal(write(mfd, "vdpamap!", 8), 8);
	nohandle_err(EPERM, vdpamap_handoff_adopt(mfd, NULL, &ret));
	assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
						 F_SEAL_GROW), 0);
	nohandle_err(EMSGSIZE, vdpamap_handoff_adopt(mfd, NULL, &ret));
	close(mfd);
	nohandle_err(EINVAL, vdpamap_handoff_reattach(0, NULL, &ret));
	nohandle_err(EINVAL, vdpamap_handoff_reattach(getpid(), NULL, NULL));
	nohandle_err(ECONNREFUSED, vdpamap_handoff_reattach(getpid(), NULL,
							    &ret));
	/* the device was never left suspended */
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
	vnet_stop(&v);
	mirror_matches_device(f);
}

/* Between vdpamap_handoff_prepare() and vdpamap_handoff_cancel() the
 * handle refuses every call that would change the device, the mirror or
 * what the prepared description says: -EBUSY, the call named in the log,
 * nothing changed (fds and their CLOEXEC included).  Queries, the dirty log
 * (library-only, not in the description) and close keep working; after the
 * cancel every refused call works again. */
#define BUSY(what) what " refused: a handoff is prepared (state fd "
static void test_handoff_busy(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = ho_strategy(),
		     .reattach_grace_ms = 1000);
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	const uint32_t vq0[] = { 0 };
	VDPAMAP_OPTS(vdpamap_flip_opts, fo, .vqs = vq0, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	VDPAMAP_OPTS(vdpamap_flip_opts, g1, .groups = grp1, .nr_groups = 1);
	struct vdpamap_region rg2, rg3, out;
	struct vdpamap_handoff_info hi;
	struct vdpamap_txn *t = NULL;
	struct vdpamap_vring vr, vr2;
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint64_t feat, iova = 0;
	uint32_t id2, id3 = 0, g, asid, base, ids[4];
	uint8_t cfg[8], status;
	void *hva, *m2;
	struct vnet v;
	int sfd = -1, sfd2 = -1, flip_id, mfd;

	/* a second memfd: 1 MiB registered before the prepare, 1 MiB to
	 * register during it */
	mfd = memfd_create("more", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, 2 * MIB), 0);
	m2 = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(m2 != MAP_FAILED);
	rg2 = (struct vdpamap_region){ .hva = m2, .len = MIB, .fd = mfd };
	rg3 = (struct vdpamap_region){ .hva = (uint8_t *)m2 + MIB, .len = MIB,
				       .fd = mfd, .fd_offset = MIB };

	open_default(f);
	map_window(f, 0, GPA);
	assert_int_equal(vdpamap_region_add(f->h, &rg2, &id2), 0);
	/* a flip to undo (group 1: the control vq's, which vnet leaves) */
	flip_id = vdpamap_flip(f->h, 1, &g1, NULL);
	assert_true(flip_id > 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
				    GPA + RING_OFF, RING_SIZE), 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_vring_get(f->h, 0, &vr), 0);
	assert_int_equal(vdpamap_get_features(f->h, &feat), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(vdpamap_get_status(f->h, &status), 0);
	assert_int_equal(vdpamap_handoff_prepare(f->h, &ho, &sfd), 0);

	/* maps, unmaps, transactions */
	ho_err(f, EBUSY, BUSY("maps, unmaps and transactions "
			      "(vdpamap_txn_begin)"),
	       vdpamap_map(f->h, 0, GPA + 16 * MIB, f->mem, MIB,
			   VDPAMAP_PERM_RW));
	ho_err(f, EBUSY, BUSY("maps, unmaps and transactions "
			      "(vdpamap_txn_begin)"),
	       vdpamap_unmap(f->h, 0, GPA + WIN_OFF, WIN_SIZE));
	ho_err(f, EBUSY, BUSY("maps, unmaps and transactions "
			      "(vdpamap_txn_begin)"),
	       vdpamap_map_alloc(f->h, 0, f->mem, MIB, VDPAMAP_PERM_RW, 0,
				 &iova));
	assert_int_equal(iova, 0);
	ho_err(f, EBUSY, BUSY("maps, unmaps and transactions "
			      "(vdpamap_txn_begin)"),
	       vdpamap_txn_begin(f->h, &t));
	assert_null(t);
	/* regions */
	ho_err(f, EBUSY, BUSY("vdpamap_region_add"),
	       vdpamap_region_add(f->h, &rg3, &id3));
	assert_int_equal(id3, 0);
	ho_err(f, EBUSY, BUSY("vdpamap_region_del"),
	       vdpamap_region_del(f->h, id2));
	/* flips */
	ho_err(f, EBUSY, BUSY("vdpamap_flip"), vdpamap_flip(f->h, 1, &fo, NULL));
	assert_int_equal(sh.iova, 0);
	ho_err(f, EBUSY, BUSY("vdpamap_unflip"),
	       vdpamap_unflip(f->h, (uint32_t)flip_id, NULL, NULL));
	/* the device */
	ho_err(f, EBUSY, BUSY("vdpamap_reset"), vdpamap_reset(f->h, NULL));
	ho_err(f, EBUSY, BUSY("vdpamap_reset"), vdpamap_set_status(f->h, 0));
	ho_err(f, EBUSY, BUSY("vdpamap_set_status"),
	       vdpamap_set_status(f->h, status));
	ho_err(f, EBUSY, BUSY("vdpamap_set_features"),
	       vdpamap_set_features(f->h, feat));
	ho_err(f, EBUSY, BUSY("vdpamap_set_config"),
	       vdpamap_set_config(f->h, 0, cfg, sizeof(cfg)));
	ho_err(f, EBUSY, BUSY("vdpamap_set_group_asid"),
	       vdpamap_set_group_asid(f->h, 0, 0));
	ho_err(f, EBUSY, BUSY("vdpamap_vring_set"),
	       vdpamap_vring_set(f->h, 0, &vr));
	ho_err(f, EBUSY, BUSY("vdpamap_vring_enable"),
	       vdpamap_vring_enable(f->h, 0, 1));
	ho_err(f, EBUSY, BUSY("vdpamap_suspend"), vdpamap_suspend(f->h));
	ho_err(f, EBUSY, BUSY("vdpamap_resume"), vdpamap_resume(f->h));
	ho_err(f, EBUSY, BUSY("vdpamap_handoff_rebuild"),
	       vdpamap_handoff_rebuild(f->h));
	ho_err(f, EALREADY, "handoff: prepared already",
	       vdpamap_handoff_prepare(f->h, &ho, &sfd2));
	assert_int_equal(sfd2, -1);

	/* queries work */
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &status), 0);
	assert_true(status & 4);	/* DRIVER_OK: kept, suspended */
	assert_int_equal(vdpamap_get_features(f->h, &feat), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(vdpamap_vq_group(f->h, 0, &g), 0);
	assert_int_equal(vdpamap_get_group_asid(f->h, 1, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_vring_get(f->h, 0, &vr2), 0);
	assert_int_equal(vdpamap_vring_get_base(f->h, 0, &base), 0);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + RING_OFF, &hva,
					   NULL), 0);
	assert_ptr_equal(hva, f->mem + RING_OFF);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	assert_int_equal(vdpamap_iova_find(f->h, 0, MIB, 0, &iova), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	assert_int_equal(vdpamap_handoff_get_info(f->h, &hi), 0);
	assert_int_equal(hi.strategy, ho_strategy());
	assert_int_equal(vdpamap_region_get(f->h, id2, &out), 0);
	assert_int_equal(vdpamap_region_ids(f->h, ids, 4), 2);
	/* so does the dirty log: library-only, not in the description */
	assert_int_equal(vdpamap_dirty_start(f->h, 0, NULL), 0);
	assert_int_equal(vdpamap_dirty_stop(f->h, 0), 0);

	/* cancel: every refused call works again */
	assert_int_equal(vdpamap_handoff_cancel(f->h), 0);
	assert_true(fcntl(sfd, F_GETFD) < 0);
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
	map_ok(f, 0, GPA + 16 * MIB, 0, MIB);
	unmap_ok(f, 0, GPA + 16 * MIB, MIB);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_region_add(f->h, &rg3, &id3), 0);
	assert_int_equal(vdpamap_region_del(f->h, id3), 0);
	assert_int_equal(vdpamap_region_del(f->h, id2), 0);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)flip_id, NULL, NULL),
			 0);
	assert_int_equal(vdpamap_set_group_asid(f->h, 1, 0), 0);
	assert_int_equal(vdpamap_suspend(f->h), 0);
	assert_int_equal(vdpamap_resume(f->h), 0);
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	vnet_stop(&v);
	mirror_matches_device(f);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	loop_ok(f, GPA + RING_OFF);
	munmap(m2, 2 * MIB);
	close(mfd);
}

/* Every IOTLB write and every ioctl of a flip (and of an unflip) fails in
 * turn: the call either succeeds, or fails with -EIO having changed
 * nothing (mirror, device table, bindings, rings: the device still loops on
 * the rings it had), or poisons the handle, which a reset recovers. */
static int flip_sweep_one(struct fx *f, uint32_t kind, uint32_t k, int unflip)
{
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01, .nr_vqs = 2,
		     .shadows = &sh, .nr_shadows = 1, .vrings = svq_rings,
		     .nr_vrings = 2);
	uint32_t asid, want_asid;
	struct snap before, after;
	struct vnet v;
	int id = 0, r;

	open_default(f);
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	svq_copy(&v, shadow_mem(f));
	if (unflip) {
		id = vdpamap_flip(f->h, 1, &o, NULL);
		assert_true(id > 0);
	}
	snap_take(f, &before);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, k), 0);
	r = unflip ? vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL) :
		     vdpamap_flip(f->h, 1, &o, NULL);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, kind, 0), 0);
	mirror_matches_device(f);
	if (r == -ENOTRECOVERABLE) {
		assert_non_null(vdpamap_poison_reason(f->h));
		assert_int_equal(vdpamap_reset(f->h, NULL), 0);
		mirror_matches_device(f);
		vnet_stop(&v);
		fx_close(f);
		return 1;
	}
	if (r < 0) {
		assert_int_equal(r, -EIO);
		snap_take(f, &after);
		before.writes = after.writes;
		assert_memory_equal(&before, &after, sizeof(after));
		want_asid = unflip ? 1 : 0;
		assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
		assert_int_equal(asid, want_asid);
		if (unflip) {
			r = vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL);
			assert_int_equal(r, 0);
		}
		/* the device runs on the guest rings as before */
		assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
		vnet_stop(&v);
		fx_close(f);
		return 1;
	}
	if (!unflip) {
		assert_true(r > 0);
		assert_int_equal(vdpamap_unflip(f->h, (uint32_t)r, NULL, NULL),
				 0);
	}
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	vnet_stop(&v);
	fx_close(f);
	return 0;	/* k is past the last event: the sweep is complete */
}

static void test_flip_fault_sweep(void **state)
{
	struct fx *f = *state;
	uint32_t kind, k;
	int unflip;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	for (unflip = 0; unflip < 2; unflip++) {
		for (kind = VDPAMAP_SIM_FAIL_MSG;
		     kind <= VDPAMAP_SIM_FAIL_IOCTL; kind++) {
			for (k = 1; k < 64; k++)
				if (!flip_sweep_one(f, kind, k, unflip))
					break;
			assert_true(k > 1 && k < 64);
		}
	}
}

/* DESC_ASID (no upstream vdpa_sim has it: the simulator configured to
 * offer it, with a third group holding the data vqs' rings): only the
 * descriptor group moves, buffers stay in ASID 0.  The shadow virtqueue
 * relays ring contents between the guest rings and the shadow rings, and
 * buffer addresses need no translation. */
static void relay_rings(uint8_t *to, const uint8_t *from, int used)
{
	uint32_t q;

	for (q = 0; q < 2; q++) {
		uint32_t blk = used ? 3 + 3 * q : 2 + 3 * q;
		uint16_t idx;

		if (!used)
			memcpy(to + (1 + 3 * q) * VB, from + (1 + 3 * q) * VB,
			       VB);
		/* entries first, then the index (release) */
		memcpy(to + blk * VB + 4, from + blk * VB + 4, VB - 4);
		idx = __atomic_load_n((const uint16_t *)(from + blk * VB + 2),
				      __ATOMIC_ACQUIRE);
		__atomic_store_n((uint16_t *)(to + blk * VB + 2), idx,
				 __ATOMIC_RELEASE);
	}
}

static int relay_loop(struct vnet *v, uint8_t *shadow, uint32_t seq,
		      uint32_t len)
{
	uint16_t seen = used_idx(v->mem, 0);
	uint64_t one = 1;
	int r, ms;

	r = vnet_send(v, seq, len);
	if (r < 0)
		return r;
	relay_rings(shadow, v->mem, 0);
	if (write(v->kick[1], &one, 8) != 8 || write(v->kick[0], &one, 8) != 8)
		return -errno;
	for (ms = 0; used_idx(shadow, 0) == seen && ms < LOOP_MS; ms++)
		usleep(1000);
	relay_rings(v->mem, shadow, 1);
	return vnet_recv(v, seq, len, LOOP_MS);
}

static void test_flip_desc_asid(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_groups = 3);
	struct vdpamap_shadow sh = { .hva = NULL, .size = 8 * VB };
	struct vdpamap_flip_vring vr[2];
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01,
		     .nr_vqs = 2, .shadows = &sh, .nr_shadows = 1,
		     .vrings = vr, .nr_vrings = 2);
	struct vdpamap_flip_info fi;
	uint32_t asid, g, i;
	struct vnet v;
	struct snap s0, s1;
	int id;

	(void)state;
	if (getenv("VDPAMAP_TEST_DEV"))
		skip_because("vdpa_sim (6.12) offers no DESC_ASID: the "
			     "descriptor-group flip needs the simulator "
			     "configured to offer it");
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	assert_true(vdpamap_has_feature(f.h, VDPAMAP_F_DESC_ASID));
	assert_int_equal(vdpamap_vq_desc_group(f.h, 0, &g), 0);
	assert_int_equal(g, 2);
	sh.hva = shadow_mem(&f);
	map_window(&f, 0, GPA);
	assert_int_equal(vnet_start(&v, f.h, f.mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(vnet_loop(&v, i, 100, LOOP_MS), 0);
	memcpy(vr, svq_rings, sizeof(vr));
	relay_rings(shadow_mem(&f), v.mem, 0);
	relay_rings(shadow_mem(&f), v.mem, 1);
	snap_take(&f, &s0);
	id = vdpamap_flip(f.h, 1, &o, &fi);
	assert_true(id > 0);
	assert_int_equal(fi.nr_groups, 1);
	assert_int_equal(fi.buffers_moved, 0);
	assert_int_equal(fi.iotlb_updates, 1);
	snap_take(&f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(vdpamap_get_group_asid(f.h, 2, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_get_group_asid(f.h, 0, &asid), 0);
	assert_int_equal(asid, 0);
	/* rings through ASID 1, buffers at their guest IOVAs in ASID 0 */
	for (i = 0; i < 3; i++) {
		int r = relay_loop(&v, shadow_mem(&f), 10 + i, 60 + 300 * i);

		if (r < 0)
			fail_msg("relayed frame %u: %s", i, strerror(-r));
	}
	/* without the relay nothing moves: the device reads the shadow
	 * rings, not the guest's */
	assert_int_equal(vnet_loop(&v, 20, 100, 300), -ETIMEDOUT);
	relay_rings(shadow_mem(&f), v.mem, 0);
	{
		uint64_t one = 1;

		assert_int_equal(write(v.kick[1], &one, 8), 8);
	}
	for (i = 0; i < LOOP_MS && used_idx(shadow_mem(&f), 1) !=
				   __atomic_load_n((uint16_t *)(shadow_mem(&f) +
						   5 * VB + 2),
						   __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	relay_rings(v.mem, shadow_mem(&f), 1);
	assert_int_equal(vnet_recv(&v, 20, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_unflip(f.h, (uint32_t)id, NULL, NULL), 0);
	assert_int_equal(vnet_loop(&v, 30, 100, LOOP_MS), 0);
	/* the whole vq group on request: buffers move too */
	o.flags = VDPAMAP_FLIP_WHOLE_GROUP;
	o.nr_vrings = 0;
	o.vqs = vq2;
	o.nr_vqs = 1;
	id = vdpamap_flip(f.h, 1, &o, &fi);
	assert_true(id > 0);
	assert_int_equal(fi.buffers_moved, 1);	/* group 1: the cvq's */
	assert_int_equal(vdpamap_get_group_asid(f.h, 1, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_unflip(f.h, (uint32_t)id, NULL, NULL), 0);
	vnet_stop(&v);
	mirror_matches_device(&f);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_info),
		T(test_config),
		T(test_open_exclusive),
		T(test_required_feature_missing),
		T(test_opts_sizes),
		T(test_adopt_fd),
		T(test_map_basic),
		T(test_map_top_of_space),
		T(test_bad_input),
		T(test_bad_input_no_asid),
		T(test_regions),
		T(test_alloc),
		cmocka_unit_test(test_alloc_small_range),
		T(test_txn),
		T(test_batching),
		T(test_loopback),
		T(test_driver_ok_guard),
		T(test_premap_at_open),
		T(test_reset_persist),
		T(test_reset_resync),
		T(test_reset_without_resync_breaks),
		T(test_group_asid),
		T(test_suspend_resume),
		T(test_fork_child),
		T(test_bad_device_args),
		T(test_bad_sim_args),
		cmocka_unit_test(test_driver_ok_desc_asid),
		T(test_lookups_never_block),
		T(test_lookups_race_writer),
		T(test_fault_sweep_commit),
		T(test_fault_sweep_reset),
		T(test_fault_sweep_open),
		T(test_flip_loopback),
		T(test_flip_zero_guest_msgs),
		T(test_flip_reset),
		T(test_flip_bad_input),
		cmocka_unit_test(test_flip_nospc),
		T(test_flip_fault_sweep),
		T(test_handoff_bad_input),
		T(test_handoff_busy),
		cmocka_unit_test(test_flip_desc_asid),
#undef T
	};
	const char *dev = getenv("VDPAMAP_TEST_DEV");

	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "conformance: backend %s, flavour %s\n",
		dev && *dev ? dev : "simulator",
		getenv(dev && *dev ? "VDPAMAP_VM_CONFIG" : "VDPAMAP_TEST_SIM") ?:
			"va");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
