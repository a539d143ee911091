// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-vdpa's ioctls: every request of the device fd with the kernel's
 * errnos (vhost_vdpa_unlocked_ioctl, then vhost_dev_ioctl and
 * vhost_vring_ioctl), the owner check, and the fail_nth hook for ioctls.
 * Behaviour follows drivers/vhost/vdpa.c and vhost.c of Linux 6.12 and the
 * measurements in UAPI.md; a profile (profile.c) removes the ioctls an
 * older kernel lacks and adds 7.x's frozen group ASIDs.
 *
 * Calls below it: device.c (reset), iotlb.c (the memlock limit),
 * net.c (vq readiness, groups, resume), log.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sim/sim.h"

struct ioc {
	struct vsim_dev *d;
	uint64_t token;
	pid_t pid;
	uint32_t cmd;
	const uint8_t *in;
	size_t inlen;
	int *fds;
	int nfds;
	uint8_t *out;
	size_t outcap;
	size_t outlen;
};

/* copy_from_user: the transport sends the _IOC_WRITE bytes; fewer is as if
 * the pointer were bad */
static int get_in(const struct ioc *c, void *dst, size_t n)
{
	if (c->inlen < n)
		return -EFAULT;
	memcpy(dst, c->in, n);
	return 0;
}

static int put_out(struct ioc *c, const void *src, size_t n)
{
	if (n > c->outcap)
		return -EFAULT;
	memcpy(c->out, src, n);
	c->outlen = n;
	return 0;
}

/* eventfd_fget(): EBADF for no file, EINVAL for another kind of file.  The
 * fd travels with SCM_RIGHTS; the payload's fd number only says -1 or not. */
static int take_eventfd(struct ioc *c, int fdnum, int *ret)
{
	char path[64], link[64];
	ssize_t n;
	int fd;

	if (fdnum == VHOST_FILE_UNBIND) {
		*ret = -1;
		return 0;
	}
	if (c->nfds < 1 || c->fds[0] < 0)
		return -EBADF;
	fd = c->fds[0];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -EBADF;
	link[n] = 0;
	if (strcmp(link, "anon_inode:[eventfd]"))
		return -EINVAL;
	c->fds[0] = -1;
	*ret = fd;
	return 0;
}

static int set_backend_features(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	uint64_t f;
	const uint64_t known =
		VSIM_BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
		VSIM_BIT(VHOST_BACKEND_F_IOTLB_BATCH) |
		VSIM_BIT(VHOST_BACKEND_F_IOTLB_ASID) |
		VSIM_BIT(VHOST_BACKEND_F_DESC_ASID) |
		VSIM_BIT(VHOST_BACKEND_F_IOTLB_PERSIST) |
		VSIM_BIT(VHOST_BACKEND_F_SUSPEND) |
		VSIM_BIT(VHOST_BACKEND_F_RESUME) |
		VSIM_BIT(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK) |
		VSIM_BIT(VHOST_BACKEND_F_NEW_OWNER) |
		VSIM_BIT(VHOST_BACKEND_F_IOTLB_REMAP);

	if (get_in(c, &f, sizeof(f)))
		return -EFAULT;
	if (f & ~known)
		return -EOPNOTSUPP;
	if ((f & VSIM_BIT(VHOST_BACKEND_F_SUSPEND)) &&
	    !vsim_offered(d, VHOST_BACKEND_F_SUSPEND))
		return -EOPNOTSUPP;
	if ((f & VSIM_BIT(VHOST_BACKEND_F_RESUME)) &&
	    !vsim_offered(d, VHOST_BACKEND_F_RESUME))
		return -EOPNOTSUPP;
	if (!(f & VSIM_BIT(VHOST_BACKEND_F_IOTLB_ASID)) &&
	    (f & VSIM_BIT(VHOST_BACKEND_F_DESC_ASID)))
		return -EINVAL;
	/* DESC_ASID, PERSIST and (for a configured older kernel) anything
	 * else not offered */
	if (f & ~d->o.backend_offer)
		return -EOPNOTSUPP;
	d->backend_acked = f;
	return 0;
}

static int set_status(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	uint8_t s;

	if (get_in(c, &s, 1))
		return -EFAULT;
	if (s != 0 && (d->status & ~s))
		return -EINVAL;
	if (s == 0) {
		vsim_dev_reset(d);
		return 0;
	}
	d->status = s;
	return 0;
}

static int config_hdr(struct ioc *c, struct vhost_vdpa_config *h)
{
	if (get_in(c, h, sizeof(*h)))
		return -EFAULT;
	/* vhost_vdpa_config_validate(); every failure is EINVAL */
	if (h->len == 0 || h->off > VSIM_CONFIG_SIZE ||
	    h->len > VSIM_CONFIG_SIZE - h->off)
		return -EINVAL;
	return 0;
}

static int get_config(struct ioc *c)
{
	struct vhost_vdpa_config h;
	uint8_t buf[sizeof(h) + VSIM_CONFIG_SIZE];
	int r = config_hdr(c, &h);

	if (r)
		return r;
	/* vdpa_sim_net refreshes the link status on every read */
	c->d->config[6] = 1;
	c->d->config[7] = 0;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), c->d->config + h.off, h.len);
	return put_out(c, buf, sizeof(h) + h.len);
}

static int set_config(struct ioc *c)
{
	struct vhost_vdpa_config h;
	int r = config_hdr(c, &h);

	if (r)
		return r;
	if (c->inlen < sizeof(h) + h.len)
		return -EFAULT;
	memcpy(c->d->config + h.off, c->in + sizeof(h), h.len);
	return 0;
}

static int set_features(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	uint64_t f;

	if (d->status & VSIM_S_FEATURES_OK)
		return -EBUSY;
	if (get_in(c, &f, sizeof(f)))
		return -EFAULT;
	/* vdpa_sim: DMA mapping must be done by the driver */
	if (!(f & VSIM_BIT(VSIM_F_ACCESS_PLATFORM)))
		return -EINVAL;
	d->features = f & VSIM_NET_FEATURES;
	return 0;
}

/* The sender's address space as an fd (SET_OWNER, NEW_OWNER). */
static int owner_mem_fd(struct ioc *c, int *ret)
{
	char path[64];
	int fd;

	/* The sender may pass its own /proc/self/mem (works under Yama
	 * ptrace_scope=1); else the daemon opens /proc/<pid>/mem.  Either
	 * way the fd keeps the sender's address space (mm) for good. */
	if (c->nfds > 0 && c->fds[0] >= 0) {
		char link[64];
		ssize_t n;
		int p;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fds[0]);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return -EBADF;
		link[n] = 0;
		if (sscanf(link, "/proc/%d/mem", &p) != 1 ||
		    strcmp(strrchr(link, '/'), "/mem"))
			return -EBADF; /* not an address space */
		fd = c->fds[0];
		c->fds[0] = -1;
	} else {
		if (c->pid <= 0)
			return -EPERM;
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)c->pid);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			vsim_log("set_owner: open %s: %s", path, strerror(e));
			return -e;
		}
	}
	*ret = fd;
	return 0;
}

static int set_owner(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	int fd, r;

	if (d->has_owner)
		return -EBUSY;
	r = owner_mem_fd(c, &fd);
	if (r)
		return r;
	d->has_owner = 1;
	d->owner_token = c->token;
	d->owner_pid = c->pid;
	/* owner_mem_fd() sets fd when it returns 0 (the analyser lets a
	 * failed open() leave errno 0):
	 * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
	d->mem_fd = fd;
	return 0;
}

/* VHOST_NEW_OWNER of the "vdpa live update" proposal (only with NEW_OWNER
 * offered): the caller's address space becomes the owner, and the pinned
 * pages are charged to it.  EINVAL: nobody owns the device; EBUSY: the
 * caller already does; ENOMEM: PA mode and the pins exceed the caller's
 * RLIMIT_MEMLOCK.  The entries keep their uaddrs, which mean nothing in
 * the new address space until IOTLB_REMAP replaces them (VA mode reaches
 * memory through the owner's address space: the device must stay
 * suspended until then). */
static int new_owner(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	int fd, r;

	if (!d->has_owner)
		return -EINVAL;
	if (vsim_is_owner(d, c->token))
		return -EBUSY;
	if (vsim_pa_mode(d) && d->pinned_pages > vsim_memlock_pages(c->pid)) {
		vsim_log("new_owner: %llu pinned pages > limit of pid %d",
			 (unsigned long long)d->pinned_pages, (int)c->pid);
		return -ENOMEM;
	}
	r = owner_mem_fd(c, &fd);
	if (r)
		return r;
	vsim_close_fd(&d->mem_fd);
	/* owner_mem_fd() sets fd when it returns 0 (the analyser lets a
	 * failed open() leave errno 0):
	 * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
	d->mem_fd = fd;
	d->owner_token = c->token;
	d->owner_pid = c->pid;
	return 0;
}

static int suspend(struct ioc *c)
{
	struct vsim_dev *d = c->d;

	if (!(d->status & VSIM_S_DRIVER_OK))
		return 0;
	if (!vsim_offered(d, VHOST_BACKEND_F_SUSPEND))
		return -EOPNOTSUPP;
	d->running = 0;
	d->suspended = 1;
	return 0;
}

static int resume(struct ioc *c)
{
	struct vsim_dev *d = c->d;

	if (!(d->status & VSIM_S_DRIVER_OK))
		return 0;
	if (!vsim_offered(d, VHOST_BACKEND_F_RESUME))
		return -EOPNOTSUPP;
	d->suspended = 0;
	vsim_net_resume(d);
	return 0;
}

static int set_fd(struct ioc *c, int *slot)
{
	struct vhost_vring_file f;
	int fd, r;

	if (get_in(c, &f, sizeof(f)))
		return -EFAULT;
	r = take_eventfd(c, f.fd, &fd);
	if (r)
		return r;
	vsim_close_fd(slot);
	*slot = fd;
	return 0;
}

/* VHOST_VDPA_SET_GROUP_ASID: index = group (here: the vq index already
 * checked against nvqs), num = asid.  Order as vhost_vdpa: the range
 * checks (EINVAL), 7.x's DRIVER_OK check (EBUSY), the parent's op
 * (EOPNOTSUPP). */
static int set_group_asid(struct ioc *c, uint32_t g)
{
	struct vsim_dev *d = c->d;
	struct vhost_vring_state s;

	if (get_in(c, &s, sizeof(s)))
		return -EFAULT;
	if (s.num >= d->o.nr_as)
		return -EINVAL;
	if ((d->o.kflags & VSIM_K_GROUP_RANGE) && g >= d->o.nr_groups)
		return -EINVAL;
	if ((d->o.kflags & VSIM_K_ASID_FROZEN) &&
	    (d->status & VSIM_S_DRIVER_OK))
		return -EBUSY;
	if (d->o.kflags & VSIM_P_NO_GROUP_ASID)
		return -EOPNOTSUPP;
	/* vdpa_sim checks "group > ngroups" (sic): without vhost_vdpa's own
	 * check, group == ngroups succeeds and changes nothing */
	if (g > d->o.nr_groups)
		return -EINVAL;
	if (g < d->o.nr_groups)
		d->group_asid[g] = s.num;
	return 0;
}

/* vhost_vdpa_vring_ioctl()'s own requests on vq idx */
static int vdpa_vring_ioctl(struct ioc *c, uint32_t idx)
{
	struct vsim_dev *d = c->d;
	struct vhost_vring_state s;

	switch (c->cmd) {
	case VHOST_VDPA_SET_VRING_ENABLE:
		if (get_in(c, &s, sizeof(s)))
			return -EFAULT;
		vsim_net_set_ready(d, idx, s.num != 0);
		return 0;
	case VHOST_VDPA_GET_VRING_GROUP:
		if (d->o.kflags & VSIM_P_NO_GROUP_ASID)
			return -EOPNOTSUPP; /* no get_vq_group either */
		s.index = idx;
		s.num = vsim_vq_group(d, idx);
		return put_out(c, &s, sizeof(s));
	case VHOST_VDPA_GET_VRING_DESC_GROUP:
		if (!vsim_offered(d, VHOST_BACKEND_F_DESC_ASID))
			return -EOPNOTSUPP;
		s.index = idx;
		s.num = vsim_vq_desc_group(d, idx);
		return put_out(c, &s, sizeof(s));
	case VHOST_VDPA_SET_GROUP_ASID:
		return set_group_asid(c, idx);
	case VHOST_VDPA_GET_VRING_SIZE:
		/* vdpa_sim with batch_mapping=1 has no get_vq_size */
		if (!d->o.vring_size)
			return -EOPNOTSUPP;
		s.index = idx;
		s.num = d->o.vring_size;
		/* the size set: vp_vdpa (the queue_size register) and
		 * VDUSE once set, vdpa_sim only once DRIVER_OK (even 0) */
		if (d->o.kflags & VSIM_P_VQSIZE_SET) {
			if (d->vq[idx].num)
				s.num = d->vq[idx].num;
		} else if (d->status & VSIM_S_DRIVER_OK) {
			s.num = d->vq[idx].num;
		}
		return put_out(c, &s, sizeof(s));
	}
	return -ENOTTY; /* not reached: vring_ioctl() sorts them */
}

/* vhost_vring_ioctl() on vq idx */
static int vhost_vring_ioctl(struct ioc *c, uint32_t idx)
{
	struct vsim_dev *d = c->d;
	struct vsim_vq *vq = &d->vq[idx];
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	int r;

	switch (c->cmd) {
	case VHOST_SET_VRING_NUM:
		if (get_in(c, &s, sizeof(s)))
			return -EFAULT;
		if (!s.num || s.num > 0xffff || (s.num & (s.num - 1)))
			return -EINVAL;
		vq->num = s.num;
		return 0;
	case VHOST_SET_VRING_ADDR:
		if (get_in(c, &a, sizeof(a)))
			return -EFAULT;
		if (a.flags & ~(1U << VHOST_VRING_F_LOG))
			return -EOPNOTSUPP;
		if ((a.avail_user_addr & 1) || (a.used_user_addr & 3) ||
		    (a.log_guest_addr & 3))
			return -EINVAL;
		/* 6.12: a running device takes new rings only suspended */
		if ((d->status & VSIM_S_DRIVER_OK) && !d->suspended)
			return -EINVAL;
		vq->desc = a.desc_user_addr;
		vq->avail = a.avail_user_addr;
		vq->used = a.used_user_addr;
		return 0;
	case VHOST_SET_VRING_BASE:
		if (get_in(c, &s, sizeof(s)))
			return -EFAULT;
		if (s.num > 0xffff)
			return -EINVAL;
		if ((d->status & VSIM_S_DRIVER_OK) && !d->suspended)
			return -EINVAL;
		/* vp_vdpa: set_vq_state takes only the state a fresh ring
		 * has anyway (0, FEATURES_OK, the queue not enabled) */
		if ((d->o.kflags & VSIM_P_NO_VRING_BASE) &&
		    (s.num || !(d->status & VSIM_S_FEATURES_OK) || vq->ready))
			return -EOPNOTSUPP;
		vq->last_avail = (uint16_t)s.num;
		return 0;
	case VHOST_GET_VRING_BASE:
		/* vp_vdpa: get_vq_state refused */
		if (d->o.kflags & VSIM_P_NO_VRING_BASE)
			return -EOPNOTSUPP;
		s.index = idx;
		s.num = vq->last_avail;
		return put_out(c, &s, sizeof(s));
	case VHOST_SET_VRING_KICK:
		return set_fd(c, &vq->kick_fd);
	case VHOST_SET_VRING_CALL:
		r = set_fd(c, &vq->call_fd);
		if (!r)
			vq->has_cb = vq->call_fd >= 0;
		return r;
	case VHOST_SET_VRING_ERR:
		return set_fd(c, &vq->err_fd);
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		return get_in(c, &s, sizeof(s));
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s.index = idx;
		s.num = 0;
		return put_out(c, &s, sizeof(s));
	default:
		return -ENOTTY; /* -ENOIOCTLCMD seen by userspace */
	}
}

/* vhost_vdpa_vring_ioctl(): the vq index, then its own requests or those
 * of vhost_vring_ioctl() */
static int vring_ioctl(struct ioc *c)
{
	uint32_t idx;

	if (get_in(c, &idx, sizeof(idx)))
		return -EFAULT;
	if (idx >= c->d->o.nr_vqs)
		return -ENOBUFS;
	switch (c->cmd) {
	case VHOST_VDPA_SET_VRING_ENABLE:
	case VHOST_VDPA_GET_VRING_GROUP:
	case VHOST_VDPA_GET_VRING_DESC_GROUP:
	case VHOST_VDPA_SET_GROUP_ASID:
	case VHOST_VDPA_GET_VRING_SIZE:
		return vdpa_vring_ioctl(c, idx);
	default:
		return vhost_vring_ioctl(c, idx);
	}
}

/* vhost_dev_ioctl(): SET_OWNER, then the owner check for everything else */
static int dev_ioctl(struct ioc *c)
{
	struct vhost_memory mem;

	if (c->cmd == VHOST_SET_OWNER)
		return set_owner(c);
	if (!vsim_is_owner(c->d, c->token))
		return -EPERM;
	switch (c->cmd) {
	case VHOST_SET_MEM_TABLE:
		if (get_in(c, &mem, sizeof(mem)))
			return -EFAULT;
		return mem.nregions > 64 ? -E2BIG : 0;
	default:
		return vring_ioctl(c);
	}
}

/* The profile's kernel lacks cmd: which VSIM_NOIOC_* bit says so (0: it
 * has it, or it is not one that came later). */
static uint32_t ioctl_since(uint32_t cmd)
{
	switch (cmd) {
	case VHOST_VDPA_SUSPEND:
		return VSIM_NOIOC_SUSPEND;
	case VHOST_VDPA_RESUME:
		return VSIM_NOIOC_RESUME;
	case VHOST_VDPA_GET_AS_NUM:
	case VHOST_VDPA_GET_GROUP_NUM:
	case VHOST_VDPA_GET_VRING_GROUP:
	case VHOST_VDPA_SET_GROUP_ASID:
		return VSIM_NOIOC_GROUPS;
	case VHOST_VDPA_GET_VRING_DESC_GROUP:
		return VSIM_NOIOC_DESC_GROUP;
	case VHOST_VDPA_GET_VRING_SIZE:
		return VSIM_NOIOC_VRING_SIZE;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		return VSIM_NOIOC_CONFIG_SIZE;
	case VHOST_VDPA_GET_VQS_COUNT:
		return VSIM_NOIOC_VQS_COUNT;
	}
	return 0;
}

/* A request the kernel does not know: vhost_dev_ioctl()'s owner check,
 * then vhost_vdpa_vring_ioctl() reads a vq index from the argument
 * (EFAULT for _IO's NULL; for a read-only request it reads the caller's
 * output buffer, taken here as 0), ENOBUFS past nvqs, else ENOTTY. */
static int unknown_ioctl(struct ioc *c)
{
	uint32_t idx = 0;

	if (!vsim_is_owner(c->d, c->token))
		return -EPERM;
	if (c->inlen >= sizeof(idx))
		memcpy(&idx, c->in, sizeof(idx));
	else if (_IOC_DIR(c->cmd) != _IOC_READ)
		return -EFAULT;
	if (idx >= c->d->o.nr_vqs)
		return -ENOBUFS;
	return -ENOTTY;
}

static int do_ioctl(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	struct vhost_vdpa_iova_range range;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;
	int fd, r;

	if (!vsim_has_ioctl(d, ioctl_since(c->cmd)))
		return unknown_ioctl(c);
	switch (c->cmd) {
	case VHOST_SET_BACKEND_FEATURES:
		return set_backend_features(c);
	case VHOST_VDPA_GET_DEVICE_ID:
		u32 = 1;
		return put_out(c, &u32, sizeof(u32));
	case VHOST_VDPA_GET_STATUS:
		u8 = d->status;
		return put_out(c, &u8, 1);
	case VHOST_VDPA_SET_STATUS:
		return set_status(c);
	case VHOST_VDPA_GET_CONFIG:
		return get_config(c);
	case VHOST_VDPA_SET_CONFIG:
		return set_config(c);
	case VHOST_GET_FEATURES:
		u64 = VSIM_NET_FEATURES;
		return put_out(c, &u64, sizeof(u64));
	case VHOST_SET_FEATURES:
		return set_features(c);
	case VHOST_VDPA_GET_VRING_NUM:
		u16 = VSIM_QUEUE_MAX;
		return put_out(c, &u16, sizeof(u16));
	case VHOST_VDPA_GET_GROUP_NUM:
		return put_out(c, &d->o.nr_groups, sizeof(uint32_t));
	case VHOST_VDPA_GET_AS_NUM:
		return put_out(c, &d->o.nr_as, sizeof(uint32_t));
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
		return -ENOTTY;
	case VHOST_VDPA_SET_CONFIG_CALL: {
		int num;

		if (get_in(c, &num, sizeof(num)))
			return -EFAULT;
		r = take_eventfd(c, num, &fd);
		if (r)
			return r;
		vsim_close_fd(&d->config_fd);
		d->config_fd = fd;
		return 0;
	}
	case VHOST_GET_BACKEND_FEATURES:
		return put_out(c, &d->o.backend_offer, sizeof(uint64_t));
	case VHOST_VDPA_GET_IOVA_RANGE:
		range.first = d->o.iova_first;
		range.last = d->o.iova_last;
		return put_out(c, &range, sizeof(range));
	case VHOST_VDPA_GET_CONFIG_SIZE:
		u32 = VSIM_CONFIG_SIZE;
		return put_out(c, &u32, sizeof(u32));
	case VHOST_VDPA_GET_VQS_COUNT:
		return put_out(c, &d->o.nr_vqs, sizeof(uint32_t));
	case VHOST_VDPA_SUSPEND:
		return suspend(c);
	case VHOST_VDPA_RESUME:
		return resume(c);
	case VHOST_NEW_OWNER:
		/* without the offer, an unknown ioctl as before */
		if (vsim_offered(d, VHOST_BACKEND_F_NEW_OWNER))
			return new_owner(c);
		return dev_ioctl(c);
	default:
		return dev_ioctl(c);
	}
}

int vsim_ioctl(struct vsim_dev *d, uint64_t token, pid_t pid, uint32_t cmd,
	       const void *in, size_t inlen, int *fds, int nfds, void *out,
	       size_t *outlen)
{
	struct ioc c = {
		.d = d,
		.token = token,
		.pid = pid,
		.cmd = cmd,
		.in = in,
		.inlen = inlen,
		.fds = fds,
		.nfds = nfds,
		.out = out,
		.outcap = *outlen,
	};
	int r;

	if (d->fail_exit && --d->fail_exit == 0) {
		d->crash = 1; /* the server exits before it answers */
		*outlen = 0;
		return -EIO;
	}
	if (d->fail_ioctl && --d->fail_ioctl == 0) {
		vsim_log("fail_nth: ioctl 0x%x fails", cmd);
		*outlen = 0;
		return -EIO;
	}
	r = do_ioctl(&c);
	if (r) {
		vsim_log("ioctl 0x%x: %s", cmd, strerror(-r));
		c.outlen = 0;
	}
	*outlen = c.outlen;
	return r;
}
