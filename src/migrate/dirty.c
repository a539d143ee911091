// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty: per-ASID dirty logs for migration (vhost-vdpa has none: its LOG
 * ioctls are unsupported; the shadow virtqueue marks what the device wrote).
 *
 * A log is immutable in shape from start to stop: a sorted array of
 * segments (the logged ranges cut at mirror entries: each lies in one entry,
 * so it knows its region and region offset) and one bitmap, each segment's
 * bits starting at a word of their own.  Markers therefore need no lock:
 *
 *  - bitmap mode: one __atomic_fetch_or (release) per 64-page word.  The
 *    release pairs with the harvester's exchange (acquire): what the marker
 *    saw before marking (the device's write, observed through the used
 *    ring) happens before the harvester's copy of the page.  The RMW is
 *    done even when the bits look set already: a plain "already set" check
 *    could be overtaken by a harvest and carry no ordering.
 *  - ring mode: a bounded multi-producer ring of page numbers (Vyukov's
 *    array queue: producers claim a slot by CAS on the tail, publish it with
 *    a release store of the slot's sequence; the one harvester reads slots
 *    in order with acquire).  One ring per ASID, not per marker thread: no
 *    thread registration, any thread may mark, and sparse writers (the use
 *    case) rarely meet on the tail.  A full ring is not an error: the page
 *    goes to the bitmap and its segment's "pending" flag is raised (as
 *    KVM's dirty ring falls back to its bitmap), so a harvest scans only
 *    segments that may hold bits.
 *
 * Harvests of one log are serialised by the log's own mutex (never the
 * handle's: a long transaction does not stall migration).  They drain the
 * ring (at most one ring's worth, so producers cannot starve them), put
 * pages of the harvested range into the caller's bitmap and the others
 * back into the log, then get and clear the bitmap words of the range
 * (exchange for whole words, fetch-and for partial ones; a relaxed load
 * skips zero words: a bit set after it is the next harvest's).
 *
 * Lifetime: logs are published per ASID in h->mig->dirty[] (an array
 * allocated at the first start, freed at close) with release stores and read with
 * acquire loads inside a liburcu-bp read-side section; stop unpublishes
 * the log, waits for a grace period (synchronize_rcu) and frees it.
 * ThreadSanitizer does not see liburcu's grace period (an uninstrumented
 * library): under TSan every reader releases on the log before leaving
 * the section and stop acquires on it before freeing.
 */
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include "migrate/migrate.h"

#include "core/tsan.h"

#define RING_DEFAULT	4096u
#define RING_MIN	16u
#define RING_MAX	(1u << 24)
#define CACHELINE	64

struct vdm_dseg {
	uint64_t iova;			/* first byte logged */
	uint64_t len;
	uint64_t pfirst, plast;		/* pages (iova >> shift) */
	uint64_t word;			/* its first word in bits[] */
	uint64_t roff;			/* region offset of iova */
	uint32_t region_id;
	uint32_t pending;		/* ring mode: bits may be waiting */
};

struct vdm_dcell {
	uint64_t seq;
	uint64_t page;
};

struct vdm_dlog {
	uint32_t flags;
	uint32_t shift;
	uint64_t nseg;
	struct vdm_dseg *seg;
	uint64_t nwords;
	uint64_t *bits;
	uint64_t pages;
	uint64_t ring_n;		/* 0 in bitmap mode */
	struct vdm_dcell *ring;
	pthread_mutex_t harvest;
	uint64_t head;			/* consumer, under harvest */
	uint64_t overflows;		/* atomic */
	/* producers only, on a line of its own */
	uint64_t tail __attribute__((aligned(CACHELINE)));
	char pad[CACHELINE - sizeof(uint64_t)];
};

static void log_free(struct vdm_dlog *lg)
{
	if (!lg)
		return;
	pthread_mutex_destroy(&lg->harvest);
	free(lg->seg);
	free(lg->bits);
	free(lg->ring);
	free(lg);
}

static void dirty_free(struct vdpamap *h)
{
	uint32_t a;

	if (!h->mig || !h->mig->dirty)
		return;
	for (a = 0; a < h->info.nr_as; a++)
		log_free(h->mig->dirty[a]);
	free(h->mig->dirty);
	h->mig->dirty = NULL;
}

/* ---- the module's state on the handle: kept here, in the lower of the
 * module's two files (flip.c calls dirty.c, never the reverse) */
void vdm_flip_free(struct vdm_flip *f)
{
	if (!f)
		return;
	free(f->groups);
	free(f->prev);
	free(f->dgrp);
	free(f->maps);
	free(f->rings);
	free(f);
}

static void migrate_free(struct vdpamap *h)
{
	if (!h->mig)
		return;
	while (h->mig->flips) {
		struct vdm_flip *f = h->mig->flips;

		h->mig->flips = f->next;
		vdm_flip_free(f);
	}
	dirty_free(h);
	free(h->mig);
	h->mig = NULL;
	vdm_hook_set(h, VDM_HOOK_MIGRATE, NULL);
}

static const struct vdm_hook_ops migrate_hooks = {
	.free = migrate_free,
};

struct vdm_migrate *vdm_migrate_get(struct vdpamap *h)
{
	struct vdm_migrate *mig = h->mig;

	if (mig)
		return mig;
	mig = calloc(1, sizeof(*mig));
	if (!mig)
		return NULL;
	vdm_hook_set(h, VDM_HOOK_MIGRATE, &migrate_hooks);
	/* pairs with log_get()'s acquire load */
	__atomic_store_n(&h->mig, mig, __ATOMIC_RELEASE);
	return mig;
}

/* ---- reader side */
static struct vdm_dlog *log_get(struct vdpamap *h, uint32_t asid)
{
	struct vdm_migrate *mig = __atomic_load_n(&h->mig, __ATOMIC_ACQUIRE);
	struct vdm_dlog **logs =
		mig ? __atomic_load_n(&mig->dirty, __ATOMIC_ACQUIRE) : NULL;

	return logs ? __atomic_load_n(&logs[asid], __ATOMIC_ACQUIRE) : NULL;
}

/* First segment whose last page is >= p (nseg if none). */
static uint64_t seg_find(const struct vdm_dlog *lg, uint64_t p)
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
	uint64_t i = seg_find(lg, p0), cur = p0;

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
		uint64_t w = i / 64, sh = i % 64;
		uint64_t n = min_t(uint64_t, 64 - sh, j - i + 1);
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << sh;

		__atomic_fetch_or(&lg->bits[s->word + w], mask,
				  __ATOMIC_RELEASE);
		i += n;
	}
}

/* Put pages [a, b] (of every segment holding them) in the bitmap. */
static void deposit(struct vdm_dlog *lg, uint64_t a, uint64_t b)
{
	uint64_t i;

	for (i = seg_find(lg, a); i < lg->nseg && lg->seg[i].pfirst <= b;
	     i++) {
		struct vdm_dseg *s = &lg->seg[i];

		set_bits(lg, s, max_t(uint64_t, a, s->pfirst),
			 min_t(uint64_t, b, s->plast));
		if (lg->ring_n)
			__atomic_store_n(&s->pending, 1, __ATOMIC_RELEASE);
	}
}

static bool ring_push(struct vdm_dlog *lg, uint64_t page)
{
	uint64_t pos = __atomic_load_n(&lg->tail, __ATOMIC_RELAXED);

	for (;;) {
		struct vdm_dcell *c = &lg->ring[pos & (lg->ring_n - 1)];
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (__atomic_compare_exchange_n(&lg->tail, &pos, pos + 1,
							true, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				__atomic_store_n(&c->page, page,
						 __ATOMIC_RELAXED);
				__atomic_store_n(&c->seq, pos + 1,
						 __ATOMIC_RELEASE);
				return true;
			}
		} else if (dif < 0) {
			return false;		/* full */
		} else {
			pos = __atomic_load_n(&lg->tail, __ATOMIC_RELAXED);
		}
	}
}

/* Single consumer (harvest mutex held). */
static bool ring_pop(struct vdm_dlog *lg, uint64_t *page)
{
	struct vdm_dcell *c = &lg->ring[lg->head & (lg->ring_n - 1)];

	if (__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != lg->head + 1)
		return false;	/* empty, or a producer mid-write */
	*page = __atomic_load_n(&c->page, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, lg->head + lg->ring_n, __ATOMIC_RELEASE);
	lg->head++;
	return true;
}

static int mark(struct vdm_dlog *lg, uint64_t first, uint64_t last)
{
	uint64_t p0 = first >> lg->shift, p1 = last >> lg->shift, p, i;

	if (!covered(lg, p0, p1))
		return -ERANGE;
	if (lg->ring_n) {
		for (p = p0; p <= p1; p++) {
			if (ring_push(lg, p))
				continue;
			deposit(lg, p, p1);
			__atomic_fetch_add(&lg->overflows, p1 - p + 1,
					   __ATOMIC_RELAXED);
			break;
		}
		return 0;
	}
	for (i = seg_find(lg, p0); i < lg->nseg && lg->seg[i].pfirst <= p1;
	     i++) {
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
	lg = log_get(h, asid);
	if (lg) {
		r = mark(lg, iova, iova + len - 1);
		tsan_release(lg);
	} else {
		r = -ENOENT;
	}
	urcu_bp_read_unlock();
	return r;
}

/* ---- harvest */
struct sink {
	bool region;
	uint32_t region_id;
	uint32_t shift;
	uint64_t base;			/* bytes: iova or region offset */
	uint64_t size;
	uint64_t *out;
	uint64_t found;
};

/* Set output bits [i, j] (page indexes from base). */
static void out_bits(struct sink *k, uint64_t i, uint64_t j)
{
	while (i <= j) {
		uint64_t w = i / 64, sh = i % 64;
		uint64_t n = min_t(uint64_t, 64 - sh, j - i + 1);
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << sh;

		k->found += (uint64_t)__builtin_popcountll(mask & ~k->out[w]);
		k->out[w] |= mask;
		i += n;
	}
}

/* OR word v, whose bit 0 is output page o (o may be negative: the bits
 * below -o are zero by the caller's mask), into the output. */
static void out_word(struct sink *k, int64_t o, uint64_t v)
{
	uint64_t w, sh, lo, hi;

	if (o < 0) {
		v >>= -o;
		o = 0;
	}
	w = (uint64_t)o / 64;
	sh = (uint64_t)o % 64;
	lo = v << sh;
	hi = sh ? v >> (64 - sh) : 0;
	k->found += (uint64_t)__builtin_popcountll(lo & ~k->out[w]);
	k->out[w] |= lo;
	if (hi) {
		k->found += (uint64_t)__builtin_popcountll(hi & ~k->out[w + 1]);
		k->out[w + 1] |= hi;
	}
}

/* Bytes of page p inside segment s: [*b0, *b1]. */
static void page_bytes(const struct sink *k, const struct vdm_dseg *s,
		       uint64_t p, uint64_t *b0, uint64_t *b1)
{
	uint64_t f = p << k->shift, l = f + ((1ULL << k->shift) - 1);

	*b0 = max_t(uint64_t, f, s->iova);
	*b1 = min_t(uint64_t, l, s->iova + s->len - 1);
}

/* Segment pages [*a, *b] that the sink covers; false if none. */
static bool sink_pages(const struct sink *k, const struct vdm_dseg *s,
		       uint64_t *a, uint64_t *b)
{
	uint64_t lo, hi;

	if (!k->region) {
		lo = k->base >> k->shift;
		hi = lo + (k->size >> k->shift) - 1;
	} else {
		uint64_t r0 = k->base, r1 = k->base + k->size - 1;
		uint64_t s1 = s->roff + s->len - 1;

		if (s->region_id != k->region_id || r1 < s->roff || r0 > s1)
			return false;
		/* the segment's bytes whose region offsets are in range */
		lo = (s->iova + (max_t(uint64_t, r0, s->roff) - s->roff)) >>
		     k->shift;
		hi = (s->iova + (min_t(uint64_t, r1, s1) - s->roff)) >>
		     k->shift;
	}
	*a = max_t(uint64_t, lo, s->pfirst);
	*b = min_t(uint64_t, hi, s->plast);
	return *a <= *b;
}

/* Report page p of segment s.  Returns false if (part of) it lies outside
 * the sink and must stay in the log. */
static bool sink_page(struct sink *k, const struct vdm_dseg *s, uint64_t p)
{
	uint64_t b0, b1, r0, r1, lo;
	bool all = true;

	if (!k->region) {
		lo = k->base >> k->shift;
		if (p < lo || p - lo >= (k->size >> k->shift))
			return false;
		out_bits(k, p - lo, p - lo);
		return true;
	}
	if (s->region_id != k->region_id)
		return false;
	page_bytes(k, s, p, &b0, &b1);
	r0 = s->roff + (b0 - s->iova);
	r1 = s->roff + (b1 - s->iova);
	if (r0 < k->base) {
		r0 = k->base;
		all = false;
	}
	if (r1 > k->base + k->size - 1) {
		r1 = k->base + k->size - 1;
		all = false;
	}
	if (r0 <= r1)
		out_bits(k, (r0 - k->base) >> k->shift,
			 (r1 - k->base) >> k->shift);
	return all;
}

/* Get and clear the bits of pages [a, b] of segment s into the sink. */
static void scan(struct vdm_dlog *lg, const struct vdm_dseg *s, uint64_t a,
		 uint64_t b, struct sink *k)
{
	uint64_t i = a - s->pfirst, j = b - s->pfirst;
	uint64_t basep = k->base >> k->shift;

	while (i <= j) {
		uint64_t w = i / 64, sh = i % 64;
		uint64_t n = min_t(uint64_t, 64 - sh, j - i + 1);
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << sh;
		uint64_t *wp = &lg->bits[s->word + w];
		uint64_t v = __atomic_load_n(wp, __ATOMIC_RELAXED);
		uint64_t p0 = s->pfirst + w * 64;

		i += n;
		if (!(v & mask))
			continue;
		if (mask == ~0ULL)
			v = __atomic_exchange_n(wp, 0, __ATOMIC_ACQUIRE);
		else
			v = __atomic_fetch_and(wp, ~mask, __ATOMIC_ACQUIRE) &
			    mask;
		if (!k->region) {
			out_word(k, (int64_t)(p0 - basep), v);
			continue;
		}
		while (v) {
			uint64_t p = p0 + (uint64_t)__builtin_ctzll(v);

			v &= v - 1;
			if (!sink_page(k, s, p))
				deposit(lg, p, p);
		}
	}
}

static void drain(struct vdm_dlog *lg, struct sink *k)
{
	uint64_t n, p, i;

	for (n = 0; n < lg->ring_n && ring_pop(lg, &p); n++) {
		bool kept = false;

		for (i = seg_find(lg, p);
		     i < lg->nseg && lg->seg[i].pfirst <= p; i++)
			if (!sink_page(k, &lg->seg[i], p))
				kept = true;
		if (kept)
			deposit(lg, p, p);
	}
}

static void harvest(struct vdm_dlog *lg, struct sink *k)
{
	uint64_t i, a, b;

	pthread_mutex_lock(&lg->harvest);
	if (lg->ring_n)
		drain(lg, k);
	for (i = 0; i < lg->nseg; i++) {
		struct vdm_dseg *s = &lg->seg[i];

		if (!sink_pages(k, s, &a, &b))
			continue;
		if (lg->ring_n) {
			if (!__atomic_exchange_n(&s->pending, 0,
						 __ATOMIC_ACQUIRE))
				continue;
			scan(lg, s, a, b, k);
			/* bits outside the range wait for another harvest */
			if (a != s->pfirst || b != s->plast || k->region)
				__atomic_store_n(&s->pending, 1,
						 __ATOMIC_RELEASE);
		} else {
			scan(lg, s, a, b, k);
		}
	}
	pthread_mutex_unlock(&lg->harvest);
}

static int harvest_common(struct vdpamap *h, uint32_t asid, struct sink *k,
			  uint64_t bitmap_bytes, uint64_t *ret_dirty)
{
	struct vdm_dlog *lg;
	uint64_t pages;
	int r = 0;

	if (!h)
		return -EINVAL;
	if (h->fork_gen != vdm_fork_gen())
		return -ECHILD;
	if (!k->out || asid >= h->info.nr_as || !k->size ||
	    k->base + (k->size - 1) < k->base) {
		vdm_err(h, "dirty harvest: asid %u [0x%llx, +0x%llx) bitmap %p: "
		       "asid out of range (%u), size 0, wrapping or no bitmap",
		       asid, (unsigned long long)k->base,
		       (unsigned long long)k->size, (void *)k->out,
		       h->info.nr_as);
		return -EINVAL;
	}
	urcu_bp_read_lock();
	lg = log_get(h, asid);
	if (!lg) {
		vdm_err(h, "dirty harvest: asid %u is not logging", asid);
		r = -ENOENT;
		goto out;
	}
	k->shift = lg->shift;
	pages = k->size >> lg->shift;
	if (((k->base | k->size) & ((1ULL << lg->shift) - 1)) ||
	    bitmap_bytes / 8 < (pages + 63) / 64) {
		vdm_err(h, "dirty harvest [0x%llx, +0x%llx): not aligned to "
		       "page size 0x%llx, or bitmap of %llu bytes < %llu",
		       (unsigned long long)k->base,
		       (unsigned long long)k->size,
		       1ULL << lg->shift, (unsigned long long)bitmap_bytes,
		       (unsigned long long)((pages + 63) / 64 * 8));
		r = -EINVAL;
		goto out;
	}
	if (k->region) {
		uint64_t i;

		for (i = 0; i < lg->nseg; i++)
			if (lg->seg[i].region_id == k->region_id)
				break;
		if (i == lg->nseg) {
			vdm_err(h, "dirty harvest: no logged range of asid %u "
			       "maps region %u", asid, k->region_id);
			r = -ENOENT;
			goto out;
		}
	}
	harvest(lg, k);
	if (ret_dirty)
		*ret_dirty = k->found;
out:
	if (lg)
		tsan_release(lg);
	urcu_bp_read_unlock();
	return r;
}

VDPAMAP_API int vdpamap_dirty_harvest(struct vdpamap *h, uint32_t asid,
				      uint64_t iova, uint64_t size,
				      uint64_t *bitmap, uint64_t bitmap_bytes,
				      uint64_t *ret_dirty)
{
	struct sink k = { .base = iova, .size = size, .out = bitmap };

	return harvest_common(h, asid, &k, bitmap_bytes, ret_dirty);
}

VDPAMAP_API int vdpamap_dirty_harvest_region(struct vdpamap *h, uint32_t asid,
					     uint32_t region_id,
					     uint64_t offset, uint64_t size,
					     uint64_t *bitmap,
					     uint64_t bitmap_bytes,
					     uint64_t *ret_dirty)
{
	struct sink k = { .region = true, .region_id = region_id,
			  .base = offset, .size = size, .out = bitmap };

	return harvest_common(h, asid, &k, bitmap_bytes, ret_dirty);
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
	lg = log_get(h, asid);
	if (lg) {
		memset(info, 0, sizeof(*info));
		info->flags = lg->flags;
		info->nr_ranges = (uint32_t)lg->nseg;
		info->page_size = 1ULL << lg->shift;
		info->pages = lg->pages;
		info->bitmap_bytes = lg->nwords * 8;
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

/* ---- start / stop (handle mutex held) */
static int cmp_range(const void *a, const void *b)
{
	const struct vdpamap_dirty_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Cut [first, last] at the entries of asid into segments (count only when
 * seg is NULL). */
static uint64_t cut(struct vdpamap *h, uint32_t asid, uint32_t shift,
		    uint64_t first, uint64_t last, struct vdm_dseg *seg)
{
	struct itree_node *n;
	uint64_t k = 0;

	for (n = itree_iter_first(&h->map->as[asid].iova, first, last); n;
	     n = itree_iter_next(n, first, last), k++) {
		struct vdm_entry *e = vdm_entry_of(n);
		uint64_t a = max_t(uint64_t, first, n->first);
		uint64_t b = min_t(uint64_t, last, n->last);

		if (!seg)
			continue;
		seg[k] = (struct vdm_dseg){
			.iova = a,
			.len = b - a + 1,
			.pfirst = a >> shift,
			.plast = b >> shift,
			.region_id = e->region->id,
			.roff = e->hva - (uintptr_t)e->region->r.hva +
				(a - n->first),
		};
	}
	return k;
}

static int build(struct vdpamap *h, uint32_t asid,
		 const struct vdpamap_dirty_opts *o, uint32_t shift,
		 struct vdm_dlog *lg)
{
	const struct vdpamap_dirty_range *rg = OPTS_GET(o, ranges, NULL);
	uint32_t nr = OPTS_GET(o, nr_ranges, 0), i;
	struct vdpamap_dirty_range *sorted = NULL, all;
	uint64_t n = 0, w = 0;

	if (!rg) {
		all = (struct vdpamap_dirty_range){ 0, 0 };
		rg = &all;
		nr = 1;
	} else {
		sorted = calloc(nr, sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, rg, nr * sizeof(*sorted));
		qsort(sorted, nr, sizeof(*sorted), cmp_range);
		for (i = 0; i < nr; i++) {
			const struct vdpamap_dirty_range *r = &sorted[i];

			if (!r->size || r->iova + (r->size - 1) < r->iova) {
				vdm_err(h, "dirty start: range [0x%llx, "
				       "+0x%llx): empty or wraps",
				       (unsigned long long)r->iova,
				       (unsigned long long)r->size);
				free(sorted);
				return -EINVAL;
			}
			if (i && r->iova <= sorted[i - 1].iova +
						    (sorted[i - 1].size - 1)) {
				vdm_err(h, "dirty start: ranges at 0x%llx and "
				       "0x%llx overlap",
				       (unsigned long long)sorted[i - 1].iova,
				       (unsigned long long)r->iova);
				free(sorted);
				return -EEXIST;
			}
			if (!vdm_range_mapped(h, asid, r->iova, r->size)) {
				vdm_err(h, "dirty start: range [0x%llx, "
				       "+0x%llx) is not entirely mapped in "
				       "asid %u", (unsigned long long)r->iova,
				       (unsigned long long)r->size, asid);
				free(sorted);
				return -ENOENT;
			}
		}
		rg = sorted;
	}
	for (i = 0; i < nr; i++)
		n += rg == &all ? cut(h, asid, shift, 0, UINT64_MAX, NULL) :
				  cut(h, asid, shift, rg[i].iova,
				      rg[i].iova + rg[i].size - 1, NULL);
	if (!n) {
		vdm_err(h, "dirty start: asid %u has nothing mapped to log",
		       asid);
		free(sorted);
		return -ENOENT;
	}
	lg->seg = calloc(n, sizeof(*lg->seg));
	if (!lg->seg) {
		free(sorted);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		lg->nseg += rg == &all ?
			cut(h, asid, shift, 0, UINT64_MAX, lg->seg + lg->nseg) :
			cut(h, asid, shift, rg[i].iova,
			    rg[i].iova + rg[i].size - 1, lg->seg + lg->nseg);
	free(sorted);
	for (i = 0; i < lg->nseg; i++) {
		uint64_t np = lg->seg[i].plast - lg->seg[i].pfirst + 1;

		lg->seg[i].word = w;
		w += (np + 63) / 64;
		lg->pages += np;
	}
	lg->nwords = w;
	lg->bits = aligned_alloc(CACHELINE,
				 (w * 8 + CACHELINE - 1) / CACHELINE *
					 CACHELINE);
	if (!lg->bits)
		return -ENOMEM;
	memset(lg->bits, 0, w * 8);
	return 0;
}

VDPAMAP_API int vdpamap_dirty_start(struct vdpamap *h, uint32_t asid,
				    const struct vdpamap_dirty_opts *opts)
{
	uint32_t flags = OPTS_GET(opts, flags, 0);
	uint32_t ring = OPTS_GET(opts, ring_entries, 0);
	uint64_t ps = OPTS_GET(opts, page_size, 0);
	struct vdm_dlog *lg = NULL;
	uint64_t i;
	int r;

	r = vdm_enter(h, false);
	if (r < 0)
		return r;
	r = OPTS_CHECK(h, "dirty start", opts, vdpamap_dirty_opts);
	if (r < 0)
		goto out;
	if (!ps)
		ps = h->page_size;
	if (!ring)
		ring = RING_DEFAULT;
	if (asid >= h->info.nr_as || (flags & ~VDPAMAP_DIRTY_RING) ||
	    ps < 512 || (ps & (ps - 1)) || ring < RING_MIN ||
	    ring > RING_MAX || (ring & (ring - 1)) ||
	    (OPTS_GET(opts, nr_ranges, 0) && !OPTS_GET(opts, ranges, NULL)) ||
	    (!OPTS_GET(opts, nr_ranges, 0) && OPTS_GET(opts, ranges, NULL))) {
		vdm_err(h, "dirty start: asid %u, flags 0x%x, page size 0x%llx, "
		       "ring %u entries or ranges invalid", asid, flags,
		       (unsigned long long)ps, ring);
		r = -EINVAL;
		goto out;
	}
	if (!vdm_migrate_get(h)) {
		r = -ENOMEM;
		goto out;
	}
	if (!h->mig->dirty) {
		struct vdm_dlog **logs = calloc(h->info.nr_as, sizeof(*logs));

		if (!logs) {
			r = -ENOMEM;
			goto out;
		}
		__atomic_store_n(&h->mig->dirty, logs, __ATOMIC_RELEASE);
	}
	if (h->mig->dirty[asid]) {
		vdm_err(h, "dirty start: asid %u is logging already", asid);
		r = -EBUSY;
		goto out;
	}
	lg = aligned_alloc(CACHELINE, sizeof(*lg));
	if (!lg) {
		r = -ENOMEM;
		goto out;
	}
	memset(lg, 0, sizeof(*lg));
	pthread_mutex_init(&lg->harvest, NULL);
	lg->flags = flags;
	lg->shift = (uint32_t)__builtin_ctzll(ps);
	r = build(h, asid, opts, lg->shift, lg);
	if (r < 0)
		goto out;
	if (flags & VDPAMAP_DIRTY_RING) {
		lg->ring = aligned_alloc(CACHELINE, ring * sizeof(*lg->ring));
		if (!lg->ring) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < ring; i++)
			lg->ring[i] = (struct vdm_dcell){ .seq = i };
		lg->ring_n = ring;
	}
	vdm_info(h, "dirty log of asid %u: %llu ranges, %llu pages of %llu "
		"bytes, bitmap %llu bytes%s", asid,
		(unsigned long long)lg->nseg, (unsigned long long)lg->pages,
		(unsigned long long)ps, (unsigned long long)lg->nwords * 8,
		lg->ring_n ? ", ring mode" : "");
	__atomic_store_n(&h->mig->dirty[asid], lg, __ATOMIC_RELEASE);
	lg = NULL;
	r = 0;
out:
	log_free(lg);
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
		vdm_err(h, "dirty stop: asid %u out of range (%u address "
		       "spaces)", asid, h->info.nr_as);
		r = -EINVAL;
	} else if (!h->mig || !h->mig->dirty || !h->mig->dirty[asid]) {
		vdm_err(h, "dirty stop: asid %u is not logging", asid);
		r = -ENOENT;
	} else {
		lg = h->mig->dirty[asid];
		__atomic_store_n(&h->mig->dirty[asid], NULL, __ATOMIC_RELEASE);
		urcu_bp_synchronize_rcu();
		tsan_acquire(lg);
		log_free(lg);
	}
	vdm_leave(h);
	return r;
}
