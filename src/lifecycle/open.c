// SPDX-License-Identifier: BSD-3-Clause
/*
 * open: the handle's life.  A new handle from the open options (its
 * lifecycle state and hook), open or adopt of the device, the set-up that
 * follows (owner, backend features, the device's counts, the memory mode,
 * the pre-mapped regions: features.c, groups.c), close, and the plain
 * reads of what open recorded (fd, info, stats).
 */
#include <stdlib.h>
#include <unistd.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

static void lifecycle_free(struct vdpamap *h)
{
	if (!h->lc)
		return;
	free(h->lc->vq_group);
	free(h->lc->vq_desc_group);
	free(h->lc->group_asid);
	free(h->lc->vrings);
	free(h->lc);
	h->lc = NULL;
}

static const struct vdm_hook_ops lifecycle_hooks = {
	.free = lifecycle_free,
};

int vdm_lifecycle_setup(struct vdpamap *h)
{
	struct vdm_lifecycle *lc = h->lc;

	lc->vq_group = calloc(h->info.nr_vqs, sizeof(*lc->vq_group));
	lc->vq_desc_group = calloc(h->info.nr_vqs, sizeof(*lc->vq_desc_group));
	lc->group_asid = calloc(h->info.nr_groups, sizeof(*lc->group_asid));
	lc->vrings = calloc(h->info.nr_vqs, sizeof(*lc->vrings));
	if (!lc->vq_group || !lc->vq_desc_group || !lc->group_asid ||
	    !lc->vrings)
		return -ENOMEM;
	return 0;
}

void vdm_lifecycle_restore(struct vdpamap *h, const uint32_t *group_asid,
			   const uint32_t *vq_group, uint8_t status,
			   uint64_t driver_features)
{
	struct vdm_lifecycle *lc = h->lc;

	memcpy(lc->vq_group, vq_group, h->info.nr_vqs * sizeof(uint32_t));
	memcpy(lc->vq_desc_group, vq_group, h->info.nr_vqs * sizeof(uint32_t));
	memcpy(lc->group_asid, group_asid,
	       h->info.nr_groups * sizeof(uint32_t));
	lc->status = status;
	lc->driver_features = driver_features;
}

void vdm_handle_free(struct vdpamap *h)
{
	vdm_hooks_free(h);
	vdm_core_free(h);
}

/* opts.regions: prefault them if asked, register them, and map each one
 * at its iova in ASID 0 in one transaction. */
static int premap_regions(struct vdpamap *h,
			  const struct vdpamap_open_opts *opts)
{
	const struct vdpamap_region *regs = OPTS_GET(opts, regions, NULL);
	uint32_t nregs = OPTS_GET(opts, nr_regions, 0);
	struct vdpamap_txn *t;
	uint32_t i;
	int r;

	if (OPTS_GET(opts, prefault_threads, 0)) {
		r = vdm_prefault(h, regs, nregs,
				 OPTS_GET(opts, prefault_threads, 0));
		if (r < 0)
			return r;
	}
	for (i = 0; i < nregs; i++) {
		r = vdm_region_add(h, &regs[i], NULL);
		if (r < 0) {
			vdm_err(h, "opts.regions[%u]: %d", i, r);
			return r;
		}
	}
	r = vdm_txn_new(h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < nregs; i++) {
		r = vdm_txn_map(t, 0, regs[i].iova, regs[i].hva, regs[i].len,
				regs[i].perm ? regs[i].perm : VDPAMAP_PERM_RW,
				NULL);
		if (r < 0) {
			vdm_err(h, "opts.regions[%u] pre-map: %d", i, r);
			vdm_txn_abort(t);
			return r;
		}
	}
	return vdm_txn_commit(t);
}

static int setup_locked(struct vdpamap *h, const struct vdpamap_open_opts *opts)
{
	uint64_t want = OPTS_GET(opts, want_features, 0);
	uint64_t require = OPTS_GET(opts, require_features, 0);
	uint32_t mode = OPTS_GET(opts, mem_mode, VDPAMAP_MEMMODE_AUTO);
	int r;

	r = vdm_ioctl(h, VHOST_SET_OWNER, NULL);
	if (r == -EBUSY)
		vdm_info(h, "device already owned (adopted): continuing");
	else if (r < 0)
		return r;

	r = vdm_negotiate(h, want ? want : VDPAMAP_F_KNOWN,
			  require ? require : VDPAMAP_F_IOTLB_MSG_V2);
	if (r < 0)
		return r;
	if ((r = vdm_device_query(h)) < 0 || (r = vdm_lifecycle_setup(h)) < 0 ||
	    (r = vdm_mapping_setup(h)) < 0 || (r = vdm_query_vq_groups(h)) < 0)
		return r;
	h->info.is_sim = (uint32_t)h->tp->is_sim;

	if (mode == VDPAMAP_MEMMODE_AUTO) {
		r = vdm_probe_mem_mode(h);
		if (r < 0)
			return r;
	} else {
		h->info.mem_mode = mode;
	}
	vdm_caps_read(h, opts);

	if (OPTS_GET(opts, nr_regions, 0))
		return premap_regions(h, opts);
	return 0;
}

/* The handle is nobody else's yet; the lock is taken all the same so that
 * vdm_leave() publishes what setup mapped. */
static int setup(struct vdpamap *h, const struct vdpamap_open_opts *opts)
{
	int r;

	pthread_mutex_lock(&h->lock);
	r = setup_locked(h, opts);
	vdm_leave(h);
	return r;
}

int vdm_handle_new(const struct vdpamap_open_opts *opts, struct vdpamap **ret)
{
	struct vdpamap *h;
	long ps;
	int r;

	r = OPTS_ERR(opts, vdpamap_open_opts);
	if (r < 0)
		return r;
	if (OPTS_GET(opts, nr_regions, 0) && !OPTS_GET(opts, regions, NULL))
		return -EINVAL;
	if (OPTS_GET(opts, mem_mode, 0) > VDPAMAP_MEMMODE_VA)
		return -EINVAL;
	if (OPTS_GET(opts, flags, 0) &
	    ~(VDPAMAP_OPEN_ALLOW_UNALIGNED | VDPAMAP_OPEN_NO_MEMLOCK_CHECK))
		return -EINVAL;
	ps = OPTS_GET(opts, page_size, 0);
	if (!ps)
		ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0 || (ps & (ps - 1)))
		return -EINVAL;

	h = vdm_core_new(OPTS_GET(opts, log_fn, NULL),
			 OPTS_GET(opts, log_ctx, NULL),
			 OPTS_GET(opts, log_level, 0), OPTS_GET(opts, flags, 0),
			 (uint64_t)ps);
	if (!h)
		return -ENOMEM;
	h->lc = calloc(1, sizeof(*h->lc));
	if (h->lc)
		vdm_hook_set(h, VDM_HOOK_LIFECYCLE, &lifecycle_hooks);
	if (!h->lc || vdm_mapping_init(h) < 0) {
		vdm_handle_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

/* A new handle on path, set up from opts (and its regions mapped). */
int vdm_open(const char *path, const struct vdpamap_open_opts *opts,
	     struct vdpamap **ret)
{
	uint32_t timeout = OPTS_GET(opts, connect_timeout_ms, 0);
	struct vdpamap *h;
	int r;

	r = vdm_handle_new(opts, &h);
	if (r < 0)
		return r;
	r = vdm_tp_open(path, timeout, h->tp);
	if (r == -ETIMEDOUT)
		vdm_err(h,
			"open %s: no answer within %u ms: nobody serves the "
			"socket (opts.connect_timeout_ms)",
			path, timeout ? timeout : VDM_SIM_TIMEOUT_MS);
	else if (r < 0)
		vdm_err(h, "open %s: %d", path, r);
	if (r < 0) {
		vdm_handle_free(h);
		return r;
	}
	r = setup(h, opts);
	if (r < 0) {
		vdm_tp_close(h->tp);
		vdm_handle_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

VDPAMAP_API int vdpamap_open(const char *path,
			     const struct vdpamap_open_opts *opts,
			     struct vdpamap **ret)
{
	if (!path || !ret)
		return -EINVAL;
	return vdm_open(path, opts, ret);
}

VDPAMAP_API int vdpamap_adopt_fd(int fd, const struct vdpamap_open_opts *opts,
				 struct vdpamap **ret)
{
	struct vdpamap *h;
	int r;

	if (fd < 0 || !ret)
		return -EINVAL;
	r = vdm_handle_new(opts, &h);
	if (r < 0)
		return r;
	r = vdm_tp_adopt(fd, OPTS_GET(opts, connect_timeout_ms, 0), h->tp);
	if (r == -ETIMEDOUT)
		vdm_err(h,
			"adopt fd %d: the simulator did not answer HELLO in "
			"time (opts.connect_timeout_ms)",
			fd);
	if (r < 0)
		goto fail;
	r = setup(h, opts);
	if (r < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	h->tp->fd = -1; /* the caller keeps its fd on failure */
	vdm_handle_free(h);
	return r;
}

void vdm_close(struct vdpamap *h)
{
	/* first: the modules' close hooks must not see a half-queued
	 * transaction's marks, nor the lock it holds */
	vdm_txn_close(h);
	vdm_hooks_close(h);
	vdm_tp_close(h->tp);
	vdm_handle_free(h);
}

VDPAMAP_API struct vdpamap *vdpamap_close(struct vdpamap *h)
{
	if (h)
		vdm_close(h);
	return NULL;
}

VDPAMAP_API int vdpamap_fd(const struct vdpamap *h)
{
	return h ? h->tp->fd : -EINVAL;
}

VDPAMAP_API int vdpamap_get_info(struct vdpamap *h, struct vdpamap_info *info)
{
	int r;

	if (!info)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	*info = h->info;
	vdm_leave(h);
	return 0;
}

VDPAMAP_API int vdpamap_get_stats(struct vdpamap *h, struct vdpamap_stats *st)
{
	int r;

	if (!st)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	*st = h->stats;
	vdm_leave(h);
	return 0;
}
