// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator daemon: the single-threaded poll() loop over its
 * listening SOCK_SEQPACKET socket, its connections and the kick eventfds,
 * and the packet decoder.  Its start (the socket, the fork, the daemon's
 * fds) is spawn.c's.
 *
 * The top of the module: calls ioctl.c, iotlb.c (writes, TABLE), device.c
 * (init/fini, open/close), net.c (kicks), dma.c (the SIGBUS handler),
 * log.c.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

#define MAX_CONNS 64

struct conn {
	int fd;
	int kind; /* 0 until HELLO */
};

struct server {
	int lfd;
	int stop;
	struct conn c[MAX_CONNS];
	int nc;
	struct vsim_dev dev;
	uint8_t *rx, *tx;
	/* the idle exit: when the daemon was last in use, whether it is
	 * leaving (its socket removed), the socket file it bound */
	uint64_t used_ms;
	int leaving;
	const char *path;
	struct stat path_st;
	int path_known;
};

int vsim_decode(const void *buf, size_t n, struct vsim_req *req,
		const void **payload)
{
	if (!buf || n < sizeof(*req) || n > VSIM_MAX_PKT)
		return -EINVAL;
	memcpy(req, buf, sizeof(*req));
	if (req->magic != VSIM_MAGIC || req->len != n - sizeof(*req))
		return -EINVAL;
	*payload = (const uint8_t *)buf + sizeof(*req);
	return 0;
}

/* Size-prefixed options: unknown non-zero tail -> E2BIG.  The profile
 * first, then every non-zero field over it, then the caps. */
int vsim_opts_parse(const struct vdpamap_sim_opts *in, struct vsim_opts *o)
{
	struct vdpamap_sim_opts x;
	int r;

	memset(&x, 0, sizeof(x));
	if (in) {
		size_t sz = in->sz, i;

		if (sz < sizeof(size_t))
			return -EINVAL;
		for (i = sizeof(x); i < sz; i++)
			if (((const uint8_t *)in)[i])
				return -E2BIG;
		memcpy(&x, in, sz < sizeof(x) ? sz : sizeof(x));
	}
	r = vsim_profile_apply(x.profile, o);
	if (r)
		return r;
	if (x.backend_features)
		o->backend_offer = x.backend_features;
	vsim_profile_flags(o, x.flags);
	o->idle_ms = x.idle_timeout_ms ? x.idle_timeout_ms :
					 VDPAMAP_SIM_IDLE_DEFAULT_MS;
	if (x.nr_as)
		o->nr_as = x.nr_as;
	if (x.nr_groups)
		o->nr_groups = x.nr_groups;
	if (x.nr_vqs)
		o->nr_vqs = x.nr_vqs;
	if (x.iova_last) {
		o->iova_first = x.iova_first;
		o->iova_last = x.iova_last;
	}
	vsim_profile_caps(o, x.max_iotlb_entries, x.parent_max_iotlb_entries);
	if ((o->kflags & VSIM_P_VA_ONLY) &&
	    (o->flags & (VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP))) {
		vsim_log("profile %s/%s: VA and set_map only", o->kernel,
			 o->parent);
		return -EINVAL;
	}
	if (o->flags & ~(VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP |
			 VDPAMAP_SIM_ANY_UID) ||
	    o->iova_first > o->iova_last || o->nr_as > 64 ||
	    o->nr_groups > 64 || o->nr_vqs > 64 || o->nr_vqs < 2)
		return -EINVAL;
	return 0;
}

/* ---- the idle exit */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t nr_entries(const struct vsim_dev *d)
{
	uint64_t n = 0;
	uint32_t a;

	for (a = 0; a < d->o.nr_as; a++)
		n += d->tbl[a].n;
	return n;
}

/* In use: the device is open, an address space has an entry, or any
 * connection is open (an open under way, a client between two requests,
 * a connection that hung up but is not reaped yet). */
static bool in_use(const struct server *s)
{
	return s->dev.open || s->nc || nr_entries(&s->dev);
}

/* ms until the idle exit (0: now), or -1: in use, or never */
static int idle_wait_ms(const struct server *s)
{
	uint64_t t = s->dev.o.idle_ms, idle;

	if (t == VDPAMAP_SIM_IDLE_NEVER || in_use(s))
		return -1;
	if (s->leaving)
		return 0;
	idle = now_ms() - s->used_ms;
	if (idle >= t)
		return 0;
	return t - idle > INT_MAX ? INT_MAX : (int)(t - idle);
}

/* Remove the socket file the daemon bound, only if its path still names
 * it: another daemon may have taken the path since. */
static void unlink_own(const struct server *s)
{
	struct stat st;

	if (s->path_known && lstat(s->path, &st) == 0 &&
	    st.st_dev == s->path_st.st_dev && st.st_ino == s->path_st.st_ino)
		unlink(s->path);
}

static void accept_one(struct server *s);

/* Idle for its time: the socket goes first, then a connection that came
 * in meanwhile is still served (the daemon leaves when it is done too).
 * true when nothing is left to serve. */
static bool idle_exit(struct server *s)
{
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };

	if (!s->leaving) {
		vsim_log("unused for %u ms: exiting", s->dev.o.idle_ms);
		unlink_own(s);
		s->leaving = 1;
	}
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		accept_one(s);
		return false;
	}
	return true;
}

/* ---- connections */

static void conn_drop(struct server *s, int i)
{
	if (s->c[i].kind == VSIM_KIND_DEVICE) {
		vsim_log("device closed");
		vsim_dev_close(&s->dev);
		s->used_ms = now_ms();
	}
	close(s->c[i].fd);
	s->c[i] = s->c[--s->nc];
}

static void reply(int fd, int ret, const void *payload, size_t len)
{
	struct vsim_rep rep = { .ret = ret, .len = (uint32_t)len };
	struct iovec iov[2] = {
		{ .iov_base = &rep, .iov_len = sizeof(rep) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		vsim_log("reply: %s", strerror(errno));
}

/* The kernel's close() is synchronous: once every fd of an open is closed
 * the device is free.  Here the hang-up of the device's connection and a
 * request on another connection arrive on different sockets in no
 * particular order, so before answering one look whether the device's
 * connection has already hung up, and if so close the device now (the main
 * loop reaps the detached connection later): a new open is not refused
 * EBUSY, a query sees the device released, and vdpamap_close() waits for
 * such an answer (src/transport/release.c). */
static void reap_hung_up_device(struct server *s)
{
	int i;

	for (i = 0; i < s->nc; i++) {
		struct pollfd p = { .fd = s->c[i].fd, .events = POLLIN };

		if (s->c[i].kind != VSIM_KIND_DEVICE)
			continue;
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
			vsim_log("device closed (hung up before a request)");
			vsim_dev_close(&s->dev);
			s->used_ms = now_ms();
			s->c[i].kind = 0;
		}
		return;
	}
}

/* VDPAMAP_SIM_FAIL_EXIT fired: exit as a crash would, before answering
 * (every connection closes as the process goes), but remove the socket,
 * which a crashed daemon leaves behind, so that the tests leave nothing
 * in the socket directory. */
static void crash_if_asked(struct server *s)
{
	if (!s->dev.crash)
		return;
	vsim_log("fail_nth: exiting now, as a crash would");
	unlink_own(s);
	_exit(3);
}

/* HELLO: a connection says once what it is; one device connection at a
 * time (EBUSY), as one open of the char device. */
static void handle_hello(struct server *s, struct conn *c,
			 const struct vsim_req *q)
{
	struct vsim_dev *d = &s->dev;
	int r;

	/* two refusals with the same errno, each said:
	 * NOLINTBEGIN(bugprone-branch-clone) */
	if (c->kind)
		r = -EINVAL;
	else if (q->arg == VSIM_KIND_DEVICE && d->open)
		r = -EBUSY;
	else if (q->arg == VSIM_KIND_DEVICE) {
		vsim_dev_open(d);
		c->kind = VSIM_KIND_DEVICE;
		r = 0;
	} else if (q->arg == VSIM_KIND_CONTROL) {
		c->kind = VSIM_KIND_CONTROL;
		r = 0;
	} else {
		r = -EINVAL;
	}
	/* NOLINTEND(bugprone-branch-clone) */
	reply(c->fd, r, NULL, 0);
}

/* WRITEV: the writes of the packet one by one, as WRITE would do each,
 * up to the first not consumed whole; the owner's VMAs are read once for
 * the packet (the client waits for the reply, so its mapping calls are
 * not running; another of its threads changing its mappings meanwhile
 * races the batch as it races the kernel). */
static void handle_writev(struct server *s, struct conn *c,
			  const struct vsim_req *q, const uint8_t *pl,
			  pid_t pid)
{
	struct vsim_writev_rep rep = { 0 };
	uint64_t rec = q->arg;

	if (!rec || rec > VSIM_WRITEV_REC_MAX || q->len != rec * q->arg2) {
		reply(c->fd, -EINVAL, NULL, 0);
		return;
	}
	vsim_iotlb_hold_vmas(&s->dev, 1);
	for (; rep.done < q->arg2; rep.done++) {
		int r = vsim_iotlb_write(&s->dev, q->token, pid,
					 pl + rep.done * rec, rec);

		if (r != (int)rec) {
			rep.ret = r;
			break;
		}
	}
	vsim_iotlb_hold_vmas(&s->dev, 0);
	crash_if_asked(s);
	reply(c->fd, 0, &rep, sizeof(rep));
}

/* A device connection: the char device's ioctl() and write(). */
static void handle_device(struct server *s, struct conn *c,
			  const struct vsim_req *q, const void *pl, pid_t pid,
			  int *fds, int nfds)
{
	size_t outlen = VSIM_MAX_PKT - sizeof(struct vsim_rep);
	int r;

	switch (q->op) {
	case VSIM_OP_IOCTL:
		if (q->arg > UINT32_MAX) {
			reply(c->fd, -ENOTTY, NULL, 0);
			return;
		}
		r = vsim_ioctl(&s->dev, q->token, pid, (uint32_t)q->arg, pl,
			       q->len, fds, nfds, s->tx, &outlen);
		crash_if_asked(s);
		reply(c->fd, r, s->tx, r ? 0 : outlen);
		return;
	case VSIM_OP_WRITE:
		r = vsim_iotlb_write(&s->dev, q->token, pid, pl, q->len);
		crash_if_asked(s);
		reply(c->fd, r, NULL, 0);
		return;
	case VSIM_OP_WRITEV:
		handle_writev(s, c, q, pl, pid);
		return;
	}
	reply(c->fd, -EINVAL, NULL, 0);
}

/* TABLE: as many entries as fit the reply (and the caller's max), the
 * total as the answer. */
static void handle_table(struct server *s, struct conn *c,
			 const struct vsim_req *q)
{
	size_t outlen = VSIM_MAX_PKT - sizeof(struct vsim_rep);
	size_t max = outlen / sizeof(struct vdpamap_sim_entry);
	int r;

	if (q->arg2 < max)
		max = q->arg2;
	r = q->arg > UINT32_MAX ? -EINVAL :
				  vsim_table_dump(&s->dev, (uint32_t)q->arg,
						  (void *)s->tx, max);
	reply(c->fd, r, s->tx,
	      r > 0 ? ((size_t)r < max ? (size_t)r : max) *
			      sizeof(struct vdpamap_sim_entry) :
		      0);
}

/* LIMITS: what the daemon plays and its caps (vdpamap_sim_get_limits) */
static void handle_limits(struct conn *c, const struct vsim_opts *o)
{
	struct vdpamap_sim_limits l;

	memset(&l, 0, sizeof(l));
	l.vhost_max_iotlb_entries = o->vhost_cap;
	l.parent_max_iotlb_entries = o->parent_cap;
	snprintf(l.kernel, sizeof(l.kernel), "%s", o->kernel);
	snprintf(l.parent, sizeof(l.parent), "%s", o->parent);
	l.backend_features = o->backend_offer;
	l.flags = o->flags;
	l.nr_as = o->nr_as;
	l.nr_groups = o->nr_groups;
	l.nr_vqs = o->nr_vqs;
	l.iova_first = o->iova_first;
	l.iova_last = o->iova_last;
	reply(c->fd, 0, &l, sizeof(l));
}

/* STATE: what keeps the daemon from its idle exit, but the asker's own
 * connection (vdpamap_sim_get_state) */
static void handle_state(struct server *s, struct conn *c)
{
	const struct vsim_dev *d = &s->dev;
	struct vdpamap_sim_state st;
	int i;

	memset(&st, 0, sizeof(st));
	st.pid = getpid();
	st.iotlb_entries = nr_entries(d);
	if (d->open)
		st.busy |= VDPAMAP_SIM_BUSY_DEVICE;
	if (st.iotlb_entries)
		st.busy |= VDPAMAP_SIM_BUSY_MAPS;
	for (i = 0; i < s->nc; i++)
		if (&s->c[i] != c && s->c[i].kind != VSIM_KIND_DEVICE)
			st.busy |= VDPAMAP_SIM_BUSY_CONNS;
	st.connections = (uint32_t)s->nc - 1;
	st.idle_timeout_ms = d->o.idle_ms;
	if (!(st.busy & (VDPAMAP_SIM_BUSY_DEVICE | VDPAMAP_SIM_BUSY_MAPS)))
		st.idle_ms = now_ms() - s->used_ms;
	snprintf(st.kernel, sizeof(st.kernel), "%s", d->o.kernel);
	snprintf(st.parent, sizeof(st.parent), "%s", d->o.parent);
	reply(c->fd, 0, &st, sizeof(st));
}

/* A control connection: the test and debugging hooks. */
static void handle_control(struct server *s, struct conn *c,
			   const struct vsim_req *q)
{
	struct vsim_dev *d = &s->dev;
	uint64_t b;

	switch (q->op) {
	case VSIM_OP_TABLE:
		handle_table(s, c, q);
		return;
	case VSIM_OP_FAIL_NTH:
		if (q->arg == VDPAMAP_SIM_FAIL_MSG)
			d->fail_msg = q->arg2;
		else if (q->arg == VDPAMAP_SIM_FAIL_IOCTL)
			d->fail_ioctl = q->arg2;
		else if (q->arg == VDPAMAP_SIM_FAIL_EXIT)
			d->fail_exit = q->arg2;
		else {
			reply(c->fd, -EINVAL, NULL, 0);
			return;
		}
		reply(c->fd, 0, NULL, 0);
		return;
	case VSIM_OP_STATS:
		d->st.pinned_bytes = d->pinned_pages * VSIM_PAGE;
		reply(c->fd, 0, &d->st, sizeof(d->st));
		return;
	case VSIM_OP_LIMITS:
		handle_limits(c, &d->o);
		return;
	case VSIM_OP_STATE:
		handle_state(s, c);
		return;
	case VSIM_OP_PINNED:
		b = d->pinned_pages * VSIM_PAGE;
		reply(c->fd, 0, &b, sizeof(b));
		return;
	case VSIM_OP_STOP:
		reply(c->fd, 0, NULL, 0);
		s->stop = 1;
		return;
	}
	reply(c->fd, -EINVAL, NULL, 0);
}

/* One decoded packet: exactly one reply, whatever it holds. */
static void handle(struct server *s, struct conn *c, const struct vsim_req *q,
		   const void *pl, pid_t pid, int *fds, int nfds)
{
	if (c->kind != VSIM_KIND_DEVICE)
		reap_hung_up_device(s);
	/* a control connection's HELLO alone (the wait of vdpamap_close()
	 * is one) and STATE do not use the daemon */
	if ((q->op != VSIM_OP_HELLO || q->arg != VSIM_KIND_CONTROL) &&
	    q->op != VSIM_OP_STATE)
		s->used_ms = now_ms();
	if (q->op == VSIM_OP_HELLO)
		handle_hello(s, c, q);
	else if (c->kind == VSIM_KIND_DEVICE)
		handle_device(s, c, q, pl, pid, fds, nfds);
	else if (c->kind == VSIM_KIND_CONTROL)
		handle_control(s, c, q);
	else
		reply(c->fd, -EINVAL, NULL, 0);
}

/* One packet from connection i; -1 if the connection went away. */
static int conn_recv(struct server *s, int i)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * VSIM_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = s->rx, .iov_len = VSIM_MAX_PKT };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	int fds[VSIM_MAX_FDS], nfds = 0, k;
	struct cmsghdr *ch;
	struct vsim_req q;
	const void *pl;
	pid_t pid = 0;
	ssize_t n;

	n = recvmsg(s->c[i].fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	for (ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET)
			continue;
		if (ch->cmsg_type == SCM_CREDENTIALS &&
		    ch->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(ch), sizeof(uc));
			pid = uc.pid;
		} else if (ch->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			size_t j;

			for (j = 0; j < cnt; j++) {
				int fd;

				memcpy(&fd, CMSG_DATA(ch) + j * sizeof(int),
				       sizeof(int));
				if (nfds < VSIM_MAX_FDS)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    vsim_decode(s->rx, (size_t)n, &q, &pl)) {
		reply(s->c[i].fd, -EINVAL, NULL, 0);
	} else {
		handle(s, &s->c[i], &q, pl, pid, fds, nfds);
	}
	for (k = 0; k < nfds; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	return 0;
}

/* A peer of another uid is refused unless VDPAMAP_SIM_ANY_UID: the mode
 * of the socket keeps it out already, this holds when the mode was
 * changed, or the socket reached another way (an fd passed on). */
static bool peer_refused(struct server *s, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (s->dev.o.flags & VDPAMAP_SIM_ANY_UID)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		vsim_log("peer refused: SO_PEERCRED: %s", strerror(errno));
		return true;
	}
	if (uc.uid == geteuid())
		return false;
	vsim_log("peer refused: pid %d uid %u, not this daemon's uid %u "
		 "(VDPAMAP_SIM_ANY_UID allows it)",
		 (int)uc.pid, (unsigned int)uc.uid, (unsigned int)geteuid());
	return true;
}

static void accept_one(struct server *s)
{
	int one = 1, fd;

	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (s->nc == MAX_CONNS || peer_refused(s, fd)) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	s->c[s->nc++] = (struct conn){ .fd = fd };
}

/* One round of the poll loop: the listener, every connection and the
 * kick eventfds, waiting at most timeout ms (-1: no limit).  0, or -errno
 * if poll() fails. */
static int serve_round(struct server *s, int timeout)
{
	struct pollfd pfd[1 + MAX_CONNS + 64];
	int n = 0, nconn, nkick, i;
	uint32_t kq[64];

	pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	for (i = 0; i < s->nc; i++)
		pfd[n++] =
			(struct pollfd){ .fd = s->c[i].fd, .events = POLLIN };
	nconn = s->nc;
	nkick = 0;
	for (i = 0; i < (int)s->dev.o.nr_vqs && nkick < 64; i++) {
		if (s->dev.vq[i].kick_fd < 0)
			continue;
		kq[nkick++] = (uint32_t)i;
		pfd[n++] = (struct pollfd){ .fd = s->dev.vq[i].kick_fd,
					    .events = POLLIN };
	}
	if (poll(pfd, (nfds_t)n, timeout) < 0)
		return errno == EINTR ? 0 : -errno;
	/* kicks first: the fds may change while handling packets */
	for (i = 0; i < nkick; i++) {
		uint64_t cnt;

		if (!(pfd[1 + nconn + i].revents & POLLIN))
			continue;
		if (read(pfd[1 + nconn + i].fd, &cnt, sizeof(cnt)) > 0 &&
		    s->dev.vq[kq[i]].kick_fd == pfd[1 + nconn + i].fd)
			vsim_net_kick(&s->dev, kq[i]);
	}
	/* connections, back to front: conn_drop moves the last one */
	for (i = nconn - 1; i >= 0 && !s->stop; i--) {
		short ev = pfd[1 + i].revents;

		if (!ev)
			continue;
		if ((ev & POLLIN) ? conn_recv(s, i) < 0 :
				    !!(ev & (POLLHUP | POLLERR)))
			conn_drop(s, i);
	}
	if (pfd[0].revents & POLLIN)
		accept_one(s);
	return 0;
}

int vsim_serve_fd(int lfd, const char *path, const struct vsim_opts *o)
{
	struct server *s;
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s) {
		unlink(path); /* bound a moment ago: ours */
		goto out_listener;
	}
	s->lfd = lfd;
	s->path = path;
	s->path_known = lstat(path, &s->path_st) == 0 &&
			S_ISSOCK(s->path_st.st_mode);
	s->used_ms = now_ms();
	s->rx = malloc(VSIM_MAX_PKT);
	s->tx = malloc(VSIM_MAX_PKT);
	if (!s->rx || !s->tx) {
		unlink_own(s);
		goto out_buffers;
	}
	r = vsim_dev_init(&s->dev, o);
	if (r) {
		unlink_own(s);
		goto out_buffers;
	}
	signal(SIGPIPE, SIG_IGN);
	vsim_dma_install_sigbus();
	vsim_log("serving %s (profile %s/%s, offer 0x%llx, flags 0x%x, "
		 "caps %u/%u)",
		 path, o->kernel, o->parent,
		 (unsigned long long)o->backend_offer, o->flags, o->vhost_cap,
		 o->parent_cap);

	while (!s->stop) {
		int w = idle_wait_ms(s);

		if (w == 0 && idle_exit(s))
			break;
		r = serve_round(s, w);
		if (r)
			break;
	}
	vsim_log("stopping");
	/* the socket and the listener first: a client that sees EOF then
	 * finds nobody there */
	unlink_own(s);
	close(lfd);
	lfd = -1;
	while (s->nc)
		conn_drop(s, s->nc - 1);
	vsim_dev_fini(&s->dev);
out_buffers:
	free(s->rx);
	free(s->tx);
	free(s);
out_listener:
	if (lfd >= 0)
		close(lfd);
	return r;
}
