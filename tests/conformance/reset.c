// SPDX-License-Identifier: BSD-3-Clause
/*
 * Reset: the table kept (IOTLB_PERSIST) or resynced by the library, and
 * the negative control that proves the resync needed.
 */
#include <errno.h>

#include <sys/socket.h>
#include <linux/vhost.h>

#include "conformance.h"
#include "transport/simproto.h"

static void reset_case(struct fx *f, int persist)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = persist ?
					      VDPAMAP_F_KNOWN :
					      VDPAMAP_F_KNOWN &
						      ~VDPAMAP_F_IOTLB_PERSIST);
	struct vdpamap_reset_info ri;
	struct vdpamap_stats s0, s1;
	int two = fx_has_as(f, 1);

	if (persist)
		fx_need(f, VDPAMAP_F_IOTLB_PERSIST);
	assert_int_equal(fx_open(f, &o), 0);
	map_window(f, 0, GPA);
	/* the second address space's map, or a second entry in ASID 0 */
	if (two)
		map_ok(f, 1, GPA, 0, MIB);
	else
		map_ok(f, 0, 4 * GPA, 0, MIB);
	loop_ok(f, GPA + RING_OFF);
	assert_int_equal(vdpamap_get_stats(f->h, &s0), 0);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &s1), 0);
	assert_int_equal(ri.entries, 2);
	if (persist) {
		assert_int_equal(ri.path, VDPAMAP_RESET_PERSIST);
		assert_int_equal(ri.iotlb_msgs, 0);
	} else {
		assert_int_equal(ri.path, VDPAMAP_RESET_RESYNC);
		/* every entry sent again, and nothing else but the
		 * invalidations and batch markers; with two address
		 * spaces: asid 0 INV+UPD alone, asid 1 likewise, each a
		 * batch */
		assert_int_equal(s1.iotlb_updates - s0.iotlb_updates, 2);
		assert_int_equal(ri.iotlb_msgs,
				 s1.iotlb_writes - s0.iotlb_writes);
		if (two)
			assert_int_equal(ri.iotlb_msgs, 2 * (2 + 2));
	}
	mirror_matches_device(f);
	loop_ok(f, GPA + RING_OFF);
	/* twice in a row is fine too */
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	loop_ok(f, GPA + RING_OFF);
}

void test_reset_persist(void **state)
{
	reset_case(*state, 1);
}

void test_reset_resync(void **state)
{
	reset_case(*state, 0);
}

/* SET_STATUS straight to the simulator, bypassing the library. */
static int raw_sim_set_status(int sock, uint8_t status)
{
	struct {
		struct vsim_req req;
		uint8_t status;
	} __attribute__((packed)) pkt = {
		.req = { .magic = VSIM_MAGIC,
			 .op = VSIM_OP_IOCTL,
			 .arg = VHOST_VDPA_SET_STATUS,
			 .len = 1 },
		.status = status,
	};
	struct vsim_rep rep;

	if (send(sock, &pkt, sizeof(pkt), MSG_NOSIGNAL) != sizeof(pkt))
		return -errno;
	if (recv(sock, &rep, sizeof(rep), 0) != sizeof(rep))
		return -EPROTO;
	return rep.ret;
}

/* Negative control: without persist and without the library's resync the
 * data path must really be broken, or the resync test proves nothing. */
void test_reset_without_resync_breaks(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .want_features = VDPAMAP_F_KNOWN &
				      ~VDPAMAP_F_IOTLB_PERSIST);
	struct vnet v;
	uint8_t zero = 0;

	if (!f->is_sim)
		skip_because("on the kernel a device started on identity "
			     "passthrough reads raw physical memory (UAPI.md): "
			     "not run there");
	assert_int_equal(fx_open(f, &o), 0);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
	/* raw reset behind the library's back */
	assert_int_equal(raw_sim_set_status(vdpamap_fd(f->h), zero), 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 7, 100, 300), -ETIMEDOUT);
	vnet_stop(&v);
}
