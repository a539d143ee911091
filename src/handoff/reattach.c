// SPDX-License-Identifier: BSD-3-Clause
/*
 * reattach: a new process takes over from a keeper whose successor died.
 * It connects to the keeper's abstract socket "@vdpamap-keeper-<pid>",
 * receives the device fd, a fresh keeper socket, the latest state memfd
 * and the region memfds (SCM_RIGHTS), renumbers the description to the
 * fds it got and adopts it as a KEEPER successor.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff/handoff.h"

#define REATTACH_FDS	 (3 + VDM_KP_MAX_KEEP)
#define REATTACH_WAIT_MS 2000

static int keeper_connect(pid_t keeper_pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int c, n, r;

	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		     "vdpamap-keeper-%d", (int)keeper_pid);
	if (connect(c, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				n)) < 0) {
		r = errno == ENOENT ? -ECONNREFUSED : -errno;
		close(c);
		return r;
	}
	return c;
}

/* ATTACH: fds[] gets [device, keeper socket, state memfd, region
 * memfds...]; returns how many, or -errno. */
static int keeper_attach(pid_t keeper_pid, int *fds)
{
	struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC, .op = VDM_KP_ATTACH };
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(REATTACH_FDS * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	struct pollfd p;
	int c, n, nfd = 0;

	c = keeper_connect(keeper_pid);
	if (c < 0)
		return c;
	if (send(c, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		goto refused;
	/* a keeper serving a live successor does not accept: give up */
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, REATTACH_WAIT_MS) != 1)
		goto refused;
	memset(&cm, 0, sizeof(cm));
	n = (int)recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	close(c);
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_type == SCM_RIGHTS) {
		nfd = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (nfd > REATTACH_FDS)
			nfd = REATTACH_FDS;
		memcpy(fds, CMSG_DATA(ch), (size_t)nfd * sizeof(int));
	}
	if (n != (int)sizeof(m) || m.ret < 0)
		return n <= 0 ? -EACCES : -EPROTO;
	return nfd < 3 ? -EPROTO : nfd;
refused:
	close(c);
	return -ECONNREFUSED;
}

/* The description names the dead successor's fd numbers: ours go there
 * (each region's memfd: the keeper's copy with the same inode), then it
 * is sealed and parsed again. */
static int renumber(void *buf, size_t len, const int *fds, int nfd,
		    struct vdm_handoff_state *s)
{
	struct vdm_ho_hdr *hd = buf;
	struct vdm_ho_region *rr = (struct vdm_ho_region *)(hd + 1);
	uint32_t i;
	int k;

	hd->dev_fd = fds[0];
	hd->keeper_sock = fds[1];
	hd->strategy = VDPAMAP_HANDOFF_KEEPER;
	for (i = 0; i < hd->nr_regions; i++) {
		struct stat st;

		rr[i].fd = -1;
		for (k = 3; k < nfd; k++)
			if (fstat(fds[k], &st) == 0 && st.st_ino == rr[i].ino)
				rr[i].fd = fds[k];
		if (rr[i].fd < 0)
			return -ENOENT;
	}
	vdm_handoff_seal(buf);
	return vdm_handoff_parse(buf, len, s);
}

/* The handle uses these now (region fds stay open for the caller:
 * vdpamap_region_get() names them): not ours to close. */
static void fds_taken(const struct vdm_handoff_state *s, int *fds, int nfd)
{
	uint32_t i;
	int k;

	fds[0] = fds[1] = -1;
	for (i = 0; i < s->hdr->nr_regions; i++)
		for (k = 3; k < nfd; k++)
			if (fds[k] == s->regions[i].fd)
				fds[k] = -1;
}

VDPAMAP_API int vdpamap_handoff_reattach(pid_t keeper_pid,
					 const struct vdpamap_open_opts *opts,
					 struct vdpamap **ret)
{
	int fds[REATTACH_FDS], r, n, nfd;
	struct vdm_handoff_state s;
	size_t len = 0;
	void *buf = NULL;

	if (keeper_pid <= 0 || !ret)
		return -EINVAL;
	r = vdm_ho_open_opts_check(opts);
	if (r < 0)
		return r;
	for (n = 0; n < REATTACH_FDS; n++)
		fds[n] = -1;
	r = nfd = keeper_attach(keeper_pid, fds);
	if (r < 0)
		goto out;
	r = vdm_ho_read(fds[2], &buf, &len);
	if (r < 0)
		goto out;
	r = vdm_handoff_parse(buf, len, &s);
	if (r < 0)
		goto out;
	r = renumber(buf, len, fds, nfd, &s);
	if (r < 0)
		goto out;
	r = vdm_ho_adopt_parsed(&s, opts, ret);
	if (r == 0)
		fds_taken(&s, fds, nfd);
out:
	free(buf);
	for (n = 0; n < REATTACH_FDS; n++)
		if (fds[n] >= 0)
			close(fds[n]);
	return r;
}
