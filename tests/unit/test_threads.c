// SPDX-License-Identifier: BSD-3-Clause
/*
 * Concurrent calls on one handle, as vdpamap.h promises they may be made:
 * writer threads map and unmap their own IOVA ranges while reader threads
 * translate, reverse-translate, count and read stats, after an open that
 * pre-faulted guest memory on worker threads.  Run against the simulator.
 * In suite 'concurrency' (as well as 'unit'), so that scripts/test runs it
 * under ThreadSanitizer: a data race there fails it even when the results
 * here come out right.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdpamap.h"

#define WRITERS 2
#define READERS 2
#define ROUNDS	200
#define SLICE	(64 * 4096ULL) /* each writer's share of memory */
#define GPA	0x100000000ULL

static char path[108];
static pid_t sim_pid;
static uint8_t *mem;
static int memfd;
static struct vdpamap *h;
static int stop;
static long lookups;

static void *writer(void *arg)
{
	uintptr_t w = (uintptr_t)arg;
	uint64_t iova = GPA + w * SLICE;
	uint8_t *hva = mem + w * SLICE;
	int i, r;

	for (i = 0; i < ROUNDS; i++) {
		r = vdpamap_map(h, 0, iova, hva, SLICE, VDPAMAP_PERM_RW);
		if (r < 0)
			return (void *)(intptr_t)r;
		r = vdpamap_unmap(h, 0, iova, SLICE);
		if (r < 0)
			return (void *)(intptr_t)r;
	}
	return NULL;
}

/* A reader sees each writer's range either mapped (and then to exactly
 * its memory) or not mapped: never anything else. */
static void *reader(void *arg)
{
	long n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uintptr_t w;

		for (w = 0; w < WRITERS; w++) {
			uint64_t iova = GPA + w * SLICE + 4096 * (n % 64), ri;
			void *hva;
			int r;

			r = vdpamap_translate(h, 0, iova, &hva, NULL);
			if (r == 0 && hva != mem + (iova - GPA))
				return (void *)(intptr_t)-EPROTO;
			if (r < 0 && r != -ENOENT)
				return (void *)(intptr_t)r;
			r = vdpamap_reverse(h, 0, mem + (iova - GPA), &ri,
					    NULL);
			if (r == 0 && ri != iova)
				return (void *)(intptr_t)-EPROTO;
			if (r < 0 && r != -ENOENT)
				return (void *)(intptr_t)r;
		}
		if (vdpamap_entry_count(h, 0) > WRITERS)
			return (void *)(intptr_t)-EPROTO;
		n++;
	}
	__atomic_fetch_add(&lookups, n, __ATOMIC_RELAXED);
	return NULL;
}

static void test_map_while_looking_up(void **state)
{
	pthread_t w[WRITERS], r[READERS];
	struct vdpamap_stats st;
	void *ret;
	uintptr_t i;

	(void)state;
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, NULL), 0);
	for (i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, writer, (void *)i),
				 0);
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(w[i], &ret), 0);
		assert_null(ret);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(r[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(vdpamap_entry_count(h, 0), 0);
	assert_int_equal(vdpamap_get_stats(h, &st), 0);
	/* every map and unmap reached the device: nothing was lost (open
	 * sent the memory-mode probe's UPDATE+INVALIDATE, the pre-map's
	 * UPDATE, setup's INVALIDATE) */
	assert_int_equal(st.iotlb_updates - 2, WRITERS * ROUNDS);
	assert_int_equal(st.iotlb_invalidates - 2, WRITERS * ROUNDS);
	assert_int_equal(vdpamap_sim_table(path, 0, NULL, 0), 0);
	assert_true(__atomic_load_n(&lookups, __ATOMIC_RELAXED) > 0);
}

static int setup(void **state)
{
	struct vdpamap_region rg = { .len = WRITERS * SLICE, .iova = GPA };
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = &rg, .nr_regions = 1,
		     .prefault_threads = 4);
	int r;

	(void)state;
	/* before any thread: the daemon is forked */
	r = vdpamap_sim_spawn(NULL, path, sizeof(path), &sim_pid);
	if (r < 0)
		return r;
	memfd = memfd_create("guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, WRITERS * SLICE) < 0)
		return -1;
	mem = mmap(NULL, WRITERS * SLICE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   memfd, 0);
	if (mem == MAP_FAILED)
		return -1;
	rg.hva = mem;
	rg.fd = memfd;
	/* pre-fault on 4 threads, pre-map in one batch, then unmap: the
	 * writers each map their own slice of the same region */
	r = vdpamap_open(path, &o, &h);
	if (r < 0)
		return r;
	return vdpamap_unmap(h, 0, GPA, WRITERS * SLICE);
}

static int teardown(void **state)
{
	(void)state;
	h = vdpamap_close(h);
	munmap(mem, WRITERS * SLICE);
	close(memfd);
	vdpamap_sim_stop(path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_while_looking_up),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
