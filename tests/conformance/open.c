// SPDX-License-Identifier: BSD-3-Clause
/*
 * Opening a device: what it reports (info, config, features), one
 * opener at a time, required features, options structs of every size,
 * and adopting an fd the caller opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"
#include "shape.h"

void test_open_info(void **state)
{
	struct fx *f = *state;
	struct vdpamap_info in;
	uint32_t g, vq;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	/* vdpa_sim_net as measured (UAPI.md); the counts and the offer are
	 * the device's own: the simulator's from its shape (shape.h), the
	 * kernel's whatever it reports, consistent with itself */
	assert_int_equal(in.device_id, 1);
	/* vdpa_sim_net's config space is its struct (24 bytes); a PCI parent
	 * (vp_vdpa) reports its whole config window (QEMU's: 4 KiB).  Either
	 * holds virtio-net's mac, status, max_virtqueue_pairs and mtu. */
	assert_true(in.config_size >= 12);
	assert_true(in.max_vring_num &&
		    !(in.max_vring_num & (in.max_vring_num - 1)));
	if (f->is_sim) {
		assert_int_equal(in.config_size, 24);
		assert_int_equal(in.max_vring_num, 256);
	}
	if (f->is_sim) {
		/* what it was asked to be (shape), else what its profile
		 * (or the default) resolved to, read on the side channel */
		VDPAMAP_OPTS(vdpamap_sim_opts, so);
		struct vdpamap_sim_limits lim;

		assert_int_equal(sim_shape_apply(&so), 0);
		assert_int_equal(vdpamap_sim_get_limits(f->path, &lim), 0);
		assert_int_equal(in.nr_vqs, so.nr_vqs ?: lim.nr_vqs);
		assert_int_equal(in.nr_groups, so.nr_groups ?: lim.nr_groups);
		assert_int_equal(in.nr_as, so.nr_as ?: lim.nr_as);
		assert_int_equal(in.iova_first, so.iova_first);
		assert_true(in.iova_last ==
			    (so.iova_last ? so.iova_last : lim.iova_last));
		assert_int_equal(in.backend_offered,
				 so.backend_features ?: lim.backend_features);
		if (!so.profile && !so.backend_features)
			assert_int_equal(lim.backend_features, 0x17e);
	}
	assert_true(in.nr_vqs >= 2 && in.nr_groups >= 1 && in.nr_as >= 1);
	assert_true(in.iova_first <= in.iova_last);
	assert_int_equal(in.backend_acked,
			 in.backend_offered & VDPAMAP_F_KNOWN);
	assert_int_equal(vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_ASID),
			 !!(in.backend_acked & VDPAMAP_F_IOTLB_ASID));
	assert_true(in.device_features & (1ULL << 33)); /* ACCESS_PLATFORM */
	assert_int_equal(in.mem_mode,
			 f->pa ? VDPAMAP_MEMMODE_PA : VDPAMAP_MEMMODE_VA);
	assert_int_equal(in.is_sim, f->is_sim);
	/* vdpa_sim: the control vq (the last of 3) alone in group 1 when
	 * there are two groups */
	for (vq = 0; vq < in.nr_vqs; vq++) {
		assert_int_equal(vdpamap_vq_group(f->h, vq, &g), 0);
		assert_int_equal(g, vq == 2 && in.nr_groups > 1 ? 1 : 0);
	}
	assert_int_equal(vdpamap_vq_group(f->h, in.nr_vqs, &g), -EINVAL);
	assert_int_equal(vdpamap_vq_desc_group(f->h, 0, &g), -EOPNOTSUPP);
	assert_true(vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH));
	assert_false(vdpamap_has_feature(f->h, VDPAMAP_F_DESC_ASID));
	assert_string_equal(vdpamap_feature_name(VDPAMAP_F_IOTLB_PERSIST),
			    "IOTLB_PERSIST");
	assert_null(vdpamap_feature_name(3));
}

void test_config(void **state)
{
	struct fx *f = *state;
	struct vdpamap_info in;
	uint8_t mac[6], *big;
	uint32_t cs;

	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	/* the bounds are the device's own config size (vdpa_sim_net: 24,
	 * vp_vdpa: its PCI window) */
	cs = in.config_size;
	big = calloc(1, cs + 1);
	assert_non_null(big);
	assert_int_equal(vdpamap_get_config(f->h, 0, mac, 6), 0);
	assert_int_equal(mac[0], 0x02);
	assert_int_equal(mac[5], 0x02);
	assert_int_equal(vdpamap_get_config(f->h, 0, big, cs), 0);
	assert_memory_equal(big, mac, 6);
	assert_int_equal(vdpamap_get_config(f->h, 0, big, cs + 1), -EINVAL);
	assert_int_equal(vdpamap_get_config(f->h, cs - 4, big, 8), -EINVAL);
	assert_int_equal(vdpamap_get_config(f->h, 0, big, 0), -EINVAL);
	free(big);
}

void test_open_exclusive(void **state)
{
	struct fx *f = *state;
	struct vdpamap *h2 = NULL;

	open_default(f);
	assert_int_equal(vdpamap_open(f->path, NULL, &h2), -EBUSY);
	assert_null(h2);
	fx_close(f);
	/* closing released it */
	open_default(f);
}

/* One round of test_close_releases: open, map a memfd of our own, close,
 * then at once what a program may do next. */
#define CLOSE_MEM (2 * MIB)
static void close_round(struct fx *f, int round)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = test_log,
		     .log_level = VDPAMAP_LOG_DEBUG);
	struct vdpamap *h = NULL;
	pid_t pid;
	uint8_t *mem;
	int fd, st;

	fd = memfd_create("close", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CLOSE_MEM), 0);
	mem = mmap(NULL, CLOSE_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(vdpamap_open(f->path, &o, &h), 0);
	assert_int_equal(vdpamap_region_add(h,
					    &(struct vdpamap_region){
						    .hva = mem,
						    .len = CLOSE_MEM,
						    .fd = fd },
					    NULL),
			 0);
	assert_int_equal(vdpamap_map(h, 0, GPA, mem, CLOSE_MEM,
				     VDPAMAP_PERM_RW),
			 0);
	if (round == 0 && f->pa) {
		/* the check below sees pins: F_SEAL_WRITE refuses (EBUSY)
		 * while a pin, or a writable shared mapping, holds the memfd
		 * (the simulator's pins are its mappings) */
		assert_int_equal(munmap(mem, CLOSE_MEM), 0);
		mem = NULL;
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
		assert_int_equal(errno, EBUSY);
	}
	h = vdpamap_close(h);
	switch (round % 3) {
	case 0:
		/* no page of it stays pinned */
		if (mem)
			assert_int_equal(munmap(mem, CLOSE_MEM), 0);
		mem = NULL;
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0)
			fail_msg("round %d: F_SEAL_WRITE right after close: %s",
				 round, strerror(errno));
		break;
	case 1:
		/* another open at once */
		assert_int_equal(vdpamap_open(f->path, &o, &h), 0);
		h = vdpamap_close(h);
		break;
	case 2:
		/* ... by another process */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int r = vdpamap_open(f->path, NULL, &h);

			vdpamap_close(h);
			_exit(r == 0 ? 0 : r == -EBUSY ? 2 : 1);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("round %d: the child's open: %s", round,
				 WIFEXITED(st) && WEXITSTATUS(st) == 2 ?
					 "EBUSY" :
					 "failed");
		break;
	}
	if (f->is_sim) {
		struct vdpamap_sim_stats ss;

		/* the daemon holds nothing of it */
		assert_int_equal(vdpamap_sim_table(f->path, 0, NULL, 0), 0);
		assert_int_equal(vdpamap_sim_get_stats(f->path, &ss), 0);
		assert_int_equal(ss.pinned_bytes, 0);
	}
	if (mem)
		munmap(mem, CLOSE_MEM);
	close(fd);
}

/* vdpamap_close() returns once the device is released, as the kernel's
 * close() returns after vhost_vdpa_release(): an open right after it, here
 * or in another process, finds the device free (never -EBUSY), the device
 * holds none of its maps and none of its pages stay pinned.  A round a few
 * hundred times: the simulator released later, racing the next step. */
void test_close_releases(void **state)
{
	struct fx *f = *state;
	int i, n = getenv("VDPAMAP_MEMCHECK") ? 30 : 300;

	for (i = 0; i < n; i++)
		close_round(f, i);
}

void test_required_feature_missing(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .require_features = VDPAMAP_F_IOTLB_MSG_V2 |
					 VDPAMAP_F_DESC_ASID);

	assert_int_equal(fx_open(f, &o), -EOPNOTSUPP);
	assert_null(f->h);
	/* wanting less than required is the same error */
	o.require_features = VDPAMAP_F_IOTLB_BATCH;
	o.want_features = VDPAMAP_F_IOTLB_MSG_V2;
	assert_int_equal(fx_open(f, &o), -EOPNOTSUPP);
	/* and the device is still free */
	open_default(f);
}

void test_opts_sizes(void **state)
{
	struct fx *f = *state;
	struct {
		struct vdpamap_open_opts o;
		uint64_t tail[2];
	} big;
	struct vdpamap *h = NULL;

	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.tail[1] = 1;
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), -E2BIG);
	big.tail[1] = 0; /* a zero tail is accepted */
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), 0);
	h = vdpamap_close(h);
	/* an older, shorter struct: only sz */
	big.o.sz = sizeof(size_t);
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), 0);
	h = vdpamap_close(h);
	big.o.sz = 3;
	assert_int_equal(vdpamap_open(f->path, &big.o, &h), -EINVAL);
	assert_null(vdpamap_close(NULL));
}

void test_adopt_fd(void **state)
{
	struct fx *f = *state;
	struct vdpamap *h = NULL;
	int fd;

	if (f->is_sim) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		/* what a caller holds: a plain connected socket */
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa,
					 sizeof(sa)),
				 0);
	} else {
		fd = open(f->path, O_RDWR | O_CLOEXEC);
	}
	assert_true(fd >= 0);
	assert_int_equal(vdpamap_adopt_fd(-1, NULL, &h), -EINVAL);
	assert_int_equal(vdpamap_adopt_fd(fd, NULL, &h), 0);
	assert_int_equal(vdpamap_fd(h), fd);
	f->h = h;
	assert_int_equal(vdpamap_region_add(h,
					    &(struct vdpamap_region){
						    .hva = f->mem,
						    .len = f->mem_size,
						    .fd = f->memfd },
					    NULL),
			 0);
	map_guest(f, 0);
	loop_ok(f, GPA + RING_OFF);
}
