// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulated device's lifetime: its state allocated and freed, a device
 * open (the first fd of the char device) and close (the last), and the
 * reset of vdpa_sim together with vhost-vdpa's compat reset flags.
 *
 * Calls below it: iotlb.c (drop every table), net.c (reset the vqs),
 * dma.c (reset the device-side maps), table.c (free the tables).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static const uint8_t default_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

int vsim_dev_init(struct vsim_dev *d, const struct vsim_opts *o)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->o = *o;
	d->mem_fd = -1;
	d->config_fd = -1;
	d->tbl = calloc(o->nr_as, sizeof(*d->tbl));
	d->dmap = calloc(o->nr_as, sizeof(*d->dmap));
	d->as_alloc = calloc(o->nr_as, 1);
	d->pt = calloc(o->nr_as, 1);
	d->group_asid = calloc(o->nr_groups, sizeof(*d->group_asid));
	d->vq = calloc(o->nr_vqs, sizeof(*d->vq));
	if (!d->tbl || !d->dmap || !d->as_alloc || !d->pt || !d->group_asid ||
	    !d->vq) {
		vsim_dev_fini(d);
		return -ENOMEM;
	}
	for (i = 0; i < o->nr_vqs; i++) {
		d->vq[i].kick_fd = d->vq[i].call_fd = d->vq[i].err_fd = -1;
		vsim_net_reset_vq(&d->vq[i]);
	}
	for (i = 0; i < o->nr_as; i++)
		d->pt[i] = 1;
	memcpy(d->config, default_mac, 6);
	d->config[10] = 1500 & 0xff; /* mtu, little endian */
	d->config[11] = 1500 >> 8;
	d->running = 1;
	return 0;
}

/* ---- device reset, open, close */

/* vdpa_sim reset + vhost-vdpa's compat reset flags */
void vsim_dev_reset(struct vsim_dev *d)
{
	uint32_t i;

	for (i = 0; i < d->o.nr_vqs; i++)
		vsim_net_reset_vq(&d->vq[i]);
	for (i = 0; i < d->o.nr_groups; i++)
		d->group_asid[i] = 0;
	if (!vsim_acked(d, VHOST_BACKEND_F_IOTLB_PERSIST))
		vsim_dev_reset_maps(d);
	d->running = 1;
	d->pending_kick = 0;
	d->features = 0;
	d->status = 0;
	d->suspended = 0;
}

void vsim_dev_open(struct vsim_dev *d)
{
	d->open = 1;
	d->backend_acked = 0;
	d->in_batch = 0;
	vsim_dev_reset(d);
	vsim_dev_reset_maps(d);
}

void vsim_dev_close(struct vsim_dev *d)
{
	uint32_t i;

	d->in_batch = 0;
	vsim_dev_reset(d);
	vsim_iotlb_drop_all(d);
	for (i = 0; i < d->o.nr_vqs; i++) {
		vsim_close_fd(&d->vq[i].kick_fd);
		vsim_close_fd(&d->vq[i].call_fd);
		vsim_close_fd(&d->vq[i].err_fd);
		d->vq[i].num = 0;
		d->vq[i].desc = d->vq[i].avail = d->vq[i].used = 0;
	}
	vsim_close_fd(&d->config_fd);
	vsim_close_fd(&d->mem_fd);
	d->has_owner = 0;
	d->owner_token = 0;
	d->owner_pid = 0;
	d->backend_acked = 0;
	d->open = 0;
}

void vsim_dev_fini(struct vsim_dev *d)
{
	uint32_t a;

	/* after a failed init only the frees: close needs every array */
	if (d->tbl && d->dmap && d->as_alloc && d->pt && d->group_asid &&
	    d->vq) {
		vsim_dev_close(d);
		for (a = 0; a < d->o.nr_as; a++) {
			vsim_tbl_fini(&d->tbl[a]);
			vsim_tbl_fini(&d->dmap[a]);
		}
	}
	free(d->tbl);
	free(d->dmap);
	free(d->as_alloc);
	free(d->pt);
	free(d->group_asid);
	free(d->vq);
	memset(d, 0, sizeof(*d));
}
