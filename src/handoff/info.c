// SPDX-License-Identifier: BSD-3-Clause
/*
 * info: the queries a successor needs after adopt: how the handoff went
 * (vdpamap_handoff_get_info()), the regions with their new HVAs, and the
 * vrings with their kick/call fds.  All take the lock; none changes
 * anything but picking up a keeper's trim result.
 */
#include <stdlib.h>

#include "handoff/handoff.h"

_Static_assert(sizeof(((struct vdpamap_handoff_info *)0)->keeper_cred) ==
		       VDM_KP_CRED_LEN,
	       "the public credential is the keeper's");

VDPAMAP_API int vdpamap_handoff_get_info(struct vdpamap *h,
					 struct vdpamap_handoff_info *info)
{
	struct vdm_handoff *ho;
	int r;

	if (!info)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	ho = h->ho;
	if (!ho) {
		r = -ENOENT;
		goto out;
	}
	if (ho->kl.sock >= 0)
		vdm_kp_check(&h->ho->kl);
	/* an application that never marks its first frame still has the
	 * old address space trimmed once it asks how the handoff went */
	vdm_ho_keeper_trim_due(h);
	vdm_kp_trim_result(&h->ho->kl); /* if the keeper has sent it */
	memset(info, 0, sizeof(*info));
	info->strategy = ho->strategy;
	info->keeper_alive = vdm_ho_keeper_live(h);
	info->keeper_pid = ho->kl.sock >= 0 ? ho->kl.pid : 0;
	info->adopted = (uint32_t)ho->adopted;
	info->suspend_ns = ho->t_suspend_ns;
	info->prepare_ns = ho->prepare_ns;
	info->adopt_ns = ho->adopt_ns;
	info->adopted_ns = ho->adopted_ns;
	info->adopt_iotlb_writes = ho->adopt_writes;
	info->keeper_trimmed_bytes = ho->kl.trim.bytes;
	info->keeper_vmas_before = ho->kl.trim.vmas_before;
	info->keeper_vmas_kept = ho->kl.trim.vmas_kept;
	if (ho->kl.sock >= 0) {
		memcpy(info->keeper_cred, ho->cred, sizeof(info->keeper_cred));
		info->keeper_sock_tag = ho->tag;
	}
out:
	vdm_leave(h);
	return r;
}

static void phases_of(const struct vdm_handoff *ho,
		      struct vdpamap_handoff_phases *p)
{
	const struct vdm_ho_phases *ph = &ho->ph;

	p->suspend_ns = ph->suspend;
	p->predecessor_ns = ph->pred;
	p->exec_ns = ph->exec;
	p->adopt_ns = ph->t_entry ? ho->adopt_ns : 0;
	p->parse_ns = ph->parse;
	p->map_ns = ph->map;
	p->takeover_ns = ph->takeover;
	p->resume_ns = ph->resume;
	p->library_ns = ph->suspend + ph->pred + p->adopt_ns;
	if (ph->t_first) {
		p->first_frame_ns = ph->t_first - ho->adopted_ns;
		p->downtime_ns = ph->t_first - (ho->t_suspend_ns - ph->suspend);
	}
}

VDPAMAP_API int vdpamap_handoff_get_phases(struct vdpamap *h,
					   struct vdpamap_handoff_phases *p)
{
	struct vdpamap_handoff_phases out = { .sz = sizeof(out) };
	size_t sz;
	int r;

	if (!p)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	sz = p->sz;
	if (sz < offsetof(struct vdpamap_handoff_phases, predecessor_ns)) {
		vdm_err(h, "handoff: phases: sz %zu is below %zu", sz,
			offsetof(struct vdpamap_handoff_phases,
				 predecessor_ns));
		r = -EINVAL;
		goto out;
	}
	if (!h->ho) {
		r = -ENOENT;
		goto out;
	}
	phases_of(h->ho, &out);
	/* a caller built against a larger struct: its tail is zero */
	if (sz > sizeof(out))
		memset((uint8_t *)p + sizeof(out), 0, sz - sizeof(out));
	memcpy((uint8_t *)p + sizeof(sz), (uint8_t *)&out + sizeof(sz),
	       (sz < sizeof(out) ? sz : sizeof(out)) - sizeof(sz));
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_handoff_first_frame(struct vdpamap *h)
{
	uint64_t t = vdm_ho_now_ns();
	struct vdpamap_handoff_phases p = { .sz = sizeof(p) };
	int r;

	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (!h->ho || !h->ho->adopted) {
		r = -ENOENT;
		goto out;
	}
	if (h->ho->ph.t_first) {
		r = -EALREADY;
		goto out;
	}
	h->ho->ph.t_first = t;
	vdm_ho_keeper_trim_due(h);
	vdm_mapping_reclaimer_start(); /* adopt left it for now */
	phases_of(h->ho, &p);
	vdm_info(h,
		 "handoff: first frame: downtime %llu us, the library's share "
		 "%llu us (exec %llu us, adopt to first frame %llu us)",
		 (unsigned long long)(p.downtime_ns / 1000),
		 (unsigned long long)(p.library_ns / 1000),
		 (unsigned long long)(p.exec_ns / 1000),
		 (unsigned long long)(p.first_frame_ns / 1000));
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_region_get(struct vdpamap *h, uint32_t id,
				   struct vdpamap_region *out)
{
	struct vdm_region *rg;
	int r;

	if (!out)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	for (rg = h->map->regions; rg; rg = rg->next)
		if (rg->id == id)
			break;
	if (!rg) {
		r = -ENOENT;
	} else {
		*out = rg->r;
		r = 0;
	}
	vdm_leave(h);
	return r;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

VDPAMAP_API int vdpamap_region_ids(struct vdpamap *h, uint32_t *ids, uint32_t n)
{
	struct vdm_region *rg;
	uint32_t cnt = 0, *all;
	int r;

	if (n && !ids)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	for (rg = h->map->regions; rg; rg = rg->next)
		cnt++;
	all = calloc(cnt + 1, sizeof(*all));
	if (!all) {
		r = -ENOMEM;
		goto out;
	}
	cnt = 0;
	for (rg = h->map->regions; rg; rg = rg->next)
		all[cnt++] = rg->id;
	qsort(all, cnt, sizeof(*all), cmp_u32);
	if (n)
		memcpy(ids, all, (n < cnt ? n : cnt) * sizeof(*all));
	free(all);
	r = (int)cnt;
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_vring_get(struct vdpamap *h, uint32_t idx,
				  struct vdpamap_vring *out)
{
	int r;

	if (!out)
		return -EINVAL;
	r = vdm_enter_query(h);
	if (r < 0)
		return r;
	if (idx >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", idx, h->info.nr_vqs);
		r = -EINVAL;
	} else if (!h->lc->vrings[idx].set)
		r = -ENOENT;
	else
		*out = h->lc->vrings[idx].v;
	vdm_leave(h);
	return r;
}
