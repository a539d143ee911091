// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator's IOTLB table (src/sim/table.c) against a trivially
 * correct oracle: an array kept in the order the old sorted-array table
 * kept (by first, equal firsts in insertion order), searched linearly.
 * Edge cases first (adjacent and overlapping ranges, [0, 2^64-1], ranges
 * ending at 2^64-1, wrapped queries, sweeps removing many entries, copies),
 * then a long random run.  After every step the tree's own invariants are
 * checked: AVL balance, heights, the subtree max of last, up links, count.
 *
 *   test_sim_table [seed [steps]]    (SIM_TABLE_SEED also sets the seed)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"

/* the node layout, as table.c has it: the invariants are checked from
 * outside through it */
struct vsim_node {
	struct vsim_map m;
	struct vsim_node *left, *right, *up;
	uint64_t max_last;
	int height;
};

#define MAXE 4096

struct oracle {
	struct vsim_map *v[MAXE]; /* the tree's maps, in table order */
	size_t n;
	uint64_t tag; /* uaddr of the next insert: tells entries apart */
};

static uint64_t seed = 1;
static long steps = 200000;

static uint64_t rnd(void)
{
	/* xorshift64* */
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return seed * 0x2545f4914f6cdd1dULL;
}

static int check_node(const struct vsim_node *x, const struct vsim_node *up,
		      size_t *count, uint64_t *lo_first)
{
	int hl, hr;
	uint64_t mx;

	if (!x)
		return 0;
	assert_ptr_equal(x->up, up);
	hl = check_node(x->left, x, count, lo_first);
	/* in order: firsts never go down */
	assert_true(x->m.first >= *lo_first);
	*lo_first = x->m.first;
	(*count)++;
	hr = check_node(x->right, x, count, lo_first);
	assert_true(hl - hr <= 1 && hr - hl <= 1);
	assert_int_equal(x->height, 1 + (hl > hr ? hl : hr));
	mx = x->m.last;
	if (x->left && x->left->max_last > mx)
		mx = x->left->max_last;
	if (x->right && x->right->max_last > mx)
		mx = x->right->max_last;
	assert_true(x->max_last == mx);
	return x->height;
}

static void check(const struct vsim_table *t, const struct oracle *o)
{
	size_t count = 0, pins = 0, i;
	uint64_t lo = 0;
	const struct vsim_map *m;

	check_node(t->root, NULL, &count, &lo);
	assert_int_equal(count, t->n);
	assert_int_equal(t->n, o->n);
	for (i = 0; i < o->n; i++)
		pins += !!o->v[i]->pin;
	assert_int_equal(t->npins, pins);
	/* forwards and backwards, the oracle's order */
	for (i = 0, m = vsim_tbl_first(t); m; m = vsim_tbl_next(m), i++)
		assert_ptr_equal(m, o->v[i]);
	assert_int_equal(i, o->n);
	if (!o->n)
		return;
	for (m = o->v[o->n - 1]; m; m = vsim_tbl_prev(m))
		assert_ptr_equal(m, o->v[--i]);
	assert_int_equal(i, 0);
}

static void ins(struct vsim_table *t, struct oracle *o, uint64_t first,
		uint64_t last)
{
	/* a pin on every third: the table counts them (never touches one) */
	struct vsim_map m = { .first = first,
			      .last = last,
			      .uaddr = o->tag,
			      .pin = o->tag % 3 ? NULL : (struct vsim_pin *)o };
	struct vsim_map *p;
	size_t i;

	assert_true(o->n < MAXE);
	p = vsim_tbl_insert(t, &m);
	o->tag++;
	assert_non_null(p);
	assert_true(p->first == first && p->last == last &&
		    p->uaddr == m.uaddr && p->pin == m.pin);
	for (i = o->n; i > 0 && o->v[i - 1]->first > first; i--)
		o->v[i] = o->v[i - 1];
	o->v[i] = p;
	o->n++;
}

static void del(struct vsim_table *t, struct oracle *o, struct vsim_map *m)
{
	size_t i = 0;

	while (o->v[i] != m)
		i++;
	memmove(&o->v[i], &o->v[i + 1],
		(o->n - i - 1) * sizeof(struct vsim_map *));
	o->n--;
	vsim_tbl_remove(t, m);
}

static struct vsim_map *o_overlap(const struct oracle *o, uint64_t f,
				  uint64_t l)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->v[i]->first <= l && o->v[i]->last >= f)
			return o->v[i];
	return NULL;
}

static struct vsim_map *o_floor(const struct oracle *o, uint64_t a)
{
	size_t i;

	for (i = o->n; i > 0; i--)
		if (o->v[i - 1]->first <= a)
			return o->v[i - 1];
	return NULL;
}

static void query(const struct vsim_table *t, const struct oracle *o,
		  uint64_t f, uint64_t l)
{
	assert_ptr_equal(vsim_tbl_overlap(t, f, l), o_overlap(o, f, l));
	assert_ptr_equal(vsim_tbl_floor(t, f), o_floor(o, f));
}

/* vhost_unmap's loop: every entry overlapping [f, l], lowest first;
 * returns how many went */
static size_t sweep(struct vsim_table *t, struct oracle *o, uint64_t f,
		    uint64_t l)
{
	struct vsim_map *m;
	size_t k = 0;

	while ((m = vsim_tbl_overlap(t, f, l))) {
		assert_ptr_equal(m, o_overlap(o, f, l));
		del(t, o, m);
		k++;
	}
	assert_null(o_overlap(o, f, l));
	return k;
}

static void reset(struct vsim_table *t, struct oracle *o)
{
	vsim_tbl_clear(t);
	o->n = 0;
	check(t, o);
}

static void test_empty(void **state)
{
	struct vsim_table t = { 0 };
	struct oracle o = { .n = 0 };

	(void)state;
	check(&t, &o);
	assert_null(vsim_tbl_first(&t));
	query(&t, &o, 0, UINT64_MAX);
	query(&t, &o, 5, 4);
	assert_int_equal(vsim_tbl_copy(&t, &t), 0);
	vsim_tbl_clear(&t);
	vsim_tbl_clear(&t);
	vsim_tbl_fini(&t);
	vsim_tbl_fini(&t);
}

/* [0, 2^64-1] and its neighbours at both ends of the space */
static void test_whole_space(void **state)
{
	static struct oracle o;
	struct vsim_table t = { 0 };

	(void)state;
	ins(&t, &o, 0, UINT64_MAX);
	check(&t, &o);
	query(&t, &o, 0, 0);
	query(&t, &o, UINT64_MAX, UINT64_MAX);
	query(&t, &o, 12345, 12344); /* wrapped: held by the whole space */
	query(&t, &o, UINT64_MAX, 0);
	assert_int_equal(sweep(&t, &o, 0, 0), 1);
	check(&t, &o);

	/* the top page and the bottom page, then a wrapped sweep that
	 * catches neither (no entry holds both ends) */
	ins(&t, &o, UINT64_MAX - 0xfff, UINT64_MAX);
	ins(&t, &o, 0, 0xfff);
	check(&t, &o);
	query(&t, &o, UINT64_MAX, UINT64_MAX);
	query(&t, &o, UINT64_MAX - 0x1000, UINT64_MAX - 0x1000);
	assert_int_equal(sweep(&t, &o, UINT64_MAX - 0xfff, 0xfff), 0);
	/* the kernel's INVALIDATE of iova 0 size 0: [0, 2^64-1] */
	assert_int_equal(sweep(&t, &o, 0, 0ULL - 1), 2);
	check(&t, &o);
	vsim_tbl_fini(&t);
}

/* adjacent entries never overlap; one byte more does */
static void test_adjacent_overlapping(void **state)
{
	static struct oracle o;
	struct vsim_table t = { 0 };
	uint64_t i;

	(void)state;
	for (i = 0; i < 64; i++)
		ins(&t, &o, 0x10000 + i * 0x1000, 0x10000 + i * 0x1000 + 0xfff);
	check(&t, &o);
	for (i = 0; i < 64; i++) {
		uint64_t a = 0x10000 + i * 0x1000;

		query(&t, &o, a, a);
		query(&t, &o, a - 1, a - 1);
		query(&t, &o, a + 0xfff, a + 0x1000);
		assert_ptr_equal(vsim_tbl_overlap(&t, a, a + 0xfff), o.v[i]);
	}
	query(&t, &o, 0, 0xffff);
	query(&t, &o, 0x50000, UINT64_MAX);
	/* overlapping entries, equal firsts among them: the lowest first,
	 * the earliest inserted, wins */
	ins(&t, &o, 0x10000, 0x2ffff);
	ins(&t, &o, 0x10000, 0x10fff);
	ins(&t, &o, 0x8000, 0x10000);
	ins(&t, &o, 0x1f800, 0x20800);
	check(&t, &o);
	for (i = 0; i < 0x60000; i += 0x7ff)
		query(&t, &o, i, i + (i & 0x3fff));
	assert_ptr_equal(vsim_tbl_overlap(&t, 0x10000, 0x10000), o.v[0]);
	/* a sweep of the middle: overlaps at its edges go too */
	assert_int_equal(sweep(&t, &o, 0x20000, 0x2ffff), 18);
	check(&t, &o);
	reset(&t, &o);
	vsim_tbl_fini(&t);
}

/* many entries, removed by sweeps in every shape; the tree stays
 * balanced through them */
static void test_sweeps(void **state)
{
	static struct oracle o;
	struct vsim_table t = { 0 };
	uint64_t i;

	(void)state;
	for (i = 0; i < MAXE; i++)
		ins(&t, &o, i * 0x2000, i * 0x2000 + 0xfff);
	check(&t, &o);
	/* the gaps: nothing */
	assert_int_equal(sweep(&t, &o, 0x1000, 0x1fff), 0);
	/* one in the middle, then a thousand from there */
	assert_int_equal(sweep(&t, &o, 2000 * 0x2000ULL, 2000 * 0x2000ULL), 1);
	assert_int_equal(sweep(&t, &o, 1000 * 0x2000ULL, 2001 * 0x2000ULL - 1),
			 1000);
	check(&t, &o);
	/* every other one left of it, one at a time */
	for (i = 0; i < 1000; i += 2)
		assert_int_equal(sweep(&t, &o, i * 0x2000, i * 0x2000), 1);
	check(&t, &o);
	/* the rest in one go */
	assert_int_equal(t.n, MAXE - 1 - 1000 - 500);
	assert_int_equal(sweep(&t, &o, 0, UINT64_MAX), MAXE - 1 - 1000 - 500);
	check(&t, &o);
	assert_int_equal(t.n, 0);
	reset(&t, &o);
	vsim_tbl_fini(&t);
}

static int same_map(const struct vsim_map *a, const struct vsim_map *b)
{
	if (!a || !b)
		return a == b;
	return a->first == b->first && a->last == b->last &&
	       a->uaddr == b->uaddr;
}

static void test_copy(void **state)
{
	static struct oracle o, oc;
	struct vsim_table t = { 0 }, c = { 0 };
	const struct vsim_map *a, *b;
	uint64_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		uint64_t f = (rnd() & 0xfffff) << 12;

		ins(&t, &o, f, f + (rnd() & 0xffff));
	}
	check(&t, &o);
	/* into a table that already holds something */
	ins(&c, &oc, 1, 2);
	assert_int_equal(vsim_tbl_copy(&c, &t), 0);
	oc.n = 0;
	for (b = vsim_tbl_first(&c); b; b = vsim_tbl_next(b))
		oc.v[oc.n++] = (struct vsim_map *)b;
	check(&c, &oc);
	assert_int_equal(c.n, t.n);
	for (a = vsim_tbl_first(&t), b = vsim_tbl_first(&c); a;
	     a = vsim_tbl_next(a), b = vsim_tbl_next(b)) {
		assert_ptr_not_equal(a, b);
		assert_memory_equal(a, b, sizeof(*a));
	}
	for (i = 0; i < 2000; i++) {
		uint64_t f = (rnd() & 0xfffff) << 12, l = f + (rnd() & 0x3ffff);

		assert_true(same_map(vsim_tbl_overlap(&t, f, l),
				     vsim_tbl_overlap(&c, f, l)));
	}
	/* the copy is its own: emptying one leaves the other */
	reset(&t, &o);
	check(&c, &oc);

	/* cleared nodes are reused: copies over copies, a smaller one
	 * (nodes to spare), inserts and removals on the reused nodes */
	for (i = 0; i < 300; i++) {
		uint64_t f = (rnd() & 0xfffff) << 12;

		ins(&t, &o, f, f + (rnd() & 0xffff));
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(vsim_tbl_copy(&c, i == 1 ? &c : &t), 0);
		oc.n = 0;
		for (b = vsim_tbl_first(&c); b; b = vsim_tbl_next(b))
			oc.v[oc.n++] = (struct vsim_map *)b;
		check(&c, &oc);
		assert_int_equal(c.n, i == 1 ? 0 : t.n);
	}
	for (i = 0; i < 2000; i++) {
		uint64_t f = (rnd() & 0xfffff) << 12;

		if (oc.n && rnd() % 3 == 0)
			del(&c, &oc, oc.v[rnd() % oc.n]);
		else
			ins(&c, &oc, f, f + (rnd() & 0xffff));
	}
	check(&c, &oc);
	vsim_tbl_fini(&c);
	vsim_tbl_fini(&t);
	assert_null(c.root);
	assert_null(c.spare);
}

/* Random inserts, removals, sweeps and queries over a small space (so
 * that overlaps, equal firsts and adjacency are frequent), with ranges
 * at the top of the space now and then. */
static void test_random(void **state)
{
	static struct oracle o;
	struct vsim_table t = { 0 };
	long s;

	(void)state;
	for (s = 0; s < steps; s++) {
		uint64_t op = rnd() % 100, f, l;

		if (rnd() % 16 == 0) {
			f = UINT64_MAX - (rnd() & 0xffff);
			l = rnd() % 4 ? UINT64_MAX : f + (rnd() & 0xff);
		} else {
			f = rnd() & 0xfffff;
			l = f + (rnd() & 0x3fff);
		}
		if (op < 45 && o.n < MAXE) {
			ins(&t, &o, f, l < f ? UINT64_MAX : l);
		} else if (op < 60 && o.n) {
			del(&t, &o, o.v[rnd() % o.n]);
		} else if (op < 62) {
			sweep(&t, &o, f, rnd() % 8 ? l : f - 1);
		} else {
			query(&t, &o, f,
			      rnd() % 32 ? l : f - 1 - (rnd() & 0xff));
		}
		if (s % 1024 == 0 || o.n < 16)
			check(&t, &o);
	}
	check(&t, &o);
	reset(&t, &o);
	vsim_tbl_fini(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_whole_space),
		cmocka_unit_test(test_adjacent_overlapping),
		cmocka_unit_test(test_sweeps),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_random),
	};
	const char *e = getenv("SIM_TABLE_SEED");

	if (argc > 1)
		seed = strtoull(argv[1], NULL, 0);
	else if (e)
		seed = strtoull(e, NULL, 0);
	if (argc > 2)
		steps = strtol(argv[2], NULL, 0);
	if (!seed)
		seed = 1;
	printf("test_sim_table: seed %llu, %ld random steps\n",
	       (unsigned long long)seed, steps);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
