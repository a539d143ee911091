// SPDX-License-Identifier: BSD-3-Clause
/*
 * device: open/adopt/close, backend feature negotiation, the queries the
 * device answers, virtio status/features/config, vrings, suspend/resume.
 * Groups and ASIDs: groups.c; reset: reset.c.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

static int negotiate(struct vdpamap *h, uint64_t want, uint64_t require)
{
	uint64_t offered = 0, acked;
	int r;

	r = vdm_ioctl(h, VHOST_GET_BACKEND_FEATURES, &offered);
	if (r == -ENOTTY) {
		vdm_warn(h, "no GET_BACKEND_FEATURES: no backend features");
		offered = 0;
	} else if (r < 0) {
		vdm_err(h, "GET_BACKEND_FEATURES: %d", r);
		return r;
	}
	acked = offered & want & VDPAMAP_F_KNOWN;
	if (!(acked & VDPAMAP_F_IOTLB_ASID))
		acked &= ~VDPAMAP_F_DESC_ASID;
	if (require & ~acked) {
		uint64_t miss = require & ~acked;
		uint64_t bit = miss & -miss;
		const char *n = vdm_feature_name(bit);

		vdm_err(h, "required backend feature %s (bit %d) %s",
		       n ? n : "?", __builtin_ctzll(bit),
		       (offered & bit) ? "not wanted" : "not offered by device");
		return -EOPNOTSUPP;
	}
	if (offered) {
		r = vdm_ioctl(h, VHOST_SET_BACKEND_FEATURES, &acked);
		if (r < 0) {
			vdm_err(h, "SET_BACKEND_FEATURES 0x%llx: %d",
			       (unsigned long long)acked, r);
			return r;
		}
	}
	h->info.backend_offered = offered;
	h->info.backend_acked = acked;
	return 0;
}

static int query_u32(struct vdpamap *h, unsigned long req, const char *what,
		     uint32_t *out, uint32_t fallback)
{
	uint32_t v = 0;
	int r = vdm_ioctl(h, req, &v);

	/* an older kernel without the ioctl: assume the old behaviour */
	if (r == -ENOTTY || r == -EOPNOTSUPP) {
		vdm_dbg(h, "%s: %d, assuming %u", what, r, fallback);
		v = fallback;
	} else if (r < 0) {
		vdm_err(h, "%s: %d", what, r);
		return r;
	}
	*out = v;
	return 0;
}

static int query(struct vdpamap *h)
{
	struct vhost_vdpa_iova_range range = { 0, UINT64_MAX };
	uint16_t num = 0;
	uint32_t i;
	int r;

	r = vdm_ioctl(h, VHOST_VDPA_GET_DEVICE_ID, &h->info.device_id);
	if (r < 0) {
		vdm_err(h, "VDPA_GET_DEVICE_ID: %d: not a vhost-vdpa device", r);
		return r;
	}
	r = vdm_ioctl(h, VHOST_GET_FEATURES, &h->info.device_features);
	if (r < 0) {
		vdm_err(h, "GET_FEATURES: %d", r);
		return r;
	}
	if ((r = query_u32(h, VHOST_VDPA_GET_VQS_COUNT, "GET_VQS_COUNT",
			   &h->info.nr_vqs, 2)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_GROUP_NUM, "GET_GROUP_NUM",
			   &h->info.nr_groups, 1)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_AS_NUM, "GET_AS_NUM",
			   &h->info.nr_as, 1)) < 0 ||
	    (r = query_u32(h, VHOST_VDPA_GET_CONFIG_SIZE, "GET_CONFIG_SIZE",
			   &h->info.config_size, 0)) < 0)
		return r;
	r = vdm_ioctl(h, VHOST_VDPA_GET_IOVA_RANGE, &range);
	if (r < 0 && r != -ENOTTY && r != -EOPNOTSUPP) {
		vdm_err(h, "GET_IOVA_RANGE: %d", r);
		return r;
	}
	h->info.iova_first = range.first;
	h->info.iova_last = range.last;
	r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_NUM, &num);
	if (r < 0) {
		vdm_err(h, "GET_VRING_NUM: %d", r);
		return r;
	}
	h->info.max_vring_num = num;
	if (!h->info.nr_vqs || !h->info.nr_groups || !h->info.nr_as ||
	    h->info.nr_vqs > 4096 || h->info.nr_groups > 4096 ||
	    h->info.nr_as > 4096) {
		vdm_err(h, "device reports %u vqs, %u groups, %u ASes",
		       h->info.nr_vqs, h->info.nr_groups, h->info.nr_as);
		return -EPROTO;
	}

	if ((r = vdm_lifecycle_setup(h)) < 0 || (r = vdm_mapping_setup(h)) < 0)
		return r;
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		r = vdm_ioctl(h, VHOST_VDPA_GET_VRING_GROUP, &s);
		if (r == -ENOTTY || r == -EOPNOTSUPP)
			continue;	/* before groups existed: all in 0 */
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
	r = vdm_query_desc_groups(h);
	if (r < 0)
		return r;
	return 0;
}

/* Find out whether the device pins (PA mode): map one memfd page, see
 * whether the owner's pinned memory grew, unmap it. */
static int probe_mem_mode(struct vdpamap *h)
{
	uint64_t before = 0, after = 0, iova;
	uint64_t ps = h->page_size;
	void *p = MAP_FAILED;
	int fd, r;

	if (itree_find_hole(&h->map->as[0].iova, h->info.iova_first,
			    h->info.iova_last, ps, ps, &iova) < 0)
		return -ENOSPC;
	fd = memfd_create("vdpamap-probe", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)ps) < 0) {
		r = -errno;
		goto out;
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	*(volatile char *)p = 0;
	r = h->tp->ops->pinned(h->tp, &before);
	if (r < 0)
		goto out;
	r = vdm_iotlb_send(h, 0, VHOST_IOTLB_UPDATE, iova, ps, (uintptr_t)p,
			  VHOST_ACCESS_RW);
	if (r < 0) {
		vdm_err(h, "probe UPDATE of one page refused (%d)", r);
		goto out;
	}
	r = h->tp->ops->pinned(h->tp, &after);
	if (vdm_iotlb_send(h, 0, VHOST_IOTLB_INVALIDATE, iova, ps, 0, 0) < 0) {
		vdm_poison(h, "probe page at iova 0x%llx could not be unmapped",
			  (unsigned long long)iova);
		r = -EIO;
		goto out;
	}
	if (r < 0)
		goto out;
	h->info.mem_mode = after > before ? VDPAMAP_MEMMODE_PA :
					    VDPAMAP_MEMMODE_VA;
	vdm_info(h, "memory mode probed: %s",
		h->info.mem_mode == VDPAMAP_MEMMODE_PA ? "PA (pins)" :
							 "VA (no pins)");
out:
	if (p != MAP_FAILED)
		munmap(p, ps);
	close(fd);
	return r;
}

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
	memcpy(lc->vq_desc_group, vq_group,
	       h->info.nr_vqs * sizeof(uint32_t));
	memcpy(lc->group_asid, group_asid,
	       h->info.nr_groups * sizeof(uint32_t));
	lc->status = status;
	lc->driver_features = driver_features;
}

void vdm_vring_restore(struct vdpamap *h, uint32_t idx, bool set,
		      bool enabled, const struct vdpamap_vring *v)
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

void vdm_handle_free(struct vdpamap *h)
{
	vdm_hooks_free(h);
	vdm_core_free(h);
}

static int setup_locked(struct vdpamap *h,
			const struct vdpamap_open_opts *opts)
{
	uint64_t want = OPTS_GET(opts, want_features, 0);
	uint64_t require = OPTS_GET(opts, require_features, 0);
	const struct vdpamap_region *regs = OPTS_GET(opts, regions, NULL);
	uint32_t nregs = OPTS_GET(opts, nr_regions, 0);
	uint32_t mode = OPTS_GET(opts, mem_mode, VDPAMAP_MEMMODE_AUTO);
	uint32_t i;
	int r;

	r = vdm_ioctl(h, VHOST_SET_OWNER, NULL);
	if (r == -EBUSY)
		vdm_info(h, "device already owned (adopted): continuing");
	else if (r < 0)
		return r;

	r = negotiate(h, want ? want : VDPAMAP_F_KNOWN,
		      require ? require : VDPAMAP_F_IOTLB_MSG_V2);
	if (r < 0)
		return r;
	r = query(h);
	if (r < 0)
		return r;
	h->info.is_sim = (uint32_t)h->tp->is_sim;

	if (mode == VDPAMAP_MEMMODE_AUTO) {
		r = probe_mem_mode(h);
		if (r < 0)
			return r;
	} else {
		h->info.mem_mode = mode;
	}

	if (nregs) {
		struct vdpamap_txn *t;

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
			r = vdm_txn_map(t, 0, regs[i].iova, regs[i].hva,
					    regs[i].len,
					    regs[i].perm ? regs[i].perm :
							   VDPAMAP_PERM_RW,
					    NULL);
			if (r < 0) {
				vdm_err(h, "opts.regions[%u] pre-map: %d", i, r);
				vdm_txn_abort(t);
				return r;
			}
		}
		r = vdm_txn_commit(t);
		if (r < 0)
			return r;
	}
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

	if (!OPTS_VALID(opts, vdpamap_open_opts))
		return opts && opts->sz < sizeof(size_t) ? -EINVAL : -E2BIG;
	if (OPTS_GET(opts, nr_regions, 0) && !OPTS_GET(opts, regions, NULL))
		return -EINVAL;
	if (OPTS_GET(opts, mem_mode, 0) > VDPAMAP_MEMMODE_VA)
		return -EINVAL;
	if (OPTS_GET(opts, flags, 0) & ~(VDPAMAP_OPEN_ALLOW_UNALIGNED |
					VDPAMAP_OPEN_NO_MEMLOCK_CHECK))
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
	struct vdpamap *h;
	int r;

	r = vdm_handle_new(opts, &h);
	if (r < 0)
		return r;
	r = vdm_tp_open(path, h->tp);
	if (r < 0) {
		vdm_err(h, "open %s: %d", path, r);
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
	r = vdm_tp_adopt(fd, h->tp);
	if (r < 0)
		goto fail;
	r = setup(h, opts);
	if (r < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	h->tp->fd = -1;		/* the caller keeps its fd on failure */
	vdm_handle_free(h);
	return r;
}

void vdm_close(struct vdpamap *h)
{
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
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	*info = h->info;
	vdm_leave(h);
	return 0;
}

VDPAMAP_API int vdpamap_has_feature(const struct vdpamap *h, uint64_t feature)
{
	return h && vdm_has_feature(h, feature);
}

/* A GET ioctl under the handle (poisoned handles may still read): 0 or
 * -errno, *arg written by the device only on success. */
static int locked_get(struct vdpamap *h, unsigned long req, void *arg)
{
	int r = vdm_enter(h, true);

	if (r < 0)
		return r;
	r = vdm_ioctl(h, req, arg);
	vdm_leave(h);
	return r < 0 ? r : 0;
}

VDPAMAP_API int vdpamap_get_status(struct vdpamap *h, uint8_t *ret_status)
{
	uint8_t s = 0;
	int r;

	if (!ret_status)
		return -EINVAL;
	r = locked_get(h, VHOST_VDPA_GET_STATUS, &s);
	if (!r)
		*ret_status = s;
	return r;
}

/* Ring sizes of a split virtqueue of num entries. */
static void ring_sizes(uint32_t num, uint64_t sz[3])
{
	sz[0] = 16ULL * num;
	sz[1] = 6 + 2ULL * num;
	sz[2] = 6 + 8ULL * num;
}

static int check_rings_mapped(struct vdpamap *h)
{
	static const char *const part[] = { "desc", "avail", "used" };
	uint32_t i, k;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdm_vring *vr = &h->lc->vrings[i];
		uint32_t asid = h->lc->group_asid[h->lc->vq_desc_group[i]];
		uint64_t addr[3], sz[3];

		if (!vr->set || !vr->enabled)
			continue;
		addr[0] = vr->v.desc;
		addr[1] = vr->v.avail;
		addr[2] = vr->v.used;
		ring_sizes(vr->v.num, sz);
		for (k = 0; k < 3; k++) {
			if (!vdm_range_mapped(h, asid, addr[k], sz[k])) {
				vdm_err(h, "DRIVER_OK refused: vq %u %s ring "
				       "[0x%llx, +0x%llx) not mapped in ASID %u",
				       i, part[k],
				       (unsigned long long)addr[k],
				       (unsigned long long)sz[k], asid);
				return -EFAULT;
			}
		}
	}
	return 0;
}

/* Caller holds the lock (or owns a new handle).  Status 0 is a reset. */
int vdm_set_status(struct vdpamap *h, uint8_t status)
{
	int r;

	if (!status)
		return vdm_reset(h, NULL);
	if ((status & VDPAMAP_S_DRIVER_OK) &&
	    !(h->lc->status & VDPAMAP_S_DRIVER_OK)) {
		r = check_rings_mapped(h);
		if (r < 0)
			return r;
		vdm_group_asid_probe(h);
	}
	r = vdm_ioctl(h, VHOST_VDPA_SET_STATUS, &status);
	if (r < 0)
		return r;
	h->lc->status = status;
	if (status & VDPAMAP_S_DRIVER_OK)
		h->lc->deferred_status = 0;
	return 0;
}

VDPAMAP_API int vdpamap_set_status(struct vdpamap *h, uint8_t status)
{
	int r;

	/* 0 is vdpamap_reset(), which a poisoned handle may call */
	r = vdm_enter_idle(h, !status, status ? "vdpamap_set_status" :
					       "vdpamap_reset");
	if (r < 0)
		return r;
	r = vdm_set_status(h, status);
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_get_features(struct vdpamap *h, uint64_t *ret)
{
	uint64_t f = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = locked_get(h, VHOST_GET_FEATURES, &f);
	if (!r)
		*ret = f;
	return r;
}

/* Caller holds the lock (or owns a new handle). */
int vdm_set_features(struct vdpamap *h, uint64_t features)
{
	int r;

	if (features & ~h->info.device_features) {
		vdm_err(h, "features 0x%llx not offered (offer 0x%llx)",
		       (unsigned long long)features,
		       (unsigned long long)h->info.device_features);
		return -EINVAL;
	}
	r = vdm_ioctl(h, VHOST_SET_FEATURES, &features);
	if (r > 0)
		r = 0;
	if (r == 0)
		h->lc->driver_features = features;
	return r;
}

VDPAMAP_API int vdpamap_set_features(struct vdpamap *h, uint64_t features)
{
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_set_features");
	if (r < 0)
		return r;
	r = vdm_set_features(h, features);
	vdm_leave(h);
	return r;
}

static int config_io(struct vdpamap *h, unsigned long req, uint32_t off,
		     void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c;
	int r;

	if (!buf || !len)
		return -EINVAL;
	r = req == VHOST_VDPA_SET_CONFIG ?
		    vdm_enter_idle(h, true, "vdpamap_set_config") :
		    vdm_enter(h, true);
	if (r < 0)
		return r;
	/* config_size 0: a kernel without GET_CONFIG_SIZE; it bounds-checks */
	if (h->info.config_size &&
	    (off > h->info.config_size || len > h->info.config_size - off)) {
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
	st.num = v->num;
	r = vdm_ioctl(h, VHOST_SET_VRING_NUM, &st);
	if (r < 0)
		goto out;
	st.num = v->base;
	r = vdm_ioctl(h, VHOST_SET_VRING_BASE, &st);
	if (r < 0)
		goto out;
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
	r = vdm_enter(h, true);
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

static int suspend_resume(struct vdpamap *h, uint64_t feat, unsigned long req)
{
	int r;

	r = vdm_enter_idle(h, false, req == VHOST_VDPA_SUSPEND ?
						   "vdpamap_suspend" :
						   "vdpamap_resume");
	if (r < 0)
		return r;
	if (req == VHOST_VDPA_RESUME && h->lc->deferred_status) {
		/* a restart left DRIVER_OK to the caller (restart.c) */
		r = vdm_set_status(h, h->lc->deferred_status);
	} else if (!vdm_has_feature(h, feat)) {
		vdm_err(h, "%s not negotiated", vdm_feature_name(feat));
		r = -EOPNOTSUPP;
	} else {
		r = vdm_ioctl(h, req, NULL);
		if (r > 0)
			r = 0;
	}
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_suspend(struct vdpamap *h)
{
	return suspend_resume(h, VDPAMAP_F_SUSPEND, VHOST_VDPA_SUSPEND);
}

VDPAMAP_API int vdpamap_resume(struct vdpamap *h)
{
	return suspend_resume(h, VDPAMAP_F_RESUME, VHOST_VDPA_RESUME);
}

VDPAMAP_API int vdpamap_get_stats(struct vdpamap *h, struct vdpamap_stats *st)
{
	int r;

	if (!st)
		return -EINVAL;
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	*st = h->stats;
	vdm_leave(h);
	return 0;
}
