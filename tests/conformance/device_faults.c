// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fault sweep (simulator only: it injects the failures): every IOTLB
 * message and ioctl of a commit, a reset and an open fails in turn; the
 * mirror must stay the device's table.
 */
#include <errno.h>

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
