/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tests/lib/check: a check for test code outside cmocka (forked or
 * exec'd processes, whose failure their parent sees only as an exit
 * status).  CHECK_OR(end, cond, fmt, ...): when cond is false, say on
 * stderr which process, function and line, the condition and the
 * message, then run end: exit(1), or _exit(1) in a process whose stdio
 * buffers hold another's output (an exec'd successor's, or a forked
 * child's copy of its parent's).
 */
#ifndef VDPAMAP_TESTS_CHECK_H
#define VDPAMAP_TESTS_CHECK_H

#include <stdio.h>
#include <unistd.h>

#define CHECK_OR(end, c, ...)                                           \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr,                                 \
				"[%d] FAIL %s:%d: %s: ", (int)getpid(), \
				__func__, __LINE__, #c);                \
			fprintf(stderr, __VA_ARGS__);                   \
			fprintf(stderr, "\n");                          \
			end;                                            \
		}                                                       \
	} while (0)

#endif
