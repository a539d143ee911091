// SPDX-License-Identifier: BSD-3-Clause
/*
 * Lock-free lookups: translate and reverse never block on a writer and
 * never see a torn answer.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conformance.h"

struct reader_arg {
	struct fx *f;
	int stop;
	uint64_t lookups, bad;
	int done;
};

/* Under memcheck every thread runs under valgrind's one big lock, so
 * spinning readers starve the writer: fewer rounds there (ThreadSanitizer
 * runs the same races at full size in test_threads), and readers yield. */
static uint64_t rounds(uint64_t full)
{
	return getenv("VDPAMAP_MEMCHECK") ? full / 100 + 1 : full;
}

/* translate and reverse on the range a writer keeps mapping and
 * unmapping: every answer must be either "not mapped" or exactly right */
static void *reader(void *p)
{
	struct reader_arg *a = p;
	uint64_t i = 0, min_rounds = rounds(20000);

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) || i < min_rounds) {
		uint64_t off = (i * 4096) % (2 * MIB), iova, len;
		void *hva;
		int r;

		/* a wrong answer and an unexpected error, each said:
		 * NOLINTBEGIN(bugprone-branch-clone) */
		r = vdpamap_translate(a->f->h, 0, GPA + off, &hva, &len);
		if (r == 0 && hva != a->f->mem + off)
			a->bad++;
		else if (r != 0 && r != -ENOENT)
			a->bad++;
		r = vdpamap_reverse(a->f->h, 0, a->f->mem + off, &iova, NULL);
		if (r == 0 && iova != GPA + off)
			a->bad++;
		else if (r != 0 && r != -ENOENT)
			a->bad++;
		/* NOLINTEND(bugprone-branch-clone) */
		a->lookups += 2;
		if ((++i & 63) == 0)
			sched_yield();
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

void test_lookups_never_block(void **state)
{
	struct fx *f = *state;
	struct reader_arg a = { .f = f };
	struct vdpamap_txn *t;
	pthread_t th;
	int i;

	open_default(f);
	map_ok(f, 0, GPA, 0, 2 * MIB);
	/* the writer holds the handle mutex for a whole transaction */
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	a.stop = 1; /* run a fixed number of rounds, then finish */
	assert_int_equal(pthread_create(&th, NULL, reader, &a), 0);
	for (i = 0; i < 500 && !__atomic_load_n(&a.done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	/* the readers finished while the mutex was held */
	assert_true(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	assert_int_equal(a.bad, 0);
	assert_int_equal(vdpamap_txn_unmap(t, 0, GPA, 2 * MIB), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	pthread_join(th, NULL);
	fprintf(stderr, "  %llu lookups while a transaction held the lock\n",
		(unsigned long long)a.lookups);
}

void test_lookups_race_writer(void **state)
{
	struct fx *f = *state;
	struct reader_arg a[2] = { { .f = f }, { .f = f } };
	pthread_t th[2];
	int i;

	open_default(f);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &a[i]),
				 0);
	for (i = 0; i < (int)rounds(200); i++) {
		map_ok(f, 0, GPA, 0, MIB);
		map_ok(f, 0, GPA + MIB, MIB, MIB);
		unmap_ok(f, 0, GPA, 2 * MIB);
	}
	for (i = 0; i < 2; i++) {
		__atomic_store_n(&a[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
		assert_true(a[i].lookups > 0);
	}
}
