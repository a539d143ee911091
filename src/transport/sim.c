// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator transport: ioctls and writes become simproto packets on a
 * SOCK_SEQPACKET connection to the simulator daemon.  The ioctl encoding is
 * generic (_IOC_DIR/_IOC_SIZE of the request) with three special cases:
 * fd-carrying requests pass the fd with SCM_RIGHTS, and VDPA_GET/SET_CONFIG
 * carry a variable-length buffer behind their header.  A run of IOTLB
 * writes goes as WRITEV packets, ~1800 messages per round trip (one round
 * trip per message made a 10^5-map commit take seconds), with the outcome
 * one write() per message would have; a daemon that predates WRITEV gets
 * one WRITE per message, as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "transport/simproto.h"
#include "transport/transport.h"
#include "uapi/vhost_vdpa.h"

/* Milliseconds from now to deadline (CLOCK_MONOTONIC), 0 once past. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static void deadline_in(struct timespec *d, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* Wait until sock has something to read or deadline passes: 0 or
 * -ETIMEDOUT. */
static int wait_readable(int sock, const struct timespec *deadline)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int r;

	do {
		r = poll(&p, 1, ms_left(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

/* vdm_sim_call(), the answer awaited until deadline (NULL: for ever). */
static int sim_call(int sock, uint32_t op, uint64_t arg, uint32_t arg2,
		    const void *payload, size_t plen, int fd, void *rbuf,
		    size_t rlen, size_t *ret_len,
		    const struct timespec *deadline)
{
	struct vsim_req req = {
		.magic = VSIM_MAGIC,
		.op = op,
		.token = vdm_image_token(),
		.arg = arg,
		.arg2 = arg2,
		.len = (uint32_t)plen,
	};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = (void *)payload, .iov_len = plen },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	struct vsim_rep rep;
	struct iovec rio[2];
	struct msghdr rh;
	ssize_t n;
	int r;

	if (plen + sizeof(req) > VSIM_MAX_PKT)
		return -E2BIG;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	/* From here on the request was sent: a failure leaves its outcome
	 * unknown and its reply possibly still queued, so the connection is
	 * out of step for good.  -ECOMM says exactly that; -ECONNRESET that
	 * the peer closed instead of answering (EOF, or its end closed with
	 * our request unread), -ETIMEDOUT that no answer came in time. */
	if (deadline) {
		r = wait_readable(sock, deadline);
		if (r < 0)
			return r;
	}
	/* the reply straight into rep and rbuf: MSG_TRUNC makes recvmsg()
	 * return the packet's whole length (unix SEQPACKET, Linux 3.4), so
	 * a reply longer than rbuf is still told from a malformed one, and
	 * no buffer of the largest packet is allocated for every call */
	rio[0] = (struct iovec){ .iov_base = &rep, .iov_len = sizeof(rep) };
	rio[1] = (struct iovec){ .iov_base = rbuf, .iov_len = rbuf ? rlen : 0 };
	rh = (struct msghdr){ .msg_iov = rio, .msg_iovlen = 2 };
	do {
		n = recvmsg(sock, &rh, MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return -ECONNRESET;
	if (n < 0 || (size_t)n < sizeof(rep) ||
	    rep.len != (size_t)n - sizeof(rep))
		return -ECOMM;
	if (ret_len)
		*ret_len = rep.len;
	return rep.ret;
}

int vdm_sim_call(int sock, uint32_t op, uint64_t arg, uint32_t arg2,
		 const void *payload, size_t plen, int fd, void *rbuf,
		 size_t rlen, size_t *ret_len)
{
	return sim_call(sock, op, arg, arg2, payload, plen, fd, rbuf, rlen,
			ret_len, NULL);
}

int vdm_sim_call_ctl(int sock, uint32_t op, void *rbuf, size_t rlen,
		     size_t *ret_len)
{
	struct timespec d;

	deadline_in(&d, VDM_SIM_TIMEOUT_MS);
	return sim_call(sock, op, 0, 0, NULL, 0, -1, rbuf, rlen, ret_len, &d);
}

static int hello_until(int sock, uint32_t kind, const struct timespec *d)
{
	return sim_call(sock, VSIM_OP_HELLO, kind, 0, NULL, 0, -1, NULL, 0,
			NULL, d);
}

int vdm_sim_hello(int sock, uint32_t kind, unsigned int timeout_ms)
{
	struct timespec d;

	deadline_in(&d, timeout_ms ? timeout_ms : VDM_SIM_TIMEOUT_MS);
	return hello_until(sock, kind, &d);
}

int vdm_sim_open(const char *path, uint32_t kind, unsigned int timeout_ms)
{
	unsigned int ms = timeout_ms ? timeout_ms : VDM_SIM_TIMEOUT_MS;
	struct timespec d;
	int fd, r;

	deadline_in(&d, ms);
	fd = vdm_sim_connect(path, ms);
	if (fd < 0)
		return fd;
	r = hello_until(fd, kind, &d);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* After a lost reply every later call would read the wrong answer; after
 * the daemon closed the connection there is nobody left to ask
 * (transport.h). */
static int sim_checked(struct vdm_tp *t, int r)
{
	if (r == -ECOMM)
		t->broken = 1;
	if (r == -EPIPE || r == -ECONNRESET) {
		t->gone = 1;
		r = -ENODEV;
	}
	return r;
}

/* What every call answers, before sending, once the connection ended. */
static int sim_ended(const struct vdm_tp *t)
{
	if (t->gone)
		return -ENODEV;
	return t->broken ? -ECOMM : 0;
}

static int sim_ioctl(struct vdm_tp *t, unsigned long req, void *arg)
{
	int r = sim_ended(t);

	if (r < 0)
		return r;
	return sim_checked(t, vdm_sim_ioctl_on(t->fd, req, arg));
}

int vdm_sim_ioctl_on(int sock, unsigned long req, void *arg)
{
	size_t sz = _IOC_SIZE(req), inlen = 0, outlen = 0, got = 0;
	unsigned int dir = _IOC_DIR(req);
	const void *in = NULL;
	int fd = -1, r;

	if (dir & _IOC_WRITE) {
		in = arg;
		inlen = sz;
	}
	if (dir & _IOC_READ)
		outlen = sz;

	switch (req) {
	case VHOST_SET_OWNER:
	case VHOST_NEW_OWNER:
		/* lets the daemon reach this address space without ptrace
		 * rights on us (Yama ptrace_scope >= 1) */
		fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		fd = ((struct vhost_vring_file *)arg)->fd;
		break;
	case VHOST_VDPA_SET_CONFIG_CALL:
		fd = *(int *)arg;
		break;
	case VHOST_VDPA_SET_CONFIG:
		inlen = sizeof(struct vhost_vdpa_config) +
			((struct vhost_vdpa_config *)arg)->len;
		break;
	case VHOST_VDPA_GET_CONFIG:
		inlen = sizeof(struct vhost_vdpa_config);
		outlen = inlen + ((struct vhost_vdpa_config *)arg)->len;
		in = arg;
		break;
	default:
		break;
	}
	r = vdm_sim_call(sock, VSIM_OP_IOCTL, req, 0, in, inlen, fd,
			 outlen ? arg : NULL, outlen, &got);
	if ((req == VHOST_SET_OWNER || req == VHOST_NEW_OWNER) && fd >= 0)
		close(fd);
	return r;
}

static long sim_write(struct vdm_tp *t, const void *buf, size_t len)
{
	int r = sim_ended(t);

	if (r < 0)
		return r;
	return sim_checked(t, vdm_sim_call(t->fd, VSIM_OP_WRITE, 0, 0, buf, len,
					   -1, NULL, 0, NULL));
}

/* One WRITEV packet of n records; how many were consumed whole (*stop
 * gets what the next one returned), -EOPNOTSUPP from a daemon without
 * WRITEV (nothing written), or -errno before the request went out. */
static long writev_packet(struct vdm_tp *t, const void *buf, size_t len,
			  size_t n, long *stop)
{
	struct vsim_writev_rep rep;
	size_t got = 0;
	int r;

	r = vdm_sim_call(t->fd, VSIM_OP_WRITEV, len, (uint32_t)n, buf, len * n,
			 -1, &rep, sizeof(rep), &got);
	if (r == -EINVAL && got == 0) {
		t->no_writev = 1;
		return -EOPNOTSUPP;
	}
	if (r < 0)
		return sim_checked(t, r);
	/* answered, but not as WRITEV answers: out of step */
	if (got != sizeof(rep) || rep.done > n || r != 0) {
		t->broken = 1;
		return -ECOMM;
	}
	if (rep.done < n)
		*stop = (long)rep.ret;
	return rep.done;
}

/* As many records per packet as VSIM_MAX_PKT holds; a packet that stops
 * early ends the call. */
static long sim_write_many(struct vdm_tp *t, const void *buf, size_t len,
			   size_t n, long *ret_stop)
{
	const uint8_t *p = buf;
	size_t per, done = 0;

	if (!len || len > VSIM_WRITEV_REC_MAX)
		return -EOPNOTSUPP;
	per = (VSIM_MAX_PKT - sizeof(struct vsim_req)) / len;
	while (done < n) {
		size_t k = n - done < per ? n - done : per;
		long stop = 0, r;

		r = sim_ended(t);
		if (!r) {
			r = writev_packet(t, p + done * len, len, k, &stop);
			/* a daemon does not lose WRITEV between packets */
			if (r == -EOPNOTSUPP && done)
				r = -EINVAL;
		}
		if (r == -EOPNOTSUPP)
			return r;
		if (r < 0) {
			/* nothing of this packet was written, or (-ECOMM)
			 * nothing of it is known, or (-ENODEV) the device
			 * is gone with whatever it took of it */
			*ret_stop = r;
			return (long)done;
		}
		done += (size_t)r;
		if ((size_t)r < k) {
			*ret_stop = stop;
			return (long)done;
		}
	}
	return (long)done;
}

/* Pins are the daemon's: ask it on a control connection to the same
 * socket (getpeername() gives the daemon's bound path). */
int vdm_tp_sim_pinned(struct vdm_tp *t, uint64_t *ret)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	uint64_t v = 0;
	int c, r;

	memset(&sa, 0, sizeof(sa));
	if (getpeername(t->fd, (struct sockaddr *)&sa, &sl) < 0)
		return -errno;
	c = vdm_sim_open(sa.sun_path, VSIM_KIND_CONTROL, 0);
	if (c < 0)
		return c;
	r = vdm_sim_call_ctl(c, VSIM_OP_PINNED, &v, sizeof(v), NULL);
	close(c);
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

const struct vdm_tp_ops vdm_tp_sim_ops = {
	.ioctl = sim_ioctl,
	.write = sim_write,
	.write_many = sim_write_many,
	.pinned = vdm_tp_sim_pinned,
};
