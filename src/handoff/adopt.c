// SPDX-License-Identifier: BSD-3-Clause
/*
 * adopt: the successor's half of a handoff.  The description (state.c has
 * parsed it as untrusted input) is checked against the fds this process
 * really holds, the regions are mapped at new HVAs, and the handle is made
 * the way the strategy says: from the description alone, talking through
 * the keeper (KEEPER) or owning the device anew (NEW_OWNER: new_owner.c);
 * or reopened and re-created (REBUILD: rebuild.c).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff/handoff.h"

static void restore_mirror(struct vdpamap *h, const struct vdm_handoff_state *s,
			   void *const *hvas, int *ret)
{
	uint32_t i;

	for (i = 0; i < s->hdr->nr_regions && *ret >= 0; i++) {
		const struct vdm_ho_region *sr = &s->regions[i];
		const struct vdpamap_region r0 = {
			.hva = hvas[i],
			.len = sr->len,
			.fd_offset = sr->fd_offset,
			.fd = sr->fd,
			.perm = sr->perm,
			.iova = sr->iova,
		};

		*ret = vdm_region_restore(h, sr->id, &r0, sr->dev_base);
	}
	if (*ret < 0)
		return;
	vdm_region_next_id_set(h, s->hdr->next_region_id);
	for (i = 0; i < s->hdr->nr_entries; i++) {
		const struct vdm_ho_entry *se = &s->entries[i];
		struct vdm_region *rg = vdm_region_by_id(h, se->region_id);
		struct vdm_entry *e = calloc(1, sizeof(*e));

		if (!e) {
			*ret = -ENOMEM;
			return;
		}
		e->iova = se->iova;
		e->last = se->iova + se->size - 1;
		e->hva = (uint64_t)(uintptr_t)rg->r.hva + se->off;
		e->asid = se->asid;
		e->perm = se->perm;
		e->region = rg;
		e->nents = se->nents;
		/* 0: the predecessor's commit did not count it (far below
		 * the cap), or counted it unknown: either way the first
		 * commit here that may reach the cap counts it, as the
		 * predecessor's would have (mapping/entries.c).  Taken as 1
		 * and never counted, a PA entry of many discontiguous
		 * pages would let a map past the cap be sent. */
		e->uncounted = !se->nents;
		vdm_mirror_insert(h, e);
	}
}

static void restore_info(struct vdpamap *h, const struct vdm_ho_hdr *hd)
{
	struct vdpamap_info in = {
		.device_id = hd->device_id,
		.nr_vqs = hd->nr_vqs,
		.nr_groups = hd->nr_groups,
		.nr_as = hd->nr_as,
		.config_size = hd->config_size,
		.max_vring_num = hd->max_vring_num,
		.device_features = hd->device_features,
		.backend_offered = hd->backend_offered,
		.backend_acked = hd->backend_acked,
		.iova_first = hd->iova_first,
		.iova_last = hd->iova_last,
		.mem_mode = hd->mem_mode,
		.is_sim = hd->is_sim,
		/* the predecessor's, read at its open: reading them again
		 * (sysfs, pagemap) would sit inside the downtime */
		.max_iotlb_entries = hd->max_iotlb_entries,
		.parent_max_iotlb_entries = hd->parent_max_iotlb_entries,
		.caps_flags = hd->caps_flags,
	};

	memcpy(in.parent, hd->parent, sizeof(in.parent));
	vdm_info_set(h, &in);
}

/* A handle as the description says, without touching the device (KEEPER,
 * NEW_OWNER): info, groups, status, regions at hvas, mirror, vrings. */
static int handle_from_state(const struct vdm_handoff_state *s,
			     const struct vdpamap_open_opts *opts,
			     void *const *hvas, struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	struct vdpamap *h;
	uint32_t i;
	int r;

	vdm_ho_open_opts(opts, hd, &o);
	r = vdm_handle_new(&o, &h);
	if (r < 0)
		return r;
	restore_info(h, hd);
	if ((r = vdm_lifecycle_setup(h)) < 0 ||
	    (r = vdm_mapping_setup_quiet(h)) < 0)
		goto fail;
	vdm_lifecycle_restore(h, s->group_asid, s->vq_group,
			      (uint8_t)hd->status, hd->driver_features);
	restore_mirror(h, s, hvas, &r);
	if (r < 0)
		goto fail;
	for (i = 0; i < hd->nr_vrings; i++) {
		const struct vdm_ho_vring *sv = &s->vrings[i];
		struct vdpamap_vring v;

		vdm_ho_vring_of(sv, &v);
		vdm_vring_restore(h, sv->idx, sv->flags & VDM_HO_VRING_SET,
				  sv->flags & VDM_HO_VRING_ENABLED, &v);
	}
	pthread_mutex_lock(&h->lock);
	vdm_snap_publish(h);
	pthread_mutex_unlock(&h->lock);
	*ret = h;
	return 0;
fail:
	vdm_handle_free(h);
	return r;
}

static void unmap_regions(const struct vdm_handoff_state *s, void **hvas)
{
	uint32_t i;

	for (i = 0; i < s->hdr->nr_regions; i++)
		if (hvas[i] && hvas[i] != MAP_FAILED)
			munmap(hvas[i], s->regions[i].len);
}

static int map_regions(const struct vdm_handoff_state *s, void **hvas)
{
	uint32_t i;

	for (i = 0; i < s->hdr->nr_regions; i++) {
		const struct vdm_ho_region *sr = &s->regions[i];
		int r;

		hvas[i] = mmap(NULL, sr->len, PROT_READ | PROT_WRITE,
			       MAP_SHARED, sr->fd, (off_t)sr->fd_offset);
		if (hvas[i] == MAP_FAILED) {
			r = -errno;
			hvas[i] = NULL;
			unmap_regions(s, hvas);
			return r == -EACCES || r == -ENODEV ? -EBADF : r;
		}
	}
	return 0;
}

/* The fds the description names are what this process holds. */
static int check_fds(const struct vdm_handoff_state *s,
		     const struct vdpamap_open_opts *opts)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	struct stat st;
	uint32_t i;

	if (hd->dev_fd >= 0 &&
	    (fstat(hd->dev_fd, &st) < 0 || st.st_dev != hd->dev_dev ||
	     st.st_ino != hd->dev_ino || st.st_rdev != hd->dev_rdev)) {
		vdm_ho_adopt_log(opts,
				 "handoff: adopt: dev_fd %d is not the "
				 "device the description names (dev, ino, "
				 "rdev)",
				 hd->dev_fd);
		return -ENODEV;
	}
	if (hd->keeper_sock >= 0 &&
	    (fstat(hd->keeper_sock, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		vdm_ho_adopt_log(opts,
				 "handoff: adopt: keeper_sock %d is not "
				 "an open socket",
				 hd->keeper_sock);
		return -EBADF;
	}
	for (i = 0; i < hd->nr_regions; i++) {
		if (fstat(s->regions[i].fd, &st) == 0 &&
		    (!s->regions[i].ino || st.st_ino == s->regions[i].ino))
			continue;
		vdm_ho_adopt_log(opts,
				 "handoff: adopt: regions[%u].fd %d is "
				 "not open, or not the file the description "
				 "names (inode)",
				 i, s->regions[i].fd);
		return -EBADF;
	}
	return 0;
}

static int adopt_rebuild(const struct vdm_handoff_state *s,
			 const struct vdpamap_open_opts *opts, void **hvas,
			 struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	int r;

	/* a keeper of an earlier handoff holds the device */
	if (hd->keeper_sock >= 0)
		vdm_ho_keeper_tell_exit(hd->keeper_sock);
	if (hd->dev_fd >= 0)
		close(hd->dev_fd);
	r = vdm_ho_rebuild_open(s, opts, hvas, false, ret);
	if (r < 0)
		return r;
	if (hd->keeper_sock >= 0)
		close(hd->keeper_sock);
	return 0;
}

#ifdef VDPAMAP_NEW_OWNER
static int adopt_new_owner(const struct vdm_handoff_state *s,
			   const struct vdpamap_open_opts *opts, void **hvas,
			   struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	struct vdpamap *h = NULL;
	int r;

	r = handle_from_state(s, opts, hvas, &h);
	if (r < 0)
		return r;
	r = vdm_tp_inherit(hd->dev_fd, h->tp);
	if (r == 0)
		r = vdm_ho_new_owner_takeover(h);
	if (r < 0) {
		h->tp->fd = -1; /* the caller's, still */
		vdm_handle_free(h);
		return r;
	}
	if (hd->keeper_sock >= 0)
		vdm_ho_keeper_dismiss(hd->keeper_sock, hd->keeper_pid);
	*ret = h;
	return 0;
}
#endif

/* KEEPER: the handle talks to the device through the keeper; < 0:
 * nothing changed, the inherited fds stay the caller's for a retry.  The
 * handle owns *hop once attached (*hop NULL: freed with it). */
static int adopt_keeper(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts, void **hvas,
			struct vdm_handoff **hop, struct vdpamap **ret)
{
	struct vdm_handoff *ho = *hop;
	struct vdpamap *h = NULL;
	int r;

	r = handle_from_state(s, opts, hvas, &h);
	if (r < 0)
		return r;
	r = vdm_ho_keeper_link(h, ho, s->hdr);
	vdm_ho_attach(h, ho);
	if (r == 0)
		r = vdm_ho_keeper_takeover(h, s->hdr);
	if (r < 0) {
		ho->kl.sock = -1;
		h->tp->fd = -1;
		vdm_handle_free(h); /* frees ho */
		*hop = NULL;
		return r;
	}
	*ret = h;
	return 0;
}

static int adopt_strategy(const struct vdm_handoff_state *s,
			  const struct vdpamap_open_opts *opts, void **hvas,
			  struct vdm_handoff **hop, struct vdpamap **ret)
{
	struct vdm_handoff *ho = *hop;
	int r;

	switch (s->hdr->strategy) {
	case VDPAMAP_HANDOFF_REBUILD:
		r = adopt_rebuild(s, opts, hvas, ret);
		break;
#ifdef VDPAMAP_NEW_OWNER
	case VDPAMAP_HANDOFF_NEW_OWNER:
		r = adopt_new_owner(s, opts, hvas, ret);
		break;
#endif
	default:
		r = adopt_keeper(s, opts, hvas, hop, ret);
		break;
	}
	if (r == 0 && s->hdr->strategy != VDPAMAP_HANDOFF_KEEPER)
		vdm_ho_attach(*ret, ho);
	return r;
}

int vdm_ho_adopt_parsed(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts,
			struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	uint64_t t0 = vdm_ho_now_ns(), t1;
	struct vdm_handoff *ho;
	struct vdpamap *h = NULL;
	void **hvas;
	int r;

#ifndef VDPAMAP_NEW_OWNER
	if (hd->strategy == VDPAMAP_HANDOFF_NEW_OWNER) {
		vdm_ho_adopt_log(opts, "handoff: adopt: strategy NEW_OWNER: "
				       "not in this build (meson "
				       "-Dnew_owner=enabled)");
		return -EOPNOTSUPP;
	}
#endif
	r = check_fds(s, opts);
	if (r < 0)
		return r;
	r = -ENOMEM;
	ho = vdm_ho_new();
	if (!ho)
		goto out;
	hvas = calloc(hd->nr_regions ? hd->nr_regions : 1, sizeof(*hvas));
	if (!hvas)
		goto free_ho;
	r = map_regions(s, hvas);
	if (r < 0)
		goto free_hvas;
	t1 = vdm_ho_now_ns();
	r = adopt_strategy(s, opts, hvas, &ho, &h);
	if (r < 0)
		goto unmap;
	ho->ph.map = t1 - t0;
	ho->ph.takeover = vdm_ho_now_ns() - t1 - ho->ph.resume;
	ho->adopted = 1;
	ho->strategy = hd->strategy;
	memcpy(ho->path, hd->path, sizeof(ho->path));
	if (hd->strategy == VDPAMAP_HANDOFF_KEEPER) {
		memcpy(ho->cred, hd->keeper_cred, sizeof(ho->cred));
		ho->tag = hd->keeper_tag;
	}
	ho->t_suspend_ns = hd->t_suspend_ns;
	ho->prepare_ns = hd->t_prepare_ns;
	/* from here on the inherited fds are ours again: CLOEXEC */
	vdm_ho_fds_reclaim(s);
	/* descriptor groups are not in the description: ask the device
	 * (through the keeper when it owns it) */
	if (!h->poison && vdm_has_feature(h, VDPAMAP_F_DESC_ASID) &&
	    vdm_query_desc_groups(h) < 0)
		vdm_warn(h, "handoff: descriptor groups unknown: DRIVER_OK "
			    "checks rings in the vq groups' ASIDs");
	ho->adopt_writes = h->stats.iotlb_writes;
	ho->adopted_ns = vdm_ho_now_ns();
	ho->adopt_ns = ho->adopted_ns - t0;
	vdm_info(h, "handoff adopted: strategy %s in %llu us",
		 vdm_ho_strategy_name(ho->strategy),
		 (unsigned long long)(ho->adopt_ns / 1000));
	free(hvas);
	*ret = h;
	return 0;
unmap:
	unmap_regions(s, hvas);
free_hvas:
	free(hvas);
free_ho:
	free(ho); /* NULL if a handle took and freed it */
out:
	return r;
}

/* The downtime's phases up to adopt's return, kept and logged: the exec
 * runs from the predecessor's last step (its clock is the system's:
 * CLOCK_MONOTONIC) to adopt's entry. */
static void adopt_phases(struct vdpamap *h, const struct vdm_ho_hdr *hd,
			 uint64_t t_entry, uint64_t t_parsed)
{
	struct vdm_handoff *ho = h->ho;
	struct vdm_ho_phases *ph = &ho->ph;

	ph->t_entry = t_entry;
	ph->parse = t_parsed - t_entry;
	ph->suspend = hd->suspend_cost_ns;
	if (hd->t_handed_ns >= hd->t_suspend_ns && hd->t_suspend_ns)
		ph->pred = hd->t_handed_ns - hd->t_suspend_ns;
	if (hd->t_handed_ns && hd->t_handed_ns <= t_entry)
		ph->exec = t_entry - hd->t_handed_ns;
	ho->adopt_ns = ho->adopted_ns - t_entry;
	vdm_info(h,
		 "handoff: phases (us): suspend %llu, predecessor %llu, exec "
		 "%llu, parse %llu, map %llu, takeover %llu, resume %llu",
		 (unsigned long long)(ph->suspend / 1000),
		 (unsigned long long)(ph->pred / 1000),
		 (unsigned long long)(ph->exec / 1000),
		 (unsigned long long)(ph->parse / 1000),
		 (unsigned long long)(ph->map / 1000),
		 (unsigned long long)(ph->takeover / 1000),
		 (unsigned long long)(ph->resume / 1000));
}

/* The state fd: the argument, or VDPAMAP_HANDOFF_ENV's decimal value. */
static int state_fd_of(int state_fd)
{
	const char *e;
	char *end;
	long v;

	if (state_fd >= 0)
		return state_fd;
	e = getenv(VDPAMAP_HANDOFF_ENV);
	if (!e || !*e)
		return -EBADF;
	v = strtol(e, &end, 10);
	if (end == e || *end || v < 0 || v > INT32_MAX)
		return -EBADF;
	return (int)v;
}

VDPAMAP_API int vdpamap_handoff_adopt(int state_fd,
				      const struct vdpamap_open_opts *opts,
				      struct vdpamap **ret)
{
	uint64_t t_entry = vdm_ho_now_ns(), t_parsed;
	struct vdm_handoff_state s;
	struct vdm_ho_why why;
	size_t len = 0;
	void *buf = NULL;
	char w[256];
	int r;

	if (!ret)
		return -EINVAL;
	r = vdm_ho_open_opts_check(opts);
	if (r < 0)
		return r;
	r = state_fd = state_fd_of(state_fd);
	if (r < 0)
		return r;
	r = vdm_ho_read(state_fd, &buf, &len);
	if (r < 0)
		return r;
	r = vdm_handoff_parse_why(buf, len, &s, &why);
	if (r < 0) {
		vdm_handoff_why_str(&why, w, sizeof(w));
		vdm_ho_adopt_log(opts,
				 "handoff: adopt: description of %zu "
				 "bytes refused (%d): %s",
				 len, r, w);
		goto out;
	}
	t_parsed = vdm_ho_now_ns();
	r = vdm_ho_adopt_parsed(&s, opts, ret);
	if (r == 0) {
		close(state_fd);
		adopt_phases(*ret, s.hdr, t_entry, t_parsed);
	}
out:
	free(buf);
	return r;
}
