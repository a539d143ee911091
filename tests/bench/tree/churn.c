// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_tree_churn: vIOMMU churn on the project's tree (issue 15 item 5,
 * issue 21's "readers keep at least 80% of their writer-free throughput").
 * 10^4 live 4 KiB maps at random pages of a 4 x 10^4-page IOVA space; one
 * writer unmaps a random live page and maps a random free one, each op
 * its own commit of both trees (IOVA mirror, hva index) as the library
 * makes it, what a commit replaced freed through call_rcu; two readers
 * translate random IOVAs with rt_read_lookup() inside urcu-bp's read lock
 * and check every answer (a page's hva is a fixed offset from its IOVA,
 * so a torn read shows).  Writer rates: none (the readers' baseline),
 * 10^3 and 10^4 ops/s, unthrottled.  Per rate: the writer's latency per
 * op (wall time, p50 and p99) and the readers' lookups per second, with
 * their ratio to the writer-free baseline of the same run.  Medians of
 * the runs; the rates' order alternates per run.
 *
 *   bench_tree_churn [--quick] [--runs N] [--secs S]
 * --quick: 3 runs of 0.2 s per rate (a smoke test).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "iova_tree/rtree.h"
#include "tb_work.h"

#define LIVE	 10000
#define SPACE	 (UINT64_C(4) * LIVE) /* pages */
#define HVA_OFF	 UINT64_C(0x7f0000000000)
#define NRATES	 4
#define MAX_RUNS 31

static const double rates[NRATES] = { 0, 1e3, 1e4, -1 }; /* -1: no limit */

struct shared {
	struct rtree it, ht;
	volatile int stop;
	volatile uint64_t bad;
};

struct reader {
	pthread_t th;
	struct shared *sh;
	uint64_t seed, ops;
};

static uint64_t rnd(uint64_t *s) /* splitmix64 */
{
	uint64_t x = (*s += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static void *c_alloc(void *ctx, size_t size)
{
	return malloc(size);
}

static void c_free(void *ctx, void *p)
{
	free(p);
}

/* as the library (src/mapping/view.c): the chain's first node carries
 * the rcu_head */
static void retired_cb(struct rcu_head *rh)
{
	struct rt_node *n =
		(struct rt_node *)((char *)rh - offsetof(struct rt_node, cb));

	while (n) {
		struct rt_node *next = n->rnext;

		free(n);
		n = next;
	}
}

static void c_retire(void *ctx, struct rt_node *chain)
{
	urcu_bp_call_rcu((struct rcu_head *)chain->cb, retired_cb);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct shared *sh = rd->sh;
	uint64_t ops = 0, s = rd->seed;

	while (!sh->stop) {
		int k;

		for (k = 0; k < 256; k++) {
			uint64_t p = (rnd(&s) % SPACE) * TB_PAGE + 123;
			struct rt_ent e;
			int r;

			urcu_bp_read_lock();
			r = rt_read_lookup(&sh->it, p, &e);
			urcu_bp_read_unlock();
			if (!r && (e.val != e.first + HVA_OFF ||
				   e.last != e.first + TB_PAGE - 1 ||
				   p - e.first >= TB_PAGE))
				sh->bad++;
		}
		ops += 256;
	}
	rd->ops = ops;
	return NULL;
}

/* the writer's side: which pages are live, to pick one of each kind */
struct pages {
	uint32_t live[LIVE];
	uint8_t used[SPACE];
	uint64_t seed;
};

static int map_page(struct shared *sh, uint32_t pg)
{
	uint64_t iova = (uint64_t)pg * TB_PAGE;
	struct rt_ent ie = { iova, iova + TB_PAGE - 1, iova + HVA_OFF, 3 };
	struct rt_ent he = { iova + HVA_OFF, iova + HVA_OFF + TB_PAGE - 1, iova,
			     0 };
	int r = rt_insert(&sh->it, &ie);

	if (!r) {
		r = rt_insert(&sh->ht, &he);
		if (r)
			rt_abort(&sh->it);
	}
	if (!r) {
		rt_commit(&sh->it);
		rt_commit(&sh->ht);
	}
	return r;
}

static int unmap_page(struct shared *sh, uint32_t pg)
{
	uint64_t iova = (uint64_t)pg * TB_PAGE;
	struct rt_ent e;
	int r = rt_remove(&sh->it, iova, 0, &e);

	if (!r) {
		r = rt_remove(&sh->ht, e.val, iova, NULL);
		if (r)
			rt_abort(&sh->it);
	}
	if (!r) {
		rt_commit(&sh->it);
		rt_commit(&sh->ht);
	}
	return r;
}

static uint32_t free_page(struct pages *pg)
{
	uint32_t p;

	do
		p = (uint32_t)(rnd(&pg->seed) % SPACE);
	while (pg->used[p]);
	return p;
}

static double ts_ns(const struct timespec *t)
{
	return (double)t->tv_sec * 1e9 + (double)t->tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double rps, done, p50, p99;
};

/* one rate for secs: the writer here, the readers in threads */
static void run_rate(struct shared *sh, struct pages *pg, double rate,
		     double secs, double *lat, size_t maxlat,
		     struct result *res)
{
	struct reader rd[2];
	struct timespec t0, t1, next, a, b;
	size_t nlat = 0;
	double el;
	int i;

	sh->stop = 0;
	for (i = 0; i < 2; i++) {
		rd[i] = (struct reader){ .sh = sh, .seed = rnd(&pg->seed) };
		if (pthread_create(&rd[i].th, NULL, reader_main, &rd[i])) {
			fprintf(stderr, "bench_tree_churn: pthread_create\n");
			exit(1);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	next = t0;
	do {
		if (rate != 0) {
			uint32_t k = (uint32_t)(rnd(&pg->seed) % LIVE);
			uint32_t old = pg->live[k], nw = free_page(pg);

			clock_gettime(CLOCK_MONOTONIC, &a);
			if (unmap_page(sh, old)) {
				fprintf(stderr, "bench_tree_churn: unmap\n");
				exit(1);
			}
			clock_gettime(CLOCK_MONOTONIC, &b);
			if (nlat < maxlat)
				lat[nlat++] = ts_ns(&b) - ts_ns(&a);
			pg->used[old] = 0;
			if (map_page(sh, nw)) {
				fprintf(stderr, "bench_tree_churn: map\n");
				exit(1);
			}
			clock_gettime(CLOCK_MONOTONIC, &a);
			if (nlat < maxlat)
				lat[nlat++] = ts_ns(&a) - ts_ns(&b);
			pg->used[nw] = 1;
			pg->live[k] = nw;
		}
		if (rate > 0) { /* two ops done: the next pair's start */
			long step = (long)(2e9 / rate);

			next.tv_nsec += step;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
					NULL);
		} else if (rate == 0) {
			usleep(10000);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (ts_ns(&t1) - ts_ns(&t0)) / 1e9;
	} while (el < secs);
	sh->stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(rd[i].th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (ts_ns(&t1) - ts_ns(&t0)) / 1e9;
	res->rps = (double)(rd[0].ops + rd[1].ops) / el;
	res->done = (double)nlat / el;
	res->p50 = res->p99 = 0;
	if (nlat) {
		qsort(lat, nlat, sizeof(*lat), cmp_d);
		res->p50 = lat[nlat / 2];
		res->p99 = lat[nlat * 99 / 100];
	}
	urcu_bp_barrier();
}

static void setup(struct shared *sh, struct pages *pg)
{
	struct rt_ops ops = { .alloc = c_alloc,
			      .free = c_free,
			      .retire = c_retire,
			      .batch = 64 /* the library's */ };
	uint32_t i;

	rt_init(&sh->it, RT_DISJOINT, &ops);
	rt_init(&sh->ht, RT_OVERLAP, &ops);
	pg->seed = 0xc4u;
	for (i = 0; i < LIVE; i++) {
		uint32_t p = free_page(pg);

		if (map_page(sh, p)) {
			fprintf(stderr, "bench_tree_churn: setup map\n");
			exit(1);
		}
		pg->used[p] = 1;
		pg->live[i] = p;
	}
	urcu_bp_barrier();
}

static void print(const struct result (*res)[NRATES], int runs)
{
	int k, r;

	printf("%-12s | %10s | %9s %9s | %11s (sprd) | %14s\n", "writer rate",
	       "ops/s done", "p50 us", "p99 us", "reads/s", "vs writer-free");
	for (k = 0; k < NRATES; k++) {
		double done[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS],
			rps[MAX_RUNS], rel[MAX_RUNS], sp, m;
		char name[32];

		for (r = 0; r < runs; r++) {
			done[r] = res[r][k].done;
			p50[r] = res[r][k].p50 / 1e3;
			p99[r] = res[r][k].p99 / 1e3;
			rps[r] = res[r][k].rps;
			rel[r] = res[r][k].rps / res[r][0].rps;
		}
		if (rates[k] < 0)
			snprintf(name, sizeof(name), "unthrottled");
		else
			snprintf(name, sizeof(name), "%.0f", rates[k]);
		if (k == 0) {
			printf("%-12s | %10s | %9s %9s |", "none", "-", "-",
			       "-");
		} else {
			printf("%-12s | %10.0f | %9.2f %9.2f |", name,
			       tb_median(done, runs, NULL),
			       tb_median(p50, runs, NULL),
			       tb_median(p99, runs, NULL));
		}
		/* sp is set by the call: not in one argument list */
		m = tb_median(rps, runs, &sp);
		printf(" %11.3g (%4.2f) | %14.2f\n", m, sp,
		       tb_median(rel, runs, NULL));
	}
}

int main(int argc, char **argv)
{
	static struct result res[MAX_RUNS][NRATES];
	static struct shared sh;
	static struct pages pg;
	double secs = 1, *lat;
	size_t maxlat = 1 << 22;
	int runs = 5, quick = 0, r, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--secs") && i + 1 < argc) {
			secs = atof(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench_tree_churn [--quick] "
					"[--runs N] [--secs S]\n");
			return 2;
		}
	}
	if (quick) {
		runs = 3;
		secs = 0.2;
	}
	if (runs < 1 || runs > MAX_RUNS || secs <= 0)
		return 2;
	lat = malloc(maxlat * sizeof(*lat));
	if (!lat)
		return 1;
	setup(&sh, &pg);
	for (r = 0; r < runs; r++)
		for (i = 0; i < NRATES; i++) {
			/* the baseline first, then the rates, backwards in
			 * odd runs */
			int k = !i || r % 2 == 0 ? i : NRATES - i;

			run_rate(&sh, &pg, rates[k], secs, lat, maxlat,
				 &res[r][k]);
		}
	if (sh.bad) {
		fprintf(stderr, "bench_tree_churn: %llu wrong answers\n",
			(unsigned long long)sh.bad);
		return 1;
	}
	if (rt_check(&sh.it) || rt_check(&sh.ht) || rt_count(&sh.it) != LIVE ||
	    rt_count(&sh.ht) != LIVE) {
		fprintf(stderr, "bench_tree_churn: the trees are broken\n");
		return 1;
	}
	printf("\nvIOMMU churn: %d live 4 KiB maps in %d pages; writer: "
	       "unmap + map of random pages, a commit each (both trees, "
	       "call_rcu); 2 readers: rt_read_lookup() under urcu-bp's read "
	       "lock, every answer checked; %.1f s per rate, median of %d "
	       "runs, %ld CPUs online.  Latency: wall time of one op.\n",
	       LIVE, (int)SPACE, secs, runs, sysconf(_SC_NPROCESSORS_ONLN));
	print(res, runs);
	free(lat);
	urcu_bp_barrier();
	rt_destroy(&sh.it);
	rt_destroy(&sh.ht);
	return 0;
}
