// SPDX-License-Identifier: BSD-3-Clause
/*
 * The dirty log (src/dirty.c) on a handle without a device: its mirror is
 * filled directly, since the log only reads the mirror at start.  Checks
 * the API's errors, exact get-and-clear results in IOVA and in region
 * terms, the ring's fallback to the bitmap, and, with many marker threads
 * racing a harvester, that no mark is lost and no harvest reports a page
 * nobody marked.  Built twice: plainly (suites unit and concurrency, so a
 * -Db_sanitize=thread build runs it under TSan) and as test_dirty_tsan,
 * compiled with -fsanitize=thread, so that every `meson test` runs the
 * concurrency cases under ThreadSanitizer.
 */
#include <errno.h>
#include <pthread.h>
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

#include "migrate/migrate.h"

#define PG    4096ULL
#define MIB   (1ULL << 20)
#define MEMSZ (2048 * MIB)
#define BASE  0x40000000ULL

static uint8_t *mem; /* address space only: never touched */

static struct vdpamap *mk(void)
{
	struct vdpamap_region r = { .hva = mem, .len = MEMSZ, .fd = -1 };
	struct vdpamap *h;

	assert_int_equal(vdm_handle_new(NULL, &h), 0);
	h->page_size = PG;
	h->info.nr_as = 2;
	h->info.iova_first = 0;
	h->info.iova_last = UINT64_MAX;
	h->info.mem_mode = VDPAMAP_MEMMODE_VA;
	assert_int_equal(vdm_mapping_setup(h), 0);
	assert_int_equal(vdm_region_add(h, &r, NULL), 0);
	return h;
}

static void rm(struct vdpamap *h)
{
	vdm_handle_free(h);
}

/* a mirror entry, as if the device had accepted its UPDATE */
static void add(struct vdpamap *h, uint32_t asid, uint64_t iova, uint64_t off,
		uint64_t size)
{
	struct vdm_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->iova = iova;
	e->last = iova + size - 1;
	e->hva = (uintptr_t)mem + off;
	e->asid = asid;
	e->perm = VDPAMAP_PERM_RW;
	e->region = vdm_region_find(h, e->hva, size);
	assert_non_null(e->region);
	vdm_mirror_insert(h, e);
}

static int logging(const struct vdpamap *h, uint32_t asid)
{
	return h->mig && h->mig->dirty && h->mig->dirty[asid];
}

static int bit(const uint64_t *b, uint64_t n)
{
	return (int)((b[n / 64] >> (n % 64)) & 1);
}

static uint64_t popcount(const uint64_t *b, size_t words)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(b[i]);
	return n;
}

/* ---- API */
static void test_errors(void **state)
{
	struct vdpamap *h = mk();
	const struct vdpamap_dirty_range over[2] = {
		{ BASE, 8 * PG }, { BASE + 4 * PG, 8 * PG }
	};
	const struct vdpamap_dirty_range hole[1] = { { BASE, 3 * MIB } };
	VDPAMAP_OPTS(vdpamap_dirty_opts, o);
	struct vdpamap_dirty_info di;
	struct {
		struct vdpamap_dirty_opts o;
		uint64_t tail;
	} big;
	uint64_t bm[8] = { 0 }, n;

	(void)state;
	/* nothing mapped: nothing to log */
	assert_int_equal(vdpamap_dirty_start(h, 0, NULL), -ENOENT);
	assert_false(logging(h, 0));
	add(h, 0, BASE, 0, MIB);
	add(h, 0, BASE + MIB, MIB, MIB);
	assert_int_equal(vdpamap_dirty_start(h, 2, NULL), -EINVAL);
	o.flags = 2;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EINVAL);
	o.flags = VDPAMAP_DIRTY_RING;
	o.ring_entries = 100;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EINVAL);
	o.ring_entries = 8;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EINVAL);
	o.ring_entries = 0;
	o.page_size = 3000;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EINVAL);
	o.page_size = 0;
	o.nr_ranges = 1;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EINVAL);
	o.ranges = over;
	o.nr_ranges = 2;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -EEXIST);
	o.ranges = hole;
	o.nr_ranges = 1;
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), -ENOENT);
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.tail = 1;
	assert_int_equal(vdpamap_dirty_start(h, 0, &big.o), -E2BIG);
	/* no memory while logging is off */
	assert_false(logging(h, 0));
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), -ENOENT);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE, 1), -ENOENT);
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, PG, bm, sizeof(bm),
					       NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_dirty_stop(h, 0), -ENOENT);

	assert_int_equal(vdpamap_dirty_start(h, 0, NULL), 0);
	assert_int_equal(vdpamap_dirty_start(h, 0, NULL), -EBUSY);
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), 0);
	assert_int_equal(di.nr_ranges, 2);
	assert_int_equal(di.pages, 512);
	assert_int_equal(di.page_size, PG);
	assert_int_equal(di.bitmap_bytes, 512 / 8);
	assert_int_equal(di.ring_entries, 0);
	/* marks: bad arguments, outside the logged ranges (nothing marked) */
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE, 0), -EINVAL);
	assert_int_equal(vdpamap_dirty_mark(h, 0, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(vdpamap_dirty_mark(h, 5, BASE, 1), -EINVAL);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE - PG, 2 * PG), -ERANGE);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 2 * MIB - PG, 2 * PG),
			 -ERANGE);
	assert_int_equal(vdpamap_dirty_mark(h, 1, BASE, 1), -ENOENT);
	/* harvests: alignment, size, bitmap */
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE + 1, PG, bm,
					       sizeof(bm), NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 0, bm, sizeof(bm),
					       NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 4 * MIB, bm,
					       sizeof(bm), NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, PG, NULL, 8, NULL),
			 -EINVAL);
	assert_int_equal(vdpamap_dirty_harvest_region(h, 0, 77, 0, PG, bm,
						      sizeof(bm), NULL),
			 -ENOENT);
	/* none of that marked anything */
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 512 * PG, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(popcount(bm, 8), 0);
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	assert_false(logging(h, 0));
	assert_int_equal(vdpamap_dirty_stop(h, 0), -ENOENT);
	assert_int_equal(vdpamap_dirty_stop(h, 3), -EINVAL);
	rm(h);
}

/* Every refusal again, with its log line, on a handle whose ASID 0 logs
 * three marked pages: each leaves ASID 0's log as it was (same shape, the
 * three marks still there for the harvest at the end), ASID 1 not logging,
 * and the caller's bitmap and counters untouched. */
static char last_err[512];
static unsigned nr_err;

static void cap_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR) {
		snprintf(last_err, sizeof(last_err), "%s", msg);
		nr_err++;
	}
}

struct dctx {
	struct vdpamap *h;
	struct vdpamap_dirty_info info;
};

/* the function behind the macro expect() (STYLE.md: helpers in threes):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
static void _expect(struct dctx *c, int err, int got, unsigned since,
		    const char *want, int line)
{
	struct vdpamap_dirty_info di;

	if (got != -err)
		fail_msg("line %d: got %d, want %d", line, got, -err);
	if (want && !*want && nr_err != since)
		fail_msg("line %d: logged \"%s\", want nothing", line,
			 last_err);
	if (want && *want && (nr_err == since || !strstr(last_err, want)))
		fail_msg("line %d: logged \"%s\", want \"%s\"", line,
			 nr_err == since ? "" : last_err, want);
	assert_int_equal(vdpamap_dirty_get_info(c->h, 0, &di), 0);
	assert_memory_equal(&di, &c->info, sizeof(di));
	assert_false(logging(c->h, 1));
}
#define expect(c, err, want, call)                       \
	do {                                             \
		unsigned n_ = nr_err;                    \
		int r_ = (call);                         \
		_expect(c, err, r_, n_, want, __LINE__); \
	} while (0)

static void test_refusals_change_nothing(void **state)
{
	struct vdpamap *h = mk();
	const struct vdpamap_dirty_range over[2] = {
		{ BASE, 8 * PG }, { BASE + 4 * PG, 8 * PG }
	};
	const struct vdpamap_dirty_range hole[1] = { { 0, 3 * MIB } };
	const struct vdpamap_dirty_range empty[1] = { { 0, 0 } };
	const struct vdpamap_dirty_range wrap[1] = { { UINT64_MAX, 2 } };
	VDPAMAP_OPTS(vdpamap_dirty_opts, o);
	struct vdpamap_dirty_opts x;
	struct {
		struct vdpamap_dirty_opts o;
		uint64_t tail;
	} big;
	struct dctx c = { .h = h };
	struct vdpamap_dirty_info di;
	uint64_t bm[8], n = 77;

	(void)state;
	h->log_fn = cap_log;
	h->log_level = VDPAMAP_LOG_DEBUG;
	add(h, 0, BASE, 0, MIB);
	add(h, 0, BASE + MIB, MIB, MIB);
	/* ASID 1 has nothing yet */
	assert_int_equal(vdpamap_dirty_start(h, 1, NULL), -ENOENT);
	assert_string_equal(last_err,
			    "dirty start: asid 1 has nothing mapped to log");
	assert_null(h->mig->dirty[1]);
	assert_int_equal(vdpamap_dirty_start(h, 0, NULL), 0);
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &c.info), 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE, 1), 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 5 * PG, PG), 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 300 * PG, 10), 0);
	add(h, 1, 0, 0, MIB);
	add(h, 1, 2 * MIB, 2 * MIB, MIB);

	/* start */
	expect(&c, EBUSY, "dirty start: asid 0 is logging already",
	       vdpamap_dirty_start(h, 0, NULL));
	expect(&c, EINVAL, "dirty start: asid 2, flags 0x0",
	       vdpamap_dirty_start(h, 2, NULL));
	x = o;
	x.sz = 4;
	expect(&c, EINVAL, "dirty start: opts: size 4: too small",
	       vdpamap_dirty_start(h, 1, &x));
	memset(&big, 0, sizeof(big));
	big.o = o;
	big.o.sz = sizeof(big);
	big.tail = 1;
	expect(&c, E2BIG, "dirty start: opts: size ",
	       vdpamap_dirty_start(h, 1, &big.o));
	x = o;
	x.flags = 2;
	expect(&c, EINVAL, "flags 0x2", vdpamap_dirty_start(h, 1, &x));
	x = o;
	x.flags = VDPAMAP_DIRTY_RING;
	x.ring_entries = 100;
	expect(&c, EINVAL, "ring 100 entries or ranges invalid",
	       vdpamap_dirty_start(h, 1, &x));
	x.ring_entries = 8;
	expect(&c, EINVAL, "ring 8 entries", vdpamap_dirty_start(h, 1, &x));
	x.ring_entries = 1U << 25;
	expect(&c, EINVAL, "ring 33554432 entries",
	       vdpamap_dirty_start(h, 1, &x));
	x = o;
	x.page_size = 3000;
	expect(&c, EINVAL, "page size 0xbb8", vdpamap_dirty_start(h, 1, &x));
	x.page_size = 256;
	expect(&c, EINVAL, "page size 0x100", vdpamap_dirty_start(h, 1, &x));
	x = o;
	x.nr_ranges = 1;
	expect(&c, EINVAL, "ranges invalid", vdpamap_dirty_start(h, 1, &x));
	x.nr_ranges = 0;
	x.ranges = hole;
	expect(&c, EINVAL, "ranges invalid", vdpamap_dirty_start(h, 1, &x));
	x.nr_ranges = 1;
	x.ranges = empty;
	expect(&c, EINVAL, "dirty start: range [0x0, +0x0): empty or wraps",
	       vdpamap_dirty_start(h, 1, &x));
	x.ranges = wrap;
	expect(&c, EINVAL, "empty or wraps", vdpamap_dirty_start(h, 1, &x));
	x.ranges = over;
	x.nr_ranges = 2;
	add(h, 1, BASE, 0, MIB);
	expect(&c, EEXIST,
	       "dirty start: ranges at 0x40000000 and 0x40004000 "
	       "overlap",
	       vdpamap_dirty_start(h, 1, &x));
	x.ranges = hole;
	x.nr_ranges = 1;
	expect(&c, ENOENT,
	       "dirty start: range [0x0, +0x300000) is not "
	       "entirely mapped in asid 1",
	       vdpamap_dirty_start(h, 1, &x));
	/* stop */
	expect(&c, EINVAL,
	       "dirty stop: asid 2 out of range (2 address "
	       "spaces)",
	       vdpamap_dirty_stop(h, 2));
	expect(&c, ENOENT, "dirty stop: asid 1 is not logging",
	       vdpamap_dirty_stop(h, 1));
	/* mark: lock-free, logs nothing */
	expect(&c, EINVAL, "", vdpamap_dirty_mark(h, 0, BASE, 0));
	expect(&c, EINVAL, "", vdpamap_dirty_mark(h, 0, UINT64_MAX, 2));
	expect(&c, EINVAL, "", vdpamap_dirty_mark(h, 2, BASE, 1));
	expect(&c, ENOENT, "", vdpamap_dirty_mark(h, 1, 0, 1));
	expect(&c, ERANGE, "", vdpamap_dirty_mark(h, 0, BASE - PG, 2 * PG));
	expect(&c, ERANGE, "", vdpamap_dirty_mark(h, 0, BASE + 2 * MIB, 1));
	/* harvest: the caller's bitmap and count untouched */
	memset(bm, 0xa5, sizeof(bm));
	expect(&c, EINVAL, "not aligned to page size 0x1000",
	       vdpamap_dirty_harvest(h, 0, BASE + 1, PG, bm, sizeof(bm), &n));
	expect(&c, EINVAL, "not aligned to page size 0x1000",
	       vdpamap_dirty_harvest(h, 0, BASE, PG + 1, bm, sizeof(bm), &n));
	expect(&c, EINVAL, "or bitmap of 64 bytes < 72",
	       vdpamap_dirty_harvest(h, 0, BASE, 513 * PG, bm, sizeof(bm), &n));
	expect(&c, EINVAL, "size 0, wrapping or no bitmap",
	       vdpamap_dirty_harvest(h, 0, BASE, 0, bm, sizeof(bm), &n));
	expect(&c, EINVAL, "size 0, wrapping or no bitmap",
	       vdpamap_dirty_harvest(h, 0, UINT64_MAX - PG + 1, 2 * PG, bm,
				     sizeof(bm), &n));
	expect(&c, EINVAL, "size 0, wrapping or no bitmap",
	       vdpamap_dirty_harvest(h, 0, BASE, PG, NULL, 8, &n));
	expect(&c, EINVAL, "asid out of range (2)",
	       vdpamap_dirty_harvest(h, 2, BASE, PG, bm, sizeof(bm), &n));
	expect(&c, ENOENT, "dirty harvest: asid 1 is not logging",
	       vdpamap_dirty_harvest(h, 1, 0, PG, bm, sizeof(bm), &n));
	expect(&c, ENOENT,
	       "dirty harvest: no logged range of asid 0 maps "
	       "region 77",
	       vdpamap_dirty_harvest_region(h, 0, 77, 0, PG, bm, sizeof(bm),
					    &n));
	expect(&c, EINVAL, "not aligned to page size",
	       vdpamap_dirty_harvest_region(h, 0, 1, 8, PG, bm, sizeof(bm),
					    &n));
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(bm[i], 0xa5a5a5a5a5a5a5a5ULL);
	assert_int_equal(n, 77);
	/* get_info: lock-free, logs nothing */
	expect(&c, EINVAL, "", vdpamap_dirty_get_info(h, 0, NULL));
	expect(&c, EINVAL, "", vdpamap_dirty_get_info(h, 2, &di));
	expect(&c, ENOENT, "", vdpamap_dirty_get_info(h, 1, &di));
	/* the three marks are still there, nothing else */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 512 * PG, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 3);
	assert_true(bit(bm, 0) && bit(bm, 5) && bit(bm, 300));
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	rm(h);
}

/* Exact get-and-clear in IOVA terms and in region terms. */
static void bitmap_case(int ring)
{
	struct vdpamap *h = mk();
	VDPAMAP_OPTS(vdpamap_dirty_opts, o,
		     .flags = ring ? VDPAMAP_DIRTY_RING : 0);
	uint64_t bm[64], n;
	uint64_t i;

	/* two contiguous entries, one further away, one alias of the first
	 * page of the region at another IOVA */
	add(h, 0, BASE, 0, MIB);
	add(h, 0, BASE + MIB, MIB, MIB);
	add(h, 0, BASE + 16 * MIB, 4 * MIB, 2 * MIB);
	add(h, 0, BASE + 64 * MIB, 0, 16 * PG);
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), 0);

	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 5, 1), 0);
	/* crosses the boundary of the first two entries: 3 pages */
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + MIB - PG - 1, PG + 2),
			 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 16 * MIB + 130 * PG,
					    64 * PG),
			 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 64 * MIB, 1), 0);
	/* the first two entries as one harvest: OR into the caller's bits */
	memset(bm, 0, sizeof(bm));
	bm[63] = 0xff;
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 2 * MIB, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 4);
	assert_true(bit(bm, 0) && bit(bm, 254) && bit(bm, 255) && bit(bm, 256));
	assert_int_equal(popcount(bm, 64), 4 + 8);
	/* cleared: a second harvest finds nothing there */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 2 * MIB, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 0);
	/* part of the third entry: only that part is taken */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE + 16 * MIB + 128 * PG,
					       32 * PG, bm, sizeof(bm), &n),
			 0);
	assert_int_equal(n, 30);
	for (i = 0; i < 32; i++)
		assert_int_equal(bit(bm, i), i >= 2);
	/* in region terms: the rest of the third entry (region offset 4 MiB +
	 * 160 pages on), and the alias page ORs into region page 0 */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest_region(h, 0, 1, 0, 8 * MIB, bm,
						      sizeof(bm), &n),
			 0);
	assert_int_equal(n, 35);
	assert_true(bit(bm, 0));
	for (i = 0; i < 2048; i++)
		assert_int_equal(bit(bm, i),
				 i == 0 || (i >= 1024 + 160 && i < 1024 + 194));
	/* everything is clean now */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest_region(h, 0, 1, 0, 8 * MIB, bm,
						      sizeof(bm), &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE + 64 * MIB, 16 * PG,
					       bm, sizeof(bm), &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);

	/* listed ranges, a larger log page: only their parts are logged */
	{
		const struct vdpamap_dirty_range rg[2] = {
			{ BASE + 16 * MIB, (long)64 * 1024 },
			{ BASE + MIB - (long long)64 * 1024, (long)128 * 1024 },
		};
		VDPAMAP_OPTS(vdpamap_dirty_opts, o2, .ranges = rg,
			     .nr_ranges = 2, .page_size = (long)64 * 1024,
			     .flags = o.flags);
		struct vdpamap_dirty_info di;

		assert_int_equal(vdpamap_dirty_start(h, 0, &o2), 0);
		assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), 0);
		assert_int_equal(di.nr_ranges, 3); /* cut at the entry */
		assert_int_equal(di.pages, 3);
		assert_int_equal(vdpamap_dirty_mark(h, 0, BASE, 1), -ERANGE);
		assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + MIB - 1, 2),
				 0);
		memset(bm, 0, sizeof(bm));
		assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 32 * MIB, bm,
						       sizeof(bm), &n),
				 0);
		assert_int_equal(n, 2);
		assert_true(bit(bm, 15) && bit(bm, 16));
		assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	}
	rm(h);
}

static void test_bitmap(void **state)
{
	(void)state;
	bitmap_case(0);
}

static void test_ring_basic(void **state)
{
	(void)state;
	bitmap_case(1);
}

/* A full ring is not an error: the rest goes to the bitmap, counted. */
static void test_ring_overflow(void **state)
{
	struct vdpamap *h = mk();
	VDPAMAP_OPTS(vdpamap_dirty_opts, o, .flags = VDPAMAP_DIRTY_RING,
		     .ring_entries = 16);
	struct vdpamap_dirty_info di;
	uint64_t bm[8], n, i;

	(void)state;
	add(h, 0, BASE, 0, 2 * MIB);
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), 0);
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), 0);
	assert_int_equal(di.ring_entries, 16);
	assert_int_equal(di.flags, VDPAMAP_DIRTY_RING);
	/* 10 single pages fit, then one mark of 100 pages overflows */
	for (i = 0; i < 10; i++)
		assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 3 * i * PG,
						    PG),
				 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + 300 * PG, 100 * PG),
			 0);
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), 0);
	assert_int_equal(di.ring_overflows, 100 - 6);
	/* harvest only the first 64 pages: the ring drains, the entries
	 * beyond go back to the log for the next harvest */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 64 * PG, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 10);
	for (i = 0; i < 64; i++)
		assert_int_equal(bit(bm, i), i % 3 == 0 && i < 30);
	/* the ring is empty again: 16 more fit without overflow */
	for (i = 0; i < 16; i++)
		assert_int_equal(vdpamap_dirty_mark(h, 0, BASE + (450 + i) * PG,
						    1),
				 0);
	assert_int_equal(vdpamap_dirty_get_info(h, 0, &di), 0);
	assert_int_equal(di.ring_overflows, 94);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 512 * PG, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 116);
	for (i = 0; i < 512; i++)
		assert_int_equal(bit(bm, i), (i >= 300 && i < 400) ||
						     (i >= 450 && i < 466));
	memset(bm, 0, sizeof(bm));
	assert_int_equal(vdpamap_dirty_harvest(h, 0, BASE, 512 * PG, bm,
					       sizeof(bm), &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	rm(h);
}

/* ---- concurrency: markers racing a harvester */
/* 1 GiB logged as [0, 512) and [640, 1152) MiB from BASE: sparse enough
 * that most pages are marked once, so a lost mark is not hidden by a
 * later one */
#define NMARK  8
#define HALF   (512 * MIB / PG) /* pages of each logged half */
#define GAP    (128 * MIB / PG)
#define NPAGES (2 * HALF)     /* the logged pages */
#define SPAN   (NPAGES + GAP) /* the harvested span, gap included */
#define WORDS  (SPAN / 64)
#define MARKS  4000

struct race {
	struct vdpamap *h;
	uint64_t oracle[WORDS]; /* atomic: set before each mark */
	uint64_t got[WORDS];	/* harvester's accumulation */
	int done;		/* markers finished (atomic) */
	int spurious;
	uint64_t harvests; /* atomic */
};

struct marker {
	struct race *rc;
	uint32_t seed;
};

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint64_t pick_page(uint32_t *s)
{
	uint64_t p = rnd(s) % NPAGES;

	return p < HALF ? p : p + GAP;
}

static void *marker_fn(void *arg)
{
	struct marker *m = arg;
	uint32_t i;

	/* MARKS marks, and on until the harvester has raced them a few
	 * times, however the threads are scheduled */
	for (i = 0; i < MARKS ||
		    __atomic_load_n(&m->rc->harvests, __ATOMIC_RELAXED) < 8;
	     i++) {
		uint64_t p = pick_page(&m->seed), k, np = 1 + rnd(&m->seed) % 3;

		/* stay inside one logged half */
		if ((p < HALF && p + np > HALF) || p + np > SPAN)
			np = 1;
		for (k = p; k < p + np; k++)
			__atomic_fetch_or(&m->rc->oracle[k / 64],
					  1ULL << (k % 64), __ATOMIC_SEQ_CST);
		if (vdpamap_dirty_mark(m->rc->h, 0, BASE + p * PG + 17,
				       np * PG - 17 - 3))
			abort();
	}
	return NULL;
}

/* One harvest of [first, first + words) words; checks it against the
 * oracle: every page reported was marked before the harvest returned. */
static void harvest_check(struct race *rc, uint64_t w0, uint64_t nw, int region)
{
	uint64_t *tmp = calloc(nw, 8), n, i;
	int r;

	if (!tmp)
		abort();
	if (region)
		r = vdpamap_dirty_harvest_region(rc->h, 0, 1, w0 * 64 * PG,
						 nw * 64 * PG, tmp, nw * 8, &n);
	else
		r = vdpamap_dirty_harvest(rc->h, 0, BASE + w0 * 64 * PG,
					  nw * 64 * PG, tmp, nw * 8, &n);
	if (r)
		abort();
	for (i = 0; i < nw; i++) {
		uint64_t o =
			__atomic_load_n(&rc->oracle[w0 + i], __ATOMIC_SEQ_CST);

		if (tmp[i] & ~o)
			rc->spurious++;
		rc->got[w0 + i] |= tmp[i];
	}
	free(tmp);
	__atomic_fetch_add(&rc->harvests, 1, __ATOMIC_RELAXED);
}

static void *harvester_fn(void *arg)
{
	struct race *rc = arg;
	uint64_t k = 0;

	while (!__atomic_load_n(&rc->done, __ATOMIC_ACQUIRE)) {
		switch (k++ % 4) {
		case 0:
			harvest_check(rc, 0, WORDS, 0);
			break;
		case 1: /* two halves, cut inside an entry */
			harvest_check(rc, 0, WORDS / 3, 0);
			harvest_check(rc, WORDS / 3, WORDS - WORDS / 3, 0);
			break;
		case 2: /* region offsets = IOVA - BASE here */
			harvest_check(rc, 0, WORDS, 1);
			break;
		default:
			harvest_check(rc, 7, 3000, 0);
			break;
		}
	}
	return NULL;
}

static void race_case(uint32_t flags, uint32_t ring)
{
	VDPAMAP_OPTS(vdpamap_dirty_opts, o, .flags = flags,
		     .ring_entries = ring);
	struct race *rc = calloc(1, sizeof(*rc));
	struct marker m[NMARK];
	struct vdpamap_dirty_info di;
	pthread_t t[NMARK], ht;
	uint32_t i;

	assert_non_null(rc);
	rc->h = mk();
	/* region offset = IOVA - BASE; the first half is two entries */
	add(rc->h, 0, BASE, 0, 200 * MIB);
	add(rc->h, 0, BASE + 200 * MIB, 200 * MIB, 312 * MIB);
	add(rc->h, 0, BASE + 640 * MIB, 640 * MIB, 512 * MIB);
	assert_int_equal(vdpamap_dirty_start(rc->h, 0, &o), 0);
	assert_int_equal(pthread_create(&ht, NULL, harvester_fn, rc), 0);
	for (i = 0; i < NMARK; i++) {
		m[i] = (struct marker){ .rc = rc,
					.seed = 0x9e3779b9u * (i + 1) };
		assert_int_equal(pthread_create(&t[i], NULL, marker_fn, &m[i]),
				 0);
	}
	for (i = 0; i < NMARK; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	__atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(ht, NULL), 0);
	assert_int_equal(vdpamap_dirty_get_info(rc->h, 0, &di), 0);
	harvest_check(rc, 0, WORDS, 0); /* what is left */
	assert_int_equal(rc->spurious, 0);
	/* nothing lost: every page marked was reported */
	assert_memory_equal(rc->got, rc->oracle, sizeof(rc->got));
	assert_true(rc->harvests > 8);
	if (ring)
		assert_true(di.ring_overflows > 0); /* the fallback ran */
	/* and nothing is left behind */
	memset(rc->got, 0, sizeof(rc->got));
	harvest_check(rc, 0, WORDS, 0);
	assert_int_equal(popcount(rc->got, WORDS), 0);
	assert_int_equal(vdpamap_dirty_stop(rc->h, 0), 0);
	rm(rc->h);
	free(rc);
}

static void test_race_bitmap(void **state)
{
	(void)state;
	race_case(0, 0);
}

static void test_race_ring(void **state)
{
	(void)state;
	race_case(VDPAMAP_DIRTY_RING, 64);
}

/* stop while markers run: they see -ENOENT from then on, nothing breaks */
struct stopper {
	struct vdpamap *h;
	uint64_t ok;
	int gone;
};

static void *stop_marker(void *arg)
{
	struct stopper *s = arg;
	uint32_t seed = 7;

	for (;;) {
		int r = vdpamap_dirty_mark(s->h, 0,
					   BASE + (rnd(&seed) % 512) * PG, PG);

		if (r == -ENOENT)
			break;
		if (r)
			abort();
		s->ok++;
	}
	s->gone = 1;
	return NULL;
}

static void test_stop_while_marking(void **state)
{
	VDPAMAP_OPTS(vdpamap_dirty_opts, o, .flags = VDPAMAP_DIRTY_RING,
		     .ring_entries = 32);
	struct stopper s[4];
	pthread_t t[4];
	struct vdpamap *h = mk();
	uint32_t i;

	(void)state;
	add(h, 0, BASE, 0, 2 * MIB);
	assert_int_equal(vdpamap_dirty_start(h, 0, &o), 0);
	for (i = 0; i < 4; i++) {
		s[i] = (struct stopper){ .h = h };
		assert_int_equal(pthread_create(&t[i], NULL, stop_marker,
						&s[i]),
				 0);
	}
	usleep(20000);
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(s[i].gone);
	}
	/* and logging can start again */
	assert_int_equal(vdpamap_dirty_start(h, 0, NULL), 0);
	assert_int_equal(vdpamap_dirty_mark(h, 0, BASE, PG), 0);
	assert_int_equal(vdpamap_dirty_stop(h, 0), 0);
	rm(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_refusals_change_nothing),
		cmocka_unit_test(test_bitmap),
		cmocka_unit_test(test_ring_basic),
		cmocka_unit_test(test_ring_overflow),
		cmocka_unit_test(test_race_bitmap),
		cmocka_unit_test(test_race_ring),
		cmocka_unit_test(test_stop_while_marking),
	};

	/* shared: what the VA-mode handle here can reach (region_add
	 * refuses private memory on a VA-mode device); readable and
	 * writable like guest memory, so that memcheck lets region_add's
	 * mapped-memory probe (msync) read it, though nothing touches it */
	mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
