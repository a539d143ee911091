// SPDX-License-Identifier: MIT
/*
 * Smoke test for the real-kernel harness (tests/harness/vdpamap-vm): talks to /dev/vhost-vdpa-0 backed
 * by vdpa_sim_net with raw ioctls and IOTLB writes, no project code. Reads the device's shape
 * (backend offer, address spaces, groups, vqs, IOVA range) and checks that it is consistent,
 * never one kernel's numbers (6.12: 0x17e, 2/2/3; 6.1: 0x1e; 5.10: 0x6, 1/1/2 and no
 * GROUP_NUM/AS_NUM ioctls; docs UAPI "Beyond vdpa_sim on 6.12"), then one
 * map/overlap/unmap round trip inside the device's IOVA range.
 *
 * Device path: $VDPAMAP_TEST_DEV, default /dev/vhost-vdpa-0. Exit 0 if every check passed,
 * 1 otherwise, 77 if the device does not exist or lacks IOTLB_MSG_V2 (nothing to test here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "tap.h"

/* Newer than Debian 12's linux-libc-dev (6.1). */
#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME 0x5
#endif
#ifndef VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK
#define VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK 0x6
#endif
#ifndef VHOST_BACKEND_F_IOTLB_PERSIST
#define VHOST_BACKEND_F_IOTLB_PERSIST 0x8
#endif

#define MAP_IOVA 0x100000ULL /* or the device's first IOVA above it */
#define MAP_SIZE (2ULL << 20)

static int iotlb(int fd, uint32_t asid, uint8_t type, uint64_t iova,
		 uint64_t size, void *uaddr, uint8_t perm)
{
	struct vhost_msg_v2 msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = VHOST_IOTLB_MSG_V2;
	msg.asid = asid;
	msg.iotlb.iova = iova;
	msg.iotlb.size = size;
	msg.iotlb.uaddr = (uint64_t)(uintptr_t)uaddr;
	msg.iotlb.perm = perm;
	msg.iotlb.type = type;
	return (int)write(fd, &msg, sizeof(msg));
}

int main(void)
{
	const char *path = getenv("VDPAMAP_TEST_DEV");
	const char *cfg = getenv("VDPAMAP_VM_CONFIG");
	uint64_t feat = 0, want, iova = MAP_IOVA;
	uint32_t u32 = 0;
	unsigned int as_num = 0;
	struct vhost_vdpa_iova_range range = { 0 };
	void *mem;
	int fd, mfd, r, err;

	if (!path || !*path)
		path = "/dev/vhost-vdpa-0";
	printf("# smoke: device %s, config %s\n", path,
	       cfg ? cfg : "(unknown)");

	CHECK(sizeof(struct vhost_msg_v2) == 72,
	      "sizeof(struct vhost_msg_v2) == 72 (%zu)",
	      sizeof(struct vhost_msg_v2));
	CHECK(offsetof(struct vhost_msg_v2, iotlb) == 8, "iotlb at offset 8");

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		printf("# open %s: %s\n", path, strerror(err));
		if (err == ENOENT) {
			printf("%d passed, %d failed, 1 skipped\n", passed,
			       failed);
			return 77;
		}
		failed++;
		printf("%d passed, %d failed\n", passed, failed);
		return 1;
	}
	passed++;
	printf("ok - open %s\n", path);

	r = ioctl(fd, VHOST_GET_BACKEND_FEATURES, &feat);
	CHECK(r == 0, "GET_BACKEND_FEATURES (r=%d): offer 0x%" PRIx64, r, feat);
	if (!(feat & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2))) {
		printf("# skip: device lacks IOTLB_MSG_V2 (offer 0x%" PRIx64
		       ")\n",
		       feat);
		close(fd);
		printf("%d passed, %d failed, 1 skipped\n", passed, failed);
		return failed ? 1 : 77;
	}
	r = ioctl(fd, VHOST_VDPA_GET_DEVICE_ID, &u32);
	CHECK(r == 0 && u32 == 1, "device id 1 (r=%d, %u)", r, u32);
	u32 = 0;
	r = ioctl(fd, VHOST_VDPA_GET_VQS_COUNT, &u32);
	err = errno;
	/* absent: ENOTTY; on 5.10 an unknown ioctl goes to vhost's generic,
	 * owner-checked path first, so before SET_OWNER it is EPERM */
	if (r < 0 && (err == ENOTTY || err == EOPNOTSUPP || err == EPERM))
		printf("# no GET_VQS_COUNT in this kernel (%s)\n",
		       strerror(err));
	else
		CHECK(r == 0 && u32 >= 2,
		      "at least 2 vqs, rx and tx (r=%d, %u)", r, u32);
	/* groups and address spaces: ioctls of the ASID work; a kernel
	 * without them has one of each */
	u32 = 1;
	r = ioctl(fd, VHOST_VDPA_GET_GROUP_NUM, &u32);
	err = errno;
	if (r < 0 && (err == ENOTTY || err == EOPNOTSUPP || err == EPERM) &&
	    !(feat & (1ULL << VHOST_BACKEND_F_IOTLB_ASID)))
		u32 = 1;
	else
		CHECK(r == 0 && u32 >= 1, "GET_GROUP_NUM: %u group(s) (r=%d)",
		      u32, r);
	as_num = 1;
	r = ioctl(fd, VHOST_VDPA_GET_AS_NUM, &as_num);
	err = errno;
	if (r < 0 && (err == ENOTTY || err == EOPNOTSUPP || err == EPERM) &&
	    !(feat & (1ULL << VHOST_BACKEND_F_IOTLB_ASID)))
		as_num = 1;
	else
		CHECK(r == 0 && as_num >= 1,
		      "GET_AS_NUM: %u address space(s) (r=%d)", as_num, r);
	CHECK(as_num == 1 || (feat & (1ULL << VHOST_BACKEND_F_IOTLB_ASID)),
	      "%u address spaces come with IOTLB_ASID (offer 0x%" PRIx64 ")",
	      as_num, feat);
	CHECK(!(feat & (1ULL << VHOST_BACKEND_F_RESUME)) ||
		      (feat & (1ULL << VHOST_BACKEND_F_SUSPEND)),
	      "RESUME comes with SUSPEND (offer 0x%" PRIx64 ")", feat);
	printf("# device: offer 0x%" PRIx64
	       ", %u address space(s), %u group(s)\n",
	       feat, as_num, u32);
	range.last = UINT64_MAX;
	r = ioctl(fd, VHOST_VDPA_GET_IOVA_RANGE, &range);
	CHECK(r == 0 && range.first <= range.last,
	      "IOVA range (r=%d, [0x%" PRIx64 ", 0x%" PRIx64 "])", r,
	      (uint64_t)range.first, (uint64_t)range.last);
	if (range.first > iova)
		iova = (range.first + 0xfffff) & ~0xfffffULL;
	if (iova + MAP_SIZE - 1 > range.last || iova + MAP_SIZE < iova) {
		printf("# skip: the device's IOVA range has no room for the 2 MiB round trip\n");
		close(fd);
		printf("%d passed, %d failed, 1 skipped\n", passed, failed);
		return failed ? 1 : 77;
	}

	r = ioctl(fd, VHOST_SET_OWNER);
	CHECK(r == 0, "SET_OWNER (r=%d, %s)", r, r ? strerror(errno) : "ok");
	errno = 0;
	r = ioctl(fd, VHOST_SET_OWNER);
	err = errno;
	CHECK(r == -1 && err == EBUSY, "second SET_OWNER is EBUSY (r=%d, %s)",
	      r, strerror(err));

	/* what the device offers of MSG_V2, BATCH and ASID */
	want = feat & ((1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) |
		       (1ULL << VHOST_BACKEND_F_IOTLB_BATCH) |
		       (1ULL << VHOST_BACKEND_F_IOTLB_ASID));
	r = ioctl(fd, VHOST_SET_BACKEND_FEATURES, &want);
	CHECK(r == 0, "SET_BACKEND_FEATURES 0x%" PRIx64 " (r=%d, %s)", want, r,
	      r ? strerror(errno) : "ok");

	mfd = memfd_create("smoke", MFD_CLOEXEC);
	mem = MAP_FAILED;
	if (mfd >= 0 && ftruncate(mfd, (off_t)MAP_SIZE) == 0)
		mem = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   mfd, 0);
	CHECK(mem != MAP_FAILED, "2 MiB memfd mapped shared");
	if (mem != MAP_FAILED) {
		memset(mem, 0xa5, MAP_SIZE);

		r = iotlb(fd, 0, VHOST_IOTLB_UPDATE, iova, MAP_SIZE, mem,
			  VHOST_ACCESS_RW);
		CHECK(r == 72,
		      "UPDATE iova 0x%" PRIx64 " size 2 MiB asid 0 (r=%d, %s)",
		      iova, r, r < 0 ? strerror(errno) : "ok");

		errno = 0;
		r = iotlb(fd, 0, VHOST_IOTLB_UPDATE, iova + 0x1000, 0x1000,
			  (char *)mem + 0x1000, VHOST_ACCESS_RW);
		err = errno;
		CHECK(r == -1 && err == EFAULT,
		      "overlapping UPDATE is EFAULT (r=%d, %s)", r,
		      strerror(err));

		r = iotlb(fd, 0, VHOST_IOTLB_INVALIDATE, iova, MAP_SIZE, NULL,
			  0);
		CHECK(r == 72, "INVALIDATE (r=%d, %s)", r,
		      r < 0 ? strerror(errno) : "ok");

		r = iotlb(fd, 0, VHOST_IOTLB_UPDATE, iova, MAP_SIZE, mem,
			  VHOST_ACCESS_RW);
		CHECK(r == 72, "UPDATE again after INVALIDATE (r=%d, %s)", r,
		      r < 0 ? strerror(errno) : "ok");
		r = iotlb(fd, 0, VHOST_IOTLB_INVALIDATE, iova, MAP_SIZE, NULL,
			  0);
		CHECK(r == 72, "INVALIDATE again (r=%d, %s)", r,
		      r < 0 ? strerror(errno) : "ok");
		munmap(mem, MAP_SIZE);
	}
	if (mfd >= 0)
		close(mfd);
	close(fd);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
