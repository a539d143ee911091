// SPDX-License-Identifier: BSD-3-Clause
/*
 * fds: the fds that cross the exec.  Every fd the library opens is
 * O_CLOEXEC; prepare clears CLOEXEC on exactly the fds the description
 * names (the device fd unless REBUILD, the keeper socket, region fds, the
 * set vrings' kick and call eventfds) and the caller's extra fds,
 * remembering which it changed so that cancel (or a failed prepare)
 * restores them; the successor sets CLOEXEC again on what it inherited.
 */
#include <fcntl.h>

#include "handoff/handoff.h"

int vdm_ho_set_cloexec(int fd, bool on, bool *was)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	if (was)
		*was = fl & FD_CLOEXEC;
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

static int clear_cloexec(struct vdpamap *h, int fd)
{
	struct vdm_handoff *ho = h->ho;
	bool was;
	uint32_t i;
	int r;

	if (fd < 0)
		return 0;
	for (i = 0; i < ho->nr_cleared; i++)
		if (ho->cleared[i] == fd)
			return 0;
	r = vdm_ho_set_cloexec(fd, false, &was);
	if (r < 0) {
		vdm_err(h, "handoff: fd %d: %d", fd, r);
		return r == -EBADF ? -EINVAL : r;
	}
	/* vdm_ho_set_cloexec() sets was when it returns 0 (the analyser lets
	 * a failed fcntl() leave errno 0):
	 * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch) */
	if (!was)
		return 0;
	if (ho->nr_cleared >= ARRAY_SIZE(ho->cleared)) {
		vdm_ho_set_cloexec(fd, true, NULL);
		vdm_err(h, "handoff: more than %zu fds to pass",
			ARRAY_SIZE(ho->cleared));
		return -E2BIG;
	}
	ho->cleared[ho->nr_cleared++] = fd;
	return 0;
}

int vdm_ho_fds_pass(struct vdpamap *h, const struct vdm_ho_ser *so,
		    const int *extra, uint32_t nextra)
{
	struct vdm_region *rg;
	uint32_t i;
	int r;

	if ((r = clear_cloexec(h, so->dev_fd)) < 0 ||
	    (r = clear_cloexec(h, so->keeper_sock)) < 0)
		return r;
	for (rg = h->map->regions; rg; rg = rg->next)
		if ((r = clear_cloexec(h, rg->r.fd)) < 0)
			return r;
	for (i = 0; i < h->info.nr_vqs; i++) {
		if (!h->lc->vrings[i].set)
			continue;
		if ((r = clear_cloexec(h, h->lc->vrings[i].v.kick_fd)) < 0 ||
		    (r = clear_cloexec(h, h->lc->vrings[i].v.call_fd)) < 0)
			return r;
	}
	for (i = 0; i < nextra; i++)
		if ((r = clear_cloexec(h, extra[i])) < 0)
			return r;
	return 0;
}

void vdm_ho_fds_restore(struct vdpamap *h)
{
	struct vdm_handoff *ho = h->ho;
	uint32_t i;

	for (i = 0; i < ho->nr_cleared; i++)
		vdm_ho_set_cloexec(ho->cleared[i], true, NULL);
	ho->nr_cleared = 0;
}

void vdm_ho_fds_reclaim(const struct vdm_handoff_state *s)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	uint32_t i;

	if (hd->dev_fd >= 0 && hd->strategy != VDPAMAP_HANDOFF_REBUILD)
		vdm_ho_set_cloexec(hd->dev_fd, true, NULL);
	if (hd->keeper_sock >= 0 && hd->strategy == VDPAMAP_HANDOFF_KEEPER)
		vdm_ho_set_cloexec(hd->keeper_sock, true, NULL);
	for (i = 0; i < hd->nr_regions; i++)
		vdm_ho_set_cloexec(s->regions[i].fd, true, NULL);
	for (i = 0; i < hd->nr_vrings; i++) {
		if (s->vrings[i].kick_fd >= 0)
			vdm_ho_set_cloexec(s->vrings[i].kick_fd, true, NULL);
		if (s->vrings[i].call_fd >= 0)
			vdm_ho_set_cloexec(s->vrings[i].call_fd, true, NULL);
	}
}
