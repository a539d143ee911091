/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tests/lib/logbuf: a library log callback that keeps every line, for the
 * test programs that look for what the library said (strstr on
 * test_logbuf).  Lines past the buffer's size are dropped.
 */
#ifndef VDPAMAP_TESTS_LOGBUF_H
#define VDPAMAP_TESTS_LOGBUF_H

extern char test_logbuf[1 << 15];

/* A vdpamap_log_fn: appends msg and a newline to test_logbuf. */
void test_log_fn(int level, const char *msg, void *ctx);

#endif
