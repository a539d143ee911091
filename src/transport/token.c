// SPDX-License-Identifier: BSD-3-Clause
/*
 * The address-space token: how the simulator tells address spaces apart,
 * as the kernel compares current->mm with the owner's mm.  It is a random
 * value made when the library is loaded, so an exec'd image (which loads
 * the library anew) has a new one, a CLONE_VM helper shares it (same
 * memory), and a fork()ed child gets a new one from the atfork handler.
 * It lives in transport because the simulator transport sends it with
 * every HELLO; core reads the fork generation and the fork epoch from
 * here to refuse calls from a forked child.
 *
 * The atfork handler misses a child made by a raw clone() (a runtime
 * that forks by itself); getpid() sees it, but is a syscall on every
 * map under emulation, and counts a CLONE_VM helper, which shares the
 * address space, as another process.  The epoch is kept in a page the
 * kernel zeroes in every child that gets a copy of the address space
 * (MADV_WIPEONFORK, Linux 4.14), whatever made it: a load tells.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "transport/transport.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static uint64_t image_token;
static unsigned int fork_gen;
/* the epoch's page (NULL: no MADV_WIPEONFORK), and the last epoch this
 * address space or its ancestors handed out: a child's copy starts past
 * every epoch its parent's handles hold */
static uint64_t *epoch_page;
static uint64_t epoch_last;

static void token_make(void)
{
	uint64_t t = 0;

	if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != sizeof(t)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 40);
	}
	image_token = t | 1;
}

static void token_fork_child(void)
{
	token_make();
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

static void epoch_init(void)
{
	size_t sz = (size_t)sysconf(_SC_PAGESIZE);
	/* fd -1 is what MAP_ANONYMOUS asks for (cppcheck's posix.cfg wants
	 * an fd >= 0 for every mmap()) */
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		       /* cppcheck-suppress invalidFunctionArg */
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	if (madvise(p, sz, MADV_WIPEONFORK) < 0) {
		munmap(p, sz);
		return;
	}
	epoch_last = 1;
	*(uint64_t *)p = 1;
	epoch_page = p;
}

__attribute__((constructor)) static void token_init(void)
{
	token_make();
	epoch_init();
	pthread_atfork(NULL, NULL, token_fork_child);
}

uint64_t vdm_fork_epoch(void)
{
	uint64_t e, next;

	if (!epoch_page)
		return 0;
	e = __atomic_load_n(epoch_page, __ATOMIC_ACQUIRE);
	if (e)
		return e;
	/* the first call in a child: the page was wiped; threads racing
	 * here agree on one new epoch */
	next = __atomic_add_fetch(&epoch_last, 1, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(epoch_page, &e, next, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return e;
	return next;
}

unsigned int vdm_fork_gen(void)
{
	return __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

uint64_t vdm_image_token(void)
{
	return image_token;
}
