// SPDX-License-Identifier: BSD-3-Clause
/*
 * Virtqueue groups and address spaces: a group moved to ASID 1, kept
 * across reset; with DESC_ASID, rings in their descriptor group's ASID.
 */
#include <errno.h>
#include <stdlib.h>

#include "conformance.h"

void test_group_asid(void **state)
{
	struct fx *f = *state;
	struct vdpamap_reset_info ri;
	uint32_t asid;

	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
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
					    GPA + RING_OFF, RING_SIZE),
				 -EFAULT);
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

/* With DESC_ASID a vq's rings live in its descriptor group's ASID, its
 * buffers in its vq group's: DRIVER_OK must look for the rings there. */
void test_driver_ok_desc_asid(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_as = 2, .nr_groups = 3, .nr_vqs = 3);
	struct vnet v;
	uint32_t g;

	(void)state;
	fx_need_desc_asid();
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	assert_int_equal(vdpamap_vq_desc_group(f.h, 0, &g), 0);
	assert_int_equal(g, 2);
	assert_int_equal(vdpamap_set_group_asid(f.h, 2, 1), 0);
	/* rings and buffers mapped in ASID 0 only: the rings' ASID is 1 */
	map_window(&f, 0, GPA);
	assert_int_equal(vnet_start(&v, f.h, f.mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 -EFAULT);
	/* the descriptor group's ASID sees them too: started, and loops */
	map_window(&f, 1, GPA);
	loop_ok(&f, GPA + RING_OFF);
	fx_teardown(&f);
}

/* The restart hook of the reset path: DRIVER_OK is set, only the control
 * vq (none here: vnet negotiates none) is enabled. */
static int count_hook(struct vdpamap *h, void *ctx)
{
	(void)h;
	++*(int *)ctx;
	return 0;
}

/* A started device whose group ASIDs are frozen at DRIVER_OK (Linux >=
 * 7.0, the linux-7.3 profile): vdpamap_set_group_asid() passes the
 * kernel's EBUSY through and resets nothing; the reset path is asked for
 * with vdpamap_set_group_asid_opts().  Elsewhere both bind in place. */
void test_group_asid_frozen(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_group_asid_opts, go,
		     .flags = VDPAMAP_GROUP_ASID_RESET);
	uint32_t asid, to;
	struct vnet v;
	int r, hooked = 0;

	fx_need(f, VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND);
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
	open_default(f);
	/* ASID 1 maps guest memory at the same IOVAs: the rings stay valid */
	map_window(f, 0, GPA);
	map_window(f, 1, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	go.flags = 1U << 9;
	assert_int_equal(vdpamap_set_group_asid_opts(f->h, 0, 1, &go), -EINVAL);
	go.flags = VDPAMAP_GROUP_ASID_RESET;
	r = vdpamap_set_group_asid(f->h, 0, 1);
	if (r == 0) {
		fprintf(stderr, "  group ASIDs change in place on this "
				"device\n");
		assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
		assert_int_equal(vdpamap_set_group_asid_opts(f->h, 0, 0, &go),
				 0);
		assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
		vnet_stop(&v);
		return;
	}
	assert_int_equal(r, -EBUSY);
	/* nothing was reset behind the caller's back */
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 0);
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
	if (!vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_PERSIST)) {
		assert_int_equal(vdpamap_set_group_asid_opts(f->h, 0, 1, &go),
				 -EOPNOTSUPP);
		go.flags |= VDPAMAP_GROUP_ASID_REPLAY;
	}
	/* without ENABLE_AFTER_DRIVER_OK a hook would leave DRIVER_OK to
	 * vdpamap_resume() */
	if (vdpamap_has_feature(f->h, VDPAMAP_F_ENABLE_AFTER_DRIVER_OK)) {
		go.restart_fn = count_hook;
		go.restart_ctx = &hooked;
	}
	for (to = 1; to != UINT32_MAX; to--) {
		assert_int_equal(vdpamap_set_group_asid_opts(f->h, 0, to, &go),
				 0);
		assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
		assert_int_equal(asid, to);
		/* the data vqs restarted where they stopped, KICK and CALL
		 * as vnet set them */
		assert_int_equal(vnet_loop(&v, 10 + to, 100, LOOP_MS), 0);
	}
	assert_int_equal(hooked,
			 vdpamap_has_feature(f->h,
					     VDPAMAP_F_ENABLE_AFTER_DRIVER_OK) ?
				 2 :
				 0);
	vnet_stop(&v);
	mirror_matches_device(f);
}
