// SPDX-License-Identifier: BSD-3-Clause
/*
 * suspend: stopping the device for the exec and starting it again.  The
 * predecessor suspends a running device (DRIVER_OK kept) so that nothing
 * moves while the description is written and the exec runs; cancel, a
 * failed prepare and the successor start it again.  One place decides
 * when, so that a device is never stopped by a path that cannot restart
 * it.  Also the rings' positions read after the stop (GET_VRING_BASE).
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

	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK) ||
	    !vdm_has_feature(h, VDPAMAP_F_RESUME))
		return 0;
	r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
	if (r < 0)
		vdm_err(h, "handoff: RESUME: %d%s%s%s", r,
			h->poison ? " (" : "", h->poison ? h->poison : "",
			h->poison ? ")" : "");
	return r > 0 ? 0 : r;
}

int vdm_ho_vring_bases(struct vdpamap *h)
{
	uint32_t i;
	int r;

	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK))
		return 0;
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		if (!h->lc->vrings[i].set)
			continue;
		r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &s);
		if (r < 0) {
			vdm_err(h, "handoff: GET_VRING_BASE vq %u: %d", i, r);
			return r;
		}
		vdm_vring_base_set(h, i, s.num);
	}
	return 0;
}
