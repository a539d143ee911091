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
					    GPA + RING_OFF, RING_SIZE), -EFAULT);
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
	if (getenv("VDPAMAP_TEST_DEV"))
		skip_because("vdpa_sim offers no DESC_ASID; the simulator "
			     "models it on mlx5");
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	assert_int_equal(vdpamap_vq_desc_group(f.h, 0, &g), 0);
	assert_int_equal(g, 2);
	assert_int_equal(vdpamap_set_group_asid(f.h, 2, 1), 0);
	/* rings and buffers mapped in ASID 0 only: the rings' ASID is 1 */
	map_window(&f, 0, GPA);
	assert_int_equal(vnet_start(&v, f.h, f.mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE), -EFAULT);
	/* the descriptor group's ASID sees them too: started, and loops */
	map_window(&f, 1, GPA);
	loop_ok(&f, GPA + RING_OFF);
	fx_teardown(&f);
}
