// SPDX-License-Identifier: BSD-3-Clause
/*
 * vring: configure, enable and read back the device's virtqueues, and
 * keep what was set (the DRIVER_OK check of status.c, the flip and a
 * handoff description read it).
 */
#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

void vdm_vring_restore(struct vdpamap *h, uint32_t idx, bool set, bool enabled,
		       const struct vdpamap_vring *v)
{
	struct vdm_vring *vr = &h->lc->vrings[idx];

	vr->set = set;
	vr->enabled = enabled;
	vr->v = *v;
}

void vdm_vring_base_set(struct vdpamap *h, uint32_t idx, uint32_t base)
{
	h->lc->vrings[idx].v.base = base;
}

void vdm_vring_rings_set(struct vdpamap *h, uint32_t idx,
			 const struct vdpamap_vring *v)
{
	struct vdpamap_vring *cur = &h->lc->vrings[idx].v;

	cur->num = v->num;
	cur->base = v->base;
	cur->desc = v->desc;
	cur->avail = v->avail;
	cur->used = v->used;
}

/* Caller holds the lock (or owns a new handle). */
int vdm_vring_set(struct vdpamap *h, uint32_t idx,
		  const struct vdpamap_vring *v)
{
	struct vhost_vring_state st = { .index = idx };
	struct vhost_vring_addr addr = { .index = idx };
	struct vhost_vring_file f = { .index = idx };
	int r;

	if (idx >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", idx, h->info.nr_vqs);
		r = -EINVAL;
		goto out;
	}
	if (!v->num || (v->num & (v->num - 1)) ||
	    (h->info.max_vring_num && v->num > h->info.max_vring_num)) {
		vdm_err(h, "vq %u: ring size %u (max %u, power of two)", idx,
			v->num, h->info.max_vring_num);
		r = -EINVAL;
		goto out;
	}
	if (h->lc->ring_size_fixed && v->num != h->info.max_vring_num) {
		vdm_err(h,
			"vq %u: ring size %u refused: this device (vdpa_sim "
			"before Linux 5.12) walks every ring at size %u and "
			"would lose buffers once a smaller ring wraps: use %u",
			idx, v->num, h->info.max_vring_num,
			h->info.max_vring_num);
		r = -EINVAL;
		goto out;
	}
	st.num = v->num;
	r = vdm_ioctl(h, VHOST_SET_VRING_NUM, &st);
	if (r < 0)
		goto out;
	st.num = v->base;
	r = vdm_ioctl(h, VHOST_SET_VRING_BASE, &st);
	if (r < 0) {
		/* the kernel's errno cannot say that only the position is
		 * refused: vp_vdpa takes nothing but a fresh ring's 0 */
		vdm_err(h, "vq %u: SET_VRING_BASE %u: %d%s", idx, v->base, r,
			r == -EOPNOTSUPP && v->base ?
				" (the parent cannot place a ring anywhere "
				"but at 0)" :
				"");
		goto out;
	}
	addr.desc_user_addr = v->desc;
	addr.avail_user_addr = v->avail;
	addr.used_user_addr = v->used;
	r = vdm_ioctl(h, VHOST_SET_VRING_ADDR, &addr);
	if (r < 0)
		goto out;
	f.fd = v->kick_fd;
	r = vdm_ioctl(h, VHOST_SET_VRING_KICK, &f);
	if (r < 0)
		goto out;
	f.fd = v->call_fd;
	r = vdm_ioctl(h, VHOST_SET_VRING_CALL, &f);
	if (r < 0)
		goto out;
	h->lc->vrings[idx].set = true;
	h->lc->vrings[idx].v = *v;
	r = 0;
out:
	return r;
}

VDPAMAP_API int vdpamap_vring_set(struct vdpamap *h, uint32_t idx,
				  const struct vdpamap_vring *v)
{
	int r;

	if (!v)
		return -EINVAL;
	r = vdm_enter_idle(h, false, "vdpamap_vring_set");
	if (r < 0)
		return r;
	r = vdm_vring_set(h, idx, v);
	vdm_leave(h);
	return r;
}

/* Caller holds the lock (or owns a new handle). */
int vdm_vring_enable(struct vdpamap *h, uint32_t idx, int enable)
{
	struct vhost_vring_state st = { .index = idx, .num = !!enable };
	int r;

	if (idx >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", idx, h->info.nr_vqs);
		return -EINVAL;
	}
	r = vdm_ioctl(h, VHOST_VDPA_SET_VRING_ENABLE, &st);
	if (r < 0)
		return r;
	h->lc->vrings[idx].enabled = !!enable;
	return 0;
}

VDPAMAP_API int vdpamap_vring_enable(struct vdpamap *h, uint32_t idx,
				     int enable)
{
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_vring_enable");
	if (r < 0)
		return r;
	r = vdm_vring_enable(h, idx, enable);
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_vring_get_base(struct vdpamap *h, uint32_t idx,
				       uint32_t *ret_base)
{
	struct vhost_vring_state st = { .index = idx };
	int r;

	if (!ret_base)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (idx >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", idx, h->info.nr_vqs);
		r = -EINVAL;
	} else {
		r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &st);
		if (r >= 0) {
			*ret_base = st.num;
			r = 0;
		}
	}
	vdm_leave(h);
	return r;
}
