// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fault sweep (simulator only: it injects the failures): every IOTLB
 * message and ioctl of a commit, a reset and an open fails in turn; the
 * mirror must stay the device's table.  And the device that goes away:
 * its daemon killed between calls, or exiting at each message of a
 * commit in turn.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "conformance.h"

typedef int (*op_fn)(struct fx *f);

/* the second map's ASID: 1, or 0 (at another IOVA) on a device with one
 * address space */
static uint32_t as2;
static uint64_t iova2;

static void pick_as2(struct fx *f)
{
	as2 = fx_has_as(f, 1) ? 1 : 0;
	iova2 = as2 ? 0 : 64 * MIB;
}

static int op_commit_many(struct fx *f)
{
	struct vdpamap_txn *t;
	int i, r;

	r = vdpamap_txn_begin(f->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < 6; i++) {
		r = vdpamap_txn_map(t, i / 3 ? as2 : 0, GPA + (uint64_t)i * MIB,
				    f->mem + (uint64_t)i * MIB, MIB,
				    VDPAMAP_PERM_RW, NULL);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
	}
	/* and take away what the setup mapped */
	vdpamap_txn_unmap(t, 0, 0, MIB);
	vdpamap_txn_unmap(t, as2, iova2, MIB);
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

	pick_as2(f);
	for (k = 1; k <= max_k; k++) {
		struct snap before;

		assert_int_equal(fx_open(f, &o), 0);
		map_ok(f, 0, 0, 6 * MIB, MIB);
		map_ok(f, as2, iova2, 7 * MIB, MIB);
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
			break; /* k passed every message: sweep complete */
	}
	assert_int_equal(r, 0);
	assert_true(k > 1);
}

void test_fault_sweep_commit(void **state)
{
	struct fx *f = *state;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	sweep(f, op_commit_many, VDPAMAP_SIM_FAIL_MSG, 64);
}

void test_fault_sweep_reset(void **state)
{
	struct fx *f = *state;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	sweep(f, op_reset, VDPAMAP_SIM_FAIL_MSG, 64);
	sweep(f, op_reset, VDPAMAP_SIM_FAIL_IOCTL, 64);
}

void test_fault_sweep_open(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region rg = {
		.hva = f->mem, .len = f->mem_size, .fd = f->memfd, .iova = GPA
	};
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

/* ---- the device goes away (issue 16, misuse 8): a simulator daemon that
 * exits or is killed.  A kernel's device cannot be made to vanish from
 * under an open fd here, and its own errors stay as they are: simulator
 * only. */

/* The daemon is gone once its end of our connection hung up. */
static void wait_hangup(struct fx *f)
{
	struct pollfd p = { .fd = vdpamap_fd(f->h), .events = POLLIN };
	int i;

	for (i = 0; i < 500; i++) {
		if (poll(&p, 1, 10) == 1 && (p.revents & (POLLHUP | POLLIN)))
			return;
	}
	fail_msg("the simulator (pid %d) did not go", (int)f->sim_pid);
}

void test_device_gone(void **state)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho);
	struct fx *f = *state;
	struct vdpamap_stats st0, st1;
	struct vdpamap_info in;
	unsigned since;
	int sfd = -1;
	uint8_t status;
	void *hva;

	if (!f->is_sim)
		skip_because("a device that goes away under an open handle "
			     "needs the simulator (its daemon is killed)");
	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vdpamap_health(f->h), 0);
	assert_int_equal(kill(f->sim_pid, SIGKILL), 0);
	wait_hangup(f);
	unlink(f->path); /* a killed daemon leaves its socket behind */

	/* the first call that needs it finds it gone: one line, though a
	 * reset logs its failed SET_STATUS otherwise (test_fault_sweep_death
	 * finds it in a commit's IOTLB writes) */
	since = test_nr_err;
	assert_int_equal(vdpamap_reset(f->h, NULL), -ENODEV);
	assert_int_equal(test_nr_err, since + 1);
	assert_non_null(strstr(test_last_err, "device gone"));
	assert_int_equal(vdpamap_health(f->h), -ENODEV);
	assert_non_null(vdpamap_poison_reason(f->h));
	assert_non_null(strstr(vdpamap_poison_reason(f->h), "device gone"));

	/* then every call that needs it: -ENODEV at once, nothing sent,
	 * nothing logged; handoff prepare has nothing to hand over */
	assert_int_equal(vdpamap_get_stats(f->h, &st0), 0);
	assert_int_equal(_map(f, 0, GPA + MIB, MIB, MIB, VDPAMAP_PERM_RW),
			 -ENODEV);
	assert_int_equal(_unmap(f, 0, GPA, MIB), -ENODEV);
	assert_int_equal(vdpamap_set_status(f->h, 1), -ENODEV);
	assert_int_equal(vdpamap_get_status(f->h, &status), -ENODEV);
	assert_int_equal(vdpamap_reset(f->h, NULL), -ENODEV);
	assert_int_equal(vdpamap_handoff_prepare(f->h, &ho, &sfd), -ENODEV);
	assert_int_equal(sfd, -1);
	assert_int_equal(vdpamap_handoff_cancel(f->h), -ENODEV);
	assert_int_equal(vdpamap_get_stats(f->h, &st1), 0);
	assert_int_equal(st1.iotlb_writes, st0.iotlb_writes);
	assert_int_equal(st1.ioctls, st0.ioctls);
	assert_int_equal(test_nr_err, since + 1);

	/* the lookups see what the device acknowledged, and only that */
	assert_int_equal(vdpamap_translate(f->h, 0, GPA, &hva, NULL), 0);
	assert_ptr_equal(hva, f->mem);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + MIB, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	fx_close(f); /* frees everything (ASan, valgrind: no leak) */
}

/* One operation of op_commit_many() in its order: a map of off at iova,
 * or (map 0) an unmap of iova. */
struct commit_op {
	uint64_t iova, off;
	uint32_t asid;
	int map;
};

static void commit_many_ops(struct commit_op *o)
{
	int i;

	for (i = 0; i < 6; i++)
		o[i] = (struct commit_op){ .asid = i / 3 ? as2 : 0,
					   .iova = GPA + (uint64_t)i * MIB,
					   .off = (uint64_t)i * MIB,
					   .map = 1 };
	o[6] = (struct commit_op){ .asid = 0, .iova = 0, .off = 6 * MIB };
	o[7] = (struct commit_op){ .asid = as2, .iova = iova2, .off = 7 * MIB };
}

/* How many of the ops' messages come before the nth IOTLB write of the
 * commit: the library wraps each run of one ASID in BATCH_BEGIN/END when
 * BATCH was negotiated, unless the run is a lone INVALIDATE
 * (iotlb/iotlb.c). */
static int msgs_before(const struct commit_op *o, int nr, bool batch, int nth)
{
	int i = 0, w = 0, done = 0;

	while (i < nr) {
		int end = i, wrap;

		while (end < nr && o[end].asid == o[i].asid)
			end++;
		wrap = batch && (end - i > 1 || o[i].map);
		w += wrap; /* BATCH_BEGIN */
		for (; i < end; i++) {
			if (++w >= nth)
				return done;
			done++;
		}
		w += wrap; /* BATCH_END */
	}
	return done;
}

static bool op_visible(struct fx *f, const struct commit_op *o)
{
	void *hva = NULL;
	int r = vdpamap_translate(f->h, o->asid, o->iova, &hva, NULL);

	if (!o->map)
		return r == -ENOENT;
	return r == 0 && hva == f->mem + o->off;
}

/* The daemon exits at each IOTLB write of a commit in turn (before doing
 * it, answering nothing): the commit says -ENODEV and logs one line,
 * nothing is rolled back, and the lookups show a prefix of the commit's
 * operations that the device acknowledged before it went, never one
 * past it. */
void test_fault_sweep_death(void **state)
{
	struct commit_op ops[8];
	struct fx *f = *state;
	int k, r = -1;

	if (!f->is_sim)
		skip_because("a device that goes away needs the simulator "
			     "(vdpamap_sim_fail_nth EXIT)");
	for (k = 1; k <= 64; k++) {
		unsigned since;
		int i, m, bound;
		bool batch;

		if (k > 1) { /* the last daemon is gone: a fresh one */
			fx_teardown(f);
			assert_int_equal(fx_setup(f, NULL, MEM_SIZE), 0);
		}
		pick_as2(f);
		commit_many_ops(ops);
		open_default(f);
		map_ok(f, 0, 0, 6 * MIB, MIB);
		map_ok(f, as2, iova2, 7 * MIB, MIB);
		batch = vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH);
		assert_int_equal(vdpamap_sim_fail_nth(f->path,
						      VDPAMAP_SIM_FAIL_EXIT, k),
				 0);
		since = test_nr_err;
		r = op_commit_many(f);
		if (r == 0) { /* k passed every message: sweep complete */
			assert_int_equal(
				vdpamap_sim_fail_nth(f->path,
						     VDPAMAP_SIM_FAIL_EXIT, 0),
				0);
			mirror_matches_device(f);
			fx_close(f);
			break;
		}
		assert_int_equal(r, -ENODEV);
		assert_int_equal(test_nr_err, since + 1);
		assert_non_null(strstr(test_last_err, "device gone"));
		assert_int_equal(vdpamap_health(f->h), -ENODEV);
		/* a prefix, and none past the death */
		for (m = 0; m < 8 && op_visible(f, &ops[m]); m++)
			;
		for (i = m; i < 8; i++)
			if (op_visible(f, &ops[i]))
				fail_msg("k %d: op %d visible after op %d "
					 "was not",
					 k, i, m);
		bound = msgs_before(ops, 8, batch, k);
		if (m > bound)
			fail_msg("k %d: %d ops visible, the device took "
				 "at most %d",
				 k, m, bound);
		assert_int_equal(_map(f, 0, GPA + 7 * MIB, 7 * MIB, MIB,
				      VDPAMAP_PERM_RW),
				 -ENODEV);
		assert_int_equal(test_nr_err, since + 1);
		fx_close(f);
	}
	assert_int_equal(r, 0);
	assert_true(k > 1);
}
