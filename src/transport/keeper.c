// SPDX-License-Identifier: BSD-3-Clause
/*
 * The mm keeper transport: a successor of an exec handoff no longer owns
 * the device (its address space is new), so the requests the kernel checks
 * against the owner's mm (IOTLB writes, vring ioctls, SET_GROUP_ASID,
 * everything vhost_dev_ioctl() handles) go to the keeper, which performs
 * them on its copy of the device fd from inside the old address space.
 * The rest (status, config, features, suspend/resume, the GETs that
 * vhost-vdpa answers itself) go straight to the device.
 *
 * On the simulator the keeper relays whole simproto packets with its own
 * address-space token; on the kernel it gets struct vdm_kp_msg requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/keeper_proto.h"
#include "transport/simproto.h"
#include "transport/transport.h"
#include "vdpamap.h"
#include "uapi/vhost_vdpa.h"

static struct vdm_kp_link *tp_link(struct vdm_tp *t)
{
	return (struct vdm_kp_link *)((char *)t -
				      offsetof(struct vdm_kp_link, tp));
}

static void kl_log(const struct vdm_kp_link *kl, int level, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));
static void kl_log(const struct vdm_kp_link *kl, int level, const char *fmt,
		   ...)
{
	char buf[256];
	va_list ap;

	if (!kl->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kl->log(kl->ctx, level, buf);
}

static void kl_lost(const struct vdm_kp_link *kl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void kl_lost(const struct vdm_kp_link *kl, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!kl->lost)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kl->lost(kl->ctx, buf);
}

void vdm_kp_link_init(struct vdm_kp_link *kl)
{
	memset(kl, 0, sizeof(*kl));
	kl->tp.fd = -1;
	kl->sock = kl->pidfd = kl->trim_fd = -1;
}

/* What vhost-vdpa answers without the owner check (vhost_vdpa_unlocked_
 * ioctl's own cases); everything else reaches vhost_dev_ioctl(). */
static bool owner_free(unsigned long req)
{
	switch (req) {
	case VHOST_SET_BACKEND_FEATURES:
	case VHOST_GET_BACKEND_FEATURES:
	case VHOST_VDPA_GET_DEVICE_ID:
	case VHOST_VDPA_GET_STATUS:
	case VHOST_VDPA_SET_STATUS:
	case VHOST_VDPA_GET_CONFIG:
	case VHOST_VDPA_SET_CONFIG:
	case VHOST_GET_FEATURES:
	case VHOST_SET_FEATURES:
	case VHOST_VDPA_GET_VRING_NUM:
	case VHOST_VDPA_GET_GROUP_NUM:
	case VHOST_VDPA_GET_AS_NUM:
	case VHOST_VDPA_SET_CONFIG_CALL:
	case VHOST_VDPA_GET_IOVA_RANGE:
	case VHOST_VDPA_GET_CONFIG_SIZE:
	case VHOST_VDPA_GET_VQS_COUNT:
	case VHOST_VDPA_SUSPEND:
	case VHOST_VDPA_RESUME:
		return true;
	default:
		return false;
	}
}

int vdm_kp_check(struct vdm_kp_link *kl)
{
	struct pollfd p;

	if (kl->sock < 0 || kl->dead)
		return 1;
	if (kl->pidfd >= 0) {
		p = (struct pollfd){ .fd = kl->pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
			kl->dead = 1;
	}
	if (kl->dead)
		kl_lost(kl,
			"mm keeper (pid %d) died: the device has no owner "
			"any more; vdpamap_handoff_rebuild() reopens it",
			kl->pid);
	return kl->dead;
}

/* How long a broken socket waits for the keeper's pidfd to say it exited:
 * KEEPER_EXIT_POLLS looks, KEEPER_EXIT_POLL_US apart (100 ms in all). */
#define KEEPER_EXIT_POLLS   100
#define KEEPER_EXIT_POLL_US 1000

static int keeper_broke(struct vdm_kp_link *kl, int err)
{
	int i;

	/* a broken socket: the keeper is gone or going; its pidfd says
	 * so a moment later */
	for (i = 0; i < KEEPER_EXIT_POLLS && !vdm_kp_check(kl); i++)
		usleep(KEEPER_EXIT_POLL_US);
	if (!kl->dead) {
		kl->dead = 1;
		kl_lost(kl, "mm keeper (pid %d) stopped answering (%d)",
			kl->pid, err);
	}
	return -EOWNERDEAD;
}

int vdm_kp_call(struct vdm_kp_link *kl, uint32_t op, uint64_t arg,
		uint64_t arg2, void *payload, uint32_t len, int fd,
		int64_t *ret_val)
{
	struct vdm_kp_msg m = {
		.magic = VDM_KP_MAGIC,
		.op = op,
		.arg = arg,
		.arg2 = arg2,
		.len = len,
	};
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov[2] = {
		{ .iov_base = &m, .iov_len = sizeof(m) },
		{ .iov_base = payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (kl->sock < 0)
		return -ENOTCONN;
	if (vdm_kp_check(kl))
		return -EOWNERDEAD;
	vdm_kp_trim_result(kl);
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		cm.c.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(kl->sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return keeper_broke(kl, -errno);
	mh = (struct msghdr){ .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	do {
		n = recvmsg(kl->sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return keeper_broke(kl, n < 0 ? -errno : -ECONNRESET);
	if ((size_t)n < sizeof(m) || m.magic != VDM_KP_MAGIC)
		return -EPROTO;
	if (ret_val)
		*ret_val = m.val;
	return m.ret;
}

/* After the adopt: the ranges (in the old address space) go to the
 * keeper, with one end of a socket pair for the result; the keeper
 * replies, then trims (the device runs meanwhile). */
void vdm_kp_trim(struct vdm_kp_link *kl, struct vdm_kp_range *rr, uint32_t n)
{
	int64_t pid = 0;
	int sp[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       0, sp) < 0) {
		kl_log(kl, VDPAMAP_LOG_INFO,
		       "mm keeper: no trim (socketpair: "
		       "%d)",
		       -errno);
		return;
	}
	r = vdm_kp_call(kl, VDM_KP_TRIM, 0, 0, rr, n * (uint32_t)sizeof(rr[0]),
			sp[1], &pid);
	close(sp[1]);
	if (r >= 0 && pid != kl->pid) {
		/* the successor's only check that the socket it inherited is
		 * the keeper's (no PING): another server owns nothing */
		close(sp[0]);
		kl->dead = 1;
		kl_lost(kl,
			"mm keeper: the socket is served by pid %lld, not by "
			"keeper %d: the device has no owner here",
			(long long)pid, kl->pid);
		return;
	}
	if (r < 0) {
		/* -EINVAL: a keeper that cannot trim (an older library's);
		 * -EBUSY: the sender still shares its address space */
		kl_log(kl, VDPAMAP_LOG_INFO,
		       "mm keeper (pid %d): the old "
		       "address space is not trimmed (%d)",
		       kl->pid, r);
		close(sp[0]);
		return;
	}
	kl->trim_fd = sp[0];
	kl->trim_pending = 1;
}

/* The result, if the keeper has sent it (never waits). */
void vdm_kp_trim_result(struct vdm_kp_link *kl)
{
	struct vdm_kp_trim t;
	ssize_t n;

	if (!kl->trim_pending)
		return;
	n = recv(kl->trim_fd, &t, sizeof(t), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* still trimming */
	close(kl->trim_fd);
	kl->trim_fd = -1;
	kl->trim_pending = 0;
	if (n != (ssize_t)sizeof(t)) {
		kl_log(kl, VDPAMAP_LOG_INFO,
		       "mm keeper (pid %d): no trim "
		       "result (%zd)",
		       kl->pid, n < 0 ? -errno : n);
		return;
	}
	kl->trim.bytes = t.bytes;
	kl->trim.ns = t.ns;
	kl->trim.vmas_before = t.vmas_before;
	kl->trim.vmas_kept = t.vmas_kept;
	kl->trim.trims = t.trims;
	kl->trim.err = t.err;
	if (t.err)
		kl_log(kl, VDPAMAP_LOG_WARN,
		       "mm keeper (pid %d): trim "
		       "stopped: %d",
		       kl->pid, t.err);
	kl_log(kl, VDPAMAP_LOG_INFO,
	       "mm keeper (pid %d): old address space "
	       "trimmed: %llu KiB unmapped, %u -> %u mappings, %llu us",
	       kl->pid, (unsigned long long)(t.bytes >> 10), t.vmas_before,
	       t.vmas_kept, (unsigned long long)(t.ns / 1000));
}

static int kp_ioctl(struct vdm_tp *t, unsigned long req, void *arg)
{
	struct vdm_kp_link *kl = tp_link(t);
	uint8_t buf[256];
	size_t sz = _IOC_SIZE(req);
	uint64_t fdoff = UINT64_MAX;
	int fd = -1, r;

	if (owner_free(req)) {
		if (t->is_sim)
			return vdm_sim_ioctl_on(t->fd, req, arg);
		r = ioctl(t->fd, req, arg);
		return r < 0 ? -errno : r;
	}
	if (req == VHOST_SET_OWNER)
		return -EBUSY; /* the keeper owns it */
	if (t->is_sim) {
		if (vdm_kp_check(kl))
			return -EOWNERDEAD;
		r = vdm_sim_ioctl_on(kl->sock, req, arg);
		if (r == -ECONNRESET || r == -EPIPE)
			return keeper_broke(kl, r);
		return r;
	}
	if (sz > sizeof(buf))
		return -E2BIG;
	if (sz && arg)
		memcpy(buf, arg, sz);
	switch (req) {
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		/* these requests always carry a struct vhost_vring_file
		 * (vdm_ioctl callers):
		 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		fd = ((struct vhost_vring_file *)arg)->fd;
		if (fd >= 0)
			fdoff = offsetof(struct vhost_vring_file, fd);
		break;
	default:
		break;
	}
	r = vdm_kp_call(kl, VDM_KP_IOCTL, req, fdoff, buf, (uint32_t)sz,
			fd >= 0 ? fd : -1, NULL);
	if (r >= 0 && (_IOC_DIR(req) & _IOC_READ) && sz && arg) {
		/* the fd field must keep the caller's number */
		if (fdoff != UINT64_MAX)
			memcpy(buf + fdoff, &fd, sizeof(int));
		memcpy(arg, buf, sz);
	}
	return r;
}

static long kp_write(struct vdm_tp *t, const void *buf, size_t len)
{
	struct vdm_kp_link *kl = tp_link(t);
	uint8_t b[256];
	long r;

	if (len > sizeof(b))
		return -E2BIG;
	if (t->is_sim) {
		if (vdm_kp_check(kl))
			return -EOWNERDEAD;
		r = vdm_sim_call(kl->sock, VSIM_OP_WRITE, 0, 0, buf, len, -1,
				 NULL, 0, NULL);
		if (r == -ECONNRESET || r == -EPIPE)
			return keeper_broke(kl, (int)r);
	} else {
		memcpy(b, buf, len);
		r = vdm_kp_call(kl, VDM_KP_WRITE, 0, 0, b, (uint32_t)len, -1,
				NULL);
	}
	if (r >= 0)
		kl->stale = 1;
	return r;
}

/* Pins are charged to the keeper's mm (the owner). */
static int kp_pinned(struct vdm_tp *t, uint64_t *ret)
{
	struct vdm_kp_link *kl = tp_link(t);
	char path[64], line[256];
	FILE *f;
	int r = -ENOENT;

	if (t->is_sim)
		return vdm_tp_sim_pinned(t, ret);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)kl->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "VmPin: %llu kB", &kb) == 1) {
			*ret = (uint64_t)kb * 1024;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

const struct vdm_tp_ops vdm_tp_keeper_ops = {
	.ioctl = kp_ioctl,
	.write = kp_write,
	.pinned = kp_pinned,
};
