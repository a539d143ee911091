// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_tree: the IOTLB mirror's interval tree (src/iova_tree.c) against
 * the obvious linear scan, at 10^3 .. 10^6 entries, in one run:
 *  - lookup: iova -> entry (itree_lookup) vs scanning an array of entries;
 *  - reverse: hva -> entry, in a second tree keyed by hva (the library's
 *    hva tree: hva order is not iova order) vs scanning;
 *  - hole search: lowest free IOVA range of a size that only fits near the
 *    end (itree_find_hole, O(log n)) vs walking the sorted array's gaps.
 * Entries are 4 KiB..64 KiB with gaps of 0..16 KiB; half the lookups hit
 * an entry, half a gap.  Figures are ns per operation, medians of 5 runs;
 * the ratio is linear / tree.
 *
 *   bench_tree [--max N] [--dat FILE]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iova_tree/iova_tree.h"

struct ent {
	struct itree_node in; /* [iova, iova + size - 1] */
	struct itree_node hn; /* [hva, hva + size - 1] */
	uint64_t iova, size, hva;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t x = (rng += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median5(double *v)
{
	qsort(v, 5, sizeof(*v), cmp_d);
	return v[2];
}

static volatile uint64_t sink;

/* ---- the baseline: what a mirror without a tree would do */
static const struct ent *lin_lookup(const struct ent *e, size_t n, uint64_t p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].iova <= p && p - e[i].iova < e[i].size)
			return &e[i];
	return NULL;
}

static const struct ent *lin_reverse(const struct ent *e, size_t n,
				     uint64_t hva)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].hva <= hva && hva - e[i].hva < e[i].size)
			return &e[i];
	return NULL;
}

/* e sorted by iova: the first gap of size bytes */
static int lin_hole(const struct ent *e, size_t n, uint64_t size, uint64_t *ret)
{
	uint64_t next = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].iova - next >= size) {
			*ret = next;
			return 0;
		}
		next = e[i].iova + e[i].size;
	}
	*ret = next;
	return 0;
}

struct row {
	size_t n;
	double look_t, look_l, rev_t, rev_l, hole_t, hole_l;
};

static void run(size_t n, struct row *row)
{
	struct ent *e = calloc(n, sizeof(*e));
	size_t *perm = calloc(n, sizeof(*perm));
	uint64_t *q = NULL, *qh = NULL, iova = 0, hva, big;
	struct itree it = ITREE_INIT, ht = ITREE_INIT;
	size_t nq_t = 200000, nq_l, i, k;
	double t[5], l[5];
	int rep;

	if (!e || !perm) {
		fprintf(stderr, "bench_tree: out of memory\n");
		exit(1);
	}
	/* iova order: packed with small gaps; hva order: shuffled */
	for (i = 0; i < n; i++) {
		e[i].size = (1 + rnd() % 16) * 4096;
		e[i].iova = iova;
		iova += e[i].size + (rnd() % 5) * 4096;
		perm[i] = i;
	}
	for (i = n; i > 1; i--) {
		size_t j = rnd() % i, tmp = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = tmp;
	}
	hva = 0x7f0000000000ULL;
	for (i = 0; i < n; i++) {
		struct ent *x = &e[perm[i]];

		x->hva = hva;
		hva += x->size + 4096;
	}
	for (i = 0; i < n; i++) {
		e[i].in.first = e[i].iova;
		e[i].in.last = e[i].iova + e[i].size - 1;
		itree_insert(&it, &e[i].in);
		e[i].hn.first = e[i].hva;
		e[i].hn.last = e[i].hva + e[i].size - 1;
		itree_insert(&ht, &e[i].hn);
	}
	if (itree_check(&it) || itree_check(&ht)) {
		fprintf(stderr, "bench_tree: tree invariants broken\n");
		exit(1);
	}
	/* the linear scan gets fewer queries: same work per run, roughly */
	nq_l = 20000000 / n;
	if (nq_l < 20)
		nq_l = 20;
	if (nq_l > nq_t)
		nq_l = nq_t;
	q = malloc(nq_t * sizeof(*q));
	qh = malloc(nq_t * sizeof(*qh));
	for (i = 0; i < nq_t; i++) {
		struct ent *x = &e[rnd() % n];

		/* half inside an entry, half just past one (a gap or the
		 * next entry's start) */
		q[i] = x->iova + (rnd() % 2 ? rnd() % x->size : x->size);
		qh[i] = x->hva + (rnd() % 2 ? rnd() % x->size : x->size);
	}

	for (rep = 0; rep < 5; rep++) {
		double t0 = now_ns();
		uint64_t s = 0;

		for (k = 0; k < nq_t; k++) {
			struct itree_node *nd = itree_lookup(&it, q[k]);

			s += nd && nd->last >= q[k];
		}
		t[rep] = (now_ns() - t0) / (double)nq_t;
		t0 = now_ns();
		for (k = 0; k < nq_l; k++)
			s += !!lin_lookup(e, n, q[k]);
		l[rep] = (now_ns() - t0) / (double)nq_l;
		sink += s;
	}
	row->look_t = median5(t);
	row->look_l = median5(l);

	for (rep = 0; rep < 5; rep++) {
		double t0 = now_ns();
		uint64_t s = 0;

		for (k = 0; k < nq_t; k++)
			s += !!itree_iter_first(&ht, qh[k], qh[k]);
		t[rep] = (now_ns() - t0) / (double)nq_t;
		t0 = now_ns();
		for (k = 0; k < nq_l; k++)
			s += !!lin_reverse(e, n, qh[k]);
		l[rep] = (now_ns() - t0) / (double)nq_l;
		sink += s;
	}
	row->rev_t = median5(t);
	row->rev_l = median5(l);

	/* a hole bigger than every gap: it is past the last entry */
	big = (long)64 * 4096;
	for (rep = 0; rep < 5; rep++) {
		uint64_t r1 = 0, r2 = 0;
		size_t nh_t = 20000, nh_l = nq_l < 2000 ? nq_l : 2000;
		double t0 = now_ns();

		for (k = 0; k < nh_t; k++) {
			itree_find_hole(&it, 0, UINT64_MAX, big, 4096, &r1);
			sink += r1;
		}
		t[rep] = (now_ns() - t0) / (double)nh_t;
		t0 = now_ns();
		for (k = 0; k < nh_l; k++) {
			lin_hole(e, n, big, &r2);
			sink += r2;
		}
		l[rep] = (now_ns() - t0) / (double)nh_l;
		if (r1 != r2) {
			fprintf(stderr,
				"bench_tree: holes differ: 0x%llx vs "
				"0x%llx\n",
				(unsigned long long)r1, (unsigned long long)r2);
			exit(1);
		}
	}
	row->hole_t = median5(t);
	row->hole_l = median5(l);
	row->n = n;
	free(q);
	free(qh);
	free(perm);
	free(e);
}

int main(int argc, char **argv)
{
	size_t max = 1000000, n;
	const char *dat = NULL;
	struct row rows[8];
	int nr = 0, i;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dat") && i + 1 < argc)
			dat = argv[++i];
		else {
			fprintf(stderr, "usage: bench_tree [--max N] "
					"[--dat FILE]\n");
			return 2;
		}
	}
	for (n = 1000; n <= max && nr < 8; n *= 10)
		run(n, &rows[nr++]);

	printf("interval tree vs linear scan, ns per operation (median of 5); "
	       "ratio = linear / tree\n");
	printf("%9s | %8s %10s %8s | %8s %10s %8s | %8s %10s %8s\n", "entries",
	       "lookup", "linear", "ratio", "reverse", "linear", "ratio",
	       "hole", "linear", "ratio");
	for (i = 0; i < nr; i++)
		printf("%9zu | %8.1f %10.1f %7.0fx | %8.1f %10.1f %7.0fx | "
		       "%8.1f %10.1f %7.0fx\n",
		       rows[i].n, rows[i].look_t, rows[i].look_l,
		       rows[i].look_l / rows[i].look_t, rows[i].rev_t,
		       rows[i].rev_l, rows[i].rev_l / rows[i].rev_t,
		       rows[i].hole_t, rows[i].hole_l,
		       rows[i].hole_l / rows[i].hole_t);
	if (dat) {
		f = fopen(dat, "w");
		if (!f) {
			perror(dat);
			return 1;
		}
		fprintf(f, "# entries lookup_tree lookup_linear reverse_tree "
			   "reverse_linear hole_tree hole_linear (ns/op)\n");
		for (i = 0; i < nr; i++)
			fprintf(f, "%zu %.2f %.2f %.2f %.2f %.2f %.2f\n",
				rows[i].n, rows[i].look_t, rows[i].look_l,
				rows[i].rev_t, rows[i].rev_l, rows[i].hole_t,
				rows[i].hole_l);
		fclose(f);
	}
	return 0;
}
