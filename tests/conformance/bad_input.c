// SPDX-License-Identifier: BSD-3-Clause
/*
 * docs/bad-input.md: calls refused before the device sees anything
 * (map, unmap, device and simulator calls).
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "conformance.h"

void test_bad_input(void **state)
{
	struct fx *f = *state;
	uint8_t *m;
	struct rlimit rl;

	open_default(f);
	m = f->mem;
	map_ok(f, 0, GPA, 0, 2 * MIB);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m, 0, VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB + 1, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB + 8, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB - 100,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB, 0);
	map_err(f, EINVAL, 0, GPA + 4 * MIB, m + 4 * MIB, MIB, 4);
	map_err(f, EOVERFLOW, 0, UINT64_MAX - MIB + 1 + 4096, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EINVAL, 0, VDPAMAP_IOVA_ANY, m + 4 * MIB, MIB,
		VDPAMAP_PERM_RW);
	/* overlap: inside, straddling the start, straddling the end, equal */
	map_err(f, EEXIST, 0, GPA + MIB, m + 4 * MIB, 4096, VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA - 4096, m + 4 * MIB, 8192, VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA + 2 * MIB - 4096, m + 4 * MIB, 8192,
		VDPAMAP_PERM_RW);
	map_err(f, EEXIST, 0, GPA, m + 4 * MIB, 2 * MIB, VDPAMAP_PERM_RW);
	/* unknown asid */
	map_err(f, EINVAL, 2, GPA, m, MIB, VDPAMAP_PERM_RW);
	map_err(f, EINVAL, UINT32_MAX, GPA, m, MIB, VDPAMAP_PERM_RW);
	/* hva outside every region, or crossing its end */
	map_err(f, EFAULT, 0, GPA + 8 * MIB, (void *)(uintptr_t)0x1000, MIB,
		VDPAMAP_PERM_RW);
	map_err(f, EFAULT, 0, GPA + 8 * MIB, m + f->mem_size - MIB, 2 * MIB,
		VDPAMAP_PERM_RW);
	/* unmaps */
	unmap_err(f, EINVAL, 0, GPA, 0);
	unmap_err(f, EINVAL, 0, GPA, MIB);	      /* cuts the entry */
	unmap_err(f, EINVAL, 0, GPA + 4096, 4 * MIB); /* cuts its start */
	unmap_err(f, ENOENT, 0, GPA + 4 * MIB, MIB);
	unmap_err(f, fx_has_as(f, 1) ? ENOENT : EINVAL, 1, GPA, 2 * MIB);
	unmap_err(f, EINVAL, 5, GPA, 2 * MIB);
	unmap_err(f, EOVERFLOW, 0, UINT64_MAX, 2);
	/* memlock over budget (PA mode charges it, even for root) */
	if (f->pa) {
		struct rlimit low = { .rlim_cur = 1 * MIB, .rlim_max = 0 };

		assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
		low.rlim_max = rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
		map_err(f, ENOMEM, 0, GPA + 4 * MIB, m + 4 * MIB, 2 * MIB,
			VDPAMAP_PERM_RW);
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	}
	mirror_matches_device(f);
	/* the device still works after all that */
	map_ok(f, 0, GPA + 2 * MIB, 2 * MIB, 6 * MIB);
	loop_ok(f, GPA + RING_OFF);
}

void test_bad_input_no_asid(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_ASID);

	int err;

	assert_int_equal(fx_open(f, &o), 0);
	assert_false(vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_ASID));
	/* the kernel would silently put this in ASID 1 in ASID 0; a device
	 * with one address space has no ASID 1 at all */
	err = fx_has_as(f, 1) ? EOPNOTSUPP : EINVAL;
	map_err(f, err, 1, GPA, f->mem, MIB, VDPAMAP_PERM_RW);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 1), -err);
	assert_int_equal(vdpamap_set_group_asid(f->h, 0, 0), 0);
	mirror_matches_device(f);
}

/* ---- docs/bad-input.md: device calls refused before the device sees
 * anything: no ioctl, no IOTLB write, mirror, status and config as
 * they were */
void test_bad_device_args(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN &
				      ~(VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME));
	struct vdpamap_vring v = { .num = 64, .kick_fd = -1, .call_fd = -1 };
	struct vdpamap_stats s0, s1;
	struct vdpamap_info in;
	uint8_t st0, st1, cfg0[6], cfg1[6], b[32] = { 0 };
	uint32_t u;
	struct snap sn;

	open_default(f);
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &st0), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg0, 6), 0);
	snap_take(f, &sn);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	/* out-parameters */
	assert_int_equal(vdpamap_vq_group(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vq_desc_group(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_status(f->h, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_features(f->h, NULL), -EINVAL);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vring_get_base(f->h, 0, NULL), -EINVAL);
	/* config */
	assert_int_equal(vdpamap_get_config(f->h, 0, NULL, 6), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, 0, NULL, 6), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, 0, b, 0), -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, in.config_size - 2, b, 4),
			 -EINVAL);
	assert_int_equal(vdpamap_set_config(f->h, UINT32_MAX, b, 1), -EINVAL);
	/* virtio features the device does not offer */
	assert_int_equal(vdpamap_set_features(f->h, ~in.device_features),
			 -EINVAL);
	/* vrings: index, size 0, not a power of two, above the maximum */
	assert_int_equal(vdpamap_vring_set(f->h, 0, NULL), -EINVAL);
	assert_int_equal(vdpamap_vring_set(f->h, in.nr_vqs, &v), -EINVAL);
	v.num = 0;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	v.num = 48;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	v.num = in.max_vring_num * 2;
	assert_int_equal(vdpamap_vring_set(f->h, 0, &v), -EINVAL);
	assert_int_equal(vdpamap_vring_enable(f->h, in.nr_vqs, 1), -EINVAL);
	assert_int_equal(vdpamap_vring_get_base(f->h, in.nr_vqs, &u), -EINVAL);
	/* nothing reached the device */
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(s1.ioctls, s0.ioctls);
	assert_int_equal(s1.iotlb_writes, s0.iotlb_writes);
	snap_equal(f, &sn);
	assert_int_equal(vdpamap_get_status(f->h, &st1), 0);
	assert_int_equal(st1, st0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg1, 6), 0);
	assert_memory_equal(cfg0, cfg1, 6);
	fx_close(f);

	/* SUSPEND and RESUME not negotiated */
	assert_int_equal(fx_open(f, &o), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	assert_int_equal(vdpamap_suspend(f->h), -EOPNOTSUPP);
	assert_int_equal(vdpamap_resume(f->h), -EOPNOTSUPP);
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(s1.ioctls, s0.ioctls);
}

/* The simulator's own entry points, and a descriptor group out of range
 * (only a DESC_ASID device has descriptor groups: the simulator's). */
void test_bad_sim_args(void **state)
{
	struct fx *f = *state, g;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_as = 2, .nr_groups = 3, .nr_vqs = 3);
	char path[108], dir[200];
	struct vdpamap_sim_stats st;
	struct vdpamap_info in;
	uint32_t grp;
	pid_t pid = 0;

	(void)state;
	if (!f->is_sim)
		skip_because("the simulator's entry points need the simulator");
	assert_int_equal(vdpamap_sim_spawn(NULL, NULL, 0, &pid), -EINVAL);
	assert_int_equal(vdpamap_sim_spawn(NULL, path, 0, &pid), -EINVAL);
	assert_int_equal(vdpamap_sim_spawn(NULL, path, 10, &pid), -ERANGE);
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = 0;
	so.dir = dir;
	assert_int_equal(vdpamap_sim_spawn(&so, path, sizeof(path), &pid),
			 -ENAMETOOLONG);
	assert_int_equal(pid, 0);
	assert_int_equal(vdpamap_sim_serve(NULL, NULL), -EINVAL);
	assert_int_equal(vdpamap_sim_serve(dir, NULL), -ENAMETOOLONG);
	assert_int_equal(vdpamap_sim_fail_nth(f->path,
					      VDPAMAP_SIM_FAIL_EXIT + 1, 1),
			 -EINVAL);
	assert_int_equal(vdpamap_sim_get_stats(f->path, NULL), -EINVAL);
	assert_int_equal(vdpamap_sim_get_state(f->path, NULL), -EINVAL);
	assert_int_equal(vdpamap_sim_table(f->path, 2, NULL, 0), -EINVAL);
	assert_int_equal(vdpamap_sim_stop("/nonexistent-vdpamap/sim.sock"),
			 -ENOENT);
	/* the daemon is unharmed */
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	so.dir = NULL;
	/* a kernel with GET_VRING_DESC_GROUP, whichever one the suite's
	 * profile plays: these entry points are the simulator's own */
	so.profile = "linux-6.12";
	assert_int_equal(fx_setup(&g, &so, MEM_SIZE), 0);
	open_default(&g);
	assert_int_equal(vdpamap_get_info(g.h, &in), 0);
	assert_int_equal(vdpamap_vq_desc_group(g.h, 0, &grp), 0);
	assert_int_equal(vdpamap_vq_desc_group(g.h, in.nr_vqs, &grp), -EINVAL);
	fx_teardown(&g);
}
