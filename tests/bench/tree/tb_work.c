// SPDX-License-Identifier: BSD-3-Clause
/* The tree benchmark's workload, heap and statistics (tb_work.h). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "tb_work.h"

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r) /* splitmix64 */
{
	uint64_t x = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static void shuffle(struct rng *r, uint32_t *v, size_t n)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = rnd(r) % i;
		uint32_t tmp = v[i - 1];

		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

void tb_work_free(struct tb_work *w)
{
	if (!w)
		return;
	free(w->ma);
	free(w->mb);
	free(w->ins);
	free(w->rem);
	free(w->hit);
	free(w->miss);
	free(w->rev);
	free(w->rev_b);
	free(w->hit_ans);
	free(w->hit_b_ans);
	free(w->rev_ans);
	free(w->rev_b_ans);
	free(w);
}

/* hvas laid out in the order of idx, a page apart (so no two touch) */
static void lay_hvas(struct tb_map *m, const uint32_t *idx, size_t n)
{
	uint64_t hva = UINT64_C(0x7f0000000000);
	size_t i;

	for (i = 0; i < n; i++) {
		m[idx[i]].hva = hva;
		hva += m[idx[i]].size + TB_PAGE;
	}
}

static void make_queries(struct tb_work *w, struct rng *r)
{
	size_t i;

	for (i = 0; i < w->nq; i++) {
		const struct tb_map *x = &w->ma[rnd(r) % w->n];
		uint64_t off = rnd(r) % x->size, gap;
		size_t j;

		w->hit[i] = x->iova + off;
		w->hit_ans[i] = x->hva + off;
		w->rev[i] = x->hva + off;
		w->rev_ans[i] = x->iova + off;
		j = (size_t)(x - w->ma);
		w->hit_b_ans[i] = w->mb[j].hva + off;
		w->rev_b[i] = w->mb[j].hva + off;
		w->rev_b_ans[i] = w->mb[j].iova + off;
		/* past the last map, the gap is as large as the space */
		gap = j + 1 < w->n ? w->ma[j + 1].iova - (x->iova + x->size) :
				     TB_BIG_GAP;
		w->miss[i] = x->iova + x->size + rnd(r) % gap;
	}
}

struct tb_work *tb_work_new(size_t n, size_t nq, uint64_t seed)
{
	struct tb_work *w = calloc(1, sizeof(*w));
	struct rng r = { .s = seed };
	uint64_t iova = 0;
	size_t i;

	if (!w)
		return NULL;
	w->n = n;
	w->nq = nq;
	w->ma = calloc(n, sizeof(*w->ma));
	w->mb = calloc(n, sizeof(*w->mb));
	w->ins = calloc(n, sizeof(*w->ins));
	w->rem = calloc(n, sizeof(*w->rem));
	w->hit = calloc(nq, sizeof(uint64_t));
	w->miss = calloc(nq, sizeof(uint64_t));
	w->rev = calloc(nq, sizeof(uint64_t));
	w->rev_b = calloc(nq, sizeof(uint64_t));
	w->hit_ans = calloc(nq, sizeof(uint64_t));
	w->hit_b_ans = calloc(nq, sizeof(uint64_t));
	w->rev_ans = calloc(nq, sizeof(uint64_t));
	w->rev_b_ans = calloc(nq, sizeof(uint64_t));
	if (!w->ma || !w->mb || !w->ins || !w->rem || !w->hit || !w->miss ||
	    !w->rev || !w->rev_b || !w->hit_ans || !w->hit_b_ans ||
	    !w->rev_ans || !w->rev_b_ans) {
		tb_work_free(w);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		w->ma[i].iova = iova;
		w->ma[i].size = (1 + rnd(&r) % 16) * TB_PAGE;
		w->ma[i].perm = 1 + (uint32_t)(rnd(&r) % 3);
		iova += w->ma[i].size;
		iova += i == n / 2 ? TB_BIG_GAP : (1 + rnd(&r) % 16) * TB_PAGE;
		w->ins[i] = (uint32_t)i;
		w->rem[i] = (uint32_t)i;
	}
	memcpy(w->mb, w->ma, n * sizeof(*w->mb));
	lay_hvas(w->ma, w->ins, n);
	shuffle(&r, w->rem, n);
	lay_hvas(w->mb, w->rem, n); /* a shuffled order of its own */
	shuffle(&r, w->rem, n);
	make_queries(w, &r);
	/* the 1 MiB gap after map n/2 is the first that fits 1 MiB; one
	 * page more fits only past the last map */
	w->mid = TB_BIG_GAP;
	w->mid_ans = w->ma[n / 2].iova + w->ma[n / 2].size;
	w->end = TB_BIG_GAP + TB_PAGE;
	w->end_ans = w->ma[n - 1].iova + w->ma[n - 1].size;
	return w;
}

size_t tb_heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

void tb_heap_setup(void)
{
	/* call_rcu's thread frees into the arena the writer allocates
	 * from, so that mallinfo2() (the main arena's) sees both */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
}

void tb_heap_prefault(size_t bytes)
{
	size_t piece = 1 << 20, n = bytes / piece + 1, i;
	char **v = calloc(n, sizeof(*v));

	if (!v)
		return;
	for (i = 0; i < n; i++) {
		v[i] = malloc(piece);
		if (v[i])
			memset(v[i], 1, piece);
	}
	for (i = n; i-- > 0;)
		free(v[i]);
	free(v);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double tb_median(double *v, int n, double *spread)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	if (spread)
		*spread = v[0] > 0 ? v[n - 1] / v[0] : 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
