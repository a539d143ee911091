// SPDX-License-Identifier: BSD-3-Clause
/*
 * suspend: stopping the device for the exec and starting it again.  The
 * predecessor suspends a running device (DRIVER_OK kept) so that nothing
 * moves while the description is written and the exec runs; cancel, a
 * failed prepare and the successor start it again.  One place decides
 * when, so that a device is never stopped by a path that cannot restart
 * it.  Also the rings' positions read after the stop (GET_VRING_BASE),
 * and whether the parent can say them at all, asked before the stop.
 */
#include "handoff/handoff.h"
#include "uapi/vhost_vdpa.h"

int vdm_ho_suspend(struct vdpamap *h, uint32_t strategy)
{
	int r;

	(void)strategy;
	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK))
		return 0;
	if (!vdm_has_feature(h, VDPAMAP_F_SUSPEND))
		return 0; /* handed over running */
	/* a suspend that nothing could undo (Linux 6.1 offers SUSPEND
	 * without RESUME): cancel, a failed prepare or a keeper successor
	 * would leave the device stopped for good.  Hand it over running,
	 * as a device without SUSPEND is. */
	if (!vdm_has_feature(h, VDPAMAP_F_RESUME)) {
		vdm_info(h,
			 "handoff: the device offers SUSPEND but not RESUME: "
			 "handed over running (a suspend could not be undone)");
		return 0;
	}
	r = vdm_ioctl(h, VHOST_VDPA_SUSPEND, NULL);
	if (r < 0) {
		vdm_err(h, "handoff: SUSPEND: %d", r);
		return r;
	}
	h->ho->suspended = 1;
	return 0;
}

int vdm_ho_resume_ours(struct vdpamap *h)
{
	int r = 0;

	if (!h->ho->suspended)
		return 0;
	h->ho->suspended = 0;
	if (vdm_has_feature(h, VDPAMAP_F_RESUME))
		r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
	return r > 0 ? 0 : r;
}

int vdm_ho_resume(struct vdpamap *h)
{
	int r;

	uint64_t t;

	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK) ||
	    !vdm_has_feature(h, VDPAMAP_F_RESUME))
		return 0;
	t = vdm_ho_now_ns();
	r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
	if (h->ho) /* attached: the handle reports its phases */
		h->ho->ph.resume = vdm_ho_now_ns() - t;
	if (r < 0)
		vdm_err(h, "handoff: RESUME: %d%s%s%s", r,
			h->poison ? " (" : "", h->poison ? h->poison : "",
			h->poison ? ")" : "");
	return r > 0 ? 0 : r;
}

/* Why strategy cannot run without GET_VRING_BASE; the errno stays the
 * device's (vp_vdpa: -EOPNOTSUPP, the virtio PCI interface cannot read a
 * ring's position). */
static void no_base(struct vdpamap *h, uint32_t strategy, uint32_t vq, int r)
{
	vdm_err(h,
		"handoff: strategy %s needs each ring's position, and the "
		"parent refuses GET_VRING_BASE (vq %u: %d): strategy keeper "
		"hands the device over without it",
		vdm_ho_strategy_name(strategy), vq, r);
}

/* The first set ring, or nr_vqs: none (nothing runs). */
static uint32_t first_ring(struct vdpamap *h)
{
	uint32_t i;

	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK))
		return h->info.nr_vqs;
	for (i = 0; i < h->info.nr_vqs && !h->lc->vrings[i].set; i++)
		;
	return i;
}

int vdm_ho_vring_base_check(struct vdpamap *h, uint32_t strategy)
{
	struct vhost_vring_state s = { .index = first_ring(h) };
	int r;

	if (s.index >= h->info.nr_vqs)
		return 0;
	r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &s);
	if (r < 0) {
		no_base(h, strategy, s.index, r);
		return r;
	}
	return 0;
}

int vdm_ho_vring_bases(struct vdpamap *h, uint32_t strategy)
{
	uint32_t i;
	int r;

	for (i = first_ring(h); i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		if (!h->lc->vrings[i].set)
			continue;
		r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &s);
		if (r < 0) {
			no_base(h, strategy, i, r);
			return r;
		}
		vdm_vring_base_set(h, i, s.num);
	}
	return 0;
}
