/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * failnth: fail the nth allocation or syscall of the calling thread (see
 * failnth.c).  Link failnth.c into a test executable to use it.
 */
#ifndef VDPAMAP_TESTS_FAILNTH_H
#define VDPAMAP_TESTS_FAILNTH_H

/* From now, the nth malloc/calloc/realloc, ioctl, write, sendmsg, recv,
 * open, socket, connect, memfd_create, ftruncate or mmap of this thread
 * fails (1-based). */
void failnth_arm(long nth);
/* Stop; returns how many calls were counted, *fired whether the nth
 * call was reached (and failed). */
long failnth_disarm(int *fired);

#endif
