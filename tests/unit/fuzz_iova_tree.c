// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz src/iova_tree.c against a sorted-array oracle.  The input is a list
 * of operations (insert, remove, overlap query, lookup, hole search); the
 * first byte's low bit makes every insert keep the ranges disjoint.
 *
 *   clang -fsanitize=fuzzer,address -DLIBFUZZER -Isrc \
 *         tests/unit/fuzz_iova_tree.c src/iova_tree.c
 * or, without libFuzzer, a plain program running random inputs:
 *   fuzz_iova_tree [seed [iterations]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iova_tree/iova_tree.h"
#include "fuzz_input.h"

#define POOL 64

typedef unsigned __int128 u128;

struct fuzz {
	struct itree t;
	struct itree_node pool[POOL];
	struct itree_node *v[POOL]; /* oracle: sorted by first, stable */
	size_t n;
	int in[POOL];
};

/* A u64 biased towards edges: small, around 2^63, near 2^64-1, or raw. */
static uint64_t value(struct input *in)
{
	uint8_t sel = byte(in), b = byte(in);
	uint64_t v = 0;
	int i;

	switch (sel & 3) {
	case 0:
		return b;
	case 1:
		return UINT64_MAX - b;
	case 2:
		return (UINT64_C(1) << 63) + b - 128;
	}
	for (i = 0; i < 7; i++)
		v = v << 8 | byte(in);
	return v << 8 | b;
}

static int overlaps(const struct itree_node *x, uint64_t f, uint64_t l)
{
	return x->first <= l && f <= x->last;
}

static int fit(u128 s, u128 e, uint64_t lo, uint64_t hi, uint64_t size,
	       uint64_t align, uint64_t *ret)
{
	s = s < lo ? lo : s;
	e = e > hi ? hi : e;
	s = (s + align - 1) / align * align;
	if (s + size - 1 > e)
		return -1;
	*ret = (uint64_t)s;
	return 0;
}

static int oracle_hole(const struct fuzz *z, uint64_t lo, uint64_t hi,
		       uint64_t size, uint64_t align, uint64_t *ret)
{
	u128 next = 0;
	size_t i;

	if (!size || !align || (align & (align - 1)) || lo > hi)
		return -1;
	for (i = 0; i < z->n; i++) {
		if (z->v[i]->first > next &&
		    !fit(next, (u128)z->v[i]->first - 1, lo, hi, size, align,
			 ret))
			return 0;
		if ((u128)z->v[i]->last + 1 > next)
			next = (u128)z->v[i]->last + 1;
	}
	return next <= UINT64_MAX ?
		       fit(next, UINT64_MAX, lo, hi, size, align, ret) :
		       -1;
}

static void op_insert(struct fuzz *z, struct itree_node *x, uint64_t f,
		      uint64_t l, int disjoint)
{
	size_t i;

	if (f > l) {
		uint64_t tmp = f;

		f = l;
		l = tmp;
	}
	for (i = 0; disjoint && i < z->n; i++)
		if (overlaps(z->v[i], f, l))
			return;
	x->first = f;
	x->last = l;
	itree_insert(&z->t, x);
	for (i = z->n; i > 0 && z->v[i - 1]->first > f; i--)
		z->v[i] = z->v[i - 1];
	z->v[i] = x;
	z->n++;
	z->in[x - z->pool] = 1;
}

static void op_remove(struct fuzz *z, struct itree_node *x)
{
	size_t i = 0;

	itree_remove(&z->t, x);
	while (z->v[i] != x)
		i++;
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	memmove(&z->v[i], &z->v[i + 1], (z->n - i - 1) * sizeof(z->v[0]));
	z->n--;
	z->in[x - z->pool] = 0;
}

static void op_query(const struct fuzz *z, uint64_t f, uint64_t l)
{
	struct itree_node *it = itree_iter_first(&z->t, f, l);
	size_t i;

	for (i = 0; i < z->n; i++) {
		if (!overlaps(z->v[i], f, l))
			continue;
		CHECK(it == z->v[i]);
		it = itree_iter_next(it, f, l);
	}
	CHECK(!it);
}

static void op_lookup(const struct fuzz *z, uint64_t p)
{
	struct itree_node *want = NULL;
	size_t i;

	for (i = 0; i < z->n; i++)
		if (z->v[i]->first <= p && p <= z->v[i]->last)
			want = z->v[i];
	CHECK(itree_lookup(&z->t, p) == want);
}

static void op_hole(const struct fuzz *z, struct input *in)
{
	uint64_t lo = value(in), hi = value(in), size = value(in);
	uint64_t align = UINT64_C(1) << (byte(in) & 63), r1 = 0, r2 = 0;
	int e1, e2;

	if (lo > hi) {
		uint64_t tmp = lo;

		lo = hi;
		hi = tmp;
	}
	e1 = itree_find_hole(&z->t, lo, hi, size, align, &r1);
	e2 = oracle_hole(z, lo, hi, size, align, &r2);
	CHECK(e1 == e2);
	CHECK(e1 || r1 == r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz z;
	struct input in = { .p = data, .left = size };
	int disjoint = byte(&in) & 1;
	struct itree_node *it;
	size_t i;

	memset(&z, 0, sizeof(z));
	itree_init(&z.t);
	while (in.left) {
		uint8_t op = byte(&in);
		struct itree_node *x = &z.pool[byte(&in) % POOL];
		uint64_t f, l;

		switch (op % 5) {
		case 0:
		case 1:
			f = value(&in);
			l = op & 0x80 ? value(&in) : f + byte(&in);
			if (l < f && !(op & 0x80))
				l = UINT64_MAX;
			if (z.in[x - z.pool])
				op_remove(&z, x);
			else
				op_insert(&z, x, f, l, disjoint);
			break;
		case 2:
			f = value(&in);
			l = value(&in);
			op_query(&z, f < l ? f : l, f < l ? l : f);
			break;
		case 3:
			op_lookup(&z, value(&in));
			break;
		case 4:
			op_hole(&z, &in);
			break;
		}
		CHECK(itree_check(&z.t) == 0);
		CHECK(z.t.count == z.n);
	}
	for (i = 0, it = itree_first(&z.t); it; it = itree_next(it))
		CHECK(it == z.v[i++]);
	CHECK(i == z.n);
	return 0;
}

#ifndef LIBFUZZER
static uint64_t rng;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t x = (rng += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	long iters = argc > 2 ? strtol(argv[2], NULL, 0) : 2000;
	static uint8_t buf[4096];
	long k;

	printf("fuzz_iova_tree: seed %ju, %ld iterations\n", (uintmax_t)seed,
	       iters);
	rng = seed;
	for (k = 0; k < iters; k++) {
		size_t n = rnd() % sizeof(buf), i;

		/* half the bytes small: dense, adjacent, exactly fitting */
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)(rnd() % 2 ? rnd() : rnd() % 8);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
