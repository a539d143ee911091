// SPDX-License-Identifier: MIT
/*
 * dmar_negctl: the negative control of tests/harness/vdpamap-vm --config vp.
 * A device behind the platform IOMMU that DMAs to an IOVA nobody mapped
 * makes the (emulated) Intel IOMMU log "DMAR: DRHD: handling fault" in the
 * guest.  The harness fails a run whose tests made such a fault; so that a
 * harness that cannot see faults (no IOMMU, a log it does not read, a
 * pattern that no longer matches) fails instead of passing, it runs this
 * program after the tests and requires at least one fault from it.
 *
 * Raw ioctls, no project code: the oracle must not depend on the library
 * under test.  The tx ring (desc, avail, used) is mapped, its one buffer
 * never is; the descriptor is posted and the queue kicked.  The device
 * reads the ring through the IOMMU, then faults on the buffer.
 *
 * Device path: $VDPAMAP_TEST_DEV, default /dev/vhost-vdpa-0.  Exit 0 once
 * the kick was sent (the harness judges the fault), 1 if the device could
 * not be set up, 77 if it is not a net device behind a platform IOMMU
 * (no VIRTIO_F_ACCESS_PLATFORM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "tap.h"

#define F_VERSION_1	  (1ULL << 32)
#define F_ACCESS_PLATFORM (1ULL << 33)
#define S_ACK		  1u
#define S_DRIVER	  2u
#define S_DRIVER_OK	  4u
#define S_FEATURES_OK	  8u
#define S_FAILED	  128u
#define TXQ		  1u
#define QSIZE		  16u
#define BLOCK		  4096u
#define RING_IOVA	  0x100000ULL
/* 1 MiB above the rings: inside the device's range, never mapped */
#define BUF_IOVA (RING_IOVA + 0x100000ULL)

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static int set_status(int fd, uint8_t st)
{
	return ioctl(fd, VHOST_VDPA_SET_STATUS, &st);
}

/* the tx vq on the three mapped blocks (desc, avail, used), enabled */
static int txq_setup(int fd, int kick, int call)
{
	struct vhost_vring_state s = { .index = TXQ, .num = QSIZE };
	struct vhost_vring_addr a = {
		.index = TXQ,
		.desc_user_addr = RING_IOVA,
		.avail_user_addr = RING_IOVA + BLOCK,
		.used_user_addr = RING_IOVA + 2 * BLOCK,
	};
	struct vhost_vring_file k = { .index = TXQ, .fd = kick };
	struct vhost_vring_file c = { .index = TXQ, .fd = call };
	struct vhost_vring_state en = { .index = TXQ, .num = 1 };

	if (ioctl(fd, VHOST_SET_VRING_NUM, &s))
		return -errno;
	s.num = 0;
	if (ioctl(fd, VHOST_SET_VRING_BASE, &s) ||
	    ioctl(fd, VHOST_SET_VRING_ADDR, &a) ||
	    ioctl(fd, VHOST_SET_VRING_KICK, &k) ||
	    ioctl(fd, VHOST_SET_VRING_CALL, &c) ||
	    ioctl(fd, VHOST_VDPA_SET_VRING_ENABLE, &en))
		return -errno;
	return 0;
}

int main(void)
{
	const char *path = getenv("VDPAMAP_TEST_DEV");
	uint64_t feat = 0, bf = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;
	struct vhost_msg_v2 msg = { .type = VHOST_IOTLB_MSG_V2 };
	volatile uint16_t *avail, *used;
	struct desc *d;
	uint8_t st = 0;
	uint8_t *mem;
	int fd, kick, call, r;

	if (!path || !*path)
		path = "/dev/vhost-vdpa-0";
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("# dmar_negctl: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	CHECK(ioctl(fd, VHOST_SET_OWNER) == 0, "SET_OWNER");
	CHECK(ioctl(fd, VHOST_SET_BACKEND_FEATURES, &bf) == 0,
	      "SET_BACKEND_FEATURES IOTLB_MSG_V2");
	CHECK(ioctl(fd, VHOST_GET_FEATURES, &feat) == 0,
	      "GET_FEATURES 0x%" PRIx64, feat);
	if (!(feat & F_ACCESS_PLATFORM)) {
		printf("# skip: the device does not offer ACCESS_PLATFORM: "
		       "not behind a platform IOMMU\n");
		return 77;
	}
	feat = F_VERSION_1 | F_ACCESS_PLATFORM;
	CHECK(set_status(fd, S_ACK | S_DRIVER) == 0, "status ACK|DRIVER");
	CHECK(ioctl(fd, VHOST_SET_FEATURES, &feat) == 0,
	      "SET_FEATURES VERSION_1|ACCESS_PLATFORM");
	CHECK(set_status(fd, S_ACK | S_DRIVER | S_FEATURES_OK) == 0,
	      "status FEATURES_OK");

	mem = mmap(NULL, 3 * BLOCK, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		printf("# dmar_negctl: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(mem, 0, 3 * BLOCK);
	msg.iotlb.iova = RING_IOVA;
	msg.iotlb.size = 3 * BLOCK;
	msg.iotlb.uaddr = (uint64_t)(uintptr_t)mem;
	msg.iotlb.perm = VHOST_ACCESS_RW;
	msg.iotlb.type = VHOST_IOTLB_UPDATE;
	r = (int)write(fd, &msg, sizeof(msg));
	CHECK(r == (int)sizeof(msg), "UPDATE the ring blocks only (r=%d)", r);

	kick = eventfd(0, EFD_CLOEXEC);
	call = eventfd(0, EFD_CLOEXEC);
	r = txq_setup(fd, kick, call);
	CHECK(r == 0, "tx vq set up and enabled (%s)", strerror(-r));
	CHECK(set_status(fd, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK) ==
		      0,
	      "status DRIVER_OK");
	ioctl(fd, VHOST_VDPA_GET_STATUS, &st);
	CHECK((st & S_DRIVER_OK) && !(st & S_FAILED),
	      "the device runs (status 0x%x)", st);
	if (failed)
		goto out;

	/* one 64-byte buffer at an IOVA nobody mapped */
	d = (struct desc *)mem;
	d->addr = BUF_IOVA;
	d->len = 64;
	avail = (volatile uint16_t *)(mem + BLOCK);
	used = (volatile uint16_t *)(mem + 2 * BLOCK);
	avail[2] = 0;
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
	CHECK(eventfd_write(kick, 1) == 0,
	      "kicked tx with a buffer at unmapped IOVA 0x%llx",
	      (unsigned long long)BUF_IOVA);
	usleep(500 * 1000);
	printf("# used idx after the kick: %u\n",
	       __atomic_load_n(&used[1], __ATOMIC_ACQUIRE));
out:
	set_status(fd, 0);
	close(fd);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
