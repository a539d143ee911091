// SPDX-License-Identifier: BSD-3-Clause
/*
 * describe: a live handle as a handoff description (handoff.h gives the
 * layout, state.c seals and parses it), the sealed memfd that carries it
 * across the exec, and what a description says about reopening the device
 * (open options, vring records).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff/handoff.h"

struct ser_counts {
	uint32_t nreg, nent, nvr;
};

static void ser_header(struct vdpamap *h, const struct vdm_ho_ser *so,
		       const struct ser_counts *c, const struct stat *st,
		       size_t len, struct vdm_ho_hdr *hd)
{
	*hd = (struct vdm_ho_hdr){
		.magic = VDM_HO_MAGIC,
		.version = VDM_HO_VERSION,
		.total = len,
		.strategy = so->strategy,
		.flags = h->flags,
		.dev_dev = st->st_dev,
		.dev_ino = st->st_ino,
		.dev_rdev = st->st_rdev,
		.dev_fd = so->dev_fd,
		.keeper_sock = so->keeper_sock,
		/* a keeper socket is h->ho's (handle.c, prepare.c), so h->ho
		 * is set then; .token below checks it for the other case */
		/* cppcheck-suppress nullPointerRedundantCheck */
		.keeper_pid = so->keeper_sock >= 0 ? h->ho->kl.pid : 0,
		.pred_pid = getpid(),
		.token = h->ho ? h->ho->token : 0,
		.device_id = h->info.device_id,
		.nr_vqs = h->info.nr_vqs,
		.nr_groups = h->info.nr_groups,
		.nr_as = h->info.nr_as,
		.config_size = h->info.config_size,
		.max_vring_num = h->info.max_vring_num,
		.mem_mode = h->info.mem_mode,
		.is_sim = h->info.is_sim,
		.device_features = h->info.device_features,
		.backend_offered = h->info.backend_offered,
		.backend_acked = h->info.backend_acked,
		.iova_first = h->info.iova_first,
		.iova_last = h->info.iova_last,
		.driver_features = h->lc->driver_features,
		.page_size = h->page_size,
		.status = h->lc->status,
		.next_region_id = h->map->next_region_id,
		.t_suspend_ns = so->t_suspend,
		.t_prepare_ns = so->t_prepare,
		.nr_regions = c->nreg,
		.nr_entries = c->nent,
		.nr_vrings = c->nvr,
	};
	hd->max_iotlb_entries = h->info.max_iotlb_entries;
	hd->parent_max_iotlb_entries = h->info.parent_max_iotlb_entries;
	hd->caps_flags = h->info.caps_flags;
	memcpy(hd->parent, h->info.parent, sizeof(hd->parent) - 1);
	if (h->ho)
		memcpy(hd->path, h->ho->path, sizeof(hd->path));
	/* the keeper's: a re-attach needs them (state.c checks the pair) */
	if (h->ho && so->keeper_sock >= 0) {
		memcpy(hd->keeper_cred, h->ho->cred, sizeof(hd->keeper_cred));
		hd->keeper_tag = h->ho->tag;
	}
}

static void ser_regions(struct vdpamap *h, struct vdm_ho_region *out)
{
	struct vdm_region *rg;
	uint32_t i;

	for (rg = h->map->regions, i = 0; rg; rg = rg->next, i++) {
		struct stat fst = { 0 };

		if (rg->r.fd >= 0)
			fstat(rg->r.fd, &fst);
		out[i] = (struct vdm_ho_region){
			.ino = fst.st_ino,
			.id = rg->id,
			.fd = rg->r.fd,
			.len = rg->r.len,
			.fd_offset = rg->r.fd_offset,
			.dev_base = rg->dev_base ?
					    rg->dev_base :
					    (uint64_t)(uintptr_t)rg->r.hva,
			.perm = rg->r.perm,
			.iova = rg->r.iova,
		};
	}
}

static void ser_entries(struct vdpamap *h, struct vdm_ho_entry *out)
{
	uint32_t a, i = 0;

	for (a = 0; a < h->info.nr_as; a++) {
		struct vdm_mirror_it it;
		struct vdm_entry *e;

		for (e = vdm_mirror_first(h, a, 0, UINT64_MAX, &it); e;
		     e = vdm_mirror_next(&it)) {
			out[i++] = (struct vdm_ho_entry){
				.iova = e->iova,
				.size = vdm_entry_size(e),
				.off = e->hva -
				       (uint64_t)(uintptr_t)e->region->r.hva,
				.asid = a,
				.perm = e->perm,
				.region_id = e->region->id,
				.nents = e->nents,
			};
		}
	}
}

/* group -> ASID, vq -> group, padding, then the set vrings */
static void ser_rings(struct vdpamap *h, uint32_t *u32)
{
	struct vdm_ho_vring *v_out;
	uint32_t i;

	for (i = 0; i < h->info.nr_groups; i++)
		*u32++ = h->lc->group_asid[i];
	for (i = 0; i < h->info.nr_vqs; i++)
		*u32++ = h->lc->vq_group[i];
	v_out = (struct vdm_ho_vring *)((uint8_t *)u32 +
					VDM_HO_U32_PAD(h->info.nr_groups,
						       h->info.nr_vqs));
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdm_vring *vr = &h->lc->vrings[i];

		if (!vr->set)
			continue;
		*v_out++ = (struct vdm_ho_vring){
			.idx = i,
			.flags = VDM_HO_VRING_SET |
				 (vr->enabled ? VDM_HO_VRING_ENABLED : 0),
			.num = vr->v.num,
			.base = vr->v.base & 0xffff,
			.desc = vr->v.desc,
			.avail = vr->v.avail,
			.used = vr->v.used,
			.kick_fd = vr->v.kick_fd,
			.call_fd = vr->v.call_fd,
		};
	}
}

int vdm_ho_serialize(struct vdpamap *h, const struct vdm_ho_ser *so,
		     void **ret_buf, size_t *ret_len)
{
	struct ser_counts c = { 0 };
	struct vdm_ho_region *rg_out;
	struct vdm_ho_entry *e_out;
	struct vdm_region *rg;
	struct stat st = { 0 };
	uint32_t i;
	size_t len;
	uint8_t *b;

	for (rg = h->map->regions; rg; rg = rg->next)
		c.nreg++;
	for (i = 0; i < h->info.nr_as; i++)
		c.nent += (uint32_t)vdm_mirror_count(h, i);
	for (i = 0; i < h->info.nr_vqs; i++)
		c.nvr += h->lc->vrings[i].set;
	len = vdm_handoff_size(c.nreg, c.nent, h->info.nr_groups,
			       h->info.nr_vqs, c.nvr);
	if (!len) {
		vdm_err(h, "handoff: %u regions, %u entries: too many", c.nreg,
			c.nent);
		return -E2BIG;
	}
	if (h->tp->fd >= 0 && fstat(h->tp->fd, &st) < 0)
		return -errno;
	b = calloc(1, len);
	if (!b)
		return -ENOMEM;
	ser_header(h, so, &c, &st, len, (struct vdm_ho_hdr *)b);
	rg_out = (struct vdm_ho_region *)(b + sizeof(struct vdm_ho_hdr));
	ser_regions(h, rg_out);
	e_out = (struct vdm_ho_entry *)(rg_out + c.nreg);
	ser_entries(h, e_out);
	ser_rings(h, (uint32_t *)(e_out + c.nent));
	vdm_handoff_seal(b);
	*ret_buf = b;
	*ret_len = len;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int seal_all(int fd)
{
	return fcntl(fd, F_ADD_SEALS,
		     F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) <
			       0 ?
		       -errno :
		       0;
}

int vdm_ho_memfd(const void *buf, size_t len, bool cloexec, bool seal)
{
	int fd = memfd_create("vdpamap-handoff",
			      MFD_ALLOW_SEALING | (cloexec ? MFD_CLOEXEC : 0));
	int r;

	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r < 0)
		goto fail;
	if (seal && (r = seal_all(fd)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return r;
}

/* Only the header changes: the body (regions, entries, vrings) was
 * written before, so that the last step costs one small pwrite. */
int vdm_ho_memfd_finish(int fd, void *buf, size_t len, uint64_t t_suspend,
			uint64_t suspend_cost, uint64_t *ret_handed)
{
	struct vdm_ho_hdr *hd = buf;
	ssize_t n;

	if (len < sizeof(*hd))
		return -EINVAL;
	hd->t_suspend_ns = t_suspend;
	hd->suspend_cost_ns =
		suspend_cost > UINT32_MAX ? UINT32_MAX : (uint32_t)suspend_cost;
	hd->t_handed_ns = vdm_ho_now_ns();
	if (ret_handed)
		*ret_handed = hd->t_handed_ns;
	vdm_handoff_seal(buf);
	do {
		n = pwrite(fd, hd, sizeof(*hd), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*hd))
		return n < 0 ? -errno : -EIO;
	return seal_all(fd);
}

/* Into an 8-byte aligned buffer (malloc). */
int vdm_ho_read(int fd, void **ret, size_t *ret_len)
{
	struct stat st;
	size_t done = 0;
	int seals;
	void *b;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) !=
				 (F_SEAL_WRITE | F_SEAL_SHRINK))
		return -EPERM;
	if (st.st_size < (off_t)sizeof(struct vdm_ho_hdr))
		return -EMSGSIZE;
	if (st.st_size > (off_t)(64ULL << 20))
		return -EMSGSIZE;
	b = malloc((size_t)st.st_size);
	if (!b)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, (uint8_t *)b + done,
				  (size_t)st.st_size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return -EIO;
		}
		done += (size_t)n;
	}
	*ret = b;
	*ret_len = done;
	return 0;
}

void vdm_ho_vring_of(const struct vdm_ho_vring *sv, struct vdpamap_vring *v)
{
	*v = (struct vdpamap_vring){
		.num = sv->num,
		.base = sv->base,
		.desc = sv->desc,
		.avail = sv->avail,
		.used = sv->used,
		.kick_fd = sv->kick_fd,
		.call_fd = sv->call_fd,
	};
}

void vdm_ho_open_opts(const struct vdpamap_open_opts *opts,
		      const struct vdm_ho_hdr *hd, struct vdpamap_open_opts *o)
{
	o->log_fn = OPTS_GET(opts, log_fn, NULL);
	o->log_ctx = OPTS_GET(opts, log_ctx, NULL);
	o->log_level = OPTS_GET(opts, log_level, 0);
	o->flags = hd->flags & (VDPAMAP_OPEN_ALLOW_UNALIGNED |
				VDPAMAP_OPEN_NO_MEMLOCK_CHECK);
	o->page_size = (uint32_t)hd->page_size;
}

void vdm_ho_adopt_log(const struct vdpamap_open_opts *opts, const char *fmt,
		      ...)
{
	vdpamap_log_fn fn = OPTS_GET(opts, log_fn, NULL);
	char buf[512];
	va_list ap;

	if (!fn)
		return; /* VDPAMAP_LOG_ERR passes every log_level */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(VDPAMAP_LOG_ERR, buf, OPTS_GET(opts, log_ctx, NULL));
}

int vdm_ho_open_opts_check(const struct vdpamap_open_opts *opts)
{
	if (OPTS_VALID(opts, vdpamap_open_opts))
		return 0;
	vdm_ho_adopt_log(opts,
			 "handoff: open opts: size %zu: too small, or "
			 "non-zero bytes past the known %zu",
			 opts->sz, sizeof(struct vdpamap_open_opts));
	return opts->sz < sizeof(size_t) ? -EINVAL : -E2BIG;
}
