// SPDX-License-Identifier: BSD-3-Clause
/*
 * status: the virtio device status (DRIVER_OK only once every enabled
 * ring is mapped; status 0 is a reset: reset.c) and suspend/resume.
 */
#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

/* The split virtqueue layout (the virtio spec): 16 bytes a descriptor;
 * the avail and used rings a 6-byte header (flags, idx, the event index)
 * and 2 (avail) or 8 (used) bytes an entry. */
#define VRING_DESC_SZ	    16ULL
#define VRING_RING_HDR_SZ   6ULL
#define VRING_AVAIL_ELEM_SZ 2ULL
#define VRING_USED_ELEM_SZ  8ULL

enum { RING_DESC, RING_AVAIL, RING_USED, RING_NR };

/* Ring sizes of a split virtqueue of num entries. */
static void ring_sizes(uint32_t num, uint64_t sz[RING_NR])
{
	sz[RING_DESC] = VRING_DESC_SZ * num;
	sz[RING_AVAIL] = VRING_RING_HDR_SZ + VRING_AVAIL_ELEM_SZ * num;
	sz[RING_USED] = VRING_RING_HDR_SZ + VRING_USED_ELEM_SZ * num;
}

static int check_rings_mapped(struct vdpamap *h)
{
	static const char *const part[RING_NR] = { "desc", "avail", "used" };
	uint32_t i, k;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdm_vring *vr = &h->lc->vrings[i];
		uint32_t asid = h->lc->group_asid[h->lc->vq_desc_group[i]];
		uint64_t addr[RING_NR], sz[RING_NR];

		if (!vr->set || !vr->enabled)
			continue;
		addr[RING_DESC] = vr->v.desc;
		addr[RING_AVAIL] = vr->v.avail;
		addr[RING_USED] = vr->v.used;
		ring_sizes(vr->v.num, sz);
		for (k = 0; k < RING_NR; k++) {
			if (!vdm_range_mapped(h, asid, addr[k], sz[k])) {
				vdm_err(h,
					"DRIVER_OK refused: vq %u %s ring "
					"[0x%llx, +0x%llx) not mapped in ASID %u",
					i, part[k], (unsigned long long)addr[k],
					(unsigned long long)sz[k], asid);
				return -EFAULT;
			}
		}
	}
	return 0;
}

VDPAMAP_API int vdpamap_get_status(struct vdpamap *h, uint8_t *ret_status)
{
	uint8_t s = 0;
	int r;

	if (!ret_status)
		return -EINVAL;
	r = vdm_ioctl_get(h, VHOST_VDPA_GET_STATUS, &s);
	if (!r)
		*ret_status = s;
	return r;
}

/* Caller holds the lock (or owns a new handle).  Status 0 is a reset. */
int vdm_set_status(struct vdpamap *h, uint8_t status)
{
	int r;

	if (!status)
		return vdm_reset(h, NULL);
	if ((status & VDPAMAP_S_DRIVER_OK) &&
	    !(h->lc->status & VDPAMAP_S_DRIVER_OK)) {
		r = check_rings_mapped(h);
		if (r < 0)
			return r;
		vdm_group_asid_probe(h);
	}
	r = vdm_ioctl(h, VHOST_VDPA_SET_STATUS, &status);
	if (r < 0)
		return r;
	h->lc->status = status;
	if (status & VDPAMAP_S_DRIVER_OK)
		h->lc->deferred_status = 0;
	return 0;
}

VDPAMAP_API int vdpamap_set_status(struct vdpamap *h, uint8_t status)
{
	int r;

	/* 0 is vdpamap_reset(), which a poisoned handle may call */
	r = vdm_enter_idle(h, !status,
			   status ? "vdpamap_set_status" : "vdpamap_reset");
	if (r < 0)
		return r;
	r = vdm_set_status(h, status);
	vdm_leave(h);
	return r;
}

static int suspend_resume(struct vdpamap *h, uint64_t feat, unsigned long req)
{
	int r;

	r = vdm_enter_idle(h, false,
			   req == VHOST_VDPA_SUSPEND ? "vdpamap_suspend" :
						       "vdpamap_resume");
	if (r < 0)
		return r;
	if (req == VHOST_VDPA_RESUME && h->lc->deferred_status) {
		/* a restart left DRIVER_OK to the caller (restart.c) */
		r = vdm_set_status(h, h->lc->deferred_status);
	} else if (!vdm_has_feature(h, feat)) {
		vdm_err(h, "%s not negotiated", vdm_feature_name(feat));
		r = -EOPNOTSUPP;
	} else {
		r = vdm_ioctl(h, req, NULL);
		if (r > 0)
			r = 0;
	}
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_suspend(struct vdpamap *h)
{
	return suspend_resume(h, VDPAMAP_F_SUSPEND, VHOST_VDPA_SUSPEND);
}

VDPAMAP_API int vdpamap_resume(struct vdpamap *h)
{
	return suspend_resume(h, VDPAMAP_F_RESUME, VHOST_VDPA_RESUME);
}
