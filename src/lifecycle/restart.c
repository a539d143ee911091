// SPDX-License-Identifier: BSD-3-Clause
/*
 * restart: what only a reset lets change on a started device.  Linux >= 7.0
 * answers SET_GROUP_ASID with EBUSY once the status has DRIVER_OK,
 * suspended or not (vhost: "forbid change vq groups ASID if DRIVER_OK is
 * set"); a device that offers SUSPEND without RESUME (6.1) stays stopped
 * after a suspend until a reset.  Both go through a reset that keeps the
 * maps, and the library puts back everything the reset cleared that it
 * knows:
 *
 *   SUSPEND                   unless the device is suspended already
 *   GET_VRING_BASE            every vq set through the library; used only
 *                             when nothing is in flight (the used index in
 *                             the ring is the base)
 *   status 0                  vdm_reset(): IOTLB_PERSIST keeps the maps
 *                             (without it, when the caller allows it,
 *                             every map of every ASID is re-sent) and the
 *                             groups are bound to their new ASIDs
 *   ACK, DRIVER, features, FEATURES_OK
 *   between()                 the caller's map changes, device stopped
 *   per vq NUM, BASE, ADDR, KICK, CALL (the reset dropped them), enable
 *   DRIVER_OK                 or: the control vq alone, DRIVER_OK, the
 *                             caller's hook, the data vqs (with
 *                             ENABLE_AFTER_DRIVER_OK); or: left to
 *                             vdpamap_resume() (deferred_status)
 *
 * What it cannot know, the caller replays: device-class state set through
 * the control vq, vqs set up behind the library's back.  A failure after
 * the reset is undone by the same sequence back to the state before, at
 * the bases read; if that fails too the handle is poisoned.  The path is
 * chosen by the callers from what the device answers, never from a
 * kernel version.
 */
#include <stdlib.h>
#include <time.h>

#include "lifecycle/lifecycle.h"
#include "uapi/vhost_vdpa.h"

#define VIRTIO_ID_NET	     1
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ	     22
#define NET_CFG_MAX_PAIRS    8 /* virtio_net_config.max_virtqueue_pairs */
#define NO_VQ		     UINT32_MAX
#define VRING_USED_IDX	     2 /* byte offset of used->idx */
#define S_SETUP		     (VDPAMAP_S_ACKNOWLEDGE | VDPAMAP_S_DRIVER)

/* What a restart sets the device up as (and what a rollback goes back to). */
struct rs_state {
	uint32_t *group_asid;
	struct vdm_vring *vrings;
	uint8_t status;
	uint64_t features;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* (idempotent: safe on a state freed already) */
static void state_free(struct rs_state *st)
{
	free(st->group_asid);
	free(st->vrings);
	st->group_asid = NULL;
	st->vrings = NULL;
}

/* The device as the library knows it now.  On failure what it allocated
 * stays in st, for the caller's state_free(). */
static int state_now(struct vdpamap *h, struct rs_state *st)
{
	st->group_asid = calloc(h->info.nr_groups, sizeof(*st->group_asid));
	st->vrings = calloc(h->info.nr_vqs, sizeof(*st->vrings));
	if (!st->group_asid || !st->vrings)
		return -ENOMEM;
	memcpy(st->group_asid, h->lc->group_asid,
	       h->info.nr_groups * sizeof(*st->group_asid));
	memcpy(st->vrings, h->lc->vrings, h->info.nr_vqs * sizeof(*st->vrings));
	st->status = h->lc->status;
	st->features = h->lc->driver_features;
	return 0;
}

/* The control vq of a virtio-net device that negotiated one (the only
 * device class whose control vq the library knows), else NO_VQ. */
static uint32_t ctrl_vq(struct vdpamap *h)
{
	struct {
		struct vhost_vdpa_config c;
		uint8_t buf[2];
	} cfg = { .c = { .off = NET_CFG_MAX_PAIRS, .len = 2 } };
	uint64_t f = h->lc->driver_features;
	uint32_t pairs = 1;

	if (h->info.device_id != VIRTIO_ID_NET ||
	    !(f & (1ULL << VIRTIO_NET_F_CTRL_VQ)))
		return NO_VQ;
	if ((f & (1ULL << VIRTIO_NET_F_MQ)) &&
	    vdm_ioctl(h, VHOST_VDPA_GET_CONFIG, &cfg) >= 0)
		pairs = (uint32_t)cfg.c.buf[0] | (uint32_t)cfg.c.buf[1] << 8;
	return 2 * pairs < h->info.nr_vqs ? 2 * pairs : NO_VQ;
}

static int refuse(struct vdpamap *h, const char *what, const char *why)
{
	vdm_err(h, "reset path: needs %s (%s)", what, why);
	return -EOPNOTSUPP;
}

static int check(struct vdpamap *h, const struct vdm_restart *rs)
{
	if ((h->lc->status & VDPAMAP_S_DRIVER_OK) && !rs->suspended &&
	    !vdm_has_feature(h, VDPAMAP_F_SUSPEND))
		return refuse(h, "SUSPEND", "not negotiated");
	if (!vdm_has_feature(h, VDPAMAP_F_IOTLB_PERSIST) && !rs->replay)
		return refuse(h, "IOTLB_PERSIST",
			      "not negotiated; a replay "
			      "of every map can be asked for");
	return 0;
}

/* Where the driver's used ring of vq says the device is, if the library
 * can read it (the ring is mapped in the vq's ASID); -ENOENT if not. */
static int used_idx(struct vdpamap *h, uint32_t vq, uint16_t *ret)
{
	uint32_t asid = h->lc->group_asid[h->lc->vq_desc_group[vq]];
	uint64_t iova = h->lc->vrings[vq].v.used + VRING_USED_IDX;
	const struct vdm_entry *e = vdm_mirror_lookup(h, asid, iova);

	if (!e || e->last < iova + 1)
		return -ENOENT;
	*ret = *(volatile uint16_t *)(uintptr_t)(e->hva + (iova - e->iova));
	return 0;
}

/* GET_VRING_BASE of every vq set through the library, refused while a vq
 * has buffers in flight (the device took them and used none yet). */
static int read_bases(struct vdpamap *h, uint32_t *bases)
{
	uint32_t i;
	uint16_t used;
	int r;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state st = { .index = i };

		if (!h->lc->vrings[i].set)
			continue;
		r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &st);
		if (r == -EOPNOTSUPP || r == -ENOTTY)
			return refuse(h, "GET_VRING_BASE",
				      "refused by the "
				      "device");
		if (r < 0) {
			vdm_err(h, "reset path: GET_VRING_BASE vq %u: %d", i,
				r);
			return -EIO;
		}
		bases[i] = st.num;
		if (!h->lc->vrings[i].enabled || used_idx(h, i, &used) < 0 ||
		    used == (uint16_t)st.num)
			continue;
		vdm_err(h,
			"reset path: vq %u has %u buffer(s) in flight (used "
			"index %u, device stopped at %u): retry once it used "
			"them",
			i, (uint16_t)(st.num - used), used, (uint16_t)st.num);
		return -EAGAIN;
	}
	return 0;
}

static int ioctl_err(struct vdpamap *h, int r, const char *what, uint32_t i)
{
	if (r >= 0)
		return 0;
	vdm_err(h, "reset path: %s %u: %d", what, i, r);
	return r == -EFAULT ? r : -EIO;
}

/* Status 0 with the new bindings, then the driver's way to FEATURES_OK. */
static int reset_to_features(struct vdpamap *h, const struct rs_state *st,
			     struct vdm_restart *rs)
{
	struct vdpamap_reset_info ri = { 0 };
	uint8_t s = st->status & S_SETUP;
	int r;

	/* vdm_reset() binds every group with a non-zero ASID; after the
	 * reset the kernel holds the others at 0 */
	memcpy(h->lc->group_asid, st->group_asid,
	       h->info.nr_groups * sizeof(*st->group_asid));
	r = vdm_reset(h, &ri);
	if (r < 0)
		return r;
	rs->path = ri.path == VDPAMAP_RESET_PERSIST ? VDPAMAP_FLIP_PATH_RESET :
						      VDPAMAP_FLIP_PATH_REPLAY;
	/* (status 0 would be another reset) */
	if (s & VDPAMAP_S_ACKNOWLEDGE)
		r = vdm_set_status(h, VDPAMAP_S_ACKNOWLEDGE);
	if (r >= 0 && s)
		r = vdm_set_status(h, s);
	if (r >= 0)
		r = vdm_set_features(h, st->features);
	if (r >= 0 && (st->status & VDPAMAP_S_FEATURES_OK))
		r = vdm_set_status(h, s | VDPAMAP_S_FEATURES_OK);
	return ioctl_err(h, r, "status/features, status", st->status);
}

/* Every vq the library set, at its base, with its eventfds. */
static int rings_set(struct vdpamap *h, const struct rs_state *st,
		     const uint32_t *bases, const bool *given)
{
	uint32_t i;
	int r;

	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdpamap_vring v = st->vrings[i].v;

		if (!st->vrings[i].set)
			continue;
		if (!given || !given[i])
			v.base = bases[i];
		r = vdm_vring_set(h, i, &v);
		if (r < 0)
			return ioctl_err(h, r, "setting up vq", i);
	}
	return 0;
}

/* Enable the vqs st enables: which 0 all, 1 only cvq, -1 all but cvq. */
static int enable(struct vdpamap *h, const struct rs_state *st, uint32_t cvq,
		  int which)
{
	uint32_t i;
	int r;

	for (i = 0; i < h->info.nr_vqs; i++) {
		if (!st->vrings[i].set || !st->vrings[i].enabled ||
		    (which > 0 && i != cvq) || (which < 0 && i == cvq))
			continue;
		r = vdm_vring_enable(h, i, 1);
		if (r < 0)
			return ioctl_err(h, r, "enabling vq", i);
	}
	return 0;
}

/* Enables and DRIVER_OK as rs asks; the hook may fail (-ECANCELED). */
static int start(struct vdpamap *h, const struct rs_state *st,
		 struct vdm_restart *rs)
{
	uint32_t cvq = ctrl_vq(h);
	bool hook = rs->hook &&
		    vdm_has_feature(h, VDPAMAP_F_ENABLE_AFTER_DRIVER_OK);
	int r;

	if (!(st->status & VDPAMAP_S_DRIVER_OK))
		return enable(h, st, cvq, 0);
	if (!hook && (rs->defer || cvq != NO_VQ || rs->hook)) {
		r = enable(h, st, cvq, 0);
		if (r < 0)
			return r;
		h->lc->deferred_status = st->status;
		rs->flags |= VDPAMAP_FLIP_INFO_DEFERRED;
		vdm_info(h, "reset path: DRIVER_OK left to vdpamap_resume()%s",
			 rs->defer ? "" :
				     ": the control vq's state is the "
				     "caller's to replay");
		return 0;
	}
	r = enable(h, st, cvq, hook ? 1 : 0);
	if (r >= 0)
		r = ioctl_err(h, vdm_set_status(h, st->status),
			      "DRIVER_OK, "
			      "status",
			      st->status);
	if (r < 0 || !hook)
		return r;
	rs->flags |= VDPAMAP_FLIP_INFO_HOOK;
	r = rs->hook(h, rs->hook_ctx);
	if (r < 0) {
		vdm_err(h, "reset path: the restart hook failed: %d", r);
		return -ECANCELED;
	}
	return enable(h, st, cvq, -1);
}

/* The device from status 0 to st: the reset, between(), rings, start.
 * *between_done says whether between() ran (for the rollback). */
static int setup(struct vdpamap *h, const struct rs_state *st,
		 const uint32_t *bases, const bool *given,
		 struct vdm_restart *rs, bool undo, bool *between_done)
{
	uint64_t t = now_ns();
	int r;

	r = reset_to_features(h, st, rs);
	if (r >= 0 && rs->between && (!undo || *between_done)) {
		r = rs->between(h, rs->arg, undo);
		*between_done = !undo && r >= 0;
	}
	rs->ns[1] = now_ns() - t;
	t = now_ns();
	if (r >= 0)
		r = rings_set(h, st, bases, given);
	if (r >= 0)
		r = start(h, st, rs);
	rs->ns[2] = now_ns() - t;
	return r;
}

/* The setup of st failed with r: set the device up as old again. */
static int rollback(struct vdpamap *h, const struct rs_state *old,
		    const uint32_t *bases, struct vdm_restart *rs, int r,
		    bool between_done)
{
	struct vdm_restart back = *rs;
	int r2;

	if (r == -ENOTRECOVERABLE || h->poison)
		return -ENOTRECOVERABLE;
	vdm_info(h, "reset path failed (%d): setting the device up as it was",
		 r);
	r2 = setup(h, old, bases, NULL, &back, true, &between_done);
	rs->flags |= back.flags & VDPAMAP_FLIP_INFO_DEFERRED;
	if (r2 < 0) {
		vdm_poison(h,
			   "reset path failed (%d) and the device could not "
			   "be set up as it was (%d)",
			   r, r2);
		return -ENOTRECOVERABLE;
	}
	return r;
}

/* A refusal after the suspend: a device that cannot resume is set up
 * again unchanged. */
static int unstop(struct vdpamap *h, const struct rs_state *old,
		  const uint32_t *bases, struct vdm_restart *rs, bool stopped,
		  int r)
{
	struct vdm_restart same = *rs;
	bool none = false;

	if (!stopped)
		return r;
	if (vdm_has_feature(h, VDPAMAP_F_RESUME)) {
		if (vdm_ioctl(h, VHOST_VDPA_RESUME, NULL) >= 0)
			return r;
		vdm_poison(h, "reset path: RESUME after a refusal failed");
		return -ENOTRECOVERABLE;
	}
	same.between = NULL;
	return rollback(h, old, bases, &same, r, none);
}

int vdm_restart(struct vdpamap *h, struct vdm_restart *rs)
{
	struct rs_state old = { 0 }, st = { 0 };
	bool stopped = false, between_done = false;
	uint32_t *bases = NULL, i;
	uint64_t t = now_ns();
	int r;

	r = check(h, rs);
	if (r < 0)
		return r;
	bases = calloc(h->info.nr_vqs, sizeof(*bases));
	if (!bases || state_now(h, &old) < 0 || state_now(h, &st) < 0) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(st.group_asid, rs->group_asid,
	       h->info.nr_groups * sizeof(*st.group_asid));
	for (i = 0; rs->rings && i < h->info.nr_vqs; i++) {
		st.vrings[i].v = rs->rings[i];
		st.vrings[i].v.kick_fd = old.vrings[i].v.kick_fd;
		st.vrings[i].v.call_fd = old.vrings[i].v.call_fd;
	}
	if ((old.status & VDPAMAP_S_DRIVER_OK) && !rs->suspended) {
		r = ioctl_err(h, vdm_ioctl(h, VHOST_VDPA_SUSPEND, NULL),
			      "SUSPEND", 0);
		if (r < 0)
			goto out;
		stopped = true;
	}
	r = read_bases(h, bases);
	rs->ns[0] = now_ns() - t;
	if (r < 0) {
		r = unstop(h, &old, bases, rs, stopped || rs->own_suspend, r);
		goto out;
	}
	r = setup(h, &st, bases, rs->base_given, rs, false, &between_done);
	if (r < 0)
		r = rollback(h, &old, bases, rs, r, between_done);
	else if (rs->bases)
		memcpy(rs->bases, bases, h->info.nr_vqs * sizeof(*bases));
	if (r == -ENOTRECOVERABLE)
		/* the operation failed: vdpamap_reset() recovers the
		 * handle with the bindings from before it, not with those
		 * reset_to_features() left for the failed setup */
		memcpy(h->lc->group_asid, old.group_asid,
		       h->info.nr_groups * sizeof(*old.group_asid));
out:
	state_free(&old);
	state_free(&st);
	free(bases);
	return r;
}

VDPAMAP_API int
vdpamap_set_group_asid_opts(struct vdpamap *h, uint32_t group, uint32_t asid,
			    const struct vdpamap_group_asid_opts *opts)
{
	const uint32_t known = VDPAMAP_GROUP_ASID_RESET |
			       VDPAMAP_GROUP_ASID_REPLAY;
	uint32_t flags = OPTS_GET(opts, flags, 0), *to = NULL;
	struct vdm_restart rs = { 0 };
	int r;

	r = vdm_enter_idle(h, false, "vdpamap_set_group_asid_opts");
	if (r < 0)
		return r;
	r = opts ? OPTS_CHECK(h, "set_group_asid", opts,
			      vdpamap_group_asid_opts) :
		   0;
	if (r >= 0 && (flags & ~known)) {
		vdm_err(h, "set_group_asid: unknown flags 0x%x", flags);
		r = -EINVAL;
	}
	if (r >= 0)
		r = vdm_group_asid_apply(h, group, asid);
	if (r != -EBUSY || !(flags & VDPAMAP_GROUP_ASID_RESET) ||
	    !(h->lc->status & VDPAMAP_S_DRIVER_OK))
		goto out;
	to = calloc(h->info.nr_groups, sizeof(*to));
	if (!to) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(to, h->lc->group_asid, h->info.nr_groups * sizeof(*to));
	to[group] = asid;
	rs.group_asid = to;
	rs.replay = flags & VDPAMAP_GROUP_ASID_REPLAY;
	rs.hook = OPTS_GET(opts, restart_fn, NULL);
	rs.hook_ctx = OPTS_GET(opts, restart_ctx, NULL);
	r = vdm_restart(h, &rs);
	if (r == 0)
		vdm_info(h, "group %u to ASID %u through a reset (%s%s)", group,
			 asid,
			 rs.path == VDPAMAP_FLIP_PATH_REPLAY ? "replay" :
							       "persist",
			 (rs.flags & VDPAMAP_FLIP_INFO_DEFERRED) ?
				 ", DRIVER_OK deferred" :
				 "");
out:
	free(to);
	vdm_leave(h);
	return r;
}
