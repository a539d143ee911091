// SPDX-License-Identifier: BSD-3-Clause
/*
 * rtree's contract, case by case (its oracle fuzzer, fuzz_rtree.c, covers
 * the random mixes): the cost of a change (what it copies and retires),
 * fill, -ENOMEM at every allocation leaving the tree as it was, the two
 * views across commit and abort, the edges of the u64 space.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "iova_tree/rtree.h"

static int allocs, frees, retired, fail_at = -1;

static void *t_alloc(void *ctx, size_t size)
{
	(void)ctx;
	if (fail_at >= 0 && allocs == fail_at)
		return NULL;
	allocs++;
	return malloc(size);
}

static void t_free(void *ctx, void *p)
{
	(void)ctx;
	frees++;
	free(p);
}

static void t_retire(void *ctx, struct rt_node *n)
{
	(void)ctx;
	while (n) {
		struct rt_node *next = n->rnext;

		retired++;
		free(n);
		n = next;
	}
}

static const struct rt_ops ops = { t_alloc, t_free, t_retire, NULL, 0 };

static void reset_counts(void)
{
	allocs = frees = retired = 0;
	fail_at = -1;
}

static int put(struct rtree *t, uint64_t first, uint64_t size, uint64_t val)
{
	struct rt_ent e = { first, first + size - 1, val, 3 };

	return rt_insert(t, &e);
}

/* In order, the table is dense (a split at the end keeps the full side
 * full) and the nodes' bytes stay under the tree issue's 96 per map for
 * both trees together. */
static void test_fill_in_order(void **state)
{
	struct rtree d, o;
	uint64_t i, n = 100000;

	(void)state;
	reset_counts();
	rt_init(&d, RT_DISJOINT, &ops);
	rt_init(&o, RT_OVERLAP, &ops);
	for (i = 0; i < n; i++) {
		assert_int_equal(put(&d, i * 8192, 4096, i << 12), 0);
		assert_int_equal(put(&o, i << 12, 4096, i * 8192), 0);
	}
	rt_commit(&d);
	rt_commit(&o);
	assert_int_equal(rt_check(&d), 0);
	assert_int_equal(rt_check(&o), 0);
	/* 8 of the 41: ref, the mirror's entry, which saves the 144 bytes
	 * of AVL nodes the entry held */
	assert_true(rt_bytes(&d) / n <= 41);
	assert_true(rt_bytes(&o) / n <= 29);
	assert_int_equal(d.height, 5); /* 16^4 < 10^5 / 16 leaves */
	/* descending: dense too */
	rt_destroy(&d);
	rt_init(&d, RT_DISJOINT, &ops);
	for (i = n; i-- > 0;)
		assert_int_equal(put(&d, i * 8192, 4096, 0), 0);
	assert_int_equal(rt_check(&d), 0);
	assert_true(rt_bytes(&d) / n <= 41);
	rt_destroy(&d);
	rt_destroy(&o);
}

/* One change after a commit copies exactly its path and retires the
 * originals; a second change on the same path inside the same commit
 * copies nothing. */
static void test_cost_of_a_change(void **state)
{
	struct rtree t;
	uint64_t i;
	int a;

	(void)state;
	reset_counts();
	rt_init(&t, RT_DISJOINT, &ops);
	for (i = 0; i < 5000; i++)
		assert_int_equal(put(&t, i * 16, 8, i), 0);
	rt_commit(&t);
	assert_int_equal(t.height, 4);
	a = allocs;
	retired = 0;
	/* inside a leaf (no split): leaf + 3 inner nodes copied */
	assert_int_equal(rt_update(&t, 16ULL * 2500, 7, 1), 0);
	assert_int_equal(rt_remove(&t, 16ULL * 2501, 0, NULL), 0);
	assert_int_equal(put(&t, 16ULL * 2501, 4, 9), 0);
	rt_commit(&t);
	assert_int_equal(retired, 4);
	/* what was taken from the reserve is topped up: at most 4 + slack */
	assert_true(allocs - a <= 4);
	assert_int_equal(rt_check(&t), 0);
	/* nothing changed: a commit retires nothing */
	retired = 0;
	rt_commit(&t);
	assert_int_equal(retired, 0);
	rt_destroy(&t);
}

/* With ops.batch, retired nodes wait until that many are there (a grace
 * period per commit costs more than the commit); rt_flush() hands them
 * over at once, and destroy frees what still waits. */
static void test_batch(void **state)
{
	struct rt_ops b = ops;
	struct rtree t;
	uint64_t i;

	(void)state;
	reset_counts();
	b.batch = 10;
	rt_init(&t, RT_DISJOINT, &b);
	for (i = 0; i < 5000; i++)
		assert_int_equal(put(&t, i * 16, 8, i), 0);
	rt_commit(&t);
	assert_int_equal(t.height, 4);
	/* each commit retires a path of 4 */
	assert_int_equal(rt_update(&t, 0, 1, 1), 0);
	rt_commit(&t);
	assert_int_equal(rt_update(&t, 16, 1, 1), 0);
	rt_commit(&t);
	assert_int_equal(retired, 0);
	assert_int_equal(t.nlimbo, 8);
	assert_int_equal(rt_update(&t, 32, 1, 1), 0);
	rt_commit(&t);
	assert_int_equal(retired, 12);
	assert_int_equal(t.nlimbo, 0);
	assert_int_equal(rt_update(&t, 48, 1, 1), 0);
	rt_commit(&t);
	assert_int_equal(retired, 12);
	rt_flush(&t);
	assert_int_equal(retired, 16);
	assert_int_equal(rt_update(&t, 64, 1, 1), 0);
	rt_commit(&t);
	assert_int_equal(rt_check(&t), 0);
	rt_destroy(&t); /* the 4 waiting go with it */
	assert_int_equal(retired, 16);
	assert_int_equal(allocs, frees + retired);
}

/* ... but a small tree's retired nodes never outnumber an eighth of its
 * live ones: with the library's batch of 64, a 10^3-map table held half
 * again its own size in nodes no reader could see any more. */
static void test_batch_small_tree(void **state)
{
	struct rt_ops b = ops;
	struct rtree t;
	uint64_t i, live;

	(void)state;
	reset_counts();
	b.batch = 64;
	rt_init(&t, RT_DISJOINT, &b);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(put(&t, i * 16, 8, i), 0);
		rt_commit(&t);
		live = t.nodes[0] + t.nodes[1];
		if (t.nlimbo > live / 8)
			fail_msg("after %llu commits: %u retired nodes wait, "
				 "%llu live",
				 (unsigned long long)i + 1, t.nlimbo,
				 (unsigned long long)live);
	}
	assert_true(retired > 0);
	rt_destroy(&t);
	assert_int_equal(allocs, frees + retired);
}

/* Readers see the last commit, whatever the writer does until the next;
 * abort gives the writer that view back. */
static void test_views(void **state)
{
	struct rtree t;
	struct rt_ent e;
	uint64_t i;

	(void)state;
	reset_counts();
	rt_init(&t, RT_DISJOINT, &ops);
	for (i = 0; i < 1000; i++)
		assert_int_equal(put(&t, i * 16, 8, i), 0);
	assert_int_equal(rt_read_lookup(&t, 16, &e), -ENOENT); /* none yet */
	rt_commit(&t);
	assert_int_equal(rt_remove(&t, 16, 0, NULL), 0);
	assert_int_equal(put(&t, 20000, 8, 77), 0);
	assert_int_equal(rt_lookup(&t, 16, &e), -ENOENT);
	assert_int_equal(rt_read_lookup(&t, 17, &e), 0);
	assert_int_equal(e.val, 1);
	assert_int_equal(rt_read_lookup(&t, 20000, &e), -ENOENT);
	assert_int_equal(rt_check(&t), 0);
	rt_abort(&t);
	assert_int_equal(rt_check(&t), 0);
	assert_int_equal(rt_count(&t), 1000);
	assert_int_equal(rt_lookup(&t, 16, &e), 0);
	assert_int_equal(rt_lookup(&t, 20000, &e), -ENOENT);
	/* after the abort, a change copies again (the published nodes are
	 * not the writer's) */
	assert_int_equal(rt_remove(&t, 32, 0, NULL), 0);
	rt_commit(&t);
	assert_int_equal(rt_read_lookup(&t, 32, &e), -ENOENT);
	assert_int_equal(rt_check(&t), 0);
	rt_destroy(&t);
}

/* rt_clear empties the writer's view without a copy: the published
 * nodes wait for the commit and go to retire together (or come back with
 * an abort), the writer's own are freed at once, and the readers see the
 * old table until the commit. */
static void test_clear(void **state)
{
	uint64_t live, i;
	struct rt_ent e;
	struct rtree t;
	int f0;

	(void)state;
	reset_counts();
	rt_init(&t, RT_DISJOINT, &ops);
	for (i = 0; i < 1000; i++)
		assert_int_equal(put(&t, i * 16, 8, i), 0);
	rt_commit(&t);
	live = t.nodes[0] + t.nodes[1] - t.nspare[0] - t.nspare[1];
	rt_clear(&t);
	assert_int_equal(rt_count(&t), 0);
	assert_int_equal(rt_lookup(&t, 16, &e), -ENOENT);
	assert_int_equal(rt_read_lookup(&t, 17, &e), 0);
	assert_int_equal(rt_check(&t), 0);
	rt_abort(&t);
	assert_int_equal(rt_count(&t), 1000);
	assert_int_equal(rt_lookup(&t, 16, &e), 0);
	assert_int_equal(rt_check(&t), 0);
	assert_int_equal(retired, 0);

	/* a rebuild after the clear: 500 others, in place, then one commit
	 * hands every old node to retire and publishes the new */
	rt_clear(&t);
	for (i = 0; i < 500; i++)
		assert_int_equal(put(&t, 100000 + i * 16, 8, i), 0);
	assert_int_equal(rt_check(&t), 0);
	/* the writer's own nodes, cleared before a commit, are freed */
	f0 = frees;
	rt_clear(&t);
	assert_true(frees > f0);
	for (i = 0; i < 500; i++)
		assert_int_equal(put(&t, 200000 + i * 16, 8, i), 0);
	assert_int_equal(retired, 0);
	rt_commit(&t);
	assert_int_equal(retired, (int)live);
	assert_int_equal(rt_read_lookup(&t, 17, &e), -ENOENT);
	assert_int_equal(rt_read_lookup(&t, 200017, &e), 0);
	assert_int_equal(e.val, 1);
	assert_int_equal(rt_count(&t), 500);
	assert_int_equal(rt_check(&t), 0);
	rt_clear(&t);
	rt_commit(&t);
	assert_int_equal(rt_read_lookup(&t, 200017, &e), -ENOENT);
	rt_destroy(&t);
	assert_int_equal(allocs, frees + retired);
}

/* Empty the reserve of nodes rtree keeps between changes (its fields
 * are public for this and rt_bytes' sake). */
static void drain(struct rtree *t)
{
	int k;

	for (k = 0; k < 2; k++) {
		while (t->spare[k]) {
			struct rt_node *n = t->spare[k];

			t->spare[k] = n->rnext;
			t->nspare[k]--;
			t->nodes[k]--;
			free(n);
			allocs--;
		}
	}
}

/* -ENOMEM at each allocation an insert, remove or update may make leaves
 * both views exactly as they were. */
static void test_enomem_changes_nothing(void **state)
{
	int op;

	(void)state;
	for (op = 0; op < 3; op++) {
		int k;

		for (k = 0;; k++) {
			struct rtree t;
			struct rt_ent e;
			uint64_t i;
			int r;

			reset_counts();
			rt_init(&t, RT_DISJOINT, &ops);
			for (i = 0; i < 4096; i++)
				assert_int_equal(put(&t, i * 16, 8, i), 0);
			rt_commit(&t);
			drain(&t); /* so that the change must allocate */
			fail_at = allocs + k;
			if (op == 0)
				r = put(&t, 16ULL * 4096 + 16, 8, 1);
			else if (op == 1)
				r = rt_remove(&t, 16ULL * 100, 0, NULL);
			else
				r = rt_update(&t, 16ULL * 100, 5, 5);
			fail_at = -1;
			assert_int_equal(rt_check(&t), 0);
			if (r == 0) {
				assert_true(k > 0); /* it did allocate */
				rt_destroy(&t);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_int_equal(rt_count(&t), 4096);
			assert_int_equal(rt_lookup(&t, 16ULL * 100, &e), 0);
			assert_int_equal(e.val, 100);
			assert_int_equal(rt_lookup(&t, 16ULL * 4096 + 16, &e),
					 -ENOENT);
			rt_destroy(&t);
		}
	}
}

/* The ends of the u64 space, holes included. */
static void test_edges(void **state)
{
	struct rtree t, o;
	struct rt_ent e = { 0, UINT64_MAX, 1, 0 };
	uint64_t s;

	(void)state;
	reset_counts();
	rt_init(&t, RT_DISJOINT, &ops);
	assert_int_equal(rt_find_hole(&t, 0, UINT64_MAX, UINT64_MAX, 1, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(rt_insert(&t, &e), 0); /* the whole space */
	assert_int_equal(rt_find_hole(&t, 0, UINT64_MAX, 1, 1, &s), -ENOSPC);
	assert_int_equal(put(&t, 5, 1, 0), -EEXIST);
	assert_int_equal(rt_remove(&t, 0, 0, NULL), 0);
	assert_int_equal(put(&t, UINT64_MAX, 1, 0), 0);
	assert_int_equal(put(&t, 0, 1, 0), 0);
	assert_int_equal(rt_find_hole(&t, 0, UINT64_MAX, UINT64_MAX - 1, 1, &s),
			 0);
	assert_int_equal(s, 1);
	assert_int_equal(rt_find_hole(&t, 0, UINT64_MAX, UINT64_MAX - 1, 2, &s),
			 -ENOSPC);
	assert_int_equal(rt_find_hole(&t, 0, UINT64_MAX, 4096, 4096, &s), 0);
	assert_int_equal(s, 4096);
	/* bad arguments are not "no hole" */
	assert_int_equal(rt_find_hole(&t, 0, 10, 0, 1, &s), -EINVAL);
	assert_int_equal(rt_find_hole(&t, 0, 10, 1, 3, &s), -EINVAL);
	assert_int_equal(rt_find_hole(&t, 10, 0, 1, 1, &s), -EINVAL);
	e.first = 9;
	e.last = 8;
	assert_int_equal(rt_insert(&t, &e), -EINVAL);
	assert_int_equal(rt_check(&t), 0);
	/* the overlapping kind: the same key twice is refused, the same
	 * range with another val is not; lookup gives the lowest key */
	rt_init(&o, RT_OVERLAP, &ops);
	assert_int_equal(put(&o, 100, 10, 7), 0);
	assert_int_equal(put(&o, 100, 10, 7), -EEXIST);
	assert_int_equal(put(&o, 100, 10, 3), 0);
	assert_int_equal(put(&o, 95, 10, 9), 0);
	assert_int_equal(rt_lookup(&o, 104, &e), 0);
	assert_int_equal(e.first, 95);
	assert_int_equal(rt_lookup(&o, 105, &e), 0);
	assert_int_equal(e.val, 3);
	assert_int_equal(rt_find_hole(&o, 0, 10, 1, 1, &s), -EINVAL);
	assert_int_equal(rt_update(&o, 100, 1, 1), -EINVAL);
	assert_int_equal(rt_check(&o), 0);
	rt_destroy(&t);
	rt_destroy(&o);
}

/* Emptied by removes in every order, the tree shrinks back to nothing:
 * merges at the leaves and in the inner nodes, and the root giving way
 * to its only child. */
static void test_shrink(void **state)
{
	static uint64_t order[20000];
	struct rtree t;
	uint64_t i, n = 20000, rng = 1;
	int pass;

	(void)state;
	for (pass = 0; pass < 3; pass++) {
		reset_counts();
		rt_init(&t, RT_DISJOINT, &ops);
		for (i = 0; i < n; i++) {
			assert_int_equal(put(&t, i * 16, 8, i), 0);
			order[i] = i;
		}
		rt_commit(&t);
		for (i = n - 1; pass == 2 && i > 0; i--) {
			uint64_t j, x;

			rng = rng * 6364136223846793005ULL + 1;
			j = (rng >> 33) % (i + 1);
			x = order[i];
			order[i] = order[j];
			order[j] = x;
		}
		for (i = 0; i < n; i++) {
			uint64_t k = pass == 1 ? n - 1 - i : order[i];

			assert_int_equal(rt_remove(&t, k * 16, 0, NULL), 0);
			if (i % 97 == 0) {
				rt_commit(&t);
				assert_int_equal(rt_check(&t), 0);
			}
		}
		rt_commit(&t);
		assert_int_equal(rt_check(&t), 0);
		assert_int_equal(rt_count(&t), 0);
		assert_int_equal(t.height, 0);
		rt_destroy(&t);
		assert_int_equal(allocs, frees + retired);
	}
}

/* ref, the writer's per range, follows its range through splits, merges,
 * copies and rt_update(), and only the writer's queries copy it out. */
static void test_ref(void **state)
{
	struct rt_iter it;
	struct rt_ent e;
	struct rtree d;
	uint64_t i, n = 2000;
	bool ok;

	(void)state;
	reset_counts();
	rt_init(&d, RT_DISJOINT, &ops);
	for (i = 0; i < n; i++) {
		/* every other, then the gaps: splits in the middle */
		uint64_t k = i < n / 2 ? 2 * i : 2 * (i - n / 2) + 1;
		struct rt_ent in = { k << 12, (k << 12) + 4095, k, 3, ~k };

		assert_int_equal(rt_insert(&d, &in), 0);
		if (i % 97 == 0)
			rt_commit(&d); /* later changes copy */
	}
	for (i = 0; i < n; i += 3) /* merges */
		assert_int_equal(rt_remove(&d, i << 12, 0, &e), 0);
	assert_int_equal(rt_update(&d, 1 << 12, 77, 1), 0);
	rt_commit(&d);
	for (i = 0; i < n; i++) {
		int r = rt_lookup(&d, (i << 12) + 5, &e);

		if (i % 3 == 0) {
			assert_int_equal(r, -ENOENT);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(e.ref, ~i);
		assert_int_equal(rt_read_lookup(&d, i << 12, &e), 0);
		assert_int_equal(e.ref, 0);
	}
	/* rt_prev: the range before, across leaves and subtrees */
	for (i = 0; i <= n; i++) {
		uint64_t k = i;
		int r;

		while (k > 0 && (--k) % 3 == 0)
			;
		r = rt_prev(&d, i << 12, &e);
		if (k % 3 == 0) { /* nothing before i */
			assert_int_equal(r, -ENOENT);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(e.first, k << 12);
		assert_int_equal(e.ref, ~k);
	}
	assert_int_equal(rt_prev(&d, UINT64_MAX, &e), 0);
	assert_int_equal(e.first, (n - 1) << 12);
	for (i = 0, ok = rt_iter_first(&d, &it, 0, UINT64_MAX, &e); ok;
	     ok = rt_iter_next(&it, &e), i++)
		assert_int_equal(e.ref, ~(e.first >> 12));
	assert_int_equal(i, n - (n + 2) / 3);
	for (ok = rt_read_iter_first(&d, &it, 0, UINT64_MAX, &e); ok;
	     ok = rt_iter_next(&it, &e))
		assert_int_equal(e.ref, 0);
	assert_int_equal(rt_check(&d), 0);
	rt_destroy(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_in_order),
		cmocka_unit_test(test_cost_of_a_change),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_small_tree),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_enomem_changes_nothing),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_shrink),
		cmocka_unit_test(test_ref),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
