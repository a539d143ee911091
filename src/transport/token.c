// SPDX-License-Identifier: BSD-3-Clause
/*
 * The address-space token: how the simulator tells address spaces apart,
 * as the kernel compares current->mm with the owner's mm.  It is a random
 * value made when the library is loaded, so an exec'd image (which loads
 * the library anew) has a new one, a CLONE_VM helper shares it (same
 * memory), and a fork()ed child gets a new one from the atfork handler.
 * It lives in transport because the simulator transport sends it with
 * every HELLO; core reads the fork generation from here to refuse calls
 * from a forked child.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "transport/transport.h"

static uint64_t image_token;
static unsigned int fork_gen;

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

__attribute__((constructor)) static void token_init(void)
{
	token_make();
	pthread_atfork(NULL, NULL, token_fork_child);
}

unsigned int vdm_fork_gen(void)
{
	return __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

uint64_t vdm_image_token(void)
{
	return image_token;
}
