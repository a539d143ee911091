/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tap: the checks of the kernel test programs that run in the guest
 * without cmocka (smoke.c, caps.c): CHECK(cond, fmt, ...) prints "ok - "
 * or "not ok - " and the message, flushed (the harness reads the console
 * line by line), and counts into passed / failed for the summary.
 *
 * Header-only; one per program.
 */
#ifndef VDPAMAP_TESTS_KERNEL_TAP_H
#define VDPAMAP_TESTS_KERNEL_TAP_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                     \
	do {                                 \
		if (cond) {                  \
			passed++;            \
			printf("ok - ");     \
		} else {                     \
			failed++;            \
			printf("not ok - "); \
		}                            \
		printf(__VA_ARGS__);         \
		printf("\n");                \
		fflush(stdout);              \
	} while (0)

#endif
