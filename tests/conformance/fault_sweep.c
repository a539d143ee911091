// SPDX-License-Identifier: BSD-3-Clause
/*
 * The library-wide fault sweep: every allocation and syscall on each
 * multi-step path (open with pre-map, transaction commit, reset resync)
 * fails in turn, k = 1, 2, ... until the path completes without reaching
 * k.  After each failure: the mirror equals the device's own table, no fd
 * leaked, and the handle is either usable or cleanly poisoned (and then
 * vdpamap_reset() recovers it).  Memory leaks are caught by running this
 * binary under ASan/LSan and valgrind (tools/test).
 *
 * Simulator only: the device's table is read through the simulator, and
 * failing the simulator's own socket traffic is what models a syscall
 * failure towards the device.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "failnth.h"

#define MIB (1ULL << 20)
#define GPA 0x40000000ULL
#define MAX_K 2000

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || getenv("VDPAMAP_TEST_DEV"))
		return -1;
	if (fx_setup(f, NULL, 8 * MIB) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

/* The handle after a failed operation: poisoned handles recover through
 * reset; either way the mirror is the device's table and maps work. */
static int lost_replies;

static void check_handle(struct fx *f, int r)
{
	const char *why = vdpamap_poison_reason(f->h);

	if (why && strstr(why, "connection to the device lost")) {
		/* the request went out and its reply was lost (a failed recv):
		 * nobody can know what the device did, so the handle must
		 * refuse everything, reset included, until reopened */
		assert_int_equal(r, -ENOTRECOVERABLE);
		assert_int_equal(vdpamap_reset(f->h, NULL), -ENOTRECOVERABLE);
		assert_int_equal(vdpamap_map(f->h, 0, 0x7f000000,
					     f->mem + 2 * MIB, MIB,
					     VDPAMAP_PERM_RW),
				 -ENOTRECOVERABLE);
		lost_replies++;
		return;
	}
	mirror_matches_device(f);
	if (r == -ENOTRECOVERABLE || why) {
		assert_non_null(vdpamap_poison_reason(f->h));
		assert_int_equal(vdpamap_reset(f->h, NULL), 0);
		assert_null(vdpamap_poison_reason(f->h));
		mirror_matches_device(f);
	}
	assert_int_equal(vdpamap_map(f->h, 0, 0x7f000000, f->mem + 2 * MIB,
				     MIB, VDPAMAP_PERM_RW), 0);
	assert_int_equal(vdpamap_unmap(f->h, 0, 0x7f000000, MIB), 0);
	mirror_matches_device(f);
}

static void test_open_premap(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region rg[2] = {
		/* 6 of the 8 MiB: PA mode must stay inside the default
		 * 8 MiB RLIMIT_MEMLOCK with check_handle()'s extra map */
		{ .hva = f->mem, .len = 3 * MIB, .fd = f->memfd, .iova = GPA },
		{ .hva = f->mem + 3 * MIB, .len = 3 * MIB, .fd = f->memfd,
		  .fd_offset = 3 * MIB, .iova = GPA + 3 * MIB },
	};
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = rg, .nr_regions = 2,
		     .prefault_threads = 2, .log_fn = test_log,
		     .log_level = VDPAMAP_LOG_DEBUG);
	int k, fired = 0, fds, r, failures = 0;

	for (k = 1; k <= MAX_K; k++) {
		struct vdpamap_sim_entry e;

		fds = count_fds();
		failnth_arm(k);
		r = vdpamap_open(f->path, &o, &f->h);
		failnth_disarm(&fired);
		if (!fired) {
			assert_int_equal(r, 0);
			break;
		}
		if (r == 0) {
			/* the failure was absorbed: the handle must be sound */
			check_handle(f, 0);
			fx_close(f);
		} else {
			failures++;
			assert_null(f->h);
		}
		/* nothing leaked, the device is free and empty */
		assert_int_equal(count_fds(), fds);
		assert_int_equal(vdpamap_sim_table(f->path, 0, &e, 1), 0);
	}
	assert_true(k > 1 && k <= MAX_K);
	assert_true(failures > 0);
	fprintf(stderr, "  open: %d fault points, %d failed cleanly\n", k - 1,
		failures);
	fx_close(f);
}

static int op_commit(struct fx *f)
{
	struct vdpamap_txn *t;
	int i, r;

	r = vdpamap_txn_begin(f->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < 4; i++) {
		r = vdpamap_txn_map(t, i / 2, GPA + i * MIB, f->mem + i * MIB,
				    MIB, VDPAMAP_PERM_RW, NULL);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
	}
	r = vdpamap_txn_unmap(t, 0, 0, MIB);
	if (r < 0) {
		vdpamap_txn_abort(t);
		return r;
	}
	return vdpamap_txn_commit(t);
}

static int op_reset(struct fx *f)
{
	return vdpamap_reset(f->h, NULL);
}

static void sweep(struct fx *f, int (*op)(struct fx *), const char *name)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN &
				      ~VDPAMAP_F_IOTLB_PERSIST,
		     .log_fn = test_log, .log_level = VDPAMAP_LOG_DEBUG);
	int k, fired = 0, r = -1, failures = 0;

	for (k = 1; k <= MAX_K; k++) {
		int fds;

		assert_int_equal(fx_open(f, &o), 0);
		assert_int_equal(vdpamap_map(f->h, 0, 0, f->mem + 6 * MIB, MIB,
					     VDPAMAP_PERM_RW), 0);
		assert_int_equal(vdpamap_map(f->h, 1, 0, f->mem + 5 * MIB, MIB,
					     VDPAMAP_PERM_RW), 0);
		fds = count_fds();
		failnth_arm(k);
		r = op(f);
		failnth_disarm(&fired);
		assert_int_equal(count_fds(), fds);
		if (r < 0)
			failures++;
		check_handle(f, r);
		fx_close(f);
		if (!fired)
			break;
	}
	assert_int_equal(r, 0);
	assert_true(k > 1 && k <= MAX_K);
	fprintf(stderr, "  %s: %d fault points, %d failed cleanly (%d of them "
		"lost replies)\n", name, k - 1, failures, lost_replies);
	lost_replies = 0;
}

static void test_commit(void **state)
{
	sweep(*state, op_commit, "commit");
}

static void test_reset_resync(void **state)
{
	sweep(*state, op_reset, "reset");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_premap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_resync, setup,
						teardown),
	};

	if (getenv("VDPAMAP_TEST_DEV")) {
		fprintf(stderr, "fault_sweep: simulator only (it reads the "
			"device's table through the simulator)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
