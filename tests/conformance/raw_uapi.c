// SPDX-License-Identifier: BSD-3-Clause
/*
 * What the device answers to vhost-vdpa requests the library never sends
 * (or refuses itself before sending), asked raw on the handle's own device
 * connection.  The library has no call that reaches them, yet the
 * simulator plays them per kernel and parent (src/sim/profile.c); here both
 * backends answer the same questions, so tests/kernel/agree.sh compares
 * the simulator's profile with the kernel it plays, case by case.
 *
 * A behaviour that differs between kernels on purpose ends a case with a
 * skip naming it, so a profile that plays the wrong one shows as pass
 * against skip in the comparison.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conformance.h"
#include "transport/simproto.h"
#include "transport/transport.h"
#include "uapi/vhost_vdpa.h"

/* A raw client of the device under test, in place of the library (the
 * simulator tells owners apart by an address-space token per loaded
 * image, so requests on the library's own connection would come from
 * another "mm"): the kernel's char device opened, or a connection to the
 * simulator announced as a device open.  Then SET_OWNER, as every user of
 * vhost-vdpa starts. */
struct raw {
	int fd;
	int is_sim;
};

static int raw_ioctl(struct raw *r, unsigned long req, void *arg)
{
	int ret;

	if (r->is_sim)
		return vdm_sim_ioctl_on(r->fd, req, arg);
	ret = ioctl(r->fd, req, arg);
	return ret < 0 ? -errno : ret;
}

/* one write(): what it returns, or -errno */
static long raw_write(struct raw *r, const void *buf, size_t len)
{
	ssize_t n;

	if (r->is_sim)
		return vdm_sim_call(r->fd, VSIM_OP_WRITE, 0, 0, buf, len, -1,
				    NULL, 0, NULL);
	n = write(r->fd, buf, len);
	return n < 0 ? -errno : n;
}

/* the device opened, nobody its owner yet */
static void raw_open_unowned(struct fx *f, struct raw *r)
{
	assert_null(f->h); /* the device has one holder at a time */
	r->is_sim = f->is_sim;
	if (f->is_sim) {
		r->fd = vdm_sim_open(f->path, VSIM_KIND_DEVICE, 0);
		assert_true(r->fd >= 0);
	} else {
		r->fd = open(f->path, O_RDWR | O_CLOEXEC);
		if (r->fd < 0)
			fail_msg("open %s: %s", f->path, strerror(errno));
	}
	f->raw_fd = r->fd; /* teardown closes it if the case fails */
}

static void raw_open(struct fx *f, struct raw *r)
{
	raw_open_unowned(f, r);
	assert_int_equal(raw_ioctl(r, VHOST_SET_OWNER, NULL), 0);
}

/* reset the device and let it go */
static void raw_close(struct fx *f, struct raw *r)
{
	uint8_t st = 0;
	int ret = raw_ioctl(r, VHOST_VDPA_SET_STATUS, &st);

	close(r->fd);
	f->raw_fd = -1;
	assert_int_equal(ret, 0);
}

/* Start the device with vq 0 of num entries and no rings mapped (the
 * parents tested start a vq without checking its addresses until it is
 * kicked; nothing kicks it here). */
static void raw_start(struct raw *r, uint32_t num)
{
	struct vhost_vring_state s = { .index = 0, .num = num };
	uint64_t feat;
	uint8_t st;

	assert_int_equal(raw_ioctl(r, VHOST_GET_FEATURES, &feat), 0);
	feat &= (1ULL << 32) | (1ULL << 33); /* VERSION_1, ACCESS_PLATFORM */
	assert_int_equal(raw_ioctl(r, VHOST_SET_FEATURES, &feat), 0);
	assert_int_equal(raw_ioctl(r, VHOST_SET_VRING_NUM, &s), 0);
	st = 1 | 2 | 8; /* ACKNOWLEDGE | DRIVER | FEATURES_OK */
	assert_int_equal(raw_ioctl(r, VHOST_VDPA_SET_STATUS, &st), 0);
	st |= 4; /* DRIVER_OK */
	assert_int_equal(raw_ioctl(r, VHOST_VDPA_SET_STATUS, &st), 0);
}

/* GET_VRING_SIZE (Linux 6.10+): the parent's get_vq_size.  Before
 * DRIVER_OK it is the most the vq can take; once the device runs, the
 * size the driver set (vdpa_sim, vp_vdpa and VDUSE alike).  A vq past the
 * last is vhost_vdpa's own -ENOBUFS. */
void test_vring_size(void **state)
{
	struct fx *f = *state;
	struct vhost_vring_state s = { .index = 0 };
	struct vdpamap_info in;
	struct raw r;
	uint32_t num;
	int ret;

	fx_info(f, &in);
	raw_open(f, &r);
	ret = raw_ioctl(&r, VHOST_VDPA_GET_VRING_SIZE, &s);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP) {
		raw_close(f, &r);
		skip_because("device lacks GET_VRING_SIZE (%s)",
			     ret == -ENOTTY ? "no such ioctl" :
					      "the parent has no get_vq_size");
	}
	assert_int_equal(ret, 0);
	if (!s.num || s.num > in.max_vring_num)
		fail_msg("GET_VRING_SIZE vq 0 before DRIVER_OK: %u, want 1.."
			 "%u (max_vring_num)",
			 s.num, in.max_vring_num);
	s.index = in.nr_vqs;
	assert_int_equal(raw_ioctl(&r, VHOST_VDPA_GET_VRING_SIZE, &s),
			 -ENOBUFS);

	/* a size below the most, so that the two answers differ */
	num = in.max_vring_num >= 128 ? 64 : in.max_vring_num / 2;
	raw_start(&r, num);
	s.index = 0;
	s.num = 0;
	assert_int_equal(raw_ioctl(&r, VHOST_VDPA_GET_VRING_SIZE, &s), 0);
	if (s.num != num)
		fail_msg("GET_VRING_SIZE vq 0 of a running device: %u, want "
			 "the size set, %u",
			 s.num, num);
	raw_close(f, &r);
}

/* SET_GROUP_ASID on the group one past the last.  Kernels with vhost_vdpa's
 * range check say -EINVAL; without it the parent decides, and vdpa_sim's
 * own check ("group > ngroups") lets it through, changing nothing.  The
 * library refuses it before sending (test_bad_input), so only a raw
 * request can tell the two apart.  (vhost_vdpa first checks the index
 * against the number of vqs, as for every vring ioctl: -ENOBUFS when the
 * device has no more vqs than groups.) */
void test_group_asid_range(void **state)
{
	struct fx *f = *state;
	struct vhost_vring_state s = { .num = 0 };
	struct vhost_vring_state vg[4];
	struct vdpamap_info in;
	struct raw r;
	uint32_t q, nr;
	int ret;

	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_info(f, &in);
	raw_open(f, &r);
	/* a parent without get_vq_group (VDUSE of API version 0)
	 * cannot show its bindings: nothing to compare then */
	nr = in.nr_vqs < 4 ? in.nr_vqs : 4;
	for (q = 0; q < nr; q++) {
		vg[q] = (struct vhost_vring_state){ .index = q };
		ret = raw_ioctl(&r, VHOST_VDPA_GET_VRING_GROUP, &vg[q]);
		if (ret == -EOPNOTSUPP) {
			nr = 0;
			break;
		}
		assert_int_equal(ret, 0);
	}
	s.index = in.nr_groups;
	ret = raw_ioctl(&r, VHOST_VDPA_SET_GROUP_ASID, &s);
	if (in.nr_groups >= in.nr_vqs) {
		raw_close(f, &r);
		assert_int_equal(ret, -ENOBUFS);
		return;
	}
	/* nothing changed on the device either way */
	for (q = 0; q < nr; q++) {
		struct vhost_vring_state now = { .index = q };

		assert_int_equal(raw_ioctl(&r, VHOST_VDPA_GET_VRING_GROUP,
					   &now),
				 0);
		assert_int_equal(now.num, vg[q].num);
	}
	raw_close(f, &r);
	if (ret == -EOPNOTSUPP)
		skip_because("device lacks set_group_asid (the parent's op) "
			     "and vhost_vdpa's range check");
	if (!ret)
		skip_because("device takes SET_GROUP_ASID of group %u (of %u): "
			     "vhost_vdpa without its range check; nothing "
			     "changed",
			     in.nr_groups, in.nr_groups);
	assert_int_equal(ret, -EINVAL);
}

/* GET_VRING_GROUP, asked raw: a parent without get_vq_group (vp_vdpa,
 * VDUSE of API version 0) says -EOPNOTSUPP, which the library reads as
 * every vq in group 0; one with it answers what vdpamap_vq_group() says. */
void test_vring_group(void **state)
{
	struct fx *f = *state;
	uint32_t lib[8], q, nr;
	struct vdpamap_info in;
	struct raw r;
	int ret = 0;

	open_default(f);
	fx_info(f, &in);
	nr = in.nr_vqs < 8 ? in.nr_vqs : 8;
	for (q = 0; q < nr; q++)
		assert_int_equal(vdpamap_vq_group(f->h, q, &lib[q]), 0);
	fx_close(f);
	raw_open(f, &r);
	for (q = 0; q < nr; q++) {
		struct vhost_vring_state s = { .index = q };

		ret = raw_ioctl(&r, VHOST_VDPA_GET_VRING_GROUP, &s);
		if (ret < 0)
			break;
		if (s.num != lib[q])
			fail_msg("vq %u: the device says group %u, the "
				 "library %u",
				 q, s.num, lib[q]);
	}
	raw_close(f, &r);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP) {
		for (q = 0; q < nr; q++)
			assert_int_equal(lib[q], 0);
		skip_because("device lacks GET_VRING_GROUP (%s)",
			     ret == -ENOTTY ? "no such ioctl" :
					      "the parent has no get_vq_group");
	}
	assert_int_equal(ret, 0);
}

/* The "vdpa live update" proposal (unmerged; UAPI.md, docs/handoff.md):
 * whether the device offers both of its backend bits, else skip. */
#define LIVE_UPDATE_BITS                       \
	((1ULL << VHOST_BACKEND_F_NEW_OWNER) | \
	 (1ULL << VHOST_BACKEND_F_IOTLB_REMAP))

static void raw_need_live_update(struct fx *f, struct raw *r)
{
	uint64_t offer = 0;

	assert_int_equal(raw_ioctl(r, VHOST_GET_BACKEND_FEATURES, &offer), 0);
	if ((offer & LIVE_UPDATE_BITS) == LIVE_UPDATE_BITS)
		return;
	raw_close(f, r);
	skip_because("device lacks NEW_OWNER (bit 9) + IOTLB_REMAP (bit 10) "
		     "(offer 0x%llx): no live-update proposal",
		     (unsigned long long)offer);
}

/* VHOST_NEW_OWNER: -EINVAL while nobody owns the device, -EBUSY from the
 * owner itself.  (A move to another address space is the handoff
 * suite's: handoff_newowner.) */
void test_new_owner_raw(void **state)
{
	struct fx *f = *state;
	struct raw r;

	raw_open_unowned(f, &r);
	raw_need_live_update(f, &r);
	assert_int_equal(raw_ioctl(&r, VHOST_NEW_OWNER, NULL), -EINVAL);
	assert_int_equal(raw_ioctl(&r, VHOST_SET_OWNER, NULL), 0);
	assert_int_equal(raw_ioctl(&r, VHOST_NEW_OWNER, NULL), -EBUSY);
	raw_close(f, &r);
}

/* one IOTLB message (v2, ASID 0) */
static long raw_iotlb(struct raw *r, uint8_t type, uint64_t iova, uint64_t size,
		      const void *uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = { .iova = iova,
			   .size = size,
			   .uaddr = (uint64_t)(uintptr_t)uaddr,
			   .perm = perm,
			   .type = type },
	};
	long n = raw_write(r, &m, sizeof(m));

	return n == (long)sizeof(m) ? 0 : n < 0 ? n : -EIO;
}

#define RM_IOVA 0x100000ULL
#define RM_LEN	0x10000ULL /* each of the two UPDATEs */

/* VHOST_IOTLB_REMAP, as the owner (vhost_chr_write_iter() turns every
 * refusal into -EFAULT: ENOENT and EINVAL look alike here).  Two UPDATEs
 * of one memfd, side by side; then REMAPs: of nothing, with a perm, of
 * half a page, straddling the two inside a page, and to another memfd are
 * refused; to another mapping of the same memfd, entry by entry or both
 * in one REMAP (a range the entries cover exactly: the kernel may hold one
 * UPDATE as several entries, split where the pinned pages are not
 * contiguous), is taken. */
void test_remap_raw(void **state)
{
	const uint8_t rw = VHOST_ACCESS_RW;
	uint64_t v2 = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;
	struct fx *f = *state;
	uint8_t *a, *a2, *b;
	int fa, fb;
	struct raw r;

	raw_open(f, &r);
	raw_need_live_update(f, &r);
	assert_int_equal(raw_ioctl(&r, VHOST_SET_BACKEND_FEATURES, &v2), 0);
	fa = memfd_create("remap-a", MFD_CLOEXEC);
	fb = memfd_create("remap-b", MFD_CLOEXEC);
	assert_true(fa >= 0 && fb >= 0);
	assert_int_equal(ftruncate(fa, 2 * RM_LEN), 0);
	assert_int_equal(ftruncate(fb, 2 * RM_LEN), 0);
	a = mmap(NULL, 2 * RM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0);
	a2 = mmap(NULL, 2 * RM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0);
	b = mmap(NULL, 2 * RM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0);
	assert_true(a != MAP_FAILED && a2 != MAP_FAILED && b != MAP_FAILED);
	memset(a, 0x5a, 2 * RM_LEN);
	memset(b, 0xa5, 2 * RM_LEN);

	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_UPDATE, RM_IOVA, RM_LEN, a,
				   rw),
			 0);
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_UPDATE, RM_IOVA + RM_LEN,
				   RM_LEN, a + RM_LEN, rw),
			 0);
	/* refused */
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, 4 * RM_IOVA, RM_LEN,
				   a2, 0),
			 -EFAULT);
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, RM_IOVA, RM_LEN, a2,
				   rw),
			 -EFAULT);
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, RM_IOVA, 0x800, a2,
				   0),
			 -EFAULT);
	/* across the two UPDATEs' boundary, starting and ending inside a
	 * page: in PA mode the kernel may hold each UPDATE as one entry per
	 * page (pages not physically contiguous), so a page-aligned range
	 * across the boundary can be an exact cover, and taken */
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP,
				   RM_IOVA + RM_LEN - 0x800, 0x1000,
				   a2 + RM_LEN - 0x800, 0),
			 -EFAULT);
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, RM_IOVA, RM_LEN, b,
				   0),
			 -EFAULT);
	/* taken */
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, RM_IOVA, RM_LEN, a2,
				   0),
			 0);
	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_REMAP, RM_IOVA, 2 * RM_LEN,
				   a, 0),
			 0);

	assert_int_equal(raw_iotlb(&r, VHOST_IOTLB_INVALIDATE, RM_IOVA,
				   2 * RM_LEN, NULL, 0),
			 0);
	raw_close(f, &r);
	munmap(a, 2 * RM_LEN);
	munmap(a2, 2 * RM_LEN);
	munmap(b, 2 * RM_LEN);
	close(fa);
	close(fb);
}
