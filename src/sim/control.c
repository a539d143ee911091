// SPDX-License-Identifier: BSD-3-Clause
/*
 * The client side of the simulator's control connection: the test and
 * debugging hooks vdpamap_sim_table/_fail_nth/_get_stats/_get_limits/
 * _get_state/_stop.  These run
 * in the caller's process and talk to the daemon at path.
 *
 * Beside the daemon's files, calling none of them: it speaks simproto.h
 * over a connection from transport/sock.c.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"
#include "transport/transport.h"

#define CTL_TIMEOUT_MS ((int)VDM_SIM_TIMEOUT_MS)
/* vdpamap_sim_get_state(): `vdpamap sim list` asks every daemon in turn */
#define STATE_TIMEOUT_MS 1000

/* One request, one reply (payload into out, at most *outlen bytes), in
 * timeout_ms at most. */
static int ctl_call_ms(int fd, uint32_t op, uint64_t arg, uint32_t arg2,
		       void *out, size_t *outlen, int timeout_ms)
{
	struct vsim_req q = {
		.magic = VSIM_MAGIC, .op = op, .arg = arg, .arg2 = arg2
	};
	struct vsim_rep rep;
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (send(fd, &q, sizeof(q), MSG_NOSIGNAL) != sizeof(q))
		return -errno;
	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	iov[0] = (struct iovec){ .iov_base = &rep, .iov_len = sizeof(rep) };
	iov[1] = (struct iovec){ .iov_base = out,
				 .iov_len = out && outlen ? *outlen : 0 };
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(rep) || rep.len != (size_t)n - sizeof(rep))
		return -EPROTO;
	if (outlen)
		*outlen = rep.len;
	return rep.ret;
}

static int ctl_call(int fd, uint32_t op, uint64_t arg, uint32_t arg2, void *out,
		    size_t *outlen)
{
	return ctl_call_ms(fd, op, arg, arg2, out, outlen, CTL_TIMEOUT_MS);
}

static int ctl_open_ms(const char *path, int timeout_ms)
{
	int fd, r;

	if (!path)
		return -EINVAL;
	/* a listener that never accepts: -ETIMEDOUT after the default */
	fd = vdm_sim_connect(path, 0);
	if (fd < 0)
		return fd;
	r = ctl_call_ms(fd, VSIM_OP_HELLO, VSIM_KIND_CONTROL, 0, NULL, NULL,
			timeout_ms);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int ctl_open(const char *path)
{
	return ctl_open_ms(path, CTL_TIMEOUT_MS);
}

int vdpamap_sim_table(const char *path, uint32_t asid,
		      struct vdpamap_sim_entry *ents, size_t n)
{
	const size_t max = (VSIM_MAX_PKT - sizeof(struct vsim_rep)) /
			   sizeof(struct vdpamap_sim_entry);
	size_t len;
	int fd, r;

	if (n && !ents)
		return -EINVAL;
	if (n > max)
		n = max;
	len = n * sizeof(*ents);
	fd = ctl_open(path);
	if (fd < 0)
		return fd;
	r = ctl_call(fd, VSIM_OP_TABLE, asid, (uint32_t)n, ents, &len);
	close(fd);
	return r;
}

int vdpamap_sim_fail_nth(const char *path, uint32_t kind, uint32_t nth)
{
	int fd, r;

	if (kind != VDPAMAP_SIM_FAIL_MSG && kind != VDPAMAP_SIM_FAIL_IOCTL &&
	    kind != VDPAMAP_SIM_FAIL_EXIT)
		return -EINVAL;
	fd = ctl_open(path);
	if (fd < 0)
		return fd;
	r = ctl_call(fd, VSIM_OP_FAIL_NTH, kind, nth, NULL, NULL);
	close(fd);
	return r;
}

int vdpamap_sim_get_stats(const char *path, struct vdpamap_sim_stats *st)
{
	struct vdpamap_sim_stats tmp;
	size_t len = sizeof(tmp);
	int fd, r;

	if (!st)
		return -EINVAL;
	fd = ctl_open(path);
	if (fd < 0)
		return fd;
	memset(&tmp, 0, sizeof(tmp));
	r = ctl_call(fd, VSIM_OP_STATS, 0, 0, &tmp, &len);
	close(fd);
	if (r == 0)
		*st = tmp;
	return r;
}

int vdpamap_sim_get_limits(const char *path, struct vdpamap_sim_limits *ret)
{
	struct vdpamap_sim_limits tmp;
	size_t len = sizeof(tmp);
	int fd, r;

	if (!ret)
		return -EINVAL;
	fd = ctl_open(path);
	if (fd < 0)
		return fd;
	memset(&tmp, 0, sizeof(tmp));
	r = ctl_call(fd, VSIM_OP_LIMITS, 0, 0, &tmp, &len);
	close(fd);
	if (r == 0 && len != sizeof(tmp))
		r = -EPROTO;
	if (r == 0)
		*ret = tmp;
	return r;
}

int vdpamap_sim_get_state(const char *path, struct vdpamap_sim_state *ret)
{
	struct vdpamap_sim_state tmp;
	size_t len = sizeof(tmp);
	int fd, r;

	if (!ret)
		return -EINVAL;
	fd = ctl_open_ms(path, STATE_TIMEOUT_MS);
	if (fd < 0)
		return fd;
	memset(&tmp, 0, sizeof(tmp));
	r = ctl_call_ms(fd, VSIM_OP_STATE, 0, 0, &tmp, &len, STATE_TIMEOUT_MS);
	close(fd);
	/* an op it does not know: -EINVAL with no payload (simproto.h) */
	if (r == -EINVAL && len == 0)
		return -EOPNOTSUPP;
	if (r == 0 && len != sizeof(tmp))
		r = -EPROTO;
	if (r == 0)
		*ret = tmp;
	return r;
}

/* Only a socket that a simulator of ours serves is stopped and removed:
 * a file of another kind is never ours (-ENOTSOCK), a socket nobody
 * serves may be anybody's (-ECONNREFUSED), and one whose server does not
 * speak our protocol is not ours either (the handshake's error). */
int vdpamap_sim_stop(const char *path)
{
	struct stat st, now;
	struct pollfd pfd;
	char c;
	int fd, r;

	if (!path)
		return -EINVAL;
	if (stat(path, &st) < 0) /* through a link: the CLI names sockets so */
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = ctl_open(path);
	if (fd < 0)
		return fd;
	r = ctl_call(fd, VSIM_OP_STOP, 0, 0, NULL, NULL);
	if (r == 0) {
		/* the daemon closes every connection when it exits: EOF here
		 * means it is gone (or at least no longer serving) */
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		r = poll(&pfd, 1, CTL_TIMEOUT_MS);
		if (r == 0)
			r = -ETIMEDOUT;
		else if (r > 0)
			r = recv(fd, &c, 1, 0) == 0 ? 0 : -EPROTO;
		else
			r = -errno;
	}
	close(fd);
	/* the daemon removes its socket as it exits, maybe after our EOF:
	 * remove it here unless another socket took the path meanwhile; a
	 * link to it (the CLI names sockets so) goes once it leads nowhere */
	if (r == 0 &&
	    (stat(path, &now) == 0 ?
		     now.st_ino == st.st_ino && now.st_dev == st.st_dev :
		     errno == ENOENT && lstat(path, &now) == 0 &&
			     S_ISLNK(now.st_mode)))
		unlink(path);
	return r;
}
