// SPDX-License-Identifier: BSD-3-Clause
/*
 * The vhost-vdpa layer of the simulator: device open/close, the owner
 * check, every ioctl with the kernel's errnos, the IOTLB write decoder and
 * vhost's own per-ASID tables.  Behaviour follows drivers/vhost/vdpa.c and
 * vhost.c of Linux 6.12 and the measurements in UAPI.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sim/sim.h"

static const uint8_t default_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int vsim_dev_init(struct vsim_dev *d, const struct vsim_opts *o)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->o = *o;
	d->mem_fd = -1;
	d->config_fd = -1;
	d->tbl = calloc(o->nr_as, sizeof(*d->tbl));
	d->dmap = calloc(o->nr_as, sizeof(*d->dmap));
	d->as_alloc = calloc(o->nr_as, 1);
	d->pt = calloc(o->nr_as, 1);
	d->group_asid = calloc(o->nr_groups, sizeof(*d->group_asid));
	d->vq = calloc(o->nr_vqs, sizeof(*d->vq));
	if (!d->tbl || !d->dmap || !d->as_alloc || !d->pt || !d->group_asid ||
	    !d->vq) {
		vsim_dev_fini(d);
		return -ENOMEM;
	}
	for (i = 0; i < o->nr_vqs; i++) {
		d->vq[i].kick_fd = d->vq[i].call_fd = d->vq[i].err_fd = -1;
		vsim_net_reset_vq(&d->vq[i]);
	}
	for (i = 0; i < o->nr_as; i++)
		d->pt[i] = 1;
	memcpy(d->config, default_mac, 6);
	d->config[10] = 1500 & 0xff;	/* mtu, little endian */
	d->config[11] = 1500 >> 8;
	d->running = 1;
	return 0;
}

/* ---- vhost's table operations (vhost_vdpa_map / vhost_vdpa_unmap) */

static void release_entry(struct vsim_dev *d, struct vsim_map *m)
{
	d->pinned_pages -= m->charged;
	d->st.pinned_bytes = d->pinned_pages * VSIM_PAGE;
	vsim_pin_put(m->pin);
}

static int vhost_map(struct vsim_dev *d, uint32_t asid, struct vsim_map *m)
{
	int r;

	if (vsim_pa_mode(d))
		m->charged = (m->last - m->first + 1) / VSIM_PAGE;
	r = vsim_tbl_insert(&d->tbl[asid], m);
	if (r) {
		vsim_pin_put(m->pin);
		return r;
	}
	d->pinned_pages += m->charged;
	d->st.pinned_bytes = d->pinned_pages * VSIM_PAGE;
	if (vsim_per_map(d))
		vsim_dev_dma_map(d, asid, m);
	else if (!d->in_batch)
		vsim_dev_set_map(d, asid);
	return 0;
}

/* Remove every whole entry overlapping [first, last] (last may wrap below
 * first, as the kernel's unmap of iova + size - 1 does). */
static void vhost_unmap(struct vsim_dev *d, uint32_t asid, uint64_t first,
			uint64_t last)
{
	struct vsim_table *t = &d->tbl[asid];
	ssize_t i;

	while ((i = vsim_tbl_overlap(t, first, last)) >= 0) {
		struct vsim_map m = t->v[i];

		vsim_tbl_remove_at(t, (size_t)i);
		if (vsim_per_map(d))
			vsim_dev_dma_unmap(d, asid, m.first, m.last);
		release_entry(d, &m);
	}
	if (!vsim_per_map(d) && !d->in_batch)
		vsim_dev_set_map(d, asid);
}

static int map_va(struct vsim_dev *d, uint32_t asid, pid_t pid, uint64_t iova,
		  uint64_t size, uint64_t uaddr, uint32_t perm)
{
	struct vsim_vma *vmas;
	uint64_t map_iova = iova;
	size_t n;
	int r;

	r = vsim_vmas_read(pid, &vmas, &n);
	if (r)
		return r;
	while (size) {
		const struct vsim_vma *v = vsim_vma_find(vmas, n, uaddr);
		uint64_t msz;

		if (!v) {
			r = -EINVAL;
			break;
		}
		msz = v->end - uaddr < size ? v->end - uaddr : size;
		/* only MAP_SHARED file-backed memory is mapped; the rest is
		 * skipped silently (like find_vma, a gap below v counts as v) */
		if (v->file && v->shared) {
			struct vsim_map m = {
				.first = map_iova, .last = map_iova + msz - 1,
				.uaddr = uaddr, .perm = perm,
			};

			r = vhost_map(d, asid, &m);
			if (r)
				break;
		}
		size -= msz;
		uaddr += msz;
		map_iova += msz;
	}
	if (r)
		vhost_unmap(d, asid, iova, map_iova - 1);
	free(vmas);
	return r;
}

static uint64_t memlock_pages(pid_t pid)
{
	struct rlimit rl;

	if (prlimit(pid, RLIMIT_MEMLOCK, NULL, &rl) < 0 &&
	    getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return UINT64_MAX;
	if (rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return rl.rlim_cur / VSIM_PAGE;
}

static int map_pa(struct vsim_dev *d, uint32_t asid, pid_t pid, uint64_t iova,
		  uint64_t size, uint64_t uaddr, uint32_t perm)
{
	uint64_t start = iova, npages, base, end, cur, lim;
	struct vsim_vma *vmas;
	size_t n;
	int r;

	/* as the kernel: the page count comes from the iova's offset */
	npages = (size + (iova & (VSIM_PAGE - 1)) + VSIM_PAGE - 1) / VSIM_PAGE;
	if (!npages)
		return -EINVAL;
	lim = memlock_pages(pid);
	if (npages + d->pinned_pages > lim || npages > lim) {
		vsim_log("memlock: %llu + %llu pages > limit %llu of pid %d",
			 (unsigned long long)d->pinned_pages,
			 (unsigned long long)npages, (unsigned long long)lim,
			 (int)pid);
		return -ENOMEM;
	}
	base = uaddr & ~(VSIM_PAGE - 1);
	iova &= ~(VSIM_PAGE - 1);
	if (npages > (UINT64_MAX - base) / VSIM_PAGE)
		return -EFAULT;
	end = base + npages * VSIM_PAGE;

	r = vsim_vmas_read(pid, &vmas, &n);
	if (r)
		return r;
	/* pin_user_pages() fails on a hole or a read-only VMA with WO */
	for (cur = base; cur < end;) {
		const struct vsim_vma *v = vsim_vma_find(vmas, n, cur);

		if (!v || v->start > cur ||
		    ((perm & VHOST_ACCESS_WO) && !v->writable)) {
			r = -EFAULT;
			goto out;
		}
		cur = v->end;
	}
	for (cur = base; cur < end;) {
		const struct vsim_vma *v = vsim_vma_find(vmas, n, cur);
		uint64_t stop = v->end < end ? v->end : end;
		struct vsim_map m = {
			.first = iova + (cur - base),
			.last = iova + (stop - base) - 1,
			.uaddr = cur, .perm = perm,
		};

		if (v->file && v->shared)
			m.pin = vsim_pin_file(pid, v, cur, stop - cur,
					      !!(perm & VHOST_ACCESS_WO));
		/* else: anonymous or private memory is reached through the
		 * owner's address space (a documented deviation) */
		r = vhost_map(d, asid, &m);
		if (r)
			break;
		cur = stop;
	}
	if (r)
		vhost_unmap(d, asid, start, start + size - 1);
out:
	free(vmas);
	return r;
}

static int iotlb_update(struct vsim_dev *d, uint32_t asid, pid_t pid,
			const struct vhost_iotlb_msg *msg)
{
	if (msg->iova < d->o.iova_first || !msg->size ||
	    msg->iova > UINT64_MAX - msg->size + 1 ||
	    msg->iova + msg->size - 1 > d->o.iova_last)
		return -EINVAL;
	if (vsim_tbl_overlap(&d->tbl[asid], msg->iova,
			     msg->iova + msg->size - 1) >= 0)
		return -EEXIST;
	if (vsim_pa_mode(d))
		return map_pa(d, asid, pid, msg->iova, msg->size, msg->uaddr,
			      msg->perm);
	return map_va(d, asid, pid, msg->iova, msg->size, msg->uaddr,
		      msg->perm);
}

/* VHOST_IOTLB_REMAP of the "vdpa live update" proposal (only with
 * IOTLB_REMAP offered): a new uaddr for the entry that is exactly
 * [iova, iova + size - 1]; perm must be 0.  A batch-style parent gets the
 * table at BATCH_END, or now outside a batch; a per-map parent has that
 * one entry re-mapped.  Pins (PA mode) are not touched. */
static int iotlb_remap(struct vsim_dev *d, uint32_t asid,
		       const struct vhost_iotlb_msg *msg)
{
	struct vsim_table *t = &d->tbl[asid];
	uint64_t last = msg->iova + msg->size - 1;
	ssize_t i;

	if (msg->perm || !msg->size || last < msg->iova)
		return -EINVAL;
	i = vsim_tbl_overlap(t, msg->iova, last);
	if (i < 0)
		return -ENOENT;
	if (t->v[i].first != msg->iova || t->v[i].last != last)
		return -EINVAL;
	t->v[i].uaddr = msg->uaddr;
	if (vsim_per_map(d)) {
		vsim_dev_dma_unmap(d, asid, t->v[i].first, t->v[i].last);
		vsim_dev_dma_map(d, asid, &t->v[i]);
	} else if (!d->in_batch) {
		vsim_dev_set_map(d, asid);
	}
	return 0;
}

static int iotlb_msg(struct vsim_dev *d, uint64_t token, pid_t pid,
		     uint32_t asid, const struct vhost_iotlb_msg *msg)
{
	if (!vsim_is_owner(d, token))
		return -EPERM;
	if (msg->type == VHOST_IOTLB_UPDATE ||
	    msg->type == VHOST_IOTLB_BATCH_BEGIN) {
		if (asid >= d->o.nr_as)
			return -EINVAL;
		d->as_alloc[asid] = 1;
	} else if (asid >= d->o.nr_as || !d->as_alloc[asid]) {
		return -EINVAL;		/* no iotlb for asid */
	}
	if (d->in_batch && d->batch_asid != asid)
		return -EINVAL;

	switch (msg->type) {
	case VHOST_IOTLB_UPDATE:
		return iotlb_update(d, asid, pid, msg);
	case VHOST_IOTLB_INVALIDATE:
		vhost_unmap(d, asid, msg->iova, msg->iova + msg->size - 1);
		return 0;
	case VHOST_IOTLB_BATCH_BEGIN:
		d->batch_asid = asid;
		d->in_batch = 1;
		return 0;
	case VHOST_IOTLB_BATCH_END:
		if (d->in_batch && !vsim_per_map(d))
			vsim_dev_set_map(d, asid);
		d->in_batch = 0;
		return 0;
	case VHOST_IOTLB_REMAP:
		/* without the offer, an unknown type as before */
		if (vsim_offered(d, VHOST_BACKEND_F_IOTLB_REMAP))
			return iotlb_remap(d, asid, msg);
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

/* vhost_chr_write_iter(): one message per write, handler errors -> EFAULT */
int vsim_iotlb_write(struct vsim_dev *d, uint64_t token, pid_t pid,
		     const void *buf, size_t n)
{
	const uint8_t *p = buf;
	struct vhost_iotlb_msg msg;
	uint32_t type, asid = 0;
	size_t off;
	int r;

	d->st.iotlb_writes++;
	if (d->fail_msg && --d->fail_msg == 0) {
		vsim_log("fail_nth: IOTLB write fails");
		return -EFAULT;
	}
	if (n < sizeof(type))
		return -EINVAL;
	memcpy(&type, p, sizeof(type));
	switch (type) {
	case VHOST_IOTLB_MSG:
		off = offsetof(struct vhost_msg, iotlb);
		break;
	case VHOST_IOTLB_MSG_V2:
		if (vsim_acked(d, VHOST_BACKEND_F_IOTLB_ASID)) {
			if (n < 8)
				return -EINVAL;
			memcpy(&asid, p + 4, sizeof(asid));
		}
		off = offsetof(struct vhost_msg_v2, iotlb);
		break;
	default:
		return -EINVAL;
	}
	if (n < off || n - off < sizeof(msg))
		return -EINVAL;
	memcpy(&msg, p + off, sizeof(msg));
	if (msg.type == VHOST_IOTLB_UPDATE && msg.size == 0)
		return -EINVAL;
	r = iotlb_msg(d, token, pid, asid, &msg);
	if (r) {
		vsim_log("iotlb: type %u asid %u iova 0x%llx size 0x%llx: %s",
			 msg.type, asid, (unsigned long long)msg.iova,
			 (unsigned long long)msg.size, strerror(-r));
		return -EFAULT;
	}
	return type == VHOST_IOTLB_MSG ? (int)sizeof(struct vhost_msg)
				       : (int)sizeof(struct vhost_msg_v2);
}

int vsim_table_dump(struct vsim_dev *d, uint32_t asid,
		    struct vdpamap_sim_entry *out, size_t max)
{
	const struct vsim_table *t;
	size_t i;

	if (asid >= d->o.nr_as)
		return -EINVAL;
	t = &d->tbl[asid];
	for (i = 0; i < t->n && i < max; i++)
		out[i] = (struct vdpamap_sim_entry){
			.iova = t->v[i].first,
			.size = t->v[i].last - t->v[i].first + 1,
			.uaddr = t->v[i].uaddr,
			.perm = t->v[i].perm,
		};
	return t->n > INT_MAX ? INT_MAX : (int)t->n;
}

/* ---- device reset, open, close */

/* vdpa_sim reset + vhost-vdpa's compat reset flags */
static void dev_reset(struct vsim_dev *d)
{
	uint32_t i;

	for (i = 0; i < d->o.nr_vqs; i++)
		vsim_net_reset_vq(&d->vq[i]);
	for (i = 0; i < d->o.nr_groups; i++)
		d->group_asid[i] = 0;
	if (!vsim_acked(d, VHOST_BACKEND_F_IOTLB_PERSIST))
		vsim_dev_reset_maps(d);
	d->running = 1;
	d->pending_kick = 0;
	d->features = 0;
	d->status = 0;
	d->suspended = 0;
}

static void drop_all(struct vsim_dev *d)
{
	uint32_t a;

	for (a = 0; a < d->o.nr_as; a++) {
		struct vsim_table *t = &d->tbl[a];
		size_t i;

		for (i = 0; i < t->n; i++)
			release_entry(d, &t->v[i]);
		t->n = 0;
		d->as_alloc[a] = 0;
	}
	vsim_dev_reset_maps(d);
	d->pinned_pages = 0;
	d->st.pinned_bytes = 0;
}

void vsim_dev_open(struct vsim_dev *d)
{
	d->open = 1;
	d->backend_acked = 0;
	d->in_batch = 0;
	dev_reset(d);
	vsim_dev_reset_maps(d);
}

void vsim_dev_close(struct vsim_dev *d)
{
	uint32_t i;

	d->in_batch = 0;
	dev_reset(d);
	drop_all(d);
	for (i = 0; i < d->o.nr_vqs; i++) {
		close_fd(&d->vq[i].kick_fd);
		close_fd(&d->vq[i].call_fd);
		close_fd(&d->vq[i].err_fd);
		d->vq[i].num = 0;
		d->vq[i].desc = d->vq[i].avail = d->vq[i].used = 0;
	}
	close_fd(&d->config_fd);
	close_fd(&d->mem_fd);
	d->has_owner = 0;
	d->owner_token = 0;
	d->owner_pid = 0;
	d->backend_acked = 0;
	d->open = 0;
}

void vsim_dev_fini(struct vsim_dev *d)
{
	uint32_t a;

	if (d->tbl && d->dmap && d->as_alloc && d->pt && d->vq) {
		vsim_dev_close(d);
		for (a = 0; a < d->o.nr_as; a++) {
			vsim_tbl_clear(&d->tbl[a]);
			vsim_tbl_clear(&d->dmap[a]);
		}
	}
	free(d->tbl);
	free(d->dmap);
	free(d->as_alloc);
	free(d->pt);
	free(d->group_asid);
	free(d->vq);
	memset(d, 0, sizeof(*d));
}

/* ---- ioctls */

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
		dev_reset(d);
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
			return -EBADF;	/* not an address space */
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
	if (vsim_pa_mode(d) && d->pinned_pages > memlock_pages(c->pid)) {
		vsim_log("new_owner: %llu pinned pages > limit of pid %d",
			 (unsigned long long)d->pinned_pages, (int)c->pid);
		return -ENOMEM;
	}
	r = owner_mem_fd(c, &fd);
	if (r)
		return r;
	close_fd(&d->mem_fd);
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
	close_fd(slot);
	*slot = fd;
	return 0;
}

/* vhost_vdpa_vring_ioctl() followed by vhost_vring_ioctl() */
static int vring_ioctl(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vsim_vq *vq;
	uint32_t idx;
	int r;

	if (get_in(c, &idx, sizeof(idx)))
		return -EFAULT;
	if (idx >= d->o.nr_vqs)
		return -ENOBUFS;
	vq = &d->vq[idx];

	switch (c->cmd) {
	case VHOST_VDPA_SET_VRING_ENABLE:
		if (get_in(c, &s, sizeof(s)))
			return -EFAULT;
		vsim_net_set_ready(d, idx, s.num != 0);
		return 0;
	case VHOST_VDPA_GET_VRING_GROUP:
		s.index = idx;
		s.num = vsim_vq_group(d, idx);
		return put_out(c, &s, sizeof(s));
	case VHOST_VDPA_GET_VRING_DESC_GROUP:
		if (!vsim_offered(d, VHOST_BACKEND_F_DESC_ASID))
			return -EOPNOTSUPP;
		s.index = idx;
		s.num = vsim_vq_desc_group(d, idx);
		return put_out(c, &s, sizeof(s));
	case VHOST_VDPA_SET_GROUP_ASID: {
		uint32_t g;

		if (get_in(c, &s, sizeof(s)))
			return -EFAULT;
		if (s.num >= d->o.nr_as)
			return -EINVAL;
		/* vdpa_sim checks "group > ngroups" (sic): group == ngroups
		 * succeeds and changes nothing */
		g = idx;
		if (g > d->o.nr_groups)
			return -EINVAL;
		if (g < d->o.nr_groups)
			d->group_asid[g] = s.num;
		return 0;
	}
	case VHOST_VDPA_GET_VRING_SIZE:
		return -EOPNOTSUPP;	/* vdpa_sim has no get_vq_size */
	}

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
		vq->last_avail = (uint16_t)s.num;
		return 0;
	case VHOST_GET_VRING_BASE:
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
		return -ENOTTY;		/* -ENOIOCTLCMD seen by userspace */
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

static int do_ioctl(struct ioc *c)
{
	struct vsim_dev *d = c->d;
	struct vhost_vdpa_iova_range range;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;
	int fd, r;

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
		close_fd(&d->config_fd);
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
		.d = d, .token = token, .pid = pid, .cmd = cmd, .in = in,
		.inlen = inlen, .fds = fds, .nfds = nfds, .out = out,
		.outcap = *outlen,
	};
	int r;

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
