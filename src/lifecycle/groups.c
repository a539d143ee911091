// SPDX-License-Identifier: BSD-3-Clause
/*
 * groups: virtqueue groups, descriptor groups and the group -> ASID
 * bindings.  Used by open (open.c), reset (re-applies the bindings) and
 * the flip; calls nothing else of lifecycle.
 */
#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

/* With DESC_ASID a vq's rings live in its descriptor group; without it,
 * in its vq group.  Caller holds the lock (or owns a new handle). */
int vdm_query_desc_groups(struct vdpamap *h)
{
	uint32_t i;
	int r;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		h->lc->vq_desc_group[i] = h->lc->vq_group[i];
		if (!vdm_has_feature(h, VDPAMAP_F_DESC_ASID))
			continue;
		r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_DESC_GROUP, &s);
		if (r < 0) {
			vdm_err(h, "GET_VRING_DESC_GROUP vq %u: %d", i, r);
			return r;
		}
		if (s.num >= h->info.nr_groups) {
			vdm_err(h, "vq %u: descriptor group %u of %u", i, s.num,
				h->info.nr_groups);
			return -EPROTO;
		}
		h->lc->vq_desc_group[i] = s.num;
	}
	return 0;
}

/* Each vq's group as the device reports it (a kernel before groups: all
 * in group 0), then the descriptor groups.  Caller holds the lock (or
 * owns a new handle). */
int vdm_query_vq_groups(struct vdpamap *h)
{
	uint32_t i;
	int r;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_GROUP, &s);
		if (r == -ENOTTY || r == -EOPNOTSUPP)
			continue; /* before groups existed: all in 0 */
		if (r < 0) {
			vdm_err(h, "GET_VRING_GROUP vq %u: %d", i, r);
			return r;
		}
		if (s.num >= h->info.nr_groups) {
			vdm_err(h, "vq %u in group %u of %u", i, s.num,
				h->info.nr_groups);
			return -EPROTO;
		}
		h->lc->vq_group[i] = s.num;
	}
	return vdm_query_desc_groups(h);
}

VDPAMAP_API int vdpamap_vq_group(struct vdpamap *h, uint32_t vq,
				 uint32_t *ret_group)
{
	int r;

	if (!ret_group)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (vq >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", vq, h->info.nr_vqs);
		r = -EINVAL;
	} else {
		*ret_group = h->lc->vq_group[vq];
	}
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_vq_desc_group(struct vdpamap *h, uint32_t vq,
				      uint32_t *ret_group)
{
	struct vhost_vring_state s = { .index = vq };
	int r;

	if (!ret_group)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (!vdm_has_feature(h, VDPAMAP_F_DESC_ASID)) {
		vdm_err(h, "descriptor groups need DESC_ASID (not negotiated)");
		r = -EOPNOTSUPP;
	} else if (vq >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", vq, h->info.nr_vqs);
		r = -EINVAL;
	} else {
		r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_DESC_GROUP, &s);
		if (r >= 0) {
			*ret_group = s.num;
			r = 0;
		}
	}
	vdm_leave(h);
	return r;
}

/* Caller holds the lock. */
int vdm_group_asid_apply(struct vdpamap *h, uint32_t group, uint32_t asid)
{
	struct vhost_vring_state s = { .index = group, .num = asid };
	int r;

	if (group >= h->info.nr_groups) {
		vdm_err(h, "group %u out of range (%u groups)", group,
			h->info.nr_groups);
		return -EINVAL;
	}
	if (asid >= h->info.nr_as) {
		vdm_err(h, "asid %u out of range (%u address spaces)", asid,
			h->info.nr_as);
		return -EINVAL;
	}
	if (!vdm_has_feature(h, VDPAMAP_F_IOTLB_ASID)) {
		if (asid == 0) {
			h->lc->group_asid[group] = 0;
			return 0;
		}
		vdm_err(h, "group %u -> asid %u needs IOTLB_ASID", group, asid);
		return -EOPNOTSUPP;
	}
	r = vdm_ioctl(h, VHOST_VDPA_SET_GROUP_ASID, &s);
	if (r < 0) {
		vdm_err(h, "SET_GROUP_ASID group %u asid %u: %d", group, asid,
			r);
		return r;
	}
	h->lc->group_asid[group] = asid;
	return 0;
}

void vdm_group_asid_probe(struct vdpamap *h)
{
	struct vhost_vring_state s = { .index = 0 };
	int r;

	if (h->lc->asid_probe || h->info.nr_as < 2 ||
	    !vdm_has_feature(h, VDPAMAP_F_IOTLB_ASID))
		return;
	s.num = h->lc->group_asid[0];
	r = vdm_ioctl(h, VHOST_VDPA_SET_GROUP_ASID, &s);
	if (r >= 0)
		h->lc->asid_probe = 1;
	else if (r == -EOPNOTSUPP)
		h->lc->asid_probe = -1;
	vdm_dbg(h, "SET_GROUP_ASID probe (group 0 to ASID %u): %d", s.num, r);
}

VDPAMAP_API int vdpamap_set_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t asid)
{
	int r = vdm_enter_idle(h, false, "vdpamap_set_group_asid");

	if (r < 0)
		return r;
	r = vdm_group_asid_apply(h, group, asid);
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_get_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t *ret_asid)
{
	int r;

	if (!ret_asid)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (group >= h->info.nr_groups) {
		vdm_err(h, "group %u out of range (%u groups)", group,
			h->info.nr_groups);
		r = -EINVAL;
	} else {
		*ret_asid = h->lc->group_asid[group];
	}
	vdm_leave(h);
	return r;
}
