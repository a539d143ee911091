// SPDX-License-Identifier: BSD-3-Clause
/*
 * features: what open learns from the device, once.  Backend feature
 * negotiation, the device's id, features, counts and ranges, the memory
 * mode probe; and the virtio (driver) features a driver sets.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

/* A device reporting more vqs, groups or address spaces than this is
 * taken for a broken one (the arrays are sized from these counts). */
#define VDM_MAX_DEV_COUNT 4096
/* What a kernel without the count ioctls means (docs/uapi-matrix.md):
 * the two vqs of one virtio-net queue pair, one group, one address space. */
#define OLD_KERNEL_NR_VQS    2
#define OLD_KERNEL_NR_GROUPS 1
#define OLD_KERNEL_NR_AS     1
/* A kernel without GET_CONFIG_SIZE (before 5.18) bounds config accesses by
 * its own sizeof(struct virtio_net_config) for a net device (24 bytes from
 * 5.8, the RSS fields, to 5.17) and refuses every access to any other
 * device class (its size is 0).  The library applies the same bound, so
 * that a bad access is refused before any ioctl, as on newer kernels. */
#define OLD_KERNEL_NET_CONFIG_SIZE 24
#define VIRTIO_ID_NET_DEV	   1

int vdm_negotiate(struct vdpamap *h, uint64_t want, uint64_t require)
{
	uint64_t offered = 0, acked;
	int r;

	r = vdm_ioctl(h, VHOST_GET_BACKEND_FEATURES, &offered);
	if (r == -ENOTTY) {
		vdm_warn(h, "no GET_BACKEND_FEATURES: no backend features");
		offered = 0;
	} else if (r < 0) {
		vdm_err(h, "GET_BACKEND_FEATURES: %d", r);
		return r;
	}
	acked = offered & want & VDPAMAP_F_KNOWN;
	if (!(acked & VDPAMAP_F_IOTLB_ASID))
		acked &= ~VDPAMAP_F_DESC_ASID;
	if (require & ~acked) {
		uint64_t miss = require & ~acked;
		uint64_t bit = miss & -miss;
		const char *n = vdm_feature_name(bit);

		vdm_err(h, "required backend feature %s (bit %d) %s",
			n ? n : "?", __builtin_ctzll(bit),
			(offered & bit) ? "not wanted" :
					  "not offered by device");
		return -EOPNOTSUPP;
	}
	if (offered) {
		r = vdm_ioctl(h, VHOST_SET_BACKEND_FEATURES, &acked);
		if (r < 0) {
			vdm_err(h, "SET_BACKEND_FEATURES 0x%llx: %d",
				(unsigned long long)acked, r);
			return r;
		}
	}
	h->info.backend_offered = offered;
	h->info.backend_acked = acked;
	return 0;
}

static int query_u32(struct vdpamap *h, unsigned long req, const char *what,
		     uint32_t *out, uint32_t fallback)
{
	uint32_t v = 0;
	int r = vdm_ioctl(h, req, &v);

	/* an older kernel without the ioctl: assume the old behaviour */
	if (r == -ENOTTY || r == -EOPNOTSUPP) {
		vdm_dbg(h, "%s: %d, assuming %u", what, r, fallback);
		v = fallback;
	} else if (r < 0) {
		vdm_err(h, "%s: %d", what, r);
		return r;
	}
	*out = v;
	return 0;
}

/* vdpa_sim before Linux 5.12 hands vringh its maximum ring size whatever
 * SET_VRING_NUM said (fixed upstream by "vdpa_sim: fix vringh
 * initialization", in 5.12): a smaller ring loses buffers once its
 * indexes wrap (measured on 5.10.262: frame 65 of a 64-entry ring).  It is
 * the only vdpa parent of those kernels that creates its device without a
 * parent device (/sys/devices/vdpaN); hardware parents sit under their
 * PCI function.  Only asked on a kernel without GET_CONFIG_SIZE (< 5.18). */
static bool old_vdpa_sim(struct vdpamap *h)
{
	char link[64], dev[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (h->tp->is_sim || fstat(h->tp->fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return false;
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	n = readlink(link, dev, sizeof(dev) - 1);
	if (n <= 0)
		return false;
	dev[n] = 0;
	/* "../../devices/vdpa0/vhost-vdpa-0": the vdpa device has no parent */
	return !strncmp(dev, "../../devices/vdpa", 18) &&
	       strchr(dev + 18, '/') && !strchr(strchr(dev + 18, '/') + 1, '/');
}

int vdm_device_query(struct vdpamap *h)
{
	struct vhost_vdpa_iova_range range = { 0, UINT64_MAX };
	uint16_t num = 0;
	int r;

	r = vdm_ioctl(h, VHOST_VDPA_GET_DEVICE_ID, &h->info.device_id);
	if (r < 0) {
		vdm_err(h, "VDPA_GET_DEVICE_ID: %d: not a vhost-vdpa device",
			r);
		return r;
	}
	r = vdm_ioctl(h, VHOST_GET_FEATURES, &h->info.device_features);
	if (r < 0) {
		vdm_err(h, "GET_FEATURES: %d", r);
		return r;
	}
	if ((r = query_u32(h, VHOST_VDPA_GET_VQS_COUNT, "GET_VQS_COUNT",
			   &h->info.nr_vqs, OLD_KERNEL_NR_VQS)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_GROUP_NUM, "GET_GROUP_NUM",
			   &h->info.nr_groups, OLD_KERNEL_NR_GROUPS)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_AS_NUM, "GET_AS_NUM",
			   &h->info.nr_as, OLD_KERNEL_NR_AS)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_CONFIG_SIZE, "GET_CONFIG_SIZE",
			   &h->info.config_size, UINT32_MAX)) < 0)
		return r;
	if (h->info.config_size == UINT32_MAX) {
		h->info.config_size = h->info.device_id == VIRTIO_ID_NET_DEV ?
					      OLD_KERNEL_NET_CONFIG_SIZE :
					      0;
		vdm_info(h,
			 "no GET_CONFIG_SIZE: config size %u, the bound "
			 "this kernel applies to device id %u",
			 h->info.config_size, h->info.device_id);
		h->lc->ring_size_fixed = old_vdpa_sim(h);
	}
	r = vdm_ioctl(h, VHOST_VDPA_GET_IOVA_RANGE, &range);
	if (r < 0 && r != -ENOTTY && r != -EOPNOTSUPP) {
		vdm_err(h, "GET_IOVA_RANGE: %d", r);
		return r;
	}
	h->info.iova_first = range.first;
	h->info.iova_last = range.last;
	r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_NUM, &num);
	if (r < 0) {
		vdm_err(h, "GET_VRING_NUM: %d", r);
		return r;
	}
	h->info.max_vring_num = num;
	if (!h->info.nr_vqs || !h->info.nr_groups || !h->info.nr_as ||
	    h->info.nr_vqs > VDM_MAX_DEV_COUNT ||
	    h->info.nr_groups > VDM_MAX_DEV_COUNT ||
	    h->info.nr_as > VDM_MAX_DEV_COUNT) {
		vdm_err(h, "device reports %u vqs, %u groups, %u ASes",
			h->info.nr_vqs, h->info.nr_groups, h->info.nr_as);
		return -EPROTO;
	}
	return 0;
}

/* Find out whether the device pins (PA mode): map one memfd page, see
 * whether the owner's pinned memory grew, unmap it. */
int vdm_probe_mem_mode(struct vdpamap *h)
{
	uint64_t before = 0, after = 0, iova;
	uint64_t ps = h->page_size;
	void *p = MAP_FAILED;
	int fd, r;

	if (vdm_mirror_find_hole(h, 0, h->info.iova_first, h->info.iova_last,
				 ps, ps, &iova) < 0)
		return -ENOSPC;
	fd = memfd_create("vdpamap-probe", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)ps) < 0) {
		r = -errno;
		goto out;
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	*(volatile char *)p = 0;
	r = vdm_tp_pinned(h->tp, &before);
	if (r < 0)
		goto out;
	r = vdm_iotlb_send(h, 0, VHOST_IOTLB_UPDATE, iova, ps, (uintptr_t)p,
			   VHOST_ACCESS_RW);
	if (r < 0) {
		vdm_err(h, "probe UPDATE of one page refused (%d)", r);
		goto out;
	}
	r = vdm_tp_pinned(h->tp, &after);
	if (vdm_iotlb_send(h, 0, VHOST_IOTLB_INVALIDATE, iova, ps, 0, 0) < 0) {
		vdm_poison(h, "probe page at iova 0x%llx could not be unmapped",
			   (unsigned long long)iova);
		r = -EIO;
		goto out;
	}
	if (r < 0)
		goto out;
	h->info.mem_mode = after > before ? VDPAMAP_MEMMODE_PA :
					    VDPAMAP_MEMMODE_VA;
	vdm_info(h, "memory mode probed: %s",
		 h->info.mem_mode == VDPAMAP_MEMMODE_PA ? "PA (pins)" :
							  "VA (no pins)");
out:
	if (p != MAP_FAILED)
		munmap(p, ps);
	close(fd);
	return r;
}

VDPAMAP_API int vdpamap_has_feature(const struct vdpamap *h, uint64_t feature)
{
	return h && vdm_has_feature(h, feature);
}

VDPAMAP_API int vdpamap_get_features(struct vdpamap *h, uint64_t *ret)
{
	uint64_t f = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = vdm_ioctl_get(h, VHOST_GET_FEATURES, &f);
	if (!r)
		*ret = f;
	return r;
}

/* Caller holds the lock (or owns a new handle). */
int vdm_set_features(struct vdpamap *h, uint64_t features)
{
	int r;

	if (features & ~h->info.device_features) {
		vdm_err(h, "features 0x%llx not offered (offer 0x%llx)",
			(unsigned long long)features,
			(unsigned long long)h->info.device_features);
		return -EINVAL;
	}
	r = vdm_ioctl(h, VHOST_SET_FEATURES, &features);
	if (r > 0)
		r = 0;
	if (r == 0)
		h->lc->driver_features = features;
	return r;
}

VDPAMAP_API int vdpamap_set_features(struct vdpamap *h, uint64_t features)
{
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_set_features");
	if (r < 0)
		return r;
	r = vdm_set_features(h, features);
	vdm_leave(h);
	return r;
}
