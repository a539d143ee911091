/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_input: what the oracle fuzzers of tests/unit share: the input as a
 * stream of bytes (zeros once it runs out, so every input is a complete
 * run) and a CHECK that aborts, which libFuzzer and the plain runs both
 * report with the failing input.
 */
#ifndef VDPAMAP_TESTS_FUZZ_INPUT_H
#define VDPAMAP_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct input {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                       \
			abort();                                           \
		}                                                          \
	} while (0)

#endif
