// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator's log: one line per event on stderr, only when
 * VDPAMAP_SIM_LOG=1.  The bottom of the module: every other file may call
 * it, it calls nothing of the module.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"

static int log_on = -1;

void vsim_log(const char *fmt, ...)
{
	va_list ap;

	if (log_on < 0) {
		const char *e = getenv("VDPAMAP_SIM_LOG");

		log_on = e && !strcmp(e, "1");
	}
	if (!log_on)
		return;
	fprintf(stderr, "vdpamap-sim[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
