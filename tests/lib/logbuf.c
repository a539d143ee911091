// SPDX-License-Identifier: BSD-3-Clause
/* A library log callback that keeps every line (logbuf.h). */
#include <string.h>

#include "logbuf.h"

char test_logbuf[1 << 15];

void test_log_fn(int level, const char *msg, void *ctx)
{
	size_t l = strlen(test_logbuf), n = strlen(msg);

	(void)level;
	(void)ctx;
	if (l + n + 2 < sizeof(test_logbuf)) {
		memcpy(test_logbuf + l, msg, n);
		test_logbuf[l + n] = '\n';
		test_logbuf[l + n + 1] = 0;
	}
}
