// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz src/iova_tree/rtree.c against sorted-array oracles.  Two trees, one
 * of each kind, take a stream of operations (insert, remove, update,
 * lookups and iterations on the writer's and on the published view, hole
 * search, commit, abort, and allocation failure at any node); after every
 * step both views must equal their oracles and rt_check() must pass.  A
 * writer that changed a published node in place would show up as a
 * published view that differs from the oracle of the last commit.
 *
 *   clang -fsanitize=fuzzer,address -DLIBFUZZER -Isrc \
 *         tests/unit/fuzz_rtree.c src/iova_tree/rtree.c
 * or, without libFuzzer, a plain program running random inputs:
 *   fuzz_rtree [seed [iterations]]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iova_tree/rtree.h"
#include "fuzz_input.h"

#define MAXN 600

struct oracle {
	struct rt_ent e[MAXN + 1];
	size_t n;
};

struct side {
	struct rtree t;
	enum rt_kind kind;
	struct oracle w, pub; /* the writer's view, the published one */
};

static int fail_in = -1; /* fail the fail_in'th allocation from now */
static bool failed;	 /* and it did */

static void *t_alloc(void *ctx, size_t size)
{
	(void)ctx;
	if (fail_in >= 0 && fail_in-- == 0) {
		failed = true;
		return NULL;
	}
	return malloc(size);
}

static void t_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

/* No readers here: a retired node may go at once, so that ASan sees any
 * later use of it. */
static void t_retire(void *ctx, struct rt_node *chain)
{
	(void)ctx;
	while (chain) {
		struct rt_node *next = chain->rnext;

		free(chain);
		chain = next;
	}
}

static const struct rt_ops ops = { t_alloc, t_free, t_retire, NULL, 0 };
/* the other tree hands retired nodes over in batches */
static const struct rt_ops ops_batched = { t_alloc, t_free, t_retire, NULL, 5 };

/* A point: mostly a dense small domain (so ranges collide and trees grow
 * several levels), sometimes near 0 or near 2^64-1. */
static uint64_t point(struct input *in)
{
	uint8_t sel = byte(in);
	uint64_t v = ((uint64_t)byte(in) << 8 | byte(in)) % 8192;

	switch (sel & 7) {
	case 0:
		return v & 15;
	case 1:
		return UINT64_MAX - (v & 63);
	default:
		return v * 4;
	}
}

static int cmp_key(enum rt_kind k, const struct rt_ent *a,
		   const struct rt_ent *b)
{
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	if (k == RT_DISJOINT || a->val == b->val)
		return 0;
	return a->val < b->val ? -1 : 1;
}

/* Index of the first entry whose key is >= e's. */
static size_t o_lower(const struct side *s, const struct oracle *o,
		      const struct rt_ent *e)
{
	size_t i = 0;

	while (i < o->n && cmp_key(s->kind, &o->e[i], e) < 0)
		i++;
	return i;
}

/* a as a query copied it out, b as the oracle has it: the readers'
 * queries (pub) never copy out ref */
static bool ent_eq(const struct rt_ent *a, const struct rt_ent *b, bool pub)
{
	return a->first == b->first && a->last == b->last && a->val == b->val &&
	       a->aux == b->aux && a->ref == (pub ? 0 : b->ref);
}

static void check_iter(const struct side *s, const struct oracle *o, bool pub,
		       uint64_t a, uint64_t b)
{
	struct rt_iter it;
	struct rt_ent e;
	size_t i = 0;
	bool ok;

	ok = pub ? rt_read_iter_first(&s->t, &it, a, b, &e) :
		   rt_iter_first(&s->t, &it, a, b, &e);
	for (; ok; ok = rt_iter_next(&it, &e)) {
		while (i < o->n && (o->e[i].last < a || o->e[i].first > b))
			i++;
		CHECK(i < o->n);
		CHECK(ent_eq(&e, &o->e[i], pub));
		i++;
	}
	while (i < o->n && (o->e[i].last < a || o->e[i].first > b))
		i++;
	CHECK(i == o->n);
}

static void check_lookup(const struct side *s, const struct oracle *o, bool pub,
			 uint64_t p)
{
	struct rt_ent e;
	size_t i;
	int r;

	r = pub ? rt_read_lookup(&s->t, p, &e) : rt_lookup(&s->t, p, &e);
	for (i = 0; i < o->n; i++)
		if (o->e[i].first <= p && p <= o->e[i].last)
			break;
	if (i == o->n) {
		CHECK(r == -ENOENT);
		return;
	}
	CHECK(r == 0);
	CHECK(ent_eq(&e, &o->e[i], pub));
}

static void check_all(const struct side *s)
{
	CHECK(rt_check(&s->t) == 0);
	CHECK(rt_count(&s->t) == s->w.n);
	check_iter(s, &s->w, false, 0, UINT64_MAX);
	check_iter(s, &s->pub, true, 0, UINT64_MAX);
}

/* The lowest aligned fit by brute force: the answer is the aligned-up
 * start of the window or of a point just past a range. */
static int o_hole(const struct oracle *o, uint64_t lo, uint64_t hi,
		  uint64_t size, uint64_t align, uint64_t *ret)
{
	uint64_t best = 0, cand[MAXN + 1];
	bool found = false;
	size_t i, j, nc = 0;

	if (!size || !align || (align & (align - 1)) || lo > hi)
		return -EINVAL;
	cand[nc++] = lo;
	for (i = 0; i < o->n; i++)
		if (o->e[i].last != UINT64_MAX && o->e[i].last + 1 > lo)
			cand[nc++] = o->e[i].last + 1;
	for (j = 0; j < nc; j++) {
		uint64_t s = cand[j], end;

		if (s > UINT64_MAX - (align - 1))
			continue;
		s = (s + align - 1) & ~(align - 1);
		if (s < lo || s > hi || hi - s < size - 1)
			continue;
		end = s + (size - 1);
		for (i = 0; i < o->n; i++)
			if (o->e[i].first <= end && o->e[i].last >= s)
				break;
		if (i < o->n)
			continue;
		if (!found || s < best)
			best = s;
		found = true;
	}
	if (!found)
		return -ENOSPC;
	*ret = best;
	return 0;
}

static void do_insert(struct side *s, struct input *in)
{
	struct rt_ent e = { 0 };
	uint64_t w = byte(in) % 64;
	size_t i;
	int r, want = 0;

	e.first = point(in);
	e.last = (byte(in) & 31) == 0 ? e.first - 1 : /* first > last */
			 e.first > UINT64_MAX - w ? UINT64_MAX :
						    e.first + w;
	e.val = s->kind == RT_OVERLAP ? byte(in) % 4 : point(in);
	e.aux = s->kind == RT_DISJOINT ? byte(in) : 0;
	e.ref = s->kind == RT_DISJOINT ? point(in) : 0;
	if (e.first > e.last) {
		want = -EINVAL;
	} else if (s->w.n == MAXN) {
		return;
	} else {
		for (i = 0; i < s->w.n; i++) {
			const struct rt_ent *x = &s->w.e[i];

			if (s->kind == RT_DISJOINT ?
				    x->first <= e.last && x->last >= e.first :
				    cmp_key(s->kind, x, &e) == 0)
				want = -EEXIST;
		}
	}
	if (!want && (byte(in) & 15) == 0)
		fail_in = byte(in) % 4;
	r = rt_insert(&s->t, &e);
	fail_in = -1;
	if (failed) { /* the injected failure: nothing changed */
		failed = false;
		CHECK(r == -ENOMEM);
		return;
	}
	CHECK(r == want);
	if (r)
		return;
	i = o_lower(s, &s->w, &e);
	memmove(&s->w.e[i + 1], &s->w.e[i], (s->w.n - i) * sizeof(e));
	s->w.e[i] = e;
	s->w.n++;
}

static void do_remove(struct side *s, struct input *in)
{
	struct rt_ent key = { 0 }, out;
	size_t i;
	int r;

	if (s->w.n && (byte(in) & 3)) {
		key = s->w.e[byte(in) % s->w.n];
	} else {
		key.first = point(in);
		key.val = byte(in) % 4;
	}
	if ((byte(in) & 15) == 0)
		fail_in = byte(in) % 4;
	r = rt_remove(&s->t, key.first, key.val, &out);
	fail_in = -1;
	if (failed) {
		failed = false;
		CHECK(r == -ENOMEM);
		return;
	}
	i = o_lower(s, &s->w, &key);
	if (i == s->w.n || cmp_key(s->kind, &s->w.e[i], &key)) {
		CHECK(r == -ENOENT);
		return;
	}
	CHECK(r == 0);
	CHECK(ent_eq(&out, &s->w.e[i], false));
	memmove(&s->w.e[i], &s->w.e[i + 1], (s->w.n - i - 1) * sizeof(out));
	s->w.n--;
}

static void do_update(struct side *s, struct input *in)
{
	uint64_t first = s->w.n ? s->w.e[byte(in) % s->w.n].first : point(in);
	uint64_t val = point(in);
	uint32_t aux = byte(in);
	struct rt_ent key = { .first = first };
	size_t i;
	int r;

	if (byte(in) & 1)
		key.first = first = point(in);
	r = rt_update(&s->t, first, val, aux);
	if (s->kind == RT_OVERLAP) {
		CHECK(r == -EINVAL);
		return;
	}
	i = o_lower(s, &s->w, &key);
	if (i == s->w.n || s->w.e[i].first != first) {
		CHECK(r == -ENOENT);
		return;
	}
	CHECK(r == 0);
	s->w.e[i].val = val;
	s->w.e[i].aux = aux;
}

static void do_hole(struct side *s, struct input *in)
{
	uint64_t lo = point(in), hi = point(in), size, align, a = 0, b = 0;
	int r, want;

	if ((byte(in) & 3) == 0) {
		lo = 0;
		hi = UINT64_MAX;
	}
	size = (byte(in) & 7) == 0 ? 0 : 1 + byte(in) % 80;
	align = (byte(in) & 15) == 0 ? 3 : (uint64_t)1 << (byte(in) % 7);
	if (s->w.n > 1 && (byte(in) & 1)) {
		/* exactly the run between two neighbours: a child whose
		 * largest run equals the size must be searched */
		size_t i = byte(in) % (s->w.n - 1);

		if (s->w.e[i + 1].first - s->w.e[i].last > 1) {
			size = s->w.e[i + 1].first - s->w.e[i].last - 1;
			align = 1;
		}
	}
	r = rt_find_hole(&s->t, lo, hi, size, align, &a);
	if (s->kind == RT_OVERLAP) {
		CHECK(r == -EINVAL);
		return;
	}
	want = o_hole(&s->w, lo, hi, size, align, &b);
	CHECK(r == want);
	if (!r)
		CHECK(a == b);
}

static void step(struct side *s, struct input *in)
{
	uint8_t op = byte(in);

	switch (op % 16) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		do_insert(s, in);
		break;
	case 5:
	case 6:
	case 7:
		do_remove(s, in);
		break;
	case 8:
		do_update(s, in);
		break;
	case 9:
		check_lookup(s, &s->w, false, point(in));
		check_lookup(s, &s->pub, true, point(in));
		break;
	case 10: {
		uint64_t a = point(in), b = point(in);

		check_iter(s, &s->w, false, a < b ? a : b, a < b ? b : a);
		check_iter(s, &s->pub, true, a < b ? a : b, a < b ? b : a);
		break;
	}
	case 11:
		do_hole(s, in);
		break;
	case 12:
	case 13:
		rt_commit(&s->t);
		s->pub = s->w;
		break;
	case 14:
		if (op & 0x80) { /* rarely: back to the last commit */
			rt_abort(&s->t);
			s->w = s->pub;
		}
		break;
	default:
		/* a burst of inserts in ascending order (dense leaves) */
		for (int k = byte(in) % 40; k > 0; k--)
			do_insert(s, in);
		break;
	}
}

static struct side sides[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	int k;

	for (k = 0; k < 2; k++) {
		memset(&sides[k], 0, sizeof(sides[k]));
		sides[k].kind = k ? RT_OVERLAP : RT_DISJOINT;
		rt_init(&sides[k].t, sides[k].kind, k ? &ops_batched : &ops);
	}
	while (in.left) {
		struct side *s = &sides[byte(&in) & 1];

		step(s, &in);
		check_all(s);
	}
	for (k = 0; k < 2; k++)
		rt_destroy(&sides[k].t);
	return 0;
}

#ifndef LIBFUZZER
int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	unsigned long iters = argc > 2 ? strtoul(argv[2], NULL, 0) : 300;
	static uint8_t buf[1 << 15];
	unsigned long it;
	size_t i, n;

	srand((unsigned int)seed);
	for (it = 0; it < iters; it++) {
		n = 1 + (size_t)rand() % sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_rtree: %lu inputs, seed %lu: ok\n", iters, seed);
	return 0;
}
#endif
