// SPDX-License-Identifier: BSD-3-Clause
/*
 * The VDUSE device: created on /dev/vduse/control (API version 1 where
 * the kernel has it, with VDUSE_F_SUSPEND), opened as /dev/vduse/NAME,
 * and the kernel's requests answered there: one read() is one request,
 * one write() its response.  The kernel waits for each answer (30 s by
 * default, then it marks the device broken), so every request is
 * answered at once.
 *
 * At DRIVER_OK the daemon reads each vq (VDUSE_VQ_GET_INFO: addresses,
 * size, the avail index vhost set) and gives the kernel a kick eventfd
 * (VDUSE_VQ_SETUP_KICKFD); a reset (status 0) drops both, as the kernel
 * drops its side.  Used starts where avail is, as in vdpa_sim: nothing is
 * in flight at DRIVER_OK.
 *
 * Calls below it: log.c, iotlb.c, net.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "vduse/vduse.h"

#define CONTROL "/dev/vduse/control"

static uint64_t net_features(void)
{
	return (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_NET_F_MAC) |
	       (1ULL << VIRTIO_NET_F_MTU) | (1ULL << VIRTIO_NET_F_STATUS);
}

/* The API version: what was asked, or the newest of 0 and 1 the kernel
 * has; and, in version 1, VDUSE_F_SUSPEND when the kernel offers it. */
static int negotiate(struct vdu_dev *d, int want)
{
	uint64_t v = 0, f = 0;

	if (ioctl(d->ctl_fd, VDUSE_GET_API_VERSION, &v) < 0)
		return -errno;
	if (want < 0)
		want = v >= VDUSE_API_VERSION_1 ? VDUSE_API_VERSION_1 : 0;
	if ((uint64_t)want > v) {
		vdu_log(d, 0, "API version %d asked, the kernel has %llu", want,
			(unsigned long long)v);
		return -EOPNOTSUPP;
	}
	v = (uint64_t)want;
	if (ioctl(d->ctl_fd, VDUSE_SET_API_VERSION, &v) < 0)
		return -errno;
	d->api = (unsigned int)want;
	if (d->api >= VDUSE_API_VERSION_1 &&
	    ioctl(d->ctl_fd, VDUSE_GET_FEATURES, &f) == 0 &&
	    (f & (1ULL << VDUSE_F_SUSPEND))) {
		f = 1ULL << VDUSE_F_SUSPEND;
		if (ioctl(d->ctl_fd, VDUSE_SET_FEATURES, &f) < 0)
			return -errno;
		d->can_suspend = 1;
	}
	return 0;
}

static int create(struct vdu_dev *d)
{
	struct {
		struct vdm_vduse_dev_config c;
		uint8_t config[VDU_CONFIG];
	} cfg;
	struct virtio_net_config *nc = (void *)cfg.config;
	uint32_t i;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", d->name);
	cfg.c.device_id = VIRTIO_ID_NET;
	cfg.c.vendor_id = 0;
	cfg.c.features = net_features();
	cfg.c.vq_num = VDU_NR_VQS;
	cfg.c.vq_align = 4096;
	if (d->api >= VDUSE_API_VERSION_1) {
		cfg.c.ngroups = VDU_NR_GROUPS;
		cfg.c.nas = VDU_NR_AS;
	}
	cfg.c.config_size = VDU_CONFIG;
	memcpy(nc->mac, d->mac, 6);
	nc->status = VIRTIO_NET_S_LINK_UP;
	nc->max_virtqueue_pairs = 1;
	nc->mtu = 1500;
	if (ioctl(d->ctl_fd, VDUSE_CREATE_DEV, &cfg) < 0)
		return -errno;
	for (i = 0; i < VDU_NR_GROUPS; i++)
		d->group_asid[i] = 0;
	return 0;
}

static int setup_vqs(struct vdu_dev *d)
{
	uint32_t i;

	for (i = 0; i < VDU_NR_VQS; i++) {
		struct vdm_vduse_vq_config q = {
			.index = i,
			.max_size = d->qsize,
			.group = 0,
		};

		if (ioctl(d->fd, VDUSE_VQ_SETUP, &q) < 0)
			return -errno;
		d->vq[i].kick_fd = -1;
	}
	return 0;
}

int vdu_dev_create(struct vdu_dev *d, const struct vdu_create_opts *o)
{
	char path[128];
	int r;

	snprintf(d->name, sizeof(d->name), "%s", o->name);
	memcpy(d->mac, o->mac, 6);
	d->qsize = o->qsize;
	d->fd = -1;
	d->ctl_fd = open(CONTROL, O_RDWR | O_CLOEXEC);
	if (d->ctl_fd < 0) {
		r = -errno;
		vdu_log(d, 0, "%s: %s (is vduse.ko loaded?)", CONTROL,
			strerror(errno));
		return r;
	}
	r = negotiate(d, o->api);
	if (r < 0)
		goto fail_ctl;
	r = create(d);
	if (r < 0) {
		vdu_log(d, 0, "VDUSE_CREATE_DEV %s: %s", d->name, strerror(-r));
		goto fail_ctl;
	}
	snprintf(path, sizeof(path), "/dev/vduse/%s", d->name);
	d->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0) {
		r = -errno;
		vdu_log(d, 0, "%s: %s", path, strerror(errno));
		goto fail_dev;
	}
	r = setup_vqs(d);
	if (r < 0) {
		vdu_log(d, 0, "VDUSE_VQ_SETUP: %s", strerror(-r));
		goto fail_fd;
	}
	vdu_log(d, 0,
		"%s: VDUSE API %u%s, net, %d vqs of %u, %u group(s), %u AS, "
		"mac %02x:%02x:%02x:%02x:%02x:%02x",
		d->name, d->api, d->can_suspend ? " with suspend" : "",
		VDU_NR_VQS, d->qsize, d->api ? VDU_NR_GROUPS : 1,
		d->api ? VDU_NR_AS : 1, d->mac[0], d->mac[1], d->mac[2],
		d->mac[3], d->mac[4], d->mac[5]);
	return 0;

fail_fd:
	close(d->fd);
	d->fd = -1;
fail_dev:
	ioctl(d->ctl_fd, VDUSE_DESTROY_DEV, d->name);
fail_ctl:
	close(d->ctl_fd);
	d->ctl_fd = -1;
	return r;
}

static void stop_vqs(struct vdu_dev *d)
{
	uint32_t i;

	for (i = 0; i < VDU_NR_VQS; i++) {
		if (d->vq[i].kick_fd >= 0)
			close(d->vq[i].kick_fd);
		memset(&d->vq[i], 0, sizeof(d->vq[i]));
		d->vq[i].kick_fd = -1;
	}
}

int vdu_dev_destroy(struct vdu_dev *d)
{
	char name[VDUSE_NAME_MAX] = { 0 };
	int r = 0;

	stop_vqs(d);
	vdu_iotlb_drop_all(d);
	free(d->maps);
	d->maps = NULL;
	d->cap_maps = 0;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->ctl_fd < 0)
		return 0;
	snprintf(name, sizeof(name), "%s", d->name);
	if (ioctl(d->ctl_fd, VDUSE_DESTROY_DEV, name) < 0)
		r = -errno;
	if (r == -EBUSY)
		return r; /* the vdpa device still holds it: try again */
	close(d->ctl_fd);
	d->ctl_fd = -1;
	return r;
}

/* DRIVER_OK: read each ready vq from the kernel, hand it a kick eventfd. */
static void start_vqs(struct vdu_dev *d)
{
	uint32_t i;

	for (i = 0; i < VDU_NR_VQS; i++) {
		struct vduse_vq_info info = { .index = i };
		struct vduse_vq_eventfd ev = { .index = i };
		struct vdu_vq *vq = &d->vq[i];

		if (vq->started)
			continue;
		if (ioctl(d->fd, VDUSE_VQ_GET_INFO, &info) < 0) {
			vdu_log(d, 0, "VDUSE_VQ_GET_INFO %u: %s", i,
				strerror(errno));
			continue;
		}
		if (!info.ready || !info.num)
			continue;
		vq->num = info.num;
		vq->desc = info.desc_addr;
		vq->avail = info.driver_addr;
		vq->used = info.device_addr;
		vq->last_avail = info.split.avail_index;
		vq->last_used = info.split.avail_index;
		if (vq->kick_fd < 0)
			vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.fd = vq->kick_fd;
		if (vq->kick_fd < 0 ||
		    ioctl(d->fd, VDUSE_VQ_SETUP_KICKFD, &ev) < 0) {
			vdu_log(d, 0, "kick eventfd of vq %u: %s", i,
				strerror(errno));
			continue;
		}
		vq->started = 1;
		vdu_log(d, 1,
			"vq %u: num %u desc 0x%llx avail 0x%llx "
			"used 0x%llx base %u",
			i, vq->num, (unsigned long long)vq->desc,
			(unsigned long long)vq->avail,
			(unsigned long long)vq->used, vq->last_avail);
	}
}

static void set_status(struct vdu_dev *d, uint8_t status)
{
	uint8_t old = d->status;
	uint32_t i;

	d->status = status;
	if (!status) {
		/* a reset: the kernel drops the vqs and kick fds, the groups
		 * go back to ASID 0 (as vdpa_sim does) */
		stop_vqs(d);
		d->suspended = 0;
		for (i = 0; i < VDU_NR_GROUPS; i++)
			d->group_asid[i] = 0;
		return;
	}
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (ioctl(d->fd, VDUSE_DEV_GET_FEATURES, &d->features) < 0)
			d->features = 0;
		start_vqs(d);
	}
}

static uint32_t handle(struct vdu_dev *d, const struct vduse_dev_request *q,
		       struct vduse_dev_response *a)
{
	struct vdm_vduse_iova_range2 r2;
	struct vdm_vduse_vq_group_asid ga;
	uint32_t i;

	switch (q->type) {
	case VDUSE_GET_VQ_STATE:
		i = q->vq_state.index;
		if (i >= VDU_NR_VQS)
			return VDUSE_REQ_RESULT_FAILED;
		a->vq_state.index = i;
		if (d->vq[i].started) {
			a->vq_state.split.avail_index = d->vq[i].last_avail;
		} else {
			struct vduse_vq_info info = { .index = i };

			if (ioctl(d->fd, VDUSE_VQ_GET_INFO, &info) < 0)
				return VDUSE_REQ_RESULT_FAILED;
			a->vq_state.split.avail_index = info.split.avail_index;
		}
		vdu_log(d, 1, "GET_VQ_STATE %u: %u", i,
			a->vq_state.split.avail_index);
		return VDUSE_REQ_RESULT_OK;
	case VDUSE_SET_STATUS:
		vdu_log(d, 1, "SET_STATUS 0x%x", q->s.status);
		set_status(d, q->s.status);
		return VDUSE_REQ_RESULT_OK;
	case VDUSE_UPDATE_IOTLB:
		if (d->api >= VDUSE_API_VERSION_1) {
			memcpy(&r2, &q->iova, sizeof(r2));
		} else {
			r2.start = q->iova.start;
			r2.last = q->iova.last;
			r2.asid = 0;
		}
		vdu_log(d, 1, "UPDATE_IOTLB asid %u [0x%llx, 0x%llx]", r2.asid,
			(unsigned long long)r2.start,
			(unsigned long long)r2.last);
		vdu_iotlb_drop(d, r2.asid, r2.start, r2.last);
		return VDUSE_REQ_RESULT_OK;
	case VDM_VDUSE_SET_VQ_GROUP_ASID:
		memcpy(&ga, &q->vq_state, sizeof(ga));
		vdu_log(d, 1, "SET_VQ_GROUP_ASID group %u asid %u", ga.group,
			ga.asid);
		if (ga.group >= VDU_NR_GROUPS || ga.asid >= VDU_NR_AS)
			return VDUSE_REQ_RESULT_FAILED;
		d->group_asid[ga.group] = ga.asid;
		return VDUSE_REQ_RESULT_OK;
	case VDM_VDUSE_SUSPEND:
		vdu_log(d, 1, "SUSPEND");
		d->suspended = 1;
		return VDUSE_REQ_RESULT_OK;
	default:
		vdu_log(d, 0, "request type %u: not known, refused", q->type);
		return VDUSE_REQ_RESULT_FAILED;
	}
}

int vdu_dev_serve(struct vdu_dev *d)
{
	for (;;) {
		struct vduse_dev_request q;
		struct vduse_dev_response a;
		ssize_t n = read(d->fd, &q, sizeof(q));

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n != (ssize_t)sizeof(q)) {
			vdu_log(d, 0, "read of a request: %s",
				n < 0 ? strerror(errno) : "short");
			return n < 0 ? -errno : -EIO;
		}
		d->st.requests++;
		memset(&a, 0, sizeof(a));
		a.request_id = q.request_id;
		a.result = handle(d, &q, &a);
		if (write(d->fd, &a, sizeof(a)) != (ssize_t)sizeof(a)) {
			vdu_log(d, 0, "write of a response: %s",
				strerror(errno));
			return -EIO;
		}
	}
	/* a vq made ready after DRIVER_OK, a resumed data path */
	if (d->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		start_vqs(d);
		vdu_net_work(d);
	}
	return 0;
}

void vdu_dev_kick(struct vdu_dev *d, uint32_t vq)
{
	uint64_t v;

	if (read(d->vq[vq].kick_fd, &v, sizeof(v)) == sizeof(v))
		d->st.kicks++;
	vdu_net_work(d);
}
