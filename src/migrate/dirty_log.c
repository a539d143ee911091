// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty_log: per-ASID dirty logs for migration (vhost-vdpa has none: its
 * LOG ioctls are unsupported; the shadow virtqueue marks what the device
 * wrote).  This file: finding a log, marking, and its description.
 *
 * A log is immutable in shape from start to stop: a sorted array of
 * segments (the logged ranges cut at mirror entries: each lies in one
 * entry, so it knows its region and region offset) and one bitmap, each
 * segment's bits starting at a word of their own.  Markers therefore need
 * no lock:
 *
 *  - bitmap mode: one __atomic_fetch_or (release) per 64-page word.  The
 *    release pairs with the harvester's exchange (acquire): what the marker
 *    saw before marking (the device's write, observed through the used
 *    ring) happens before the harvester's copy of the page.  The RMW is
 *    done even when the bits look set already: a plain "already set" check
 *    could be overtaken by a harvest and carry no ordering.
 *  - ring mode: one slot of the ring (dirty_ring.c) per page.  A full ring
 *    is not an error: the page goes to the bitmap and its segment's
 *    "pending" flag is raised (as KVM's dirty ring falls back to its
 *    bitmap), so a harvest scans only segments that may hold bits.
 *
 * Lifetime: logs are published per ASID in h->mig->dirty[] (an array
 * allocated at the first start, freed at close) with release stores and
 * read with acquire loads inside a liburcu-bp read-side section; stop
 * unpublishes the log, waits for a grace period (synchronize_rcu) and
 * frees it (dirty_start.c).  ThreadSanitizer does not see liburcu's grace
 * period (an uninstrumented library): under TSan every reader releases on
 * the log before leaving the section and stop acquires on it before
 * freeing.
 */
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "migrate/migrate.h"

#include "core/tsan.h"

void vdm_dlog_free(struct vdm_dlog *lg)
{
	if (!lg)
		return;
	pthread_mutex_destroy(&lg->harvest);
	free(lg->seg);
	free(lg->bits);
	free(lg->ring);
	free(lg);
}

struct vdm_dlog *vdm_dlog_get(struct vdpamap *h, uint32_t asid)
{
	/* pairs with vdm_migrate_get()'s and dirty start's release stores */
	struct vdm_migrate *mig = __atomic_load_n(&h->mig, __ATOMIC_ACQUIRE);
	struct vdm_dlog **logs =
		mig ? __atomic_load_n(&mig->dirty, __ATOMIC_ACQUIRE) : NULL;

	return logs ? __atomic_load_n(&logs[asid], __ATOMIC_ACQUIRE) : NULL;
}

uint64_t vdm_dlog_seg_find(const struct vdm_dlog *lg, uint64_t p)
{
	uint64_t lo = 0, hi = lg->nseg;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (lg->seg[mid].plast < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Every page of [p0, p1] lies in some segment. */
static bool covered(const struct vdm_dlog *lg, uint64_t p0, uint64_t p1)
{
	uint64_t i = vdm_dlog_seg_find(lg, p0), cur = p0;

	for (; i < lg->nseg && lg->seg[i].pfirst <= cur; i++) {
		if (lg->seg[i].plast >= p1)
			return true;
		if (lg->seg[i].plast + 1 > cur)
			cur = lg->seg[i].plast + 1;
	}
	return false;
}

/* Set the bits of pages [a, b] of segment s. */
static void set_bits(struct vdm_dlog *lg, const struct vdm_dseg *s, uint64_t a,
		     uint64_t b)
{
	uint64_t i = a - s->pfirst, j = b - s->pfirst;

	while (i <= j) {
		uint64_t w = i / VDM_WORD_BITS, sh = i % VDM_WORD_BITS;
		uint64_t n = min_t(uint64_t, VDM_WORD_BITS - sh, j - i + 1);

		__atomic_fetch_or(&lg->bits[s->word + w], vdm_bits_mask(n, sh),
				  __ATOMIC_RELEASE);
		i += n;
	}
}

void vdm_dlog_deposit(struct vdm_dlog *lg, uint64_t a, uint64_t b)
{
	uint64_t i;

	for (i = vdm_dlog_seg_find(lg, a);
	     i < lg->nseg && lg->seg[i].pfirst <= b; i++) {
		struct vdm_dseg *s = &lg->seg[i];

		set_bits(lg, s, max_t(uint64_t, a, s->pfirst),
			 min_t(uint64_t, b, s->plast));
		if (lg->ring_n)
			__atomic_store_n(&s->pending, 1, __ATOMIC_RELEASE);
	}
}

static int mark(struct vdm_dlog *lg, uint64_t first, uint64_t last)
{
	uint64_t p0 = first >> lg->shift, p1 = last >> lg->shift, p, i;

	if (!covered(lg, p0, p1))
		return -ERANGE;
	if (lg->ring_n) {
		for (p = p0; p <= p1; p++) {
			if (vdm_dring_push(lg, p))
				continue;
			vdm_dlog_deposit(lg, p, p1);
			__atomic_fetch_add(&lg->overflows, p1 - p + 1,
					   __ATOMIC_RELAXED);
			break;
		}
		return 0;
	}
	for (i = vdm_dlog_seg_find(lg, p0);
	     i < lg->nseg && lg->seg[i].pfirst <= p1; i++) {
		const struct vdm_dseg *s = &lg->seg[i];

		set_bits(lg, s, max_t(uint64_t, p0, s->pfirst),
			 min_t(uint64_t, p1, s->plast));
	}
	return 0;
}

VDPAMAP_API int vdpamap_dirty_mark(struct vdpamap *h, uint32_t asid,
				   uint64_t iova, uint64_t len)
{
	struct vdm_dlog *lg;
	int r;

	if (!h || !len || iova + (len - 1) < iova || asid >= h->info.nr_as)
		return -EINVAL;
	if (h->fork_gen != vdm_fork_gen())
		return -ECHILD;
	urcu_bp_read_lock();
	lg = vdm_dlog_get(h, asid);
	if (lg) {
		r = mark(lg, iova, iova + len - 1);
		tsan_release(lg);
	} else {
		r = -ENOENT;
	}
	urcu_bp_read_unlock();
	return r;
}

VDPAMAP_API int vdpamap_dirty_get_info(struct vdpamap *h, uint32_t asid,
				       struct vdpamap_dirty_info *info)
{
	struct vdm_dlog *lg;
	int r = 0;

	if (!h || !info || asid >= h->info.nr_as)
		return -EINVAL;
	if (h->fork_gen != vdm_fork_gen())
		return -ECHILD;
	urcu_bp_read_lock();
	lg = vdm_dlog_get(h, asid);
	if (lg) {
		memset(info, 0, sizeof(*info));
		info->flags = lg->flags;
		info->nr_ranges = (uint32_t)lg->nseg;
		info->page_size = 1ULL << lg->shift;
		info->pages = lg->pages;
		info->bitmap_bytes = lg->nwords * sizeof(*lg->bits);
		info->ring_entries = lg->ring_n;
		info->ring_overflows =
			__atomic_load_n(&lg->overflows, __ATOMIC_RELAXED);
		tsan_release(lg);
	} else {
		r = -ENOENT;
	}
	urcu_bp_read_unlock();
	return r;
}
