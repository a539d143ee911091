// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty_start: starting and stopping a dirty log (handle mutex held).
 * Start cuts the logged ranges (every entry of the ASID, or the parts of
 * the entries inside the caller's ranges) at mirror entries into
 * segments, gives each segment's bits words of their own in one bitmap,
 * adds the ring in ring mode, and publishes the log with a release store.
 * Stop unpublishes it, waits for a grace period and frees it
 * (dirty_log.c says why that is enough for lock-free readers).
 */
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "migrate/migrate.h"

#include "core/tsan.h"

static int cmp_range(const void *a, const void *b)
{
	const struct vdpamap_dirty_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Cut range rg (NULL: the whole IOVA space) at the entries of asid into
 * segments; count only when seg is NULL. */
static uint64_t cut(struct vdpamap *h, uint32_t asid, uint32_t shift,
		    const struct vdpamap_dirty_range *rg, struct vdm_dseg *seg)
{
	uint64_t first = rg ? rg->iova : 0;
	uint64_t last = rg ? rg->iova + rg->size - 1 : UINT64_MAX;
	struct vdm_mirror_it it;
	struct vdm_entry *e;
	uint64_t k = 0;

	for (e = vdm_mirror_first(h, asid, first, last, &it); e;
	     e = vdm_mirror_next(&it), k++) {
		uint64_t a = max_t(uint64_t, first, e->iova);
		uint64_t b = min_t(uint64_t, last, e->last);

		if (!seg)
			continue;
		seg[k] = (struct vdm_dseg){
			.iova = a,
			.len = b - a + 1,
			.pfirst = a >> shift,
			.plast = b >> shift,
			.region_id = e->region->id,
			.roff = e->hva - (uintptr_t)e->region->r.hva +
				(a - e->iova),
		};
	}
	return k;
}

/* The caller's ranges rg[0..nr), sorted into *ret: each non-empty, not
 * wrapping, apart from the others and entirely mapped in asid. */
static int ranges_sorted(struct vdpamap *h, uint32_t asid,
			 const struct vdpamap_dirty_range *rg, uint32_t nr,
			 struct vdpamap_dirty_range **ret)
{
	struct vdpamap_dirty_range *s = calloc(nr, sizeof(*s));
	uint32_t i;
	int r;

	if (!s)
		return -ENOMEM;
	memcpy(s, rg, nr * sizeof(*s));
	qsort(s, nr, sizeof(*s), cmp_range);
	for (i = 0; i < nr; i++) {
		if (!s[i].size || s[i].iova + (s[i].size - 1) < s[i].iova) {
			vdm_err(h,
				"dirty start: range [0x%llx, +0x%llx): "
				"empty or wraps",
				(unsigned long long)s[i].iova,
				(unsigned long long)s[i].size);
			r = -EINVAL;
			goto fail;
		}
		if (i && s[i].iova <= s[i - 1].iova + (s[i - 1].size - 1)) {
			vdm_err(h,
				"dirty start: ranges at 0x%llx and 0x%llx "
				"overlap",
				(unsigned long long)s[i - 1].iova,
				(unsigned long long)s[i].iova);
			r = -EEXIST;
			goto fail;
		}
		if (!vdm_range_mapped(h, asid, s[i].iova, s[i].size)) {
			vdm_err(h,
				"dirty start: range [0x%llx, +0x%llx) is not "
				"entirely mapped in asid %u",
				(unsigned long long)s[i].iova,
				(unsigned long long)s[i].size, asid);
			r = -ENOENT;
			goto fail;
		}
	}
	*ret = s;
	return 0;
fail:
	free(s);
	return r;
}

/* lg's segments for ranges rg[0..nr) (rg NULL: everything asid maps). */
static int segments(struct vdpamap *h, uint32_t asid, struct vdm_dlog *lg,
		    const struct vdpamap_dirty_range *rg, uint32_t nr)
{
	uint64_t n = 0;
	uint32_t i;

	if (!rg)
		nr = 1;
	for (i = 0; i < nr; i++)
		n += cut(h, asid, lg->shift, rg ? &rg[i] : NULL, NULL);
	if (!n) {
		vdm_err(h, "dirty start: asid %u has nothing mapped to log",
			asid);
		return -ENOENT;
	}
	lg->seg = calloc(n, sizeof(*lg->seg));
	if (!lg->seg)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		lg->nseg += cut(h, asid, lg->shift, rg ? &rg[i] : NULL,
				lg->seg + lg->nseg);
	return 0;
}

/* One bitmap, each segment's bits starting at a word of their own. */
static int bitmap_alloc(struct vdm_dlog *lg)
{
	uint64_t i, w = 0, bytes;

	for (i = 0; i < lg->nseg; i++) {
		uint64_t np = lg->seg[i].plast - lg->seg[i].pfirst + 1;

		lg->seg[i].word = w;
		w += vdm_words_of(np);
		lg->pages += np;
	}
	lg->nwords = w;
	bytes = w * sizeof(*lg->bits);
	lg->bits = aligned_alloc(VDM_CACHELINE, (bytes + VDM_CACHELINE - 1) /
							VDM_CACHELINE *
							VDM_CACHELINE);
	if (!lg->bits)
		return -ENOMEM;
	memset(lg->bits, 0, bytes);
	return 0;
}

static int build(struct vdpamap *h, uint32_t asid,
		 const struct vdpamap_dirty_opts *o, struct vdm_dlog *lg)
{
	const struct vdpamap_dirty_range *rg = OPTS_GET(o, ranges, NULL);
	uint32_t nr = OPTS_GET(o, nr_ranges, 0);
	struct vdpamap_dirty_range *sorted = NULL;
	int r;

	if (rg) {
		r = ranges_sorted(h, asid, rg, nr, &sorted);
		if (r < 0)
			return r;
	}
	r = segments(h, asid, lg, sorted, nr);
	free(sorted);
	if (r < 0)
		return r;
	return bitmap_alloc(lg);
}

/* opts of vdpamap_dirty_start(), with their defaults applied. */
static int start_opts(struct vdpamap *h, uint32_t asid,
		      const struct vdpamap_dirty_opts *opts, uint32_t *flags,
		      uint64_t *ps, uint32_t *ring)
{
	uint32_t nr = OPTS_GET(opts, nr_ranges, 0);
	bool ranges = OPTS_GET(opts, ranges, NULL) != NULL;

	*flags = OPTS_GET(opts, flags, 0);
	*ps = OPTS_GET(opts, page_size, 0);
	*ring = OPTS_GET(opts, ring_entries, 0);
	if (!*ps)
		*ps = h->page_size;
	if (!*ring)
		*ring = VDM_DIRTY_RING_DEFAULT;
	if (asid >= h->info.nr_as || (*flags & ~VDPAMAP_DIRTY_RING) ||
	    *ps < VDM_DIRTY_PAGE_MIN || (*ps & (*ps - 1)) ||
	    *ring < VDM_DIRTY_RING_MIN || *ring > VDM_DIRTY_RING_MAX ||
	    (*ring & (*ring - 1)) || !nr != !ranges) {
		vdm_err(h,
			"dirty start: asid %u, flags 0x%x, page size 0x%llx, "
			"ring %u entries or ranges invalid",
			asid, *flags, (unsigned long long)*ps, *ring);
		return -EINVAL;
	}
	return 0;
}

/* h->mig->dirty[], made at the first start. */
static int logs_get(struct vdpamap *h)
{
	struct vdm_dlog **logs;

	if (!vdm_migrate_get(h))
		return -ENOMEM;
	if (h->mig->dirty)
		return 0;
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	logs = calloc(h->info.nr_as, sizeof(*logs));
	if (!logs)
		return -ENOMEM;
	/* pairs with vdm_dlog_get()'s acquire load */
	__atomic_store_n(&h->mig->dirty, logs, __ATOMIC_RELEASE);
	return 0;
}

static struct vdm_dlog *log_new(uint32_t flags, uint64_t ps)
{
	struct vdm_dlog *lg = aligned_alloc(VDM_CACHELINE, sizeof(*lg));

	if (!lg)
		return NULL;
	memset(lg, 0, sizeof(*lg));
	pthread_mutex_init(&lg->harvest, NULL);
	lg->flags = flags;
	lg->shift = (uint32_t)__builtin_ctzll(ps);
	return lg;
}

VDPAMAP_API int vdpamap_dirty_start(struct vdpamap *h, uint32_t asid,
				    const struct vdpamap_dirty_opts *opts)
{
	struct vdm_dlog *lg = NULL;
	uint32_t flags, ring;
	uint64_t ps;
	int r;

	r = vdm_enter(h, false);
	if (r < 0)
		return r;
	r = OPTS_CHECK(h, "dirty start", opts, vdpamap_dirty_opts);
	if (r < 0)
		goto out;
	r = start_opts(h, asid, opts, &flags, &ps, &ring);
	if (r < 0)
		goto out;
	r = logs_get(h);
	if (r < 0)
		goto out;
	if (h->mig->dirty[asid]) {
		vdm_err(h, "dirty start: asid %u is logging already", asid);
		r = -EBUSY;
		goto out;
	}
	lg = log_new(flags, ps);
	if (!lg) {
		r = -ENOMEM;
		goto out;
	}
	r = build(h, asid, opts, lg);
	if (r < 0)
		goto out;
	if (flags & VDPAMAP_DIRTY_RING) {
		r = vdm_dring_init(lg, ring);
		if (r < 0)
			goto out;
	}
	vdm_info(h,
		 "dirty log of asid %u: %llu ranges, %llu pages of %llu "
		 "bytes, bitmap %llu bytes%s",
		 asid, (unsigned long long)lg->nseg,
		 (unsigned long long)lg->pages, (unsigned long long)ps,
		 (unsigned long long)(lg->nwords * sizeof(*lg->bits)),
		 lg->ring_n ? ", ring mode" : "");
	__atomic_store_n(&h->mig->dirty[asid], lg, __ATOMIC_RELEASE);
	lg = NULL;
out:
	vdm_dlog_free(lg);
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_dirty_stop(struct vdpamap *h, uint32_t asid)
{
	struct vdm_dlog *lg;
	int r;

	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	if (asid >= h->info.nr_as) {
		vdm_err(h,
			"dirty stop: asid %u out of range (%u address "
			"spaces)",
			asid, h->info.nr_as);
		r = -EINVAL;
	} else if (!h->mig || !h->mig->dirty || !h->mig->dirty[asid]) {
		vdm_err(h, "dirty stop: asid %u is not logging", asid);
		r = -ENOENT;
	} else {
		lg = h->mig->dirty[asid];
		__atomic_store_n(&h->mig->dirty[asid], NULL, __ATOMIC_RELEASE);
		urcu_bp_synchronize_rcu();
		tsan_acquire(lg);
		vdm_dlog_free(lg);
	}
	vdm_leave(h);
	return r;
}
