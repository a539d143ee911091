/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport: the one seam between the library and the device.  A
 * transport carries ioctls and IOTLB writes to a vhost-vdpa device: a
 * kernel char device (plain ioctl()/write(): kernel.c), the simulator
 * daemon (simproto.h packets over a unix socket: sim.c, sock.c) or the mm
 * keeper relaying for a successor (keeper_proto.h: keeper.c); token.c is
 * the address-space token the simulator compares.  Every function returns
 * >= 0 or -errno: a device request's -1/errno becomes -errno here, and
 * errno is put back (the library's other libc calls convert where they
 * are made).
 *
 * Two ends of a simulator connection are for good (a kernel char device's
 * own errnos, its ENODEV or EIO for a removed device too, pass through as
 * the kernel gives them):
 *  - -ENODEV: the daemon closed the connection (it exited or was killed:
 *    EPIPE or ECONNRESET on send, EOF or ECONNRESET on receive).  The
 *    device went with it, its table too: nothing is unknown, there is
 *    nothing left to ask.  vdm_tp.gone is set, and every later call
 *    returns -ENODEV at once, sending nothing.
 *  - -ECOMM: the request went out and its answer was lost while the
 *    daemon may be alive (a reply not framed as simproto.h says, no memory
 *    to read it): the device state is unknown and the connection out of
 *    step, so the transport refuses every later call with -ECOMM.
 *
 * May include: transport/simproto.h, transport/keeper_proto.h,
 * uapi/vhost_vdpa.h, the public header (for its types), libc.  Nothing
 * above transport.
 */
#ifndef VDPAMAP_TRANSPORT_H
#define VDPAMAP_TRANSPORT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct vdm_tp;

struct vdm_tp_ops {
	int (*ioctl)(struct vdm_tp *t, unsigned long req, void *arg);
	/* one write(); returns bytes consumed or -errno */
	long (*write)(struct vdm_tp *t, const void *buf, size_t len);
	/* n writes of len bytes each (buf holds n * len), in order, in as
	 * few round trips as the device allows, with the outcome of n
	 * write() calls that stop at the first one not consumed whole:
	 * returns how many were, and when fewer than n, *ret_stop gets what
	 * that one returned (bytes or -errno; -ECOMM: its reply was lost,
	 * and nothing of that round trip is known; -ENODEV: the device went
	 * away, with whatever it took of it).  -EOPNOTSUPP: the device
	 * takes one write per request, nothing was sent.  NULL: likewise
	 * (a char device takes one message per write()). */
	long (*write_many)(struct vdm_tp *t, const void *buf, size_t len,
			   size_t n, long *ret_stop);
	/* bytes of RLIMIT_MEMLOCK the owner has pinned (PA mode) */
	int (*pinned)(struct vdm_tp *t, uint64_t *ret);
};

struct vdm_tp {
	const struct vdm_tp_ops *ops;
	int fd;
	int is_sim;
	int broken;    /* a reply was lost: every call -ECOMM */
	int gone;      /* the simulator daemon closed the connection:
			  every call -ENODEV, nothing sent */
	int no_writev; /* a simulator daemon without VSIM_OP_WRITEV */
};

/* How long connecting to a simulator socket and its HELLO may take when
 * the caller does not say (vdpamap_open_opts.connect_timeout_ms 0, the
 * control calls, the pins and limits queries).  The daemon answers HELLO
 * from its poll loop at once: milliseconds on an idle machine.  5 s leaves
 * room for a loaded one (a CI runner, sanitizers, valgrind slow the client
 * 10-50x, not the daemon) and for a daemon busy with a long request of
 * another connection, and is still short enough that a socket nobody
 * serves (a stale path, a server of another protocol that waits for
 * something else) fails visibly instead of hanging its caller.  The same
 * as the control client's reply timeout (sim/control.c). */
#define VDM_SIM_TIMEOUT_MS 5000u

/* Open path: a char device or a simulator socket (decided by file type);
 * a socket is connected and HELLO'd within timeout_ms (0:
 * VDM_SIM_TIMEOUT_MS), else -ETIMEDOUT. */
int vdm_tp_open(const char *path, unsigned int timeout_ms, struct vdm_tp *t);
/* Adopt an fd the caller opened; the type is decided by fstat().  A
 * socket's HELLO is answered within timeout_ms (0: VDM_SIM_TIMEOUT_MS), or
 * -ETIMEDOUT (the connection is then out of step: the caller's to close). */
int vdm_tp_adopt(int fd, unsigned int timeout_ms, struct vdm_tp *t);
/* Close the device; a simulator's returns once the daemon has released it
 * (release.c), as a kernel's close() does. */
void vdm_tp_close(struct vdm_tp *t);
/* An fd that is already an open device (inherited across an exec
 * handoff): no HELLO for a simulator connection. */
int vdm_tp_inherit(int fd, struct vdm_tp *t);

/* The device edge: every request to the device goes through these.  The
 * ops turn -1/errno into -errno; errno itself is put back as it was, so
 * that a request the device refuses leaves the application's errno alone
 * (vdpamap.h: "errno is never touched"). */
static inline int vdm_tp_ioctl(struct vdm_tp *t, unsigned long req, void *arg)
{
	int saved = errno, r = t->ops->ioctl(t, req, arg);

	errno = saved;
	return r;
}

static inline long vdm_tp_write(struct vdm_tp *t, const void *buf, size_t len)
{
	int saved = errno;
	long r = t->ops->write(t, buf, len);

	errno = saved;
	return r;
}

/* Whether write_many may pay (it may still find out it cannot). */
static inline int vdm_tp_pipelines(const struct vdm_tp *t)
{
	return t->ops->write_many && !t->no_writev;
}

static inline long vdm_tp_write_many(struct vdm_tp *t, const void *buf,
				     size_t len, size_t n, long *ret_stop)
{
	int saved = errno;
	long r = -EOPNOTSUPP;

	if (vdm_tp_pipelines(t))
		r = t->ops->write_many(t, buf, len, n, ret_stop);
	errno = saved;
	return r;
}

static inline int vdm_tp_pinned(struct vdm_tp *t, uint64_t *ret)
{
	int saved = errno, r = t->ops->pinned(t, ret);

	errno = saved;
	return r;
}

struct sockaddr_un;
/* sock.c: *sa for path (the family set, sun_path copied, NUL-terminated):
 * 0, or -ENAMETOOLONG when path does not fit.  The daemon binds and the
 * clients connect with it. */
int vdm_sun_path(struct sockaddr_un *sa, const char *path);
/* sock.c: a connected (not yet HELLO'd) socket to the simulator at path;
 * -ETIMEDOUT when the daemon's backlog stays full for timeout_ms (0:
 * VDM_SIM_TIMEOUT_MS), a listener that never accepts. */
int vdm_sim_connect(const char *path, unsigned int timeout_ms);
/* One request/reply on a simulator connection; rbuf/rlen get the reply
 * payload (truncated to rlen), *ret_len its full size.  fd >= 0 is passed
 * with SCM_RIGHTS.  The send's -errno as it is (-EPIPE, -ECONNRESET: the
 * peer is gone, nothing was sent); once sent, -ECONNRESET when the peer
 * closed instead of answering, -ECOMM when the answer is lost otherwise. */
int vdm_sim_call(int sock, uint32_t op, uint64_t arg, uint32_t arg2,
		 const void *payload, size_t plen, int fd, void *rbuf,
		 size_t rlen, size_t *ret_len);
/* HELLO as kind (VSIM_KIND_*) on a fresh connection: 0, the daemon's
 * refusal (-EBUSY: the device is open elsewhere), or -ETIMEDOUT when no
 * answer came within timeout_ms (0: VDM_SIM_TIMEOUT_MS). */
int vdm_sim_hello(int sock, uint32_t kind, unsigned int timeout_ms);
/* vdm_sim_connect() and vdm_sim_hello() within one timeout_ms (0:
 * VDM_SIM_TIMEOUT_MS) in all: the connection, or -errno (closed). */
int vdm_sim_open(const char *path, uint32_t kind, unsigned int timeout_ms);
/* vdm_sim_call() whose answer must come within VDM_SIM_TIMEOUT_MS
 * (-ETIMEDOUT), for a control connection's one-off queries. */
int vdm_sim_call_ctl(int sock, uint32_t op, void *rbuf, size_t rlen,
		     size_t *ret_len);

/* The simulator flavour (sim.c). */
extern const struct vdm_tp_ops vdm_tp_sim_ops;
/* One ioctl encoded as the simulator transport does, on socket sock (the
 * device connection, or an mm keeper that relays it). */
int vdm_sim_ioctl_on(int sock, unsigned long req, void *arg);
int vdm_tp_sim_pinned(struct vdm_tp *t, uint64_t *ret);
/* release.c: close t's connection, then wait (2 s at most) until its
 * daemon has released the device, if that was the last holder */
void vdm_tp_sim_close(struct vdm_tp *t);
/* limits.c: what the simulator's device plays and its IOTLB entry caps
 * (vdpamap_sim_get_limits() on the device's own daemon); -ENOTTY for a
 * kernel device. */
struct vdpamap_sim_limits;
int vdm_tp_sim_limits(struct vdm_tp *t, struct vdpamap_sim_limits *ret);

/* token.c: this image's address-space token (what the simulator compares
 * as the kernel compares mm), new after exec and in a fork()ed child. */
uint64_t vdm_image_token(void);
/* Bumped in every fork()ed child: a handle made before the fork sees a
 * different value.  A plain load, cheap enough for the lookups. */
unsigned int vdm_fork_gen(void);
/* This address space's fork epoch: new in a child made by any clone()
 * without CLONE_VM, atfork handlers or not (a load; 0 when the kernel
 * has no MADV_WIPEONFORK, and then only getpid() tells). */
uint64_t vdm_fork_epoch(void);

/* ---- the mm keeper link (keeper.c): the socket to a CLONE_VM helper
 * that keeps the old address space (and device ownership) across an exec
 * handoff.  handoff sets it up and owns it; as the successor's transport
 * (tp) it sends the owner-only requests through the keeper.  Everything
 * the transport has to say goes through the callbacks: log for a line to
 * log, lost when the keeper is found dead (the device has no owner: the
 * caller poisons its handle). */
struct vdm_kp_range;

struct vdm_kp_link {
	struct vdm_tp tp; /* ops = vdm_tp_keeper_ops, fd = device */
	int sock;	  /* -1: no keeper */
	int pidfd;	  /* -1: unknown */
	int32_t pid;
	int dead;
	int stale;	  /* a write went through the keeper:
					   its re-attach state is old */
	int trim_pending; /* trim_fd: the keeper's trim result */
	int trim_fd;
	struct {		    /* the keeper's last trim result */
		uint64_t bytes, ns; /* (struct vdm_kp_trim's fields) */
		uint32_t vmas_before, vmas_kept, trims;
		int32_t err;
	} trim;
	void (*log)(void *ctx, int level, const char *msg);
	void (*lost)(void *ctx, const char *why);
	void *ctx;
};

/* No keeper, fds -1, no callbacks. */
void vdm_kp_link_init(struct vdm_kp_link *kl);
/* Forward one keeper request; on keeper death lost() is called and
 * -EOWNERDEAD returned.  fd (-1: none) travels with SCM_RIGHTS. */
int vdm_kp_call(struct vdm_kp_link *kl, uint32_t op, uint64_t arg,
		uint64_t arg2, void *payload, uint32_t len, int fd,
		int64_t *ret_val);
/* 1 if there is no keeper or it is known to be dead (checks its pidfd;
 * a death found now calls lost()). */
int vdm_kp_check(struct vdm_kp_link *kl);
/* Successor: ask the keeper to unmap n ranges of the old address space
 * (it replies, then trims); vdm_kp_trim_result() picks the result up if it
 * has come (never waits), stores it in trim and logs it at INFO. */
void vdm_kp_trim(struct vdm_kp_link *kl, struct vdm_kp_range *rr, uint32_t n);
void vdm_kp_trim_result(struct vdm_kp_link *kl);

extern const struct vdm_tp_ops vdm_tp_keeper_ops;

#endif
