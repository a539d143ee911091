// SPDX-License-Identifier: BSD-3-Clause
/*
 * The library-wide fault sweep: every allocation and syscall on each
 * multi-step path (open with pre-map, transaction commit, reset resync,
 * SVQ flip/unflip, exec handoff prepare and adopt) fails in turn, k = 1, 2, ... until the path completes without reaching
 * k.  After each failure: the mirror equals the device's own table, no fd
 * leaked, and the handle is either usable or cleanly poisoned (and then
 * vdpamap_reset() recovers it).  Memory leaks are caught by running this
 * binary under ASan/LSan and valgrind (scripts/test).
 *
 * Simulator only: the device's table is read through the simulator, and
 * failing the simulator's own socket traffic is what models a syscall
 * failure towards the device.  What each path exercises comes from the
 * device's offer and counts (the simulator plays other kernels' shapes,
 * conformance/shape.h): a second address space is used where the device
 * has one, the flips need two address spaces and groups, a started flip
 * needs SUSPEND and RESUME; what the device lacks is skipped, saying so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "failnth.h"
#include "vnet.h"

#define MIB   (1ULL << 20)
#define GPA   0x40000000ULL
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
	return n - 1; /* the directory's own fd */
}

static int setup(void **state)
{
	struct fx *f;

	if (getenv("VDPAMAP_TEST_DEV"))
		return -1;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (fx_setup(f, NULL, 8 * MIB) < 0) {
		free(f);
		return -1;
	}
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

/* The end of a sweep: it ran out of fault points before MAX_K, and says
 * how many it had and how they failed (extra: "" or "N poisoned, "). */
static void sweep_done(const char *name, int k, int failures, const char *extra)
{
	assert_true(k > 1 && k <= MAX_K);
	fprintf(stderr,
		"  %s: %d fault points, %d failed cleanly (%s%d of them lost "
		"replies)\n",
		name, k - 1, failures, extra, lost_replies);
	lost_replies = 0;
}

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
	assert_int_equal(vdpamap_map(f->h, 0, 0x7f000000, f->mem + 2 * MIB, MIB,
				     VDPAMAP_PERM_RW),
			 0);
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
		{ .hva = f->mem + 3 * MIB,
		  .len = 3 * MIB,
		  .fd = f->memfd,
		  .fd_offset = 3 * MIB,
		  .iova = GPA + 3 * MIB },
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

/* A map in ASID 0 and, where the device has a second address space, one
 * in ASID 1. */
static void map_both(struct fx *f)
{
	assert_int_equal(vdpamap_map(f->h, 0, 0, f->mem + 6 * MIB, MIB,
				     VDPAMAP_PERM_RW),
			 0);
	if (fx_has_as(f, 1))
		assert_int_equal(vdpamap_map(f->h, 1, 0, f->mem + 5 * MIB, MIB,
					     VDPAMAP_PERM_RW),
				 0);
}

/* address spaces the commit maps into: read before the sweep arms its
 * failure counter */
static uint32_t commit_asids;

static int op_commit(struct fx *f)
{
	struct vdpamap_txn *t;
	int i, r;

	r = vdpamap_txn_begin(f->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < 4; i++) {
		r = vdpamap_txn_map(t, (uint32_t)i / 2 % commit_asids,
				    GPA + i * MIB, f->mem + i * MIB, MIB,
				    VDPAMAP_PERM_RW, NULL);
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
		map_both(f);
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
	sweep_done(name, k, failures, "");
}

static void test_commit(void **state)
{
	commit_asids = fx_has_as(*state, 1) ? 2 : 1;
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
static void flip_sweep(struct fx *f, int unflip, int started, const char *name)
{
	int k, fired = 0, r = -1, failures = 0, poisoned = 0;
	char extra[32];

	for (k = 1; k <= MAX_K; k++) {
		struct vdpamap_shadow sh[2] = {
			{ .hva = f->mem + 4 * MIB, .size = (long)64 * 1024 },
			{ .hva = f->mem + 5 * MIB,
			  .size = (long)64 * 1024,
			  .perm = VDPAMAP_PERM_RO },
		};
		VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = flip_vq0, .nr_vqs = 1,
			     .groups = flip_grp1, .nr_groups = 1, .shadows = sh,
			     .nr_shadows = 2);
		uint32_t g, before[2], after[2];
		int fds, id = 0, lost;
		const char *why;

		assert_int_equal(fx_open(f, NULL), 0);
		assert_int_equal(vdpamap_map(f->h, 0, GPA, f->mem, 3 * MIB,
					     VDPAMAP_PERM_RW),
				 0);
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
		/* (the reason is the handle's: check_handle()'s reset frees
		 * it) */
		lost = why && strstr(why, "connection to the device lost");
		if (r < 0)
			failures++;
		if (why)
			poisoned++;
		if (!why) {
			/* bindings: unchanged by a failure, moved by success */
			mirror_matches_device(f);
			for (g = 0; g < 2; g++) {
				assert_int_equal(vdpamap_get_group_asid(
							 f->h, g, &after[g]),
						 0);
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
		if (!lost) {
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
							 f->h, g, &after[g]),
						 0);
				assert_int_equal(after[g], 0);
			}
			assert_int_equal(vdpamap_entry_count(f->h, 1), 0);
		}
		fx_close(f);
		if (!fired)
			break;
	}
	assert_true(r >= 0);
	snprintf(extra, sizeof(extra), "%d poisoned, ", poisoned);
	sweep_done(name, k, failures, extra);
}

/* A flip moves groups 0 and 1 to ASID 1; on a started device it
 * suspends and resumes around its steps. */
static void need_flip(struct fx *f, int started)
{
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
	if (started)
		fx_need(f, VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME);
}

static void test_flip(void **state)
{
	need_flip(*state, 0);
	flip_sweep(*state, 0, 0, "flip (stopped device)");
}

static void test_flip_started(void **state)
{
	need_flip(*state, 1);
	flip_sweep(*state, 0, 1, "flip (started: suspend/resume)");
}

static void test_unflip(void **state)
{
	need_flip(*state, 0);
	flip_sweep(*state, 1, 0, "unflip (stopped device)");
}

static void test_unflip_started(void **state)
{
	need_flip(*state, 1);
	flip_sweep(*state, 1, 1, "unflip (started: suspend/resume)");
}

/* A group moved to another ASID through a reset that keeps the maps
 * (vdpamap_set_group_asid_opts() with VDPAMAP_GROUP_ASID_RESET), where
 * group ASIDs are frozen at DRIVER_OK (the linux-7.3 profile): every
 * allocation and syscall of the restart fails in turn. */
static void test_group_asid_reset(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_group_asid_opts, go,
		     .flags = VDPAMAP_GROUP_ASID_RESET);
	int k, fired = 0, r = -1, failures = 0;
	const char *why;
	uint32_t asid;

	need_flip(f, 1);
	for (k = 1; k <= MAX_K; k++) {
		int fds;

		assert_int_equal(fx_open(f, NULL), 0);
		assert_int_equal(vdpamap_map(f->h, 0, GPA, f->mem, 3 * MIB,
					     VDPAMAP_PERM_RW),
				 0);
		r = start_device(f);
		if (r < 0)
			fail_msg("starting the device: %s", strerror(-r));
		if (vdpamap_set_group_asid(f->h, 0, 1) == 0) {
			fx_close(f);
			skip_because("group ASIDs change in place on this "
				     "device: no reset to fail");
		}
		fds = count_fds();
		failnth_arm(k);
		r = vdpamap_set_group_asid_opts(f->h, 0, 1, &go);
		failnth_disarm(&fired);
		assert_int_equal(count_fds(), fds);
		if (r < 0)
			failures++;
		why = vdpamap_poison_reason(f->h);
		if (!why) {
			/* moved by success, unchanged by a failure */
			assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid),
					 0);
			assert_int_equal(asid, r < 0 ? 0 : 1);
		}
		/* not check_handle() on a lost reply: the restart returns
		 * the failed step's errno there, not -ENOTRECOVERABLE */
		if (why && strstr(why, "connection to the device lost"))
			lost_replies++;
		else
			check_handle(f, r);
		fx_close(f);
		if (!fired)
			break;
	}
	assert_int_equal(r, 0);
	sweep_done("group ASID through a reset", k, failures, "");
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
		map_both(f);
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
			assert_int_equal(vdpamap_handoff_get_info(f->h, &hi),
					 0);
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
	sweep_done(name, k, failures, "");
}

/* prepare suspends a started device where it offers SUSPEND, and
 * otherwise hands it over running (what vp_vdpa and VDUSE do) */
static const char *started_label(struct fx *f, const char *strategy)
{
	static char b[96];

	snprintf(b, sizeof(b), "handoff prepare %s (started: %s)", strategy,
		 fx_offers(f, VDPAMAP_F_SUSPEND) ?
			 "suspend" :
			 "running, no SUSPEND offered");
	return b;
}

static void test_handoff_rebuild(void **state)
{
	handoff_sweep(*state, VDPAMAP_HANDOFF_REBUILD, 0,
		      "handoff prepare REBUILD (stopped device)");
	handoff_sweep(*state, VDPAMAP_HANDOFF_REBUILD, 1,
		      started_label(*state, "REBUILD"));
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
		      started_label(*state, "KEEPER"));
}

/* ---- exec handoff adopt (the successor side)
 *
 * Each round: a predecessor (this binary re-executed in the role
 * "adopt-pred", native even under valgrind, which does not follow execs)
 * opens the device, starts a vnet data path, maps into both ASIDs,
 * prepares the handoff and passes every fd it would pass across its exec
 * (those without FD_CLOEXEC) to this process with SCM_RIGHTS, at the same
 * numbers, then exits: what exec would leave to a successor.  Its fds sit
 * at ADOPT_FD_BASE and up (placeholders below), numbers this process does
 * not use.  This process then adopts with the nth allocation/syscall
 * failing.  The contract asserted:
 *  - adopt fails with a negative errno and changes nothing (the same fds,
 *    none closed, CLOEXEC still clear, no memory kept), and a retry from
 *    the same state fd succeeds; or
 *  - adopt succeeds; a poisoned handle (the keeper or the device
 *    connection lost) recovers with vdpamap_handoff_rebuild();
 * and then the mirror is the device's table and frames loop back. */
#define ADOPT_FD_BASE 64
#define ADOPT_MEM     (4u << 20)
#define ADOPT_MAX_FDS 12

struct pred_msg {
	int32_t err; /* 0, or what failed (-errno) */
	int32_t nfd;
	int32_t num[ADOPT_MAX_FDS]; /* the predecessor's fd numbers */
	int32_t state_fd, kick[2], call[2];
	uint64_t mem; /* its mapping of guest memory */
};

static const char *self_exe;

static void pred_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("VDPAMAP_TEST_LOG") || level <= VDPAMAP_LOG_ERR)
		fprintf(stderr, "  [pred lib %d] %s\n", level, msg);
}

/* argv: adopt-pred <strategy> <device path> <socket fd> */
static int pred_main(char **argv)
{
	uint32_t strategy = (uint32_t)atoi(argv[2]);
	const char *path = argv[3];
	int sock = atoi(argv[4]), nul, fd, r = 0, i, memfd, sfd = -1;
	struct pred_msg m = { .state_fd = -1 };
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(ADOPT_MAX_FDS * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct vdpamap *h = NULL;
	struct vdpamap_region rg;
	struct vdpamap_info in;
	struct vnet v;
	uint8_t *mem;
	DIR *d;
	struct dirent *e;

	/* our fds go to ADOPT_FD_BASE and up */
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (fd = 3; fd < ADOPT_FD_BASE; fd++)
		if (fd != sock && fd != nul && fcntl(fd, F_GETFD) < 0)
			dup3(nul, fd, O_CLOEXEC);
	memfd = memfd_create("guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, ADOPT_MEM) < 0) {
		r = -errno;
		goto out;
	}
	mem = mmap(NULL, ADOPT_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		   0);
	if (mem == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	m.mem = (uint64_t)(uintptr_t)mem;
	rg = (struct vdpamap_region){
		.hva = mem, .len = ADOPT_MEM, .fd = memfd, .iova = 0
	};
	{
		VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = &rg,
			     .nr_regions = 1, .log_fn = pred_log,
			     .log_level = VDPAMAP_LOG_WARN);
		VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = strategy,
			     .reattach_grace_ms = 2000);

		/* the previous round's device may still be closing */
		for (i = 0; i < 500; i++) {
			r = vdpamap_open(path, &o, &h);
			if (r != -EBUSY)
				break;
			usleep(10000);
		}
		if (r < 0)
			goto out;
		r = vnet_start(&v, h, mem, 0, ADOPT_MEM);
		for (i = 0; r == 0 && i < 2; i++)
			r = vnet_loop(&v, (uint32_t)i, 200, 5000);
		/* more entries: ASID 0 beside the pre-map, ASID 1 */
		if (r == 0)
			r = vdpamap_map(h, 0, 1ULL << 30, mem + (1 << 20),
					64 << 10, VDPAMAP_PERM_RO);
		if (r == 0 && vdpamap_get_info(h, &in) == 0 && in.nr_as > 1)
			r = vdpamap_map(h, 1, 0, mem + (2 << 20), 1 << 20,
					VDPAMAP_PERM_RW);
		if (r == 0)
			r = vdpamap_handoff_prepare(h, &ho, &sfd);
		if (r < 0)
			goto out;
	}
	m.state_fd = sfd;
	for (i = 0; i < 2; i++) {
		m.kick[i] = v.kick[i];
		m.call[i] = v.call[i];
	}
	/* exactly what exec would pass on */
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d))) {
		fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd < 3 || fd == sock ||
		    fd == dirfd(d) || fcntl(fd, F_GETFD) != 0)
			continue;
		if (m.nfd == ADOPT_MAX_FDS) {
			r = -E2BIG;
			break;
		}
		m.num[m.nfd++] = fd;
	}
	if (d)
		closedir(d);
out:
	m.err = r;
	if (r == 0 && m.nfd) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(m.nfd * sizeof(int));
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		cm.c.cmsg_len = CMSG_LEN(m.nfd * sizeof(int));
		memcpy(CMSG_DATA(&cm.c), m.num, m.nfd * sizeof(int));
	}
	if (sendmsg(sock, &mh, 0) != (ssize_t)sizeof(m))
		return 1;
	/* as exec: the handle, the mapping and the CLOEXEC fds go away
	 * (a keeper keeps this address space) */
	_exit(0);
}

/* Run a predecessor; place its fds at their numbers here.  0, or skip. */
static void pred_run(struct fx *f, uint32_t strategy, struct pred_msg *m)
{
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(ADOPT_MAX_FDS * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	char a_strat[16], a_sock[16];
	int sv[2], st, i, got[ADOPT_MAX_FDS];
	struct cmsghdr *ch;
	ssize_t n;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				    sv),
			 0);
	snprintf(a_strat, sizeof(a_strat), "%u", strategy);
	snprintf(a_sock, sizeof(a_sock), "%d", sv[1]);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		/* the predecessor inherits nothing but its socket */
		while (d && (e = readdir(d)))
			if (atoi(e->d_name) > 2)
				fcntl(atoi(e->d_name), F_SETFD, FD_CLOEXEC);
		if (d)
			closedir(d);
		fcntl(sv[1], F_SETFD, 0);
		execl(self_exe, "fault_sweep", "adopt-pred", a_strat, f->path,
		      a_sock, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	memset(&cm, 0, sizeof(cm));
	n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(n, sizeof(*m));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (m->err < 0)
		fail_msg("predecessor: %s", strerror(-m->err));
	ch = CMSG_FIRSTHDR(&mh);
	assert_non_null(ch);
	assert_int_equal(ch->cmsg_len, CMSG_LEN(m->nfd * sizeof(int)));
	memcpy(got, CMSG_DATA(ch), m->nfd * sizeof(int));
	/* move them where the predecessor had them, without CLOEXEC as an
	 * exec'd image inherits them */
	for (i = 0; i < m->nfd; i++) {
		if (m->num[i] < ADOPT_FD_BASE)
			fail_msg("predecessor fd %d: below %d", m->num[i],
				 ADOPT_FD_BASE);
		assert_true(fcntl(m->num[i], F_GETFD) < 0);
		assert_int_equal(dup2(got[i], m->num[i]), m->num[i]);
		close(got[i]);
	}
}

/* The fds open here (sorted: readdir of /proc/self/fd is in order). */
static int fd_set_take(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		assert_true(n < max);
		out[n++] = fd;
	}
	closedir(d);
	return n;
}

static void fd_set_same(const int *a, int na)
{
	int b[256], nb = fd_set_take(b, 256);

	assert_int_equal(nb, na);
	assert_memory_equal(a, b, (size_t)na * sizeof(int));
}

/* The device's table, with the keeper's uaddrs (the predecessor's
 * address space) where the mirror has this image's mapping. */
static void mirror_matches_device_at(struct fx *f, struct vdpamap *h,
				     uint64_t pred_mem, uint8_t *mem)
{
	struct vdpamap_sim_entry se[16];
	struct vdpamap_info in;
	uint32_t a;
	int n, k;

	assert_int_equal(vdpamap_get_info(h, &in), 0);
	for (a = 0; a < in.nr_as; a++) {
		n = vdpamap_sim_table(f->path, a, se, 16);
		assert_true(n >= 0 && n <= 16);
		assert_int_equal((uint64_t)n, vdpamap_entry_count(h, a));
		for (k = 0; k < n; k++) {
			void *hva = NULL;
			uint64_t len = 0;

			assert_int_equal(vdpamap_translate(h, a, se[k].iova,
							   &hva, &len),
					 0);
			assert_true(len >= se[k].size);
			assert_int_equal(se[k].uaddr - pred_mem,
					 (uint8_t *)hva - mem);
		}
	}
}

/* What a successful adopt gave: correct, working; then closed.  The
 * inherited fds it does not own are closed here too. */
static void adopted_check(struct fx *f, struct vdpamap *h,
			  const struct pred_msg *m, uint32_t strategy)
{
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	uint32_t id;
	struct vnet v;
	int i, r;

	assert_true(fcntl(m->state_fd, F_GETFD) < 0); /* adopt closed it */
	if (vdpamap_poison_reason(h)) {
		/* documented: the keeper (or the connection to the device)
		 * is lost; the fallback is a rebuild */
		r = vdpamap_handoff_rebuild(h);
		if (r < 0)
			fail_msg("poisoned adopt (%s): rebuild: %s",
				 vdpamap_poison_reason(h), strerror(-r));
		assert_null(vdpamap_poison_reason(h));
		strategy = VDPAMAP_HANDOFF_REBUILD;
	}
	assert_int_equal(vdpamap_handoff_get_info(h, &hi), 0);
	assert_int_equal(hi.strategy, strategy);
	assert_int_equal(hi.adopted, 1);
	assert_int_equal(vdpamap_region_ids(h, &id, 1), 1);
	assert_int_equal(vdpamap_region_get(h, id, &rg), 0);
	assert_int_equal(rg.len, ADOPT_MEM);
	if (strategy == VDPAMAP_HANDOFF_KEEPER) {
		mirror_matches_device_at(f, h, m->mem, rg.hva);
	} else {
		struct vdpamap *keep = f->h;

		f->h = h;
		mirror_matches_device(f);
		f->h = keep;
	}
	/* inherited fds: CLOEXEC again (a rebuild closed the device fd and
	 * the keeper socket) */
	for (i = 0; i < m->nfd; i++)
		if (m->num[i] != m->state_fd && fcntl(m->num[i], F_GETFD) >= 0)
			assert_int_equal(fd_cloexec(m->num[i]), 1);
	assert_int_equal(vnet_attach(&v, h, rg.hva, 0, ADOPT_MEM, m->kick,
				     m->call),
			 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(vnet_loop(&v, 100 + (uint32_t)i, 200, 5000),
				 0);
	vnet_stop(&v);	  /* closes kick and call */
	vdpamap_close(h); /* the device fd, the keeper socket */
	munmap(rg.hva, rg.len);
	for (i = 0; i < m->nfd; i++)
		if (fcntl(m->num[i], F_GETFD) >= 0 && m->num[i] != m->kick[0] &&
		    m->num[i] != m->kick[1] && m->num[i] != m->call[0] &&
		    m->num[i] != m->call[1])
			close(m->num[i]); /* the region's memfd */
}

static void adopt_sweep(struct fx *f, uint32_t strategy, const char *name)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = test_log,
		     .log_level = VDPAMAP_LOG_DEBUG, .prefault_threads = 1);
	int k, fired = 0, r = -1, failures = 0, poisoned = 0;
	int before[256], nbefore, during[256], nduring;

	for (k = 1; k <= MAX_K; k++) {
		struct vdpamap *h = NULL;
		struct pred_msg m;
		int i;

		nbefore = fd_set_take(before, 256);
		pred_run(f, strategy, &m);
		nduring = fd_set_take(during, 256);
		failnth_arm(k);
		r = vdpamap_handoff_adopt(m.state_fd, &o, &h);
		failnth_disarm(&fired);
		if (r < 0) {
			/* nothing changed: no fd closed or left open, the
			 * inherited ones still without CLOEXEC */
			failures++;
			assert_null(h);
			fd_set_same(during, nduring);
			for (i = 0; i < m.nfd; i++)
				assert_int_equal(fd_cloexec(m.num[i]), 0);
			/* and the same state adopts */
			i = r;
			r = vdpamap_handoff_adopt(m.state_fd, &o, &h);
			if (r < 0)
				fail_msg("k=%d: adopt failed (%s), then its "
					 "retry: %s",
					 k, strerror(-i), strerror(-r));
		}
		assert_non_null(h);
		if (vdpamap_poison_reason(h))
			poisoned++;
		adopted_check(f, h, &m, strategy);
		fd_set_same(before, nbefore);
		if (!fired)
			break;
	}
	assert_true(k > 1 && k <= MAX_K);
	fprintf(stderr,
		"  %s: %d fault points, %d failed cleanly and "
		"were retried, %d poisoned and rebuilt\n",
		name, k - 1, failures, poisoned);
}

static void test_adopt_rebuild(void **state)
{
	adopt_sweep(*state, VDPAMAP_HANDOFF_REBUILD, "handoff adopt REBUILD");
}

static void test_adopt_keeper(void **state)
{
#if !defined(__x86_64__) && !defined(__aarch64__)
	skip_because("the mm keeper exists on x86-64 and aarch64 only");
#endif
	adopt_sweep(*state, VDPAMAP_HANDOFF_KEEPER, "handoff adopt KEEPER");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_premap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_resync, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_asid_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_started, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unflip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unflip_started, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handoff_rebuild, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handoff_keeper, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adopt_rebuild, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adopt_keeper, setup,
						teardown),
	};

	if (argc == 5 && !strcmp(argv[1], "adopt-pred"))
		return pred_main(argv);
	/* re-executed for the predecessors of the adopt sweep: not
	 * /proc/self/exe, which is valgrind under memcheck */
	self_exe = argv[0];

	if (getenv("VDPAMAP_TEST_DEV")) {
		fprintf(stderr, "fault_sweep: simulator only (it reads the "
				"device's table through the simulator)\n");
		return 77;
	}
	if (argc == 3 && !strcmp(argv[1], "-t"))
		cmocka_set_test_filter(argv[2]); /* one case: -t NAME */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
