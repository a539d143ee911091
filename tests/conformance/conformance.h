/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conformance: what the cases of the conformance suite share.  One binary
 * (main.c holds the case list and runs one case by name: --list, -t), one
 * file per lifecycle step:
 *
 *   open.c              open, device info and config, features, adopt_fd
 *   mapping.c           map/unmap, regions, IOVA allocation, transactions
 *   datapath.c          DRIVER_OK, loopback, premap at open, suspend, fork
 *   reset.c             reset: persist, resync, and without resync
 *   groups.c            virtqueue groups and ASIDs (DESC_ASID too)
 *   lookups.c           lock-free translate/reverse against a writer
 *   device_faults.c     the device fails each message/ioctl of commit,
 *                       reset, open in turn (fault_sweep.c, a binary of
 *                       its own, fails allocations and syscalls); the
 *                       device goes away (its daemon killed, or exiting
 *                       at each message of a commit)
 *   flip.c              SVQ ASID flip: loopback, dirty log, reset, DESC_ASID
 *   flip_refusals.c     what flip/unflip refuse, no room, flip fault sweep
 *   handoff_refusals.c  what handoff prepare/adopt/reattach refuse, busy
 *   bad_input.c         docs/bad-input.md: map, device and simulator calls
 *   raw_uapi.c          raw requests the library never sends, so that the
 *                       simulator's profiles are compared with the kernel
 *
 * How a case reaches a device (simulator or kernel) and the assertion
 * helpers in threes (_map() returns, map_ok() asserts success, map_err(E,
 * ...) expects -E and no change) are backend.h's.
 */
#ifndef VDPAMAP_TESTS_CONFORMANCE_H
#define VDPAMAP_TESTS_CONFORMANCE_H

#include <stdio.h>  /* skip_because() */
#include <string.h> /* expect_nochange() */

#include "backend.h"
#include "vnet.h"

#define MIB	  (1ULL << 20)
#define MEM_SIZE  (8 * MIB)
#define GPA	  0x40000000ULL /* where guest memory sits in ASID 0 */
#define RING_OFF  (4 * MIB)	/* the vnet area inside guest memory */
#define RING_SIZE (1 * MIB)
#define LOOP_MS	  3000

/* the per-case fixture: a fresh backend with MEM_SIZE of memory, no
 * handle open yet (cmocka setup and teardown) */
int setup(void **state);
int teardown(void **state);

void open_default(struct fx *f);
/* map all guest memory at GPA in asid */
void map_guest(struct fx *f, uint32_t asid);

/* map only the window around the vnet area, at base + its offset: PA-mode
 * tests must fit the default 8 MiB RLIMIT_MEMLOCK, which root cannot raise
 * without CAP_SYS_RESOURCE */
#define WIN_OFF	 (RING_OFF - MIB)
#define WIN_SIZE (RING_SIZE + 2 * MIB)
void map_window(struct fx *f, uint32_t asid, uint64_t base);

/* three frames TX -> RX through rings at ring_iova */
void loop_ok(struct fx *f, uint64_t ring_iova);

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

void dstate_take(struct fx *f, struct dstate *d);
/* the function behind the macro dstate_equal() (STYLE.md: helpers in
 * threes):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
void _dstate_equal(struct fx *f, const struct dstate *a, int line);
#define dstate_equal(f, a) _dstate_equal(f, a, __LINE__)

/* call must return -err, log a line containing want (see log_expect) and
 * change nothing */
#define expect_nochange(f, err, want, call)                                 \
	do {                                                                \
		struct dstate d_;                                           \
		unsigned n_;                                                \
		int r_;                                                     \
		dstate_take(f, &d_);                                        \
		n_ = test_nr_err;                                           \
		r_ = (call);                                                \
		if (r_ != -(err))                                           \
			fail_msg("line %d: %s: got %d (%s), want -%d (%s)", \
				 __LINE__, #call, r_, strerror(-r_), err,   \
				 strerror(err));                            \
		log_expect(n_, want);                                       \
		dstate_equal(f, &d_);                                       \
	} while (0)

/* ---- the SVQ flip's shadow area (flip.c says how its cases use it) */
#define SHADOW_OFF 0 /* offset of the shadow area in mem */
#define VB \
	4096u /* vnet.c's block: rings at blocks
					   1..3 (rx) and 4..6 (tx), rx buffers
					   from block 7, 2 KiB each */

static inline uint8_t *shadow_mem(struct fx *f)
{
	return f->mem + SHADOW_OFF;
}

/* (not compound literals inside VDPAMAP_OPTS(): they would die with its
 * statement expression) */
extern const uint32_t vqs01[2], grp1[1];
extern const struct vdpamap_flip_vring svq_rings[2];

/* copy the driver's whole vnet area to to_mem (flip.c: svq_move()) */
void svq_copy(struct vnet *v, uint8_t *to_mem);

/* ---- the cases, in main.c's order, by file */

/* open.c */
void test_open_info(void **state);
void test_config(void **state);
void test_open_exclusive(void **state);
void test_close_releases(void **state);
void test_required_feature_missing(void **state);
void test_opts_sizes(void **state);
void test_adopt_fd(void **state);
/* mapping.c */
void test_map_basic(void **state);
void test_map_top_of_space(void **state);
void test_regions(void **state);
void test_region_unmapped(void **state);
void test_unaligned(void **state);
void test_alloc(void **state);
void test_alloc_small_range(void **state);
void test_txn(void **state);
void test_txn_close(void **state);
void test_txn_fork_child(void **state);
void test_raw_clone_child(void **state);
void test_bulk_commit(void **state);
void test_txn_queries(void **state);
void test_txn_asids(void **state);
void test_batching(void **state);
/* datapath.c */
void test_loopback(void **state);
void test_loopback_wrap(void **state);
void test_driver_ok_guard(void **state);
void test_premap_at_open(void **state);
void test_suspend_resume(void **state);
void test_fork_child(void **state);
/* reset.c */
void test_reset_persist(void **state);
void test_reset_resync(void **state);
void test_reset_without_resync_breaks(void **state);
/* groups.c */
void test_group_asid(void **state);
void test_group_asid_frozen(void **state);
void test_driver_ok_desc_asid(void **state);
/* raw_uapi.c */
void test_group_asid_range(void **state);
void test_vring_size(void **state);
void test_vring_group(void **state);
void test_new_owner_raw(void **state);
void test_remap_raw(void **state);
/* lookups.c */
void test_lookups_never_block(void **state);
void test_lookups_race_writer(void **state);
/* device_faults.c */
void test_fault_sweep_commit(void **state);
void test_fault_sweep_reset(void **state);
void test_fault_sweep_open(void **state);
void test_device_gone(void **state);
void test_fault_sweep_death(void **state);
/* flip.c */
void test_flip_loopback(void **state);
void test_flip_zero_guest_msgs(void **state);
void test_flip_reset(void **state);
void test_flip_desc_asid(void **state);
void test_flip_cvq_mac(void **state);
/* flip_refusals.c */
void test_flip_bad_input(void **state);
void test_flip_nospc(void **state);
void test_flip_fault_sweep(void **state);
/* handoff_refusals.c */
void test_handoff_bad_input(void **state);
void test_handoff_busy(void **state);
void test_region_fd(void **state);
/* bad_input.c */
void test_bad_input(void **state);
void test_bad_input_no_asid(void **state);
void test_bad_device_args(void **state);
void test_bad_sim_args(void **state);

#endif
