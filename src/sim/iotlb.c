// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhost-vdpa's IOTLB: the message decoder of the device fd's write()
 * (vhost_chr_write_iter, vhost_vdpa_process_iotlb_msg), vhost's own table
 * per ASID (vhost_vdpa_map / vhost_vdpa_unmap) with the memlock charge of
 * PA mode, and the parent ops each change turns into (set_map at the end
 * of a batch, or dma_map/dma_unmap per entry).  Behaviour follows
 * drivers/vhost/vdpa.c and vhost.c of Linux 6.12 and UAPI.md.
 *
 * Calls below it: dma.c (pins, /proc maps, parent ops), table.c, log.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sim/sim.h"

static void release_entry(struct vsim_dev *d, struct vsim_map *m)
{
	d->pinned_pages -= m->charged;
	d->st.pinned_bytes = d->pinned_pages * VSIM_PAGE;
	vsim_pin_put(m->pin);
}

/* vhost_vdpa_map(): the entry into vhost's table (over vhost_vdpa's own
 * cap: -ENOSPC), then to the parent; a parent's refusal takes the entry
 * out of vhost's table again.  Inside a batch a set_map parent hears of
 * it only at BATCH_END, whose result vhost_vdpa ignores. */
static int vhost_map(struct vsim_dev *d, uint32_t asid, struct vsim_map *m)
{
	struct vsim_map *e;
	int r = 0;

	if (vsim_caps_enforced(d) && d->tbl[asid].n >= d->o.vhost_cap) {
		vsim_log("vhost_vdpa: asid %u has its cap of %u entries", asid,
			 d->o.vhost_cap);
		vsim_pin_put(m->pin);
		return -ENOSPC;
	}
	if (vsim_pa_mode(d))
		m->charged = (m->last - m->first + 1) / VSIM_PAGE;
	if (!vsim_tbl_insert(&d->tbl[asid], m)) {
		vsim_pin_put(m->pin);
		return -ENOMEM;
	}
	d->pinned_pages += m->charged;
	d->st.pinned_bytes = d->pinned_pages * VSIM_PAGE;
	if (vsim_per_map(d))
		r = vsim_dev_dma_map(d, asid, m);
	else if (!d->in_batch)
		r = vsim_dev_set_map(d, asid);
	if (!r)
		return 0;
	/* vhost_iotlb_del_range(); the device's map stays as the parent
	 * left it (empty after a refused set_map) */
	e = vsim_tbl_overlap(&d->tbl[asid], m->first, m->last);
	if (e) {
		release_entry(d, e);
		vsim_tbl_remove(&d->tbl[asid], e);
	}
	return r;
}

/* Remove every whole entry overlapping [first, last] (last may wrap below
 * first, as the kernel's unmap of iova + size - 1 does). */
static void vhost_unmap(struct vsim_dev *d, uint32_t asid, uint64_t first,
			uint64_t last)
{
	struct vsim_table *t = &d->tbl[asid];
	struct vsim_map *m;

	/* O(log n) per entry removed, whatever the table holds */
	while ((m = vsim_tbl_overlap(t, first, last))) {
		if (vsim_per_map(d))
			vsim_dev_dma_unmap(d, asid, m->first, m->last);
		release_entry(d, m);
		vsim_tbl_remove(t, m);
	}
	if (!vsim_per_map(d) && !d->in_batch)
		vsim_dev_set_map(d, asid);
}

/* /proc/PID/maps costs tens of microseconds a read, more than the rest
 * of an UPDATE: inside a WRITEV packet it is read once. */
static int vmas_get(struct vsim_dev *d, pid_t pid, struct vsim_vma **ret,
		    size_t *ret_n)
{
	int r;

	if (d->vmas.on && d->vmas.valid && d->vmas.pid == pid) {
		*ret = d->vmas.v;
		*ret_n = d->vmas.n;
		return 0;
	}
	r = vsim_vmas_read(pid, ret, ret_n);
	if (r || !d->vmas.on)
		return r;
	free(d->vmas.v);
	d->vmas.v = *ret;
	d->vmas.n = *ret_n;
	d->vmas.pid = pid;
	d->vmas.valid = 1;
	return 0;
}

static void vmas_put(struct vsim_dev *d, struct vsim_vma *v)
{
	if (v != d->vmas.v)
		free(v);
}

void vsim_iotlb_hold_vmas(struct vsim_dev *d, int on)
{
	free(d->vmas.v);
	d->vmas.v = NULL;
	d->vmas.n = 0;
	d->vmas.valid = 0;
	d->vmas.on = on;
}

/* m (at uaddr, in VMA v) records the memory IOTLB_REMAP must find again:
 * a shared file mapping's file and offset; other memory none (the kernel
 * pinned anonymous or private pages no other address space reaches). */
static void map_ident(struct vsim_map *m, const struct vsim_vma *v,
		      uint64_t uaddr)
{
	if (!v->file || !v->shared)
		return;
	m->dev = v->dev;
	m->ino = v->ino;
	m->foff = v->offset + (uaddr - v->start);
}

static int map_va(struct vsim_dev *d, uint32_t asid, pid_t pid, uint64_t iova,
		  uint64_t size, uint64_t uaddr, uint32_t perm)
{
	struct vsim_vma *vmas;
	uint64_t map_iova = iova;
	size_t n;
	int r;

	r = vmas_get(d, pid, &vmas, &n);
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
				.first = map_iova,
				.last = map_iova + msz - 1,
				.uaddr = uaddr,
				.perm = perm,
			};

			map_ident(&m, v, uaddr);
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
	vmas_put(d, vmas);
	return r;
}

uint64_t vsim_memlock_pages(pid_t pid)
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
	lim = vsim_memlock_pages(pid);
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

	r = vmas_get(d, pid, &vmas, &n);
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
			.uaddr = cur,
			.perm = perm,
		};

		map_ident(&m, v, cur);
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
	vmas_put(d, vmas);
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
			     msg->iova + msg->size - 1))
		return -EEXIST;
	if (vsim_pa_mode(d))
		return map_pa(d, asid, pid, msg->iova, msg->size, msg->uaddr,
			      msg->perm);
	return map_va(d, asid, pid, msg->iova, msg->size, msg->uaddr,
		      msg->perm);
}

/* The entries that cover [first, last] exactly, one after the other
 * without a gap: the first of them, or NULL (-ENOENT: none overlaps;
 * -EINVAL: not exactly). */
static struct vsim_map *remap_run(struct vsim_dev *d, uint32_t asid,
				  uint64_t first, uint64_t last, int *err)
{
	struct vsim_map *m = vsim_tbl_overlap(&d->tbl[asid], first, last);
	struct vsim_map *head = m;
	uint64_t next = first;

	*err = m ? -EINVAL : -ENOENT;
	for (; m && m->first <= last; m = vsim_tbl_next(m)) {
		if (m->first != next || m->last > last)
			return NULL;
		if (m->last == last) {
			*err = 0;
			return head;
		}
		next = m->last + 1;
	}
	return NULL;
}

/* Whether the caller's memory at uaddr is what m was made of: one shared
 * mapping of the same file at the same offset (the kernel compares the
 * pinned pages in PA mode, the file and offset in VA mode). */
static int remap_same(const struct vsim_map *m, const struct vsim_vma *vmas,
		      size_t n, uint64_t uaddr)
{
	const struct vsim_vma *v = vsim_vma_find(vmas, n, uaddr);

	return m->ino && v && v->start <= uaddr && v->file && v->shared &&
	       v->ino == m->ino && v->dev == m->dev &&
	       v->offset + (uaddr - v->start) == m->foff &&
	       m->last - m->first < v->end - uaddr;
}

/* VHOST_IOTLB_REMAP of the "vdpa live update" proposal (only with
 * IOTLB_REMAP offered): [iova, iova + size - 1] now lives at uaddr of the
 * caller's address space; perm must be 0.  As tests/kernel/rfc's patch:
 * the range is the exact cover of one or more entries (the kernel splits
 * an UPDATE at discontiguous pages in PA mode, at VMAs in VA mode), and
 * the memory at the new address must be what each entry maps, else
 * -EINVAL with nothing changed.  A batch-style parent gets the table at
 * BATCH_END, or now outside a batch; a per-map parent has the entries
 * re-mapped.  Pins (PA mode) are not touched. */
static int iotlb_remap(struct vsim_dev *d, uint32_t asid, pid_t pid,
		       const struct vhost_iotlb_msg *msg)
{
	uint64_t last = msg->iova + msg->size - 1;
	struct vsim_map *head, *m;
	struct vsim_vma *vmas;
	size_t n;
	int r;

	if (msg->perm || !msg->size || last < msg->iova)
		return -EINVAL;
	head = remap_run(d, asid, msg->iova, last, &r);
	if (!head)
		return r;
	r = vmas_get(d, pid, &vmas, &n);
	if (r)
		return r;
	for (m = head; m && m->first <= last; m = vsim_tbl_next(m))
		if (!remap_same(m, vmas, n,
				msg->uaddr + (m->first - msg->iova)))
			r = -EINVAL;
	vmas_put(d, vmas);
	if (r)
		return r;
	for (m = head; m && m->first <= last; m = vsim_tbl_next(m)) {
		m->uaddr = msg->uaddr + (m->first - msg->iova);
		if (vsim_per_map(d)) {
			vsim_dev_dma_unmap(d, asid, m->first, m->last);
			vsim_dev_dma_map(d, asid, m);
		}
	}
	if (!vsim_per_map(d) && !d->in_batch)
		vsim_dev_set_map(d, asid);
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
		return -EINVAL; /* no iotlb for asid */
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
			return iotlb_remap(d, asid, pid, msg);
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

	if (d->fail_exit && --d->fail_exit == 0) {
		d->crash = 1; /* the server exits before it answers */
		return -EIO;
	}
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
	return type == VHOST_IOTLB_MSG ? (int)sizeof(struct vhost_msg) :
					 (int)sizeof(struct vhost_msg_v2);
}

int vsim_table_dump(struct vsim_dev *d, uint32_t asid,
		    struct vdpamap_sim_entry *out, size_t max)
{
	const struct vsim_table *t;
	const struct vsim_map *m;
	size_t i;

	if (asid >= d->o.nr_as)
		return -EINVAL;
	t = &d->tbl[asid];
	for (i = 0, m = vsim_tbl_first(t); m && i < max;
	     i++, m = vsim_tbl_next(m))
		out[i] = (struct vdpamap_sim_entry){
			.iova = m->first,
			.size = m->last - m->first + 1,
			.uaddr = m->uaddr,
			.perm = m->perm,
		};
	return t->n > INT_MAX ? INT_MAX : (int)t->n;
}

/* Close: every table emptied, every pin released, every ASID unallocated,
 * the device back to passthrough. */
void vsim_iotlb_drop_all(struct vsim_dev *d)
{
	uint32_t a;

	for (a = 0; a < d->o.nr_as; a++) {
		struct vsim_table *t = &d->tbl[a];
		struct vsim_map *m;

		for (m = vsim_tbl_first(t); m; m = vsim_tbl_next(m))
			release_entry(d, m);
		vsim_tbl_clear(t);
		d->as_alloc[a] = 0;
	}
	vsim_dev_reset_maps(d);
	d->pinned_pages = 0;
	d->st.pinned_bytes = 0;
}
