// SPDX-License-Identifier: BSD-3-Clause
/*
 * config: reads and writes of the device's config space, bounded by the
 * config size the device reported at open.
 */
#include <stdlib.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

static int config_io(struct vdpamap *h, unsigned long req, uint32_t off,
		     void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c;
	int r;

	if (!buf || !len)
		return -EINVAL;
	r = req == VHOST_VDPA_SET_CONFIG ?
		    vdm_enter_idle(h, true, "vdpamap_set_config") :
		    vdm_enter_query(h);
	if (r < 0)
		return r;
	/* config_size 0: no config space reachable (a kernel before 5.18
	 * refuses every access to a device class other than net) */
	if (off > h->info.config_size || len > h->info.config_size - off) {
		vdm_err(h, "config [%u, +%u) past config size %u", off, len,
			h->info.config_size);
		r = -EINVAL;
		goto out;
	}
	c = malloc(sizeof(*c) + len);
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	c->off = off;
	c->len = len;
	if (req == VHOST_VDPA_SET_CONFIG)
		memcpy(c->buf, buf, len);
	r = vdm_ioctl(h, req, c);
	if (r >= 0) {
		if (req == VHOST_VDPA_GET_CONFIG)
			memcpy(buf, c->buf, len);
		r = 0;
	}
	free(c);
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_get_config(struct vdpamap *h, uint32_t off, void *buf,
				   uint32_t len)
{
	return config_io(h, VHOST_VDPA_GET_CONFIG, off, buf, len);
}

VDPAMAP_API int vdpamap_set_config(struct vdpamap *h, uint32_t off,
				   const void *buf, uint32_t len)
{
	return config_io(h, VHOST_VDPA_SET_CONFIG, off, (void *)buf, len);
}
