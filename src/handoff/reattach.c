// SPDX-License-Identifier: BSD-3-Clause
/*
 * reattach: a new process takes over from a keeper whose successor died.
 * It connects to the keeper's abstract socket "@vdpamap-keeper-<tag>",
 * checks that the server is the keeper it expects (SO_PEERCRED: its pid,
 * our uid) before the credential leaves this process, sends the
 * credential, receives the device fd, a fresh keeper socket, the latest
 * state memfd and the region memfds (SCM_RIGHTS), checks the state is the
 * handoff of that credential, renumbers the description to the fds it got
 * and adopts it as a KEEPER successor.  docs/threat-model.md says why.
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

struct attach {
	const struct vdpamap_reattach_opts *o;
	const struct vdpamap_open_opts *open; /* for the log */
	char name[VDM_HO_SOCK_NAME_MAX];
};

static int keeper_connect(struct attach *at)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int c, n, r;

	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	n = vdm_ho_sock_name(at->o->keeper_sock_tag, at->name,
			     sizeof(at->name));
	memcpy(sa.sun_path + 1, at->name, (size_t)n);
	if (connect(c, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				n)) < 0) {
		r = errno == ENOENT ? -ECONNREFUSED : -errno;
		close(c);
		return r;
	}
	return c;
}

/* The server must be the keeper: its pid, our uid.  Anyone else (a
 * process that bound the name after the keeper went, of this uid or
 * another) is refused before the credential is sent. */
static int check_server(struct attach *at, int c)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (uc.pid == at->o->keeper_pid && uc.uid == geteuid())
		return 0;
	vdm_ho_adopt_log(at->open,
			 "handoff: reattach: @%s is served by pid "
			 "%d uid %u, not the keeper (pid %d uid %u): refused, "
			 "the credential was not sent",
			 at->name, (int)uc.pid, (unsigned int)uc.uid,
			 (int)at->o->keeper_pid, (unsigned int)geteuid());
	return -EPERM;
}

/* The keeper's reply to ATTACH on c: the fds into fds[], how many, or
 * -errno. */
static int attach_reply(struct attach *at, int c, int *fds)
{
	struct vdm_kp_msg m;
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
	int n, nfd = 0;

	memset(&cm, 0, sizeof(cm));
	memset(&m, 0, sizeof(m));
	n = (int)recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_type == SCM_RIGHTS) {
		nfd = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (nfd > REATTACH_FDS)
			nfd = REATTACH_FDS;
		memcpy(fds, CMSG_DATA(ch), (size_t)nfd * sizeof(int));
	}
	if (n == (int)sizeof(m) && (m.ret == -EACCES || m.ret == -ENOKEY)) {
		vdm_ho_adopt_log(at->open,
				 "handoff: reattach: keeper %d "
				 "refused the credential (%d)",
				 (int)at->o->keeper_pid, m.ret);
		return m.ret;
	}
	if (n != (int)sizeof(m) || m.ret < 0)
		return n <= 0 ? -EACCES : -EPROTO;
	if (nfd < 3 || m.val != at->o->keeper_pid)
		return -EPROTO;
	if (m.arg) /* the keeper cannot log: we say it */
		vdm_ho_adopt_log(at->open,
				 "handoff: reattach: keeper %d had "
				 "refused %llu re-attach attempt(s) without "
				 "the right credential before this one (the "
				 "last from pid %lld)",
				 (int)at->o->keeper_pid,
				 (unsigned long long)m.arg, (long long)m.arg2);
	return nfd;
}

/* ATTACH: fds[] gets [device, keeper socket, state memfd, region
 * memfds...]; returns how many, or -errno. */
static int keeper_attach(struct attach *at, int *fds)
{
	struct {
		struct vdm_kp_msg m;
		uint8_t cred[VDM_KP_CRED_LEN];
	} q = { .m = { .magic = VDM_KP_MAGIC,
		       .op = VDM_KP_ATTACH,
		       .len = VDM_KP_CRED_LEN } };
	struct pollfd p;
	ssize_t sent;
	int c, r;

	c = keeper_connect(at);
	if (c < 0)
		return c;
	r = check_server(at, c);
	if (r < 0)
		goto out;
	memcpy(q.cred, at->o->keeper_cred, sizeof(q.cred));
	sent = send(c, &q, sizeof(q), MSG_NOSIGNAL);
	explicit_bzero(q.cred, sizeof(q.cred));
	r = -ECONNREFUSED;
	if (sent != (ssize_t)sizeof(q))
		goto out;
	/* a keeper serving a live successor does not accept: give up */
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, REATTACH_WAIT_MS) != 1)
		goto out;
	r = attach_reply(at, c, fds);
out:
	close(c);
	return r;
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

/* The state the keeper sent must be the handoff of this credential. */
static int check_state(struct attach *at, const struct vdm_ho_hdr *hd)
{
	if (vdm_ho_cred_eq(hd->keeper_cred, at->o->keeper_cred) &&
	    hd->keeper_tag == at->o->keeper_sock_tag &&
	    hd->keeper_pid == at->o->keeper_pid)
		return 0;
	vdm_ho_adopt_log(at->open,
			 "handoff: reattach: the state keeper %d "
			 "sent is not the handoff of this credential",
			 (int)at->o->keeper_pid);
	return -EPERM;
}

/* Check the caller's o and copy it to *c (OPTS_COPY: what follows reads
 * the copy, never o past its sz). */
static int reattach_args(const struct vdpamap_reattach_opts *o,
			 struct vdpamap **ret, struct vdpamap_reattach_opts *c)
{
	static const uint8_t zero[VDM_KP_CRED_LEN];
	const struct vdpamap_open_opts *open;
	int r;

	if (!o || !ret)
		return -EINVAL;
	r = OPTS_ERR(o, vdpamap_reattach_opts);
	if (r < 0)
		return r;
	OPTS_COPY(*c, o);
	o = c;
	open = o->open;
	r = vdm_ho_open_opts_check(open);
	if (r < 0)
		return r;
	/* a struct too short for keeper_sock_tag has it 0 in the copy */
	if (o->keeper_pid <= 0 || o->flags || !o->keeper_sock_tag) {
		vdm_ho_adopt_log(open, "handoff: reattach: keeper_pid, flags "
				       "or keeper_sock_tag invalid");
		return -EINVAL;
	}
	if (!memcmp(o->keeper_cred, zero, sizeof(zero))) {
		vdm_ho_adopt_log(open, "handoff: reattach: no credential "
				       "(vdpamap_handoff_info.keeper_cred)");
		return -ENOKEY;
	}
	return 0;
}

VDPAMAP_API int
vdpamap_handoff_reattach_with(const struct vdpamap_reattach_opts *o,
			      struct vdpamap **ret)
{
	int fds[REATTACH_FDS], r, n, nfd;
	struct vdpamap_reattach_opts c;
	struct vdm_handoff_state s;
	struct attach at;
	size_t len = 0;
	void *buf = NULL;

	r = reattach_args(o, ret, &c);
	if (r < 0)
		return r;
	at = (struct attach){ .o = &c, .open = c.open };
	for (n = 0; n < REATTACH_FDS; n++)
		fds[n] = -1;
	r = nfd = keeper_attach(&at, fds);
	if (r < 0)
		goto out;
	r = vdm_ho_read(fds[2], &buf, &len);
	if (r < 0)
		goto out;
	r = vdm_handoff_parse(buf, len, &s);
	if (r < 0)
		goto out;
	r = check_state(&at, s.hdr);
	if (r < 0)
		goto out;
	r = renumber(buf, len, fds, nfd, &s);
	if (r < 0)
		goto out;
	r = vdm_ho_adopt_parsed(&s, c.open, ret);
	if (r == 0)
		fds_taken(&s, fds, nfd);
out:
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
	for (n = 0; n < REATTACH_FDS; n++)
		if (fds[n] >= 0)
			close(fds[n]);
	return r;
}

VDPAMAP_API int vdpamap_handoff_reattach(pid_t keeper_pid,
					 const struct vdpamap_open_opts *opts,
					 struct vdpamap **ret)
{
	int r;

	if (keeper_pid <= 0 || !ret)
		return -EINVAL;
	r = vdm_ho_open_opts_check(opts);
	if (r < 0)
		return r;
	vdm_ho_adopt_log(opts,
			 "handoff: reattach: keeper %d requires its "
			 "credential: call vdpamap_handoff_reattach_with() "
			 "with vdpamap_handoff_info's keeper_cred and "
			 "keeper_sock_tag",
			 (int)keeper_pid);
	return -ENOKEY;
}
