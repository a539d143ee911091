// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for src/iova_tree.c: fixed edge cases, then a randomized run
 * against a sorted-array oracle (seed printed; override with ITREE_SEED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "iova_tree/iova_tree.h"

#define MAX64 UINT64_MAX
#define BIT63 (UINT64_C(1) << 63)

typedef unsigned __int128 u128;

/* Helpers in threes: _find_hole() returns, find_hole() expects a hole at
 * `want`, no_hole() expects none. */
/* the helpers in threes of the comment above (STYLE.md):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
static int _find_hole(struct itree *t, uint64_t lo, uint64_t hi, uint64_t size,
		      uint64_t align, uint64_t *ret)
{
	return itree_find_hole(t, lo, hi, size, align, ret);
}

#define find_hole(t, lo, hi, size, align, want)                               \
	do {                                                                  \
		uint64_t _r = 0x5a5a5a5a;                                     \
		assert_int_equal(_find_hole(t, lo, hi, size, align, &_r), 0); \
		assert_int_equal(_r, (uint64_t)(want));                       \
	} while (0)

#define no_hole(t, lo, hi, size, align)                                        \
	do {                                                                   \
		uint64_t _r = 0x5a5a5a5a;                                      \
		assert_int_equal(_find_hole(t, lo, hi, size, align, &_r), -1); \
		assert_int_equal(_r, 0x5a5a5a5a);                              \
	} while (0)

static void ins(struct itree *t, struct itree_node *n, uint64_t first,
		uint64_t last)
{
	memset(n, 0xa5, sizeof(*n)); /* the tree must set its fields */
	n->first = first;
	n->last = last;
	itree_insert(t, n);
	assert_int_equal(itree_check(t), 0);
}

static void rm(struct itree *t, struct itree_node *n)
{
	itree_remove(t, n);
	assert_int_equal(itree_check(t), 0);
}

static int height(const struct itree_node *n)
{
	int l, r;

	if (!n)
		return 0;
	l = height(n->left);
	r = height(n->right);
	return (l > r ? l : r) + 1;
}

/* Fixed cases. */

static void test_empty(void **state)
{
	struct itree t = ITREE_INIT;
	uint64_t r = 7;

	(void)state;
	assert_int_equal(itree_check(&t), 0);
	assert_null(itree_first(&t));
	assert_null(itree_last(&t));
	assert_null(itree_lookup(&t, 0));
	assert_null(itree_iter_first(&t, 0, MAX64));
	find_hole(&t, 0, MAX64, 1, 1, 0);
	find_hole(&t, 0, MAX64, MAX64, 1, 0);
	find_hole(&t, 1, MAX64, MAX64, 1, 1);
	no_hole(&t, 1, MAX64, MAX64, 2);
	no_hole(&t, 2, MAX64, MAX64, 1);
	find_hole(&t, 1, MAX64, 1, BIT63, BIT63);
	find_hole(&t, 1, MAX64, BIT63, BIT63, BIT63);
	no_hole(&t, 1, MAX64, BIT63 + 1, BIT63);
	find_hole(&t, MAX64, MAX64, 1, 1, MAX64);
	/* invalid arguments */
	no_hole(&t, 0, MAX64, 0, 1);
	no_hole(&t, 0, MAX64, 1, 0);
	no_hole(&t, 0, MAX64, 1, 3);
	no_hole(&t, 5, 4, 1, 1);
	no_hole(&t, 4, 5, 3, 1);
	assert_int_equal(itree_find_hole(&t, 0, 0, 1, 1, &r), 0);
	assert_int_equal(r, 0);
}

static void test_extremes(void **state)
{
	struct itree t = ITREE_INIT;
	struct itree_node a, b, c;

	(void)state;
	ins(&t, &a, 0, 0);
	assert_ptr_equal(itree_lookup(&t, 0), &a);
	assert_null(itree_lookup(&t, 1));
	assert_null(itree_lookup(&t, MAX64));
	find_hole(&t, 0, MAX64, 1, 1, 1);
	find_hole(&t, 0, MAX64, MAX64, 1, 1);
	no_hole(&t, 0, MAX64, MAX64, 2);
	no_hole(&t, 0, 0, 1, 1);

	ins(&t, &b, MAX64, MAX64);
	assert_ptr_equal(itree_lookup(&t, MAX64), &b);
	assert_null(itree_lookup(&t, MAX64 - 1));
	assert_ptr_equal(itree_iter_first(&t, MAX64, MAX64), &b);
	assert_null(itree_iter_next(&b, MAX64, MAX64));
	find_hole(&t, 0, MAX64, MAX64 - 1, 1, 1);
	no_hole(&t, 0, MAX64, MAX64 - 1, 2);
	find_hole(&t, 0, MAX64, MAX64 - 2, 2, 2);
	no_hole(&t, 0, MAX64, MAX64, 1);
	no_hole(&t, MAX64, MAX64, 1, 1);
	find_hole(&t, MAX64 - 1, MAX64, 1, 1, MAX64 - 1);
	find_hole(&t, 1, MAX64, 1, BIT63, BIT63);
	rm(&t, &a);
	find_hole(&t, 0, MAX64, MAX64, 1, 0);
	no_hole(&t, 1, MAX64, MAX64, 1);

	ins(&t, &c, 0, MAX64);
	no_hole(&t, 0, MAX64, 1, 1);
	assert_ptr_equal(itree_lookup(&t, 0), &c);
	assert_ptr_equal(itree_lookup(&t, 12345), &c);
	/* greatest first <= p wins */
	assert_ptr_equal(itree_lookup(&t, MAX64), &b);
	assert_ptr_equal(itree_iter_first(&t, 5, 6), &c);
	assert_null(itree_iter_next(&c, 5, 6));
	assert_ptr_equal(itree_iter_first(&t, 5, MAX64), &c);
	assert_ptr_equal(itree_iter_next(&c, 5, MAX64), &b);
	rm(&t, &b);
	assert_ptr_equal(itree_lookup(&t, MAX64), &c);
	rm(&t, &c);
	assert_int_equal(t.count, 0);
	assert_null(t.root);
}

static void test_adjacent_and_ends(void **state)
{
	struct itree t = ITREE_INIT;
	struct itree_node a, b, c;

	(void)state;
	ins(&t, &a, 100, 199);
	find_hole(&t, 0, MAX64, 100, 1, 0);
	find_hole(&t, 0, MAX64, 101, 1, 200);
	find_hole(&t, 50, MAX64, 50, 1, 50);
	find_hole(&t, 51, MAX64, 50, 1, 200);
	find_hole(&t, 150, 1000, 1, 1, 200);
	no_hole(&t, 100, 199, 1, 1);
	find_hole(&t, 0, 99, 100, 1, 0);
	no_hole(&t, 0, 100, 101, 1);
	find_hole(&t, 0, 299, 100, 1, 0);
	find_hole(&t, 1, 299, 100, 1, 200);
	no_hole(&t, 1, 298, 100, 1);

	ins(&t, &b, 200, 299); /* adjacent: no hole between */
	find_hole(&t, 100, MAX64, 1, 1, 300);
	assert_ptr_equal(itree_iter_first(&t, 199, 200), &a);
	assert_ptr_equal(itree_iter_next(&a, 199, 200), &b);
	assert_null(itree_iter_next(&b, 199, 200));
	assert_ptr_equal(itree_iter_first(&t, 200, 200), &b);
	assert_ptr_equal(itree_lookup(&t, 199), &a);
	assert_ptr_equal(itree_lookup(&t, 200), &b);

	ins(&t, &c, 301, 400); /* one-point hole at 300 */
	find_hole(&t, 100, MAX64, 1, 1, 300);
	find_hole(&t, 100, MAX64, 2, 1, 401);
	find_hole(&t, 100, MAX64, 1, 4, 300);
	find_hole(&t, 100, MAX64, 1, 8, 408);
	no_hole(&t, 100, 400, 1, 8);
	assert_null(itree_lookup(&t, 300));
	assert_null(itree_iter_first(&t, 300, 300));
	assert_null(itree_iter_first(&t, 0, 99));
	assert_null(itree_iter_first(&t, 401, MAX64));
}

static void test_alignment(void **state)
{
	struct itree t = ITREE_INIT;
	struct itree_node a, b;

	(void)state;
	ins(&t, &a, 10, 20);
	find_hole(&t, 0, MAX64, 1, 16, 0);
	/* align larger than the space before the first node */
	find_hole(&t, 1, MAX64, 1, 16, 32);
	find_hole(&t, 1, MAX64, 1, 4096, 4096);
	find_hole(&t, 1, MAX64, 1, BIT63, BIT63);
	find_hole(&t, 0, MAX64, 11, 1, 21);
	find_hole(&t, 0, MAX64, 10, 1, 0);
	find_hole(&t, 0, MAX64, 10, 8, 0);
	find_hole(&t, 0, MAX64, 11, 8, 24);

	ins(&t, &b, BIT63, BIT63);
	no_hole(&t, 1, MAX64, 1, BIT63); /* 2^64 is not a start */
	find_hole(&t, 0, MAX64, 1, BIT63, 0);
	find_hole(&t, BIT63 + 1, MAX64, BIT63 - 1, 1, BIT63 + 1);
	no_hole(&t, BIT63 + 1, MAX64, BIT63 - 1, 2);
	find_hole(&t, 21, MAX64, BIT63 - 21, 1, 21);
	no_hole(&t, 21, BIT63, BIT63 - 20, 1);
	rm(&t, &b);
	find_hole(&t, 1, MAX64, BIT63, BIT63, BIT63);
	no_hole(&t, BIT63 + 1, MAX64, 1, BIT63);
}

static void test_no_hole(void **state)
{
	struct itree t = ITREE_INIT;
	struct itree_node n[4];

	(void)state;
	ins(&t, &n[0], 0, 99);
	ins(&t, &n[1], 100, 1000);
	ins(&t, &n[2], 1001, MAX64 - 1);
	ins(&t, &n[3], MAX64, MAX64);
	no_hole(&t, 0, MAX64, 1, 1);
	rm(&t, &n[1]);
	find_hole(&t, 0, MAX64, 901, 1, 100);
	no_hole(&t, 0, MAX64, 902, 1);
	find_hole(&t, 0, MAX64, 1, 512, 512);
	no_hole(&t, 0, MAX64, 1, 1024);
	find_hole(&t, 0, MAX64, 489, 512, 512);
	no_hole(&t, 0, MAX64, 490, 512);
	no_hole(&t, 0, 99, 1, 1);
	no_hole(&t, 1001, MAX64, 1, 1);
}

static void test_overlap_iter(void **state)
{
	static const uint64_t r[][2] = {
		{ 0, 100 },   { 10, 20 }, { 30, 40 },	{ 50, 200 },
		{ 150, 160 }, { 30, 35 }, { 300, 400 },
	};
	struct itree t = ITREE_INIT;
	struct itree_node n[7], *it;
	struct itree_node *want[] = { &n[0], &n[2], &n[5], &n[3], &n[4] };
	size_t i = 0;

	(void)state;
	for (i = 0; i < 7; i++)
		ins(&t, &n[i], r[i][0], r[i][1]);
	i = 0;
	for (it = itree_iter_first(&t, 35, 155); it;
	     it = itree_iter_next(it, 35, 155)) {
		assert_true(i < 5);
		assert_ptr_equal(it, want[i]);
		i++;
	}
	assert_int_equal(i, 5);
	/* equal first: insertion order; lookup takes the later one */
	assert_ptr_equal(itree_lookup(&t, 33), &n[5]);
	assert_ptr_equal(itree_lookup(&t, 38), &n[2]);
	assert_ptr_equal(itree_lookup(&t, 45), &n[0]);
	assert_ptr_equal(itree_lookup(&t, 155), &n[4]);
	assert_ptr_equal(itree_lookup(&t, 170), &n[3]);
	assert_null(itree_lookup(&t, 250));
	/* holes in an overlapping tree are the union's */
	find_hole(&t, 0, MAX64, 99, 1, 201);
	find_hole(&t, 0, MAX64, 100, 1, 401);
	assert_null(itree_iter_first(&t, 201, 299));
	assert_ptr_equal(itree_iter_first(&t, 201, 300), &n[6]);
}

static void test_remove_and_walk(void **state)
{
	struct itree t = ITREE_INIT;
	struct itree_node n[31], *it;
	int i, k;

	(void)state;
	for (i = 0; i < 31; i++)
		ins(&t, &n[i], (uint64_t)i * 10, (uint64_t)i * 10 + 4);
	assert_true(height(t.root) <= 6);
	/* walk both ways */
	for (i = 0, it = itree_first(&t); it; it = itree_next(it), i++)
		assert_ptr_equal(it, &n[i]);
	assert_int_equal(i, 31);
	for (i = 30, it = itree_last(&t); it; it = itree_prev(it), i--)
		assert_ptr_equal(it, &n[i]);
	assert_int_equal(i, -1);

	/* leaves: first and last */
	rm(&t, &n[0]);
	rm(&t, &n[30]);
	assert_ptr_equal(itree_first(&t), &n[1]);
	assert_ptr_equal(itree_last(&t), &n[29]);
	find_hole(&t, 0, MAX64, 10, 1, 0);
	find_hole(&t, 0, MAX64, 11, 1, 295);
	/* the root, repeatedly */
	for (k = 0; k < 10; k++) {
		struct itree_node *root = t.root;

		rm(&t, root);
		assert_null(itree_lookup(&t, root->first));
		assert_ptr_not_equal(t.root, root);
	}
	assert_int_equal(t.count, 19);
	for (i = 0, it = itree_first(&t); it; it = itree_next(it), i++)
		if (itree_next(it))
			assert_true(it->first < itree_next(it)->first);
	assert_int_equal(i, 19);
	while (t.root)
		rm(&t, itree_last(&t));
	assert_int_equal(t.count, 0);
}

/* 200000 nodes; one punched gap in the middle. */
static void test_large(void **state)
{
	enum { N = 200000 };
	struct itree t = ITREE_INIT;
	struct itree_node *n = calloc(N, sizeof(*n));
	uint64_t r = 0;
	int i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < N; i++) { /* sorted insert: worst for a BST */
		n[i].first = (uint64_t)i * 8;
		n[i].last = (uint64_t)i * 8 + 7;
		itree_insert(&t, &n[i]);
	}
	assert_int_equal(itree_check(&t), 0);
	/* AVL bound: h < 1.4405 log2(n + 2) */
	assert_true(height(t.root) <= 25);
	find_hole(&t, 0, MAX64, 1, 1, (uint64_t)N * 8);
	no_hole(&t, 0, (uint64_t)N * 8 - 1, 1, 1);
	itree_remove(&t, &n[N / 2]);
	assert_int_equal(itree_check(&t), 0);
	find_hole(&t, 0, MAX64, 8, 1, (uint64_t)N / 2 * 8);
	find_hole(&t, 0, MAX64, 8, 8, (uint64_t)N / 2 * 8);
	find_hole(&t, 0, MAX64, 1, 1, (uint64_t)N / 2 * 8);
	find_hole(&t, 0, MAX64, 9, 1, (uint64_t)N * 8);
	no_hole(&t, 0, (uint64_t)N * 8 - 1, 9, 1);
	find_hole(&t, 1, MAX64, 8, 16, (uint64_t)N / 2 * 8);
	no_hole(&t, 0, (uint64_t)N * 8 - 1, 8, 1 << 20);
	assert_null(itree_lookup(&t, (uint64_t)N / 2 * 8 + 3));
	assert_ptr_equal(itree_lookup(&t, (uint64_t)N / 2 * 8 + 8),
			 &n[N / 2 + 1]);
	assert_int_equal(itree_find_hole(&t, 0, MAX64, 1, 1, &r), 0);
	/* empty it from the middle outwards */
	for (i = 0; i < N / 2; i++) {
		itree_remove(&t, &n[i]);
		if (i != N / 2 - 1)
			itree_remove(&t, &n[N - 1 - i]);
	}
	assert_int_equal(itree_check(&t), 0);
	assert_int_equal(t.count, 0);
	free(n);
}

/*
 * Randomized test against a sorted array.  A range's coordinates are drawn
 * around a few bases (0, 2^63, 2^64-1, small numbers), so adjacency,
 * overlap and the top of the space all come up often.
 */
enum { POOL = 1024, OPS = 20000 };

struct oracle {
	struct itree_node *v[POOL]; /* sorted by first, stable */
	size_t n;
};

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rnd_point(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return MAX64 - rnd() % 64;
	case 2:
		return BIT63 + rnd() % 64 - 32;
	case 3:
		return rnd() % 8;
	default:
		return rnd() % 4096;
	}
}

static uint64_t rnd_len(void) /* last - first */
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return 0;
	case 2:
		return rnd() % 4;
	default:
		return rnd() % 64;
	}
}

static void rnd_range(uint64_t *first, uint64_t *last)
{
	uint64_t f = rnd_point(), l = rnd_len();

	*first = f;
	*last = l > MAX64 - f ? MAX64 : f + l;
}

static void oracle_insert(struct oracle *o, struct itree_node *x)
{
	size_t i = o->n;

	while (i > 0 && o->v[i - 1]->first > x->first) {
		o->v[i] = o->v[i - 1];
		i--;
	}
	o->v[i] = x;
	o->n++;
}

static void oracle_remove(struct oracle *o, struct itree_node *x)
{
	size_t i = 0;

	while (o->v[i] != x)
		i++;
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	memmove(&o->v[i], &o->v[i + 1], (o->n - i - 1) * sizeof(o->v[0]));
	o->n--;
}

static int oracle_overlaps_any(const struct oracle *o, uint64_t f, uint64_t l)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->v[i]->first <= l && f <= o->v[i]->last)
			return 1;
	return 0;
}

static struct itree_node *oracle_lookup(const struct oracle *o, uint64_t p)
{
	size_t i;

	for (i = o->n; i-- > 0;)
		if (o->v[i]->first <= p && p <= o->v[i]->last)
			return o->v[i];
	return NULL;
}

/* First fit in the free run [s, e] (128-bit arithmetic), or -1. */
static int fit(u128 s, u128 e, uint64_t lo, uint64_t hi, uint64_t size,
	       uint64_t align, uint64_t *ret)
{
	if (s < lo)
		s = lo;
	if (e > hi)
		e = hi;
	s = (s + align - 1) / align * align;
	if (s + size - 1 > e)
		return -1;
	*ret = (uint64_t)s;
	return 0;
}

/* Brute force over the union's free runs. */
static int oracle_find_hole(const struct oracle *o, uint64_t lo, uint64_t hi,
			    uint64_t size, uint64_t align, uint64_t *ret)
{
	u128 next = 0; /* lowest point not covered so far */
	size_t i;

	if (!size || !align || (align & (align - 1)) || lo > hi)
		return -1;
	for (i = 0; i < o->n; i++) {
		if (o->v[i]->first > next &&
		    !fit(next, (u128)o->v[i]->first - 1, lo, hi, size, align,
			 ret))
			return 0;
		if ((u128)o->v[i]->last + 1 > next)
			next = (u128)o->v[i]->last + 1;
	}
	if (next <= MAX64 && !fit(next, MAX64, lo, hi, size, align, ret))
		return 0;
	return -1;
}

static void compare(const struct itree *t, const struct oracle *o)
{
	struct itree_node *it;
	uint64_t f, l, p, lo, hi, size, align, r1 = 0, r2 = 0;
	size_t i, j;
	int k, e1, e2;

	assert_int_equal(itree_check(t), 0);
	assert_int_equal(t->count, o->n);
	/* full walk, both directions */
	for (i = 0, it = itree_first(t); it; it = itree_next(it), i++)
		assert_ptr_equal(it, o->v[i]);
	assert_int_equal(i, o->n);
	for (i = o->n, it = itree_last(t); it; it = itree_prev(it))
		assert_ptr_equal(it, o->v[--i]);
	assert_int_equal(i, 0);
	/* overlap iteration */
	for (k = 0; k < 4; k++) {
		rnd_range(&f, &l);
		if (k == 0) {
			f = 0;
			l = MAX64;
		}
		j = 0;
		for (it = itree_iter_first(t, f, l); it;
		     it = itree_iter_next(it, f, l)) {
			while (j < o->n &&
			       !(o->v[j]->first <= l && f <= o->v[j]->last))
				j++;
			assert_true(j < o->n);
			assert_ptr_equal(it, o->v[j]);
			j++;
		}
		while (j < o->n && !(o->v[j]->first <= l && f <= o->v[j]->last))
			j++;
		assert_int_equal(j, o->n);
	}
	/* lookup, at random points and at range boundaries */
	for (k = 0; k < 4; k++) {
		p = rnd_point();
		if (o->n && k >= 2) {
			it = o->v[rnd() % o->n];
			p = k == 2 ? it->first : it->last;
			if (rnd() % 2)
				p += k == 2 ? -1 : 1;
		}
		assert_ptr_equal(itree_lookup(t, p), oracle_lookup(o, p));
	}
	/* hole search */
	for (k = 0; k < 4; k++) {
		lo = rnd() % 4 ? rnd_point() : 0;
		hi = rnd() % 4 ? rnd_point() : MAX64;
		if (lo > hi) {
			p = lo;
			lo = hi;
			hi = p;
		}
		size = rnd() % 8 ? 1 + rnd() % 32 : rnd_len() + 1;
		if (!size)
			size = MAX64;
		align = UINT64_C(1) << (rnd() % 4 ? rnd() % 8 : rnd() % 64);
		e1 = itree_find_hole(t, lo, hi, size, align, &r1);
		e2 = oracle_find_hole(o, lo, hi, size, align, &r2);
		if (e1 != e2 || (!e1 && r1 != r2))
			fail_msg("find_hole(%#jx, %#jx, %#jx, %#jx): %d %#jx, "
				 "oracle %d %#jx",
				 (uintmax_t)lo, (uintmax_t)hi, (uintmax_t)size,
				 (uintmax_t)align, e1, (uintmax_t)r1, e2,
				 (uintmax_t)r2);
	}
}

static void random_run(int disjoint)
{
	struct itree t = ITREE_INIT;
	struct oracle *o = calloc(1, sizeof(*o));
	struct itree_node *pool = calloc(POOL, sizeof(*pool));
	unsigned char *in = calloc(POOL, 1);
	uint64_t seed = 0x1f00d5eed, f, l;
	const char *env = getenv("ITREE_SEED");
	int op;

	assert_non_null(o);
	assert_non_null(pool);
	assert_non_null(in);
	if (env)
		seed = strtoull(env, NULL, 0);
	seed += disjoint;
	printf("# iova_tree random (%s): seed %#jx\n",
	       disjoint ? "disjoint" : "overlapping", (uintmax_t)seed);
	rng_state = seed;
	for (op = 0; op < OPS; op++) {
		size_t i = rnd() % POOL;

		/* grow during the first half, then drift around half full */
		if (!in[i] && (op < OPS / 2 || rnd() % 2)) {
			rnd_range(&f, &l);
			if (disjoint && oracle_overlaps_any(o, f, l))
				continue;
			pool[i].first = f;
			pool[i].last = l;
			itree_insert(&t, &pool[i]);
			oracle_insert(o, &pool[i]);
			in[i] = 1;
		} else if (in[i]) {
			itree_remove(&t, &pool[i]);
			oracle_remove(o, &pool[i]);
			in[i] = 0;
		}
		compare(&t, o);
	}
	free(in);
	free(pool);
	free(o);
}

static void test_random_overlapping(void **state)
{
	(void)state;
	random_run(0);
}

static void test_random_disjoint(void **state)
{
	(void)state;
	random_run(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_adjacent_and_ends),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_no_hole),
		cmocka_unit_test(test_overlap_iter),
		cmocka_unit_test(test_remove_and_walk),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_random_overlapping),
		cmocka_unit_test(test_random_disjoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
