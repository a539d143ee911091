// SPDX-License-Identifier: BSD-3-Clause
/*
 * What vdpamap_flip() and vdpamap_unflip() refuse (changing nothing),
 * a shadow ASID without room, and the flip's own fault sweep.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conformance.h"

/* flip with opts o must fail with -err, log want and change nothing */
#define flip_err(f, e, asid, o, want) \
	expect_nochange(f, e, want, vdpamap_flip((f)->h, asid, o, NULL))

#define unflip_err(f, e, id, o, want) \
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
	unflip_err(f, EINVAL, id, &o,
		   "unflip: opts: unknown flags 0x80 or "
		   "NULL vrings");
	o = uo;
	o.vrings = NULL;
	unflip_err(f, EINVAL, id, &o,
		   "unflip: opts: unknown flags 0x0 or "
		   "NULL vrings");
	memset(vr, 0, sizeof(*vr));
	vr->vq = 0;
	vr->desc = 4096; /* only vq, flags, base */
	unflip_err(f, EINVAL, id, &uo,
		   "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	vr->desc = 0;
	vr->flags = 1U << 5;
	unflip_err(f, EINVAL, id, &uo,
		   "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	vr->flags = 0;
	vr->reserved[1] = 1;
	unflip_err(f, EINVAL, id, &uo,
		   "unflip: vrings[0]: only vq, flags and "
		   "base may be set");
	memset(vr, 0, sizeof(*vr));
	vr->vq = 2; /* not re-pointed */
	unflip_err(f, EINVAL, id, &uo, "did not re-point vq 2");
	/* guest memory unmapped meanwhile: the device would resume on guest
	 * rings ASID 0 no longer maps */
	unmap_ok(f, 0, GPA + WIN_OFF, WIN_SIZE);
	unflip_err(f, EFAULT, id, NULL,
		   "is not mapped in ASID 0: re-point it "
		   "or reset first");
	map_window(f, 0, GPA);
}

/* The refusals of a flip of a running device (suspended and resumed around
 * it: SUSPEND and RESUME offered), then a good flip with its unflip
 * refusals.  ok: the caller's good opts (vq 0, one shadow area). */
static void running_bad_input(struct fx *f, const struct vdpamap_flip_opts *ok)
{
	const uint32_t vq0[] = { 0 }, g0[] = { 0 };
	struct vdpamap_flip_vring vr[2];
	struct vdpamap_flip_opts o;
	struct vnet v;
	int id;

	/* vrings: a vq never set up, then (set up) one whose group stays,
	 * rings that do not fit the area */
	memcpy(vr, svq_rings, sizeof(vr));
	o = *ok;
	o.vrings = vr;
	o.nr_vrings = 1;
	flip_err(f, EINVAL, 1, &o,
		 "flip: vrings[0]: vq 0 was never set up (vdpamap_vring_set()): nothing to return to");
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	vr[0].vq = 2; /* vnet leaves it */
	flip_err(f, EINVAL, 1, &o, "flip: vrings[0]: vq 2 was never set up");
	vr[0].vq = 0;
	o.vqs = NULL; /* group 1 moves */
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
	vr[0].used = 3 * VB + 2; /* misaligned */
	flip_err(f, EINVAL, 1, &o, "do not fit, aligned, in shadows[0]");
	vr[0].used = (uint64_t)3 * VB;
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
	o.nr_vrings = 4; /* > nr_vqs */
	flip_err(f, EINVAL, 1, &o, "too many vrings");
	o.nr_vrings = 1;
	flip_err(f, EINVAL, 1, NULL, "flip: opts: nothing to move");
	o.vqs = NULL; /* NULL with a count */
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
	o = *ok;
	o.groups = g0;
	o.nr_groups = 1;
	o.nr_vqs = 0;
	/* running, vring 0 and 1 not given: would resume on unmapped rings */
	flip_err(f, EFAULT, 1, &o,
		 "would not be mapped in shadow ASID 1: give its shadow rings in vrings");
	vnet_stop(&v);
	loop_ok(f, GPA + RING_OFF);
	mirror_matches_device(f);
}

void test_flip_bad_input(void **state)
{
	struct fx *f = *state;
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	const uint32_t vq0[] = { 0 }, vq3[] = { 3 }, g2[] = { 2 };
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
	struct vdpamap_info in;
	char want[96];
	struct vnet v;
	int id;

	/* IOTLB_ASID not negotiated */
	assert_int_equal(fx_open(f, &noasid), 0);
	map_window(f, 0, GPA);
	flip_err(f, EOPNOTSUPP, 1, &ok,
		 "flip: needs IOTLB_ASID (not negotiated)");
	fx_close(f);

	/* a shadow ASID out of range: the first one past the device's */
	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	open_default(f);
	map_window(f, 0, GPA);
	fx_info(f, &in);
	snprintf(want, sizeof(want),
		 "flip: shadow asid %u out of range (%u "
		 "address spaces)",
		 in.nr_as, in.nr_as);
	flip_err(f, ERANGE, in.nr_as, &ok, want);

	/* the rest flips into ASID 1 and moves group 1; the refusals of
	 * flips of a started device need it suspended and resumed around
	 * them (SUSPEND and RESUME) */
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
	o = ok;
	o.vqs = vq3; /* unknown vq */
	flip_err(f, ENOENT, 1, &o, "flip: vqs[0]: no vq 3 (");
	o = ok;
	o.vqs = NULL;
	o.nr_vqs = 0;
	o.groups = g2; /* unknown group */
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
	o.nr_vqs = 0; /* nothing to move */
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
	sh.hva = (void *)(uintptr_t)0x10000; /* no region */
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
		flip_err(f, ENOMEM, 1, &ok,
			 "memlock: needs 1048576 bytes, 0 "
			 "available (RLIMIT_MEMLOCK 1048576, pinned ");
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	}
	if (fx_offers(f, VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME)) {
		running_bad_input(f, &ok);
	} else {
		/* SUSPEND without RESUME (Linux 6.0-6.2): a running device
		 * is flipped through a reset, refused without PERSIST
		 * unless a replay is asked for (test_flip_loopback) */
		assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
					    GPA + RING_OFF, RING_SIZE),
				 0);
		memcpy(vr, svq_rings, sizeof(vr));
		o = ok;
		o.vqs = vqs01;
		o.nr_vqs = 2;
		o.vrings = vr;
		o.nr_vrings = 2;
		if (!fx_offers(f, VDPAMAP_F_IOTLB_PERSIST))
			flip_err(f, EOPNOTSUPP, 1, &o,
				 "reset path: needs "
				 "IOTLB_PERSIST (not negotiated");
		assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
		vnet_stop(&v);
		fprintf(stderr, "  device lacks RESUME: the refusals of a "
				"running flip's opts not reached\n");
	}
	fx_close(f);

	/* PA mode pins whole system pages: a shadow area not made of them is
	 * refused with ALLOW_UNALIGNED too, as a map is (test_unaligned) */
	if (f->pa) {
		VDPAMAP_OPTS(vdpamap_open_opts, unal,
			     .flags = VDPAMAP_OPEN_ALLOW_UNALIGNED);

		assert_int_equal(fx_open(f, &unal), 0);
		map_window(f, 0, GPA);
		sh.size = RING_SIZE - 0x100;
		flip_err(f, EINVAL, 1, &ok, "PA mode pins whole pages of 0x");
		sh.size = RING_SIZE;
		sh.hva = shadow_mem(f) + 0x100;
		flip_err(f, EINVAL, 1, &ok, "PA mode pins whole pages of 0x");
		sh.hva = shadow_mem(f);
		fx_close(f);
	}

	/* a running device that cannot be suspended */
	assert_int_equal(fx_open(f, &nosusp), 0);
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	memcpy(vr, svq_rings, sizeof(vr));
	o = ok;
	o.vrings = vr;
	o.nr_vrings = 2;
	flip_err(f, EOPNOTSUPP, 1, &o,
		 "the device runs and cannot be suspended (SUSPEND not "
		 "negotiated)");
	vnet_stop(&v);
	fx_close(f);

	/* running rings cannot be re-pointed without ENABLE_AFTER_DRIVER_OK
	 * (asked once the device can be suspended and resumed at all) */
	if (fx_offers(f, VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME)) {
		VDPAMAP_OPTS(vdpamap_open_opts, noeado,
			     .want_features =
				     VDPAMAP_F_KNOWN &
				     ~VDPAMAP_F_ENABLE_AFTER_DRIVER_OK);

		assert_int_equal(fx_open(f, &noeado), 0);
		map_window(f, 0, GPA);
		assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF,
					    GPA + RING_OFF, RING_SIZE),
				 0);
		flip_err(f, EOPNOTSUPP, 1, &o,
			 "flip: vq 0 runs: re-pointing it needs ENABLE_AFTER_DRIVER_OK (not negotiated); reset, flip and restart instead");
		assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
		vnet_stop(&v);
		fx_close(f);
	}

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
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	unflip_err(f, EOPNOTSUPP, id, NULL,
		   "the device runs and cannot be "
		   "suspended (SUSPEND not negotiated)");
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	vnet_stop(&v);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0); /* the flip stays */
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
}

/* No hole for a shadow area in a device with a small IOVA range: the shadow
 * ASID may not reuse IOVAs the memory ASID of a moving group maps, and the
 * 4 MiB range holds 3 MiB of guest memory there. */
void test_flip_nospc(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .iova_first = 0x100000,
		     .iova_last = 0x100000 + 4 * MIB - 1);
	struct vdpamap_shadow sh = { .size = 2 * MIB };
	const uint32_t vq0[] = { 0 };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vq0, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	struct vdpamap_info in;
	int id;

	(void)state;
	/* vdpa_sim's range is fixed at [0, 2^64-1]: on the kernel and a
	 * profile playing one, only a device with this range runs it */
	if (fx_plays_device())
		fx_need_default_iova(so.iova_first, so.iova_last);
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	fx_info(&f, &in);
	if (!(in.backend_offered & VDPAMAP_F_IOTLB_ASID) || in.nr_as < 2) {
		fx_teardown(&f);
		if (!(in.backend_offered & VDPAMAP_F_IOTLB_ASID))
			skip_because("device lacks IOTLB_ASID (offer 0x%llx)",
				     (unsigned long long)in.backend_offered);
		skip_because("device has %u address space, needs 2 (offer "
			     "0x%llx)",
			     in.nr_as, (unsigned long long)in.backend_offered);
	}
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
				    RING_SIZE),
			 0);
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
	return 0; /* k is past the last event: the sweep is complete */
}

void test_flip_fault_sweep(void **state)
{
	struct fx *f = *state;
	uint32_t kind, k;
	int unflip;

	if (!f->is_sim)
		skip_because("fault injection needs the simulator");
	/* flips of a started device into ASID 1 */
	fx_need(f, VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME);
	fx_need_as(f, 2);
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
