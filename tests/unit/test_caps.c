// SPDX-License-Identifier: BSD-3-Clause
/*
 * The IOTLB entry caps through the library, against the simulator's
 * profiles (docs/sim-profiles.md, docs/iotlb-caps.md).  Deterministic: VA
 * mode counts exactly (one entry per shared file VMA), and on the
 * simulator PA mode does too (its rule: one entry per UPDATE and VMA)
 * unless VDPAMAP_PAGEMAP=0 makes the counts unknown, as for an
 * unprivileged VMM on a kernel.
 *
 *  - vdpamap_info shows the caps of each profile;
 *  - a map known not to fit is refused with -ENOSPC before anything is
 *    sent (the stats), in a transaction or alone, and the log names the
 *    cap and the remedies, also after commits left uncounted far below
 *    the cap;
 *  - a write() answering EFAULT is -ENOSPC when the cap is the cause (the
 *    count unknown, the library's own checks passed), never -EIO;
 *  - the silent case (set_map parent below vhost_vdpa's cap, PA counts
 *    unknown) warns at open; nothing is said when the library can count;
 *  - the flip's shadow maps are counted and checked like any other map.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "logbuf.h"
#include "vdpamap.h"

#define PAGE 4096ULL

struct fx {
	char path[256];
	pid_t pid;
	struct vdpamap *h;
	int fd;
	char *mem;
	uint64_t len;
};

static struct fx *fx_new(const char *profile, uint32_t flags, uint32_t cap,
			 uint32_t pcap, uint32_t open_flags)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .profile = profile, .flags = flags,
		     .max_iotlb_entries = cap,
		     .parent_max_iotlb_entries = pcap);
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = test_log_fn,
		     .log_level = VDPAMAP_LOG_INFO, .flags = open_flags);
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vdpamap_sim_spawn(&so, f->path, sizeof(f->path),
					   &f->pid),
			 0);
	test_logbuf[0] = 0;
	assert_int_equal(vdpamap_open(f->path, &oo, &f->h), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	vdpamap_close(f->h);
	vdpamap_sim_stop(f->path);
	if (f->mem)
		munmap(f->mem, f->len);
	if (f->fd > 0)
		close(f->fd);
	free(f);
}

/* n pages of a memfd, each its own VMA if split (every other page
 * MADV_DONTDUMP: neighbours differ in flags and never merge, while the
 * file offsets stay those of one mapping at offset 0, as the region says:
 * region_add checks that fd_offset backs hva), registered as one
 * region. */
static void fx_mem(struct fx *f, uint64_t n, bool split)
{
	struct vdpamap_region rg;
	uint32_t id;
	uint64_t i;

	f->len = n * PAGE;
	f->fd = memfd_create("caps", MFD_CLOEXEC);
	assert_true(f->fd > 0);
	assert_int_equal(ftruncate(f->fd, (off_t)f->len), 0);
	f->mem = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		      0);
	assert_true(f->mem != MAP_FAILED);
	for (i = 1; split && i < n; i += 2)
		assert_int_equal(madvise(f->mem + i * PAGE, PAGE,
					 MADV_DONTDUMP),
				 0);
	rg = (struct vdpamap_region){ .hva = f->mem,
				      .len = f->len,
				      .fd = f->fd };
	assert_int_equal(vdpamap_region_add(f->h, &rg, &id), 0);
}

static uint64_t writes(struct fx *f)
{
	struct vdpamap_stats st;

	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	return st.iotlb_writes;
}

static int map_pages(struct fx *f, uint64_t first, uint64_t n)
{
	struct vdpamap_txn *t;
	uint64_t i;
	int r;

	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	for (i = first; i < first + n; i++) {
		r = vdpamap_txn_map(t, 0, 0x100000 + i * PAGE,
				    f->mem + i * PAGE, PAGE, VDPAMAP_PERM_RW,
				    NULL);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
	}
	return vdpamap_txn_commit(t);
}

static void test_caps_info(void **state)
{
	struct vdpamap_info in;
	struct fx *f;

	(void)state;
	f = fx_new("linux-6.12", 0, 0, 0, 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_true(in.caps_flags & VDPAMAP_CAPS_ENFORCED);
	assert_true(in.caps_flags & VDPAMAP_CAPS_PARENT_KNOWN);
	assert_true(in.caps_flags & VDPAMAP_CAPS_SET_MAP);
	assert_int_equal(in.max_iotlb_entries, 2048);
	assert_int_equal(in.parent_max_iotlb_entries, 2048);
	assert_string_equal(in.parent, "vdpa_sim");
	fx_free(f);

	f = fx_new("linux-6.12/vdpa_sim-permap", 0, 4096, 0, 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(in.max_iotlb_entries, 4096);
	assert_false(in.caps_flags & VDPAMAP_CAPS_SET_MAP);
	fx_free(f);

	/* the default plays the newest kernel, linux-7.3: its caps */
	f = fx_new(NULL, 0, 0, 0, 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_true(in.caps_flags & VDPAMAP_CAPS_ENFORCED);
	assert_int_equal(in.max_iotlb_entries, 2048);
	assert_int_equal(in.parent_max_iotlb_entries, 2048);
	fx_free(f);
	/* no cap enforced: 6.12.95 (the default of earlier versions) */
	f = fx_new("linux-6.12.95", 0, 0, 0, 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_false(in.caps_flags & VDPAMAP_CAPS_ENFORCED);
	fx_free(f);
}

/* VA: the cap is reached exactly, the next map is refused unsent. */
static void test_caps_refused_before_sending(void **state)
{
	uint64_t w;
	struct fx *f;

	(void)state;
	f = fx_new("linux-6.12", 0, 8, 0, 0);
	fx_mem(f, 9, false);
	w = writes(f);
	assert_int_equal(map_pages(f, 0, 9), -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_non_null(strstr(test_logbuf, "raise max_iotlb_entries"));
	assert_non_null(strstr(test_logbuf, "asid 0"));
	assert_int_equal(map_pages(f, 0, 8), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 8);
	w = writes(f);
	assert_int_equal(vdpamap_map(f->h, 0, 0x100000 + 8 * PAGE,
				     f->mem + 8 * PAGE, PAGE, VDPAMAP_PERM_RW),
			 -ENOSPC);
	assert_int_equal(writes(f), w);
	/* an unmap and a map in one transaction: the peak counts */
	assert_int_equal(vdpamap_unmap(f->h, 0, 0x100000, PAGE), 0);
	assert_int_equal(map_pages(f, 8, 1), 0);
	fx_free(f);

	/* one UPDATE over 9 VMAs makes 9 entries */
	f = fx_new("linux-7.3", 0, 8, 0, 0);
	fx_mem(f, 9, true);
	w = writes(f);
	assert_int_equal(vdpamap_map(f->h, 0, 0x100000, f->mem, 9 * PAGE,
				     VDPAMAP_PERM_RW),
			 -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_int_equal(vdpamap_map(f->h, 0, 0x100000, f->mem, 8 * PAGE,
				     VDPAMAP_PERM_RW),
			 0);
	fx_free(f);

	/* the parent's cap alone below vhost_vdpa's: the smaller counts */
	f = fx_new("linux-6.12", 0, 64, 4, 0);
	fx_mem(f, 5, false);
	w = writes(f);
	assert_int_equal(map_pages(f, 0, 5), -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_int_equal(map_pages(f, 0, 4), 0);
	fx_free(f);

	/* no cap on 6.12.95: 9 maps go through */
	f = fx_new("linux-6.12.95", 0, 8, 0, 0);
	fx_mem(f, 9, false);
	assert_int_equal(map_pages(f, 0, 9), 0);
	fx_free(f);
}

/* A commit whose bound (a page an entry at most) cannot reach the cap is
 * not counted; the first that may counts what was left uncounted, so
 * the cap is still known to be passed before anything is sent: four
 * maps of two pages over two VMAs each fill a cap of 8, bound and count
 * alike, and one more page (bound 9) is refused unsent.  Counted as the
 * one entry each makes at least, the four would leave room for it. */
static void test_caps_uncounted_counted_near_cap(void **state)
{
	uint64_t w, i;
	struct fx *f;

	(void)state;
	f = fx_new("linux-6.12", 0, 8, 0, 0);
	fx_mem(f, 9, true);
	for (i = 0; i < 8; i += 2)
		assert_int_equal(vdpamap_map(f->h, 0, 0x100000 + i * PAGE,
					     f->mem + i * PAGE, 2 * PAGE,
					     VDPAMAP_PERM_RW),
				 0);
	w = writes(f);
	assert_int_equal(map_pages(f, 8, 1), -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_non_null(strstr(test_logbuf, "9 IOTLB entries exceed"));
	/* room again: one map of two entries out, the page fits */
	assert_int_equal(vdpamap_unmap(f->h, 0, 0x100000, 2 * PAGE), 0);
	assert_int_equal(map_pages(f, 8, 1), 0);
	fx_free(f);
}

/* PA with unknown counts: each UPDATE counts as at least one entry; an
 * UPDATE over several VMAs passes that check, the device refuses it
 * (EFAULT), and the library says -ENOSPC. */
static void test_caps_efault_is_enospc(void **state)
{
	uint64_t w;
	struct fx *f;

	(void)state;
	setenv("VDPAMAP_PAGEMAP", "0", 1);
	f = fx_new("linux-6.12/vdpa_sim-permap", VDPAMAP_SIM_PA, 8, 0, 0);
	fx_mem(f, 9, true);
	w = writes(f);
	assert_int_equal(vdpamap_map(f->h, 0, 0x100000, f->mem, 9 * PAGE,
				     VDPAMAP_PERM_RW),
			 -ENOSPC);
	assert_true(writes(f) > w); /* sent, and refused by the device */
	assert_non_null(strstr(test_logbuf, "at least"));
	assert_int_equal(vdpamap_entry_count(f->h, 0), 0);
	/* the lower bound alone: 9 single-page maps are refused unsent */
	w = writes(f);
	assert_int_equal(map_pages(f, 0, 9), -ENOSPC);
	assert_int_equal(writes(f), w);
	fx_free(f);
	unsetenv("VDPAMAP_PAGEMAP");
}

/* The silent case: warned at open where the library cannot count. */
static void test_caps_silent_case(void **state)
{
	struct vdpamap_info in;
	struct fx *f;

	(void)state;
	setenv("VDPAMAP_PAGEMAP", "0", 1);
	f = fx_new("linux-6.12", VDPAMAP_SIM_PA, 1048576, 2048, 0);
	assert_non_null(strstr(test_logbuf, "accepted and then lost"));
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_true(in.caps_flags & VDPAMAP_CAPS_COUNT_UNKNOWN);
	fx_free(f);
	/* a per-map parent's refusal is an EFAULT: nothing silent */
	f = fx_new("linux-6.12/vdpa_sim-permap", VDPAMAP_SIM_PA, 1048576, 2048,
		   0);
	assert_null(strstr(test_logbuf, "accepted and then lost"));
	fx_free(f);
	/* VA counts exactly */
	f = fx_new("linux-6.12", 0, 1048576, 2048, 0);
	assert_null(strstr(test_logbuf, "accepted and then lost"));
	fx_free(f);
	unsetenv("VDPAMAP_PAGEMAP");
	/* the simulator's PA count is known: refused unsent at the parent's
	 * cap instead of lost */
	f = fx_new("linux-6.12", VDPAMAP_SIM_PA, 1048576, 4, 0);
	assert_null(strstr(test_logbuf, "accepted and then lost"));
	fx_mem(f, 5, false);
	assert_int_equal(map_pages(f, 0, 5), -ENOSPC);
	fx_free(f);
}

/* Page 0 mapped in ASID 0 (the guest memory the flip moves away from),
 * pages 1..n in ASID 1 (the shadow ASID), one entry each. */
static void flip_setup(struct fx *f, uint64_t n)
{
	uint64_t i;

	assert_int_equal(vdpamap_map(f->h, 0, 0x100000, f->mem, PAGE,
				     VDPAMAP_PERM_RW),
			 0);
	for (i = 1; i <= n; i++)
		assert_int_equal(vdpamap_map(f->h, 1, 0x200000 + i * PAGE,
					     f->mem + i * PAGE, PAGE,
					     VDPAMAP_PERM_RW),
				 0);
}

/* The flip's shadow maps count like any other map of the shadow ASID:
 * one that would pass the cap is refused with -ENOSPC before anything is
 * sent (the device would refuse it: EFAULT, -EIO before), and once made
 * it is counted exactly, not as "at least one". */
static void test_caps_flip(void **state)
{
	struct vdpamap_shadow sh = { .size = PAGE };
	static const uint32_t vqs[] = { 0, 1 };
	VDPAMAP_OPTS(vdpamap_flip_opts, fo, .vqs = vqs, .nr_vqs = 2,
		     .shadows = &sh, .nr_shadows = 1);
	uint64_t w;
	struct fx *f;
	int id;

	(void)state;
	f = fx_new("linux-6.12", 0, 4, 0, 0);
	fx_mem(f, 6, false);
	/* guest memory in ASID 0; four other pages fill ASID 1 */
	flip_setup(f, 4);
	sh.hva = f->mem + 5 * PAGE;
	w = writes(f);
	test_logbuf[0] = 0;
	assert_int_equal(vdpamap_flip(f->h, 1, &fo, NULL), -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_non_null(strstr(test_logbuf, "raise max_iotlb_entries"));
	assert_int_equal(vdpamap_entry_count(f->h, 1), 4);
	/* room for it: the flip goes through, and ASID 1 is then full */
	assert_int_equal(vdpamap_unmap(f->h, 1, 0x200000 + 4 * PAGE, PAGE), 0);
	id = vdpamap_flip(f->h, 1, &fo, NULL);
	assert_true(id > 0);
	assert_int_equal(vdpamap_entry_count(f->h, 1), 4);
	w = writes(f);
	test_logbuf[0] = 0;
	assert_int_equal(vdpamap_map(f->h, 1, 0x200000 + 4 * PAGE,
				     f->mem + 4 * PAGE, PAGE, VDPAMAP_PERM_RW),
			 -ENOSPC);
	assert_int_equal(writes(f), w);
	assert_non_null(strstr(test_logbuf, "raise max_iotlb_entries"));
	assert_null(strstr(test_logbuf, "at least"));
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 1), 3);
	fx_free(f);

	/* PA, counts unknown: a shadow area over two VMAs passes the lower
	 * bound, the device refuses it (EFAULT): -ENOSPC, undone */
	setenv("VDPAMAP_PAGEMAP", "0", 1);
	f = fx_new("linux-6.12/vdpa_sim-permap", VDPAMAP_SIM_PA, 8, 0, 0);
	fx_mem(f, 10, true);
	flip_setup(f, 7);
	sh.hva = f->mem + 8 * PAGE;
	sh.size = 2 * PAGE;
	w = writes(f);
	assert_int_equal(vdpamap_flip(f->h, 1, &fo, NULL), -ENOSPC);
	assert_true(writes(f) > w); /* sent, refused by the device */
	assert_int_equal(vdpamap_entry_count(f->h, 1), 7);
	fx_free(f);
	unsetenv("VDPAMAP_PAGEMAP");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_info),
		cmocka_unit_test(test_caps_refused_before_sending),
		cmocka_unit_test(test_caps_uncounted_counted_near_cap),
		cmocka_unit_test(test_caps_efault_is_enospc),
		cmocka_unit_test(test_caps_silent_case),
		cmocka_unit_test(test_caps_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
