/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport: the one seam between the library and the outside.  A
 * transport carries ioctls and IOTLB writes to a vhost-vdpa device: either
 * a kernel char device (plain ioctl()/write()) or the simulator daemon
 * (src/simproto.h packets over a unix socket).  Every function returns
 * >= 0 or -errno; this is the only place -1/errno becomes -errno.
 * -ECOMM means the request went out but its answer was lost: the device
 * state is unknown and the transport refuses every later call.
 *
 * Depends on: simproto.h (for the simulator flavour) and libc.
 */
#ifndef VDPAMAP_TRANSPORT_H
#define VDPAMAP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct vm_tp;

struct vm_tp_ops {
	int (*ioctl)(struct vm_tp *t, unsigned long req, void *arg);
	/* one write(); returns bytes consumed or -errno */
	long (*write)(struct vm_tp *t, const void *buf, size_t len);
	/* bytes of RLIMIT_MEMLOCK the owner has pinned (PA mode) */
	int (*pinned)(struct vm_tp *t, uint64_t *ret);
};

struct vm_tp {
	const struct vm_tp_ops *ops;
	int fd;
	int is_sim;
	int broken;		/* a reply was lost: every call -ECOMM */
};

/* Open path: a char device or a simulator socket (decided by file type). */
int vm_tp_open(const char *path, struct vm_tp *t);
/* Adopt an fd the caller opened; the type is decided by fstat(). */
int vm_tp_adopt(int fd, struct vm_tp *t);
void vm_tp_close(struct vm_tp *t);
/* An fd that is already an open device (inherited across an exec
 * handoff): no HELLO for a simulator connection. */
int vm_tp_inherit(int fd, struct vm_tp *t);

static inline int vm_tp_ioctl(struct vm_tp *t, unsigned long req, void *arg)
{
	return t->ops->ioctl(t, req, arg);
}

static inline long vm_tp_write(struct vm_tp *t, const void *buf, size_t len)
{
	return t->ops->write(t, buf, len);
}

/* A connected (not yet HELLO'd) socket to the simulator at path. */
int vm_sim_connect(const char *path);
/* One request/reply on a simulator connection; rbuf/rlen get the reply
 * payload (truncated to rlen), *ret_len its full size.  fd >= 0 is passed
 * with SCM_RIGHTS. */
int vm_sim_call(int sock, uint32_t op, uint64_t arg, uint32_t arg2,
		const void *payload, size_t plen, int fd, void *rbuf,
		size_t rlen, size_t *ret_len);

/* The simulator flavour (transport_sim.c). */
extern const struct vm_tp_ops vm_tp_sim_ops;
/* Declare a fresh connection to be a device open: -EBUSY if the daemon's
 * device is already open elsewhere. */
int vm_tp_sim_hello(int fd);
/* One ioctl encoded as the simulator transport does, on socket sock (the
 * device connection, or an mm keeper that relays it). */
int vm_sim_ioctl_on(int sock, unsigned long req, void *arg);
int vm_tp_sim_pinned(struct vm_tp *t, uint64_t *ret);

/* token.c: this image's address-space token (what the simulator compares
 * as the kernel compares mm), new after exec and in a fork()ed child. */
uint64_t vm_image_token(void);
/* Bumped in every fork()ed child: a handle made before the fork sees a
 * different value.  A plain load, cheap enough for the lookups. */
unsigned int vm_fork_gen(void);

/* ---- the mm keeper link (keeper.c): the socket to a CLONE_VM helper
 * that keeps the old address space (and device ownership) across an exec
 * handoff.  handoff sets it up and owns it; as the successor's transport
 * (tp) it sends the owner-only requests through the keeper.  Everything
 * the transport has to say goes through the callbacks: log for a line to
 * log, lost when the keeper is found dead (the device has no owner: the
 * caller poisons its handle). */
struct vm_kp_range;

struct vm_kp_link {
	struct vm_tp tp;		/* ops = vm_tp_keeper_ops, fd = device */
	int sock;			/* -1: no keeper */
	int pidfd;			/* -1: unknown */
	int32_t pid;
	int dead;
	int stale;			/* a write went through the keeper:
					   its re-attach state is old */
	int trim_pending;		/* trim_fd: the keeper's trim result */
	int trim_fd;
	struct {			/* the keeper's last trim result */
		uint64_t bytes, ns;	/* (struct vm_kp_trim's fields) */
		uint32_t vmas_before, vmas_kept, trims;
		int32_t err;
	} trim;
	void (*log)(void *ctx, int level, const char *msg);
	void (*lost)(void *ctx, const char *why);
	void *ctx;
};

/* No keeper, fds -1, no callbacks. */
void vm_kp_link_init(struct vm_kp_link *kl);
/* Forward one keeper request; on keeper death lost() is called and
 * -EOWNERDEAD returned.  fd (-1: none) travels with SCM_RIGHTS. */
int vm_kp_call(struct vm_kp_link *kl, uint32_t op, uint64_t arg,
	       uint64_t arg2, void *payload, uint32_t len, int fd,
	       int64_t *ret_val);
/* 1 if there is no keeper or it is known to be dead (checks its pidfd;
 * a death found now calls lost()). */
int vm_kp_check(struct vm_kp_link *kl);
/* Successor: ask the keeper to unmap n ranges of the old address space
 * (it replies, then trims); vm_kp_trim_result() picks the result up if it
 * has come (never waits), stores it in trim and logs it at INFO. */
void vm_kp_trim(struct vm_kp_link *kl, struct vm_kp_range *rr, uint32_t n);
void vm_kp_trim_result(struct vm_kp_link *kl);

extern const struct vm_tp_ops vm_tp_keeper_ops;

#endif
