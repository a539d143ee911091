// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty_harvest: get and clear a log's bits into the caller's bitmap, in
 * IOVA terms or in a region's (RAM block) terms: bit n % 64 of word n / 64
 * is the page at base + n * page size, VFIO's dirty-bitmap layout.
 *
 * Harvests of one log are serialised by the log's own mutex (never the
 * handle's: a long transaction does not stall migration).  They drain the
 * ring (at most one ring's worth, so producers cannot starve them), put
 * pages of the harvested range into the caller's bitmap and the others
 * back into the log, then get and clear the bitmap words of the range
 * (exchange for whole words, fetch-and for partial ones; a relaxed load
 * skips zero words: a bit set after it is the next harvest's).
 */
#include <urcu/urcu-bp.h>

#include "migrate/migrate.h"

#include "core/tsan.h"

/* Where harvested pages go: the caller's bitmap and its range. */
struct sink {
	bool region;
	uint32_t region_id;
	uint32_t shift;
	uint64_t base; /* bytes: iova or region offset */
	uint64_t size;
	uint64_t *out;
	uint64_t found;
};

/* Set output bits [i, j] (page indexes from base). */
static void out_bits(struct sink *k, uint64_t i, uint64_t j)
{
	while (i <= j) {
		uint64_t w = i / VDM_WORD_BITS, sh = i % VDM_WORD_BITS;
		uint64_t n = min_t(uint64_t, VDM_WORD_BITS - sh, j - i + 1);
		uint64_t mask = vdm_bits_mask(n, sh);

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
	w = (uint64_t)o / VDM_WORD_BITS;
	sh = (uint64_t)o % VDM_WORD_BITS;
	lo = v << sh;
	hi = sh ? v >> (VDM_WORD_BITS - sh) : 0;
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
		uint64_t w = i / VDM_WORD_BITS, sh = i % VDM_WORD_BITS;
		uint64_t n = min_t(uint64_t, VDM_WORD_BITS - sh, j - i + 1);
		uint64_t mask = vdm_bits_mask(n, sh);
		uint64_t *wp = &lg->bits[s->word + w];
		uint64_t v = __atomic_load_n(wp, __ATOMIC_RELAXED);
		uint64_t p0 = s->pfirst + w * VDM_WORD_BITS;

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
				vdm_dlog_deposit(lg, p, p);
		}
	}
}

/* Ring mode: the ring's pages into the sink, those outside it back into
 * the bitmap. */
static void drain(struct vdm_dlog *lg, struct sink *k)
{
	uint64_t n, p, i;

	for (n = 0; n < lg->ring_n && vdm_dring_pop(lg, &p); n++) {
		bool kept = false;

		for (i = vdm_dlog_seg_find(lg, p);
		     i < lg->nseg && lg->seg[i].pfirst <= p; i++)
			if (!sink_page(k, &lg->seg[i], p))
				kept = true;
		if (kept)
			vdm_dlog_deposit(lg, p, p);
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

/* Does a segment of lg map region id? */
static bool logs_region(const struct vdm_dlog *lg, uint32_t id)
{
	uint64_t i;

	for (i = 0; i < lg->nseg; i++)
		if (lg->seg[i].region_id == id)
			return true;
	return false;
}

/* The sink's range fits lg's pages and the caller's bitmap_bytes. */
static int sink_check(struct vdpamap *h, const struct vdm_dlog *lg,
		      const struct sink *k, uint64_t bitmap_bytes)
{
	uint64_t words = vdm_words_of(k->size >> lg->shift);

	if (((k->base | k->size) & ((1ULL << lg->shift) - 1)) ||
	    bitmap_bytes / sizeof(*k->out) < words) {
		vdm_err(h,
			"dirty harvest [0x%llx, +0x%llx): not aligned to "
			"page size 0x%llx, or bitmap of %llu bytes < %llu",
			(unsigned long long)k->base,
			(unsigned long long)k->size, 1ULL << lg->shift,
			(unsigned long long)bitmap_bytes,
			(unsigned long long)(words * sizeof(*k->out)));
		return -EINVAL;
	}
	return 0;
}

static int harvest_common(struct vdpamap *h, uint32_t asid, struct sink *k,
			  uint64_t bitmap_bytes, uint64_t *ret_dirty)
{
	struct vdm_dlog *lg;
	int r;

	if (!h)
		return -EINVAL;
	if (h->fork_gen != vdm_fork_gen())
		return -ECHILD;
	if (!k->out || asid >= h->info.nr_as || !k->size ||
	    k->base + (k->size - 1) < k->base) {
		vdm_err(h,
			"dirty harvest: asid %u [0x%llx, +0x%llx) bitmap %p: "
			"asid out of range (%u), size 0, wrapping or no bitmap",
			asid, (unsigned long long)k->base,
			(unsigned long long)k->size, (void *)k->out,
			h->info.nr_as);
		return -EINVAL;
	}
	urcu_bp_read_lock();
	lg = vdm_dlog_get(h, asid);
	if (!lg) {
		vdm_err(h, "dirty harvest: asid %u is not logging", asid);
		r = -ENOENT;
		goto unlock;
	}
	k->shift = lg->shift;
	r = sink_check(h, lg, k, bitmap_bytes);
	if (r < 0)
		goto release;
	if (k->region && !logs_region(lg, k->region_id)) {
		vdm_err(h,
			"dirty harvest: no logged range of asid %u maps "
			"region %u",
			asid, k->region_id);
		r = -ENOENT;
		goto release;
	}
	harvest(lg, k);
	if (ret_dirty)
		*ret_dirty = k->found;
release:
	tsan_release(lg);
unlock:
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
	struct sink k = { .region = true,
			  .region_id = region_id,
			  .base = offset,
			  .size = size,
			  .out = bitmap };

	return harvest_common(h, asid, &k, bitmap_bytes, ret_dirty);
}
