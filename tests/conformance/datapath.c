// SPDX-License-Identifier: BSD-3-Clause
/*
 * The data path: frames looped through the device, the DRIVER_OK guard,
 * regions premapped at open, suspend/resume, and a forked child refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

void test_loopback(void **state)
{
	struct fx *f = *state;

	open_default(f);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
}

/* More frames than the ring has entries, so that the avail and used
 * indexes wrap several times: a device that walks the ring with another
 * size than the driver's (vdpa_sim before 5.12 always used its maximum)
 * loses frames here, where three frames would pass.  There the library
 * refuses any size but the maximum and vnet takes the maximum. */
void test_loopback_wrap(void **state)
{
	struct fx *f = *state;
	struct vdpamap_info in;
	struct vnet v;
	uint32_t i, n;
	int r;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	map_guest(f, 0);
	r = vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF, RING_SIZE);
	if (r < 0)
		fail_msg("vnet_start: %s", strerror(-r));
	n = 3u * v.qsize + 1;
	for (i = 0; i < n; i++) {
		r = vnet_loop(&v, i, 64, LOOP_MS);
		if (r < 0)
			fail_msg("loopback frame %u of %u (ring of %u): %s", i,
				 n, v.qsize, strerror(-r));
	}
	vnet_stop(&v);
}

void test_driver_ok_guard(void **state)
{
	struct fx *f = *state;
	struct vnet v;

	open_default(f);
	/* rings at IOVAs nobody mapped: DRIVER_OK must be refused before
	 * the device is started (a PA-mode device would read raw memory) */
	map_ok(f, 0, GPA, 0, MIB);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 -EFAULT);
}

void test_premap_at_open(void **state)
{
	struct fx *f = *state;
	struct vdpamap_region rg[2] = {
		{ .hva = f->mem,
		  .len = f->mem_size / 2,
		  .fd = f->memfd,
		  .iova = GPA },
		{ .hva = f->mem + f->mem_size / 2,
		  .len = f->mem_size / 2,
		  .fd = f->memfd,
		  .fd_offset = f->mem_size / 2,
		  .iova = GPA + f->mem_size / 2,
		  .perm = VDPAMAP_PERM_RW },
	};
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = rg, .nr_regions = 2,
		     .prefault_threads = 2);
	struct vdpamap_stats st;

	assert_int_equal(fx_open(f, &o), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 2);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	assert_int_equal(st.iotlb_batches, 1);
	/* the one-page memory-mode probe, then both regions */
	assert_int_equal(st.iotlb_updates, 1 + 2);
	mirror_matches_device(f);
	loop_ok(f, GPA + RING_OFF);
	fx_close(f);
	/* a bad region fails the open and leaves the device free */
	rg[1].iova = GPA; /* overlaps region 0 */
	assert_int_equal(fx_open(f, &o), -EEXIST);
	rg[1].iova = GPA + f->mem_size / 2;
	assert_int_equal(fx_open(f, &o), 0);
}

void test_suspend_resume(void **state)
{
	struct fx *f = *state;
	struct vnet v;
	uint32_t base;
	int resume;

	/* SUSPEND without RESUME (Linux 6.0-6.2): the suspend is tested,
	 * then that a reset is the way out, keeping the maps */
	fx_need(f, VDPAMAP_F_SUSPEND);
	resume = fx_offers(f, VDPAMAP_F_RESUME);
	open_default(f);
	map_guest(f, 0);
	/* before DRIVER_OK both are no-ops (RESUME: refused if not offered) */
	assert_int_equal(vdpamap_suspend(f->h), 0);
	assert_int_equal(vdpamap_resume(f->h), resume ? 0 : -EOPNOTSUPP);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_suspend(f->h), 0);
	assert_int_equal(vdpamap_vring_get_base(f->h, 1, &base), 0);
	assert_int_equal(base, 1);
	/* suspended: the frame waits */
	assert_int_equal(vnet_send(&v, 2, 100), 0);
	assert_int_equal(vnet_recv(&v, 2, 100, 300), -ETIMEDOUT);
	if (resume) {
		assert_int_equal(vdpamap_resume(f->h), 0);
		/* resume delivers the pending kick */
		assert_int_equal(vnet_recv(&v, 2, 100, LOOP_MS), 0);
		assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
		vnet_stop(&v);
		return;
	}
	/* no RESUME: refused, and the device stays stopped ... */
	assert_int_equal(vdpamap_resume(f->h), -EOPNOTSUPP);
	assert_int_equal(vnet_recv(&v, 2, 100, 300), -ETIMEDOUT);
	vnet_stop(&v);
	/* ... until a reset, which keeps the maps: restarted, it loops */
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	mirror_matches_device(f);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	vnet_stop(&v);
	fprintf(stderr, "  device lacks RESUME: suspend tested, then a reset "
			"restarted it\n");
}

void test_fork_child(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int st;

	open_default(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t s;
		int r = vdpamap_get_status(f->h, &s);

		_exit(r == -ECHILD && vdpamap_map(f->h, 0, 0, f->mem, 4096,
						  3) == -ECHILD ?
			      0 :
			      1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	map_ok(f, 0, GPA, 0, MIB);
}
