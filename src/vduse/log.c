// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdu_log: one line on stderr per event, prefixed with the daemon's name
 * and pid; debug lines only with --verbose.
 *
 * Calls below it: nothing of the daemon.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "vduse/vduse.h"

void vdu_log(const struct vdu_dev *d, int debug, const char *fmt, ...)
{
	va_list ap;

	if (debug && !d->verbose)
		return;
	fprintf(stderr, "vdpamap-vduse-net[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
