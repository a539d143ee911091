// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip_steps: the device steps a flip and an unflip share, but for
 * re-pointing rings (flip_vring.c): suspend and resume, the shadow maps'
 * IOTLB messages, group bindings; and the bookkeeping of a failed call's
 * undo.  Every device error becomes -EIO, logged with the device's own
 * errno, as for refused IOTLB messages.
 */
#include <stdlib.h>
#include <time.h>

#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

#define NSEC_PER_SEC 1000000000ULL

uint64_t vdm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int vdm_flip_ioctl(struct vdpamap *h, unsigned long req, void *arg,
		   const char *what, uint32_t idx)
{
	int r = vdm_ioctl(h, req, arg);

	if (r >= 0)
		return 0;
	vdm_err(h, "flip: %s %u: %d", what, idx, r);
	return -EIO;
}

int vdm_flip_need_suspend(struct vdpamap *h, uint32_t flags, bool *ret,
			  bool *reset)
{
	*ret = *reset = false;
	if (!(h->lc->status & VDPAMAP_S_DRIVER_OK))
		return 0;
	if (h->lc->asid_probe < 0) {
		vdm_err(h, "the device runs and its parent refused "
			   "SET_GROUP_ASID before DRIVER_OK (EOPNOTSUPP)");
		return -EOPNOTSUPP;
	}
	/* a device that cannot resume restarts through a reset, also when
	 * the caller suspended it */
	*reset = (h->mig && h->mig->frozen) ||
		 !vdm_has_feature(h, VDPAMAP_F_RESUME);
	if (flags & VDPAMAP_FLIP_SUSPENDED)
		return 0;
	if (!vdm_has_feature(h, VDPAMAP_F_SUSPEND)) {
		vdm_err(h, "the device runs and cannot be suspended (SUSPEND "
			   "not negotiated): reset it, flip, then restart");
		return -EOPNOTSUPP;
	}
	*ret = !*reset;
	return 0;
}

int vdm_flip_suspend(struct vdpamap *h)
{
	return vdm_flip_ioctl(h, VHOST_VDPA_SUSPEND, NULL, "SUSPEND", 0);
}

int vdm_flip_resume(struct vdpamap *h)
{
	return vdm_flip_ioctl(h, VHOST_VDPA_RESUME, NULL, "RESUME", 0);
}

static void msg_insert(struct vdpamap *h, const struct vdm_msg *m)
{
	vdm_mirror_insert(h, m->e);
}

static void msg_remove(struct vdpamap *h, const struct vdm_msg *m)
{
	vdm_mirror_remove(h, m->e);
}

static uint8_t inverse(uint8_t type)
{
	return type == VHOST_IOTLB_UPDATE ? VHOST_IOTLB_INVALIDATE :
					    VHOST_IOTLB_UPDATE;
}

int vdm_flip_iotlb(struct vdpamap *h, struct vdm_entry **ents, uint32_t n,
		   uint8_t type)
{
	struct vdm_msg *m;
	size_t done, undone;
	uint32_t i;
	int err = 0, err2 = 0, r = 0;
	bool cap;

	if (!n)
		return 0;
	m = calloc(n, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		m[i] = (struct vdm_msg){ type, ents[i] };
	/* shadow maps count against the shadow ASID's IOTLB entry cap like
	 * any other map: refused before anything is sent if known not to
	 * fit, and an EFAULT the cap explains is -ENOSPC, not -EIO */
	r = vdm_entries_check(h, m, n);
	if (r < 0)
		goto out;
	done = vdm_iotlb_run(h, m, n,
			     type == VHOST_IOTLB_UPDATE ? msg_insert :
							  msg_remove,
			     &err);
	if (!err)
		goto out;
	cap = err == -EFAULT && done < n &&
	      vdm_entries_efault_is_cap(h, &m[done]);
	for (i = 0; i < done; i++)
		m[i] = (struct vdm_msg){ inverse(type), ents[done - 1 - i] };
	undone = vdm_iotlb_run(h, m, done,
			       type == VHOST_IOTLB_UPDATE ? msg_remove :
							    msg_insert,
			       &err2);
	r = cap ? -ENOSPC : -EIO;
	if (err2 || undone != done) {
		vdm_poison(h,
			   "flip: undoing %zu shadow map messages failed "
			   "(%d)",
			   done, err2);
		r = -ENOTRECOVERABLE;
	}
out:
	free(m);
	return r;
}

int vdm_groups_move(struct vdpamap *h, const uint32_t *groups,
		    const uint32_t *asid, uint32_t one_asid, uint32_t n,
		    uint32_t *done)
{
	uint32_t g;
	int r;

	for (g = 0; g < n; g++) {
		r = vdm_group_asid_apply(h, groups[g],
					 asid ? asid[g] : one_asid);
		if (r == -EBUSY && !g &&
		    (h->lc->status & VDPAMAP_S_DRIVER_OK)) {
			/* group ASIDs frozen at DRIVER_OK (Linux >= 7.0):
			 * the reset path goes on from here */
			h->mig->frozen = true;
			*done = 0;
			return 1;
		}
		if (r < 0) {
			*done = g;
			return -EIO;
		}
	}
	*done = n;
	return 0;
}

void vdm_groups_move_back(struct vdpamap *h, const uint32_t *groups,
			  const uint32_t *asid, uint32_t one_asid, uint32_t n,
			  int *undo)
{
	while (n--)
		vdm_undo_note(h, undo,
			      vdm_group_asid_apply(h, groups[n],
						   asid ? asid[n] : one_asid),
			      "binding back group", groups[n]);
}

void vdm_undo_note(struct vdpamap *h, int *undo, int r, const char *what,
		   uint32_t idx)
{
	if (r >= 0)
		return;
	vdm_err(h, "undo: %s %u failed: %d%s", what, idx, r,
		*undo ? "" : " (the first undo failure)");
	if (!*undo)
		*undo = r;
}

void vdm_flip_info_fill(struct vdpamap *h, struct vdpamap_flip_info *in,
			const struct vdpamap_stats *s0, uint64_t t0)
{
	in->iotlb_msgs = h->stats.iotlb_writes - s0->iotlb_writes;
	in->iotlb_updates = h->stats.iotlb_updates - s0->iotlb_updates;
	in->iotlb_invalidates =
		h->stats.iotlb_invalidates - s0->iotlb_invalidates;
	in->ioctls = h->stats.ioctls - s0->ioctls;
	in->ns = vdm_now_ns() - t0;
}
