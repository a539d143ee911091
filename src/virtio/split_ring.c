// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio/split_ring: see split_ring.h.  The checks follow the kernel's
 * vringh (drivers/vhost/vringh.c), which vdpa_sim uses, so that the
 * simulator refuses a bad chain where the kernel's parent would.
 */
#include <errno.h>

#include "virtio/split_ring.h"

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

int vring_split_head(const struct vring_split *r, uint16_t *head)
{
	uint16_t avail_idx, h;

	if (r->read(r->read_ctx, r->avail + 2, &avail_idx, 2))
		return -EFAULT;
	if (avail_idx == r->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - r->last_avail) > r->num)
		return -EINVAL;
	/* the driver wrote the entry before publishing the index */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (r->read(r->read_ctx, r->avail + 4 + 2ULL * (r->last_avail % r->num),
		    &h, 2))
		return -EFAULT;
	if (h >= r->num)
		return -EINVAL;
	*head = h;
	return 1;
}

int vring_split_walk(struct vring_split *r, uint16_t head, vring_seg_fn seg,
		     void *seg_ctx)
{
	uint64_t table = r->desc;
	uint32_t i = head, max = r->num, count = 0;
	bool indirect = false, wrote = false;

	for (;;) {
		struct vring_desc_le d;
		bool w;
		int e;

		if (++count > max)
			return -ELOOP;
		if (r->read(r->read_ctx, table + 16ULL * i, &d, sizeof(d)))
			return -EFAULT;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.len & 15) || !d.len)
				return -EINVAL;
			indirect = true;
			table = d.addr;
			max = d.len / 16;
			i = 0;
			count = 0;
			continue;
		}
		w = d.flags & VRING_DESC_F_WRITE;
		if (!w && wrote)
			return -EINVAL; /* readable after writable */
		wrote |= w;
		e = seg(seg_ctx, d.addr, d.len, w);
		if (e < 0)
			return e;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= max)
			return -EINVAL;
	}
	r->last_avail++;
	return 0;
}
