// SPDX-License-Identifier: BSD-3-Clause
/*
 * prepare: the predecessor's half of a handoff.  vdpamap_handoff_prepare()
 * picks the strategy, creates the keeper (KEEPER), stops the device
 * (suspend.c), writes the description to a sealed memfd, clears CLOEXEC on
 * what must cross the exec (fds.c) and locks the handle against changes;
 * vdpamap_handoff_cancel() undoes all of it when the exec failed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "uapi/vhost_vdpa.h"

#define HO_MAX_EXTRA_FDS 32

/* Both bits of the proposal offered (bit 9 alone may be a vendor's
 * GROUP_ASID_AFTER_DRIVER_OK).  They need not be acked: the proposal
 * checks the device's offer, and acking a vendor's bit 9 could change
 * what the device does. */
static bool new_owner_offered(const struct vdpamap *h)
{
	const uint64_t both = (1ULL << VHOST_BACKEND_F_NEW_OWNER) |
			      (1ULL << VHOST_BACKEND_F_IOTLB_REMAP);

	return (h->info.backend_offered & both) == both;
}

static bool new_owner_available(struct vdpamap *h)
{
#ifdef VDPAMAP_NEW_OWNER
	return new_owner_offered(h);
#else
	(void)new_owner_offered;
	(void)h;
	return false;
#endif
}

static int device_path(struct vdpamap *h, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	if (h->ho && h->ho->path[0]) {
		snprintf(out, len, "%s", h->ho->path);
		return 0;
	}
	if (h->tp->is_sim) {
		struct sockaddr_un sa;
		socklen_t sl = sizeof(sa);

		memset(&sa, 0, sizeof(sa));
		if (getpeername(h->tp->fd, (struct sockaddr *)&sa, &sl) < 0)
			return -errno;
		snprintf(out, len, "%s", sa.sun_path);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", h->tp->fd);
	n = readlink(link, out, len - 1);
	if (n <= 0)
		return -errno;
	out[n] = 0;
	return 0;
}

/* The options and the handle allow a prepare: 0 or -errno, logged. */
static int prepare_check(struct vdpamap *h,
			 const struct vdpamap_handoff_opts *o)
{
	uint32_t nextra = OPTS_GET(o, nr_extra_fds, 0), i;
	const int *extra = OPTS_GET(o, extra_fds, NULL);
	struct vdm_region *rg;
	int r;

	r = OPTS_CHECK(h, "handoff", o, vdpamap_handoff_opts);
	if (r < 0)
		return r;
	if (OPTS_GET(o, strategy, VDPAMAP_HANDOFF_AUTO) >
		    VDPAMAP_HANDOFF_REBUILD ||
	    OPTS_GET(o, flags, 0) || nextra > HO_MAX_EXTRA_FDS ||
	    (nextra && !extra)) {
		vdm_err(h,
			"handoff: opts: strategy %u, flags 0x%x, %u extra "
			"fds (at most %u, array %p): invalid",
			OPTS_GET(o, strategy, VDPAMAP_HANDOFF_AUTO),
			OPTS_GET(o, flags, 0), nextra, HO_MAX_EXTRA_FDS,
			(const void *)extra);
		return -EINVAL;
	}
	if (h->ho && h->ho->prepared) {
		vdm_err(h, "handoff: prepared already (cancel first)");
		return -EALREADY;
	}
	for (rg = h->map->regions; rg; rg = rg->next) {
		/* the successor maps this fd: it must still be the memory
		 * the device uses (not closed, not reused for another file) */
		r = vdm_region_fd_check(h, &rg->r, "handoff");
		if (r < 0)
			return r;
		if (rg->r.fd >= 0)
			continue;
		vdm_err(h,
			"handoff: region %u [%p, +0x%llx) has no fd: guest "
			"memory must be fd-backed (memfd)",
			rg->id, rg->r.hva, (unsigned long long)rg->r.len);
		return -EINVAL;
	}
	for (i = 0; i < nextra; i++) {
		if (fcntl(extra[i], F_GETFD) >= 0)
			continue;
		vdm_err(h, "handoff: extra fd %d is not open", extra[i]);
		return -EINVAL;
	}
	return 0;
}

/* AUTO resolved; -EOPNOTSUPP (logged) for what this build or device
 * cannot do. */
static int pick_strategy(struct vdpamap *h, uint32_t *strategy)
{
	if (*strategy == VDPAMAP_HANDOFF_AUTO) {
		if (new_owner_available(h))
			*strategy = VDPAMAP_HANDOFF_NEW_OWNER;
		else if (VDM_KEEPER_SUPPORTED)
			*strategy = VDPAMAP_HANDOFF_KEEPER;
		else
			*strategy = VDPAMAP_HANDOFF_REBUILD;
	}
	if (*strategy == VDPAMAP_HANDOFF_NEW_OWNER && !new_owner_available(h)) {
#ifdef VDPAMAP_NEW_OWNER
		vdm_err(h,
			"handoff: NEW_OWNER: the device does not offer both "
			"NEW_OWNER (bit 9) and IOTLB_REMAP (bit 10) (offer "
			"0x%llx)",
			(unsigned long long)h->info.backend_offered);
#else
		vdm_err(h, "handoff: NEW_OWNER: not in this build "
			   "(meson -Dnew_owner=enabled)");
#endif
		return -EOPNOTSUPP;
	}
	if (*strategy == VDPAMAP_HANDOFF_KEEPER && !VDM_KEEPER_SUPPORTED) {
		vdm_err(h, "handoff: no mm keeper on this architecture");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The description in a memfd that crosses the exec, not sealed yet: the
 * last step (vdm_ho_memfd_finish()) writes the phase times into its
 * header and seals it.  *ret_buf keeps what it holds. */
static int state_write(struct vdpamap *h, const struct vdm_ho_ser *so,
		       void **ret_buf, size_t *ret_len)
{
	int r;

	r = vdm_ho_serialize(h, so, ret_buf, ret_len);
	if (r < 0)
		return r;
	r = vdm_ho_memfd(*ret_buf, *ret_len, false, false);
	if (r < 0) {
		free(*ret_buf);
		*ret_buf = NULL;
	}
	return r;
}

/* The description written (not sealed), the fds to pass without
 * CLOEXEC, the keeper given the memfd; on failure all of it undone. */
struct ho_out {
	int sfd;
	void *buf;
	size_t len;
};

static int hand_state(struct vdpamap *h, struct vdm_ho_ser *so,
		      const struct vdpamap_handoff_opts *o, struct ho_out *out)
{
	struct vdm_handoff *ho = h->ho;
	int r;

	if (so->strategy != VDPAMAP_HANDOFF_REBUILD)
		so->dev_fd = h->tp->fd;
	/* NEW_OWNER from a handle a keeper serves: the successor dismisses
	 * the keeper once it owns the device */
	if (so->strategy == VDPAMAP_HANDOFF_KEEPER ||
	    (so->strategy == VDPAMAP_HANDOFF_NEW_OWNER &&
	     vdm_ho_keeper_live(h)))
		so->keeper_sock = ho->kl.sock;
	r = out->sfd = state_write(h, so, &out->buf, &out->len);
	if (r < 0)
		return r;
	/* exactly the fds to pass lose CLOEXEC */
	r = vdm_ho_fds_pass(h, so, OPTS_GET(o, extra_fds, NULL),
			    OPTS_GET(o, nr_extra_fds, 0));
	/* the keeper keeps the state for a re-attach: a keeper that cannot
	 * take it fails the prepare, which then undoes everything.  It gets
	 * the memfd itself: the header written at the end is what it
	 * holds. */
	if (r == 0 && vdm_ho_keeper_live(h))
		r = vdm_kp_call(&ho->kl, VDM_KP_SETSTATE, 0, 0, NULL, 0,
				out->sfd, NULL);
	if (r == 0)
		return 0;
	/* a keeper that took the memfd keeps it for a re-attach: sealed,
	 * it describes the handle as it stays */
	vdm_ho_memfd_finish(out->sfd, out->buf, out->len, 0, 0, NULL);
	vdm_ho_fds_restore(h);
	close(out->sfd);
	free(out->buf);
	*out = (struct ho_out){ .sfd = -1 };
	return r;
}

static void prepared(struct vdpamap *h, uint32_t strategy, int sfd,
		     const struct vdm_ho_phases *ph, uint64_t t_suspend,
		     uint64_t t0)
{
	struct vdm_handoff *ho = h->ho;

	ho->state_fd = sfd;
	ho->prepared = 1;
	vdm_busy_set(h,
		     "a handoff is prepared (state fd %d): "
		     "vdpamap_handoff_cancel() first",
		     sfd);
	ho->strategy = strategy;
	ho->t_suspend_ns = t_suspend;
	ho->prepare_ns = vdm_ho_now_ns() - t0;
	/* a successor that hands over again: its own adopt's phases are
	 * another handoff's */
	ho->ph = *ph;
	vdm_info(h,
		 "handoff prepared: strategy %s, state fd %d; suspend %llu "
		 "us, then %llu us to the exec",
		 vdm_ho_strategy_name(strategy), sfd,
		 (unsigned long long)(ph->suspend / 1000),
		 (unsigned long long)(ph->pred / 1000));
}

/* The critical path (the device stopped) is SUSPEND, the rings'
 * positions where the successor needs them, and one pwrite of the
 * header.  KEEPER needs no position, so its description, the fds and
 * the keeper's copy are all handed before the stop. */
static int do_prepare(struct vdpamap *h, uint32_t strategy,
		      const struct vdpamap_handoff_opts *o, int *ret_fd)
{
	struct vdm_handoff *ho = h->ho;
	struct vdm_ho_ser so = { .strategy = strategy,
				 .dev_fd = -1,
				 .keeper_sock = -1 };
	bool early = strategy == VDPAMAP_HANDOFF_KEEPER;
	struct ho_out out = { .sfd = -1 };
	struct vdm_ho_phases ph = { 0 };
	uint64_t t0 = vdm_ho_now_ns(), ts, t_handed = 0;
	int r;

	if (strategy == VDPAMAP_HANDOFF_KEEPER && !vdm_ho_keeper_live(h)) {
		r = vdm_ho_keeper_create(h, OPTS_GET(o, reattach_grace_ms, 0));
		if (r < 0)
			return r;
	}
	/* a parent that cannot say where a ring is (vp_vdpa) refuses the
	 * strategies that need it before anything stops */
	if (strategy != VDPAMAP_HANDOFF_KEEPER) {
		r = vdm_ho_vring_base_check(h, strategy);
		if (r < 0)
			goto drop_keeper;
	}
	so.t_prepare = vdm_ho_now_ns() - t0;
	if (early && (r = hand_state(h, &so, o, &out)) < 0)
		goto drop_keeper;
	ts = vdm_ho_now_ns();
	r = vdm_ho_suspend(h, strategy);
	if (r < 0)
		goto undo_state; /* nothing stopped: resume does nothing */
	so.t_suspend = vdm_ho_now_ns();
	/* where each ring is (the owner may ask: we, or our keeper), for a
	 * successor that sets the rings again.  Not KEEPER: the device keeps
	 * DRIVER_OK and its rings and continues where it stopped, and a
	 * parent may refuse GET_VRING_BASE (vp_vdpa: -EOPNOTSUPP). */
	if (strategy != VDPAMAP_HANDOFF_KEEPER) {
		r = vdm_ho_vring_bases(h, strategy);
		if (r < 0)
			goto undo_state;
	}
	ph.suspend = vdm_ho_now_ns() - ts;
	if (!early && (r = hand_state(h, &so, o, &out)) < 0)
		goto undo_state;
	r = vdm_ho_memfd_finish(out.sfd, out.buf, out.len, so.t_suspend,
				ph.suspend, &t_handed);
	if (r < 0)
		goto undo_state;
	ph.pred = t_handed - so.t_suspend;
	free(out.buf);
	prepared(h, strategy, out.sfd, &ph, so.t_suspend, t0);
	*ret_fd = out.sfd;
	return 0;
undo_state:
	/* sfd -1: not handed yet (or hand_state() undid it) */
	if (out.sfd >= 0) {
		vdm_ho_memfd_finish(out.sfd, out.buf, out.len, 0, 0, NULL);
		vdm_ho_fds_restore(h);
		close(out.sfd);
		free(out.buf);
	}
	vdm_ho_resume_ours(h); /* only what vdm_ho_suspend() stopped */
drop_keeper:
	if (ho->keeper_ours && strategy == VDPAMAP_HANDOFF_KEEPER)
		vdm_ho_keeper_undo(h);
	return r;
}

VDPAMAP_API int vdpamap_handoff_prepare(struct vdpamap *h,
					const struct vdpamap_handoff_opts *o,
					int *ret_state_fd)
{
	uint32_t strategy;
	bool fresh = false;
	int r;

	if (!ret_state_fd)
		return -EINVAL;
	r = vdm_enter(h, false);
	if (r < 0)
		return r;
	r = prepare_check(h, o);
	if (r < 0)
		goto out;
	strategy = OPTS_GET(o, strategy, VDPAMAP_HANDOFF_AUTO);
	r = pick_strategy(h, &strategy);
	if (r < 0)
		goto out;
	if (!h->ho) {
		vdm_ho_attach(h, vdm_ho_new());
		if (!h->ho) {
			r = -ENOMEM;
			goto out;
		}
		fresh = true;
	}
	if (!h->ho->path[0]) {
		r = device_path(h, h->ho->path, sizeof(h->ho->path));
		if (r < 0) {
			vdm_err(h, "handoff: device path unknown: %d", r);
			goto undo;
		}
	}
	r = do_prepare(h, strategy, o, ret_state_fd);
undo:
	if (r < 0 && fresh) {
		free(h->ho);
		vdm_ho_attach(h, NULL);
	}
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_handoff_cancel(struct vdpamap *h)
{
	struct vdm_handoff *ho;
	int r = vdm_enter(h, true);

	if (r < 0)
		return r;
	ho = h->ho;
	if (!ho || !ho->prepared) {
		r = -EALREADY;
		goto out;
	}
	vdm_ho_fds_restore(h);
	close(ho->state_fd);
	ho->state_fd = -1;
	ho->prepared = 0;
	vdm_busy_clear(h);
	if (ho->keeper_ours && !ho->adopted)
		vdm_ho_keeper_drop(h, true);
	r = vdm_ho_resume_ours(h);
	if (!ho->adopted && ho->kl.sock < 0) {
		free(ho);
		vdm_ho_attach(h, NULL);
	}
out:
	vdm_leave(h);
	return r;
}
