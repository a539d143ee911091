// SPDX-License-Identifier: BSD-3-Clause
/*
 * flip_vring: re-pointing a vq's rings during a flip, an unflip and their
 * undo, and the split-ring layout the checks need.
 *
 * The parent latches ring addresses when a vq becomes ready (vdpa_sim's
 * vdpasim_queue_ready()), so an enabled vq is re-pointed inside an
 * ENABLE 0/1 cycle (allowed by ENABLE_AFTER_DRIVER_OK): ENABLE 0, NUM,
 * BASE, ADDR, ENABLE 1.  On a started device vhost-vdpa takes ADDR and
 * BASE only while it is suspended (the callers' business).
 *
 * The lifecycle module sets rings up the same way (vdm_vring_set(), with
 * KICK and CALL, and no enable cycle); what the flip changed is recorded
 * there with vdm_vring_rings_set().
 */
#include "migrate/migrate.h"
#include "uapi/vhost_vdpa.h"

/* A split virtqueue of num entries (virtio 1.x, 2.7): a 16-byte
 * descriptor per entry; the avail ring a 2-byte head index per entry, the
 * used ring an 8-byte element per entry, each framed by three 2-byte
 * fields (flags, idx and the trailing event index). */
#define VRING_DESC_BYTES       16
#define VRING_AVAIL_ELEM_BYTES 2
#define VRING_USED_ELEM_BYTES  8
#define VRING_FRAME_BYTES      6

const char *const vdm_ring_part[VDM_RING_PARTS] = { "desc", "avail", "used" };
const uint64_t vdm_ring_align[VDM_RING_PARTS] = { 16, 2, 4 };

void vdm_ring_extents(const struct vdpamap_vring *v,
		      uint64_t addr[VDM_RING_PARTS],
		      uint64_t size[VDM_RING_PARTS])
{
	addr[VDM_RING_DESC] = v->desc;
	addr[VDM_RING_AVAIL] = v->avail;
	addr[VDM_RING_USED] = v->used;
	size[VDM_RING_DESC] = (uint64_t)VRING_DESC_BYTES * v->num;
	size[VDM_RING_AVAIL] =
		VRING_FRAME_BYTES + (uint64_t)VRING_AVAIL_ELEM_BYTES * v->num;
	size[VDM_RING_USED] =
		VRING_FRAME_BYTES + (uint64_t)VRING_USED_ELEM_BYTES * v->num;
}

bool vdm_flip_vring_clean(const struct vdpamap_flip_vring *fv)
{
	return !fv->reserved0 && !fv->reserved[0] && !fv->reserved[1] &&
	       !(fv->flags & ~VDPAMAP_FLIP_VRING_BASE);
}

/* Point vq at rings v (NUM, BASE, ADDR), inside an ENABLE 0/1 cycle when
 * the vq is enabled so that the parent latches the new addresses. */
static int vring_point(struct vdpamap *h, uint32_t vq,
		       const struct vdpamap_vring *v, bool cycle)
{
	struct vhost_vring_state st = { .index = vq };
	struct vhost_vring_addr a = {
		.index = vq,
		.desc_user_addr = v->desc,
		.avail_user_addr = v->avail,
		.used_user_addr = v->used,
	};
	int r;

	if (cycle) {
		st.num = 0;
		r = vdm_flip_ioctl(h, VHOST_VDPA_SET_VRING_ENABLE, &st,
				   "disable vq", vq);
		if (r < 0)
			return r;
	}
	st.num = v->num;
	r = vdm_flip_ioctl(h, VHOST_SET_VRING_NUM, &st, "SET_VRING_NUM vq", vq);
	if (r < 0)
		return r;
	st.num = v->base;
	r = vdm_flip_ioctl(h, VHOST_SET_VRING_BASE, &st, "SET_VRING_BASE vq",
			   vq);
	if (r < 0)
		return r;
	r = vdm_flip_ioctl(h, VHOST_SET_VRING_ADDR, &a, "SET_VRING_ADDR vq",
			   vq);
	if (r < 0)
		return r;
	if (cycle) {
		st.num = 1;
		r = vdm_flip_ioctl(h, VHOST_VDPA_SET_VRING_ENABLE, &st,
				   "enable vq", vq);
		if (r < 0)
			return r;
	}
	vdm_vring_rings_set(h, vq, v);
	return 0;
}

/* Where vq stopped: its next avail index. */
static int vring_base(struct vdpamap *h, uint32_t vq, uint32_t *ret)
{
	struct vhost_vring_state st = { .index = vq };
	int r;

	r = vdm_flip_ioctl(h, VHOST_GET_VRING_BASE, &st, "GET_VRING_BASE vq",
			   vq);
	if (r == 0)
		*ret = st.num;
	return r;
}

int vdm_rings_move(struct vdpamap *h, struct vdm_flip_ring *rings, uint32_t n,
		   bool to_shadow, uint32_t *done)
{
	uint32_t k;
	int r;

	for (k = 0; k < n; k++) {
		struct vdm_flip_ring *fr = &rings[k];
		struct vdpamap_vring *v = to_shadow ? &fr->shadow : &fr->guest;

		if (!fr->base_given) {
			r = vring_base(h, fr->vq, &v->base);
			if (r < 0) {
				*done = k;
				return r;
			}
		}
		r = vring_point(h, fr->vq, v, fr->enabled);
		if (r < 0) {
			*done = k + 1; /* partly pointed: point it back too */
			return r;
		}
	}
	*done = n;
	return 0;
}

void vdm_rings_move_back(struct vdpamap *h, const struct vdm_flip_ring *rings,
			 uint32_t n, bool to_shadow, int *undo)
{
	while (n--) {
		const struct vdm_flip_ring *fr = &rings[n];
		struct vdpamap_vring v = to_shadow ? fr->guest : fr->shadow;
		int r = vring_base(h, fr->vq, &v.base);

		if (r == 0)
			r = vring_point(h, fr->vq, &v, fr->enabled);
		vdm_undo_note(h, undo, r, "pointing back vq", fr->vq);
	}
}
