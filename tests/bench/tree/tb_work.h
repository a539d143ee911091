/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tb_work: the tree benchmark's workload (issue 21's): n maps of 4-64 KiB
 * with random 4-64 KiB gaps and one 1 MiB gap after map n/2, from a fixed
 * seed; the same maps twice, with hvas in IOVA order (a) and shuffled (b);
 * a random remove order; query points with the answers the workload
 * itself knows, so that every tree is checked against them (and so against
 * each other).  Plus the clocks, the heap, and medians.
 *
 * Depends on: tb.h, libc.
 */
#ifndef VDPAMAP_TB_WORK_H
#define VDPAMAP_TB_WORK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tb.h"

/* the one gap a 1 MiB hole fits in: every other is at most 64 KiB */
#define TB_BIG_GAP (UINT64_C(1) << 20)

struct tb_work {
	size_t n, nq;
	struct tb_map *ma, *mb; /* hvas in IOVA order; shuffled */
	uint32_t *ins, *rem;	/* IOVA order; random */
	/* nq points each: inside a map, in a gap, inside a map's hva range
	 * (rev: of ma, rev_b: of mb), with the hvas (hit_ans: in ma,
	 * hit_b_ans: in mb) and IOVAs they translate to */
	uint64_t *hit, *miss, *rev, *rev_b;
	uint64_t *hit_ans, *hit_b_ans, *rev_ans, *rev_b_ans;
	/* hole sizes and their first-fit answers */
	uint64_t mid, mid_ans, end, end_ans;
};

/* NULL when out of memory */
struct tb_work *tb_work_new(size_t n, size_t nq, uint64_t seed);
void tb_work_free(struct tb_work *w);

/* bytes the heap holds in use (glibc mallinfo2: uordblks + hblkhd) */
size_t tb_heap_bytes(void);
/* the heap's behaviour fixed before anything is measured: one arena,
 * nothing trimmed or given to mmap, so that a pre-faulted heap stays */
void tb_heap_setup(void);
/* touch bytes of heap and free them: the pages stay mapped */
void tb_heap_prefault(size_t bytes);

static inline double tb_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* sorts v; the median, and max/min into *spread */
double tb_median(double *v, int n, double *spread);

#endif
