// SPDX-License-Identifier: BSD-3-Clause
/*
 * reset: reset the device and leave every map and group binding valid.
 * With IOTLB_PERSIST the device keeps its maps; without it the parent has
 * dropped them while vhost-vdpa still holds its table, so every entry is
 * invalidated and re-added (one batch per ASID); a poisoned handle is
 * resynced either way, and only a resync that the device took whole
 * clears the poison.  Reset also moves every group back to ASID 0 in the
 * kernel: the bindings are re-applied.
 */
#include <stdlib.h>
#include <time.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

#define NSEC_PER_SEC 1000000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* INVALIDATE + UPDATE every entry of asid.  Returns 0 or the first error;
 * an entry the device did not take back goes to h->map->lost. */
static int resync_as(struct vdpamap *h, uint32_t asid, uint64_t *msgs_sent)
{
	struct vdm_mirror_it it;
	struct vdm_msg *m;
	struct vdm_entry *e;
	size_t cnt = vdm_mirror_count(h, asid), k = 0, pos = 0;
	int first_err = 0;

	if (!cnt)
		return 0;
	m = calloc(2 * cnt, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (e = vdm_mirror_first(h, asid, 0, UINT64_MAX, &it); e;
	     e = vdm_mirror_next(&it)) {
		m[k++] = (struct vdm_msg){ VHOST_IOTLB_INVALIDATE, e };
		m[k++] = (struct vdm_msg){ VHOST_IOTLB_UPDATE, e };
	}
	while (pos < k) {
		int err = 0;
		size_t done = vdm_iotlb_run(h, m + pos, k - pos, NULL, &err);

		*msgs_sent += done;
		pos += done;
		if (!err)
			break;
		if (!first_err)
			first_err = err;
		if (pos >= k)
			break;
		if (m[pos].type == VHOST_IOTLB_UPDATE) {
			/* invalidated but not re-added: the device lost it */
			vdm_entry_lose(h, m[pos].e);
			pos++;
		} else {
			/* still in vhost's table, maybe not in the device:
			 * skip its UPDATE, the poison says why */
			pos += 2;
		}
	}
	free(m);
	return first_err;
}

/* Caller holds the lock. */
int vdm_reset(struct vdpamap *h, struct vdpamap_reset_info *info)
{
	struct vdpamap_reset_info ri = { 0 };
	uint64_t t0 = now_ns(), w0;
	uint8_t status = 0;
	uint32_t i;
	int r, err = 0;

	if (h->tp->broken) {
		vdm_err(h, "reset: the connection to the device is lost");
		return -ENOTRECOVERABLE;
	}
	w0 = h->stats.iotlb_writes;
	r = vdm_ioctl(h, VHOST_VDPA_SET_STATUS, &status);
	if (r < 0) {
		vdm_err(h, "reset: SET_STATUS 0: %d", r);
		return r;
	}
	h->lc->status = 0;
	h->lc->deferred_status = 0;
	for (i = 0; i < h->info.nr_vqs; i++)
		h->lc->vrings[i].set = h->lc->vrings[i].enabled = false;

	/* A poisoned handle's device may not match the mirror: keeping its
	 * maps would keep the mismatch.  Only a resync from the mirror is
	 * evidence enough to clear the poison below, so it resyncs even
	 * with IOTLB_PERSIST. */
	if (vdm_has_feature(h, VDPAMAP_F_IOTLB_PERSIST) && !h->poison) {
		ri.path = VDPAMAP_RESET_PERSIST;
	} else {
		uint64_t sent = 0;

		ri.path = VDPAMAP_RESET_RESYNC;
		for (i = 0; i < h->info.nr_as; i++) {
			r = resync_as(h, i, &sent);
			if (r < 0 && !err)
				err = r;
		}
	}
	if (h->map->lost) {
		r = vdm_restore_lost(h);
		if (r < 0 && !err)
			err = r;
	}
	for (i = 0; i < h->info.nr_groups; i++) {
		if (!h->lc->group_asid[i])
			continue;
		r = vdm_group_asid_apply(h, i, h->lc->group_asid[i]);
		if (r < 0 && !err)
			err = r;
		else if (r == 0)
			ri.groups_rebound++;
	}
	if (err) {
		vdm_poison(h, "reset could not restore the device table (%d)%s",
			   err, h->map->lost ? "; some entries lost" : "");
		r = -ENOTRECOVERABLE;
	} else {
		if (h->poison) {
			/* the device was reset and rebuilt from the mirror,
			 * every entry and binding accepted */
			vdm_info(h,
				 "reset restored the device table: poison "
				 "cleared (%s)",
				 h->poison);
			vdm_poison_clear(h);
		}
		r = 0;
	}
	for (i = 0; i < h->info.nr_as; i++)
		ri.entries += vdm_mirror_count(h, i);
	ri.iotlb_msgs = h->stats.iotlb_writes - w0;
	ri.ns = now_ns() - t0;
	if (info && r == 0)
		*info = ri;
	return r;
}

VDPAMAP_API int vdpamap_reset(struct vdpamap *h,
			      struct vdpamap_reset_info *info)
{
	int r;

	r = vdm_enter_idle(h, true, "vdpamap_reset");
	if (r < 0)
		return r;
	r = vdm_reset(h, info);
	vdm_leave(h);
	return r;
}
