// SPDX-License-Identifier: BSD-3-Clause
/*
 * new_owner: the NEW_OWNER successor (the unmerged "vdpa live update"
 * proposal: VHOST_NEW_OWNER, IOTLB REMAP; values in src/uapi/vhost_vdpa.h,
 * the story in docs/handoff.md).  Only in a build with -Dnew_owner=enabled.
 */
#include <stdlib.h>

#include "handoff/handoff.h"
#include "uapi/vhost_vdpa.h"

#ifdef VDPAMAP_NEW_OWNER
/* Every mirror entry (all ASIDs, in order) as one REMAP message each. */
static struct vdm_msg *remap_msgs(struct vdpamap *h, size_t *ret_n)
{
	struct vdm_msg *msgs;
	size_t n = 0, i = 0;
	uint32_t a;

	for (a = 0; a < h->info.nr_as; a++)
		n += vdm_mirror_count(h, a);
	*ret_n = n;
	if (!n)
		return NULL;
	msgs = calloc(n, sizeof(*msgs));
	if (!msgs)
		return NULL;
	for (a = 0; a < h->info.nr_as; a++) {
		struct vdm_mirror_it it;
		struct vdm_entry *e;

		for (e = vdm_mirror_first(h, a, 0, UINT64_MAX, &it); e;
		     e = vdm_mirror_next(&it))
			msgs[i++] = (struct vdm_msg){
				.type = VHOST_IOTLB_REMAP,
				.e = e,
			};
	}
	return msgs;
}

/* One REMAP per mirror entry (every ASID), batched per ASID when BATCH
 * was negotiated: the proposal allows REMAP between BATCH_BEGIN and END
 * (its uAPI comment: "followed by any number of VHOST_IOTLB_REMAP or
 * VHOST_IOTLB_UPDATE messages"); a batch-style parent then gets the map
 * once, at BATCH_END.  An entry the device refuses to REMAP (the kernel
 * says EFAULT for ENOENT and EINVAL alike: say, PA mode split it into
 * several kernel entries) is re-created instead: INVALIDATE + UPDATE.
 * *fallbacks counts those. */
static int remap_all(struct vdpamap *h, uint64_t *fallbacks)
{
	size_t n = 0, i = 0;
	struct vdm_msg *msgs = remap_msgs(h, &n);
	int r = 0;

	if (!n)
		return 0;
	if (!msgs)
		return -ENOMEM;
	while (i < n) {
		struct vdm_msg redo[2];
		int err = 0;

		i += vdm_iotlb_run(h, msgs + i, n - i, NULL, &err);
		if (i >= n)
			break;
		if (err == -ENOTRECOVERABLE) {
			r = err;
			break;
		}
		vdm_warn(h,
			 "handoff: REMAP asid %u iova 0x%llx size 0x%llx "
			 "refused (%d): INVALIDATE + UPDATE instead",
			 msgs[i].e->asid, (unsigned long long)msgs[i].e->iova,
			 (unsigned long long)vdm_entry_size(msgs[i].e), err);
		redo[0] = (struct vdm_msg){ VHOST_IOTLB_INVALIDATE, msgs[i].e };
		redo[1] = (struct vdm_msg){ VHOST_IOTLB_UPDATE, msgs[i].e };
		err = 0;
		if (vdm_iotlb_run(h, redo, 2, NULL, &err) != 2) {
			r = err ? err : -EIO;
			break;
		}
		(*fallbacks)++;
		i++;
	}
	free(msgs);
	return r;
}

/* NEW_OWNER in the successor: ownership (and the pinned accounting) moves
 * to this address space, the vrings are set again, every entry learns its
 * new uaddr (REMAP), and the device resumes.  Order as the proposal says:
 * (SUSPEND, exec,) NEW_OWNER, vrings, REMAP, RESUME.  Returns < 0 only
 * if NEW_OWNER itself failed (nothing changed); a later failure poisons
 * the handle, the reason says what. */
int vdm_ho_new_owner_takeover(struct vdpamap *h)
{
	uint64_t fallbacks = 0;
	struct vdm_region *rg;
	uint32_t i;
	int r;

	r = vdm_ioctl(h, VHOST_NEW_OWNER, NULL);
	if (r < 0) {
		vdm_err(h, "handoff: VHOST_NEW_OWNER: %d%s", r,
			r == -ENOMEM ? " (RLIMIT_MEMLOCK below what the "
				       "device pins)" :
				       "");
		return r;
	}
	/* the device must learn this address space's HVAs */
	for (rg = h->map->regions; rg; rg = rg->next)
		vdm_region_dev_base_set(h, rg, 0);
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdpamap_vring v = h->lc->vrings[i].v;

		if (!h->lc->vrings[i].set)
			continue;
		r = vdm_vring_set(h, i, &v);
		if (r < 0) {
			vdm_poison(h,
				   "handoff NEW_OWNER: vring %u could not be "
				   "set again (%d)",
				   i, r);
			return 0;
		}
	}
	r = remap_all(h, &fallbacks);
	if (r < 0) {
		vdm_poison(h,
			   "handoff NEW_OWNER: the device's maps could not "
			   "be moved to the new address space (%d)",
			   r);
		return 0;
	}
	if (fallbacks)
		vdm_warn(h,
			 "handoff NEW_OWNER: %llu entr%s re-created instead "
			 "of remapped",
			 (unsigned long long)fallbacks,
			 fallbacks == 1 ? "y" : "ies");
	vdm_ho_resume(h);
	return 0;
}
#endif
