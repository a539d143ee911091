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
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
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

/* ---- SVQ flip and unflip */

/* children of this process (every thread's), zombies included */
static int count_children(void)
{
	glob_t g;
	size_t i;
	int n = 0;

	if (glob("/proc/self/task/*/children", 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *fp = fopen(g.gl_pathv[i], "re");
		int pid;

		if (!fp)
			continue;
		while (fscanf(fp, "%d", &pid) == 1)
			n++;
		fclose(fp);
	}
	globfree(&g);
	return n;
}

static int fd_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	assert_true(fl >= 0);
	return !!(fl & FD_CLOEXEC);
}

/* Start the device (DRIVER_OK, no vring set): the flip must SUSPEND and
 * RESUME around its steps.  0, or why not. */
static int start_device(struct fx *f)
{
	uint64_t feat;
	int r;

	r = vdpamap_get_features(f->h, &feat);
	if (r < 0)
		return r;
	if ((r = vdpamap_set_status(f->h, 1 | 2)) < 0 ||
	    (r = vdpamap_set_features(f->h, feat)) < 0 ||
	    (r = vdpamap_set_status(f->h, 1 | 2 | 8)) < 0 ||
	    (r = vdpamap_set_status(f->h, 1 | 2 | 4 | 8)) < 0)
		return r;
	return 0;
}

static const uint32_t flip_vq0[] = { 0 }, flip_grp1[] = { 1 };

/* Guest memory at GPA in ASID 0 (3 MiB: PA mode stays inside 8 MiB with
 * the shadows and check_handle()'s extra map), ASID 1 empty; the flip
 * moves group 0 (vq 0's) and group 1 to ASID 1 with two shadow areas. */
static void flip_sweep(struct fx *f, int unflip, int started,
		       const char *name)
{
	int k, fired = 0, r = -1, failures = 0, poisoned = 0;

	for (k = 1; k <= MAX_K; k++) {
		struct vdpamap_shadow sh[2] = {
			{ .hva = f->mem + 4 * MIB, .size = 64 * 1024 },
			{ .hva = f->mem + 5 * MIB, .size = 64 * 1024,
			  .perm = VDPAMAP_PERM_RO },
		};
		VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = flip_vq0,
			     .nr_vqs = 1, .groups = flip_grp1, .nr_groups = 1,
			     .shadows = sh, .nr_shadows = 2);
		uint32_t g, before[2], after[2];
		int fds, id = 0;
		const char *why;

		assert_int_equal(fx_open(f, NULL), 0);
		assert_int_equal(vdpamap_map(f->h, 0, GPA, f->mem, 3 * MIB,
					     VDPAMAP_PERM_RW), 0);
		if (started) {
			r = start_device(f);
			if (r < 0)
				fail_msg("starting the device: %s",
					 strerror(-r));
		}
		if (unflip) {
			id = vdpamap_flip(f->h, 1, &o, NULL);
			if (id <= 0)
				fail_msg("flip: %s", strerror(-id));
		}
		for (g = 0; g < 2; g++)
			assert_int_equal(vdpamap_get_group_asid(f->h, g,
								&before[g]),
					 0);
		assert_int_equal(before[0], unflip ? 1 : 0);
		mirror_matches_device(f);
		fds = count_fds();
		failnth_arm(k);
		r = unflip ? vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL) :
			     vdpamap_flip(f->h, 1, &o, NULL);
		failnth_disarm(&fired);
		assert_int_equal(count_fds(), fds);
		why = vdpamap_poison_reason(f->h);
		if (r < 0)
			failures++;
		if (why)
			poisoned++;
		if (!why) {
			/* bindings: unchanged by a failure, moved by success */
			mirror_matches_device(f);
			for (g = 0; g < 2; g++) {
				assert_int_equal(vdpamap_get_group_asid(
						 f->h, g, &after[g]), 0);
				if (r < 0)
					assert_int_equal(after[g], before[g]);
				else
					assert_int_equal(after[g],
							 unflip ? 0 : 1);
			}
		} else {
			assert_true(r < 0);
		}
		check_handle(f, r < 0 ? r : 0);
		if (!why || !strstr(why, "connection to the device lost")) {
			/* the flip is whole or absent: undo/complete it */
			if (unflip && r < 0)
				assert_int_equal(vdpamap_unflip(f->h,
								(uint32_t)id,
								NULL, NULL),
						 0);
			if (!unflip && r > 0)
				assert_int_equal(vdpamap_unflip(f->h,
								(uint32_t)r,
								NULL, NULL),
						 0);
			mirror_matches_device(f);
			for (g = 0; g < 2; g++) {
				assert_int_equal(vdpamap_get_group_asid(
						 f->h, g, &after[g]), 0);
				assert_int_equal(after[g], 0);
			}
			assert_int_equal(vdpamap_entry_count(f->h, 1), 0);
		}
		fx_close(f);
		if (!fired)
			break;
	}
	assert_true(r >= 0);
	assert_true(k > 1 && k <= MAX_K);
	fprintf(stderr, "  %s: %d fault points, %d failed cleanly (%d "
		"poisoned, %d of them lost replies)\n", name, k - 1, failures,
		poisoned, lost_replies);
	lost_replies = 0;
}

static void test_flip(void **state)
{
	flip_sweep(*state, 0, 0, "flip (stopped device)");
	flip_sweep(*state, 0, 1, "flip (started: suspend/resume)");
}

static void test_unflip(void **state)
{
	flip_sweep(*state, 1, 0, "unflip (stopped device)");
	flip_sweep(*state, 1, 1, "unflip (started: suspend/resume)");
}

/* ---- exec handoff prepare (no exec: prepare, then cancel) */
static void handoff_sweep(struct fx *f, uint32_t strategy, int started,
			  const char *name)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = test_log,
		     .log_level = VDPAMAP_LOG_DEBUG);
	/* the default re-attach grace (30 s): a keeper nobody ends would
	 * outlive the round and be caught */
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = strategy);
	int k, fired = 0, r = -1, failures = 0;

	for (k = 1; k <= MAX_K; k++) {
		int fds, kids, devfd, dev_ce, mem_ce, sfd = -1;
		struct vdpamap_handoff_info hi;

		assert_int_equal(fx_open(f, &oo), 0);
		assert_int_equal(vdpamap_map(f->h, 0, 0, f->mem + 6 * MIB, MIB,
					     VDPAMAP_PERM_RW), 0);
		assert_int_equal(vdpamap_map(f->h, 1, 0, f->mem + 5 * MIB, MIB,
					     VDPAMAP_PERM_RW), 0);
		if (started) {
			/* prepare must SUSPEND (cancel RESUMEs) */
			r = start_device(f);
			if (r < 0)
				fail_msg("starting the device: %s",
					 strerror(-r));
		}
		devfd = vdpamap_fd(f->h);
		dev_ce = fd_cloexec(devfd);
		mem_ce = fd_cloexec(f->memfd);
		assert_int_equal(dev_ce, 1);
		fds = count_fds();
		/* no keeper of an earlier round may be around to inherit or
		 * observe the armed counter (it is freestanding and makes raw
		 * syscalls, but be sure nothing else runs on this TLS) */
		kids = count_children();
		failnth_arm(k);
		r = vdpamap_handoff_prepare(f->h, &ho, &sfd);
		failnth_disarm(&fired);
		if (r == 0) {
			pid_t kp = 0;

			assert_true(sfd >= 0);
			assert_int_equal(fd_cloexec(sfd), 0);
			assert_int_equal(vdpamap_handoff_get_info(f->h, &hi), 0);
			assert_int_equal(hi.strategy, strategy);
			assert_int_equal(fd_cloexec(f->memfd), 0);
			if (strategy == VDPAMAP_HANDOFF_KEEPER) {
				kp = hi.keeper_pid;
				assert_true(kp > 0);
				assert_int_equal(kill(kp, 0), 0);
				assert_int_equal(fd_cloexec(devfd), 0);
			} else {
				assert_int_equal(hi.keeper_pid, 0);
				assert_int_equal(fd_cloexec(devfd), 1);
				assert_int_equal(count_children(), kids);
			}
			assert_int_equal(vdpamap_handoff_cancel(f->h), 0);
			assert_true(fcntl(sfd, F_GETFD) < 0);
			if (kp)
				assert_true(kill(kp, 0) < 0 && errno == ESRCH);
		} else {
			failures++;
		}
		/* as before: CLOEXEC, fds, children */
		assert_int_equal(fd_cloexec(devfd), dev_ce);
		assert_int_equal(fd_cloexec(f->memfd), mem_ce);
		assert_int_equal(count_fds(), fds);
		assert_int_equal(count_children(), kids);
		check_handle(f, r);
		fx_close(f);
		if (!fired)
			break;
	}
	assert_int_equal(r, 0);
	assert_true(k > 1 && k <= MAX_K);
	fprintf(stderr, "  %s: %d fault points, %d failed cleanly (%d of "
		"them lost replies)\n", name, k - 1, failures, lost_replies);
	lost_replies = 0;
}

static void test_handoff_rebuild(void **state)
{
	handoff_sweep(*state, VDPAMAP_HANDOFF_REBUILD, 0,
		      "handoff prepare REBUILD (stopped device)");
	handoff_sweep(*state, VDPAMAP_HANDOFF_REBUILD, 1,
		      "handoff prepare REBUILD (started: suspend)");
}

static void test_handoff_keeper(void **state)
{
	if (getenv("VDPAMAP_MEMCHECK"))
		skip_because("valgrind refuses clone(CLONE_VM) without a "
			     "thread: the mm keeper cannot start under it");
#if !defined(__x86_64__) && !defined(__aarch64__)
	skip_because("no mm keeper on this architecture");
#endif
	handoff_sweep(*state, VDPAMAP_HANDOFF_KEEPER, 0,
		      "handoff prepare KEEPER (stopped device)");
	handoff_sweep(*state, VDPAMAP_HANDOFF_KEEPER, 1,
		      "handoff prepare KEEPER (started: suspend)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_premap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_resync, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unflip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handoff_rebuild, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handoff_keeper, setup,
						teardown),
	};

	if (getenv("VDPAMAP_TEST_DEV")) {
		fprintf(stderr, "fault_sweep: simulator only (it reads the "
			"device's table through the simulator)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
